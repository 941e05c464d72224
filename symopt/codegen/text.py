"""Descriptive text inside generated code: the one escape every template uses.

Generated modules carry descriptions (the problem, an activation, a residual)
in ``#`` comments and docstrings. Some of that text comes from the user, if
only through a SymPy object's ``str()``; left as it is, a ``\"\"\"`` in it
would close a docstring and a line break would end a comment, and whatever
followed would run when the module is imported. :func:`doc_text` makes any
value safe in both places: one line of printable ASCII, with backslashes and
double quotes escaped and everything else as a Python escape sequence. The
templates reach it as the Jinja filter ``doc``; ``tests/system/test_security.py``
checks that every substitution inside a comment or docstring goes through it.
"""

from __future__ import annotations


#: Longest description kept in generated code; the rest is cut, with '...' and the length.
DOC_LIMIT = 400


def doc_text(value, limit: int = DOC_LIMIT) -> str:
    """``value`` as text that is inert in a ``#`` comment and inside a ``\"\"\"`` docstring.

    >>> print(doc_text('a"b\\nc'))
    a\\"b\\nc
    """
    text = str(value)
    if len(text) > limit:
        text = f"{text[: limit - 30]}... ({len(text)} characters)"
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif " " <= ch <= "~":
            out.append(ch)
        else:  # line breaks, NUL, other controls and non-ASCII: as escapes, never raw
            out.append(ch.encode("unicode_escape").decode("ascii"))
    return "".join(out)



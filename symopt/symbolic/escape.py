"""Escaping what came from a user (names, messages, data labels) for the formats symopt writes, one
function per format, so a hostile name shows as itself and is never read as markup; and SymPy's LaTeX with
every name in it escaped so (:func:`latex`)."""

from __future__ import annotations

import html
import re

from sympy.printing.latex import LatexPrinter

#: Characters that are markup anywhere in a line of Markdown (``(`` and ``)`` only after ``]``, which is
#: escaped; ``-``, ``+`` and ``1.`` only at the start of a line: :func:`markdown_escape` handles that).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]#|~>$])")
_LINE_START = re.compile(r"^(\s*)([-+]|\d+\.)")
#: Every line break Python or a browser knows, which one-line output turns into a space.
_BREAKS = re.compile("[\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029]+")


def markdown_escape(text: str) -> str:
    """``text`` as literal Markdown on one line: markup characters backslash-escaped, ``<`` and ``&`` as
    HTML entities (Markdown passes raw HTML through), line breaks as spaces."""
    text = str(text).replace("&", "&amp;").replace("<", "&lt;")
    text = _BREAKS.sub(" ", text)
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    return _LINE_START.sub(lambda m: m.group(1) + (m.group(2)[:-1] + "\\." if m.group(2).endswith(".")
                                                   else "\\" + m.group(2)), text)


#: What each character that is markup in LaTeX math becomes: a math-mode macro that prints it (valid in
#: LaTeX and in MathJax alike, unlike text-mode escapes such as ``\textbackslash``, which MathJax lacks).
#: ``<`` and ``>`` are LaTeX's own relations, but in a braced group, so that no ``<`` is followed by a letter:
#: Markdown passes ``<img ...>`` through as HTML, even between ``$$``, where a renderer does not guard math.
_LATEX_SPECIAL = {"\\": r"\backslash ", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#", "%": r"\%",
                  "_": r"\_", "^": r"\hat{\ }", "~": r"\sim ", " ": r"\ ", "'": r"'", "<": "{<}", ">": "{>}"}


def latex_escape(text: str) -> str:
    """``text`` as literal LaTeX math (in ``\\mathtt``): every character that is markup replaced by a macro that
    prints it, line breaks as spaces, so a name with backslashes, braces or dollars shows as itself."""
    text = _BREAKS.sub(" ", str(text))
    return r"\mathtt{" + "".join(_LATEX_SPECIAL.get(c, c) for c in text) + "}"


def html_escape(text: str) -> str:
    """``text`` as literal HTML: ``&``, ``<``, ``>``, ``"`` and ``'`` as entities."""
    return html.escape(str(text), quote=True)


#: A name SymPy's LaTeX printer may write as it likes (subscripts after ``_``, Greek letters, accents): letters,
#: digits and ``_``, as symopt's own names are (:func:`symopt.symbolic.parse.check_name`). Its output is then letters,
#: digits, braces it balances and macros it chose.
_PLAIN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


class _EscapingLatexPrinter(LatexPrinter):
    """SymPy's LaTeX printer, with every name that is not a plain identifier (a symbol's, a function's, a
    string's) written by :func:`latex_escape`: ``Function('<img src=x>')`` or ``Symbol('}\\href{...}')``
    shows as itself instead of becoming markup or rewriting the math around it."""

    def _deal_with_super_sub(self, string: str, style: str = "plain") -> str:
        if _PLAIN_NAME.fullmatch(string):
            return super()._deal_with_super_sub(string, style=style)
        return latex_escape(string)

    def _print_Str(self, s) -> str:
        return self._deal_with_super_sub(str(s.name))


def latex(expr, **settings) -> str:
    """``sympy.latex(expr)`` with every name in it escaped (:class:`_EscapingLatexPrinter`): the LaTeX symopt
    shows (a derivation, a report, a closed-form formula) holds user names only this way."""
    return _EscapingLatexPrinter(settings).doprint(expr)

"""Escaping what came from a user (names, messages, data labels) for the formats symopt writes, one
function per format, so a hostile name shows as itself and is never read as markup."""

from __future__ import annotations

import re

#: Characters that are markup anywhere in a line of Markdown (``(`` and ``)`` only after ``]``, which is
#: escaped; ``-``, ``+`` and ``1.`` only at the start of a line: :func:`markdown_escape` handles that).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]#|~>$])")
_LINE_START = re.compile(r"^(\s*)([-+]|\d+\.)")


def markdown_escape(text: str) -> str:
    """``text`` as literal Markdown on one line: markup characters backslash-escaped, ``<`` and ``&`` as
    HTML entities (Markdown passes raw HTML through), line breaks as spaces."""
    text = str(text).replace("&", "&amp;").replace("<", "&lt;")
    text = re.sub(r"[\r\n]+", " ", text)
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    return _LINE_START.sub(lambda m: m.group(1) + (m.group(2)[:-1] + "\\." if m.group(2).endswith(".")
                                                   else "\\" + m.group(2)), text)

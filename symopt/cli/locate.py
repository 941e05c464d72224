"""Where each key of a TOML text is: a line scan, since ``tomllib`` keeps no positions (tomlkit, which does,
is not a dependency, and a spec's errors need only the line of a key).

:func:`key_lines` maps each key path, ``("optimizer", "max_iter")`` or ``("network", "layers", 1, "units")``
(array-of-tables entries by index), to the 1-based line that states it: a ``[table]`` or ``[[array]]``
header, or a ``key = value`` line (dotted keys included). Values spread over several lines (arrays, inline
tables, multi-line strings) are skipped until they close, so their inner lines are never read as keys; an
entry inside a value (an array's element, an inline table's key) takes its key's line.
"""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*(\[\[?)\s*(.+?)\s*\]\]?\s*$")
_KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_-]+|"[^"\n]*"|'[^'\n]*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"\n]*"|'[^'\n]*'))*)\s*=""")
_PART = re.compile(r"""[A-Za-z0-9_-]+|"[^"\n]*"|'[^'\n]*'""")


def dotted(key: tuple) -> str:
    """A key path as the spec writes it: ``network.layers[1].units``."""
    out = ""
    for part in key:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def key_lines(text: str) -> dict:
    """Each key path of TOML ``text`` -> the line that states it (see the module's docstring)."""
    lines, counts, table = {}, {}, ()
    depth, in_string = 0, None
    for number, line in enumerate(text.splitlines(), start=1):
        if in_string is not None:  # inside a multi-line string: look only for its end
            if in_string in line:
                depth, in_string = _scan(line.split(in_string, 1)[1], depth)
            continue
        if depth > 0:  # inside an array or inline table spread over lines
            depth, in_string = _scan(line, depth)
            continue
        header = _HEADER.match(_strip_comment(line))
        if header and not _KEY.match(line):
            path = _parts(header.group(2))
            if header.group(1) == "[[":
                index = counts.get(path, 0)
                counts[path] = index + 1
                lines.setdefault(path, number)
                table = path + (index,)
            else:
                table = path
            lines.setdefault(table, number)
            continue
        match = _KEY.match(line)
        if match:
            lines.setdefault(table + _parts(match.group(1)), number)
            depth, in_string = _scan(line[match.end():], 0)
    return lines


def _parts(key: str) -> tuple:
    return tuple(part[1:-1] if part[0] in "\"'" else part for part in _PART.findall(key))


def _strip_comment(line: str) -> str:
    return _scan(line, 0, strip=True)


def _scan(text: str, depth: int, strip: bool = False):
    """Bracket depth after ``text`` (strings and comments skipped) and the multi-line string left open
    (its closing quotes), or with ``strip`` the text before its comment."""
    k = 0
    while k < len(text):
        for quote in ('"""', "'''"):
            if text.startswith(quote, k):
                end = text.find(quote, k + 3)
                if end < 0:
                    return text if strip else (depth, quote)
                k = end + 3
                break
        else:
            char = text[k]
            if char in "\"'":
                end = k + 1
                while end < len(text) and text[end] != char:
                    end += 2 if char == '"' and text[end] == "\\" else 1
                k = end + 1
                continue
            if char == "#":
                return text[:k] if strip else (depth, None)
            if char in "[{":
                depth += 1
            elif char in "]}":
                depth -= 1
            k += 1
    return text if strip else (max(depth, 0), None)

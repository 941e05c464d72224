"""Read NIST StRD regression files (``.dat``): data, certified values, starts.

The files are NIST's own text: a header, certified values, then the data
after a ``Data: y x ...`` line. Both CRLF and LF line endings are accepted.

>>> problem = read("Norris.dat")            # doctest: +SKIP
>>> problem.columns["x"][:3], problem.certified["B1"]   # doctest: +SKIP
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_LINEAR = re.compile(r"^\s*(B\d+)\s+(\S+)\s+(\S+)\s*$")
_NONLINEAR = re.compile(r"^\s*(b\d+)\s*=\s*(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*$")
#: The residual standard deviation: "Residual Standard Deviation: v" (nonlinear), or "Residual" on one line
#: and "Standard Deviation   v" on the next (linear).
_RESIDUAL_SD = re.compile(r"^\s*(?:Residual\s+)?Standard Deviation:?\s+(\S+)\s*$")
_R_SQUARED = re.compile(r"^\s*R-Squared:?\s+(\S+)\s*$")


@dataclass(frozen=True)
class NistProblem:
    name: str
    kind: str  # "linear" or "nonlinear"
    certified: dict  # parameter name -> certified estimate
    starts: tuple  # nonlinear: (start 1, start 2), each a dict name -> value
    columns: dict  # column name -> float array
    text: dict  # column name -> the data as written (decimal strings)
    certified_sd: dict = None  # parameter name -> certified standard deviation of the estimate
    residual_sd: float | None = None  # certified residual standard deviation
    r_squared: float | None = None  # certified R^2 (the linear sets)


def read(path) -> NistProblem:
    path = Path(path)
    lines = path.read_text(encoding="ascii").replace("\r\n", "\n").split("\n")
    certified, start1, start2, sd = {}, {}, {}, {}
    residual_sd = r_squared = None
    for line in lines:
        m = _NONLINEAR.match(line)
        if m:
            name, s1, s2, cert, dev = m.groups()
            start1[name], start2[name], certified[name], sd[name] = float(s1), float(s2), float(cert), float(dev)
            continue
        m = _LINEAR.match(line)
        if m and _is_float(m.group(2)):
            certified[m.group(1)], sd[m.group(1)] = float(m.group(2)), float(m.group(3))
            continue
        m = _RESIDUAL_SD.match(line)
        if m and _is_float(m.group(1)) and residual_sd is None:
            residual_sd = float(m.group(1))
            continue
        m = _R_SQUARED.match(line)
        if m and _is_float(m.group(1)):
            r_squared = float(m.group(1))
    header = None
    for i, line in enumerate(lines):
        tokens = line.split()
        if tokens and tokens[0] == "Data:" and len(tokens) > 1 and all(t.isidentifier() for t in tokens[1:]):
            header = i
    if header is None or not certified:
        raise ValueError(f"{path} does not look like a NIST StRD file (no data header or certified values)")
    names = lines[header].split()[1:]
    rows = [line.split() for line in lines[header + 1:] if line.strip()]
    text = {n: [r[k] for r in rows] for k, n in enumerate(names)}
    columns = {n: np.array([float(v) for v in vals]) for n, vals in text.items()}
    kind = "nonlinear" if start1 else "linear"
    return NistProblem(path.stem, kind, certified, (start1, start2) if start1 else (), columns, text, sd,
                       residual_sd, r_squared)


def _is_float(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def lre(estimate: float, certified: float, cap: float = 15.0) -> float:
    """Log relative error: the number of correct significant digits, capped."""
    if certified == 0:
        err = abs(estimate)
    else:
        err = abs(estimate - certified) / abs(certified)
    if err == 0:
        return cap
    return min(cap, -math.log10(err))

"""What a reference library's fit gives :func:`symopt.verify` (:class:`ReferenceFit`), and whether the library is
installed: the record the reference fits (:mod:`symopt.trust.references`, :mod:`symopt.trust.quantile_check`)
return, below both."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ReferenceFit:
    """A reference library's solution (``x`` in symopt's flat layout) and its name, or None and why not;
    ``converged``: whether the judge found it at a stationary point (``reason`` says why not)."""

    name: str | None
    x: np.ndarray | None
    reason: str = ""
    converged: bool = True
    iterative: bool = False  # where it began mattered (SciPy's least_squares, minimize)


def missing(module: str) -> str | None:
    """Why ``module`` cannot be the reference (not installed), or None."""
    if importlib.util.find_spec(module) is None:
        return f"{module} is not installed (pip install {module.replace('sklearn', 'scikit-learn')})"
    return None

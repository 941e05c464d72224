"""How far two answers agree: significant digits, and which of several has the better objective. Shared by
:mod:`symopt.trust.verify` and the kinds' own judges (:mod:`symopt.trust.quantile_check`), below both."""

from __future__ import annotations

import math

import numpy as np

#: Digits are reported up to this (double precision holds about 16).
MAX_DIGITS = 16.0
#: Two values of F differ beyond rounding when they differ by more than this fraction of their sizes.
SAME_F = 1e-9


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Significant digits on which ``a`` agrees with ``b``, the worst component (a component of ``b`` below
    1e-8 of the largest is compared on the largest's scale); at most :data:`MAX_DIGITS`."""
    if a.size == 0:
        return MAX_DIGITS
    scale = np.maximum(np.abs(b), 1e-8 * max(float(np.max(np.abs(b))), 1e-300))
    worst = float(np.max(np.abs(a - b) / scale))
    if not math.isfinite(worst):
        return 0.0
    return MAX_DIGITS if worst == 0 else float(min(MAX_DIGITS, max(0.0, -math.log10(worst))))


def best(objective, solutions):
    """The solution with the best F (None where there is none)."""
    sign = -1.0 if objective.maximize else 1.0
    finite = [s for s in solutions if math.isfinite(s.fun)]
    return min(finite, key=lambda s: sign * s.fun) if finite else None


def better(objective, a, b) -> bool:
    """Whether ``a`` has a better F than ``b`` beyond rounding (:data:`SAME_F`)."""
    sign = -1.0 if objective.maximize else 1.0
    return sign * (a.fun - b.fun) < -(SAME_F * (abs(a.fun) + abs(b.fun)) + 1e-300)

"""How well a solve's matrix is conditioned: the number :attr:`symopt.Result.conditioning` reports, and the
warning, with advice, where it is large.

Which matrix depends on the path: the linear closed form for least squares solves by QR of the
column-scaled design, so its condition number is the design's; the quadratic closed form, Newton and the
other iterative solvers stop where the gradient is small, and how far that leaves the parameters from the
optimum is set by the Hessian, so theirs is the Jacobi-scaled Hessian's at the solution (for least squares
about the design's squared). Scaling first (columns to unit size, or ``D H D`` with ``D = diag(H)^-1/2``)
leaves only what scaling cannot cure: near-dependent features, an uncentred polynomial, a parameter the
data hardly determine. A solve in double precision may lose about log10 of the number of its 16 digits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import IllConditionedWarning, warn_user
from .standardize import refusal

#: Above this condition number a solve warns (:class:`symopt.IllConditionedWarning`): half the digits of
#: double precision are at stake. Measured on NIST's linear sets (the column-scaled design): Filip 5.5e9
#: (the closed form keeps 7.6 digits), Longley 5.4e4, Wampler1-5 2.6e3, Pontius 19, Norris 2.8.
ILL_CONDITIONED = 1e8
#: What each kind of matrix is called in words.
MATRICES = {"design": "the column-scaled design (QR)", "hessian": "the Jacobi-scaled Hessian of F at the solution"}


@dataclass(frozen=True)
class Conditioning:
    """``number``: the condition number (inf for a singular matrix) of ``matrix`` ("design" or "hessian")."""

    number: float
    matrix: str

    @property
    def ill(self) -> bool:
        return not self.number <= ILL_CONDITIONED

    @property
    def digits_at_stake(self) -> float:
        """About how many of double precision's 16 digits the solve may lose: log10 of the number."""
        return math.inf if not math.isfinite(self.number) else max(0.0, math.log10(max(self.number, 1.0)))

    def __str__(self) -> str:
        stake = (f"up to about {min(self.digits_at_stake, 16):.0f} of the 16 digits of double precision are at "
                 f"stake" if math.isfinite(self.number) else "singular: some direction is not determined at all")
        return f"condition number {self.number:.3g} of {MATRICES[self.matrix]}: {stake}"


def scaled_condition(hess: np.ndarray) -> float:
    """The condition number of ``D H D`` with ``D = diag(|H|)^-1/2`` (1 where the diagonal is 0): the part of
    the Hessian's that rescaling the parameters cannot remove."""
    d = np.sqrt(np.abs(np.diag(hess)))
    d[~(d > 0)] = 1.0
    lam = np.abs(np.linalg.eigvalsh(hess / d[:, None] / d[None, :]))
    small, big = float(np.min(lam)), float(np.max(lam))
    return big / small if small > 0 else math.inf


def advice(objective, standardized: bool) -> str:
    """What to do about an ill-conditioned solve of ``objective``."""
    steps = []
    if not standardized and not refusal(objective):
        steps.append("solve(..., standardize=True) fits on centred and scaled features and maps the parameters "
                     "back (the same estimator)")
    elif not standardized:
        steps.append("centre and scale the features (or reparametrise so the parameters are of similar size)")
    else:
        steps.append("the features are already centred and scaled: look for near-dependent features (drop one) "
                     "or an uncentred polynomial basis (use orthogonal polynomials)")
    if not objective.l2:
        steps.append("add l2= to pin down the directions the data hardly determine")
    if objective.form.per_parameter:
        steps.append("precision='high' where a closed form applies")
    return "; ".join(steps)


def warn_if_ill(conditioning: Conditioning | None, objective, standardized: bool = False) -> None:
    """Warn (:class:`symopt.IllConditionedWarning`) where ``conditioning`` is ill, with advice."""
    if conditioning is not None and conditioning.ill:
        warn_user(f"ill-conditioned: {conditioning}; {advice(objective, standardized)}", IllConditionedWarning)

"""What every optimizer is: hyperparameters, a state schema, a template and
a NumPy reference.

The generated module of every optimizer defines two functions with one
signature, so the Python driver (``symopt.run``) treats them alike::

    start(theta, grad, fs, fw, iw, <data>, mask, l2, sign, hyper) -> status
    run(theta, grad, fs, fw, iw, <data>, mask, l2, sign, hyper,
        budget, tol, ftol, history, k0) -> (status, iterations)

``theta`` and ``grad`` are updated in place; ``fs`` holds scalars
(``fs[0]`` the current value of ``sign * F``); ``fw`` (float) and ``iw``
(int) hold the optimizer's own state, laid out as its ``state_size`` says.
``run`` does at most ``budget`` iterations and returns ``RUNNING`` if it has
not stopped, so the driver can show progress between calls and the state
carries over exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import ClassVar

import numpy as np

from ..errors import ModelError

RUNNING = -1
#: status code -> (name, success, advice)
STATUS = {
    0: ("converged", True, "the largest gradient component is below tol"),
    1: ("converged_ftol", True, "the relative change of the objective is below ftol"),
    2: ("max_iter", False, "stopped after max_iter iterations before a convergence test was met; "
                           "raise max_iter, loosen tol, or scale the data"),
    3: ("diverged", False, "the objective became non-finite: the step is too large; use a smaller lr, "
                           "a line search, or scale the data (the last finite parameters are returned)"),
    4: ("line_search_failed", False, "no step along the search direction reduced the objective: the "
                                     "gradient is at the limit of floating-point precision (loosen tol) "
                                     "or inaccurate"),
    5: ("nonfinite_start", False, "the objective or its gradient is not finite at the starting point; "
                                  "give x0= inside the model's domain"),
    6: ("converged_xtol", True, "the step is below xtol relative to the parameters"),
    7: ("converged_precision", True, "no step reduces the objective any further: converged to "
                                     "floating-point precision"),
    8: ("completed", True, "ran the requested number of epochs"),
    9: ("diverged", False, "the training loss ended at more than twice its starting value (see "
                           "result.history): the steps overshoot; lower lr (try 10x smaller) or scale the inputs"),
}
#: Network training whose loss ended far above where it started (set by ``symopt.train``, not by generated code).
DIVERGED_LOSS = 9


def plain_number(value):
    """NumPy integer, float and bool scalars as the Python ``int``, ``float`` and ``bool`` they stand for;
    anything else unchanged (so the checks below still see, and reject, strings and the like)."""
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _positive(owner: str, name: str, value, *, allow_zero: bool = False, integer: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value >= 0 if allow_zero else value > 0)
    if integer:
        ok = ok and isinstance(value, int)
    if not ok:
        kind = "an integer" if integer else "a number"
        raise ModelError(f"{owner}: {name} must be {kind} {'>= 0' if allow_zero else '> 0'}, got {value!r}")


def _fraction(owner: str, name: str, value) -> None:
    if not (isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1):
        raise ModelError(f"{owner}: {name} must be in [0, 1), got {value!r}")


def _flag(owner: str, name: str, value) -> None:
    if not isinstance(value, bool):
        raise ModelError(f"{owner}: {name} must be True or False, got {value!r}")


@dataclass(frozen=True)
class Optimizer:
    """Base of every optimizer: stopping rules shared by all.

    ``max_iter``: iterations (epochs when ``batch_size`` is set); ``tol``:
    stop when the largest gradient component is at most ``tol``; ``ftol``:
    stop when the objective changes by less than ``ftol`` relative (0: off).
    """

    name: ClassVar[str] = ""
    template: ClassVar[str] = ""
    needs: ClassVar[str] = "gradient"  # "gradient", "hessian" or "residuals"
    hyper_names: ClassVar[tuple] = ()

    def _check(self) -> None:
        owner = type(self).__name__
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "max_iter":
                _positive(owner, "max_iter", value, integer=True)
            elif f.name in ("tol", "ftol", "xtol"):
                _positive(owner, f.name, value, allow_zero=True)

    def __post_init__(self):
        for f in fields(self):  # np.int64(10) is as good as 10; store the plain Python value
            value = getattr(self, f.name)
            if plain_number(value) is not value:
                object.__setattr__(self, f.name, plain_number(value))
        self._check()

    def hyper(self) -> np.ndarray:
        """Hyperparameters as the float array the generated ``run`` reads (see ``hyper_names``)."""
        return np.array([float(getattr(self, n)) for n in self.hyper_names], dtype=float)

    def state_size(self, p: int, n: int) -> tuple[int, int]:
        """Lengths of the float and int state arrays for ``p`` parameters and ``n`` rows."""
        return (1, 1)

    @property
    def stochastic(self) -> bool:
        return getattr(self, "batch_size", None) is not None

    def describe(self) -> str:
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self))
        return f"{type(self).__name__}({shown})"

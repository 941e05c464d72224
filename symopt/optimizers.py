"""Optimizers: how parameters are found. Each is hyperparameters, a template
for its update loop, and a small NumPy reference implementation that tests
compare the generated code against, iterate by iterate."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import ModelError


@dataclass(frozen=True)
class GradientDescent:
    r"""Gradient descent (ascent when the objective is maximised).

    Update :math:`\theta_{k+1} = \theta_k - t_k \nabla F(\theta_k)` (``+`` for
    ascent). With ``line_search=True`` the step :math:`t_k` is found by
    backtracking (Armijo): start at twice the last accepted step (``lr`` or 1
    at first), halve until :math:`F(\theta - t g) \le F(\theta) - c\,t\,\|g\|^2`
    with ``c = 1e-4``; where that decrease is below the rounding of ``F``, a
    step that keeps ``F`` within rounding and does not overshoot along
    ``-g`` is accepted (Hager and Zhang's approximate Wolfe condition), so
    the descent can reach small gradient tolerances. With
    ``line_search=False`` the step is ``lr``, fixed.

    Stops when the largest gradient component is at most ``tol``, or (if
    ``ftol > 0``) when the objective changes by less than ``ftol`` relative,
    or after ``max_iter`` iterations.
    """

    lr: float | None = None
    line_search: bool = True
    max_iter: int = 10_000
    tol: float = 1e-6
    ftol: float = 0.0

    name = "gradient_descent"
    template = "optimizers/gradient_descent.py.jinja"

    def __post_init__(self):
        if self.lr is not None and not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ModelError(f"GradientDescent: lr must be a positive number, got {self.lr!r}")
        if not self.line_search and self.lr is None:
            raise ModelError("GradientDescent: a fixed step (line_search=False) needs lr=, for example lr=0.1")
        if not isinstance(self.max_iter, int) or self.max_iter < 1:
            raise ModelError(f"GradientDescent: max_iter must be a positive integer, got {self.max_iter!r}")
        for name in ("tol", "ftol"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ModelError(f"GradientDescent: {name} must be a number >= 0, got {value!r}")

    def arguments(self) -> tuple:
        """Hyperparameters in the order the generated ``minimise`` takes them."""
        return (float(self.lr if self.lr is not None else 1.0), bool(self.line_search),
                int(self.max_iter), float(self.tol), float(self.ftol))

    def reference(self, fun, theta0, max_iter: int | None = None):
        """NumPy reference: the same iteration in plain Python.

        ``fun(theta) -> (value, gradient)`` of the objective to *minimise*.
        Returns the list of iterates (``theta0`` first).
        """
        theta = np.array(theta0, dtype=float)
        f, g = fun(theta)
        step = self.lr if self.lr is not None else 1.0
        iterates = [theta.copy()]
        for _ in range(max_iter or self.max_iter):
            if np.max(np.abs(g)) <= self.tol:
                break
            if self.line_search:
                t = step * 2.0 if len(iterates) > 1 else step
                gg = float(g @ g)
                while True:
                    cand = theta - t * g
                    fc, gc = fun(cand)
                    if math.isfinite(fc) and fc <= f - 1e-4 * t * gg:
                        break
                    if math.isfinite(fc) and fc <= f + 1e-12 * abs(f) and float(g @ gc) >= -(1 - 2e-4) * gg:
                        break
                    t *= 0.5
                    if t < 1e-20:
                        return iterates
                step = t
            else:
                cand = theta - step * g
                fc, gc = fun(cand)
            theta, f, g = cand, fc, gc
            iterates.append(theta.copy())
        return iterates

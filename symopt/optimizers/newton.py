"""Damped Newton's method with the symbolic Hessian (small problems)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..numerics.linalg import damped_direction
from .base import Optimizer, box_of, falls_without_bound, held_on_bounds

MAX_NEWTON_PARAMS = 200


@dataclass(frozen=True)
class Newton(Optimizer):
    r"""Damped Newton: solve :math:`(H + \mu I)\,d = -g` with the exact (symbolic) Hessian.

    :math:`\mu = 0` when :math:`H` is positive definite (Cholesky succeeds),
    otherwise the smallest of :math:`10^{-10}s\cdot 2^k` (``s`` the largest
    diagonal entry) that makes it so; then a backtracking (Armijo) line search
    from ``t = 1``. Where the Hessian needed damping and the full step shows no
    curvature, the ray test (:func:`~symopt.optimizers.base.falls_without_bound`)
    decides whether F is unbounded (status ``unbounded``). One fused pass per iteration gives F, gradient and
    Hessian. For problems up to 50 parameters (the symbolic Hessian's limit; a
    ``LinearModel()`` over a data matrix, whose Hessian is assembled per row, up to 200).

    With bounds (Bertsekas' projected Newton), the parameters on a bound with
    the gradient pointing out of the box take no step, the system is solved
    for the others, and the backtracking runs along the step's projection
    onto the box, Armijo's test reading the step actually taken.
    """

    max_iter: int = 200
    tol: float = 1e-9
    ftol: float = 0.0

    name = "newton"
    template = "optimizers/newton.py.jinja"
    needs = "hessian"

    def state_size(self, p: int, n: int) -> tuple[int, int]:
        return p * p, 1

    def work_size(self, p: int, n: int) -> int:
        return 3 * p * p + 8 * p  # the damped system, its Cholesky factor and the kernel's Hessian sum

    def reference(self, fun, hess, theta0, iterations: int, lower=None, upper=None):
        """NumPy reference iterates; ``fun(theta) -> (f, g)``, ``hess(theta) -> H`` (minimised sense);
        ``lower``, ``upper``: bounds (None: open)."""
        theta = np.array(theta0, dtype=float)
        lower, upper = box_of(theta.size, lower, upper)
        f, g = fun(theta)
        H = hess(theta)
        out = [theta.copy()]
        for _ in range(iterations):
            free = ~held_on_bounds(theta, g, lower, upper)
            d = np.zeros(theta.size)
            d[free], mu = damped_direction(H[np.ix_(free, free)], g[free])
            gd = float(g @ d)
            t = 1.0
            while True:
                cand = np.minimum(np.maximum(theta + t * d, lower), upper)
                clipped = not np.array_equal(cand, theta + t * d)
                fc, gc = fun(cand)
                if math.isfinite(fc) and (fc <= f + 1e-4 * float(g @ (cand - theta)) if clipped
                                          else fc <= f + 1e-4 * t * gd):
                    break
                if math.isfinite(fc) and fc <= f + 1e-12 * abs(f) and float(gc @ d) <= -(1 - 2e-4) * gd:
                    break
                t *= 0.5
                if t < 1e-20:
                    return out
            open_ray = not np.any(((d < 0) & (lower > -math.inf)) | ((d > 0) & (upper < math.inf)))
            if mu > 0.0 and t == 1.0 and fc <= f + gd and float(gc @ d) <= gd * (1.0 - 1e-9) and not clipped \
                    and open_ray:
                far = falls_without_bound(fun, theta, d, f, gd)
                if far > 0.0:  # unbounded: the generated code stops at the farthest finite point
                    out.append(theta + far * d)
                    return out
            theta = cand
            f, g = fun(theta)
            H = hess(theta)
            out.append(theta.copy())
        return out

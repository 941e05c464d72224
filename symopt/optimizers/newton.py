"""Damped Newton's method with the symbolic Hessian (small problems)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .base import Optimizer, falls_without_bound

MAX_NEWTON_PARAMS = 200


def cholesky(A: np.ndarray):
    """Lower-triangular L with A = L L^T, or None if A is not positive definite (as the template does)."""
    p = A.shape[0]
    L = np.zeros_like(A)
    for j in range(p):
        s = A[j, j] - L[j, :j] @ L[j, :j]
        if not s > 0.0:
            return None
        L[j, j] = math.sqrt(s)
        for i in range(j + 1, p):
            L[i, j] = (A[i, j] - L[i, :j] @ L[j, :j]) / L[j, j]
    return L


def cholesky_solve(L: np.ndarray, b: np.ndarray) -> np.ndarray:
    p = L.shape[0]
    y = np.zeros(p)
    for i in range(p):
        y[i] = (b[i] - L[i, :i] @ y[:i]) / L[i, i]
    x = np.zeros(p)
    for i in range(p - 1, -1, -1):
        x[i] = (y[i] - L[i + 1:, i] @ x[i + 1:]) / L[i, i]
    return x


def damped_direction(H: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, float]:
    """Solve (H + mu I) d = -g with the smallest mu in 0, 1e-10 s, 2e-10 s, ... that makes it positive definite
    (``mu`` is returned; ``inf`` when none of 80 did and ``d = -g``)."""
    scale = max(1.0, float(np.max(np.abs(np.diag(H)))))
    mu = 0.0
    for _ in range(80):
        L = cholesky(H + mu * np.eye(H.shape[0]))
        if L is not None:
            return -cholesky_solve(L, g), mu
        mu = max(2.0 * mu, 1e-10 * scale)
    return -g, math.inf


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
    """

    max_iter: int = 200
    tol: float = 1e-9
    ftol: float = 0.0

    name = "newton"
    template = "optimizers/newton.py.jinja"
    needs = "hessian"

    def state_size(self, p: int, n: int) -> tuple[int, int]:
        return p * p, 1

    def reference(self, fun, hess, theta0, iterations: int):
        """NumPy reference iterates; ``fun(theta) -> (f, g)``, ``hess(theta) -> H`` (minimised sense)."""
        theta = np.array(theta0, dtype=float)
        f, g = fun(theta)
        H = hess(theta)
        out = [theta.copy()]
        for _ in range(iterations):
            d, mu = damped_direction(H, g)
            gd = float(g @ d)
            t = 1.0
            while True:
                cand = theta + t * d
                fc, gc = fun(cand)
                if math.isfinite(fc) and fc <= f + 1e-4 * t * gd:
                    break
                if math.isfinite(fc) and fc <= f + 1e-12 * abs(f) and float(gc @ d) <= -(1 - 2e-4) * gd:
                    break
                t *= 0.5
                if t < 1e-20:
                    return out
            if mu > 0.0 and t == 1.0 and fc <= f + gd and float(gc @ d) <= gd * (1.0 - 1e-9):
                far = falls_without_bound(fun, theta, d, f, gd)
                if far > 0.0:  # unbounded: the generated code stops at the farthest finite point
                    out.append(theta + far * d)
                    return out
            theta = cand
            f, g = fun(theta)
            H = hess(theta)
            out.append(theta.copy())
        return out

"""Small dense linear algebra, written once: triangular solves, Cholesky, the damped Newton direction.

Systems are solved by factorisation and substitution, never by forming an inverse. These are the NumPy
forms for the small matrices symopt handles in Python (p x p Gram matrices, Hessians, R of a QR); the
generated code has its own compiled loops of the same algorithms (``codegen/templates/optimizers/newton.py.jinja``),
which the optimizers' references (``symopt/optimizers/newton.py``) check iterate by iterate.
"""

from __future__ import annotations

import math

import numpy as np


def triangular_solve(T: np.ndarray, b: np.ndarray, lower: bool = False) -> np.ndarray:
    """``x`` with ``T x = b`` for a triangular ``T`` (upper unless ``lower``), by substitution."""
    n = T.shape[0]
    x = np.zeros(n)
    order = range(n) if lower else range(n - 1, -1, -1)
    for i in order:
        if lower:
            x[i] = (b[i] - T[i, :i] @ x[:i]) / T[i, i]
        else:
            x[i] = (b[i] - T[i, i + 1:] @ x[i + 1:]) / T[i, i]
    return x


def cholesky(A: np.ndarray):
    """Lower-triangular ``L`` with ``A = L L^T``, or None if ``A`` is not positive definite (column by column,
    as the generated Newton code does, so the two fail on the same matrices)."""
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
    """``x`` with ``L L^T x = b``: two triangular solves."""
    return triangular_solve(L.T, triangular_solve(L, b, lower=True))


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

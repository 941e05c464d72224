"""The fast path for tall least squares: normal equations, where they are safe.

For many rows and few columns, assembling ``A^T A`` with BLAS in one
blocked pass and solving it by Cholesky is far cheaper than a QR of the
whole matrix. It squares the condition number, so it is used only when a
cheap estimate allows: the eigenvalues of the Jacobi-scaled Gram matrix
(``p x p``, exact) must span at most :data:`MAX_CONDITION`. With an
intercept the columns are centred first (which is what makes most real
designs well conditioned). One step of iterative refinement follows.
Anything worse conditioned goes to the QR path.
"""

from __future__ import annotations

import math

import numpy as np

#: Use the normal equations only with at least this many rows per parameter ...
ROWS_PER_PARAM = 20
#: ... on designs of at least this many entries (smaller ones are cheap to QR anyway) ...
MIN_ENTRIES = 1_000_000
#: ... and a scaled Gram matrix at most this ill-conditioned (the design's condition squared).
MAX_CONDITION = 1e8
BLOCK_ROWS = 65_536


def applies(n: int, p: int) -> bool:
    return n >= ROWS_PER_PARAM * p and n * p >= MIN_ENTRIES


def _blocks(n: int):
    for start in range(0, n, BLOCK_ROWS):
        yield slice(start, min(start + BLOCK_ROWS, n))


def _cholesky_solve(L: np.ndarray, b: np.ndarray) -> np.ndarray:
    from .linear import _back

    return _back(L.T, _back(L, b, lower=True))


def solve(X: np.ndarray, y: np.ndarray, ridge: np.ndarray, center: bool):
    """Minimise ``||y - c - X beta||^2 + sum(ridge * beta**2)`` (``c`` only when ``center``).

    Returns ``((beta, c), condition)``, or ``(None, condition)`` when the scaled Gram matrix is too
    ill-conditioned for the normal equations (or its products of the data overflow: condition inf).
    """
    n, m = X.shape
    G = np.zeros((m, m))
    b = np.zeros(m)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is checked below
        mu = X.mean(axis=0) if center else np.zeros(m)
        ybar = float(y.mean()) if center else 0.0
        for rows in _blocks(n):
            Xb = X[rows] - mu
            G += Xb.T @ Xb
            b += Xb.T @ (y[rows] - ybar)
    G[np.diag_indices(m)] += ridge
    if not (np.all(np.isfinite(G)) and np.all(np.isfinite(b))):
        return None, math.inf  # products of the data overflow: the QR path scales the columns first
    d = np.sqrt(np.diag(G))
    d[d == 0] = 1.0
    Gs = G / np.outer(d, d)
    lam = np.linalg.eigvalsh(Gs)
    condition = float(lam[-1] / lam[0]) if lam[0] > 0 else math.inf
    if condition > MAX_CONDITION:
        return None, condition
    L = np.linalg.cholesky(Gs)
    beta = _cholesky_solve(L, b / d) / d
    # One step of refinement: the residual of the normal equations, recomputed from the data.
    g = -ridge * beta
    for rows in _blocks(n):
        Xb = X[rows] - mu
        g += Xb.T @ ((y[rows] - ybar) - Xb @ beta)
    beta = beta + _cholesky_solve(L, g / d) / d
    c = ybar - float(mu @ beta) if center else 0.0
    return (beta, c), condition

"""The fast path for tall least squares: normal equations, where they are safe.

For many rows and few columns, assembling ``A^T A`` with BLAS and solving it by Cholesky is far cheaper
than a QR of the whole matrix. Centring the columns (what makes most real designs well conditioned) is done
from sums, ``G - s s^T / n``, which is exact enough where the columns' means are within
:data:`NEAR_CENTRED` standard deviations of 0 (judged on the first block of rows): then ``X^T X``, the
column sums and ``X^T y`` come straight from BLAS over the whole matrix. Otherwise one pass does it a
block of rows at a time (small enough to stay in cache): the block is shifted by a provisional centre
(the first block's column means) and bordered by a column of ones and the shifted target, and one
symmetric product of the bordered block gives the Gram matrix, the column sums and ``A^T y`` together
(the sums of shifted columns are small, so the centring from them loses nothing). Squaring the condition number is accepted only when a cheap estimate allows: the
eigenvalues of the Jacobi-scaled Gram matrix (``p x p``, exact) must span at most :data:`MAX_CONDITION`;
above :data:`REFINE_ABOVE` one step of iterative refinement from the data follows (a second pass).
Anything worse conditioned goes to the QR path.
"""

from __future__ import annotations

import math

import numpy as np

from ..numerics.linalg import cholesky_solve

#: Use the normal equations only with at least this many rows per parameter ...
ROWS_PER_PARAM = 20
#: ... on designs of at least this many entries (smaller ones are cheap to QR anyway) ...
MIN_ENTRIES = 1_000_000
#: ... and a scaled Gram matrix at most this ill-conditioned (the design's condition squared).
MAX_CONDITION = 1e8
#: Above this condition of the scaled Gram matrix, one refinement step from the data follows the solve.
#: Below it the normal equations' error, about the condition times the rounding of the sums (1e4 x 1e-16 x
#: log2(rows)), is under 1e-10 relative, and the second pass over the data would buy digits nobody asked for.
REFINE_ABOVE = 1e4
#: Rows per block: 4,096 rows of 32 columns (1 MB) stay in cache between the shift and the product;
#: measured on 1,000,000 x 32: 157 ms at 4,096 and 8,192 rows, 168 ms at 2,048, 235 ms at 16,384.
BLOCK_ROWS = 4096
#: Columns whose means are within this many standard deviations of 0 are centred from the plain sums: the
#: cancellation in ``G - n mu mu^T`` then costs at most a factor 1 + NEAR_CENTRED**2 of the rounding of G.
NEAR_CENTRED = 10.0


def applies(n: int, p: int) -> bool:
    return n >= ROWS_PER_PARAM * p and n * p >= MIN_ENTRIES


def _blocks(n: int):
    for start in range(0, n, BLOCK_ROWS):
        yield slice(start, min(start + BLOCK_ROWS, n))


def _bordered_gram(X: np.ndarray, y: np.ndarray, shift: np.ndarray, y_shift: float,
                   weights: np.ndarray | None = None) -> np.ndarray:
    """``B^T W B`` summed over blocks, ``B = [X - shift, 1, y - y_shift]`` ((m + 2) x (m + 2)), ``W`` the
    diagonal of ``weights`` (the identity where None): each block's rows scaled by the square roots."""
    n, m = X.shape
    buf = np.empty((min(BLOCK_ROWS, n), m + 2))
    buf[:, m] = 1.0
    M = np.zeros((m + 2, m + 2))
    for rows in _blocks(n):
        B = buf[: rows.stop - rows.start]
        np.subtract(X[rows], shift, out=B[:, :m])
        np.subtract(y[rows], y_shift, out=B[:, m + 1])
        if weights is not None:
            root = np.sqrt(weights[rows])
            B *= root[:, None]
            M += B.T @ B
            B[:, m] = 1.0  # the column of ones, scaled in place, for the next block
        else:
            M += B.T @ B
    return M


def solve(X: np.ndarray, y: np.ndarray, ridge: np.ndarray, center: bool, weights: np.ndarray | None = None):
    """Minimise ``||y - c - X beta||^2 + sum(ridge * beta**2)`` (``c`` only when ``center``), or with
    ``weights`` (``w >= 0``, not all 0) ``sum_i w_i (y_i - c - x_i beta)^2 + sum(ridge * beta**2)``.

    Weighted, the Gram matrix is always formed a block at a time, each block's rows scaled by ``sqrt(w)``, and
    centred about the weighted means (``n`` below is then ``sum(w)``): the same conditioning check, the same
    factor ``R`` (``R^T R = Phi^T W Phi``).

    Returns ``((beta, c, gradient, R), condition, refined)``, or ``(None, condition, False)`` when the scaled
    Gram matrix is too ill-conditioned for the normal equations (or its products of the data overflow:
    condition inf). ``gradient`` is that of the penalised sum of squares at the solution, ``(d/dc, d/dbeta)``
    (without ``d/dc`` when not ``center``), from the same sums (``2 (G beta - b)``): what is left of the
    normal equations after the solve, with no further pass over the data. ``R`` (None with a penalty) is the
    upper triangular factor of the unpenalised ``Phi^T Phi``, ``Phi = [1, X]`` (or ``X``), from the same
    Cholesky: with ``G_c = D L L^T D`` the centred Gram matrix, ``R = [[sqrt(n), sqrt(n) mu^T], [0, L^T D]]``
    (so ``R^T R = [[n, n mu^T], [n mu, G_c + n mu mu^T]]``); the covariance of the estimates is formed from
    it (:func:`symopt.numerics.covariance.from_jacobian`), in ``p x p`` memory.
    """
    rows, m = X.shape
    n = rows if weights is None else float(np.sum(weights))  # the weighted count: what centring divides by
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is checked below
        probe = X[:BLOCK_ROWS]
        mean = probe.mean(axis=0)
        near = weights is None and (not center or bool(np.all(np.abs(mean) <= NEAR_CENTRED * probe.std(axis=0))))
        if near:  # BLAS over the whole matrix: X^T X is one symmetric product, read once
            G, b = X.T @ X, X.T @ y
            sums, y_sum = X.sum(axis=0), float(y.sum())
            shift, y_shift = np.zeros(m), 0.0
        else:
            shift, y_shift = (mean, float(y[:BLOCK_ROWS].mean())) if center else (np.zeros(m), 0.0)
            M = _bordered_gram(X, y, shift, y_shift, weights)
            G, b = M[:m, :m].copy(), M[:m, m + 1].copy()
            sums, y_sum = M[:m, m], M[m, m + 1]
        if center:  # exact centring from the sums
            G -= np.outer(sums, sums) / n
            b -= sums * (y_sum / n)
            mu, ybar = shift + sums / n, y_shift + y_sum / n
        else:
            mu, ybar = np.zeros(m), 0.0
    G[np.diag_indices(m)] += ridge
    if not (np.all(np.isfinite(G)) and np.all(np.isfinite(b))):
        return None, math.inf, False  # products of the data overflow: the QR path scales the columns first
    d = np.sqrt(np.diag(G))
    d[d == 0] = 1.0
    Gs = G / np.outer(d, d)
    lam = np.linalg.eigvalsh(Gs)
    condition = float(lam[-1] / lam[0]) if lam[0] > 0 else math.inf
    if condition > MAX_CONDITION:
        return None, condition, False
    L = np.linalg.cholesky(Gs)
    beta = cholesky_solve(L, b / d) / d
    refined = condition > REFINE_ABOVE
    if refined:  # one step of refinement: the residual of the normal equations, recomputed from the data
        g = -ridge * beta
        for block in _blocks(rows):
            Xb = X[block] - mu
            r = (y[block] - ybar) - Xb @ beta
            g += Xb.T @ (r if weights is None else weights[block] * r)
        beta = beta + cholesky_solve(L, g / d) / d
    gradient = 2.0 * (G @ beta - b)
    if center:
        c = ybar - float(mu @ beta)
        gradient = np.r_[-2.0 * n * (ybar - c - float(mu @ beta)), gradient]
    else:
        c = 0.0
    return (beta, c, gradient, _factor(L, d, mu, n, center, ridge)), condition, refined


def _factor(L: np.ndarray, d: np.ndarray, mu: np.ndarray, n: int, center: bool, ridge: np.ndarray):
    """``R`` with ``R^T R = Phi^T Phi`` from the Cholesky factor ``L`` of the Jacobi-scaled (centred) Gram
    matrix (see :func:`solve`), or None where the Gram matrix carried a penalty."""
    if np.any(ridge):
        return None
    lower = L.T * d  # L^T D: its transpose times itself is the (centred) Gram matrix
    if not center:
        return lower
    root = math.sqrt(n)
    m = lower.shape[0]
    R = np.zeros((m + 1, m + 1))
    R[0, 0] = root
    R[0, 1:] = root * mu
    R[1:, 1:] = lower
    return R

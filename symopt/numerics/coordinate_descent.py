"""Cyclic coordinate descent for an ``l1``-penalised quadratic: the lasso and the elastic net on a linear
least-squares design, solved on its Gram matrix.

    minimise  q(x) + sum_j lam_j |x_j|,   q(x) = x^T Q x / 2 - b^T x,   lower <= x <= upper

Where the smooth part of an objective is linear least squares (``F = c/n ||u - Phi x||^2 + l2 ...``, as the
linear closed-form analysis finds), ``Q = 2 c/n Phi^T Phi + 2 l2 diag(w)`` and ``b = 2 c/n Phi^T u`` are formed
once, in one pass over the rows; after that each coordinate step costs ``p`` operations and never reads the
data again (glmnet's "covariance updates", Friedman, Hastie and Tibshirani 2010). A regularisation path
reuses ``Q`` and ``b`` for every strength.

A coordinate step minimises exactly along ``x_j``: with ``g = Q x - b`` (kept up to date),
``x_j <- clip(soft(x_j - g_j / Q_jj, lam_j / Q_jj), lower_j, upper_j)``. The sweeps run on a working set
(the coordinates that are not 0, and those whose subgradient condition fails, screened by a full pass) until
they settle, then a full pass checks the optimality condition everywhere; the run ends where the
minimum-norm subgradient is at most ``tol`` in every component.

Forming ``Phi^T Phi`` squares the design's condition number, so symopt uses this path where that costs no
digits the tests ask for (:data:`symopt.closed_form.lasso.CONDITION_LIMIT`); else proximal gradient on the rows.
This module imports Numba: it is imported where coordinate descent runs, never before.

:func:`sweep_reference` is one sweep in NumPy, the test's reference for the compiled :func:`_sweep`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

@njit(cache=True)
def _soft(v, t):
    if v > t:
        return v - t
    if v < -t:
        return v + t
    return 0.0


@njit(cache=True)
def _sweep(Q, b, lam, lower, upper, x, g, order, count):
    """One cyclic pass over ``order[:count]``: exact minimisation along each coordinate, ``g = Q x - b`` kept up
    to date. Returns the largest change of a coordinate, scaled by ``sqrt(Q_jj)``."""
    p = x.shape[0]
    largest = 0.0
    for k in range(count):
        j = order[k]
        qjj = Q[j, j]
        if qjj <= 0.0:
            continue
        new = _soft(x[j] - g[j] / qjj, lam[j] / qjj)
        if new < lower[j]:
            new = lower[j]
        elif new > upper[j]:
            new = upper[j]
        delta = new - x[j]
        if delta != 0.0:
            x[j] = new
            for i in range(p):
                g[i] += Q[i, j] * delta
            change = abs(delta) * np.sqrt(qjj)
            if change > largest:
                largest = change
    return largest


@njit(cache=True)
def _violation(x, g, lam, lower, upper, out):
    """The minimum-norm subgradient of ``q + sum lam |x|`` at ``x`` into ``out`` (0 where a bound holds the
    coordinate); returns its largest absolute component."""
    worst = 0.0
    for j in range(x.shape[0]):
        if x[j] > 0.0:
            r = g[j] + lam[j]
        elif x[j] < 0.0:
            r = g[j] - lam[j]
        elif g[j] > lam[j]:
            r = g[j] - lam[j]
        elif g[j] < -lam[j]:
            r = g[j] + lam[j]
        else:
            r = 0.0
        if (x[j] <= lower[j] and r > 0.0) or (x[j] >= upper[j] and r < 0.0):
            r = 0.0
        out[j] = r
        if abs(r) > worst:
            worst = abs(r)
    return worst


@njit(cache=True)
def solve(Q, b, lam, lower, upper, x, tol, max_sweeps):
    """Coordinate descent from ``x`` (updated in place) to a point whose minimum-norm subgradient is at most
    ``tol``. Returns ``(sweeps, converged)``: the passes made (working-set and full ones), and whether the
    optimality condition holds to ``tol`` at the end."""
    p = x.shape[0]
    g = Q @ x - b
    r = np.empty(p)
    order = np.empty(p, np.int64)
    sweeps = 0
    while sweeps < max_sweeps:
        # a full pass: every coordinate, then the working set (non-zero, or failing its condition)
        _sweep(Q, b, lam, lower, upper, x, g, np.arange(p), p)
        sweeps += 1
        if _violation(x, g, lam, lower, upper, r) <= tol:
            return sweeps, True
        count = 0
        for j in range(p):
            if x[j] != 0.0 or r[j] != 0.0:
                order[count] = j
                count += 1
        while sweeps < max_sweeps:
            _sweep(Q, b, lam, lower, upper, x, g, order, count)
            sweeps += 1
            worst = 0.0
            _violation(x, g, lam, lower, upper, r)
            for k in range(count):
                if abs(r[order[k]]) > worst:
                    worst = abs(r[order[k]])
            if worst <= tol:
                break
        g[:] = Q @ x - b  # against the drift of the incremental updates
        if _violation(x, g, lam, lower, upper, r) <= tol:
            return sweeps, True
    return sweeps, False


def sweep_reference(Q, b, lam, lower, upper, x, order):
    """One cyclic pass in NumPy over ``order`` (the reference of the compiled sweep): a new ``x``."""
    x = np.array(x, dtype=float)
    for j in order:
        if Q[j, j] <= 0.0:
            continue
        g = Q[j] @ x - b[j]
        z = x[j] - g / Q[j, j]
        t = lam[j] / Q[j, j]
        x[j] = min(max(np.sign(z) * max(abs(z) - t, 0.0), lower[j]), upper[j])
    return x

"""The weighted Gram matrix ``Phi^T diag(w) Phi`` (``Phi = [1, X]``, ``w >= 0``) of a Newton step over a data
matrix, on chosen columns, formed the way the matrix's zeros make cheapest.

* Dense ``X``: summed over blocks of rows as ``(sqrt(w) X)^T (sqrt(w) X)`` with BLAS (``n p^2 / 2`` work,
  no ``n x p`` copy of the whole matrix).
* A mostly-zero ``X`` (a one-hot design of categorical columns, the usual GLM design in insurance and
  demand models, glum's own benchmark): the non-zeros of each row are found once per dataset
  (:class:`RowNonzeros`, a CSR view of the array), and each row adds only the products of its non-zeros,
  ``n k^2 / 2`` work for ``k`` non-zeros a row (and ``X @ v``, ``X.T @ u`` read only the non-zeros too). On 100,000 x 300 with 3 non-zeros a row that is 450,000
  multiply-adds where BLAS does 4.5 billion. The switch is at :data:`SPARSE_DENSITY`.

The sums over rows are in a fixed order, so one dataset gives the same matrix every time (both ways agree to
rounding: the tests compare them). This module imports Numba: it is imported where a Newton step runs over a
data matrix, never before.
"""

from __future__ import annotations

import weakref

import numpy as np
from numba import njit

#: Rows of the dense way per block (about 16 MB of scaled rows at a time).
BLOCK_FLOATS = 1 << 21

#: Below this fraction of non-zeros the row-by-row way runs. Measured on 20,000 x 300 (this machine, 2 cores,
#: BLAS's two threads): the dense way's time does not depend on the density; the row way's grows with its
#: square and matches the dense way's at about a quarter.
SPARSE_DENSITY = 0.1

#: The non-zeros of each data matrix, by the memory it views (the entry dropped when that memory's array
#: goes): repeated solves on one user array (a path, a grid search) find them once. They only steer the
#: Newton step (:mod:`symopt.run.proximal_newton` takes its gradient and its optimality check from ``X``
#: itself), so an array changed in place after a solve gives slower steps, never a wrong answer.
_NONZEROS: dict = {}


class RowNonzeros:
    """The non-zeros of a 2-D array row by row (CSR): ``starts`` (n + 1), ``columns`` and ``values``."""

    def __init__(self, X: np.ndarray):
        rows, columns = np.nonzero(X)
        self.starts = np.zeros(X.shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=X.shape[0]), out=self.starts[1:])
        self.columns = columns.astype(np.int64)
        self.values = np.ascontiguousarray(X[rows, columns], dtype=float)
        self.shape = X.shape

    def matvec(self, v: np.ndarray) -> np.ndarray:
        """``X @ v``, over the non-zeros only."""
        out = np.empty(self.shape[0])
        _matvec(self.starts, self.columns, self.values, np.ascontiguousarray(v, dtype=float), out)
        return out

    def rmatvec(self, u: np.ndarray) -> np.ndarray:
        """``X.T @ u``, over the non-zeros only."""
        out = np.zeros(self.shape[1])
        _rmatvec(self.starts, self.columns, self.values, np.ascontiguousarray(u, dtype=float), out)
        return out


def nonzeros_of(X: np.ndarray) -> RowNonzeros | None:
    """``X``'s :class:`RowNonzeros` where at most :data:`SPARSE_DENSITY` of it is non-zero, else None;
    found once per array."""
    root = X
    while isinstance(root.base, np.ndarray):
        root = root.base  # the views symopt's data stage makes of one user array share it
    key = (id(root), X.__array_interface__["data"][0], X.shape, X.strides)
    if key in _NONZEROS:
        return _NONZEROS[key]
    found = None
    if X.size and np.count_nonzero(X) <= SPARSE_DENSITY * X.size:
        found = RowNonzeros(X)
    _NONZEROS[key] = found
    weakref.finalize(root, _NONZEROS.pop, key, None)
    return found


def weighted_gram(X: np.ndarray, w: np.ndarray, intercept: bool, columns=None) -> np.ndarray:
    """``Phi^T diag(w) Phi`` with ``Phi = [1, X]`` (or ``X``); ``columns``: only these columns of ``X`` (sorted
    indices, or None for all). Rows with ``w = 0`` add nothing."""
    nz = nonzeros_of(X)
    if nz is not None:
        where = np.full(X.shape[1], -1, dtype=np.int64)
        if columns is None:
            where[:] = np.arange(X.shape[1])
        else:
            where[columns] = np.arange(len(columns))
        m = X.shape[1] if columns is None else len(columns)
        H = np.zeros((m + int(intercept), m + int(intercept)))
        _rows_gram(nz.starts, nz.columns, nz.values, np.ascontiguousarray(w, dtype=float), where, int(intercept), H)
        return H
    return _dense_gram(X, w, intercept, columns)


def _dense_gram(X, w, intercept: bool, columns) -> np.ndarray:
    n = X.shape[0]
    m = X.shape[1] if columns is None else len(columns)
    k = int(intercept)
    H = np.zeros((m + k, m + k))
    block = max(1, BLOCK_FLOATS // max(m, 1))
    for lo in range(0, n, block):
        rows, wb = X[lo:lo + block], w[lo:lo + block]
        if columns is not None:
            rows = rows[:, columns]
        A = rows * np.sqrt(wb)[:, None]
        H[k:, k:] += A.T @ A
        if k:
            H[0, 1:] += wb @ rows
            H[0, 0] += float(np.sum(wb))
    if k:
        H[1:, 0] = H[0, 1:]
    return H


@njit(cache=True)
def _rows_gram(starts, columns, values, w, where, k, H):
    """Row by row: ``H[a, b] += w_i x_ia x_ib`` over the row's non-zeros in the chosen columns (``where``: each
    column's position among them, -1 if not chosen), shifted by ``k`` (1 with an intercept, whose row and column
    take ``w_i`` and ``w_i x_ia``); the upper triangle summed, then mirrored."""
    n = starts.shape[0] - 1
    for i in range(n):
        wi = w[i]
        if wi == 0.0:
            continue
        if k:
            H[0, 0] += wi
        for s in range(starts[i], starts[i + 1]):
            a = where[columns[s]]
            if a < 0:
                continue
            va = wi * values[s]
            if k:
                H[0, a + 1] += va
            for t in range(s, starts[i + 1]):
                b = where[columns[t]]
                if b < 0:
                    continue
                v = va * values[t]
                if b >= a:
                    H[a + k, b + k] += v
                else:
                    H[b + k, a + k] += v
    size = H.shape[0]
    for a in range(size):
        for b in range(a + 1, size):
            H[b, a] = H[a, b]


@njit(cache=True)
def _matvec(starts, columns, values, v, out):
    for i in range(starts.shape[0] - 1):
        total = 0.0
        for s in range(starts[i], starts[i + 1]):
            total += values[s] * v[columns[s]]
        out[i] = total


@njit(cache=True)
def _rmatvec(starts, columns, values, u, out):
    for i in range(starts.shape[0] - 1):
        ui = u[i]
        if ui == 0.0:
            continue
        for s in range(starts[i], starts[i + 1]):
            out[columns[s]] += values[s] * ui

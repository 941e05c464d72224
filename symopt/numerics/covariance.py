"""The covariance of the estimates, as matrix algebra: from the Jacobian of the residuals (least squares) or
from the observed information (a likelihood), classical or robust (sandwich), never by inverting ``J^T J``.

* Least squares: ``J = Q R`` (Householder QR, blocked over the rows: each block stacked under the ``R`` so far
  and factored again, so a tall Jacobian is never copied whole), so ``(J^T J)^-1 = R^-1 R^-T`` from triangular
  solves on the column-scaled ``R``; the classical covariance is ``s^2 R^-1 R^-T`` and the sandwich ones (HC0-HC3,
  as statsmodels names them) ``R^-1 Q^T diag(w) Q R^-T`` with ``w`` the squared residuals, adjusted by the
  leverages ``h = rowsum(Q^2)`` for HC2 and HC3 (``Q = J R^-1`` a block of rows at a time).
* Likelihoods: the inverse of the observed information ``I`` from the eigendecomposition of its
  Jacobi-scaled form (which also says whether it is positive definite); the sandwich one
  ``I^-1 (sum_i s_i s_i^T) I^-1`` from the per-row scores ``s_i``.

A rank-deficient Jacobian or a singular information names the parameters that are not identified: those
with a large part in a direction the data do not determine (the singular vectors of the scaled matrix whose
singular values are at rounding level).
"""

from __future__ import annotations

from dataclasses import dataclass

import mpmath
import numpy as np

from ..errors import ModelError

#: Robust covariances offered (statsmodels' names): "nonrobust" is the classical one.
COV_TYPES = ("nonrobust", "HC0", "HC1", "HC2", "HC3")


def check_cov_type(cov_type) -> str:
    """``cov_type`` if it is one of :data:`COV_TYPES`, else a ``ModelError`` that lists them."""
    if cov_type not in COV_TYPES:
        raise ModelError(f"cov_type must be one of {', '.join(map(repr, COV_TYPES))}; got {cov_type!r}")
    return cov_type


#: A direction whose scaled singular value is below this times the largest (times the larger dimension) is
#: one the data do not determine: machine epsilon, the numerical rank the linear closed form uses (NIST Filip,
#: condition number 5.5e9 after column scaling, is full rank, and its certified standard deviations are
#: matched to 7 digits).
RANK_TOLERANCE = float(np.finfo(float).eps)
#: Rows per block of the blocked QR behind the least-squares covariance: 4,096 rows of 32 columns (1 MB) stay in
#: cache, as in the normal equations' blocked pass (:data:`symopt.closed_form.normal_equations.BLOCK_ROWS`).
BLOCK_ROWS = 4096
#: A parameter with at least this share (in absolute value, of a unit vector in scaled parameters) of an
#: undetermined direction is named as not identified.
NULL_SHARE = 0.1


@dataclass(frozen=True)
class Covariance:
    """``matrix`` (p x p), or None with ``reason``; ``not_identified``: the flat names in an undetermined
    direction (with ``directions`` in words)."""

    matrix: np.ndarray | None
    reason: str = ""
    not_identified: tuple = ()
    directions: tuple = ()


def _scales(M: np.ndarray, axis: int) -> np.ndarray:
    d = np.sqrt(np.sum(M * M, axis=axis)) if axis == 0 else np.sqrt(np.abs(np.diag(M)))
    d[~(d > 0) | ~np.isfinite(d)] = 1.0
    return d


def _null(vectors: np.ndarray, names) -> Covariance:
    """The record for undetermined directions ``vectors`` (columns, in scaled parameters)."""
    involved, words = [], []
    for v in vectors.T:
        v = v / np.max(np.abs(v))
        parts = [(names[j], v[j]) for j in np.flatnonzero(np.abs(v) >= NULL_SHARE)]
        involved += [name for name, _ in parts if name not in involved]
        words.append(" + ".join(f"{c:.3g}*{name}" for name, c in parts).replace("+ -", "- "))
    reason = (f"the parameters {', '.join(involved)} are not identified: the data do not determine the "
              f"combination{'s' if len(words) > 1 else ''} {'; '.join(words)} (in parameters scaled to the "
              "sizes of their columns); drop or fix one of them, or add data that separate them")
    return Covariance(None, reason, tuple(involved), tuple(words))


class ArrayRows:
    """The rows of a Jacobian held as one array, a block of :data:`BLOCK_ROWS` rows at a time."""

    def __init__(self, J: np.ndarray):
        self.J = J
        self.shape = J.shape

    def blocks(self):
        """``(first row, block)`` pairs, in order."""
        for lo in range(0, self.shape[0], BLOCK_ROWS):
            yield lo, self.J[lo:lo + BLOCK_ROWS]

    def select(self, columns) -> "ArrayRows":
        return self if len(columns) == self.shape[1] else ArrayRows(self.J[:, columns])


class MatrixRows:
    """The rows of ``[1, X]`` (or ``X``), the Jacobian of a ``LinearModel()``'s residuals up to sign, formed a block
    of :data:`BLOCK_ROWS` rows at a time in one buffer (a block is valid until the next is asked for), so the
    covariance of a tall fit never holds a copy of the data. ``row_scale``: each row's multiplier, for a weighted
    squared loss whose residuals are ``r (y - eta)`` (``r = sqrt(w)``, or ``1/s``): the rows of ``r [1, X]``."""

    def __init__(self, X: np.ndarray, intercept: bool, columns=None, row_scale: np.ndarray | None = None):
        self.X, self.intercept, self.row_scale = X, intercept, row_scale
        width = X.shape[1] + int(intercept)
        self.columns = list(range(width)) if columns is None else list(columns)
        self.shape = (X.shape[0], len(self.columns))

    def blocks(self):
        X, n = self.X, self.X.shape[0]
        first = int(self.intercept)
        buf = np.empty((min(BLOCK_ROWS, n), X.shape[1] + first))
        every = len(self.columns) == buf.shape[1]
        for lo in range(0, n, BLOCK_ROWS):
            block = buf[:min(BLOCK_ROWS, n - lo)]
            if self.row_scale is None:
                block[:, :first] = 1.0
                block[:, first:] = X[lo:lo + BLOCK_ROWS]
            else:
                r = self.row_scale[lo:lo + BLOCK_ROWS, None]
                block[:, :first] = r
                np.multiply(X[lo:lo + BLOCK_ROWS], r, out=block[:, first:])
            yield lo, block if every else block[:, self.columns]

    def select(self, columns) -> "MatrixRows":
        return MatrixRows(self.X, self.intercept, [self.columns[j] for j in columns], self.row_scale)

    def __getitem__(self, rows) -> "MatrixRows":
        """The rows ``rows`` (a boolean mask or indices, as NumPy reads them) only: those of weight above 0. It
        copies those rows of ``X`` (NumPy's fancy indexing), as the array Jacobian's selection does."""
        return MatrixRows(self.X[rows], self.intercept, self.columns,
                          None if self.row_scale is None else self.row_scale[rows])


def _triangular(rows) -> tuple[np.ndarray | None, str]:
    """``(R, "")`` with ``J = Q R`` for the Jacobian ``rows`` (an :class:`ArrayRows` or :class:`MatrixRows`), by the
    blocked QR (TSQR: each block's rows stacked under the R so far and factored again, so no n x p matrix is
    formed), or ``(None, why)`` where an entry is not finite. ``R`` has ``min(n, p)`` rows."""
    R = None
    for lo, block in rows.blocks():
        bad = ~np.isfinite(block)
        if bad.any():
            bad_rows = np.unique(np.argwhere(bad)[:, 0])
            count = sum(int(np.count_nonzero(~np.isfinite(b).all(axis=1))) for _, b in rows.blocks())
            return None, (f"the Jacobian of the residuals is not finite at the solution (row {lo + int(bad_rows[0])}"
                          f"{f' and {count - 1} more' if count > 1 else ''})")
        R = np.linalg.qr(block if R is None else np.vstack([R, block]), mode="r")
    return (np.zeros((0, rows.shape[1])) if R is None else R), ""


def from_jacobian(J, residuals: np.ndarray, names, cov_type: str = "nonrobust",
                  scale: float | None = None, factor: np.ndarray | None = None) -> Covariance:
    """The covariance of least-squares estimates with residual Jacobian ``J`` (n x p, an array, or its rows a
    block at a time: :class:`ArrayRows`, :class:`MatrixRows`) at the solution.

    ``R`` (``R^T R = J^T J``) is ``factor`` where the solve formed one (the normal equations' Cholesky factor),
    else from the blocked QR of ``J`` (:func:`_triangular`), so memory stays at a block of rows plus ``p x p``
    matrices whatever ``n``: the classical covariance needs nothing else; the robust ones read the rows once
    more (``Q = J R^-1`` a block at a time). ``scale`` is ``s^2`` for the classical covariance (None:
    ``RSS / (n - p)``); the robust types ignore it.
    """
    rows = ArrayRows(J) if isinstance(J, np.ndarray) else J
    n, p = rows.shape
    R, why = (factor, "") if factor is not None else _triangular(rows)
    if R is None:
        return Covariance(None, why)
    d = _scales(R, 0)  # the columns' norms: those of J
    Rs = R / d
    _, S, Vt = np.linalg.svd(Rs, full_matrices=True)
    tol = (S[0] if S.size else 0.0) * max(n, p) * RANK_TOLERANCE
    small = S <= tol
    if S.size < p or small.any():
        return _null(np.vstack([Vt[:S.size][small], Vt[S.size:]]).T, names)
    # R^-1 (the covariance is by definition an inverse): LAPACK's LU of the triangular R needs no row swaps, so
    # this is back substitution column by column, in compiled loops for the thousands of columns of a wide model
    Rinv = np.triu(np.linalg.solve(Rs, np.eye(p)))
    if cov_type == "nonrobust":
        if scale is None:
            scale = float(residuals @ residuals) / (n - p)
        core = scale * (Rinv @ Rinv.T)
    else:
        # the meat Q^T diag(w) Q: HC2 and HC3 need each row's leverage, so a block of Q = (J / d) R^-1 at a time;
        # HC0 and HC1 form J^T diag(w) J a block at a time (a Gram matrix's cost) and turn it into Q's after
        leverage = cov_type in ("HC2", "HC3")
        to_q = Rinv / d[:, None]
        meat = np.zeros((p, p))
        for lo, block in rows.blocks():
            e2 = residuals[lo:lo + block.shape[0]] ** 2
            if leverage:
                q = block @ to_q
                h = np.sum(q * q, axis=1)
                if np.any(h >= 1.0 - 1e-12):
                    row = int(np.argmax(h))
                    return Covariance(None, f"{cov_type} divides by 1 - leverage, and row {lo + row} has leverage "
                                            f"{h[row]:.6g} (the fit passes through it exactly); use HC0 or HC1")
                e2 = e2 / (1.0 - h) ** (1 if cov_type == "HC2" else 2)
                meat += (q.T * e2) @ q
            else:
                meat += (block.T * e2) @ block
        if not leverage:
            meat = to_q.T @ meat @ to_q
        if cov_type == "HC1":
            meat *= n / (n - p)
        B = Rinv @ meat @ Rinv.T
        core = 0.5 * (B + B.T)
    return Covariance(core / d[:, None] / d[None, :])


def from_jacobian_high(rows, residuals, names, digits: int, scale: float | None = None) -> Covariance:
    """The classical least-squares covariance in mpmath at ``digits``: ``rows`` the Jacobian's rows and
    ``residuals`` the residuals, as mpmath numbers (high-precision standard errors); ``scale`` as in
    :func:`from_jacobian`."""
    n, p = len(rows), len(rows[0])
    with mpmath.workdps(digits):
        J = mpmath.matrix(rows)
        d = [mpmath.sqrt(mpmath.fsum(J[i, j] ** 2 for i in range(n))) or mpmath.mpf(1) for j in range(p)]
        for j in range(p):
            for i in range(n):
                J[i, j] /= d[j]
        _, R = mpmath.qr(J, mode="skinny")
        if min(abs(R[j, j]) for j in range(p)) <= mpmath.mpf(10) ** (-digits // 2) * max(abs(R[j, j]) for j in range(p)):
            return Covariance(None, "the design is rank deficient at high precision: some parameters are not "
                                    "identified (precision='double' names them)")
        Rinv = mpmath.matrix(p, p)
        for k in range(p):  # column k of R^-1 by back substitution
            for i in range(k, -1, -1):
                s = (1 if i == k else 0) - mpmath.fsum(R[i, j] * Rinv[j, k] for j in range(i + 1, k + 1))
                Rinv[i, k] = s / R[i, i]
        s2 = mpmath.fsum(r * r for r in residuals) / (n - p) if scale is None else mpmath.mpf(scale)
        cov = np.empty((p, p))
        for i in range(p):
            for j in range(i, p):
                v = s2 * mpmath.fsum(Rinv[i, k] * Rinv[j, k] for k in range(max(i, j), p)) / (d[i] * d[j])
                cov[i, j] = cov[j, i] = float(v)
    return Covariance(cov)


def from_information(info: np.ndarray, names, scores: np.ndarray | None = None, cov_type: str = "nonrobust",
                     n_rows: int = 0) -> Covariance:
    """The covariance of maximum-likelihood estimates from the observed information ``info`` (the Hessian of
    the summed negative log-likelihood at the estimate); the robust types need the per-row ``scores``."""
    p = info.shape[0]
    if not np.all(np.isfinite(info)):
        return Covariance(None, "the information (the Hessian of the negative log-likelihood) is not finite at "
                                "the solution")
    d = _scales(info, 1)
    B = info / d[:, None] / d[None, :]
    lam, V = np.linalg.eigh(0.5 * (B + B.T))
    big = float(np.max(np.abs(lam))) if lam.size else 0.0
    tol = big * max(p, 1) * RANK_TOLERANCE
    if np.any(lam < -tol):
        return Covariance(None, f"the information (the Hessian of the negative log-likelihood) is not positive "
                                f"definite at the solution (smallest scaled eigenvalue {lam[0]:.3g}): this is not "
                                "a maximum of the likelihood, so its inverse is no covariance")
    if lam.size and not lam[0] > tol:
        return _null(V[:, lam <= tol], names)
    inv = (V / lam) @ V.T
    if cov_type != "nonrobust":
        meat = scores.T @ scores / d[:, None] / d[None, :]
        inv = inv @ meat @ inv
        if cov_type == "HC1":
            inv = inv * n_rows / (n_rows - p)
        inv = 0.5 * (inv + inv.T)
    return Covariance(inv / d[:, None] / d[None, :])

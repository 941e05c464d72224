"""The covariance of the estimates, as matrix algebra: from the Jacobian of the residuals (least squares) or
from the observed information (a likelihood), classical or robust (sandwich), never by inverting ``J^T J``.

* Least squares: ``J = Q R`` (Householder QR of the column-scaled Jacobian), so ``(J^T J)^-1 = R^-1 R^-T``
  from triangular solves; the classical covariance is ``s^2 R^-1 R^-T`` and the sandwich ones (HC0-HC3, as
  statsmodels names them) ``R^-1 Q^T diag(w) Q R^-T`` with ``w`` the squared residuals, adjusted by the
  leverages ``h = rowsum(Q^2)`` for HC2 and HC3.
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

#: Robust covariances offered (statsmodels' names): "nonrobust" is the classical one.
COV_TYPES = ("nonrobust", "HC0", "HC1", "HC2", "HC3")
#: A direction whose scaled singular value is below this times the largest (times the larger dimension) is
#: one the data do not determine: machine epsilon, the numerical rank the linear closed form uses (NIST Filip,
#: condition number 5.5e9 after column scaling, is full rank, and its certified standard deviations are
#: matched to 7 digits).
RANK_TOLERANCE = float(np.finfo(float).eps)
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


def from_jacobian(J: np.ndarray, residuals: np.ndarray, names, cov_type: str = "nonrobust",
                  scale: float | None = None) -> Covariance:
    """The covariance of least-squares estimates with residual Jacobian ``J`` (n x p) at the solution.

    ``scale`` is ``s^2`` for the classical covariance (None: ``RSS / (n - p)``); the robust types ignore it.
    """
    n, p = J.shape
    if not np.all(np.isfinite(J)):
        rows = np.unique(np.argwhere(~np.isfinite(J))[:, 0])
        return Covariance(None, f"the Jacobian of the residuals is not finite at the solution (row {rows[0]}"
                                f"{f' and {rows.size - 1} more' if rows.size > 1 else ''})")
    d = _scales(J, 0)
    A = J / d
    U, S, Vt = np.linalg.svd(A, full_matrices=False)
    tol = (S[0] if S.size else 0.0) * max(n, p) * RANK_TOLERANCE
    if S.size < p or not S[-1] > tol:
        return _null(Vt[S <= tol].T if S.size == p else Vt.T[:, S.size:], names)
    Q, R = np.linalg.qr(A)
    # R^-1 (the covariance is by definition an inverse): LAPACK's LU of the triangular R needs no row swaps, so
    # this is back substitution column by column, in compiled loops for the thousands of columns of a wide model
    Rinv = np.triu(np.linalg.solve(R, np.eye(p)))
    if cov_type == "nonrobust":
        if scale is None:
            scale = float(residuals @ residuals) / (n - p)
        core = scale * (Rinv @ Rinv.T)
    else:
        e2 = residuals * residuals
        if cov_type == "HC1":
            e2 = e2 * n / (n - p)
        elif cov_type in ("HC2", "HC3"):
            h = np.sum(Q * Q, axis=1)
            if np.any(h >= 1.0 - 1e-12):
                row = int(np.argmax(h))
                return Covariance(None, f"{cov_type} divides by 1 - leverage, and row {row} has leverage "
                                        f"{h[row]:.6g} (the fit passes through it exactly); use HC0 or HC1")
            e2 = e2 / (1.0 - h) ** (1 if cov_type == "HC2" else 2)
        B = Rinv @ (Q.T * e2) @ Q @ Rinv.T
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

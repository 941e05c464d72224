"""The covariance of estimates on the surface of the active constraints (``constraints=``,
:mod:`symopt.run.constrained`): where a constraint holds with equality at the optimum, the estimates move only
along the directions it leaves free, and their covariance is the classical one restricted to those directions,
as in constrained maximum likelihood (Aitchison and Silvey, 1958; statsmodels' ``fit_constrained``):

    V_c = Z (Z^T I Z)^-1 Z^T

with ``I`` the information (``J^T J / s^2`` for least squares) and ``Z`` a basis of the null space of the active
constraints' rows (their Jacobian, constant: the constraints are linear). It is what the same fit gives with the
active constraints stated as ties, the tied parameters' variances by the delta method: ``Z`` is the Jacobian of
that tie (any basis of the same null space gives the same ``V_c``).

``Z`` eliminates one parameter per independent active row, chosen by QR with column pivoting of the rows (the
best-conditioned choice): ``Z = P [-R11^-1 R12; I]`` from triangular solves, so the reduced coordinates are the
parameters kept, by name (a not-identified combination is named in them). The reduced covariance comes from the
same QR of ``J Z`` (least squares) or scaled eigendecomposition of ``Z^T I Z`` (likelihoods) as an unconstrained
fit's (:mod:`symopt.numerics.covariance`): no matrix is inverted to solve a system.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..numerics import covariance

#: An active row whose pivot is below this times the largest (after scaling rows to unit length) repeats the
#: others (two constraints active along one direction): it removes no further direction.
RANK_TOLERANCE = 1e-10


@dataclass(frozen=True)
class Surface:
    """The active constraints' surface: ``active`` (their texts), ``Z`` (free parameters x kept directions, the
    basis of the directions they leave free) and ``names`` (the free parameters ``Z``'s columns keep)."""

    active: tuple
    Z: np.ndarray
    names: tuple

    @property
    def rank(self) -> int:
        """The number of directions the active constraints remove."""
        return self.Z.shape[0] - self.Z.shape[1]

    def note(self) -> str:
        return (f"on the surface of the active constraint(s) {', '.join(self.active)}: the covariance restricted to "
                f"the directions they leave free, Z (Z' I Z)^-1 Z' (the same as stating them as ties), and the "
                f"degrees of freedom count {self.rank} parameter(s) fewer")


def surface(result, dataset, names: tuple, free: list) -> Surface | None:
    """The surface of the constraints active at ``result`` (over the ``free`` flat entries, named ``names``), or
    None where none is active (or the result does not carry its constraints)."""
    active = tuple(getattr(result.kkt, "active", ()) or ())
    constraints = getattr(result.origin, "constraints", None) if result.origin is not None else None
    if not active or not constraints:
        return None
    A, _ = constraints.rows(result.objective, dataset)
    rows = A[[constraints.texts.index(text) for text in active]][:, free]
    rows = rows / np.maximum(np.linalg.norm(rows, axis=1), 1e-300)[:, None]
    import scipy.linalg  # here, as the constrained solve does: an unconstrained fit imports no SciPy

    _, R, order = scipy.linalg.qr(rows, mode="economic", pivoting=True)
    diagonal = np.abs(np.diag(R))
    r = int(np.sum(diagonal > RANK_TOLERANCE * (diagonal[0] if diagonal.size else 0.0)))
    m = len(free)
    kept, eliminated = order[r:], order[:r]
    Z = np.zeros((m, m - r))
    Z[kept, np.arange(m - r)] = 1.0
    if r:
        Z[eliminated] = -scipy.linalg.solve_triangular(R[:r, :r], R[:r, r:])
    return Surface(active, Z, tuple(names[j] for j in kept))


def from_jacobian(on: Surface | None, rows, residuals, names, cov_type: str, scale, factor) -> covariance.Covariance:
    """:func:`symopt.numerics.covariance.from_jacobian`, on the surface ``on`` where it is not None: the QR of
    ``J Z`` (the residuals' Jacobian along the directions left free), mapped back by ``Z``."""
    if on is None:
        return covariance.from_jacobian(rows, residuals, names, cov_type, scale, factor)
    J = rows.J if isinstance(rows, covariance.ArrayRows) else rows
    return _back(covariance.from_jacobian(covariance.ArrayRows(J @ on.Z), residuals, on.names, cov_type, scale), on)


def from_information(on: Surface | None, info, names, scores=None, cov_type: str = "nonrobust",
                     n_rows: int = 0) -> covariance.Covariance:
    """:func:`symopt.numerics.covariance.from_information`, on the surface ``on`` where it is not None: of
    ``Z^T I Z`` (and the scores ``s_i^T Z`` for a sandwich), mapped back by ``Z``."""
    if on is None:
        return covariance.from_information(info, names, scores, cov_type, n_rows)
    Z = on.Z
    reduced = covariance.from_information(Z.T @ info @ Z, on.names, None if scores is None else scores @ Z,
                                          cov_type, n_rows)
    return _back(reduced, on)


def _back(cov: covariance.Covariance, on: Surface) -> covariance.Covariance:
    if cov.matrix is None:
        return cov
    full = on.Z @ cov.matrix @ on.Z.T
    return replace(cov, matrix=0.5 * (full + full.T))

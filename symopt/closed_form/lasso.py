"""The lasso and elastic net on a linear least-squares design: coordinate descent on the Gram matrix
(:mod:`symopt.numerics.coordinate_descent`).

Where the smooth part of an ``l1``-penalised objective is linear least squares (the linear closed-form
analysis finds its design ``Phi``, target ``u`` and weight ``c``), ``Phi^T Phi`` and ``Phi^T u`` are formed in
one pass over the rows and kept with the prepared data, so each further strength of a regularisation path
costs only ``p x p`` work. :func:`lasso_result` returns None where this does not apply (another smooth part,
a design too ill-conditioned for its Gram matrix), and the solve goes on to proximal gradient on the rows.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass

import numpy as np

from ..model import penalties
from .design import design_for
from .records import ClosedForm, Outcome

#: Coordinate descent on the Gram matrix is used up to this condition number of the column-scaled design
#: (squared by the Gram matrix: 1e5 leaves about 6 of 16 digits, what the tests' 1e-6 asks and no more
#: margin; past it, proximal gradient on the rows).
CONDITION_LIMIT = 1e5

#: The Gram matrix, ``Phi^T u`` and the scaled condition number of each prepared dataset (by its id, the entry
#: dropped when the dataset goes), then by the objective's structure (the strengths of its penalties are not in
#: it: one entry serves a whole path).
_GRAMS: dict = {}


@dataclass(frozen=True)
class Gram:
    G: np.ndarray  # Phi^T Phi
    h: np.ndarray  # Phi^T u
    weight: float  # c: F = c * reduce ||u - Phi x||^2 + penalties
    condition: float  # of the column-scaled Phi (the square root of the scaled Gram matrix's)


def gram(objective, form, dataset) -> Gram:
    """The Gram matrix of ``objective``'s design on ``dataset``, formed once per dataset and structure."""
    memo = _GRAMS.get(id(dataset))
    if memo is None:
        memo = _GRAMS[id(dataset)] = {}
        weakref.finalize(dataset, _GRAMS.pop, id(dataset), None)
    key = objective.structure()
    if key not in memo:
        Phi, u, weight, _ = design_for(objective, form).matrix(dataset)
        Phi = np.asarray(Phi, dtype=float)
        G = Phi.T @ Phi
        d = np.sqrt(np.diag(G))
        with np.errstate(divide="ignore", invalid="ignore"):
            scaled = G / np.outer(d, d)
            eig = np.linalg.eigvalsh(np.where(np.isfinite(scaled), scaled, 0.0)) if d.size else np.ones(1)
        condition = math.sqrt(eig[-1] / eig[0]) if eig[0] > 0 and np.all(d > 0) else math.inf
        memo[key] = Gram(G, Phi.T @ np.asarray(u, dtype=float), float(weight), condition)
    return memo[key]


def lasso_result(objective, derivation, form, dataset, optimizer, cf: ClosedForm, start=None, box=None) -> Outcome | None:
    """The ``l1``-penalised least-squares fit by coordinate descent on the Gram matrix, or None where the Gram
    matrix would cost digits (its design's scaled condition past :data:`CONDITION_LIMIT`)."""
    from ..numerics import coordinate_descent

    g = gram(objective, form, dataset)
    if g.condition > CONDITION_LIMIT:
        return None
    scale = g.weight * (1.0 / dataset.n_rows if objective.reduction == "mean" else 1.0)
    ridge = objective.l2 * objective.form.penalty_mask(dataset) if objective.l2 else np.zeros(g.G.shape[0])
    Q = 2.0 * scale * g.G + np.diag(2.0 * ridge)
    b = 2.0 * scale * g.h
    lam = objective.l1 * objective.form.l1_mask(dataset)
    p = b.shape[0]
    lower, upper = box.arrays() if box else (np.full(p, -np.inf), np.full(p, np.inf))
    x = np.zeros(p) if start is None else np.array(start, dtype=float)
    x = np.minimum(np.maximum(x, lower), upper)
    x0 = x.copy()
    # tol on the subgradient relative to the scale of F's gradient terms at 0 (|b|), as the other solvers' tol
    tol = optimizer.tol * max(1.0, float(np.max(np.abs(b), initial=0.0)))
    sweeps, converged = coordinate_descent.solve(Q, b, lam, np.asarray(lower, float), np.asarray(upper, float), x,
                                                 tol, optimizer.max_iter)
    fun = float(objective.form.sums(dataset, x)[0])  # F from the rows (the Gram form would cancel digits)
    # the optimality condition from the Gram matrix's gradient (p x p work, no further pass over the rows)
    sign_grad = Q @ x - b + lam * np.sign(x)
    kkt = None if box else penalties.l1_check(objective, dataset, x, sign_grad, max(abs(fun), 1e-300))
    status, message = ("converged", (f"the largest component of the minimum-norm subgradient is below "
                                      f"{tol:.3g}")) if converged else \
        ("max_iter", f"max_iter: {sweeps} sweeps without meeting tol; raise max_iter or loosen tol")
    why = (f"coordinate descent on the Gram matrix of the least-squares design (formed once; "
           f"{p} x {p}, scaled condition {g.condition:.3g}), a working set of the non-zero coefficients")
    return Outcome(params=objective.form.unflatten(dataset, x), x=x, fun=fun, method="iterative",
                   why=f"no closed form: {cf.reason}; {why}", closed_form=cf, success=converged, status=status,
                   message=message, nit=int(sweeps), objective=objective, derivation=derivation, optimizer=optimizer,
                   backend="numba", x0=x0, history=np.array([fun]), kkt=kkt)

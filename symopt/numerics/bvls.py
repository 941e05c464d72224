"""Bounded-variable least squares, solved exactly: ``min ||A x - b||`` subject to ``lower <= x <= upper``.

The Stark-Parker active-set method (P. B. Stark and R. L. Parker, "Bounded-variable least-squares: an
algorithm and applications", Computational Statistics 10:129-141, 1995), which generalises Lawson and
Hanson's NNLS (Solving Least Squares Problems, 1974, ch. 23) to two-sided bounds. Each variable is free or
held at one of its bounds. The least-squares problem in the free variables (the held ones moved to the right
side) is solved by an SVD-based least-squares solve (``np.linalg.lstsq``: orthogonal factorisations, never
the normal equations or an inverse); where that solution leaves the box, the step goes as far towards it as
the box allows and the variables that reach a bound are held there. When the free solution is inside, the
variable at a bound whose gradient most wants it inside is freed; when none does, the KKT conditions hold
and the point is the exact optimum (the objective is convex). Every outer step lowers the objective
strictly, so no active set repeats and the method ends after finitely many steps, with the exact solution
rather than an approximation.

The start is the unconstrained least-squares solution clipped to the box (the variables clipped held at
their bound), then settled to the free optimum: on problems where few bounds bind this takes one or two
steps where a start with every variable on a bound would take one per free variable. A rank-deficient free
sub-matrix gets the minimum-norm solution of its sub-problem (``rcond`` at the rounding level), so the
iterate stays finite; the solution is then one of the optima, not unique.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import DataError, ModelError, SymoptError


@dataclass(frozen=True)
class BoundedSolution:
    """``x``; ``active``: per variable "lower", "upper" or None (free); ``gradient``: ``A^T (A x - b)``, the
    gradient of ``||A x - b||^2 / 2`` at ``x``; ``iterations``: the outer (active-set) steps taken; ``exact``
    and ``note``: the mpmath solution and how it was found, where it was solved at high precision
    (:func:`symopt.closed_form.linear.solve_bounded_least_squares`)."""

    x: np.ndarray
    active: tuple
    gradient: np.ndarray
    iterations: int
    exact: tuple | None = None
    note: str = ""


def _check(A, b, lower, upper):
    A = np.asarray(A, dtype=float)
    b = np.asarray(b, dtype=float)
    if A.ndim != 2:
        raise ModelError(f"bounded least squares: A must be a 2-D matrix, got {A.ndim} dimension(s)")
    n, p = A.shape
    if b.shape != (n,):
        raise ModelError(f"bounded least squares: b must have one entry per row of A ({n}), got shape {b.shape}")
    lower = np.broadcast_to(np.asarray(lower, dtype=float), (p,)).copy()
    upper = np.broadcast_to(np.asarray(upper, dtype=float), (p,)).copy()
    if np.any(np.isnan(lower)) or np.any(np.isnan(upper)) or np.any(lower > upper):
        j = int(np.flatnonzero(np.isnan(lower) | np.isnan(upper) | (lower > upper))[0])
        raise ModelError(f"bounded least squares: variable {j} has bounds [{lower[j]}, {upper[j]}]: each lower bound "
                         "must be a number at most its upper bound")
    if not (np.all(np.isfinite(A)) and np.all(np.isfinite(b))):
        raise DataError("bounded least squares: A or b holds a NaN or an infinity")
    return A, b, lower, upper


def _free_solve(A, b, x, free):
    """The least-squares values of the free variables with the others held at ``x``."""
    rhs = b - A[:, ~free] @ x[~free]
    sub = A[:, free]
    return np.linalg.lstsq(sub, rhs, rcond=max(sub.shape) * np.finfo(float).eps)[0]


def _settle(A, b, x, state, lower, upper):
    """Lawson-Hanson's inner loop: move the free variables to their sub-problem's solution, or as far towards
    it as the box allows, holding those that reach a bound, until the free solution is inside the box."""
    for _ in range(x.size + 1):
        free = state == 0
        if not free.any():
            return x
        z = _free_solve(A, b, x, free)
        xf, lo, hi = x[free], lower[free], upper[free]
        out = (z < lo) | (z > hi)
        if not out.any():
            x[free] = z
            return x
        with np.errstate(divide="ignore", invalid="ignore"):
            reach = np.where(z < lo, (lo - xf) / (z - xf), (hi - xf) / (z - xf))
        reach = np.where(out, np.clip(reach, 0.0, 1.0), np.inf)
        alpha = float(np.min(reach))
        x[free] = xf + alpha * (z - xf)
        idx = np.flatnonzero(free)
        hits = out & (reach <= alpha + 4 * np.finfo(float).eps)
        for j, below in zip(idx[hits], (z < lo)[hits]):
            state[j], x[j] = (-1, lower[j]) if below else (1, upper[j])
    raise SymoptError("bounded least squares: the inner loop did not settle (a cycle from rounding)")


def bounded_least_squares(A, b, lower, upper, max_iter: int | None = None) -> BoundedSolution:
    """``x`` minimising ``||A x - b||`` with ``lower <= x <= upper`` (``-inf`` / ``inf`` for open sides; a
    variable with ``lower == upper`` is held there), by the Stark-Parker method (see the module docstring).
    ``max_iter`` (default ``3 p + 50``) outer steps at most, then :class:`symopt.errors.SymoptError`."""
    A, b, lower, upper = _check(A, b, lower, upper)
    n, p = A.shape
    max_iter = 3 * p + 50 if max_iter is None else int(max_iter)
    pinned = lower == upper
    unconstrained = np.linalg.lstsq(A, b, rcond=max(n, p, 1) * np.finfo(float).eps)[0] if p else np.empty(0)
    state = np.where(pinned | (unconstrained <= lower), -1, np.where(unconstrained >= upper, 1, 0))
    x = np.where(state == -1, lower, np.where(state == 1, upper, unconstrained))
    x = _settle(A, b, x, state, lower, upper)
    # the smallest gradient that counts: rounding in A^T r is about eps * |A|^T |r|, plus |A|^T |A x| |b|
    scale = float(np.max(np.abs(A).T @ (np.abs(b) + np.abs(A @ x)), initial=0.0))
    tol = 16 * max(n, 1) * np.finfo(float).eps * max(scale, np.finfo(float).tiny)
    iterations = 0
    rss = float(np.sum((A @ x - b) ** 2))
    for iterations in range(1, max_iter + 1):
        g = A.T @ (A @ x - b)
        # how much each held variable wants in: at its lower bound when g < 0, at its upper when g > 0
        wants = np.where(state == -1, -g, np.where(state == 1, g, -np.inf))
        wants[pinned] = -np.inf
        j = int(np.argmax(wants)) if p else 0
        if not p or not wants[j] > tol:
            break
        previous = x.copy(), state.copy()
        state[j] = 0
        x = _settle(A, b, x, state, lower, upper)
        new_rss = float(np.sum((A @ x - b) ** 2))
        if not new_rss < rss:  # rounding: freeing j gains nothing, so the KKT point is reached to rounding
            x, state = previous
            break
        rss = new_rss
    else:
        raise SymoptError(f"bounded least squares: no solution after {max_iter} active-set steps (a cycle "
                             "from rounding); rescale the columns of the problem")
    active = tuple("lower" if s == -1 else "upper" if s == 1 else None for s in state)
    return BoundedSolution(x, active, A.T @ (A @ x - b), iterations)


def kkt_violation(solution: BoundedSolution, lower, upper) -> float:
    """The largest violation of the KKT conditions at ``solution``: ``|g|`` for a free variable, ``max(0, -g)``
    at a lower bound and ``max(0, g)`` at an upper one (0 at a variable held by ``lower == upper``)."""
    g = solution.gradient
    worst = 0.0
    for j, side in enumerate(solution.active):
        if lower[j] == upper[j]:
            continue
        v = abs(g[j]) if side is None else max(0.0, -g[j]) if side == "lower" else max(0.0, g[j])
        worst = max(worst, float(v))
    return worst if math.isfinite(worst) else math.inf

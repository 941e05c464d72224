"""Separation: where a logistic or multinomial fit has no maximum-likelihood estimate.

``log_loss`` per row is ``softplus(eta) - y eta``, which falls toward 0 as the row's margin ``s eta`` grows
(``s = 2y - 1``). If some direction ``d`` of the parameters raises every row's margin (``s_i phi_i . d >= 0``
for the linear predictor's gradient ``phi_i = d eta_i / d theta``), some strictly, the loss falls along ``d``
forever and the estimate does not exist: the classes are **separated** (Albert and Anderson, 1984: completely
where every margin rises strictly, quasi-completely where some stay level). An optimizer then stops where the
gradient has become small enough (b = 155.7 on ``x < 0`` against ``x > 0``) and would report an optimum that
is not one, with standard errors that mean nothing. For ``cross_entropy`` over a ``LinearModel()`` the rows are
the pairs (row ``i``, class ``k != y_i``) with ``v_ik = (e_{y_i} - e_k) (x) [1, x_i]``: a direction separates when
it raises every row's own score against every other class's (one class cut off from the others, or any finer
ordering).

By Gordan's theorem of the alternative, no separating direction exists exactly when some weights
``lambda_i > 0`` give ``sum_i lambda_i v_i = 0``. At a genuine optimum the fitted probabilities of the other
class(es) are such weights (that sum is the gradient; with ``log_loss(..., weights="w")`` they are times ``w_i``,
and rows of weight 0 are left out: they are no observations), so a converged fit is **certified** by them, without a
linear program: the least correction ``delta`` that makes their sum exactly 0 (one pass over the rows for the
``p x p`` matrix ``sum lambda_i^2 v_i v_i^T``, one for ``delta``) must leave every weight positive (it changes
none by more than :data:`CERTIFIED_CHANGE` of itself), and that matrix must be well conditioned (no direction
that only rows of vanishing weight see). Where that fails (separated data, whose weights fall toward 0, or a run
that did not converge), a linear program decides (SciPy's ``linprog``, HiGHS): ``max t`` with ``V d >= t`` and
``|d| <= 1`` (complete separation when ``t > 0``), else ``max sum_i (V d)_i`` with ``V d >= 0`` (quasi-complete
when positive), over the columns of ``V`` scaled to a largest entry of 1. Its rows are generated as needed: it
starts from the rows of smallest margin at the solution, and a direction it finds is checked against every row,
the violated ones added, until none is (the objective of the second program sums all rows from the start, so a
subset never hides a separation). Memory stays at a block of rows plus the rows taken into the program.

Only the directions the objective leaves free are searched: with ``l2`` the penalised parameters cannot run off
(the optimum exists in them), but an unpenalised intercept can (labels of one class); with bounds, a parameter
bounded on both sides cannot move, one bounded below only moves up, one bounded above only moves down. For a
model whose predictor is not linear in its parameters the check is of its linearisation at the point reached
(at a finite optimum no linearised direction separates: the certificate above exists there).

The certificate is one argument (the linear program that finds a separating direction, its check on the data
block by block, the words that name the direction), so it is one module past 400 lines; split, each half would
be about the other.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
import sympy as sp

from ..model.kinds.base import prediction
from ..numerics.threads import one_blas_thread
from ..optimizers.base import STATUS, Status
from ..symbolic.numeric import evaluate

#: The objectives whose estimate separation can take away (on any kind whose parameters are identified).
KINDS = ("log", "cross_entropy")
#: Rows per block of the passes over the data.
BLOCK_ROWS = 8192
#: The certificate of an optimum holds when the correction that makes the weights' sum exactly 0 changes no
#: weight by more than this fraction of itself (so every weight stays positive, with room for rounding) ...
CERTIFIED_CHANGE = 0.5
#: ... and the Jacobi-scaled matrix ``sum lambda_i^2 v_i v_i^T`` has a condition number below this (above it some
#: direction is seen only by rows whose weight is near rounding: the linear program decides).
CERTIFIED_CONDITION = 1e10
#: The linear program's feasibility and optimality tolerances (HiGHS' defaults are 1e-7), and the margins a
#: direction must show, in units of the scaled columns (largest entry 1, ``|d| <= 1``): every row's at least
#: ``-LEVEL`` (level: within rounding of 0) and some row's above ``STRICT``.
LP_TOLERANCE = 1e-10
LEVEL = 1e-9
STRICT = 1e-7
#: Rows the linear program starts from (those of smallest margin at the solution), and rows added per round.
FIRST_ROWS = 4000
ADDED_ROWS = 2000
#: Rounds of row generation before the check gives up (and makes no claim).
MAX_ROUNDS = 30
#: How many components of the separating direction the message names.
SHOWN = 6
#: Statuses that are the user's stops or a start that never ran: not checked.
SKIPPED = ("interrupted", "max_time", "stopped_by_callback", "nonfinite_start", "no_valid_candidate")


@dataclass(frozen=True)
class Separation:
    """A separating direction: ``kind`` "complete" or "quasi-complete", ``direction`` (flat name -> component,
    the largest 1 in absolute value), ``strict`` rows (pairs of row and class, multinomial) whose margin rises
    along it and ``level`` ones whose margin stays."""

    kind: str
    direction: dict
    strict: int
    level: int
    multinomial: bool = False

    def words(self) -> str:
        shown = sorted(self.direction.items(), key=lambda item: -abs(item[1]))[:SHOWN]
        along = ", ".join(f"{name}: {value:.3g}" for name, value in shown)
        more = f" and {len(self.direction) - SHOWN} more" if len(self.direction) > SHOWN else ""
        unit = "row-and-class pairs" if self.multinomial else "rows"
        what = ("every row's own class scores above the others" if self.multinomial
                else "every row lies on its own class's side of the linear predictor")
        how = (f"all {self.strict} {unit} strictly" if self.kind == "complete" else
               f"{self.strict} {unit} strictly, {self.level} on the boundary")
        return (f"the classes are {'completely' if self.kind == 'complete' else 'quasi-completely'} separated: "
                f"along the direction ({along}{more}) {what} ({how}), so the loss falls toward its infimum as the "
                f"parameters grow along it and the maximum-likelihood estimate does not exist (the parameters "
                f"reached are returned: they grow with max_iter and tol, and have no standard errors). Add l2= "
                f"(a ridge penalty: the penalised optimum exists), bound the parameters (bounds=), or drop or merge "
                f"what separates the classes")


def applies(objective) -> bool:
    """Whether ``objective`` is one whose estimate separation can take away (log loss or multinomial cross
    entropy, on a model whose rows symopt can form; a network's parameters are not identified anyway)."""
    return objective.kind in KINDS and not objective.form.unidentified and not objective.maximize


def mark(result, dataset, bounds=None):
    """``result`` with status ``separated`` (``success=False``, the direction in the message and in
    :attr:`~symopt.Result.separation`) where the data separate the classes, else unchanged. ``bounds``: the
    flat ``(lower, upper)`` arrays of a bounded solve, or None."""
    objective = result.objective
    if objective is None or not applies(objective) or result.status in SKIPPED:
        return result
    x = np.asarray(result.x, dtype=float)
    if not x.size or not np.all(np.isfinite(x)):
        return result
    with one_blas_thread(dataset.n_rows * x.size):  # spinning BLAS threads would slow the next solve's kernels
        found = check(objective, dataset, x, bounds)
    if found is None:
        return result
    status = STATUS[Status.SEPARATED][0]
    return replace(result, success=False, status=status, message=f"{status}: {found.words()}", separation=found,
                   optima=())


def check(objective, dataset, x, bounds=None) -> Separation | None:
    """The separating direction of ``objective``'s rows on ``dataset`` at ``x``, or None where there is none
    (certified at a fit that reached the optimum, or decided by the linear program)."""
    free, signs = _free_directions(objective, dataset, x.size, bounds)
    if not free.size:
        return None
    rows = _Rows(objective, dataset, x, free)
    if rows.nonfinite:
        return None
    if not np.any(signs) and _certified(rows):  # (a sign-restricted direction has another alternative)
        return None
    return _program(rows, signs, objective, dataset, free)


def _free_directions(objective, dataset, p: int, bounds) -> tuple[np.ndarray, np.ndarray]:
    """``(free, signs)``: the flat indices a direction may move (unpenalised with ``l2`` or ``l1``; not bounded on both
    sides) and, for each of them, +1 where it may only rise (a lower bound alone), -1 only fall, 0 either way."""
    mask = np.ones(p, bool)
    if objective.l2:
        mask &= objective.form.penalty_mask(dataset) == 0.0
    if objective.l1:  # an l1 penalty bounds its parameters as a ridge does
        mask &= objective.form.l1_mask(dataset) == 0.0
    signs = np.zeros(p)
    if bounds is not None:
        lower, upper = (np.asarray(b, dtype=float) for b in bounds)
        low, high = np.isfinite(lower), np.isfinite(upper)
        mask &= ~(low & high)
        signs[low & ~high] = 1.0
        signs[high & ~low] = -1.0
    free = np.flatnonzero(mask)
    return free, signs[free]


@lru_cache(maxsize=256)
def _predictor_gradient(expr: sp.Expr, params: tuple) -> tuple:
    return tuple(sp.diff(expr, q) for q in params)


class _Rows:
    """The rows ``v`` (restricted to the free directions) and their weights ``lambda`` (the fitted probability of
    the other class), a block at a time, with each row's margin at ``x`` (``eta`` toward its own class)."""

    def __init__(self, objective, dataset, x, free):
        self.objective, self.dataset, self.x, self.free = objective, dataset, x, free
        self.multinomial = objective.multiclass
        self.nonfinite = False
        self._one = None  # the rows, where they make one block
        if objective.form.per_parameter:  # named data: the columns of eta, evaluated
            self._columns = self._expression_columns()
            self.nonfinite = not all(np.all(np.isfinite(c)) for c in self._columns)

    def all_of_a_wide_binary_model(self) -> bool:
        """Whether these are the rows of an unweighted binary ``LinearModel()`` over a data matrix with every
        parameter free (the certificate then reads the blocks of ``X`` directly: :func:`_certified_wide`)."""
        o = self.objective
        return o.form.linear_shape == "matrix" and self.free.size == self.x.size and o.weight_column is None

    def _expression_columns(self) -> list:
        """The predictor ``eta`` and its gradient in the free parameters, evaluated on every row (a named model's
        data are columns already: no block is larger than them)."""
        o, n = self.objective, self.dataset.n_rows
        expr = prediction(o.model)
        values = {s: self.dataset[s.name] for s in o.data_symbols}
        values.update(zip(o.params, (float(v) for v in self.x)))
        gradient = _predictor_gradient(expr, o.params)
        column = lambda e: np.broadcast_to(np.asarray(evaluate(e, values), dtype=float), (n,))  # noqa: E731
        with np.errstate(all="ignore"):
            return [column(expr)] + [column(gradient[j]) for j in self.free]

    def blocks(self):
        """``(V, lambda, margin)`` per block of rows: ``V`` (rows x free directions), the weights, the margins (the
        one block of data that fit in a block formed once: the checks pass over the rows several times)."""
        if self._one is None:
            blocks = self._blocks()
            first = next(blocks, None)
            if first is None:
                return
            second = next(blocks, None)
            if second is None:
                self._one = first
            else:
                yield first
                yield second
                yield from blocks
                return
        yield self._one

    def _blocks(self):
        o, dataset, n = self.objective, self.dataset, self.dataset.n_rows
        y = dataset[o.target.name]
        step = BLOCK_ROWS // max(dataset.n_classes - 1, 1) if self.multinomial else BLOCK_ROWS
        for lo in range(0, n, step):
            hi = min(lo + step, n)
            if self.multinomial:
                yield self._multinomial_block(lo, hi)
                continue
            s = 2.0 * y[lo:hi] - 1.0
            if o.form.per_parameter:
                eta = self._columns[0][lo:hi]
                phi = np.column_stack([c[lo:hi] for c in self._columns[1:]])
            else:
                X = dataset["X"][lo:hi]
                intercept = o.model.intercept
                coef = self.x[1:] if intercept else self.x
                eta = X @ coef + (self.x[0] if intercept else 0.0)
                if intercept:
                    phi = np.empty((hi - lo, X.shape[1] + 1))
                    phi[:, 0] = 1.0
                    phi[:, 1:] = X
                    phi = phi if self.free.size == phi.shape[1] else phi[:, self.free]
                else:
                    phi = X if self.free.size == X.shape[1] else X[:, self.free]
            margin = s * eta
            with np.errstate(over="ignore"):
                lam = 1.0 / (1.0 + np.exp(margin))  # sigmoid(-margin): the other class's probability
            if o.weight_column is None:
                yield phi * s[:, None], lam, margin
                continue
            # weighted: row i's term of the gradient is w_i lambda_i v_i, and a row of weight 0 is no observation
            w = dataset[o.weight_column][lo:hi]
            kept = w > 0
            yield (phi * s[:, None])[kept], (w * lam)[kept], margin[kept]

    def _multinomial_block(self, lo, hi):
        """The pairs (row, class ``k`` other than the row's own ``y``) of rows ``lo:hi``: ``v = (e_y - e_k) (x)
        [1, x]`` at the free positions of softmax's layout, the weight ``p_k``, the margin ``eta_y - eta_k``."""
        from ..model import softmax

        o, dataset = self.objective, self.dataset
        X = dataset["X"][lo:hi]
        y = dataset[o.target.name][lo:hi].astype(np.int64)
        K, m = dataset.n_classes, X.shape[1]
        B = softmax.full(o, K, m, self.x)
        Z = X @ B[:, 1:].T + B[:, 0]
        P = np.exp(Z - Z.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        positions = softmax.positions(o, K, m)[self.free]
        cls, col = positions // (m + 1), positions % (m + 1)  # each free entry's class and column of [1, x]
        phi = np.column_stack([np.ones(hi - lo), X])[:, col]
        rows, lam, margin = [], [], []
        for k in range(K):
            pair = np.flatnonzero(y != k)
            own = y[pair]
            rows.append(phi[pair] * ((cls[None, :] == own[:, None]).astype(float) - (cls == k)[None, :]))
            lam.append(P[pair, k])
            margin.append(Z[pair, own] - Z[pair, k])
        return np.vstack(rows), np.concatenate(lam), np.concatenate(margin)


def _certified(rows: _Rows) -> bool:
    """Whether positive weights with ``sum lambda_i v_i = 0`` are shown to exist near the fitted ones (see the
    module's docstring): then no direction separates."""
    if rows.all_of_a_wide_binary_model():
        return _certified_wide(rows)
    sums = certificate_sums(rows)
    a = None if sums is None else certificate_direction(*sums)
    return a is not None and certificate_change(rows, a) <= CERTIFIED_CHANGE


def certificate_sums(rows: _Rows) -> tuple | None:
    """``(M, g) = (sum lambda_i^2 v_i v_i^T, sum lambda_i v_i)`` over ``rows``, or None where a row is not
    finite (sums over chunks of rows add: :mod:`symopt.stats.chunked`)."""
    q = rows.free.size
    M, g = np.zeros((q, q)), np.zeros(q)
    for V, lam, _ in rows.blocks():
        if not (np.all(np.isfinite(V)) and np.all(np.isfinite(lam))):
            return None
        W = V * lam[:, None]
        M += W.T @ W
        g += W.sum(axis=0)
    return M, g


def certificate_direction(M: np.ndarray, g: np.ndarray) -> np.ndarray | None:
    """``a`` with ``M a = -g`` (in the scaled eigenbasis of ``M``), or None where ``M`` is not finite or too
    ill-conditioned (:data:`CERTIFIED_CONDITION`) for the certificate."""
    if not (np.all(np.isfinite(M)) and np.all(np.isfinite(g))):
        return None
    scale = np.sqrt(np.diag(M))
    if not np.all(scale > 0):
        return None
    values, vectors = np.linalg.eigh(M / np.outer(scale, scale))
    if not values[0] > values[-1] / CERTIFIED_CONDITION:
        return None
    return (vectors @ ((vectors.T @ (-g / scale)) / values)) / scale


def certificate_change(rows: _Rows, a: np.ndarray) -> float:
    """The largest ``|v_i . a|`` (``delta_i / lambda_i``) over ``rows``: the certificate holds where it is at most
    :data:`CERTIFIED_CHANGE`."""
    return max((float(np.max(np.abs(V @ a), initial=0.0)) for V, _, _ in rows.blocks()), default=0.0)


def _certified_wide(rows: _Rows) -> bool:
    """:func:`_certified` for a binary ``LinearModel()`` with every parameter free, the rows ``v_i = s_i [1, x_i]``
    read from the blocks of ``X`` as they are: per block one scaled copy (``u_i x_i`` with ``u_i = s_i
    lambda_i``) for ``sum lambda_i^2 v_i v_i^T = sum u_i^2 [1, x_i] [1, x_i]^T`` and no copy for ``v_i . a``
    (``|v_i . a| = |[1, x_i] . a|``). The same sums as the general path, at a fifth of its time on 200,000 x
    64 (0.18 s there: four copies of each block and every block formed twice)."""
    o, dataset = rows.objective, rows.dataset
    X, y = dataset["X"], dataset[o.target.name]
    intercept = o.model.intercept
    x = rows.x
    coef, b0 = (x[1:], x[0]) if intercept else (x, 0.0)
    m, k = X.shape[1], 1 if intercept else 0
    M, g = np.zeros((m + k, m + k)), np.zeros(m + k)
    for lo in range(0, X.shape[0], BLOCK_ROWS):
        Xb = X[lo:lo + BLOCK_ROWS]
        s = 2.0 * y[lo:lo + BLOCK_ROWS] - 1.0
        with np.errstate(over="ignore"):
            u = s / (1.0 + np.exp(s * (Xb @ coef + b0)))  # s_i lambda_i: lambda_i the other class's probability
        W = Xb * u[:, None]
        M[k:, k:] += W.T @ W
        g[k:] += W.sum(axis=0)
        if intercept:
            M[0, 0] += u @ u
            M[0, 1:] += u @ W
            g[0] += u.sum()
    if intercept:
        M[1:, 0] = M[0, 1:]
    a = certificate_direction(M, g)
    if a is None:
        return False
    a_coef, a0 = (a[1:], a[0]) if intercept else (a, 0.0)
    for lo in range(0, X.shape[0], BLOCK_ROWS):
        if np.max(np.abs(X[lo:lo + BLOCK_ROWS] @ a_coef + a0), initial=0.0) > CERTIFIED_CHANGE:
            return False
    return True


def _program(rows: _Rows, signs, objective, dataset, free) -> Separation | None:
    """The separating direction by linear programming with row generation (see the module's docstring)."""
    from scipy.optimize import linprog

    q = free.size
    big = np.zeros(q)
    total = np.zeros(q)
    chosen_v, chosen_margin = [], []
    for V, _, margin in rows.blocks():
        big = np.maximum(big, np.max(np.abs(V), axis=0, initial=0.0))
        total += V.sum(axis=0)
        chosen_v.append(V)
        chosen_margin.append(margin)
        if sum(v.shape[0] for v in chosen_v) > 4 * FIRST_ROWS:  # keep the FIRST_ROWS of smallest margin
            chosen_v, chosen_margin = _smallest(chosen_v, chosen_margin, FIRST_ROWS)
    chosen_v, _ = _smallest(chosen_v, chosen_margin, FIRST_ROWS)
    moving = big > 0  # a column of zeros: no row sees that direction
    if not moving.any():
        return None
    scale = np.where(moving, big, 1.0)
    box = [(0.0, 0.0) if not moving[j] else (0.0, 1.0) if signs[j] > 0 else (-1.0, 0.0) if signs[j] < 0
           else (-1.0, 1.0) for j in range(q)]
    S = chosen_v[0] / scale
    options = {"primal_feasibility_tolerance": LP_TOLERANCE, "dual_feasibility_tolerance": LP_TOLERANCE}
    # complete separation: max t with V d >= t
    kind, d = None, None
    for _ in range(MAX_ROUNDS):
        A = np.column_stack([-S, np.ones(S.shape[0])])
        lp = linprog(np.r_[np.zeros(q), -1.0], A_ub=A, b_ub=np.zeros(S.shape[0]), bounds=box + [(0.0, 1.0)],
                     method="highs", options=options)
        if lp.status != 0 or not -lp.fun > STRICT:
            break
        d = lp.x[:q]
        worst, added = _violated(rows, d / scale, lp.x[q] / 2, scale)
        if worst is None:
            kind = "complete"
            break
        S = np.vstack([S, added])
    else:
        return None
    if kind is None:  # quasi-complete: max sum_i (V d)_i with V d >= 0, the sum over every row
        c = total / scale
        for _ in range(MAX_ROUNDS):
            lp = linprog(-c, A_ub=-S, b_ub=np.zeros(S.shape[0]), bounds=box, method="highs", options=options)
            if lp.status != 0 or not -lp.fun > STRICT:
                return None
            d = lp.x
            worst, added = _violated(rows, d / scale, -LEVEL, scale)
            if worst is None:
                kind = "quasi-complete"
                break
            S = np.vstack([S, added])
        else:
            return None
    direction = d / scale
    strict = level = 0
    for V, _, _ in rows.blocks():
        r = (V / scale) @ d
        strict += int(np.count_nonzero(r > STRICT))
        level += int(np.count_nonzero(r <= STRICT))
    if not strict:
        return None
    direction = direction / np.max(np.abs(direction))
    names = objective.form.flat_names(dataset)
    return Separation(kind, {names[j]: float(v) for j, v in zip(free, direction) if v != 0.0}, strict, level,
                      rows.multinomial)


def _smallest(blocks_v: list, blocks_margin: list, count: int) -> tuple[list, list]:
    """The ``count`` rows of smallest margin among the blocks, as one block."""
    V, margin = np.vstack(blocks_v), np.concatenate(blocks_margin)
    if margin.size > count:
        keep = np.argpartition(margin, count)[:count]
        V, margin = V[keep], margin[keep]
    return [V], [margin]


def _violated(rows: _Rows, direction, floor: float, scale) -> tuple:
    """``(None, None)`` where every row's ``v . direction`` (scaled columns) is at least ``floor``; else the
    smallest value and the :data:`ADDED_ROWS` most violated rows (scaled), to add to the program."""
    worst, added, values = None, [], []
    for V, _, _ in rows.blocks():
        r = V @ direction
        bad = r < floor
        if bad.any():
            worst = float(np.min(r)) if worst is None else min(worst, float(np.min(r)))
            added.append(V[bad] / scale)
            values.append(r[bad])
            if sum(a.shape[0] for a in added) > 4 * ADDED_ROWS:
                added, values = _smallest(added, values, ADDED_ROWS)
    if worst is None:
        return None, None
    added, _ = _smallest(added, values, ADDED_ROWS)
    return worst, added[0]


def refusal(result) -> str:
    """Why a separated result has no standard errors ("" for any other)."""
    if result.status != STATUS[Status.SEPARATED][0]:
        return ""
    return ("the classes are separated, so the maximum-likelihood estimate does not exist and the parameters "
            "reached have no standard errors (result.message gives the separating direction; with l2= the "
            "penalised optimum exists)")

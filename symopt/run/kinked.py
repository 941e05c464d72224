"""A kinked objective's own route: a quantile loss on a model linear in its parameters is a linear programme, and
is solved as one, exactly, by SciPy's HiGHS (``scipy.optimize.linprog(method="highs-ipm")``).

With ``r_i = y_i - c0_i - Phi_i theta`` (``Phi`` the design: the model's derivative in each parameter, ``c0`` the
rest) the pinball loss ``max(q r, (q - 1) r)`` is ``q u+ + (1 - q) u-`` with ``r = u+ - u-``, ``u+, u- >= 0``, so

    minimise  w * (q 1'u+ + (1 - q) 1'u-)   subject to  Phi theta + u+ - u- = y - c0,  theta free, u+, u- >= 0

(``w`` 1/n for the mean, 1 for the sum): Koenker and Bassett's programme, as scikit-learn's
``QuantileRegressor(solver="highs")`` states it. It is solved in its dual form, which has p constraints instead of
n (no n x n block at all, dense or sparse):

    maximise  (y - c0)'a   subject to  Phi'a = 0,  q - 1 <= a_i <= q,

theta being the multipliers of ``Phi'a = 0``; at the optimum the two objectives are equal (strong duality), and
the primal objective at theta is checked against the dual's. HiGHS's interior point (``"highs-ipm"``, with its
crossover to a vertex, so the solution is exact) is used. Measured on a loaded machine: on 10,000 x 20, 1.4 s for
the dual by interior point, 1.7 s by dual simplex, 44 s for the primal by dual simplex (scikit-learn's
formulation and HiGHS's default), 7.5 s for the primal by interior point; on 100,000 x 20 the dual takes 11.5 s by
interior point and 44 s by dual simplex. From 100,000 rows on, the programme is solved on the rows near a
subsample's fit only, the others' residual signs confirmed after (Portnoy and Koenker's preprocessing,
:func:`_preprocessed`): on 1,000,000 x 20, 11.7 s and 685 MiB peak against 41.7 s and 2,665 MiB on every row, the
same parameters to 1e-14. Any other kinked objective (a quantile loss on a
model that is not linear in its parameters, or with ``l2``; a Huber loss) returns None here and runs iteratively.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..closed_form.records import ClosedForm, Outcome
from ..symbolic.numeric import evaluate

#: The primal objective at the LP's multipliers must be within this (relative) of the dual objective.
DUALITY_GAP = 1e-9
#: From this many rows on, the LP is solved on the rows near a subsample's fit only (:func:`_preprocessed`).
PREPROCESS_ROWS = 100_000
#: The rows kept by the preprocessing: this many times the subsample's size, ranked nearest the quantile.
BAND = 2
#: Rounds of the preprocessing (rows on the wrong side added each time) before every row goes to the solver.
ROUNDS = 4
#: A residual within this fraction of the size of the target and the fit is 0 (an interpolated row). Measured: the
#: rows HiGHS's vertex interpolates come out within 3e-15 of max |y| (engel; 20,000 x 20), statsmodels QuantReg's
#: IRLS leaves its nearest at 3e-11 to 6e-9, the next real residuals are above 1e-6.
ZERO_RESIDUAL = 1e-12


def route(problem, dataset, start, box, cf: ClosedForm, unused: str) -> Outcome | None:
    """The exact solve of ``problem``'s objective on ``dataset`` where it is a quantile loss on a model linear in
    its parameters, unpenalised, unbounded and solved with ``method="auto"``; None otherwise (then the iterative
    route runs). ``unused``: what was given that this route does not use (an optimizer, x0), for ``why``."""
    objective = problem.objective
    robust = getattr(objective, "robust", None)
    if robust is None or robust.loss != "quantile" or problem.method != "auto" or box or objective.l2 \
            or getattr(objective, "l1", 0) or objective.maximize:
        return None
    design = linear_design(objective, dataset)
    if design is None:
        return None
    phi, offset = design
    y = np.asarray(dataset[objective.target.name], dtype=float)
    x, dual, solved = solve_quantile_lp(phi, y - offset, robust.q, objective.reduction)
    status, message = solved
    success = status == 0
    if not success:
        x = np.zeros(phi.shape[1]) if x is None else x
    fun_at, grad = problem.flat_value_and_grad(dataset, x, backend="numpy")
    gap = abs(fun_at - dual) / max(abs(fun_at), 1e-300) if success else float("nan")
    if success and not gap <= DUALITY_GAP:
        success, status = False, status if status else 4
        message = f"{message}; but the primal objective at the multipliers is {gap:.2g} from the dual's"
    why = (f"a quantile loss (q = {robust.q:g}) on a model linear in its parameters is a linear programme: solved "
           f"exactly by SciPy's HiGHS (linprog, method='highs-ipm', with crossover) in its dual form "
           f"({phi.shape[1]} equality constraints, {phi.shape[0]} bounded variables): status {status}, {message}; "
           f"the relative duality gap at the solution is {gap:.2g}")
    if unused:
        why += f" ({unused} given, not needed: method='iterative' runs an optimizer)"
    verdict = (f"the optimum of the linear programme (HiGHS status 0: {message}); the objective has kinks where "
               f"residuals are 0 and the optimum sits on them (an LP optimum is a vertex: at least "
               f"{phi.shape[1]} residuals are 0), where it is not differentiable, so the gradient printed is a "
               f"subgradient choice, not 0; optimality is the LP's duality certificate") if success else (
        f"the linear programme was not solved: HiGHS status {status}, {message}")
    return Outcome(params=objective.form.unflatten(dataset, x), x=x, fun=float(fun_at), method="lp", why=why,
                   closed_form=cf, success=success, status="solved" if success else "lp_failed",
                   message=verdict, nit=0, grad_norm=float(np.max(np.abs(grad))) if grad.size else 0.0,
                   history=np.array([fun_at]), objective=objective, derivation=problem.derivation,
                   precision="double", backend="numpy")


def solve_quantile_lp(phi: np.ndarray, target: np.ndarray, q: float, reduction: str = "mean"):
    """``(theta, objective, (HiGHS status, message))`` minimising ``reduce_i rho_q(target_i - phi_i theta)``,
    ``rho_q(r) = max(q r, (q - 1) r)``, through the dual of this module's programme (theta None where HiGHS found no
    solution; the objective is the dual's, equal to the primal's at the optimum). From :data:`PREPROCESS_ROWS` rows
    on, on the rows near the fit only (:func:`_preprocessed`), falling back to all rows where that fails."""
    n, p = phi.shape
    weight = 1.0 / n if reduction == "mean" else 1.0
    found = _preprocessed(phi, target, q) if n >= PREPROCESS_ROWS else None
    theta, value, solved = found if found is not None else _dual(phi, target, q)
    return theta, (weight * value if theta is not None else float("nan")), solved


def _dual(phi: np.ndarray, target: np.ndarray, q: float, rhs: np.ndarray | None = None):
    """``(theta, target'a, (status, message))``: the dual programme ``max target'a`` subject to ``Phi'a = rhs`` (0
    by default) and ``q - 1 <= a_i <= q``, by HiGHS's interior point with crossover; theta None on failure."""
    from scipy.optimize import linprog

    p = phi.shape[1]
    # HiGHS's presolve finds nothing to remove in this programme (p dense equality rows, n boxed variables) and
    # costs time and memory: measured on 200,000 x 21, 10.9 s and 878 MiB with it, 7.9 s and 701 MiB without
    res = linprog(-target, A_eq=phi.T, b_eq=np.zeros(p) if rhs is None else rhs, bounds=(q - 1.0, q),
                  method="highs-ipm", options={"presolve": False})
    if res.x is None or res.eqlin is None:
        return None, float("nan"), (int(res.status), str(res.message))
    # theta is the multiplier of Phi' a = rhs (SciPy's marginals are d(objective)/d(b_eq), of the minimised -y'a)
    return -np.asarray(res.eqlin.marginals, dtype=float), -float(res.fun), (int(res.status), str(res.message))


def _preprocessed(phi: np.ndarray, target: np.ndarray, q: float):
    """The LP solved on the rows near the fit only (Portnoy and Koenker, 1997, *Statistical Science* 12: the
    preprocessing of R's ``quantreg`` ``rq(method="pfn")``), or None (then every row goes to the solver).

    A fit on a random subsample of ``m = n^(2/3) p^(1/2)`` rows ranks the residuals of all rows; the
    :data:`BAND` * m rows ranked nearest the q-quantile are kept, and the rest are taken to keep the sign of their
    residual: in the dual, their ``a_i`` are fixed at ``q`` (above the fit) or ``q - 1`` (below), which moves
    them to the right-hand side, ``Phi_kept'a = -(q sum_above phi_i + (q - 1) sum_below phi_i)``. The reduced
    programme's multipliers are the full one's optimum exactly when every fixed row's residual has the sign
    assumed (then the fixed ``a_i`` are complementary to it); rows found on the wrong side join the kept ones and
    it is solved again (at most :data:`ROUNDS` times)."""
    n, p = phi.shape
    m = int(min(n, max(20 * p, round(n ** (2.0 / 3.0) * p ** 0.5))))
    if BAND * m >= n:
        return None
    sample = np.random.default_rng(0).choice(n, m, replace=False)
    theta, _, solved = _dual(phi[sample], target[sample], q)
    if theta is None:
        return None
    r = target - phi @ theta
    centre = int(q * (n - 1))
    lo, hi = max(centre - BAND * m // 2, 0), min(centre + BAND * m // 2, n - 1)
    low, high = np.partition(r, [lo, hi])[[lo, hi]]
    above, below = r > high, r < low
    for _ in range(ROUNDS):
        kept = ~(above | below)
        rhs = -(q * phi[above].sum(axis=0) + (q - 1.0) * phi[below].sum(axis=0))
        theta, value, solved = _dual(phi[kept], target[kept], q, rhs)
        if theta is None:
            return None
        r = target - phi @ theta
        wrong = (above & (r < 0)) | (below & (r > 0))
        if not wrong.any():
            value += q * float(target[above].sum()) + (q - 1.0) * float(target[below].sum())
            return theta, value, (solved[0], f"{solved[1]} (on {int(kept.sum()):,} of {n:,} rows near the fit, the "
                                             f"others' residual signs confirmed)")
        above &= ~wrong
        below &= ~wrong
    return None


def zero_residuals(e: np.ndarray, target: np.ndarray, fitted: np.ndarray) -> np.ndarray:
    """Which residuals ``e = target - fitted`` are 0 up to rounding: within :data:`ZERO_RESIDUAL` of the size of
    the numbers they are the difference of (an LP optimum interpolates at least p rows exactly; computed in
    floating point, their residuals come out as rounding noise of either sign)."""
    scale = max(float(np.max(np.abs(target), initial=0.0)), float(np.max(np.abs(fitted), initial=0.0)), 1e-300)
    return np.abs(e) <= ZERO_RESIDUAL * scale


def linear_design(objective, dataset) -> tuple[np.ndarray, np.ndarray] | None:
    """``(Phi, c0)``, the model's prediction ``f = c0 + Phi theta`` on ``dataset`` along the flat parameter vector,
    where ``f`` is linear in the parameters; None where it is not (or the design is not finite). Over a data matrix
    ``Phi = [1, X]`` (or ``X``); for a model by name, the columns ``df/dtheta_j`` (free of the parameters) and
    ``c0 = f(theta = 0)``, evaluated on the data."""
    if objective.wide:
        if objective.form.row_columns():  # per-row columns (an offset) the design here does not read
            return None
        X = np.asarray(dataset["X"], dtype=float)
        phi = np.column_stack([np.ones(X.shape[0]), X]) if objective.model.intercept else X
        return (phi, np.zeros(X.shape[0])) if np.all(np.isfinite(phi)) else None
    if not objective.form.per_parameter:
        return None
    f = objective.target - objective.robust.residual
    params = objective.params
    columns = [sp.diff(f, p) for p in params]
    if any(c.free_symbols & set(params) for c in columns):
        return None
    n = dataset.n_rows
    values = {s: dataset[s.name] for s in objective.data_symbols}
    offset = f.subs({p: 0 for p in params})

    def column(expr):
        return np.broadcast_to(np.asarray(evaluate(expr, values), dtype=float), (n,)).astype(float)

    with np.errstate(all="ignore"):
        phi = np.column_stack([column(c) for c in columns]) if columns else np.empty((n, 0))
        c0 = column(offset)
    if not (np.all(np.isfinite(phi)) and np.all(np.isfinite(c0))):
        return None
    return phi, c0

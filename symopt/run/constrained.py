"""The solve with linear inequality constraints ``A theta <= b`` (:mod:`symopt.model.constraints`), and the
KKT check of its answer.

0. A linear programme with a zero objective (SciPy's HiGHS) checks that the constraints and bounds leave a
   feasible point at all; if not, a clear error.
1. The problem is solved as it would be without the constraints (its closed form or generated solver, bounds
   kept as they always are). Where that optimum satisfies every constraint it is the answer: no constraint is
   active and every multiplier is 0.
2. Otherwise SciPy's SLSQP runs from it on symopt's own objective and exact gradient (the code that runs,
   :meth:`symopt.Problem.flat_value_and_grad`), with the bounds and the constraints. Measured on the
   acceptance problems (lmfit's ``fit_with_inequality`` with the split held to at most 3, a bounded quadratic;
   ``benchmarks/constrained.py``), SLSQP reached the optimum in fewer evaluations than ``trust-constr`` and
   to more digits: SLSQP is the one used.
3. The constraints and bounds active there (within :data:`ACTIVE`) are then held as equalities and Newton steps
   with the derivation's exact Hessian, in the null space of the active rows, polish the point to the
   precision of the gradient (SLSQP stops at its ``ftol``, an absolute change of F).

The multipliers solve ``grad f + N^T lambda = 0`` over the active rows ``N`` by least squares (f is F, or -F
when maximising); the KKT condition is checked: ``lambda >= 0``, the stationarity residual within
:data:`symopt.model.bounds.KKT_TOLERANCE` of the objective's size, every constraint satisfied.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from ..derivation.task import Task
from ..errors import ModelError
from ..model.bounds import KKT_TOLERANCE, BoundCheck
from .loop import starting_point
from .starts import USER_STOPS
from .stationary import hessian_at

#: A constraint whose slack is below this (relative to ``max(1, |b|)``) is active.
ACTIVE = 1e-7
#: SLSQP's settings (``ftol`` is an absolute change in the minimised F).
SLSQP = {"ftol": 1e-15, "maxiter": 2000}
#: Newton steps on the active set after SLSQP, at most.
POLISH_STEPS = 20


@dataclass(frozen=True)
class ConstraintCheck(BoundCheck):
    """:class:`symopt.model.bounds.BoundCheck` (the bounds' part) with the constraints': ``multipliers`` maps
    each constraint's text to its KKT multiplier (0 where inactive), ``active`` names the constraints that
    hold with equality, ``stationarity`` is the largest entry of ``grad f + A^T lambda`` (the bounds' terms
    included)."""

    multipliers: dict = field(default_factory=dict)
    active: tuple = ()
    stationarity: float = 0.0


def check_options(options) -> None:
    if options.standardize:
        raise ModelError("standardize=True with constraints: standardizing mixes the parameters, and the "
                         "constraints are on the user's; solve without standardize=True")


def solve(problem, dataset, start, options, flat, constraints, rows):
    """The :class:`symopt.result.Outcome` of ``problem`` on ``dataset`` with the constraints (``rows``:
    ``(A, b)``, ``constraints``: their record) and the bounds ``flat`` (a FlatBox or None)."""
    A, b = rows
    _check_feasible(A, b, flat, constraints)
    first = problem._solve(dataset, start, options, box=flat)
    if flat:
        first = problem._bounded_finish(first, dataset, flat)
    if not first.x.size:
        return first
    objective = problem.objective
    sign = -1.0 if objective.maximize else 1.0
    texts = constraints.texts
    finite = bool(np.all(np.isfinite(first.x)))
    broken = [repr(texts[i]) for i in np.flatnonzero(A @ first.x - b > _slack(b))] if finite else \
        [f"no constraint (it stopped with status {first.status!r} at non-finite parameters)"]
    if first.status in USER_STOPS or (not broken and first.success):  # stopped by the user, or feasible
        bounds = first.kkt or BoundCheck({}, True, "")
        message = f"stopped before the constraints were solved: {', '.join(broken)} broken" if broken else ""
        check = ConstraintCheck(bounds.at_bound, bounds.ok and not broken,
                                "; ".join(m for m in (message, bounds.message) if m), dict.fromkeys(texts, 0.0),
                                (), 0.0)
        return replace(first, kkt=check)

    if first.method == "lp" and first.success and not flat:  # a quantile regression: the programme with the rows
        return _quantile_lp(problem, dataset, first, A, b, texts, broken)

    def f(theta):
        value, grad = problem.flat_value_and_grad(dataset, theta, backend="numpy")
        return sign * value, sign * grad

    lower, upper = flat.arrays() if flat else (np.full(A.shape[1], -np.inf), np.full(A.shape[1], np.inf))
    x0 = first.x if finite else starting_point(Task(objective, problem.derivation, dataset), start)
    x0 = np.clip(x0, lower, upper)
    import scipy.optimize  # here, not at import: a first solve without constraints imports no SciPy

    run = scipy.optimize.minimize(f, x0, jac=True, method="SLSQP", bounds=list(zip(lower, upper)),
                                  constraints=[{"type": "ineq", "fun": lambda t: b - A @ t, "jac": lambda t: -A}],
                                  options=SLSQP)
    x = np.clip(run.x, lower, upper)
    active, held = _active(A, b, x, lower, upper)
    x, steps = _polish(problem, dataset, f, x, A, b, lower, upper, active, held)
    fun, grad = problem.flat_value_and_grad(dataset, x, backend="numpy")
    scale = max(abs(fun), 1e-300) if math.isfinite(fun) else 1.0
    check = kkt(sign * grad, A, b, x, (lower, upper), active, held, texts, flat.names if flat else (), scale)
    success = bool(run.success) and check.ok
    status = "converged" if success else ("kkt_failed" if run.success else "constraints_failed")
    message = (f"the constraints: {check.message or 'none active'}" if run.success else
               f"SLSQP stopped: {run.message}; {check.message}")
    found = f"its optimum breaks {', '.join(broken)}" if first.success else \
        f"it stopped ({first.status}){' breaking ' + ', '.join(broken) if broken else ''}"
    why = (f"{first.why}; without the constraints {found}, so SciPy's SLSQP solved with them"
           f"{' and the bounds' if flat else ''} on symopt's objective and gradient ({run.nit} iterations), then "
           f"{steps} Newton step(s) with the exact Hessian on the active set")
    return replace(first, x=x, params=objective.form.unflatten(dataset, x), fun=fun, success=success,
                   status=status, message=message, why=why, nit=first.nit + int(run.nit),
                   nfev=first.nfev + int(run.nfev), njev=first.njev + int(run.njev), at_bound=check.at_bound,
                   kkt=check, method="iterative", grad_norm=check.stationarity)


def _quantile_lp(problem, dataset, first, A, b, texts, broken):
    """A quantile regression whose LP optimum (:mod:`symopt.run.kinked`) breaks constraints, solved again exactly
    with ``A theta <= b`` in the programme (SLSQP cannot: the loss has a kink at every interpolated row). The
    dual of Koenker and Bassett's programme with the rows added is

        maximise  r'a - b'lambda   subject to  Phi'a - A'lambda = 0,  q - 1 <= a_i <= q,  lambda >= 0

    (r = y - c0), theta the multipliers of its equality rows and ``lambda`` the constraints' KKT multipliers (of
    the summed loss; of the mean, divided by n)."""
    from scipy.optimize import linprog

    from .kinked import DUALITY_GAP, linear_design

    objective = problem.objective
    q = objective.robust.q
    phi, c0 = linear_design(objective, dataset)
    target = np.asarray(dataset[objective.target.name], dtype=float) - c0
    n, m = phi.shape[0], A.shape[0]
    weight = 1.0 / n if objective.reduction == "mean" else 1.0
    bounds = np.vstack([np.tile([q - 1.0, q], (n, 1)), np.tile([0.0, np.inf], (m, 1))])
    res = linprog(np.r_[-target, b], A_eq=np.hstack([phi.T, -A.T]), b_eq=np.zeros(phi.shape[1]), bounds=bounds,
                  method="highs-ipm", options={"presolve": False})
    if res.x is None or res.eqlin is None:
        check = ConstraintCheck({}, False, f"the linear programme with the constraints was not solved: HiGHS status "
                                           f"{res.status}, {res.message}", dict.fromkeys(texts, 0.0), (), math.nan)
        return replace(first, success=False, status="lp_failed", message=check.message, kkt=check)
    x = -np.asarray(res.eqlin.marginals, dtype=float)
    lam = weight * np.asarray(res.x[n:], dtype=float)
    fun, _ = problem.flat_value_and_grad(dataset, x, backend="numpy")
    dual = -weight * float(res.fun)
    gap = abs(fun - dual) / max(abs(fun), 1e-300)
    slack = b - A @ x
    active = [i for i in range(m) if slack[i] <= _slack(b[i]) or lam[i] > 0.0]
    violated = [texts[i] for i in np.flatnonzero(slack < -_slack(b))]
    ok = res.status == 0 and gap <= DUALITY_GAP and not violated
    multipliers = {t: float(lam[i]) for i, t in enumerate(texts)}
    parts = [f"{texts[i]} active (multiplier {lam[i]:.6g})" for i in active]
    if violated:
        parts.insert(0, f"VIOLATED: {', '.join(violated)}")
    if gap > DUALITY_GAP:
        parts.append(f"the primal objective is {gap:.2g} from the dual's")
    check = ConstraintCheck({}, ok, "; ".join(parts) or "none active", multipliers, tuple(texts[i] for i in active),
                            0.0)
    why = (f"{first.why}; its optimum breaks {', '.join(broken)}, so the programme was solved again with the "
           f"constraints as {m} more rows of the dual (HiGHS status {res.status}: {res.message}; relative duality "
           f"gap {gap:.2g})")
    return replace(first, x=x, params=objective.form.unflatten(dataset, x), fun=float(fun), success=ok,
                   status="solved" if ok else "lp_failed", message=f"the constraints: {check.message}", why=why,
                   kkt=check, history=np.array([fun]))


def _check_feasible(A, b, flat, constraints) -> None:
    """A clear error where the constraints (with the bounds) leave no point at all: a linear programme with a
    zero objective (SciPy's HiGHS) decides it exactly, before any solve."""
    lower, upper = flat.arrays() if flat else (np.full(A.shape[1], -np.inf), np.full(A.shape[1], np.inf))
    bounds = [(None if math.isinf(lo) else lo, None if math.isinf(hi) else hi) for lo, hi in zip(lower, upper)]
    import scipy.optimize

    lp = scipy.optimize.linprog(np.zeros(A.shape[1]), A_ub=A, b_ub=b, bounds=bounds, method="highs")
    if lp.status == 2:
        raise ModelError(f"the constraints ({'; '.join(constraints.texts)}){' with the bounds' if flat else ''} leave "
                         f"no feasible point: no parameters satisfy them all")


def _slack(b) -> np.ndarray:
    return ACTIVE * np.maximum(1.0, np.abs(b))


def _active(A, b, x, lower, upper) -> tuple[list, list]:
    """The active constraints' indices, and the entries on a bound as ``(j, "lower" / "upper")``."""
    active = [i for i in range(len(b)) if A[i] @ x - b[i] > -_slack(b[i])]
    held = []
    for j in range(len(x)):
        if math.isfinite(lower[j]) and abs(x[j] - lower[j]) <= _slack(lower[j]):
            held.append((j, "lower"))
        elif math.isfinite(upper[j]) and abs(x[j] - upper[j]) <= _slack(upper[j]):
            held.append((j, "upper"))
    return active, held


def _normal(A, b, lower, upper, active, held) -> tuple[np.ndarray, np.ndarray]:
    """The active rows as equalities ``N theta = c``: the active constraints, then the active bounds (a
    lower bound as ``-theta_j = -lower_j``, so that every multiplier of a minimum is >= 0)."""
    rows, c = [A[i] for i in active], [b[i] for i in active]
    for j, side in held:
        e = np.zeros(A.shape[1])
        e[j] = 1.0 if side == "upper" else -1.0
        rows.append(e)
        c.append(upper[j] if side == "upper" else -lower[j])
    return np.array(rows).reshape(len(rows), A.shape[1]), np.array(c)


def _polish(problem, dataset, f, x, A, b, lower, upper, active, held):
    """Newton steps on the active set (held as equalities): ``x`` moved onto the active rows, then
    ``(Z^T H Z) dz = -Z^T g`` in their null space ``Z``; a step that leaves the feasible set, or reduces
    neither f nor the reduced gradient, is not taken. Returns ``(x, steps taken)``."""
    N, c = _normal(A, b, lower, upper, active, held)
    Z = np.eye(len(x))
    if N.shape[0]:
        x = np.clip(x - np.linalg.lstsq(N, N @ x - c, rcond=None)[0], lower, upper)
        q, _ = np.linalg.qr(N.T, mode="complete")
        Z = q[:, np.linalg.matrix_rank(N):]
    if not Z.shape[1]:
        return x, 0
    task = Task(problem.objective, problem.derivation, dataset)
    sign = -1.0 if problem.objective.maximize else 1.0
    value, grad = f(x)
    steps = 0
    for _ in range(POLISH_STEPS):
        hess = hessian_at(task, x)
        reduced = Z.T @ grad
        if hess is None or np.max(np.abs(reduced)) <= 1e-15 * max(abs(value), 1e-300):
            break
        try:
            dz = np.linalg.solve(Z.T @ (sign * hess) @ Z, -reduced)
        except np.linalg.LinAlgError:
            break
        trial = x + Z @ dz
        if np.any(trial < lower) or np.any(trial > upper) or np.any(A @ trial - b > _slack(b)):
            break
        new_value, new_grad = f(trial)
        if not (np.max(np.abs(Z.T @ new_grad)) < np.max(np.abs(reduced)) or new_value < value):
            break
        x, value, grad, steps = trial, new_value, new_grad, steps + 1
    return x, steps


def kkt(grad, A, b, x, box, active, held, texts, names, scale: float) -> ConstraintCheck:
    """The KKT check at ``x`` (``grad``: of the minimised f): multipliers of the active rows by least squares
    from ``grad + N^T lambda = 0``, each >= 0; the residual within tolerance; every constraint satisfied."""
    N, _ = _normal(A, b, *box, active, held)
    lam = np.linalg.lstsq(N.T, -grad, rcond=None)[0] if N.shape[0] else np.zeros(0)
    residual = grad + N.T @ lam
    stationarity = float(np.max(np.abs(residual), initial=0.0))
    tiny = KKT_TOLERANCE * max(scale, 1e-300)
    multipliers = dict.fromkeys(texts, 0.0)
    for i, value in zip(active, lam):
        multipliers[texts[i]] = float(value)
    at = {names[j]: side for j, side in held}
    violated = [texts[i] for i in np.flatnonzero(A @ x - b > _slack(b))]
    wrong = [t for i, t in enumerate(texts) if multipliers[t] < -tiny]
    wrong += [names[j] for (j, _), value in zip(held, lam[len(active):]) if value < -tiny]
    ok = not violated and not wrong and stationarity <= tiny
    parts = [f"{texts[i]} active (multiplier {multipliers[texts[i]]:.6g})" for i in active]
    parts += [f"{names[j]} at its {side} bound (multiplier {value:.6g})" for (j, side), value in zip(held, lam[len(active):])]
    if violated:
        parts.insert(0, f"VIOLATED: {', '.join(violated)}")
    if wrong:
        parts.insert(0, f"WRONG SIGN of the multiplier of {', '.join(wrong)}: F improves inside")
    if stationarity > tiny:
        parts.append(f"KKT stationarity residual {stationarity:.3g} above the tolerance {tiny:.3g}")
    return ConstraintCheck(at, ok, "; ".join(parts), multipliers,
                           tuple(texts[i] for i in active), stationarity)

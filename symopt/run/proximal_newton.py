"""Proximal Newton with coordinate descent: an ``l1``-penalised loss over a data matrix (a GLM on a
``LinearModel()``), solved as glmnet and glum solve it (IRLS with coordinate descent).

    minimise  F(theta) = f(theta) + sum_j lam_j |theta_j|,   f = scale * sum_i l(eta_i) + l2 terms,
              eta = intercept + X @ coef

Each outer iteration forms, in one pass over the rows, the gradient ``g`` of ``f`` and its Hessian
``H = scale * Phi^T diag(d2l/deta2) Phi + 2 diag(l2 weights)`` (``Phi = [1, X]``; SymPy's ``d2l/deta2`` is the
IRLS weight, clipped at 0 where a non-convex loss makes it negative), then minimises the ``l1``-penalised
quadratic model

    q(z) = g.(z - theta) + (z - theta)^T H (z - theta) / 2 + sum_j lam_j |z_j|

by cyclic coordinate descent on ``H`` (the kernel of :mod:`symopt.numerics.coordinate_descent`: ``p x p`` work
per sweep, a working set of the non-zero coefficients, never the rows), and steps along ``d = z - theta`` with
a backtracking line search on ``F`` itself (the sufficient decrease of Tseng and Yun 2009:
``F(theta + t d) <= F(theta) + sigma t (g.d + |z|_lam - |theta|_lam)``). ``X @ d`` is formed once per iteration,
so each trial step costs one evaluation of the loss on ``eta + t X d``. The quadratic model is solved only as
accurately as the outer iteration needs (to a thousandth of the outer subgradient's size), and only over the
active set (the non-zero and unpenalised parameters and those whose optimality condition fails at ``theta``:
the Hessian's block there is all that is formed, ``n |A|^2`` work where ``|A|`` is often a fraction of ``p``
along a path), as glum does.

The Hessian only steers: the run stops where the minimum-norm subgradient of ``F``, from the exact gradient
over the rows, is at most ``tol`` in every component. Near the optimum the step is Newton's, so the last
iterations converge quadratically where proximal gradient (:class:`symopt.ProximalGradient`) converges linearly
at a rate set by the condition number.
"""

from __future__ import annotations

import math

import numpy as np

from ..closed_form.records import ClosedForm, Outcome
from ..model import penalties
from ..model.kinds.base import summed
from ..optimizers.proximal import minimum_norm_subgradient
from ..symbolic.numeric import evaluate

#: The sufficient-decrease constant of the line search.
SIGMA = 1e-4

#: At most this many Newton (outer) iterations: each is one pass over the rows for the Hessian, and near the
#: optimum they converge quadratically, so a run that needs more has met a problem more iterations do not fix.
MAX_NEWTON = 500


def applies(objective, derivation) -> bool:
    """Whether proximal Newton serves ``objective``: an ``l1``-penalised loss of ``eta`` over a data matrix
    (the wide kind), minimised, with its second derivative in ``eta``."""
    return (bool(objective.l1) and objective.form.name == "wide" and not objective.maximize
            and derivation is not None and derivation.hessian is not None)


def proximal_newton_result(objective, derivation, dataset, optimizer, cf: ClosedForm, start=None,
                           box=None) -> Outcome:
    """The ``l1``-penalised fit by proximal Newton with coordinate descent (see the module's docstring);
    ``optimizer``: the :class:`symopt.CoordinateDescent` record (``max_iter`` bounds the coordinate sweeps of
    each quadratic model, ``tol`` the minimum-norm subgradient relative to the largest gradient term at 0)."""
    from ..numerics import coordinate_descent
    from ..numerics.weighted_gram import nonzeros_of, weighted_gram

    form = objective.form
    X = np.asarray(dataset["X"], dtype=float)
    n = dataset.n_rows
    intercept = bool(objective.model.intercept)
    scale = form._scale(dataset)
    ridge = objective.l2 * form.penalty_mask(dataset) if objective.l2 else np.zeros(X.shape[1] + intercept)
    lam = objective.l1 * form.l1_mask(dataset)
    p = lam.size
    lower, upper = box.arrays() if box else (np.full(p, -np.inf), np.full(p, np.inf))
    lower, upper = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    d1_expr, d2_expr = derivation.gradient[0], derivation.hessian[0, 0]

    rows = nonzeros_of(X)  # a mostly-zero X: its products over the non-zeros only
    times = X.__matmul__ if rows is None else rows.matvec
    transposed_times = X.T.__matmul__ if rows is None else rows.rmatvec

    def eta_of(theta):
        eta = times(theta[intercept:])
        return eta + theta[0] if intercept else eta

    def smooth(eta, theta) -> float:
        with np.errstate(all="ignore"):
            total, _ = summed(objective.per_sample, form._values(dataset, eta), n)
        return scale * total + float(np.sum(ridge * theta * theta))

    def derivatives(eta, theta, hessian: bool):
        values = form._values(dataset, eta)
        with np.errstate(all="ignore"):
            d1 = np.broadcast_to(np.asarray(evaluate(d1_expr, values), dtype=float), (n,))
            grad = scale * transposed_times(d1)
            if intercept:
                grad = np.r_[scale * float(np.sum(d1)), grad]
            grad = grad + 2.0 * ridge * theta
            if not hessian:
                return grad, None
            d2 = np.broadcast_to(np.asarray(evaluate(d2_expr, values), dtype=float), (n,))
        return grad, np.maximum(np.nan_to_num(d2, nan=0.0), 0.0)

    def hessian_on(weights, active):
        """The Hessian's block on the flat indices ``active`` (the intercept, where there is one, among them)."""
        columns = active[intercept:] - intercept
        H = scale * weighted_gram(X, weights, intercept, None if columns.size == X.shape[1] else columns)
        H[np.diag_indices_from(H)] += 2.0 * ridge[active]
        return H

    def l1_of(theta) -> float:
        return float(np.sum(lam * np.abs(theta)))

    zero = np.zeros(p)
    g0, _ = derivatives(eta_of(zero), zero, hessian=False)
    tol = optimizer.tol * max(1.0, float(np.max(np.abs(g0), initial=0.0)))

    x = form.default_start(dataset) if start is None else np.array(start, dtype=float)
    x = np.minimum(np.maximum(x, lower), upper)
    x0 = x.copy()
    eta = eta_of(x)
    F = smooth(eta, x) + l1_of(x)
    history, nfev, sweeps = [F], 1, 0
    status, message, converged = "max_iter", "", False
    outer = 0
    precise = False  # the quadratic model solved to the run's own tol (after an inexact step failed)
    for outer in range(1, MAX_NEWTON + 1):
        g, weights = derivatives(eta, x, hessian=True)
        r = minimum_norm_subgradient(x, g, lam, lower, upper)
        worst = float(np.max(np.abs(r), initial=0.0))
        if not math.isfinite(worst):
            status, message = "nan", "the gradient is not finite at the current point"
            break
        if worst <= tol:
            converged, status = True, "converged"
            message = f"the largest component of the minimum-norm subgradient is below {tol:.3g}"
            break
        # the active set: the non-zero parameters, the unpenalised ones, and those whose condition fails; the
        # rest stay at 0 this iteration (the next one's check catches any that should move)
        active = np.flatnonzero((x != 0.0) | (lam == 0.0) | (r != 0.0))
        if intercept and (active.size == 0 or active[0] != 0):
            active = np.r_[0, active]
        H = hessian_on(weights, active)
        xa = x[active]
        za = xa.copy()
        used, _ = coordinate_descent.solve(H, H @ xa - g[active], lam[active], lower[active], upper[active], za,
                                           0.25 * tol if precise else max(0.25 * tol, 1e-3 * worst), optimizer.max_iter)
        sweeps += int(used)
        z = x.copy()
        z[active] = za
        d = z - x
        decrease = float(g @ d) + l1_of(z) - l1_of(x)
        if not np.any(d) or not decrease < 0.0:
            if not precise:
                precise = True  # the inexact model's step may be rounding: solve the model exactly, once
                continue
            status = "precision"
            message = (f"the Newton step no longer decreases F (largest minimum-norm subgradient component "
                       f"{worst:.3g}, tol {tol:.3g})")
            break
        Xd = times(d[intercept:]) + (d[0] if intercept else 0.0)
        t = 1.0
        while True:
            trial = x + t * d
            eta_t = eta + t * Xd
            F_t = smooth(eta_t, trial) + l1_of(trial)
            nfev += 1
            if math.isfinite(F_t) and F_t <= F + SIGMA * t * decrease + 1e-15 * abs(F):
                break
            t *= 0.5
            if t < 1e-12:
                break
        if t < 1e-12:
            if not precise:
                precise = True
                continue
            status = "precision"
            message = (f"the line search found no decrease (largest minimum-norm subgradient component "
                       f"{worst:.3g}, tol {tol:.3g}): F's rounding floor")
            break
        x, eta, F = trial, eta_t, F_t
        history.append(F)
    else:
        message = f"max_iter: {outer} Newton iterations without meeting tol; raise max_iter or loosen tol"
    # F from the rows as the other routes give it; the condition checked from NumPy's gradient at x
    fun, grad = form.value_and_gradient(derivation, dataset, x)
    check = penalties.l1_check(objective, dataset, x, grad, max(abs(fun), 1e-300),
                               lower if box else None, upper if box else None)
    if status == "precision" and check.ok:  # F's rounding floor, at a point the optimality check accepts
        converged, status = True, "converged"
        message = f"{message}; the optimality condition holds to the check's tolerance"
    kkt = None if box else check  # with bounds, the solve checks them and the l1 condition together
    why = (f"proximal Newton: the loss's Hessian X^T W X (IRLS weights d2l/deta2, {p} x {p}) formed each "
           f"iteration, its l1-penalised quadratic model solved by coordinate descent with a working set, a "
           f"line search on F ({outer} iterations, {sweeps} coordinate sweeps)")
    return Outcome(params=form.unflatten(dataset, x), x=x, fun=float(fun), method="iterative",
                   why=f"no closed form: {cf.reason}; {why}", closed_form=cf, success=converged, status=status,
                   message=message, nit=outer, nfev=nfev, njev=outer, objective=objective, derivation=derivation,
                   optimizer=optimizer, backend="numba", x0=x0, history=np.array(history), kkt=kkt)

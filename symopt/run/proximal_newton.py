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
from ..optimizers.base import INTERRUPTED, STATUS
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
    return (bool(objective.l1) and objective.form.one_linear_predictor and not objective.maximize
            and derivation is not None and derivation.hessian is not None)


def proximal_newton_result(objective, derivation, dataset, optimizer, cf: ClosedForm, start=None,
                           box=None, stops=None) -> Outcome:
    """The ``l1``-penalised fit by proximal Newton with coordinate descent (see the module's docstring);
    ``optimizer``: the :class:`symopt.CoordinateDescent` record (``max_iter`` bounds the coordinate sweeps of
    each quadratic model, ``tol`` the minimum-norm subgradient relative to the largest gradient term at 0);
    ``stops``: the user's ``max_time`` and callback (:class:`symopt.run.stops.Stops`), checked after each Newton
    iteration. Ctrl-C ends the run with status ``interrupted`` and the last completed iteration's parameters."""
    form = objective.form
    run = _Run(objective, derivation, dataset, optimizer, start, box, stops)
    x0 = run.x.copy()
    try:
        run.iterate()
    except KeyboardInterrupt:  # the state is the last completed iteration's
        run.status, run.converged = STATUS[INTERRUPTED][0], False
        run.message = f"{run.status}: {STATUS[INTERRUPTED][2]}"
    x = run.x
    # F from the rows as the other routes give it; the condition checked from NumPy's gradient at x
    fun, grad = form.value_and_gradient(derivation, dataset, x)
    check = penalties.l1_check(objective, dataset, x, grad, max(abs(fun), 1e-300),
                               run.lower if box else None, run.upper if box else None)
    converged, status, message = run.converged, run.status, run.message
    if status == "precision" and check.ok:  # F's rounding floor, at a point the optimality check accepts
        converged, status = True, "converged"
        message = f"{message}; the optimality condition holds to the check's tolerance"
    kkt = None if box else check  # with bounds, the solve checks them and the l1 condition together
    p = x.size
    why = (f"proximal Newton: the loss's Hessian X^T W X (IRLS weights d2l/deta2, {p} x {p}) formed each "
           f"iteration, its l1-penalised quadratic model solved by coordinate descent with a working set, a "
           f"line search on F ({run.outer} iterations, {run.sweeps} coordinate sweeps)")
    return Outcome(params=form.unflatten(dataset, x), x=x, fun=float(fun), method="iterative",
                   why=f"no closed form: {cf.reason}; {why}", closed_form=cf, success=converged, status=status,
                   message=message, nit=run.outer, nfev=run.nfev, njev=run.outer, objective=objective,
                   derivation=derivation, optimizer=optimizer, backend="numba", x0=x0,
                   history=np.array(run.history), kkt=kkt)


class _Run:
    """One proximal Newton run: the data's products and derivatives, and the state of the last completed
    iteration (``x``, ``eta = X x``, ``F``; what Ctrl-C returns)."""

    def __init__(self, objective, derivation, dataset, optimizer, start, box, stops):
        from ..numerics.weighted_gram import nonzeros_of

        self.objective, self.dataset, self.optimizer, self.stops = objective, dataset, optimizer, stops
        form = objective.form
        self.X = X = np.asarray(dataset["X"], dtype=float)
        self.n = dataset.n_rows
        self.intercept = int(bool(objective.model.intercept))
        self.scale = form._scale(dataset)
        self.ridge = objective.l2 * form.penalty_mask(dataset) if objective.l2 else np.zeros(X.shape[1] + self.intercept)
        self.lam = objective.l1 * form.l1_mask(dataset)
        p = self.lam.size
        lower, upper = box.arrays() if box else (np.full(p, -np.inf), np.full(p, np.inf))
        self.lower, self.upper = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
        self.d1, self.d2 = derivation.gradient[0], derivation.hessian[0, 0]
        rows = nonzeros_of(X)  # a mostly-zero X: its products over the non-zeros only
        self.times = X.__matmul__ if rows is None else rows.matvec
        self.transposed_times = X.T.__matmul__ if rows is None else rows.rmatvec
        zero = np.zeros(p)
        g0, _ = self.derivatives(self.eta_of(zero), zero, hessian=False)
        self.tol = optimizer.tol * max(1.0, float(np.max(np.abs(g0), initial=0.0)))
        x = form.default_start(dataset) if start is None else np.array(start, dtype=float)
        self.x = np.minimum(np.maximum(x, self.lower), self.upper)
        self.eta = self.eta_of(self.x)
        self.F = self.smooth(self.eta, self.x) + self.l1_of(self.x)
        self.history, self.nfev, self.sweeps, self.outer = [self.F], 1, 0, 0
        self.status, self.message, self.converged = "max_iter", "", False

    def eta_of(self, theta):
        eta = self.times(theta[self.intercept:])
        return eta + theta[0] if self.intercept else eta

    def smooth(self, eta, theta) -> float:
        with np.errstate(all="ignore"):
            total, _ = summed(self.objective.per_sample, self.objective.form._values(self.dataset, eta), self.n)
        return self.scale * total + float(np.sum(self.ridge * theta * theta))

    def l1_of(self, theta) -> float:
        return float(np.sum(self.lam * np.abs(theta)))

    def derivatives(self, eta, theta, hessian: bool):
        """The gradient of the smooth part at ``theta`` and, where asked, the IRLS weights (``d2l/deta2 >= 0``)."""
        values = self.objective.form._values(self.dataset, eta)
        n = self.n
        with np.errstate(all="ignore"):
            d1 = np.broadcast_to(np.asarray(evaluate(self.d1, values), dtype=float), (n,))
            grad = self.scale * self.transposed_times(d1)
            if self.intercept:
                grad = np.r_[self.scale * float(np.sum(d1)), grad]
            grad = grad + 2.0 * self.ridge * theta
            if not hessian:
                return grad, None
            d2 = np.broadcast_to(np.asarray(evaluate(self.d2, values), dtype=float), (n,))
        return grad, np.maximum(np.nan_to_num(d2, nan=0.0), 0.0)

    def hessian_on(self, weights, active):
        """The Hessian's block on the flat indices ``active`` (the intercept, where there is one, among them)."""
        from ..numerics.weighted_gram import weighted_gram

        columns = active[self.intercept:] - self.intercept
        H = self.scale * weighted_gram(self.X, weights, bool(self.intercept),
                                       None if columns.size == self.X.shape[1] else columns)
        H[np.diag_indices_from(H)] += 2.0 * self.ridge[active]
        return H

    def iterate(self) -> None:
        """Newton iterations until the subgradient condition holds, F's rounding floor, or a stop."""
        from ..numerics import coordinate_descent

        lam, lower, upper, tol = self.lam, self.lower, self.upper, self.tol
        precise = False  # the quadratic model solved to the run's own tol (after an inexact step failed)
        while self.outer < MAX_NEWTON:
            x = self.x
            g, weights = self.derivatives(self.eta, x, hessian=True)
            r = minimum_norm_subgradient(x, g, lam, lower, upper)
            worst = float(np.max(np.abs(r), initial=0.0))
            if not math.isfinite(worst):
                self.status, self.message = "nan", "the gradient is not finite at the current point"
                return
            if worst <= tol:
                self.converged, self.status = True, "converged"
                self.message = f"the largest component of the minimum-norm subgradient is below {tol:.3g}"
                return
            # the active set: the non-zero parameters, the unpenalised ones, and those whose condition fails;
            # the rest stay at 0 this iteration (the next one's check catches any that should move)
            active = np.flatnonzero((x != 0.0) | (lam == 0.0) | (r != 0.0))
            if self.intercept and (active.size == 0 or active[0] != 0):
                active = np.r_[0, active]
            H = self.hessian_on(weights, active)
            za = x[active].copy()
            used, _ = coordinate_descent.solve(H, H @ x[active] - g[active], lam[active], lower[active],
                                               upper[active], za,
                                               0.25 * tol if precise else max(0.25 * tol, 1e-3 * worst),
                                               self.optimizer.max_iter)
            self.sweeps += int(used)
            z = x.copy()
            z[active] = za
            step = self._line_search(x, z - x, float(g @ (z - x)) + self.l1_of(z) - self.l1_of(x))
            if step is None:
                if not precise:
                    precise = True  # the inexact model's step may be rounding: solve the model exactly, once
                    continue
                self.status = "precision"
                self.message = (f"the Newton step no longer decreases F (largest minimum-norm subgradient "
                                f"component {worst:.3g}, tol {tol:.3g}): F's rounding floor")
                return
            self.x, self.eta, self.F = step
            self.history.append(self.F)
            self.outer += 1
            stop = None if self.stops is None else self.stops.check(self.outer, self.F, self.x)
            if stop is not None:
                self.status = STATUS[stop][0]
                self.message = f"{self.status}: {STATUS[stop][2]}"
                return
        self.message = f"max_iter: {self.outer} Newton iterations without meeting tol; raise max_iter or loosen tol"

    def _line_search(self, x, d, decrease: float):
        """``(x + t d, its eta, its F)`` for the first ``t`` in 1, 1/2, ... with sufficient decrease, or None
        (no decrease predicted, or none found down to ``t = 1e-12``)."""
        if not np.any(d) or not decrease < 0.0:
            return None
        Xd = self.times(d[self.intercept:]) + (d[0] if self.intercept else 0.0)
        t = 1.0
        while t >= 1e-12:
            trial = x + t * d
            eta = self.eta + t * Xd
            F = self.smooth(eta, trial) + self.l1_of(trial)
            self.nfev += 1
            if math.isfinite(F) and F <= self.F + SIGMA * t * decrease + 1e-15 * abs(self.F):
                return trial, eta, F
            t *= 0.5
        return None

"""Profile-likelihood intervals, ``Result.conf_int(method="profile")``: for each parameter, the values where
the likelihood-ratio statistic (the F statistic for least squares, as lmfit's ``conf_interval``) reaches its
quantile, the other parameters re-optimised at every value.

For parameter ``j`` held at ``v`` (``fixed=``: one compiled problem, every value a run-time argument) the
others are fitted again from the last profile point, and

* least squares: ``F(v) = (RSS(v) - RSS) / (RSS / (n - p))`` against the F(1, n - p) quantile (for a model
  linear in its parameters this is the t interval exactly: F(1, d) = t(d)^2);
* a likelihood: ``2 (loglik - loglik(v))`` against the chi-square(1) quantile.

Each side steps out from the estimate by the Wald standard error (doubling) until the statistic passes the
quantile, then the crossing is found by the Illinois method to ``1e-10`` of the quantile. A side where the
statistic stays below the quantile however far the steps go (a flat profile) is open: its endpoint is
``-inf`` or ``inf``, and the record says so. With bounds, no step passes the parameter's own bound (the
others keep theirs in every re-fit): a side where the statistic is still below the quantile at the bound ends
there (a one-sided interval, with a note), as it does for a parameter that is at its bound.

An exact fit (least squares whose residuals are zero or at the rounding level of double precision) has no
profile to trace: the F statistic divides by its residual variance. Its intervals are its Wald intervals,
points like its standard errors of 0, with a note saying so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..derivation.totals import objective_value
from ..errors import ModelError
from ..numerics.distributions import chi2_quantile, f_quantile
from .inference import check_level

#: How many doublings of the step each side may take before it is declared open.
MAX_DOUBLINGS = 30
#: The crossing is found to this fraction of the quantile.
TOLERANCE = 1e-10


@dataclass(frozen=True)
class Profile:
    """One parameter's profile interval: ``low`` and ``high`` (``-inf`` / ``inf`` where a side is open),
    the statistic at each (``at_low``, ``at_high``), the ``quantile`` it was set to, ``solves`` (how many
    re-fits it took) and ``notes``."""

    name: str
    low: float
    high: float
    at_low: float
    at_high: float
    quantile: float
    statistic: str
    solves: int
    notes: tuple = ()


def intervals(result, level: float, problem, dataset) -> dict:
    """name -> :class:`Profile` for every free parameter of ``result``, solved by ``problem`` (a
    :class:`symopt.Problem`: its :meth:`~symopt.Problem.related` problem holds one parameter fixed at a time)
    on ``dataset`` (the prepared data)."""
    inference = result.inference("nonrobust")
    if inference.cov is None:
        raise ModelError(f"no profile interval: {inference.reason}")
    if inference.kind in ("quantile regression", "M-estimator"):  # symopt.stats.robust
        raise ModelError(f"no profile interval: a {inference.kind} fit has no likelihood (nor residual sum of "
                         f"squares) to profile, so its objective's rise is no chi-square or F statistic; use "
                         f"method='wald', from its sandwich standard errors")
    objective = result.objective
    if not objective.form.per_parameter:
        raise ModelError("profile intervals are for models with named parameters (not a LinearModel over a data "
                         "matrix): use method='wald' there")
    level = check_level(level)
    n = inference.n_obs
    if inference.kind == "least squares":
        if inference.dof <= 0:
            raise ModelError("no profile interval: no degrees of freedom for the residual variance")
        if inference.exact_fit:
            return _points(result, inference, level)
        quantile, statistic = f_quantile(level, 1, inference.dof), "F"
        best = result.fun

        def stat(fun):
            return (fun / best - 1.0) * inference.dof if best > 0 else (math.inf if fun > 0 else 0.0)
    else:
        quantile, statistic = chi2_quantile(level, 1), "likelihood ratio"
        rows = n if objective.reduction == "mean" else 1
        sign = -1.0 if objective.maximize else 1.0

        def stat(fun):
            return 2.0 * rows * sign * (fun - result.fun)
    data = dict(dataset.arrays)
    se = inference.stderr
    out = {}
    for j, param in enumerate(objective.params):
        others = [q.name for q in objective.params if q is not param]
        bounds = {k: v for k, v in result.bounds.items() if k != param.name}
        held = problem.related(fixed={param.name: float(result.x[j])}, bounds=bounds or None, optimizer=None) \
            if others else None
        limits = result.bounds.get(param.name, (None, None))
        limits = (-math.inf if limits[0] is None else limits[0], math.inf if limits[1] is None else limits[1])
        out[param.name] = _one(held, dataset, data, param.name, others, result, j, se[j], stat, quantile,
                               statistic, limits)
    return out


def _points(result, inference, level: float) -> dict:
    """The profile intervals of an exact fit: its Wald intervals (points, to double precision: the standard
    errors of residuals at rounding level), as the F statistic divides by a residual variance that is zero or
    rounding, so its profile says nothing."""
    low, high = inference.wald(level)
    x = np.asarray(result.x, dtype=float)
    low, high = np.where(np.isnan(low), x, low), np.where(np.isnan(high), x, high)  # held on a bound: a point too
    quantile = f_quantile(level, 1, inference.dof)
    note = (f"{inference.exact_fit}; the F statistic divides by the residual variance, which is zero or "
            "rounding, so no profile is traced; the interval is the Wald one, a point like the standard errors")
    return {param.name: Profile(param.name, float(low[j]), float(high[j]), math.nan, math.nan, quantile, "F", 0,
                                (note,))
            for j, param in enumerate(result.objective.params)}


def _one(problem, dataset, data, name, others, result, j, se, stat, quantile, statistic, limits) -> Profile:
    estimate = float(result.x[j])
    start = {q: result.params[q] for q in others}
    solves = 0
    notes = []

    def g(v, x0):
        nonlocal solves
        solves += 1
        if problem is None:  # one parameter: its profile is the objective itself
            return stat(objective_value(result.objective, dataset, np.array([v]))) - quantile, {}
        fit = problem.solve(data, x0=x0, fixed={name: v}, progress=False)
        if not fit.success:
            raise _Failed(f"the re-fit with {name} = {v:.6g} did not converge ({fit.status})")
        return stat(fit.fun) - quantile, {q: fit.params[q] for q in others}

    ends, stats = [], []
    step = se if se > 0 else max(abs(estimate), 1.0) * 0.1
    for side, limit in ((-1.0, limits[0]), (1.0, limits[1])):
        words = "lower" if side < 0 else "upper"
        if estimate == limit:
            ends.append(limit)
            stats.append(0.0)
            notes.append(f"{words} side: {name} is at its {words} bound {limit:g}: the interval ends there")
            continue
        try:
            end, at = _side(g, estimate, side * step, start, quantile, limit)
            if math.isfinite(limit) and end == limit:
                notes.append(f"{words} side: the statistic is still below its quantile at the {words} bound "
                             f"{limit:g} ({at:.4g} < {quantile:.4g}): a one-sided interval, ending at the bound")
        except _Failed as failure:
            end, at = side * math.inf, math.nan
            notes.append(f"{'lower' if side < 0 else 'upper'} side: {failure}; left open")
        if math.isinf(end) and not notes:
            notes.append(f"{'lower' if side < 0 else 'upper'} side: the statistic stays below its quantile "
                         f"{quantile:.6g} however far {name} goes: the interval is open there")
        ends.append(end)
        stats.append(at)
    return Profile(name, float(ends[0]), float(ends[1]), float(stats[0]), float(stats[1]), quantile, statistic,
                   solves, tuple(notes))


class _Failed(Exception):
    """A profile re-fit that did not converge: that side of the interval is left open, with the reason."""


def _side(g, estimate, step, start, quantile, limit=math.nan) -> tuple[float, float]:
    """The crossing on the side of ``step``: ``(value, statistic there)``, ``(limit, statistic there)`` where
    the statistic stays below the quantile up to the bound ``limit``, or ``(+-inf, nan)``."""
    a, ga, xa = estimate, -quantile, start
    for _ in range(MAX_DOUBLINGS):
        b = a + step
        if math.isfinite(limit) and (b - limit) * step >= 0:
            b = limit
        gb, xb = g(b, xa)
        if gb >= 0:
            break
        if b == limit:
            return limit, gb + quantile
        a, ga, xa = b, gb, xb
        step *= 2.0
    else:
        return math.copysign(math.inf, step), math.nan
    # Illinois between a (below) and b (above), every step inside the bracket
    side = 0
    for _ in range(100):
        c = b - gb * (b - a) / (gb - ga)
        if not min(a, b) < c < max(a, b):
            c = 0.5 * (a + b)
        gc, xc = g(c, xa)
        if abs(gc) <= TOLERANCE * quantile:
            return c, gc + quantile
        if gc < 0:
            a, ga, xa = c, gc, xc
            if side == -1:
                gb *= 0.5
            side = -1
        else:
            b, gb = c, gc
            if side == 1:
                ga *= 0.5
            side = 1
    raise _Failed(f"the crossing was not found to {TOLERANCE:g} of the quantile in 100 steps")


def as_intervals(profiles: dict) -> dict:
    """name -> (low, high) from :func:`intervals`."""
    return {name: (p.low, p.high) for name, p in profiles.items()}

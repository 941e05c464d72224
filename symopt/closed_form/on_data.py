"""Closed-form solutions on data: the linear solve or the symbolic formulas evaluated, as a :class:`~symopt.result.Outcome`."""

from __future__ import annotations

import math
from dataclasses import replace

import mpmath
import numpy as np

from ..model.bounds import SHOWN_AT_BOUND
from .analysis import Analysis
from .linear import (check_high_precision, solve_bounded_least_squares, solve_least_squares,
                                 solve_quadratic)
from ..derivation.task import Task
from ..derivation.totals import gradient as gradient_at_point
from ..derivation.totals import value_and_gradient
from .conditioning import Conditioning, warn_if_ill
from .records import ClosedForm, Outcome
from .sufficient_statistics import check_candidates, statistic_values


def linear_result(analysis: Analysis, dataset, precision: str, cf: ClosedForm, standardized: bool = False,
                  box=None, solution=None) -> Outcome:
    """One linear solve (least squares by QR, or the summed Hessian's system), and whether it is the optimum;
    an ill-conditioned one warns (``standardized``: on features ``solve`` centred and scaled). With bounds
    (``box``, least squares only), the exact bounded solve (:mod:`symopt.numerics.bvls`). ``solution``: the
    :class:`~symopt.closed_form.records.LinearSolution` where the caller solved already (Dask input's tall QR,
    :mod:`symopt.distributed.solve`), with its ``fun`` and ``gradient``."""
    objective = analysis.objective
    form = analysis.linear
    if box:
        return _bounded_linear_result(analysis, dataset, cf, box, precision)
    if solution is not None:
        sol = solution
    elif form.kind == "least_squares":
        sol = solve_least_squares(objective, form, dataset, precision)
    else:
        sol = solve_quadratic(objective, form, dataset, precision)
    wanted = "maximum" if objective.maximize else "minimum"
    # F is at most quadratic here, so it has an optimum unless it is unbounded: there is no optimum exactly
    # when the stationary point has the wrong curvature, or there is no stationary point at all.
    success = sol.direction is None and sol.curvature.startswith(wanted)
    if sol.fun is None:
        fun, g = value_and_gradient(Task(objective, analysis.derivation, dataset), sol.x)
    else:  # the solver's own, from the sums it formed (no further pass over the data)
        fun, g = sol.fun, sol.gradient
    names = objective.form.flat_names(dataset)
    if sol.direction is not None:
        along = ", ".join(f"{name}: {v:.3g}" for name, v in zip(names, sol.direction) if v != 0.0)
        message = (f"unbounded: the objective has no {wanted} and no stationary point: its quadratic part is "
                   f"singular and its gradient has a part outside that part's range, so F is linear along the "
                   f"direction ({along}) and {'rises' if objective.maximize else 'falls'} without bound "
                   f"{'against' if objective.maximize else 'along'} it. Check the model (a parameter that enters "
                   f"only linearly?) or add l2= ({sol.note})")
    elif not success:
        message = (f"unbounded: the stationary point is a {sol.curvature}: this quadratic objective has no "
                   f"{wanted}, it is unbounded {'above' if objective.maximize else 'below'}; check maximize= "
                   f"and the model's sign ({sol.note})")
    else:
        message = sol.note
    cf = ClosedForm(cf.status, cf.reason, cf.formula_text or form.describe(objective.params), sol.note,
                    pending=cf.pending)
    exact = {} if sol.exact is None else {name: mpmath.nstr(v, 20) for name, v in zip(names, sol.exact)}
    conditioning = Conditioning(sol.condition_number, "design" if form.kind == "least_squares" else "hessian")
    if precision == "double" and sol.rank == sol.n_params:  # rank deficiency has its own warning
        warn_if_ill(conditioning, objective, standardized)
    return Outcome(params=objective.form.unflatten(dataset, sol.x), x=sol.x, fun=fun, method="linear",
                  why="the gradient is affine in the parameters: one linear solve", closed_form=cf,
                  success=success, status="solved" if success else "unbounded", message=message, nit=0,
                  grad_norm=float(np.max(np.abs(g))) if g.size else 0.0, history=np.array([fun]),
                  objective=objective, derivation=analysis.derivation, precision=precision, exact=exact,
                  exact_x=() if sol.exact is None else tuple(sol.exact), backend=_closed_backend(precision),
                  conditioning=conditioning, normal_factor=sol.factor)


def _bounded_linear_result(analysis: Analysis, dataset, cf: ClosedForm, box, precision: str) -> Outcome:
    """Bounded linear least squares solved exactly: the Stark-Parker active-set method on the column-scaled
    design (the ridge penalty as extra rows), then in mpmath for ``precision="high"``; the active set says
    which parameters are at a bound (``box``: the bounds along the flat vector, :class:`symopt.model.bounds.FlatBox`)."""
    objective = analysis.objective
    lower, upper = box.arrays()
    sol = solve_bounded_least_squares(objective, analysis.linear, dataset, lower, upper, precision)
    fun, g = value_and_gradient(Task(objective, analysis.derivation, dataset), sol.x)
    at = {name: side for name, side in zip(box.names, sol.active) if side is not None}
    shown = [f"{n} ({s})" for n, s in at.items()]
    more = f" and {len(shown) - SHOWN_AT_BOUND} more" if len(shown) > SHOWN_AT_BOUND else ""
    note = (f"bounded least squares, exact: the Stark-Parker active-set method (BVLS) on the column-scaled "
            f"design, {sol.iterations} active-set steps; "
            + (f"at a bound: {', '.join(shown[:SHOWN_AT_BOUND])}{more}" if at else "no bound active")
            + (f"; {sol.note}" if sol.note else ""))
    cf = ClosedForm(cf.status, cf.reason, cf.formula_text or analysis.linear.describe(objective.params), note,
                    pending=cf.pending)
    return Outcome(params=objective.form.unflatten(dataset, sol.x), x=sol.x, fun=fun, method="linear",
                  why="least squares linear in the parameters, with bounds: one exact bounded solve",
                  closed_form=cf, success=True, status="solved", message=note, nit=0,
                  grad_norm=float(np.max(np.abs(g))) if g.size else 0.0, history=np.array([fun]),
                  objective=objective, derivation=analysis.derivation, precision=precision,
                  backend=_closed_backend(precision), at_bound=at,
                  exact={} if sol.exact is None else {n: mpmath.nstr(v, 20) for n, v in zip(box.names, sol.exact)},
                  exact_x=() if sol.exact is None else sol.exact)


def symbolic_result(analysis: Analysis, dataset, precision: str, cf: ClosedForm, box=None, sums=None) -> Outcome:
    """The symbolic candidates evaluated on the data's statistics; the best one that passes its checks (and
    lies inside the bounds, ``box``). ``sums``: where the data are not in one array (Dask input), what gives the
    statistics' values and the objective's terms at a point (``statistics(objective, statistics)`` and
    ``terms(theta)``, :class:`symopt.distributed.solve.ChunkSums`)."""
    objective = analysis.objective
    if precision == "high":
        check_high_precision(dataset.n_rows, len(objective.params))
    if sums is None:
        stats = statistic_values(objective, analysis.statistics, dataset, precision)
    else:
        stats = sums.statistics(objective, analysis.statistics)
    candidates = check_candidates(objective, analysis.derivation, analysis.solutions, stats, dataset, precision,
                                  None if sums is None else sums.terms)
    if box:
        candidates = [_inside(c, box) for c in candidates]
    cf = ClosedForm(cf.status, cf.reason, cf.formula_text, f"statistics: {analysis.statistics.table()}",
                    tuple(candidates))
    accepted = [c for c in candidates if c.accepted]
    if not accepted:
        reasons = "; ".join(c.why for c in candidates)
        cf = ClosedForm("none", f"no candidate passed the checks ({reasons})", cf.formula_text, cf.detail,
                        cf.candidates)
        return Outcome(params={}, x=np.empty(0), fun=math.nan, method="symbolic",
                      why="symbolic candidates were all rejected", closed_form=cf, success=False,
                      status="no_valid_candidate", message=cf.reason, objective=objective,
                      derivation=analysis.derivation, precision=precision, backend=_closed_backend(precision))
    best = (max if objective.maximize else min)(accepted, key=lambda c: c.objective)
    x = np.array([best.values[p.name] for p in objective.params])
    g = gradient_at_point(Task(objective, analysis.derivation, dataset), x) if sums is None else sums.terms(x)[1]
    exact = {k: mpmath.nstr(v, 20) for k, v in best.exact.items()} if precision == "high" else {}
    return Outcome(params=dict(best.values), x=x, fun=best.objective, method="symbolic",
                  why="the stationarity equations separate into statistics of the data: a formula evaluated "
                      "after one pass",
                  closed_form=cf, success=True, status="solved", message=best.why, nit=0,
                  grad_norm=float(np.max(np.abs(g))), history=np.array([best.objective]), objective=objective,
                  derivation=analysis.derivation, precision=precision, exact=exact,
                  backend=_closed_backend(precision))


def _inside(candidate, box):
    """``candidate``, rejected with the reason where it lies outside the bounds."""
    outside = box.violations([candidate.values[name] for name in box.names]) if candidate.accepted else []
    if not outside:
        return candidate
    return replace(candidate, accepted=False, why=f"outside the bounds ({'; '.join(outside)}): the constrained "
                                                  f"optimum is not a stationary point")


def _closed_backend(precision: str) -> str:
    return "mpmath" if precision == "high" else "numpy"


def checked(result: Outcome, unused: str) -> Outcome:
    """A closed-form result, checked for non-finite numbers, and saying in ``why`` when a
    given optimizer or x0 played no part."""
    if unused:
        result = replace(result, why=f"{result.why} ({unused} given, not needed: method='iterative' "
                                     f"runs the optimizer)")
    if not result.success:
        return result
    if not np.all(np.isfinite(result.x)):
        return replace(result, success=False, status="nonfinite",
                       message="the closed form gave non-finite parameters: the model or the data overflow "
                               "double precision; rescale the data (or use precision='high')")
    if not math.isfinite(result.fun):
        return replace(result, message=f"{result.message}; the objective's value overflows double precision "
                                       f"here ({result.fun}) though the parameters are finite: rescale the data "
                                       f"to see it")
    return result

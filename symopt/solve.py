"""``solve``: analyse, then a closed form or generated code, then a ``Result``."""

from __future__ import annotations

import math
from dataclasses import replace

import mpmath
import numpy as np

from .analyse import DEFAULT_BUDGET, Analysis, analyse, check_budget
from .closed_form.linear import check_high_precision, solve_least_squares, solve_quadratic
from .closed_form.statistics import check_candidates, statistic_values
from .data import prepare
from .derive import derive
from .errors import ModelError, PrecisionError
from . import train
from .evaluate import gradient as gradient_at_point
from .evaluate import objective_terms, objective_value
from .optimizers import STATUS
from .objective import Objective
from .choose import check, choose
from .optimizers import Optimizer
from .result import ClosedForm, Result
from .run import layout, run_iterative, start_point, unflatten

METHODS = ("auto", "linear", "symbolic", "iterative")
PRECISIONS = ("double", "high")


def solve(objective: Objective, data, optimizer=None, method: str = "auto", precision: str = "double",
          x0=None, budget: float = DEFAULT_BUDGET, progress: bool = True) -> Result:
    """Find the optimum of ``objective`` on ``data``.

    ``method="auto"`` takes a linear closed form if the gradient is affine in
    the parameters, else a symbolic stationary point in sufficient statistics
    if one exists and passes its checks, else generated code running
    ``optimizer``. By default symopt chooses the optimizer (Levenberg-Marquardt
    for sums of squares, Newton up to 50 parameters, else L-BFGS; for a
    network, Adam with lr=1e-3, batches of 64, 20 epochs) and says why in
    ``Result.why``. ``"linear"``,
    ``"symbolic"`` and ``"iterative"`` insist on one way and say why when it
    does not apply. ``precision="high"`` evaluates closed forms in 50-digit
    (or more) arithmetic. ``x0``: a mapping from parameter names to values,
    or a flat array, for the iterative solver. ``budget``: seconds SymPy may
    spend solving the stationarity equations. ``progress``: show a progress
    bar when an iterative run takes more than a second.
    """
    if not isinstance(objective, Objective):
        raise ModelError(f"solve() takes a symopt.Objective first (for example symopt.squared_loss(model)), "
                         f"got {type(objective).__name__}")
    if method not in METHODS:
        raise ModelError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    if precision not in PRECISIONS:
        raise ModelError(f"precision must be 'double' or 'high'; got {precision!r}")
    if optimizer is not None and not isinstance(optimizer, Optimizer):
        raise ModelError(f"optimizer must be a symopt optimizer such as symopt.LBFGS(), got {optimizer!r}")
    if precision == "high" and method == "iterative":
        raise PrecisionError("precision='high' applies to closed forms; the iterative solver runs in double")
    check_budget(budget)
    dataset = prepare(objective, data)
    derivation = derive(objective)
    if x0 is not None and not objective.network:
        start_point(objective, dataset, x0)  # a bad x0 is an error even where a closed form makes it moot
    unused = " and ".join(name for name, given in (("an optimizer", optimizer), ("x0", x0)) if given is not None)
    symbolic = {"symbolic": True, "iterative": False, "linear": False}.get(method)
    analysis = analyse(objective, symbolic=symbolic, budget=budget, derivation=derivation)
    cf = ClosedForm(analysis.status, analysis.reason, "\n".join(analysis.formulas()) or None)

    if method in ("auto", "linear") and analysis.linear is not None:
        return _closed(_linear(analysis, dataset, precision, cf), unused)
    if method == "linear":
        raise ModelError(f"no linear closed form: {analysis.attempts[0].detail}")
    if method in ("auto", "symbolic") and analysis.solutions:
        result = _symbolic(analysis, dataset, precision, cf)
        if result.success or method == "symbolic":
            return _closed(result, unused)
        cf = result.closed_form  # keep the rejected candidates in the report
    elif method == "symbolic":
        raise ModelError(f"no symbolic closed form: {analysis.reason}")
    if precision == "high":
        raise PrecisionError(f"precision='high' needs a closed form, and there is none: {cf.reason}")
    if objective.network:
        return _network(objective, derivation, dataset, optimizer, x0, progress, cf)
    why = ("method='iterative' was requested" if method == "iterative"
           else f"no closed form: {cf.reason}")
    n_params = sum(size for _, size in layout(objective, dataset))
    if optimizer is None:
        optimizer, chosen = choose(objective, derivation, n_params)
        why += f"; chose {type(optimizer).__name__}: {chosen}"
    else:
        check(objective, derivation, optimizer, n_params)
        why += f"; {type(optimizer).__name__} as requested"
    run = run_iterative(objective, derivation, dataset, optimizer, x0, progress)
    status, success, message = run.status, run.success, run.message
    if success:
        verdict = saddle_verdict(objective, derivation, dataset, run.x)
        if verdict:
            status, success, message = "saddle_point", False, verdict
    return Result(unflatten(objective, dataset, run.x), run.x, run.fun, "iterative",
                  f"{why}; generated code", cf, success, status,
                  message, run.nit, run.grad_norm, run.history, run.source, run.source_path,
                  objective, derivation, optimizer, "double")


def _closed(result: Result, unused: str) -> Result:
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


#: The Hessian check after an iterative run is skipped above this many row-evaluations
#: (rows x Hessian entries) of the NumPy tree walker.
SADDLE_CHECK_MAX_WORK = 20_000_000


def saddle_verdict(objective, derivation, dataset, x) -> str:
    """Why ``x`` is a saddle point rather than the optimum asked for, or "" (a wide model, no
    Hessian, too big to check cheaply, or no sign of a saddle).

    A gradient-based run stops wherever the gradient vanishes; where it vanishes at a saddle
    (a = b = 0 for a*sin(b*x), say) only the Hessian tells. Eigenvalues below 1e-8 of the largest
    in size count as zero: a flat direction is not called a saddle.
    """
    p = len(x)
    if objective.wide or derivation.hessian is None or dataset.n_rows * p * (p + 1) // 2 > SADDLE_CHECK_MAX_WORK:
        return ""
    hess = objective_terms(objective, derivation, dataset, x)[3]
    if hess is None or not np.all(np.isfinite(hess)):
        return ""
    lam = np.linalg.eigvalsh(hess)
    tol = 1e-8 * float(np.max(np.abs(lam)))
    wrong = lam.max() if objective.maximize else lam.min()
    if (objective.maximize and wrong > tol) or (not objective.maximize and wrong < -tol):
        want = "maximum" if objective.maximize else "minimum"
        sign = "positive" if objective.maximize else "negative"
        return (f"the gradient is zero here but the Hessian has a {sign} eigenvalue ({wrong:.3g}; largest "
                f"{float(np.max(np.abs(lam))):.3g}): a saddle point, not a {want}. Start elsewhere with x0=")
    return ""


def _network(objective, derivation, dataset, optimizer, x0, progress, cf) -> Result:
    if optimizer is None:
        optimizer, chosen = train.default_optimizer()
        why = f"{cf.reason}; chose {chosen}"
    else:
        train.check_optimizer(optimizer)
        why = f"{cf.reason}; {type(optimizer).__name__} as requested"
    out = train.train(objective, derivation, dataset, optimizer, x0, progress)
    status, success, advice = STATUS[out["code"]]
    theta, stats, net = out["theta"], out["stats"], objective.model
    grad = train.gradient_at(out["module"], objective, dataset, theta, stats)
    return Result(net.unflatten(theta), theta, float(out["history"][-1]), "iterative",
                  f"{why}; generated forward and backward code", cf, success, status,
                  advice if success else f"{status}: {advice}", out["epochs"], float(np.max(np.abs(grad))),
                  out["history"], out["rendered"].source, out["path"], objective, derivation, optimizer, "double",
                  predictor=train.Predictor(out["module"], objective, theta, stats),
                  buffers=net.unflatten(stats, net.buffer_shapes()), diagnostics=out["diagnostics"])


def gradient(objective: Objective, data, params) -> dict:
    """The gradient of the total objective F (its reduction over all rows, plus the penalty) at ``params``, by name.

    ``params`` is a mapping from parameter names to values (``W1``, ``b1``, ... for a network)
    or a flat vector. For a network it comes from the generated backward pass.
    """
    if not isinstance(objective, Objective):
        raise ModelError(f"gradient() takes a symopt.Objective, got {type(objective).__name__}")
    dataset = prepare(objective, data)
    derivation = derive(objective)
    if objective.network:
        theta = train.start_vector(objective, params)
        module, _, _ = train.load(objective, derivation, train.default_optimizer()[0])
        return objective.model.unflatten(train.gradient_at(module, objective, dataset, theta))
    theta = start_point(objective, dataset, params, label="params")
    return unflatten(objective, dataset, gradient_at_point(objective, derivation, dataset, theta))


def _linear(analysis: Analysis, dataset, precision, cf) -> Result:
    objective = analysis.objective
    form = analysis.linear
    if form.kind == "least_squares":
        sol = solve_least_squares(objective, form, dataset, precision)
    else:
        sol = solve_quadratic(objective, form, dataset, precision)
    wanted = "maximum" if objective.maximize else "minimum"
    # F is at most quadratic here, so it has an optimum unless it is unbounded: there is no optimum exactly
    # when the stationary point has the wrong curvature, or there is no stationary point at all.
    success = sol.direction is None and sol.curvature.startswith(wanted)
    fun = objective_value(objective, dataset, sol.x)
    g = gradient_at_point(objective, analysis.derivation, dataset, sol.x)
    if sol.direction is not None:
        names = [name for name, _ in _names(objective, dataset)]
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
    cf = ClosedForm(cf.status, cf.reason, cf.formula or form.describe(objective.params), sol.note)
    exact = {} if sol.exact is None else {
        name: mpmath.nstr(v, 20) for (name, _), v in zip(_names(objective, dataset), sol.exact)}
    return Result(unflatten(objective, dataset, sol.x), sol.x, fun, "linear",
                  "the gradient is affine in the parameters: one linear solve", cf, success,
                  "solved" if success else "unbounded", message, 0, float(np.max(np.abs(g))) if g.size else 0.0,
                  np.array([fun]), None, None, objective, analysis.derivation, None, precision, exact)


def _names(objective, dataset):
    if objective.wide:
        m = dataset["X"].shape[1]
        base = [("intercept", 1)] if objective.model.intercept else []
        return base + [(f"coef[{j}]", 1) for j in range(m)]
    return [(p.name, 1) for p in objective.params]


def _symbolic(analysis: Analysis, dataset, precision, cf) -> Result:
    objective = analysis.objective
    if precision == "high":
        check_high_precision(dataset.n_rows, len(objective.params))
    stats = statistic_values(objective, analysis.statistics, dataset, precision)
    candidates = check_candidates(objective, analysis.derivation, analysis.solutions, stats, dataset, precision)
    cf = ClosedForm(cf.status, cf.reason, cf.formula, f"statistics: {analysis.statistics.table()}", tuple(candidates))
    accepted = [c for c in candidates if c.accepted]
    if not accepted:
        reasons = "; ".join(c.why for c in candidates)
        cf = ClosedForm("none", f"no candidate passed the checks ({reasons})", cf.formula, cf.detail, cf.candidates)
        return Result({}, np.empty(0), math.nan, "symbolic", "symbolic candidates were all rejected", cf, False,
                      "no_valid_candidate", cf.reason, objective=objective, derivation=analysis.derivation,
                      precision=precision)
    best = (max if objective.maximize else min)(accepted, key=lambda c: c.objective)
    x = np.array([best.values[p.name] for p in objective.params])
    g = gradient_at_point(objective, analysis.derivation, dataset, x)
    exact = {k: mpmath.nstr(v, 20) for k, v in best.exact.items()} if precision == "high" else {}
    return Result(dict(best.values), x, best.objective, "symbolic",
                  "the stationarity equations separate into statistics of the data: "
                  "a formula evaluated after one pass", cf, True, "solved", best.why, 0,
                  float(np.max(np.abs(g))), np.array([best.objective]), None, None, objective,
                  analysis.derivation, None, precision, exact)

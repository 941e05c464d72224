"""Is the point an iterative run stopped at the optimum asked for? The checks every optimizer's stop
goes through before it may be called a success.

* A stop on a small step (``xtol``, the precision floor) is a success only at a stationary
  point, judged on the problem's own scale (:func:`step_stop_verdict`).
  A stop at an exact or nearly exact fit, where F is at the rounding of the data, is judged against the
  gradient's own rounding level instead (:func:`gradient_rounding`): there no step can do better.
* A zero gradient is an optimum only where the curvature says so: not a saddle, not a plateau where the
  objective barely depends on the parameters at all, and not a ridge the parameters ran off along, where
  the gradient vanishes only in the limit (:func:`curvature_verdict`).
* An objective with kinks (``abs``, ``sign``, ``Heaviside``, ``max``, ``min``, ``Piecewise`` of an argument that
  depends on the parameters: :mod:`symopt.symbolic.kinks`)
  is not differentiable where an argument is 0, and its Hessian is 0 or undefined between and at the kinks:
  the verdicts above cannot confirm an optimum there, and say so (:func:`kink_verdict`).
"""

from __future__ import annotations

import numpy as np

from ..derivation.totals import objective_size
from ..symbolic.kinks import kinks
from ..symbolic.numeric import evaluate
from .starts import SUGGESTED_STARTS

#: A step-size stop is at a stationary point when no parameter's relative change moves F by more than this
#: fraction of the objective's own size (first order): max_j |theta_j dF/dtheta_j| <= STATIONARY_TOL x
#: size(F), size the reduction of |l_i| plus |penalty|. Measured at the stops of the 54 NIST nonlinear runs:
#: at most 3.4e-4 (Lanczos2, fitted to F = 1e-12), below 1e-6 for most; at the false stops of a*exp(-b*x) + c
#: started at a = 0, b = 0, c = 1 (the parameters run off to 1e7 where a and c cancel): 0.11 and 2.7.
STATIONARY_TOL = 1e-2
#: A step-size stop whose parameters grew to more than RUNOFF times the start's size (or 1) has run off along a
#: valley (a*exp(-b*x) + c with a and c cancelling at 1e7: the model has degenerated to a line, residuals
#: orthogonal to the Jacobian's columns, a stationary point only of the limit); there it is judged against
#: RUNOFF_TOL. Measured at such stops, which differ run to run with the order of the threads' sums: relative
#: changes 0.009, 0.071 and 14; 54 NIST nonlinear runs stay within 10x of their starts.
RUNOFF = 1e6
RUNOFF_TOL = 1e-4
#: A least-squares fit this close to exact (F below this fraction of its start) is at the rounding floor,
#: where the relative test above means nothing (the generated Levenberg-Marquardt uses the same bound).
EXACT_FIT = 1e-20
#: Eigenvalues of the Hessian below this fraction of the largest in size count as zero: a flat direction is
#: not called a saddle.
FLAT_EIGENVALUE = 1e-8
#: A plateau: every relative change of the parameters moves F by less than this fraction of its size, to
#: second order (the eigenvalues of D H D, D = diag(|theta_j|, or 1 where theta_j = 0), all below PLATEAU_TOL x
#: size(F) in size): the objective barely depends on the parameters.
#: Measured: 1e-10 where Newton stopped on lmfit's double-exponential example (the model 0 on every row).
PLATEAU_TOL = 1e-8
#: The Hessian check is skipped above this many row-evaluations (rows x Hessian entries) of the NumPy tree
#: walker.
CURVATURE_CHECK_MAX_WORK = 20_000_000
#: The gradient's rounding level at theta (:func:`gradient_rounding`) is measured by moving theta by this many
#: units in the last place of each parameter, in ROUNDING_PROBES sign patterns: a computed optimum is off the
#: exact one by about one unit, so a gradient no larger than what a few units change is at the floor.
ROUNDING_ULPS = 4.0
ROUNDING_PROBES = 3
#: A step-size stop is stationary where every gradient component is within ROUNDING_FACTOR times its rounding
#: level, however small F is. There the parameters are within about ROUNDING_FACTOR units in the last place
#: (times the condition of the Hessian) of a point with a zero gradient. Measured on a*exp(b*x) fitted to 40
#: points with noise 1e-9 (F = 1e-18: the 1% test read 1.1e4 x size(F) and said stalled): 0.3 to 2 at the
#: stops of both backends and of the linear model a + b*x solved iteratively; at the false stops of
#: tests/system/test_statuses.py (run off to 1e7, judged by RUNOFF_TOL before this test) 1e5 and more.
ROUNDING_FACTOR = 100.0
#: A run whose largest parameter ended beyond RIDGE_RUNOFF times the start's size (or 1), at a point with one
#: direction of the plateau test (an eigenvalue of D H D below PLATEAU_TOL x size(F)), stopped on a ridge:
#: a*sin(b*x) at a = 3e7, b = -5.7e-9 is the line (a*b)*x, and a 100% change along its flat direction moves F
#: by 8e-11 of its size; the gradient is zero only in the limit a -> inf. Measured where a parameter is as
#: large legitimately: NIST Longley's intercept, -3.5e6 from a start of 0, has 5e-3 along its flattest
#: direction (its Hessian is ill-conditioned, 5e-12 between extreme scaled eigenvalues, but not flat).
RIDGE_RUNOFF = RUNOFF
#: A row sits on a kink when its argument is below this fraction of the largest argument in size (sqrt(eps):
#: a line search that cannot cross a kink ends about that close to it).
AT_KINK = float(np.sqrt(np.finfo(float).eps))
#: What to use instead of a loss with a kink, in the advice.
SMOOTH_ADVICE = ("use a smooth loss: squared_loss, or a smooth version of abs(u) such as sqrt(u**2 + d**2) - d "
                 "(pseudo-Huber, d small against the residuals' scale)")


def step_stop_verdict(task, theta, grad, fun, start_fun, names, start_size: float = 0.0) -> str:
    """Why a stop on a small step at ``theta`` (gradient ``grad``, objective ``fun``; ``start_fun`` at the
    start, ``start_size`` its largest parameter in size; ``names`` one per entry of ``theta``) is not at a
    stationary point, or "" if it is (or cannot be judged).

    A stop that fails the relative test (:data:`STATIONARY_TOL`) but did not run off is still stationary
    where the gradient is at its rounding level (:func:`gradient_rounding`): an
    exact fit, where F is at the rounding of the data and the relative test compares with nothing. An
    objective with kinks gets the advice of :func:`kink_verdict` instead."""
    objective, dataset = task.objective, task.dataset
    if objective.sum_of_squares() is not None and abs(fun) <= EXACT_FIT * abs(start_fun):
        return ""
    with np.errstate(all="ignore"):
        # A network's per-row losses (squared, log, cross-entropy) and its penalty are >= 0: its size is F.
        size = objective_size(objective, dataset, theta) if objective.form.evaluable else abs(fun)
        moves = np.abs(np.asarray(theta) * np.asarray(grad))
    if not (np.all(np.isfinite(moves)) and np.isfinite(size)) or moves.size == 0:
        return ""
    worst = int(np.argmax(moves))
    relative = float(moves[worst]) / max(size, 1e-300)
    largest = float(np.max(np.abs(theta)))
    ran_off = largest > RUNOFF * max(1.0, start_size)
    tol = RUNOFF_TOL if ran_off else STATIONARY_TOL
    if relative <= tol:
        return ""
    if not ran_off and objective.form.evaluable:
        rounding = gradient_rounding(task, theta)
        if rounding is not None and np.all(np.abs(grad) <= ROUNDING_FACTOR * rounding):
            return ""
    kink = kink_verdict(objective, dataset, theta)
    if kink is not None:
        return kink[1]
    cause = (f"the parameters ran off to size {largest:.3g} where they cancel or flatten the model: a poor start; "
             f"give x0= nearer the answer, or try many starts (starts={SUGGESTED_STARTS})" if largest > 1e6 else
             f"a poor start or a badly scaled problem; give x0= nearer the answer, try many starts "
             f"(starts={SUGGESTED_STARTS}), or scale the data")
    return (f"the steps became too small to go on, but this is no stationary point: a 1% change of "
            f"{names[worst]} still moves F by {relative * 1e-2:.2g} of its size (|{names[worst]} * dF/d{names[worst]}| "
            f"= {relative:.2g} x size(F), above {tol:g}); likely cause: {cause}")


def gradient_and_size(task, theta) -> tuple[np.ndarray, np.ndarray]:
    """The gradient of F at ``theta`` from its per-row terms (NumPy), and per component the sum of the
    terms' sizes (the reduction and the penalty included): the size its rounding is relative to."""
    objective, derivation, dataset = task
    total = size = 0.0
    for _, terms in objective.form.row_gradients(derivation, dataset, theta):
        total = total + terms.sum(axis=0)
        size = size + np.abs(terms).sum(axis=0)
    scale = 1.0 / dataset.n_rows if objective.reduction == "mean" else 1.0
    sign = -1.0 if objective.maximize else 1.0
    pen = 2.0 * sign * objective.l2 * objective.form.penalty_mask(dataset) * theta
    return scale * total + pen, scale * size + np.abs(pen)


def gradient_rounding(task, theta) -> np.ndarray | None:
    """Per component, the gradient's rounding level at ``theta``: how far it moves when theta moves by
    :data:`ROUNDING_ULPS` units in the last place (the largest change over :data:`ROUNDING_PROBES` seeded
    sign patterns: the Hessian times theta's own rounding), plus machine epsilon times the sum of its
    per-row terms' sizes (the summation's rounding). None where it is not finite.

    At an exact fit (noise 1e-9 on 40 points: F = 1e-18) the gradient left by theta's rounding, 1e-14, is
    ten thousand times F: F is no scale to judge it by, and this is."""
    theta = np.asarray(theta, dtype=float)
    rng = np.random.default_rng(0)
    with np.errstate(all="ignore"):
        try:
            g0, size = gradient_and_size(task, theta)
            moved = np.zeros_like(g0)
            for _ in range(ROUNDING_PROBES):
                signs = rng.choice((-1.0, 1.0), size=theta.size)
                step = ROUNDING_ULPS * np.spacing(np.abs(theta)) * signs
                moved = np.maximum(moved, np.abs(gradient_and_size(task, theta + step)[0] - g0))
        except (ArithmeticError, ValueError):
            return None
        level = moved + np.finfo(float).eps * size
    return level if np.all(np.isfinite(level)) else None


def hessian_at(task, x) -> np.ndarray | None:
    """The Hessian of F at ``x`` from the derivation (:meth:`symopt.model.kinds.base.Form.hessian`), or None where the
    form has none, it is not finite, or the data are too big to form it cheaply
    (:data:`CURVATURE_CHECK_MAX_WORK` row-evaluations)."""
    objective, derivation, dataset = task
    p = len(x)
    if derivation.hessian is None or dataset.n_rows * p * (p + 1) // 2 > CURVATURE_CHECK_MAX_WORK:
        return None
    with np.errstate(all="ignore"):
        hess = objective.form.hessian(derivation, dataset, np.asarray(x, dtype=float))
    return hess if hess is not None and np.all(np.isfinite(hess)) else None


def curvature_verdict(task, x, hess=None, start=None) -> tuple[str, str] | None:
    """``(status, message)`` if the zero-gradient point ``x`` is a saddle (``"saddle_point"``), a plateau
    (``"plateau"``), a ridge (``"ridge"``) or a point of an objective with kinks that the curvature cannot
    judge (``"not_differentiable"``, :func:`kink_verdict`) rather than the optimum asked for; None if it is
    none of these, or for a wide model, no Hessian, or data too big to check cheaply.

    A gradient-based run stops wherever the gradient vanishes; where it vanishes on a plateau (a model
    that is 0 on every row, whatever its amplitudes: tested first, as its tiny eigenvalues have either
    sign) or at a saddle (a = b = 0 for a*sin(b*x), say), only the Hessian tells. ``hess``: the Hessian at
    ``x`` where the caller has it (:func:`hessian_at`). ``start``: where the run started (flat), for the
    ridge test (:data:`RIDGE_RUNOFF`): without it there is none.
    """
    objective, dataset = task.objective, task.dataset
    if not objective.form.per_parameter:
        return None
    hess = hessian_at(task, x) if hess is None else hess
    kinks = kink_arguments(objective)
    if hess is None:
        return kink_verdict(objective, dataset, x) if kinks else None
    lam = np.linalg.eigvalsh(hess)
    tol = FLAT_EIGENVALUE * float(np.max(np.abs(lam)))
    want = "maximum" if objective.maximize else "minimum"
    x = np.asarray(x, dtype=float)
    size = objective_size(objective, dataset, x)
    scale = np.where(x != 0.0, np.abs(x), 1.0)
    scaled = np.linalg.eigvalsh(scale[:, None] * hess * scale[None, :])
    curvature = float(np.max(np.abs(scaled)))
    if kinks:
        kink = kink_verdict(objective, dataset, x, flat=np.isfinite(size) and curvature <= PLATEAU_TOL * size)
        if kink is not None:
            return kink
    if np.isfinite(size) and size > 0 and curvature <= PLATEAU_TOL * size:
        return "plateau", (f"the gradient is zero here because the objective barely depends on the parameters: "
                           f"changing them by 100% moves F by at most {curvature / size:.2g} of its size "
                           f"(to second order), a plateau, not a {want} (a model that is flat on the data, "
                           f"saturated or zero on every row?). Start elsewhere with x0=, or from many "
                           f"starts (starts={SUGGESTED_STARTS})")
    wrong = lam.max() if objective.maximize else lam.min()
    if (objective.maximize and wrong > tol) or (not objective.maximize and wrong < -tol):
        sign = "positive" if objective.maximize else "negative"
        return "saddle_point", (f"the gradient is zero here but the Hessian has a {sign} eigenvalue ({wrong:.3g}; "
                                f"largest {float(np.max(np.abs(lam))):.3g}): a saddle point, not a {want}. Start "
                                f"elsewhere with x0=, or from many starts (starts={SUGGESTED_STARTS})")
    if start is not None and x.size:
        largest = float(np.max(np.abs(x)))
        start_size = float(np.max(np.abs(start))) if np.size(start) else 0.0
        weakest = float(np.min(np.abs(scaled)))
        if largest > RIDGE_RUNOFF * max(1.0, start_size) and np.isfinite(size) and weakest <= PLATEAU_TOL * size:
            names = objective.form.flat_names(dataset)
            big = names[int(np.argmax(np.abs(x)))]
            return "ridge", (f"the gradient is zero here only in the limit: the parameters ran off to size "
                             f"{largest:.3g} ({big}; the start's largest was {start_size:.3g}) along a direction "
                             f"where F is flat (changing the parameters by 100% along it moves F by "
                             f"{weakest / size:.2g} of its size, to second order): a ridge "
                             f"where the model degenerates (parameters that cancel, or one that grows as another "
                             f"shrinks), not a {want}. Start elsewhere with x0=, or from many starts "
                             f"(starts={SUGGESTED_STARTS})")
    return None


def kink_arguments(objective) -> tuple:
    """The kinks of the per-sample objective (:class:`symopt.symbolic.kinks.Kink`: a call of ``abs``, ``sign``,
    ``Heaviside``, ``max``, ``min`` or ``Piecewise`` and its argument that depends on a parameter, not
    differentiable where that argument is 0), in a fixed order."""
    return kinks(objective.per_sample, objective.params)


def kink_advice(objective) -> str:
    """What to do about a stop on a kink: for a quantile loss (whose optimum lies on kinks by nature), what was
    done and the exact route; for any other objective, a smooth loss (:data:`SMOOTH_ADVICE`)."""
    robust = getattr(objective, "robust", None)
    if robust is not None and robust.loss == "quantile":
        return ("a quantile loss has its optimum on kinks (residuals of 0), so this is expected: L-BFGS ran until "
                "its steps stalled on them, and its point is not certified. On a model linear in its parameters "
                "(a LinearModel, without l2) symopt solves it exactly as a linear programme instead; here, try "
                "other starts (starts=) to compare")
    return SMOOTH_ADVICE


def kink_verdict(objective, dataset, x, flat: bool = False) -> tuple[str, str] | None:
    """``("not_differentiable", message)`` where ``x`` sits on a kink of the objective (a row's kink argument
    within :data:`AT_KINK` of the largest in size), or where ``flat`` (the curvature of F is 0 here: between
    its kinks the objective is linear); None otherwise, or where the objective has no kinks. An objective whose
    kinks are in its curvature only (a Huber loss: once continuously differentiable, ``smooth_gradient`` in its
    ``robust`` record) is judged by its gradient as any other, so only ``flat`` applies to it."""
    found = kink_arguments(objective)
    if not found or not objective.form.per_parameter:
        return None
    robust = getattr(objective, "robust", None)
    if robust is not None and robust.smooth_gradient and not flat:
        return None
    values = {s: dataset[s.name] for s in objective.data_symbols}
    values.update(zip(objective.params, np.asarray(x, dtype=float)))
    nearest = None  # (relative size, argument, row)
    with np.errstate(all="ignore"):
        for kink in found:
            arg = kink.argument
            try:
                u = np.abs(np.broadcast_to(np.asarray(evaluate(arg, values), dtype=float), (dataset.n_rows,)))
            except (ArithmeticError, ValueError):
                continue
            top = float(np.max(u)) if u.size and np.all(np.isfinite(u)) else np.nan
            # the argument's size on the data, or that of the parameters in it (abs(a) reads no data, and
            # sits on its kink at a = 0 on every row)
            scale = max(top, max((abs(float(values[q])) for q in arg.free_symbols & set(objective.params)),
                                 default=0.0))
            if not np.isfinite(scale):
                continue
            row = int(np.argmin(u))
            relative = float(u[row] / scale) if scale > 0 else 0.0
            if nearest is None or relative < nearest[0]:
                nearest = (relative, arg, row)
    words = ", ".join(str(k.argument) for k in found[:3]) + (", ..." if len(found) > 3 else "")
    calls = ", ".join(sorted({k.name for k in found}))
    where = "" if dataset.n_rows == 1 else f" at row {nearest[2]}" if nearest is not None else ""
    if nearest is not None and nearest[0] <= AT_KINK:
        return "not_differentiable", (
            f"the objective is not differentiable at this point: it has kinks ({calls}) where these arguments are 0 "
            f"({words}), "
            f"and {nearest[1]} is {nearest[0]:.2g} of its largest size{where if nearest[1].free_symbols - set(objective.params) else ''} here. At a kink the gradient jumps "
            f"and the Hessian is undefined, so neither a small gradient nor the curvature can confirm a "
            f"{'maximum' if objective.maximize else 'minimum'}, and gradient-based steps stall; "
            f"{kink_advice(objective)}")
    if flat:
        return "not_differentiable", (
            f"the gradient-based verdicts cannot judge this point: the objective has kinks ({calls}) where these "
            f"arguments are 0 ({words}) and is linear between them (its curvature is 0 here and lives at the "
            f"kinks, where it is not differentiable), so a zero Hessian says nothing about an optimum; "
            f"{kink_advice(objective)}")
    return None

"""``verify``: the closed form, the iterative solver from several starts and a reference library, side by side.

For one problem on one data set, :func:`verify` puts together

- the closed-form solution, where the problem has one (linear or symbolic);
- the iterative solution from the given (or default) start;
- the iterative solutions from other starts (:data:`DEFAULT_STARTS` in all, or ``starts=``): the default
  start where ``x0`` was given, one drawn around the first start as ``solve(..., starts=N)`` draws
  (:meth:`symopt.model.kinds.base.Form.draw_start`), and the rest spread over the plausible range around the first
  start and the solution (:func:`symopt.run.starts.spread_points`: each parameter within +-max(10 |x|, 1)),
  so that a check is not confined to the basin of the answer it checks;
- a reference fit by another library where one applies (:mod:`symopt.trust.references`), started from symopt's
  own start search (the default start, or ``x0``, then the draws ``starts=`` would make: never the
  result), until it converges; a reference that did not converge (judged by the stationarity verdicts
  of :mod:`symopt.run.stationary`) is reported as such and not compared;
- the gradient check of the code that runs (:func:`symopt.check_gradient`),

each with its parameters, objective value and largest gradient component, all evaluated by the same code
(what :meth:`symopt.Problem.value_and_grad` runs).

``Verification.ok`` says the answer stands: symopt's own solutions (the closed form, the iterative one from
the first start, or the result verified) succeeded and agree to at least :data:`MIN_DIGITS` significant
digits with each other and with the converged reference; at least one other solution confirms the best
of them; no other start or reference reached a better F; and the gradient is right. Another start that
ends at a different, worse local optimum, or fails, is reported but does not make the verdict NOT OK (it
says the objective is not convex, not that the answer is wrong). ``Verification.digits`` is the fewest
significant digits on which the solutions compared agree with the best of symopt's (componentwise, as
NIST's log relative error; a component near 0 is compared on the scale of the largest). The verdict says
what agrees, or what does not, by how much, and the likely reason; and where the best F is worse than the
constant model's (:mod:`symopt.stats.baseline`), says that too.

A quantile regression solved as a linear programme is judged by what an LP optimum offers instead of a zero
gradient (:mod:`symopt.trust.quantile_check`): its minimum-norm subgradient, 0 at an optimum, shown as each
solution's largest gradient component, and scikit-learn's ``QuantileRegressor`` as the reference; the iterative
runs are other ways there, not answers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..derivation.task import Task
from ..errors import ModelError
from ..model.penalties import l1_subgradient
from ..numerics.sizes import check_seed
from ..run.loop import starting_point
from ..run.starts import SUGGESTED_STARTS, check_starts, spread_points, start_points
from ..run.stationary import curvature_verdict, step_stop_verdict
from ..stats import baseline
from ..symbolic.escape import markdown_escape
from ..symbolic.show import params_line
from .agreement import MAX_DIGITS, SAME_F, agreement
from .agreement import best as _best
from .agreement import better as _better
from .gradcheck import GradientCheck, check_gradient
from . import quantile_check
from .references import reference_fit

#: Solutions that agree on fewer significant digits than this are reported as disagreeing.
MIN_DIGITS = 6.0
#: Starts of the iterative solver in all, by default: the first (x0 or the default start) and three others
#: (see the module's text). One other start, drawn near the first, landed in the same basin as a bad local
#: optimum of sin(w*x) and called it verified (issue 26); spread ones find the better optima of the zero
#: model and of the right frequency.
DEFAULT_STARTS = 4
#: How many starts of symopt's start search an iterative reference may take before it is reported as not
#: converged: SciPy's least_squares from the default start of a*exp(b*x) + c (b = 0, where a and c are
#: confounded) runs off to a = -8.5e6, c = 8.5e6; from the next draw it converges.
REFERENCE_STARTS = 5


@dataclass(frozen=True)
class Solution:
    """One way of solving the problem and what it reached."""

    label: str  # "closed form (linear)", "iterative (Newton) from the default start", "statsmodels OLS", ...
    params: dict
    x: np.ndarray
    fun: float
    max_gradient: float  # largest |component| of the gradient of F at x
    success: bool
    status: str
    result: object = None  # the symopt.Result, for symopt's own solutions
    #: "answer" (symopt's own: the closed form, the iterative run from the first start, the result verified),
    #: "start" (the iterative run from another start) or "reference" (another library's).
    role: str = "answer"


@dataclass(frozen=True)
class Verification:
    """What :func:`verify` found; ``print`` it, or ``to_markdown()``."""

    solutions: tuple
    reference: str  # the reference used, or why there is none
    digits: float  # nan where fewer than two solutions succeeded
    ok: bool
    verdict: str
    gradient_check: GradientCheck | None = None

    def __str__(self) -> str:
        width = max(len(s.label) for s in self.solutions) if self.solutions else 10
        lines = [f"verification: {'ok' if self.ok else 'NOT OK'}: {self.verdict}", f"  reference: {self.reference}"]
        for s in self.solutions:
            lines.append(f"  {s.label:<{width}}  F = {s.fun:.15g}  max |gradient| = {s.max_gradient:.3g}  {s.status}")
            lines.append(f"  {'':<{width}}  {params_line(s.params, 12)}")
        if self.gradient_check is not None:
            lines += ["  " + line for line in str(self.gradient_check).splitlines()]
        return "\n".join(lines)

    def to_markdown(self) -> str:
        rows = [f"**Verification: {'ok' if self.ok else 'not ok'}.** {markdown_escape(self.verdict)}", "",
                f"Reference: {markdown_escape(self.reference)}", "",
                "| solution | F | max abs gradient | status | parameters |", "|---|---|---|---|---|"]
        for s in self.solutions:
            rows.append(f"| {markdown_escape(s.label)} | {s.fun:.15g} | {s.max_gradient:.3g} | "
                        f"{markdown_escape(s.status)} | {markdown_escape(params_line(s.params, 12))} |")
        text = "\n".join(rows) + "\n"
        if self.gradient_check is not None:
            text += "\n" + self.gradient_check.to_markdown()
        return text

    _repr_markdown_ = to_markdown


def check_arguments(gradient, seed) -> None:
    """Refuse a ``gradient`` that is not True or False, or a ``seed`` that is not a whole number >= 0 (or None),
    before :func:`symopt.verify` solves anything (the others are checked where they are read)."""
    if not isinstance(gradient, (bool, np.bool_)):
        raise ModelError(f"verify: gradient must be True or False (whether to check the gradient too), got "
                         f"{gradient!r}")
    check_seed("verify", seed)


def verify(problem, dataset, x0=None, reference: str | None = "auto", gradient: bool = True, seed: int = 0,
           result=None, starts: int | None = None) -> Verification:
    """Solve ``problem`` (a :class:`symopt.Problem`) on the prepared ``dataset`` every way symopt and an
    installed reference library can, and compare; :func:`symopt.verify` is the front door and says what
    the arguments mean. ``result``: a solved :class:`symopt.Result` that takes the place of the solve by
    its own method (what :meth:`symopt.Result.verify` passes). ``starts``: the iterative solver's starts in
    all (None: :data:`DEFAULT_STARTS`)."""
    if reference not in ("auto", None):
        raise ModelError(f"reference must be 'auto' (the library fit for this problem's shape) or None (no "
                         f"reference), got {reference!r}")
    starts = DEFAULT_STARTS if starts is None else starts
    check_starts(starts, seed)
    objective = problem.objective
    form = objective.form
    rng = np.random.default_rng(seed)
    box = problem.box.flat(form, dataset) if problem.box else None  # bounds: every start inside them
    with np.errstate(all="ignore"):
        task = Task(objective, problem.derivation, dataset)
        first = starting_point(task, x0)
        default = starting_point(task, None) if x0 is not None else None
    if box:
        first = box.inside(first, default=x0 is None)
        default = None if default is None else box.inside(default, default=True)

    quantile = quantile_check.applies(objective)

    def evaluated(label, x, success, status, res=None, role="answer"):
        with np.errstate(all="ignore"):
            fun, grad = problem.flat_value_and_grad(dataset, x)
        if objective.l1:  # the minimum-norm subgradient: 0 at an optimum of the penalised problem
            grad = l1_subgradient(objective, dataset, np.asarray(x, dtype=float), grad)
        elif quantile:  # the same for a quantile regression (symopt.trust.quantile_check)
            found = quantile_check.subgradient(objective, dataset, x)
            grad = grad if found is None else found[0]
        return Solution(label, form.unflatten(dataset, x), np.asarray(x, dtype=float), float(fun),
                        float(np.max(np.abs(grad))) if grad.size else 0.0, bool(success), status, res, role)

    def own(label, res, role="answer"):
        return evaluated(label, res.x, res.success, res.status, res, role)

    solutions = []
    if result is not None and result.method != "iterative":
        solutions.append(own(f"this result: closed form ({result.method})", result))
    elif result is None and problem.runs_closed_form:
        closed = problem.solve(dataset, progress=False)
        if closed.method != "iterative":
            solutions.append(own(f"closed form ({closed.method})", closed))
    iterative = problem.variant(method="iterative")
    # where the problem's own route is the linear programme, the iterative solver is another way, not the answer:
    # on kinks it cannot reach the optimum (symopt.trust.quantile_check)
    lp = any(s.result is not None and s.result.method == "lp" for s in solutions)
    if result is not None and result.method == "iterative":
        ran = type(result.optimizer).__name__ if result.optimizer is not None else "SLSQP with the constraints"
        solutions.append(own(f"this result: iterative ({ran})", result))
    else:
        run = iterative.solve(dataset, x0=first, progress=False)
        start = "x0" if x0 is not None else "the default start"
        solutions.append(own(f"iterative ({type(run.optimizer).__name__}) from {start}", run,
                             role="start" if lp else "answer"))
    answer = _best(objective, [s for s in solutions if s.success and np.all(np.isfinite(s.x))]) or solutions[-1]
    for label, point in _other_starts(form, dataset, first, default, answer.x, starts - 1, rng, seed, box):
        run = iterative.solve(dataset, x0=point, progress=False)
        solutions.append(own(f"iterative ({type(run.optimizer).__name__}) from {label}", run, role="start"))
    if reference is None:
        reference_words = "none (reference=None)"
    else:
        search = start_points(form, dataset, first, REFERENCE_STARTS, seed)
        if box:
            search = (box.inside(point, default=True) for point in search)
        fit = reference_fit(objective, problem.analysis, dataset, search, box.arrays() if box else None,
                            judge=_stationarity(problem, dataset, box))
        if fit.x is None:
            reference_words = f"none: {fit.reason}"
        else:
            reference_words = fit.name
            status = "reference" if fit.converged else f"did not converge: {fit.reason}"
            solutions.append(evaluated(fit.name, fit.x, fit.converged, status, role="reference"))
    check = check_gradient(problem, dataset, params=first if x0 is not None else None, seed=seed) if gradient else None
    judged = quantile_check.judge(objective, dataset, solutions) if quantile else None
    digits, verdict, ok = judged if judged is not None else _judge(objective, solutions)
    answer = _best(objective, [s for s in solutions if s.success and s.role == "answer"])
    worse = baseline.worse_than_constant(objective, dataset, answer)
    if worse:
        verdict += f"; {worse}"
    ok = ok and (check is None or check.ok)
    if check is not None and not check.ok:
        verdict += f"; and {check.verdict}"
    return Verification(tuple(solutions), reference_words, digits, ok, verdict, check)


def _other_starts(form, dataset, first, default, answer, count: int, rng, seed, box):
    """``(label, point)`` for the other starts: the default start (where ``x0`` was given and it differs),
    one drawn around the first start as ``solve(..., starts=N)`` draws, then draws spread over the plausible
    range around the first start and the answer, in turn; inside the bounds where there are any."""
    points = []
    if default is not None and count > len(points) and not np.array_equal(default, first):
        points.append(("the default start", default))
    if count > len(points):
        near = form.draw_start(dataset, first, rng)
        points.append((f"a start drawn near the first (seed {seed})", box.inside(near, default=True) if box else near))
    bounds = box.arrays() if box else None
    centres = [first] if not np.all(np.isfinite(answer)) or np.array_equal(answer, first) else [first, answer]
    spreads = [spread_points(form, dataset, c, count, rng, bounds) for c in centres]
    k = 0
    while count > len(points):
        k += 1
        points.append((f"spread start {k} (seed {seed})", next(spreads[(k - 1) % len(centres)])))
    return points


def _stationarity(problem, dataset, box):
    """``judge(x, start) -> ""`` where ``x`` is a stationary point (by :mod:`symopt.run.stationary`'s verdicts, as
    for symopt's own runs: the step-stop test from ``start``, the curvature verdict), else why not."""
    objective = problem.objective
    task = Task(objective, problem.derivation, dataset)
    names = objective.form.flat_names(dataset)
    sign = -1.0 if objective.maximize else 1.0

    def judge(x, start) -> str:
        x, start = np.asarray(x, dtype=float), np.asarray(start, dtype=float)
        if quantile_check.applies(objective) and not box:  # on kinks: optimal by its subgradient instead
            found = quantile_check.subgradient(objective, dataset, x)
            if found is not None:
                size = float(np.max(np.abs(found[0]), initial=0.0))
                return "" if size <= quantile_check.OPTIMAL * found[1] else (
                    f"0 is not in the subdifferential there (the minimum-norm subgradient's largest component is "
                    f"{size:.2g})")
        with np.errstate(all="ignore"):
            try:
                fun, grad = problem.flat_value_and_grad(dataset, x)
                start_fun = problem.flat_value_and_grad(dataset, start)[0]
            except (ArithmeticError, ValueError) as exc:
                return f"the objective cannot be evaluated there ({type(exc).__name__})"
        if not (math.isfinite(fun) and np.all(np.isfinite(grad))):
            return "F or its gradient is not finite where it stopped"
        if box:
            lower, upper = box.arrays()
            near = lambda b: np.isfinite(b) & (np.abs(x - b) <= 1e-8 * np.maximum(1.0, np.abs(b)))  # noqa: E731
            held = (near(lower) & (sign * grad > 0)) | (near(upper) & (sign * grad < 0))
            grad = np.where(held, 0.0, grad)
        start_size = float(np.max(np.abs(start))) if start.size else 0.0
        why = step_stop_verdict(task, x, grad, float(sign * fun), float(sign * start_fun), names, start_size)
        if why:
            return why
        if not box:
            with np.errstate(all="ignore"):
                found = curvature_verdict(task, x, start=start)
            if found is not None:
                return f"{found[0]}: {found[1]}"
        return ""

    return judge


def _judge(objective, solutions) -> tuple[float, str, bool]:
    """``(digits, verdict, ok)``: how far the solutions agree with the best of symopt's answers, and why not
    where they do not (see the module's text)."""
    answers = [s for s in solutions if s.role == "answer"]
    failed = [s for s in answers if not s.success]
    notes = [f"{s.label} failed ({s.status})" for s in failed]
    good = [s for s in answers if s.success]
    others = [s for s in solutions if s.role != "answer"]
    fell = [s for s in others if not s.success]
    if fell:
        notes.append(f"{len(fell)} of the other solutions did not succeed, and are not compared: "
                     + "; ".join(f"{s.label} ({s.status.split(': ')[0]})" for s in fell))
    best = _best(objective, good)
    if best is None:
        verdict = "none of symopt's own solutions succeeded, so there is nothing to verify"
        return math.nan, "; ".join([verdict, *notes]), False
    better = [s for s in others if s.success and _better(objective, s, best) and agreement(s.x, best.x) < MIN_DIGITS]
    compared, local = [], []
    for s in others:
        if not s.success or s in better:
            continue
        digits = agreement(s.x, best.x)
        f_digits = agreement(np.array([s.fun]), np.array([best.fun]))
        (compared if digits >= MIN_DIGITS or f_digits >= 10 else local).append(s)
    scored = sorted(((agreement(s.x, best.x), s) for s in [*good, *compared, *better] if s is not best),
                    key=lambda t: t[0])
    if better:
        top = _best(objective, better)
        word = "higher" if objective.maximize else "lower"
        verdict = (f"{top.label} reached a {word} F = {top.fun:.10g} than {best.label}'s {best.fun:.10g}, at another "
                   f"point ({params_line(top.params)}): the answer is only a local optimum; start there (x0=) or try "
                   f"many starts, solve(..., starts={SUGGESTED_STARTS})")
        return scored[0][0], "; ".join([verdict, *notes]), False
    if not scored:
        verdict = (f"nothing confirms {best.label}: no other solution reached its optimum"
                   + (f" ({len(local)} other start(s) ended at worse local optima: the objective is not convex)"
                      if local else ""))
        return math.nan, "; ".join([verdict, *notes]), False
    digits, worst = scored[0]
    if digits >= MIN_DIGITS:
        names = [s.label for s in solutions if s is best or any(s is t for _, t in scored)]
        together = ", ".join(names[:-1]) + " and " + names[-1]
        verdict = f"{together} agree to {digits:.1f} digits (the worst parameter)"
        if digits >= MAX_DIGITS:
            verdict = f"{together} agree to every digit"
    else:
        verdict = (f"{worst.label} disagrees with {best.label}: the parameters agree to {digits:.1f} digits only; "
                   f"{_likely_reason(objective, worst, best)}")
    if local:
        word = "higher" if not objective.maximize else "lower"
        verdict += (f"; {len(local)} other start(s) ended at different local optima with {word} F (best "
                    f"{_best(objective, local).fun:.10g}): the objective is not convex, and the answer is the best "
                    f"found")
    ok = digits >= MIN_DIGITS and not failed
    return digits, "; ".join([verdict, *notes]), ok


def _likely_reason(objective, worst: Solution, best: Solution) -> str:
    f_digits = agreement(np.array([worst.fun]), np.array([best.fun]))
    if f_digits >= 10:
        return (f"yet F agrees to {f_digits:.1f} digits ({worst.fun:.15g} against {best.fun:.15g}): a flat or nearly "
                "flat direction, so the data do not pin these parameters down (an ill-conditioned or rank-deficient "
                "problem: centre and scale the features, drop a dependent one, or add l2=)")
    word = "lower" if objective.maximize else "higher"
    if worst.status.startswith("converged") or worst.status == "solved":
        return (f"its F = {worst.fun:.10g} is {word} than {best.fun:.10g} at a point where it stopped with a small "
                "gradient: a different local optimum, so the objective is not convex here (the better optimum "
                f"may not be the global one either: try many starts, solve(..., starts={SUGGESTED_STARTS}))")
    return (f"its F = {worst.fun:.10g} is {word} than {best.fun:.10g} (largest gradient component "
            f"{worst.max_gradient:.3g}): a stop short of the optimum")

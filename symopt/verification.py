"""``verify``: the closed form, the iterative solver from two starts and a reference library, side by side.

For one problem on one data set, :func:`verify` puts together

- the closed-form solution, where the problem has one (linear or symbolic);
- the iterative solution from the given (or default) start, and from a second, seeded start
  (:meth:`symopt.forms.Form.draw_start`);
- a reference fit by another library where one applies (:mod:`symopt.references`);
- the gradient check of the code that runs (:func:`symopt.check_gradient`),

each with its parameters, objective value and largest gradient component, all evaluated by the same code
(what :meth:`symopt.Problem.value_and_grad` runs). ``Verification.digits`` is the fewest significant
digits on which the solutions that succeeded agree with the best of them (componentwise, as NIST's log
relative error; a component near 0 is compared on the scale of the largest); ``Verification.ok`` that
every solution succeeded, they agree to at least :data:`MIN_DIGITS` digits and the gradient is right.
The verdict says what agrees, or what does not, by how much, and the likely reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import ModelError
from .gradcheck import GradientCheck, check_gradient
from .references import reference_fit
from .escape import markdown_escape
from .run import starting_point
from .show import params_line
from .starts import SUGGESTED_STARTS

#: Solutions that agree on fewer significant digits than this are reported as disagreeing.
MIN_DIGITS = 6.0
#: Digits are reported up to this (double precision holds about 16).
MAX_DIGITS = 16.0


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


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Significant digits on which ``a`` agrees with ``b``, the worst component (a component of ``b`` below
    1e-8 of the largest is compared on the largest's scale); at most :data:`MAX_DIGITS`."""
    if a.size == 0:
        return MAX_DIGITS
    scale = np.maximum(np.abs(b), 1e-8 * max(float(np.max(np.abs(b))), 1e-300))
    worst = float(np.max(np.abs(a - b) / scale))
    if not math.isfinite(worst):
        return 0.0
    return MAX_DIGITS if worst == 0 else float(min(MAX_DIGITS, max(0.0, -math.log10(worst))))


def verify(problem, dataset, x0=None, reference: str | None = "auto", gradient: bool = True, seed: int = 0,
           result=None) -> Verification:
    """Solve ``problem`` (a :class:`symopt.Problem`) on the prepared ``dataset`` every way symopt and an
    installed reference library can, and compare; :func:`symopt.verify` is the front door and says what
    the arguments mean. ``result``: a solved :class:`symopt.Result` that takes the place of the solve by
    its own method (what :meth:`symopt.Result.verify` passes)."""
    if reference not in ("auto", None):
        raise ModelError(f"reference must be 'auto' (the library fit for this problem's shape) or None (no "
                         f"reference), got {reference!r}")
    objective = problem.objective
    form = objective.form
    rng = np.random.default_rng(seed)
    box = problem.box.flat(form, dataset) if problem.box else None  # bounds: every start inside them
    first = starting_point(objective, problem.derivation, dataset, x0)
    second = form.draw_start(dataset, first, rng)
    if box:
        first, second = box.inside(first, default=x0 is None), box.inside(second, default=True)

    def evaluated(label, x, success, status, res=None):
        fun, grad = problem.flat_value_and_grad(dataset, x)
        return Solution(label, form.unflatten(dataset, x), np.asarray(x, dtype=float), float(fun),
                        float(np.max(np.abs(grad))) if grad.size else 0.0, bool(success), status, res)

    def own(label, res):
        return evaluated(label, res.x, res.success, res.status, res)

    solutions = []
    if result is not None and result.method != "iterative":
        solutions.append(own(f"this result: closed form ({result.method})", result))
    elif result is None and problem.runs_closed_form:
        closed = problem.solve(dataset, progress=False)
        if closed.method != "iterative":
            solutions.append(own(f"closed form ({closed.method})", closed))
    iterative = problem.variant(method="iterative")
    if result is not None and result.method == "iterative":
        solutions.append(own(f"this result: iterative ({type(result.optimizer).__name__})", result))
    else:
        run = iterative.solve(dataset, x0=first, progress=False)
        start = "x0" if x0 is not None else "the default start"
        solutions.append(own(f"iterative ({type(run.optimizer).__name__}) from {start}", run))
    run = iterative.solve(dataset, x0=second, progress=False)
    solutions.append(own(f"iterative ({type(run.optimizer).__name__}) from a second start (seed {seed})", run))
    if reference is None:
        reference_words = "none (reference=None)"
    else:
        fit = reference_fit(objective, problem.analysis, dataset, first, box.arrays() if box else None)
        if fit.x is None:
            reference_words = f"none: {fit.reason}"
        else:
            reference_words = fit.name
            solutions.append(evaluated(fit.name, fit.x, True, "reference"))
    check = check_gradient(problem, dataset, params=first if x0 is not None else None, seed=seed) if gradient else None
    digits, verdict = _judge(objective, solutions)
    ok = (not math.isnan(digits) and digits >= MIN_DIGITS and all(s.success for s in solutions)
          and (check is None or check.ok))
    if check is not None and not check.ok:
        verdict += f"; and {check.verdict}"
    return Verification(tuple(solutions), reference_words, digits, ok, verdict, check)


def _judge(objective, solutions) -> tuple[float, str]:
    """``(digits, verdict)``: how far the solutions that succeeded agree, and why not where they do not."""
    sign = -1.0 if objective.maximize else 1.0
    good = [s for s in solutions if s.success]
    failed = [s for s in solutions if not s.success]
    failures = "; ".join(f"{s.label} failed ({s.status})" for s in failed)
    if len(good) < 2:
        verdict = "fewer than two solutions succeeded, so there is nothing to compare"
        return math.nan, f"{verdict}: {failures}" if failures else verdict
    best = min(good, key=lambda s: sign * s.fun)
    others = [s for s in good if s is not best]
    scored = sorted(((agreement(s.x, best.x), s) for s in others), key=lambda t: t[0])
    digits, worst = scored[0]
    names = [s.label for s in good]
    if digits >= MIN_DIGITS:
        together = ", ".join(names[:-1]) + " and " + names[-1]
        verdict = f"{together} agree to {digits:.1f} digits (the worst parameter)"
        if digits >= MAX_DIGITS:
            verdict = f"{together} agree to every digit"
    else:
        verdict = (f"{worst.label} disagrees with {best.label}: the parameters agree to {digits:.1f} digits only; "
                   f"{_likely_reason(objective, worst, best)}")
    return digits, f"{verdict}; {failures}" if failures else verdict


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

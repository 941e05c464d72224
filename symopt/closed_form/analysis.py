"""Analysis: is there a closed form, which one, and if not, why not.

Tiers, in order: a linear system when the gradient is
affine in the parameters; a symbolic stationary point in sufficient
statistics; otherwise none, with the reason in words. Every tier's attempt
is recorded so a user can see what was tried.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import sympy as sp

from ..derivation.derive import Derivation, derive
from ..errors import ModelError
from ..model.layers import Z
from ..model.objective import Objective
from ..symbolic.escape import latex, markdown_escape
from .linear import find_linear_form
from .records import LinearForm
from .sufficient_statistics import MAX_BEZOUT, MAX_SYMBOLIC_PARAMS, Statistics, bezout_bound, separate, solve_symbolic

DEFAULT_BUDGET = 10.0
#: With a linear closed form, the symbolic tier is still tried (for its formula) up to this many parameters.
SYMBOLIC_ALONGSIDE_LINEAR = 2


@dataclass(frozen=True)
class Attempt:
    """One tier's try: ``outcome`` is "found", "not applicable", "failed" or "skipped"."""

    tier: str
    outcome: str
    detail: str


@dataclass(frozen=True)
class Analysis:
    """Closed-form status of an objective: ``"linear"``, ``"symbolic"`` or ``"none"``."""

    objective: Objective
    derivation: Derivation
    status: str
    reason: str
    attempts: tuple
    linear: LinearForm | None = None
    statistics: Statistics | None = None
    solutions: tuple = ()  # symbolic: dicts param -> formula in statistics

    def formulas(self) -> list[str]:
        """The symbolic solutions as text in the statistics ``S_k``, then the table of ``S_k``."""
        if not self.solutions:
            return []
        out = [", ".join(f"{p} = {v}" for p, v in sol.items()) for sol in self.solutions]
        return out + [f"where n = number of rows, {self.statistics.table()}"]

    def latex(self) -> str:
        rows = []
        for sol in self.solutions:
            rows.append(r",\quad ".join(f"{latex(p)} = {latex(self.statistics.display(v))}" for p, v in sol.items()))
        return r" \\ ".join(rows)

    def to_markdown(self) -> str:
        """The analysis as Markdown, the formulas in LaTeX (what Jupyter shows)."""
        rows = [f"**Closed form: {self.status}** ({markdown_escape(self.reason)})", ""]
        rows += [f"- {markdown_escape(a.tier)}: {markdown_escape(a.outcome)}: {markdown_escape(a.detail)}"
                 for a in self.attempts]
        if self.solutions:
            rows += ["", "$$", self.latex(), "$$", "",
                     f"where n is the number of rows and {markdown_escape(self.statistics.table())}"]
        return "\n".join(rows) + "\n"

    _repr_markdown_ = to_markdown

    def __str__(self) -> str:
        lines = [f"closed form: {self.status} ({self.reason})"]
        for a in self.attempts:
            lines.append(f"  {a.tier}: {a.outcome}: {a.detail}")
        if self.statistics is not None and self.solutions:
            lines.append(f"  statistics: n = number of rows, {self.statistics.table()}")
            for i, sol in enumerate(self.solutions, 1):
                lines.append(f"  candidate {i}: " + ", ".join(f"{p} = {v}" for p, v in sol.items()))
        return "\n".join(lines)


def check_budget(budget) -> None:
    """``budget`` must be a positive, finite number of seconds."""
    if isinstance(budget, bool) or not isinstance(budget, (int, float, np.integer, np.floating)) \
            or not math.isfinite(budget) or budget <= 0:
        raise ModelError(f"budget is the seconds SymPy may spend on the symbolic tier: a positive number, "
                         f"got {budget!r}")


def analyse(objective: Objective, symbolic: bool | None = None, budget: float = DEFAULT_BUDGET,
            derivation: Derivation | None = None) -> Analysis:
    """Find the closed-form status of ``objective``.

    ``symbolic``: ``True`` always tries the symbolic tier, ``False`` never,
    ``None`` (default) when there is no linear form, or alongside one for
    problems of at most two parameters (for the formula). ``budget`` is
    SymPy's wall-clock allowance in seconds.
    """
    if not isinstance(objective, Objective):
        raise ModelError(f"analyse() takes a symopt.Objective, got {type(objective).__name__}")
    check_budget(budget)
    d = derivation or derive(objective)
    if objective.network:
        return network_analysis(objective, d)
    form, why = find_linear_form(objective, d)
    tried = symbolic_wanted(objective, form, symbolic)
    sym = symbolic_stage(objective, d, budget) if tried is True else tried
    return assemble(objective, d, form, why, sym)


def network_analysis(objective: Objective, d: Derivation) -> Analysis:
    net = objective.model
    hidden = net.hidden_layers
    if hidden:
        why = f"with {hidden} hidden layer{'s' if hidden > 1 else ''} its objective is not convex in the weights"
    elif objective.kind == "squared" and net.activations[-1].expr == Z:
        why = ("with no hidden layer and an identity output it is linear least squares, which symopt solves in "
               "closed form when stated as squared_loss(LinearModel())")
    else:
        why = "the gradient of its loss is not affine in the weights"
    reason = f"a network has no closed form: {why} (trained by backpropagation)"
    return Analysis(objective, d, "none", reason, (Attempt("network", "not applicable", reason),))


def l1_analysis(objective: Objective, d: Derivation) -> Analysis:
    """An objective with an ``l1`` penalty: no closed form (its optimality condition is a set inclusion, not
    an equation to solve), solved by proximal gradient."""
    reason = ("an l1 penalty is not differentiable at 0, so setting the gradient to zero has no meaning there "
              "(the optimum satisfies a subgradient condition, and many coefficients sit exactly at 0)")
    return Analysis(objective, d, "none", reason, (Attempt("l1", "not applicable", reason),))


@dataclass(frozen=True)
class SymbolicStage:
    """What the symbolic tier found: its attempt, the statistics and candidate formulas (or none), and
    whether SymPy ran out of ``budget`` seconds (then a larger budget may find more)."""

    attempt: Attempt
    statistics: Statistics | None = None
    solutions: tuple = ()
    timed_out: bool = False
    budget: float = 0.0

    @property
    def reason(self) -> str:
        return self.attempt.detail


def symbolic_wanted(objective: Objective, form, symbolic: bool | None):
    """True if the symbolic tier is to run, else the :class:`SymbolicStage` saying why it does not."""
    p = len(objective.params)
    if not objective.form.per_parameter:
        return SymbolicStage(Attempt("symbolic", "not applicable", "a wide linear model has no per-parameter formula"))
    if symbolic is False:
        return SymbolicStage(Attempt("symbolic", "skipped", "the symbolic tier was not requested (symbolic=False, "
                                                            "as solve() passes for method='linear' or 'iterative')"))
    if symbolic is None and form is not None and p > SYMBOLIC_ALONGSIDE_LINEAR:
        return SymbolicStage(Attempt("symbolic", "skipped", f"a linear closed form was found, and with more than "
                                     f"{SYMBOLIC_ALONGSIDE_LINEAR} parameters the symbolic tier is not tried "
                                     f"alongside it"))
    if p > MAX_SYMBOLIC_PARAMS:
        return SymbolicStage(Attempt("symbolic", "not applicable",
                                     f"{p} parameters is more than the symbolic tier tries ({MAX_SYMBOLIC_PARAMS})"))
    return True


def symbolic_stage(objective: Objective, d: Derivation, budget: float) -> SymbolicStage:
    """Separate the stationarity equations into statistics of the data and let SymPy solve them."""
    stats, reason = separate(objective, d)
    if stats is None:
        return SymbolicStage(Attempt("symbolic", "not applicable", reason), budget=budget)
    bound = bezout_bound(stats, objective.params)
    if bound is not None and bound[0] > MAX_BEZOUT:
        return SymbolicStage(Attempt("symbolic", "skipped", (
            f"the stationarity equations are a polynomial system of degrees {', '.join(map(str, bound[1]))}, "
            f"with up to {bound[0]} solutions (Bezout's bound): more than the {MAX_BEZOUT} SymPy solves in "
            f"seconds, so it is not tried")), budget=budget)
    found, reason = solve_symbolic(stats, objective.params, budget)
    if not found:
        return SymbolicStage(Attempt("symbolic", "failed", reason), timed_out="timed out" in reason, budget=budget)
    return SymbolicStage(Attempt("symbolic", "found", f"{len(found)} candidate(s) in statistics {stats.table()}"),
                         stats, tuple(found), budget=budget)


def assemble(objective: Objective, d: Derivation, form, why: str, sym: SymbolicStage) -> Analysis:
    """The analysis from the linear tier's outcome (``form`` or the reason ``why`` there is none) and the
    symbolic tier's."""
    attempts = [Attempt("linear", "found", form.describe(objective.params)) if form is not None
                else Attempt("linear", "not applicable", why), sym.attempt]
    if form is not None:
        status, reason = "linear", "the gradient is affine in the parameters"
    elif sym.solutions:
        status, reason = "symbolic", "the stationarity equations separate into statistics of the data and SymPy solved them"
    elif not objective.form.per_parameter:  # the symbolic tier does not apply: nothing to add to why
        status, reason = "none", why
    else:
        status, reason = "none", f"{why}; {sym.reason}"
    return Analysis(objective, d, status, reason, tuple(attempts), form, sym.statistics, sym.solutions)

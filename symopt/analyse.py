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

from .closed_form.linear import LinearForm, find_linear_form
from .closed_form.statistics import MAX_SYMBOLIC_PARAMS, Statistics, separate, solve_symbolic
from .derive import Derivation, derive
from .errors import ModelError
from .objective import Objective

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
            rows.append(r",\quad ".join(f"{sp.latex(p)} = {sp.latex(self.statistics.display(v))}" for p, v in sol.items()))
        return r" \\ ".join(rows)

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
        reason = "a network has no closed form: its objective is not convex in the weights (trained by backpropagation)"
        return Analysis(objective, d, "none", reason, (Attempt("network", "not applicable", reason),))
    attempts = []
    form, why = find_linear_form(objective, d)
    if form is not None:
        attempts.append(Attempt("linear", "found", form.describe(objective.params)))
    else:
        attempts.append(Attempt("linear", "not applicable", why))
    p = len(objective.params)
    skipped = "the symbolic tier was not requested (symbolic=False, as solve() passes for method='linear' or 'iterative')"
    if symbolic is None:
        symbolic = not objective.wide and (form is None or p <= SYMBOLIC_ALONGSIDE_LINEAR)
        skipped = (f"a linear closed form was found, and with more than {SYMBOLIC_ALONGSIDE_LINEAR} "
                   f"parameters the symbolic tier is not tried alongside it")
    stats, solutions, sym_reason = None, (), ""
    if objective.wide:
        sym_reason = "a wide linear model has no per-parameter formula"
        attempts.append(Attempt("symbolic", "not applicable", sym_reason))
    elif not symbolic:
        sym_reason = skipped
        attempts.append(Attempt("symbolic", "skipped", sym_reason))
    elif p > MAX_SYMBOLIC_PARAMS:
        sym_reason = f"{p} parameters is more than the symbolic tier tries ({MAX_SYMBOLIC_PARAMS})"
        attempts.append(Attempt("symbolic", "not applicable", sym_reason))
    else:
        stats, sym_reason = separate(objective, d)
        if stats is None:
            attempts.append(Attempt("symbolic", "not applicable", sym_reason))
        else:
            found, sym_reason = solve_symbolic(stats, objective.params, budget)
            solutions = tuple(found)
            if solutions:
                attempts.append(Attempt("symbolic", "found",
                                        f"{len(solutions)} candidate(s) in statistics {stats.table()}"))
            else:
                attempts.append(Attempt("symbolic", "failed", sym_reason))
    if form is not None:
        status, reason = "linear", "the gradient is affine in the parameters"
    elif solutions:
        status, reason = "symbolic", "the stationarity equations separate into statistics of the data and SymPy solved them"
    elif objective.wide:
        status, reason = "none", why
    else:
        status, reason = "none", f"{why}; {sym_reason}"
    return Analysis(objective, d, status, reason, tuple(attempts), form,
                    stats if solutions else None, solutions)

"""Convexity proofs from the derivation alone, true for all data, and the records every convexity verdict is
told in (:class:`Convexity`, :class:`Witness`, :class:`LowerPoint`).

What is proved, and how (a child process within a time budget; what SymPy cannot decide is not proved), is
told in :mod:`symopt.trust.convexity`, which adds the numerical evidence on data. The proof belongs to the analysis
of an objective (it is kept per structure, beside the closed-form analysis, and done once), so it sits with
the closed-form stage, below the run; the numerical check, which runs the problem, sits above it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from ..errors import SUGGESTED_STARTS
from ..symbolic.escape import markdown_escape
from ..symbolic.show import params_line
from .sandbox import ChildFailed, Timeout, run_with_budget

#: Expressions larger than this (SymPy operations) are not simplified: simplify may take minutes.
MAX_PROOF_OPS = 400
#: Seconds SymPy may spend on a proof.
PROOF_BUDGET = 5.0


@dataclass(frozen=True)
class Witness:
    """A point and a unit direction along which F curves the wrong way: ``curvature`` is the second
    difference ``(F(x + t d) + F(x - t d) - 2 F(x)) / t**2`` measured at step ``t``."""

    point: dict
    direction: dict
    curvature: float
    step: float
    x: np.ndarray
    d: np.ndarray


@dataclass(frozen=True)
class LowerPoint:
    """A point sampled by the numerical check where F is lower (higher, when maximising) than at the solution
    it was given: ``fun`` there against ``than`` at the solution. The solution is then no global optimum."""

    point: dict
    x: np.ndarray
    fun: float
    than: float


@dataclass(frozen=True)
class Convexity:
    """``kind``: "convex", "concave", "non-convex" or "unknown"; ``certainty``: "proved" or "numerical"
    ("" for unknown); ``reason`` in words; ``witness`` for "non-convex" where one was found; ``lower``: a
    sampled point better than the solution the check was given (:class:`LowerPoint`), or None."""

    kind: str
    certainty: str
    reason: str
    witness: Witness | None = None
    lower: LowerPoint | None = None

    def optimum(self, maximize: bool, starts: int = 1) -> str:
        """Whether an optimum found (the best of ``starts`` starts) is global, in words: never "probably
        global" where a sampled point is better (:attr:`lower`)."""
        wanted = "concave" if maximize else "convex"
        what = "maximum" if maximize else "minimum"
        if self.lower is not None:
            low = self.lower
            head = f"the best {what} of {starts} starts" if starts > 1 else f"the {what} found"
            return (f"{head} is not global: F = {low.fun:.6g} at {params_line(low.point)} (a point the convexity "
                    f"check sampled) is {'higher' if maximize else 'lower'} than its F = {low.than:.6g}; start "
                    f"there (x0=) or try {'more' if starts > 1 else 'many'} starts: solve(..., "
                    f"starts={max(SUGGESTED_STARTS, 2 * starts)})")
        if self.kind == wanted and self.certainty == "proved":
            return f"the {what} found is global: the objective is {wanted} (proved)"
        if self.kind == wanted:
            return (f"the {what} found is probably global: the objective looked {wanted} at every point sampled "
                    f"(over +-max(10|x|, 1) around the start and the solution)")
        if self.kind == "non-convex":
            if starts > 1:
                return (f"the best {what} of {starts} starts; it may still be only local: the objective is not "
                        f"{wanted} (a witness was found)")
            return (f"the {what} found may be only local: the objective is not {wanted} (a witness was found); "
                    f"try many starts: solve(..., starts={SUGGESTED_STARTS})")
        if self.kind in ("convex", "concave"):
            return f"the objective is {self.kind}: a {what} exists only on a boundary, if at all"
        return f"whether the {what} found is global is not known: {self.reason}"

    def __str__(self) -> str:
        text = f"convexity: {self.kind}" + (f" ({self.certainty})" if self.certainty else "") + f": {self.reason}"
        if self.witness is not None:
            w = self.witness
            text += (f"\n  witness: at {params_line(w.point)} along {params_line(w.direction, 3)}, "
                     f"(F(x+td) + F(x-td) - 2F(x))/t^2 = {w.curvature:.3g} at t = {w.step:.3g}")
        if self.lower is not None:
            text += (f"\n  better than the solution: F = {self.lower.fun:.6g} at {params_line(self.lower.point)} "
                     f"(the solution's F = {self.lower.than:.6g})")
        return text

    def to_markdown(self) -> str:
        head = f"**Convexity: {self.kind}**" + (f" ({self.certainty})" if self.certainty else "")
        return f"{head}: {markdown_escape(self.reason)}\n"

    _repr_markdown_ = to_markdown


# --- proofs ------------------------------------------------------------------------------------------------


def _nonnegative(expr) -> bool:
    """Whether SymPy proves ``expr >= 0`` for all values its symbols' assumptions allow."""
    expr = sp.sympify(expr)
    if expr.is_nonnegative:
        return True
    if sp.count_ops(expr) > MAX_PROOF_OPS:
        return False
    for form in (sp.simplify(expr), sp.simplify(expr.rewrite(sp.exp)), sp.factor(sp.expand(expr))):
        if form.is_nonnegative:
            return True
    return False


def signs_in_child(exprs: tuple) -> tuple:
    """For each expression, whether it is proved ``>= 0`` and whether proved ``<= 0`` (run in the sandbox)."""
    return tuple((_nonnegative(e), _nonnegative(-e)) for e in exprs)


def prove(objective, derivation, budget: float | None = None) -> tuple:
    """``(Convexity, "")`` proved from the derivation alone (true for all data), or ``(None, why not)``;
    SymPy gets ``budget`` seconds (:data:`PROOF_BUDGET` by default)."""
    return _prove(objective, derivation, PROOF_BUDGET if budget is None else budget)


def _prove(objective, derivation, budget):
    if derivation.notes:
        return None, ("the objective has kinks (" + "; ".join(derivation.notes) + "), where its Hessian says "
                      "nothing, so no proof is attempted")
    penalty = None if not objective.l2 else ("concave" if objective.maximize else "convex")
    case = objective.form.convexity_case(derivation)  # each kind says what is to be proved (symopt.model.kinds)
    if "why_not" in case:
        return None, case["why_not"]
    if "proved" in case:
        return _proved(case["proved"], penalty, case["reason"])
    exprs, words, orders, variable = case["exprs"], case["words"], case["orders"], case["variable"]
    try:
        signs = run_with_budget(signs_in_child, (tuple(exprs),), budget)
    except Timeout:
        return None, f"SymPy could not decide the sign of {words} within {budget:g} s"
    except ChildFailed as exc:
        return None, f"SymPy failed deciding the sign of {words}: {str(exc).splitlines()[0]}"
    if orders:
        # PSD: all principal minors >= 0. NSD: minors of order k have the sign (-1)**k.
        convex = all(nonneg for nonneg, _ in signs)
        concave = all((nonneg if k % 2 == 0 else nonpos) for (nonneg, nonpos), k in zip(signs, orders))
    else:
        convex, concave = signs[0][0], signs[0][1]
    if convex:
        what = (f"{words} = {exprs[0]} >= 0 for every real {variable}: the loss is convex in the linear predictor, "
                "which is affine in the parameters") if variable else \
            ("the per-sample Hessian is positive semidefinite for all real parameters and data (SymPy proves every "
             "principal minor >= 0), so each row's term and their sum are convex")
        return _proved("convex", penalty, what)
    if concave:
        what = (f"{words} = {exprs[0]} <= 0 for every real {variable}") if variable else \
            ("the per-sample Hessian is negative semidefinite for all real parameters and data (SymPy proves each "
             "principal minor of order k has the sign of (-1)**k), so each row's term and their sum are concave")
        return _proved("concave", penalty, what)
    return None, f"SymPy proves no sign of {words} for all real values (which does not make it non-convex)"


def _proved(kind: str, penalty: str | None, reason: str) -> tuple:
    """``(Convexity, "")`` for a per-sample loss proved ``kind``, unless the penalty works the other way."""
    if penalty is not None and kind != penalty:
        return None, (f"the per-sample objective is {kind} ({reason}), but the l2 penalty is {penalty}, so "
                      "their sum is neither proved")
    return Convexity(kind, "proved", reason), ""


# --- numerical evidence --------------------------------------------------------------------------------------

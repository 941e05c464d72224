"""Derivation: the per-sample objective, its gradient and (for up to
:data:`MAX_HESSIAN_PARAMS` parameters) its Hessian, as SymPy, in a record that prints as text and LaTeX.

Each kind of problem (:mod:`symopt.model.kinds`) differentiates its own way and says how its rows read: a
wide linear model through the chain rule on its scalar piece (SymPy derives ``dl/deta`` once and the gradient
is ``dl/deta * [1, x]``, so 10,000 columns cost no more than one), a network in its outputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..errors import ModelError
from ..model.kinds.expression import MAX_HESSIAN_PARAMS
from ..model.objective import Objective
from ..symbolic.escape import latex

__all__ = ["MAX_HESSIAN_PARAMS", "Derivation", "derive"]


@dataclass(frozen=True)
class Derivation:
    """The calculus of one objective. Prints as text; ``latex()`` for LaTeX."""

    objective: Objective
    per_sample: sp.Expr
    gradient: tuple  # per-sample gradient w.r.t. params, or (dl/deta,) for a wide model
    hessian: sp.Matrix | None  # per-sample Hessian, or [[d2l/deta2]] for a wide model
    hessian_note: str = ""
    notes: tuple = ()  # what the derivation assumed, in words (a DiracDelta taken as 0, say)

    @property
    def params(self) -> tuple:
        return self.objective.params

    def penalty_gradient(self) -> tuple:
        """Gradient of the ridge term, one entry per parameter (expression models)."""
        o = self.objective
        sign = -1 if o.maximize else 1
        l2 = sp.nsimplify(o.l2) if o.l2 else 0
        return tuple(sign * 2 * l2 * (1 if pen == 1.0 else sp.nsimplify(pen)) * p if pen else sp.Integer(0)
                     for p, pen in zip(o.params, o.penalised))

    def _rows(self, fmt) -> list[str]:
        o = self.objective
        lines = [f"objective: {o.describe()}", f"per-sample l = {fmt(self.per_sample)}"]
        lines += o.form.derivation_rows(self, fmt)
        lines.extend(f"note: {note}" for note in self.notes)
        if o.l2:
            sign = "-" if o.maximize else "+"
            lines.append(f"penalty: {sign}{o.l2!r} * {o.form.penalty_words()}; gradient {sign}2*l2*theta")
        return lines

    def __str__(self) -> str:
        return "\n".join(self._rows(str))

    def latex(self, environment: str = "align") -> str:
        """The derivation as LaTeX, one row per line of an ``align`` environment (``"aligned"`` inside display
        math). Every name in it is escaped (:func:`symopt.symbolic.escape.latex`): a user's shows as itself."""
        o = self.objective
        rows = [r"\ell &= " + latex(self.per_sample)]
        rows += o.form.derivation_latex(self)
        return f"\\begin{{{environment}}}\n" + " \\\\\n".join(rows) + f"\n\\end{{{environment}}}"

    def _repr_latex_(self) -> str:
        return "$$" + self.latex("aligned") + "$$"


def derive(objective: Objective) -> Derivation:
    """Differentiate ``objective`` symbolically (the gradient, and the Hessian when small)."""
    if not isinstance(objective, Objective):
        raise ModelError(f"derive() takes a symopt.Objective (for example symopt.squared_loss(model)), "
                         f"got {type(objective).__name__}")
    ell = objective.per_sample
    return Derivation(objective, ell, **objective.form.differentiate(ell))

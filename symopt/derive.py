"""Derivation: the per-sample objective, its gradient and (for up to
:data:`MAX_HESSIAN_PARAMS` parameters) its Hessian, as SymPy.

Wide linear models are differentiated through the chain rule on their scalar
piece: SymPy derives ``dl/deta`` once and the gradient is ``dl/deta * [1, x]``,
so 10,000 columns cost no more than one.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .errors import ModelError
from .objective import ETA, OUTPUT, Objective
from .parse import clip, show

MAX_HESSIAN_PARAMS = 50


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
        return tuple(sign * 2 * l2 * p if pen else sp.Integer(0) for p, pen in zip(o.params, o.penalised))

    def _rows(self, fmt) -> list[str]:
        o = self.objective
        lines = [f"objective: {o.describe()}", f"per-sample l = {fmt(self.per_sample)}"]
        if o.network:
            lines.append(f"dl/dz = {fmt(self.gradient[0])}  (z: the network's outputs)")
            for k, act in enumerate(o.model.activations, start=1):
                lines.append(f"layer {k}: a = {fmt(act.expr)}, da/dz = {fmt(act.derivative)}")
            lines.append("backpropagation: dl/dW_k = G_k^T a_(k-1), dl/db_k = sum G_k, "
                         "G_(k-1) = (G_k W_k) * da/dz of layer k-1")
            return lines
        if o.multiclass:
            lines.append(f"dl/deta = {fmt(self.gradient[0])}  (eta: one score per class)")
            lines.append("dl/dintercept_k = (softmax(eta) - onehot(y))_k, dl/dcoef_kj = (softmax(eta) - onehot(y))_k * x_j")
            lines.append(f"Hessian: {self.hessian_note}")
        elif o.wide:
            lines.append(f"dl/deta = {fmt(self.gradient[0])}")
            if o.model.intercept:
                lines.append("dl/dintercept = dl/deta")
            lines.append("dl/dcoef_j = dl/deta * x_j")
            lines.append(f"d2l/deta2 = {fmt(self.hessian[0, 0])}  (Hessian per sample: d2l/deta2 * phi phi^T, phi = [1, x])")
        else:
            for p, g in zip(o.params, self.gradient):
                lines.append(f"dl/d{p.name} = {fmt(g)}")
            if self.hessian is not None:
                for i, p in enumerate(o.params):
                    for j in range(i, len(o.params)):
                        lines.append(f"d2l/d{p.name}d{o.params[j].name} = {fmt(self.hessian[i, j])}")
            elif self.hessian_note:
                lines.append(f"Hessian: {self.hessian_note}")
        lines.extend(f"note: {note}" for note in self.notes)
        if o.l2:
            lines.append(f"penalty: {'-' if o.maximize else '+'}{o.l2!r} * sum of squared "
                         f"{'coef' if o.wide else 'penalised parameters'}; gradient {'-' if o.maximize else '+'}2*l2*theta")
        return lines

    def __str__(self) -> str:
        return "\n".join(self._rows(str))

    def latex(self) -> str:
        """The derivation as LaTeX, one ``align`` row per line."""
        o = self.objective
        rows = [r"\ell &= " + sp.latex(self.per_sample)]
        if o.multiclass:
            rows.append(r"\frac{\partial \ell}{\partial \eta} &= " + sp.latex(self.gradient[0]))
        elif o.wide:
            rows.append(r"\frac{\partial \ell}{\partial \eta} &= " + sp.latex(self.gradient[0]))
            rows.append(r"\frac{\partial^2 \ell}{\partial \eta^2} &= " + sp.latex(self.hessian[0, 0]))
        else:
            for p, g in zip(o.params, self.gradient):
                rows.append(r"\frac{\partial \ell}{\partial %s} &= %s" % (sp.latex(p), sp.latex(g)))
            if self.hessian is not None:
                for i, p in enumerate(o.params):
                    for j in range(i, len(o.params)):
                        q = o.params[j]
                        den = r"\partial %s^2" % sp.latex(p) if i == j else r"\partial %s \, \partial %s" % (sp.latex(p), sp.latex(q))
                        rows.append(r"\frac{\partial^2 \ell}{%s} &= %s" % (den, sp.latex(self.hessian[i, j])))
        return "\\begin{align}\n" + " \\\\\n".join(rows) + "\n\\end{align}"

    def _repr_latex_(self) -> str:
        return "$$" + self.latex().replace("align", "aligned") + "$$"


def derive(objective: Objective) -> Derivation:
    """Differentiate ``objective`` symbolically (the gradient, and the Hessian when small)."""
    if not isinstance(objective, Objective):
        raise ModelError(f"derive() takes a symopt.Objective (for example symopt.squared_loss(model)), "
                         f"got {type(objective).__name__}")
    ell = objective.per_sample
    if objective.network:
        if objective.kind == "cross_entropy":
            d1 = sp.Function("softmax")(OUTPUT) - sp.Function("onehot")(objective.target)
        else:
            d1 = _closed(sp.diff(ell, OUTPUT), ell, "gradient")
        return Derivation(objective, ell, (d1,), None, "not formed: a network is trained by backpropagation")
    if objective.multiclass:
        d1 = sp.Function("softmax")(ETA) - sp.Function("onehot")(objective.target)
        return Derivation(objective, ell, (d1,), None, "per sample (diag(p) - p p^T) (x) phi phi^T with p = "
                          "softmax(eta), phi = [1, x]: summed by the generated kernel, not as SymPy")
    if objective.wide:
        d1 = _closed(sp.diff(ell, ETA), ell, "gradient")
        d2 = _closed(sp.diff(d1, ETA), ell, "Hessian")
        return Derivation(objective, ell, (d1,), sp.Matrix([[d2]]))
    params = objective.params
    deltas: set = set()
    gradient = tuple(_almost_everywhere(_closed(sp.diff(ell, p), ell, "gradient"), deltas) for p in params)
    if len(params) > MAX_HESSIAN_PARAMS:
        return Derivation(objective, ell, gradient, None,
                          f"not formed for {len(params)} parameters (limit {MAX_HESSIAN_PARAMS})",
                          _delta_notes(deltas))
    n = len(params)
    h = sp.zeros(n, n)
    for i in range(n):
        for j in range(i, n):
            h[i, j] = h[j, i] = _almost_everywhere(_closed(sp.diff(gradient[i], params[j]), ell, "Hessian"), deltas)
    return Derivation(objective, ell, gradient, h, notes=_delta_notes(deltas))


def _almost_everywhere(derivative: sp.Expr, seen: set) -> sp.Expr:
    """``derivative`` with every ``DiracDelta(u)`` set to 0 (recorded in ``seen``).

    abs(u) differentiates to sign(u) and then to 2*DiracDelta(u): zero wherever u != 0, which is
    everywhere but a set of measure zero, and what any numeric derivative of abs gives. L1 and
    Huber-like losses are common; the derivation says so (:func:`_delta_notes`).
    """
    deltas = derivative.atoms(sp.DiracDelta)
    if not deltas:
        return derivative
    seen.update(deltas)
    return derivative.xreplace({d: sp.Integer(0) for d in deltas})


def _delta_notes(deltas: set) -> tuple:
    if not deltas:
        return ()
    args = ", ".join(sorted({show(d.args[0], 40) for d in deltas}))
    return (f"DiracDelta({args}) (from differentiating abs or sign) is taken as 0: true wherever its "
            f"argument is not 0, that is almost everywhere; at a kink the derivatives are one-sided",)


def _closed(derivative: sp.Expr, ell: sp.Expr, which: str) -> sp.Expr:
    """``derivative``, unless SymPy left part of it unevaluated: then a ModelError naming the function."""
    left = derivative.atoms(sp.Derivative)
    if not left:
        return derivative
    inner = sorted(left, key=str)[0].expr
    name = inner.func.__name__ if isinstance(inner, sp.Function) else clip(str(inner))
    raise ModelError(f"SymPy cannot differentiate {name} in closed form: the {which} of {show(ell, 120)} "
                     f"keeps an unevaluated derivative of {name}; rewrite the model without {name} "
                     "(for example with a smooth stand-in)")

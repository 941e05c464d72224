"""Derivation: the per-sample objective, its gradient and (for up to
:data:`MAX_HESSIAN_PARAMS` parameters) its Hessian, as SymPy.

Wide linear models are differentiated through the chain rule on their scalar
piece: SymPy derives ``dl/deta`` once and the gradient is ``dl/deta * [1, x]``,
so 10,000 columns cost no more than one.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..errors import ModelError
from ..model.objective import ETA, OUTPUT, Objective
from ..symbolic.escape import latex
from ..symbolic.functions import almost_everywhere
from ..symbolic.parse import clip, show
from ..symbolic.partials import contains, partials

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
        lines += _ROWS[o.form.name](self, fmt)
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
        rows += _LATEX[o.form.name](self)
        return f"\\begin{{{environment}}}\n" + " \\\\\n".join(rows) + f"\n\\end{{{environment}}}"

    def _repr_latex_(self) -> str:
        return "$$" + self.latex("aligned") + "$$"


def derive(objective: Objective) -> Derivation:
    """Differentiate ``objective`` symbolically (the gradient, and the Hessian when small)."""
    if not isinstance(objective, Objective):
        raise ModelError(f"derive() takes a symopt.Objective (for example symopt.squared_loss(model)), "
                         f"got {type(objective).__name__}")
    return _DERIVE[objective.form.name](objective, objective.per_sample)


def _derive_network(objective, ell) -> Derivation:
    if objective.kind == "cross_entropy":
        d1 = sp.Function("softmax")(OUTPUT) - sp.Function("onehot")(objective.target)
    else:
        d1 = _closed(sp.diff(ell, OUTPUT), ell, "gradient")
    return Derivation(objective, ell, (d1,), None, "not formed: a network is trained by backpropagation")


def _derive_multiclass(objective, ell) -> Derivation:
    d1 = sp.Function("softmax")(ETA) - sp.Function("onehot")(objective.target)
    return Derivation(objective, ell, (d1,), None, "per sample (diag(p) - p p^T) (x) phi phi^T with p = "
                      "softmax(eta), phi = [1, x]: summed by the generated kernel, not as SymPy")


def _derive_wide(objective, ell) -> Derivation:
    d1 = _closed(sp.diff(ell, ETA), ell, "gradient")
    d2 = _closed(sp.diff(d1, ETA), ell, "Hessian")
    return Derivation(objective, ell, (d1,), sp.Matrix([[d2]]))


def _derive_expression(objective, ell) -> Derivation:
    params = objective.params
    deltas: set = set()
    # Past the Hessian's limit, one walk of l for every parameter at once (symopt.symbolic.partials): SymPy's diff
    # walks all of l once per parameter, quadratic in a basis of hundreds of terms.
    many = len(params) > MAX_HESSIAN_PARAMS
    derivatives = partials(ell, params) if many else tuple(sp.diff(ell, p) for p in params)
    if many and not contains(derivatives, (sp.DiracDelta, sp.Derivative)):
        gradient = derivatives  # nothing to set to 0 or refuse, seen in one walk of the shared tree
    else:
        gradient = tuple(_closed(_almost_everywhere(g, deltas), ell, "gradient") for g in derivatives)
    if many:
        return Derivation(objective, ell, gradient, None,
                          f"not formed for {len(params)} parameters (limit {MAX_HESSIAN_PARAMS})",
                          _delta_notes(deltas))
    n = len(params)
    h = sp.zeros(n, n)
    for i in range(n):
        for j in range(i, n):
            h[i, j] = h[j, i] = _closed(_almost_everywhere(sp.diff(gradient[i], params[j]), deltas), ell, "Hessian")
    return Derivation(objective, ell, gradient, h, notes=_delta_notes(deltas))


def _network_rows(d, fmt) -> list[str]:
    lines = [f"dl/dz = {fmt(d.gradient[0])}  (z: the network's outputs)"]
    for k, act in enumerate(d.objective.model.activations, start=1):
        lines.append(f"layer {k}: a = {fmt(act.expr)}, da/dz = {fmt(act.derivative)}")
    lines.append("backpropagation: dl/dW_k = G_k^T a_(k-1), dl/db_k = sum G_k, "
                 "G_(k-1) = (G_k W_k) * da/dz of layer k-1")
    return lines


def _multiclass_rows(d, fmt) -> list[str]:
    return [f"dl/deta = {fmt(d.gradient[0])}  (eta: one score per class)",
            "dl/dintercept_k = (softmax(eta) - onehot(y))_k, dl/dcoef_kj = (softmax(eta) - onehot(y))_k * x_j",
            f"Hessian: {d.hessian_note}"]


def _wide_rows(d, fmt) -> list[str]:
    return [f"dl/deta = {fmt(d.gradient[0])}"] + (["dl/dintercept = dl/deta"] if d.objective.model.intercept else []) + [
        "dl/dcoef_j = dl/deta * x_j",
        f"d2l/deta2 = {fmt(d.hessian[0, 0])}  (Hessian per sample: d2l/deta2 * phi phi^T, phi = [1, x])"]


def _expression_rows(d, fmt) -> list[str]:
    params = d.objective.params
    lines = [f"dl/d{p.name} = {fmt(g)}" for p, g in zip(params, d.gradient)]
    if d.hessian is not None:
        lines += [f"d2l/d{p.name}d{params[j].name} = {fmt(d.hessian[i, j])}"
                  for i, p in enumerate(params) for j in range(i, len(params))]
    elif d.hessian_note:
        lines.append(f"Hessian: {d.hessian_note}")
    return lines


def _eta_latex(d) -> list[str]:
    rows = [r"\frac{\partial \ell}{\partial \eta} &= " + latex(d.gradient[0])]
    if d.hessian is not None:
        rows.append(r"\frac{\partial^2 \ell}{\partial \eta^2} &= " + latex(d.hessian[0, 0]))
    return rows


def _expression_latex(d) -> list[str]:
    params = d.objective.params
    rows = [r"\frac{\partial \ell}{\partial %s} &= %s" % (latex(p), latex(g)) for p, g in zip(params, d.gradient)]
    if d.hessian is not None:
        for i, p in enumerate(params):
            for j in range(i, len(params)):
                q = params[j]
                den = r"\partial %s^2" % latex(p) if i == j else r"\partial %s \, \partial %s" % (latex(p), latex(q))
                rows.append(r"\frac{\partial^2 \ell}{%s} &= %s" % (den, latex(d.hessian[i, j])))
    return rows


def _network_latex(d) -> list[str]:
    return [r"\frac{\partial \ell}{\partial z} &= " + latex(d.gradient[0])]


#: Per form (:mod:`symopt.model.forms`): how it is differentiated, and how its derivation reads as text and LaTeX.
_DERIVE = {"expression": _derive_expression, "wide": _derive_wide, "multiclass": _derive_multiclass,
           "network": _derive_network}
_ROWS = {"expression": _expression_rows, "wide": _wide_rows, "multiclass": _multiclass_rows,
         "network": _network_rows}
_LATEX = {"expression": _expression_latex, "wide": _eta_latex, "multiclass": _eta_latex,
          "network": _network_latex}


def _almost_everywhere(derivative: sp.Expr, seen: set) -> sp.Expr:
    """``derivative`` with every ``DiracDelta(u)`` (and derivative of ``sign``) set to 0, recorded in ``seen``
    (:func:`symopt.symbolic.functions.almost_everywhere`). L1 and Huber-like losses are common; the derivation says so
    (:func:`_delta_notes`)."""
    out, dropped = almost_everywhere(derivative)
    seen.update(dropped)
    return out


def _delta_notes(deltas: set) -> tuple:
    if not deltas:
        return ()
    args = ", ".join(sorted({show(d.args[0] if isinstance(d, sp.DiracDelta) else d.expr.args[0], 40)
                             for d in deltas}))
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

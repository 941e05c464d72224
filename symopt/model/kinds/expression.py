"""The expression kind: a SymPy expression in named scalar parameters and named data arrays (one scalar
per symbol): a gradient entry per parameter, the Hessian up to :data:`MAX_HESSIAN_PARAMS` parameters."""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import sympy as sp

from ...errors import DataError
from ...symbolic.escape import latex
from ...symbolic.numeric import evaluate
from ...symbolic.partials import contains, partials
from ...symbolic.printer import code_name, names_in, print_block
from .. import data as data_module
from ..data import _as_float_array, _check_indexes, _short
from .base import (ROW_BLOCK, EvaluableForm, almost_everywhere_noted, closed, delta_notes, labels_or_values, magnitude,
                   prediction, summed)

#: Above this many parameters the Hessian is not formed (one walk of the loss gives the gradient).
MAX_HESSIAN_PARAMS = 50
#: Up to this many parameters the convexity proof tries the principal minors (2**p - 1 of them).
MAX_MINOR_PARAMS = 4


class ExpressionForm(EvaluableForm):
    """A SymPy expression in named scalar parameters and named data arrays."""

    name = "expression"
    noun = "an objective stated as a per-sample expression"
    kernel_template = "kernels/expression.py.jinja"
    module_stem = "expr"
    linear_shape = "expression"
    has_residuals = True
    retries_start = True
    per_parameter = True

    def has_hessian(self, derivation):
        return derivation.hessian is not None

    def data_names(self):
        return tuple(s.name for s in self.objective.data_symbols)

    def read(self, data):
        return data_module.read_named(self.objective, data)

    def check_rows(self, arrays, n_rows):
        data_module.check_data_terms(self.objective, arrays, n_rows)
        return 0

    def blocks(self, dataset):
        return [(p.name, 1) for p in self.objective.params]

    def penalty_mask(self, dataset, penalty=None):
        """The ``l2`` weight of each parameter (``penalty``: another's, such as the ``l1``)."""
        penalty = self.objective.l2_penalty if penalty is None else penalty
        return np.array([penalty.weight(p.name) for p in self.objective.params], dtype=float)

    def default_start(self, dataset):
        return np.array([1.0 if getattr(p, "is_positive", False) else 0.0 for p in self.objective.params])

    def draw_start(self, dataset, around, rng):
        """As :meth:`Form.draw_start`, but a parameter declared positive stays positive: it is multiplied by
        ``exp`` of a standard normal draw instead (1 where ``around`` is not positive)."""
        drawn = super().draw_start(dataset, around, rng)
        for j, p in enumerate(self.objective.params):
            if getattr(p, "is_positive", False):
                drawn[j] = (around[j] if around[j] > 0 else 1.0) * math.exp(rng.standard_normal())
        return drawn

    def _values(self, dataset, theta) -> dict:
        o = self.objective
        values = {s: dataset[s.name] for s in o.data_symbols}
        values.update(zip(o.params, theta))
        return values

    def sums(self, dataset, theta):
        o = self.objective
        theta = np.asarray(theta, dtype=float)
        total, size = summed(o.per_sample, self._values(dataset, theta), dataset.n_rows)
        pen = self._penalty(theta, self.penalty_mask(dataset), dataset)
        return self._scale(dataset) * total + pen, self._scale(dataset) * size + abs(pen)

    def terms(self, derivation, dataset, theta, hessian: bool = True):
        """``(F, grad F, per-component gradient scale, Hessian of F or None)``; see
        :func:`symopt.derivation.totals.objective_terms`. A component's scale is the sum of its rows' absolute
        values (:meth:`term_scale` is finer, and costs a pass more)."""
        o = self.objective
        theta = np.asarray(theta, dtype=float)
        n, scale = dataset.n_rows, self._scale(dataset)
        sign = -1.0 if o.maximize else 1.0
        penalised = np.array(o.penalised, dtype=float)
        l1 = np.array(o.l1_weights, dtype=float) * (1.0 if o.l1 else 0.0)
        values = self._values(dataset, theta)
        fun = self.sums(dataset, theta)[0]
        p = len(theta)
        grad, grad_scale = np.empty(p), np.empty(p)
        for j, g in enumerate(derivation.gradient):
            total, mag = summed(g, values, n)
            pen = 2.0 * sign * o.l2 * penalised[j] * theta[j] if penalised[j] else 0.0
            if l1[j]:  # a subgradient of the l1 term: exact where theta_j != 0, 0 at 0
                pen += sign * o.l1 * l1[j] * np.sign(theta[j])
            grad[j] = scale * total + pen
            grad_scale[j] = scale * mag + abs(pen) + 1e-300
        hess = None
        if hessian and derivation.hessian is not None:
            hess = np.empty((p, p))
            for i in range(p):
                for j in range(i, p):
                    hess[i, j] = hess[j, i] = scale * summed(derivation.hessian[i, j], values, n)[0]
            hess += np.diag(2.0 * sign * o.l2 * penalised)
        return fun, grad, grad_scale, hess

    def term_scale(self, derivation, dataset, theta) -> np.ndarray:
        """Per gradient component, the sum over rows of the absolute values of its terms (of the row's
        value where it is not a sum), plus the penalty's: the size against which the component is small at
        a stationary point even where its terms cancel within each row (an objective without data has one
        row, and there the row scale is the component itself)."""
        o = self.objective
        theta = np.asarray(theta, dtype=float)
        values, n, scale = self._values(dataset, theta), dataset.n_rows, self._scale(dataset)
        out = np.empty(len(theta))
        for j, g in enumerate(derivation.gradient):
            mag = summed(magnitude(g), values, n)[0] if g.is_Add else summed(g, values, n)[1]
            out[j] = scale * mag + (2.0 * o.l2 * o.penalised[j] * abs(theta[j]) if o.penalised[j] else 0.0) + 1e-300
        return out

    def value_and_gradient(self, derivation, dataset, theta):
        fun, grad, _, _ = self.terms(derivation, dataset, theta, hessian=False)
        return fun, grad

    def hessian(self, derivation, dataset, theta):
        return self.terms(derivation, dataset, theta)[3] if derivation.hessian is not None else None

    def row_gradients(self, derivation, dataset, theta, block=ROW_BLOCK):
        values = self._values(dataset, np.asarray(theta, dtype=float))
        n = dataset.n_rows
        yield 0, np.column_stack([np.broadcast_to(np.asarray(evaluate(g, values), dtype=float), (n,))
                                  for g in derivation.gradient])

    def describe_row(self, dataset, row, components):
        o = self.objective
        which = ", ".join(f"dF/d{o.params[j].name}" for j in components)
        shown = ", ".join(f"{s.name} = {dataset[s.name][row]:.6g}" for s in o.data_symbols)
        return f"at row {row} ({shown}), {which} overflows double precision at these parameters"

    def differentiate(self, ell):
        params = self.objective.params
        deltas: set = set()
        # Past the Hessian's limit, one walk of l for every parameter at once (symopt.symbolic.partials): SymPy's diff
        # walks all of l once per parameter, quadratic in a basis of hundreds of terms.
        many = len(params) > MAX_HESSIAN_PARAMS
        derivatives = partials(ell, params) if many else tuple(sp.diff(ell, p) for p in params)
        if many and not contains(derivatives, (sp.DiracDelta, sp.Derivative)):
            gradient = derivatives  # nothing to set to 0 or refuse, seen in one walk of the shared tree
        else:
            gradient = tuple(closed(almost_everywhere_noted(g, deltas), ell, "gradient") for g in derivatives)
        if many:
            return dict(gradient=gradient, hessian=None, notes=delta_notes(deltas),
                            hessian_note=f"not formed for {len(params)} parameters (limit {MAX_HESSIAN_PARAMS})")
        n = len(params)
        h = sp.zeros(n, n)
        for i in range(n):
            for j in range(i, n):
                h[i, j] = h[j, i] = closed(almost_everywhere_noted(sp.diff(gradient[i], params[j]), deltas), ell, "Hessian")
        return dict(gradient=gradient, hessian=h, hessian_note="", notes=delta_notes(deltas))

    def derivation_rows(self, d, fmt):
        params = d.objective.params
        lines = [f"dl/d{p.name} = {fmt(g)}" for p, g in zip(params, d.gradient)]
        if d.hessian is not None:
            lines += [f"d2l/d{p.name}d{params[j].name} = {fmt(d.hessian[i, j])}"
                      for i, p in enumerate(params) for j in range(i, len(params))]
        elif d.hessian_note:
            lines.append(f"Hessian: {d.hessian_note}")
        return lines

    def derivation_latex(self, d):
        params = d.objective.params
        rows = [r"\frac{\partial \ell}{\partial %s} &= %s" % (latex(p), latex(g)) for p, g in zip(params, d.gradient)]
        if d.hessian is not None:
            for i, p in enumerate(params):
                for j in range(i, len(params)):
                    q = params[j]
                    den = r"\partial %s^2" % latex(p) if i == j else r"\partial %s \, \partial %s" % (latex(p), latex(q))
                    rows.append(r"\frac{\partial^2 \ell}{%s} &= %s" % (den, latex(d.hessian[i, j])))
        return rows

    def predict(self, params, data):
        return labels_or_values(self.objective, named_eta(self.objective, params, data))

    def kernel_context(self, derivation, flags):
        objective = self.objective
        names = {}
        params = []
        for p in objective.params:
            names[p] = code_name("p", p.name)
            params.append({"name": p.name, "code": names[p]})
        data = []
        for s in objective.data_symbols:
            names[s] = code_name("d", s.name)
            data.append({"name": s.name, "local": names[s], "array": code_name("data", s.name)})
        temps, printed = print_block([objective.per_sample, *derivation.gradient], names)
        context = {
            "params": params,
            "data": data,
            # An objective of its parameters alone reads no data: one stand-in array gives the row count (1).
            "data_args": [d["array"] for d in data] or ["one_row"],
            "temps": temps,
            "loss": printed[0],
            "grads": printed[1:],
            "param_summary": ", ".join(p.name for p in objective.params),
            "data_summary": ", ".join(f"{d['name']} -> {d['array']}" for d in data) or
                            "none (a function of the parameters alone; one_row stands in for one row)",
        }
        p = len(objective.params)
        if flags["with_hessian"]:
            pairs = [(i, j) for i in range(p) for j in range(i, p)]
            h_temps, h_printed = print_block(
                [objective.per_sample, *derivation.gradient, *(derivation.hessian[i, j] for i, j in pairs)], names)
            context["hessian"] = {
                "temps": h_temps, "loss": h_printed[0], "grads": h_printed[1:p + 1],
                "entries": [{"i": i, "j": j, "code": c} for (i, j), c in zip(pairs, h_printed[p + 1:])],
            }
        if flags["stochastic"]:
            b_temps, b_printed = print_block(derivation.gradient, names)
            context["batch"] = {"temps": b_temps, "grads": b_printed}
        if flags["with_residuals"]:
            context["residuals"] = self._residual_context(names)
        return context

    def _residual_context(self, names) -> dict:
        objective = self.objective
        u, _ = objective.sum_of_squares()
        params = objective.params
        jac = [sp.diff(u, q) for q in params]
        temps, printed = print_block([u, *jac], names)
        value_temps, value = print_block([u], names, temp_prefix="w")
        v = [sp.Symbol(f"v_{j}", real=True) for j in range(len(params))]
        local = {**names, **{s: s.name for s in v}}
        curvature = sp.Add(*[sp.diff(jac[j], params[k]) * v[j] * v[k]
                             for j in range(len(params)) for k in range(len(params))])
        c_temps, c_printed = print_block([curvature], local, temp_prefix="c")
        return {
            "expr": str(u), "temps": temps, "value": printed[0], "jacobian": printed[1:],
            "value_temps": value_temps, "value_only": value[0],
            "curvature_temps": c_temps, "curvature": c_printed[0],
            "curvature_uses": sorted(names_in(c_printed[0], *c_temps)),
        }

    def convexity_case(self, derivation):
        """Every principal minor of the per-sample Hessian (up to :data:`MAX_MINOR_PARAMS` parameters)."""
        H = derivation.hessian
        if H is None:
            return {"why_not": "the per-sample Hessian was not formed (too many parameters)"}
        p = H.shape[0]
        if p > MAX_MINOR_PARAMS:
            return {"why_not": f"{p} parameters is more than the principal-minor proof tries ({MAX_MINOR_PARAMS})"}
        index_sets = [idx for size in range(1, p + 1) for idx in combinations(range(p), size)]
        return {"exprs": tuple(H.extract(list(idx), list(idx)).det(method="berkowitz") for idx in index_sets),
                "words": "every principal minor of the per-sample Hessian",
                "orders": tuple(len(idx) for idx in index_sets), "variable": None}


def named_eta(objective, params: dict, data) -> np.ndarray:
    expr = prediction(objective.model)
    fitted = (*objective.params, *objective.fixed_params)  # a fixed parameter's value is in params too
    features = sorted((s for s in expr.free_symbols if s not in set(fitted)), key=lambda s: s.name)
    if not hasattr(data, "keys") or not hasattr(data, "__getitem__"):
        raise DataError(f"predict() takes a mapping from feature names to arrays (or a DataFrame); got "
                        f"{type(data).__name__}. The model needs {', '.join(s.name for s in features)}")
    keys = list(data.keys())
    missing = [s.name for s in features if s.name not in keys]
    if missing:
        raise DataError(f"data has no array named {missing[0]!r}; the model needs "
                        f"{', '.join(s.name for s in features)} and data has "
                        f"{', '.join(_short(str(k), 30) for k in keys) or 'nothing'}")
    _check_indexes({s.name: data[s.name] for s in features})
    values = {s: _as_float_array(s.name, data[s.name], 1) for s in features}
    lengths = {v.shape[0] for v in values.values()}
    if len(lengths) > 1:
        raise DataError(f"data arrays have different numbers of rows ({', '.join(f'{s.name}: {v.shape[0]}' for s, v in values.items())})")
    values.update({p: float(params[p.name]) for p in fitted})
    n = lengths.pop() if lengths else 1
    return np.broadcast_to(np.asarray(evaluate(expr, values), dtype=float), (n,)).copy()

"""The wide kind: a ``LinearModel()`` over a data matrix, ``eta = intercept + X @ coef``, the loss a function of
``eta``, the target and any further per-row data columns (a weight ``w``, an offset ``o``: named 1-D arrays of the
data mapping, read and checked as the target is). SymPy derives ``dl/deta`` once and the gradient is
``dl/deta * [1, x]``, so 10,000 columns of ``X`` cost no more than one."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import sympy as sp

from ...errors import DataError, ModelError
from ...symbolic.escape import latex
from ...symbolic.functions import exp_neg_abs
from ...symbolic.numeric import evaluate
from ...symbolic.printer import code_name, names_in, print_block, split_log1p_terms
from .. import data as data_module
from ..data import _as_float_array
from ..penalties import flat_weights
from .base import ETA, ROW_BLOCK, EvaluableForm, closed, labels_or_values, summed


#: Names a per-row column of a LinearModel() over a data matrix may not take.
TAKEN = ("X", "eta", "z")


class WideForm(EvaluableForm):
    """A ``LinearModel()`` over a data matrix: ``eta = intercept + X @ coef``, the loss a function of ``eta``."""

    name = "wide"
    noun = "a LinearModel() over a data matrix"
    kernel_template = "kernels/linear.py.jinja"
    module_stem = "linear"
    linear_shape = "matrix"
    has_residuals = True
    matrix_data = True
    one_linear_predictor = True

    def has_hessian(self, derivation):  # d2l/deta2 * phi phi^T, summed by the kernel
        return True

    def read(self, data):
        return data_module.read_matrix(self.objective, data)

    def row_columns(self):
        """The per-sample loss's symbols other than ``eta`` and the target: each a per-row column of the data,
        by name (the names ``X``, ``eta`` and ``z`` are taken, and one name is one column)."""
        o = self.objective
        columns = sorted(o.per_sample.free_symbols - {ETA, o.target}, key=lambda s: s.name)
        names = [s.name for s in columns]
        for name in names:
            if name in TAKEN or name == o.target.name or names.count(name) > 1:
                why = (f"{name!r} is taken ('X' is the data matrix, 'eta' the linear predictor)" if name in TAKEN
                       else f"two different symbols are named {name!r} (one with other assumptions, such as "
                            f"real=True)" if name != o.target.name
                       else f"a symbol named {name!r} other than the target (real=True) is in it")
                raise ModelError(f"the loss over {self.noun} reads each symbol besides eta and the target as a "
                                 f"per-row data column, and {why}; rename the column")
        return tuple(columns)

    def _values(self, dataset, eta, rows=slice(None)) -> dict:
        """What the per-sample expressions read on ``rows``: ``eta`` there, the target and the per-row columns."""
        return {ETA: eta, **{s: dataset[s.name][rows] for s in self.objective.data_symbols}}

    def structure(self):
        return ("wide", self.objective.model.intercept)

    def penalised_squares(self):
        pen = self.objective.l2_penalty
        coef = sp.Symbol("coef_j", real=True)
        out = sp.nsimplify(pen.weight("coef")) * sp.Sum(coef ** 2, (sp.Symbol("j", integer=True), 1,
                                                                   sp.Symbol("m", integer=True)))
        return out + sp.nsimplify(pen.weight("intercept")) * sp.Symbol("intercept", real=True) ** 2

    def penalty_words(self, penalty=None):
        penalty = self.objective.l2_penalty if penalty is None else penalty
        norm = "||coef||_1" if penalty.kind == "l1" else "||coef||^2"
        if not penalty.aimed:
            return norm
        return penalty.words(lambda u: norm if u == "coef" else (f"|{u}|" if penalty.kind == "l1" else f"{u}**2"))

    def describe(self, text):
        return text + (", where eta = intercept + X @ coef" if self.objective.model.intercept else ", where eta = X @ coef")

    def blocks(self, dataset):
        m = dataset["X"].shape[1]
        return ([("intercept", 1)] if self.objective.model.intercept else []) + [("coef", m)]

    def block_names(self):
        return ("intercept", "coef") if self.objective.model.intercept else ("coef",)

    def _is_array(self, name):
        return name == "coef"

    def flat_names(self, dataset):
        """``coef[j]``, or the model's column names where it has them (``LinearModel(names=...)``: the labels of
        ``Result.x_names`` and ``summary()``; the parameters stay ``intercept`` and ``coef``)."""
        model = self.objective.model
        if getattr(model, "names", None) is None:
            return super().flat_names(dataset)
        return ([model.intercept_label] if model.intercept else []) + list(model.names)

    def penalty_mask(self, dataset, penalty=None):
        """The weight of each entry of ``x`` in the ``l2`` penalty (``penalty``: another, such as the ``l1``)."""
        return flat_weights(self.objective.l2_penalty if penalty is None else penalty, self.blocks(dataset))

    def _eta(self, X, theta):
        if self.objective.model.intercept:
            return theta[0] + X @ theta[1:]
        return X @ theta

    def sums(self, dataset, theta):
        o = self.objective
        theta = np.asarray(theta, dtype=float)
        total, size = summed(o.per_sample, self._values(dataset, self._eta(dataset["X"], theta)), dataset.n_rows)
        pen = self._penalty(theta, self.penalty_mask(dataset), dataset)
        return self._scale(dataset) * total + pen, self._scale(dataset) * size + abs(pen)

    def value_and_gradient(self, derivation, dataset, theta):
        """``X @ coef`` formed once for both (two passes over ``X`` where the two apart take three)."""
        o = self.objective
        theta = np.asarray(theta, dtype=float)
        X, n, scale = dataset["X"], dataset.n_rows, self._scale(dataset)
        values = self._values(dataset, self._eta(X, theta))
        dl = np.broadcast_to(evaluate(derivation.gradient[0], values), (n,))
        mask = self.penalty_mask(dataset)
        grad = scale * (X.T @ dl)
        if o.model.intercept:
            grad = np.r_[scale * dl.sum(), grad]
        grad = grad + 2.0 * (-1.0 if o.maximize else 1.0) * o.l2 * mask * theta
        if o.l1:  # a subgradient of the l1 term: exact where theta_j != 0, 0 at 0
            grad = grad + (-1.0 if o.maximize else 1.0) * o.l1 * self.l1_mask(dataset) * np.sign(theta)
        total, _ = summed(o.per_sample, values, n)
        return scale * total + self._penalty(theta, mask, dataset), grad

    def hessian(self, derivation, dataset, theta):
        """``scale * Phi^T diag(d2l/deta2) Phi`` with ``Phi = [1, X]``, plus the penalty's diagonal."""
        o = self.objective
        theta = np.asarray(theta, dtype=float)
        X, n = dataset["X"], dataset.n_rows
        values = self._values(dataset, self._eta(X, theta))
        with np.errstate(all="ignore"):
            w = np.broadcast_to(np.asarray(evaluate(derivation.hessian[0, 0], values), dtype=float), (n,))
            Phi = np.column_stack([np.ones(n), X]) if o.model.intercept else X
            hess = self._scale(dataset) * (Phi.T @ (w[:, None] * Phi))
        return hess + np.diag(2.0 * (-1.0 if o.maximize else 1.0) * o.l2 * self.penalty_mask(dataset))

    def row_gradients(self, derivation, dataset, theta, block=ROW_BLOCK):
        o = self.objective
        theta = np.asarray(theta, dtype=float)
        for lo in range(0, dataset.n_rows, block):
            X = dataset["X"][lo:lo + block]
            with np.errstate(all="ignore"):
                values = self._values(dataset, self._eta(X, theta), slice(lo, lo + block))
                dl = np.broadcast_to(np.asarray(evaluate(derivation.gradient[0], values), dtype=float),
                                     (X.shape[0],))
                terms = X * dl[:, None]
            yield lo, (np.column_stack([dl, terms]) if o.model.intercept else terms)

    def differentiate(self, ell):
        d1 = closed(sp.diff(ell, ETA), ell, "gradient")
        d2 = closed(sp.diff(d1, ETA), ell, "Hessian")
        return dict(gradient=(d1,), hessian=sp.Matrix([[d2]]), hessian_note="", notes=())

    def derivation_rows(self, d, fmt):
        return [f"dl/deta = {fmt(d.gradient[0])}"] + (["dl/dintercept = dl/deta"] if d.objective.model.intercept else []) + [
            "dl/dcoef_j = dl/deta * x_j",
            f"d2l/deta2 = {fmt(d.hessian[0, 0])}  (Hessian per sample: d2l/deta2 * phi phi^T, phi = [1, x])"]

    def derivation_latex(self, d):
        rows = [r"\frac{\partial \ell}{\partial \eta} &= " + latex(d.gradient[0])]
        if d.hessian is not None:
            rows.append(r"\frac{\partial^2 \ell}{\partial \eta^2} &= " + latex(d.hessian[0, 0]))
        return rows

    def predict(self, params, data):
        coef = np.asarray(params["coef"], dtype=float)
        X = wide_matrix(coef.size, data)
        return labels_or_values(self.objective, X @ coef + (params["intercept"] if self.objective.model.intercept else 0.0))

    def kernel_context(self, derivation, flags):
        objective = self.objective
        names = {ETA: "eta"}
        columns = []  # the target, then the per-row columns: loaded per row, passed after X
        for s in objective.data_symbols:
            names[s] = code_name("d", s.name)
            columns.append({"name": s.name, "local": names[s], "array": code_name("data", s.name)})
        rows = row_sums(objective.per_sample, [derivation.gradient[0]], names)
        intercept = objective.model.intercept
        described = ", ".join(f"{c['name']} -> {c['array']}" for c in columns)
        context = {
            "intercept": intercept,
            "columns": columns,
            "data_args": ["X", *(c["array"] for c in columns)],
            "temps": rows["temps"],
            "loss": rows["loss"],
            "dloss": rows["derivatives"][0],
            "log1p_terms": rows["log1p_terms"],
            "param_summary": ("theta[0] = intercept, theta[1:] = coef" if intercept else "theta = coef"),
            "data_summary": f"X (rows x features), {described}",
        }
        described = ", ".join(f"{c['name']} -> {c['array']}" for c in columns)
        if flags["with_hessian"]:
            h = row_sums(objective.per_sample, [derivation.gradient[0], derivation.hessian[0, 0]], names)
            context["hessian"] = {"temps": h["temps"], "loss": h["loss"], "dloss": h["derivatives"][0],
                                  "d2loss": h["derivatives"][1], "log1p_terms": h["log1p_terms"]}
        if flags["stochastic"]:
            b_temps, b_printed = print_block([derivation.gradient[0]], names)
            used = names_in(*b_printed, *b_temps)  # dl/deta may not read every column the loss reads
            context["batch"] = {"temps": b_temps, "dloss": b_printed[0],
                                "columns": [c for c in columns if c["local"] in used]}
        return context

    def convexity_case(self, derivation):
        """The loss's second derivative in the linear predictor, which is affine in the parameters."""
        return {"exprs": (derivation.hessian[0, 0],), "words": "d2l/deta2", "orders": None, "variable": "eta"}


def wide_matrix(m: int, data) -> np.ndarray:
    """The data matrix ``X`` for ``predict`` of a model fitted on ``m`` features (from ``X``, ``(X, y)`` or a
    mapping with ``X``)."""
    if isinstance(data, tuple):
        data = data[0]  # (X, y): the labels are not needed
    elif isinstance(data, Mapping):
        if "X" not in data:
            raise DataError("predict() for a LinearModel over a data matrix takes X (rows x features), or a "
                            "mapping with 'X'")
        data = data["X"]
    X = _as_float_array("X", data, 2)
    if X.shape[1] != m:
        raise DataError(f"data 'X' has {X.shape[1]} columns; the model was fitted on {m}")
    return X


def row_sums(per_sample, derivatives, names) -> dict:
    """Print a linear kernel's per-row code: the loss (log1p terms apart, see
    :func:`split_log1p_terms`) and its derivatives in eta, sharing one ``cse``."""
    rest, log1p_terms = split_log1p_terms(per_sample)
    temps, printed = print_block([rest, *derivatives, *(u for _, u in log1p_terms)], names)
    k = 1 + len(derivatives)
    return {
        "temps": temps,
        "loss": printed[0],
        "derivatives": printed[1:k],
        "log1p_terms": [{"times": "" if c == 1 else f"{float(c)!r} * ", "arg": code, "expr": str(u),
                         "at_most_one": isinstance(u, exp_neg_abs)}
                        for (c, u), code in zip(log1p_terms, printed[k:])],
    }



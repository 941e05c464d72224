"""The multiclass kind: ``cross_entropy`` over a ``LinearModel()`` (multinomial logistic regression), scores
``eta_k = intercept[k] + coef[k] @ x`` per class, one row of coefficients per class less the entries fixed at
0 (:mod:`symopt.model.softmax`)."""

from __future__ import annotations

import numpy as np
import sympy as sp

from ...errors import ModelError
from ...symbolic.printer import code_name
from .. import labels
from .. import softmax
from .base import ETA, ROW_BLOCK, by_name, finite, numbers
from .wide import WideForm, wide_matrix


class MulticlassForm(WideForm):
    """``cross_entropy`` over a ``LinearModel()``: scores ``eta_k = intercept[k] + coef[k] @ x`` per class."""

    name = "multiclass"
    noun = "a multinomial model (cross_entropy over a LinearModel())"
    kernel_template = "kernels/softmax.py.jinja"
    module_stem = "softmax"
    class_labels = True
    linear_shape = None
    has_residuals = False
    no_bounds = "a multinomial model (cross_entropy over a LinearModel), whose reference class fixes entries"
    no_linear_form = ("dl/deta = softmax(eta) - onehot(y) is not affine in eta, so the gradient is not affine "
                      "in the parameters")

    def row_columns(self):
        """None: the softmax kernel is written out in its template and reads the labels alone."""
        o = self.objective
        extra = o.per_sample.free_symbols - {ETA, o.target, sp.Symbol(f"eta[{o.target.name}]", real=True)}
        if extra:
            raise ModelError(f"{self.noun} reads no per-row data columns besides the labels; this loss reads "
                             f"{', '.join(sorted(s.name for s in extra))} (per-row weights or offsets of a "
                             f"multinomial model are not supported: fit two classes with log_loss, which takes "
                             f"weights=)")
        return ()

    def check_rows(self, arrays, n_rows):
        return labels.class_count(self.objective, arrays)

    def structure(self):  # l2 = 0 or not decides which entries are free (symopt.model.softmax): the code differs
        o = self.objective
        return ("wide", o.model.intercept, "reference row" if softmax.reference_row(o) else "all rows free")

    def describe(self, text):
        o = self.objective
        fixed = "intercept[0] = 0 and coef[0] = 0" if softmax.reference_row(o) else "intercept[0] = 0"
        return text + (f", where eta_k = {'intercept[k] + ' if o.model.intercept else ''}coef[k] @ x for each "
                       f"class k (class 0 the reference: {fixed})")

    def _shape(self, dataset) -> tuple[int, int]:
        return dataset.n_classes, dataset["X"].shape[1]

    def blocks(self, dataset):
        return softmax.blocks(self.objective, *self._shape(dataset))

    def flat_names(self, dataset):
        return softmax.flat_names(self.objective, *self._shape(dataset))

    def unflatten(self, dataset, x):
        return softmax.unflatten(self.objective, *self._shape(dataset), x)

    def penalty_mask(self, dataset, penalty=None):
        return softmax.penalty_mask(self.objective, *self._shape(dataset), penalty)

    def start(self, dataset, x0, label="x0"):
        if x0 is None or not hasattr(x0, "keys"):
            return super().start(dataset, x0, label)
        spec = self.blocks(dataset)
        x0 = by_name(x0, [n for n, _ in spec], label)
        for name, _ in spec:  # full shapes by name: (K,) and (K, m)
            numbers(f"{label}[{name!r}]", x0[name])
        return finite(softmax.start_from(self.objective, *self._shape(dataset), x0, label), label)

    def sums(self, dataset, theta):  # every row's loss and the penalty are >= 0: the size is F itself
        fun = softmax.value(self.objective, dataset, np.asarray(theta, dtype=float))
        return fun, abs(fun)

    def value_and_gradient(self, derivation, dataset, theta):
        return softmax.value_and_gradient(self.objective, dataset, np.asarray(theta, dtype=float))

    def row_gradients(self, derivation, dataset, theta, block=ROW_BLOCK):
        yield from softmax.row_terms(self.objective, dataset, theta, block)

    def hessian(self, derivation, dataset, theta):
        return softmax.hessian(self.objective, dataset, theta)

    def differentiate(self, ell):
        d1 = sp.Function("softmax")(ETA) - sp.Function("onehot")(self.objective.target)
        return dict(gradient=(d1,), hessian=None, notes=(),
                    hessian_note="per sample (diag(p) - p p^T) (x) phi phi^T with p = "
                          "softmax(eta), phi = [1, x]: summed by the generated kernel, not as SymPy")

    def derivation_rows(self, d, fmt):
        return [f"dl/deta = {fmt(d.gradient[0])}  (eta: one score per class)",
                "dl/dintercept_k = (softmax(eta) - onehot(y))_k, dl/dcoef_kj = (softmax(eta) - onehot(y))_k * x_j",
                f"Hessian: {d.hessian_note}"]

    def predict(self, params, data):
        return softmax.predict(self.objective, params, wide_matrix(params["coef"].shape[1], data))

    def kernel_context(self, derivation, flags):
        """Multinomial logistic regression: the kernel is written out in the template (the loss and its
        derivatives are the softmax's, not printed from SymPy); which entries are free is compiled in."""
        objective = self.objective
        target = objective.target
        intercept, reference = objective.model.intercept, softmax.reference_row(objective)
        free = "classes 1..K-1" if reference else "every class"
        return {
            "intercept": intercept,
            "reference": reference,
            "target_array": code_name("data", target.name),
            "data_args": ["X", code_name("data", target.name)],
            "param_summary": (("theta = the intercepts of classes 1..K-1, then " if intercept else "theta = ")
                              + f"the rows of coef (K x m) of {free}, row by row (class 0's fixed entries are 0)"),
            "data_summary": f"X (rows x features), {target.name} (class labels 0 .. K-1) -> {code_name('data', target.name)}",
        }

    def convexity_case(self, derivation):
        return {"proved": "convex", "reason": "softmax cross-entropy is log-sum-exp of affine scores (its Hessian "
                "diag(p) - p p^T is positive semidefinite) less a linear term"}

"""The network kind: a layered network, its weight matrices and bias vectors, evaluated only through the
generated backpropagation module (:mod:`symopt.codegen.network_trainer`), which also predicts."""

from __future__ import annotations

import numpy as np
import sympy as sp

from ...errors import DataError, ModelError
from ...symbolic.escape import latex
from .. import data as data_module
from .base import OUTPUT, Form, closed


class NetworkForm(Form):
    """A layered network: weight matrices and bias vectors, trained by the generated backpropagation module."""

    name = "network"
    noun = "a network"
    matrix_data = True
    evaluable = False
    driver = "network"
    no_dask = ("a network trains on minibatches drawn from all rows, and its trainer reads one array in memory: "
               "compute the Dask arrays first (X.compute()), or fit a LinearModel() or an expression model")
    no_linear_form = "a network problem has no linear form"
    unidentified = ("a network's parameters are not identified (permuting hidden units, or flipping the sign of a "
                    "tanh unit's weights, gives the same fit)")
    no_bounds = "a network's weights"
    no_standardize = ("a network's training path depends on the scale of its inputs (initialisation, step sizes), "
                      "so fitting on scaled inputs would not give the same fit mapped back; scale X yourself")
    constant_baseline = False
    fresh_starts = True

    def read(self, data):
        arrays = data_module.read_network(self.objective, data)
        arrays["X"] = in_precision(arrays["X"], self.objective.model.dtype)
        return arrays

    def structure(self):
        net = self.objective.model
        layers = tuple((layer.width, layer.dropout, layer.batch_norm) if type(layer).__name__ == "Dense" else layer
                       for layer in net.layers)  # a dense layer's activation is in the third item
        return (net.input_shape, layers, tuple(act.expr if act is not None else None for act in net.activations),
                net.dtype)

    def penalty_words(self, penalty=None):
        return "||W||^2 (weights, not biases)" if not any(n.startswith("K") for n, _ in self.objective.model.shapes()) \
            else "||K, W||^2 (kernels and weights, not biases)"

    def describe(self, text):
        o = self.objective
        text += f", where z = the outputs of the {o.model.describe()}"
        if o.kind == "squared" and o.model.n_outputs > 1:
            text = text.replace("over rows of [", "over rows of [sum over outputs of ")
        return text

    def blocks(self, dataset):
        return [(name, int(np.prod(shape))) for name, shape in self.objective.model.shapes()]

    def block_names(self):
        return tuple(name for name, _ in self.objective.model.shapes())

    def _is_array(self, name):
        return True

    def flat_names(self, dataset):
        return [f"{name}[{', '.join(map(str, index))}]" for name, shape in self.objective.model.shapes()
                for index in np.ndindex(*shape)]

    def unflatten(self, dataset, x):
        return self.objective.model.unflatten(x)

    def penalty_mask(self, dataset, penalty=None):
        return np.concatenate([np.full(int(np.prod(shape)), 1.0 if name[0] in "WK" else 0.0)
                               for name, shape in self.objective.model.shapes()])

    def default_start(self, dataset):
        return self.objective.model.initial()

    def draw_start(self, dataset, around, rng):
        """A fresh initialisation of the network under a seed drawn from ``rng`` (weights at their scheme's
        scale, not moved by max(|w|, 1))."""
        return self.objective.model.initial(seed=int(rng.integers(2 ** 32)))

    def start(self, dataset, x0, label="x0"):
        """A network's parameters by name or as a flat vector, checked to be finite (the entry that is not,
        named with its index); the seeded initialisation where ``x0`` is None."""
        net = self.objective.model
        if x0 is None:
            return net.initial()
        if hasattr(x0, "keys"):  # a dict, a pandas Series, any mapping: read by name, never by position
            x0 = {str(k): x0[k] for k in x0.keys()}
            unknown = sorted(set(x0) - {n for n, _ in net.shapes()}, key=str)
            if unknown:
                raise ModelError(f"{label} names unknown parameter(s) {', '.join(map(str, unknown))}; the network "
                                 f"has {', '.join(n for n, _ in net.shapes())}")
            flat = net.flatten(x0)
        else:
            try:
                raw = np.asarray(x0)
                if raw.dtype.kind not in "biufO":  # text, complex, dates: no silent conversion
                    raise TypeError
                flat = raw.astype(float).ravel()
            except (TypeError, ValueError, OverflowError):
                raise ModelError(f"{label} must be a mapping from parameter names to arrays or a flat array of "
                                 f"{net.size()} real numbers, got {repr(x0)[:40]}") from None
            if raw.ndim > 1:
                raise ModelError(f"{label} must be a mapping from parameter names to arrays or a flat array of "
                                 f"{net.size()} real numbers; got an array of shape {raw.shape} (give the "
                                 f"weights by name, W1 of shape (out, in), to pass them as matrices)")
            if flat.size != net.size():
                raise ModelError(f"{label} has {flat.size} values; the network has {net.size()} parameters")
        bad = np.flatnonzero(~np.isfinite(flat))
        if bad.size:
            name, index = self._locate(int(bad[0]))
            kind = "NaN" if np.isnan(flat[bad[0]]) else "inf"
            raise ModelError(f"parameter {name} has {kind} at index {index} ({bad.size} non-finite value(s) in "
                             "all); parameter values must be finite")
        return flat

    def _locate(self, k: int) -> tuple:
        """Name and index within that parameter of entry ``k`` of the flat vector."""
        for name, shape in self.objective.model.shapes():
            size = int(np.prod(shape))
            if k < size:
                return name, tuple(int(i) for i in np.unravel_index(k, shape))
            k -= size
        raise IndexError(k)

    def differentiate(self, ell):
        if self.objective.kind == "cross_entropy":
            d1 = sp.Function("softmax")(OUTPUT) - sp.Function("onehot")(self.objective.target)
        else:
            d1 = closed(sp.diff(ell, OUTPUT), ell, "gradient")
        return dict(gradient=(d1,), hessian=None, notes=(),
                        hessian_note="not formed: a network is trained by backpropagation")

    def derivation_rows(self, d, fmt):
        lines = [f"dl/dz = {fmt(d.gradient[0])}  (z: the network's outputs)"]
        for k, act in enumerate(d.objective.model.activations, start=1):
            if act is None:  # pooling, flatten, dropout: no activation
                continue
            lines.append(f"layer {k}: a = {fmt(act.expr)}, da/dz = {fmt(act.derivative)}")
        lines.append("backpropagation: dl/dW_k = G_k^T a_(k-1), dl/db_k = sum G_k, "
                     "G_(k-1) = (G_k W_k) * da/dz of layer k-1")
        return lines

    def derivation_latex(self, d):
        return [r"\frac{\partial \ell}{\partial z} &= " + latex(d.gradient[0])]

    def convexity_case(self, derivation):
        """Proved only without hidden layers and with affine outputs: then z is affine in the weights."""
        net = self.objective.model
        if net.hidden_layers:
            return {"why_not": f"a network with {net.hidden_layers} hidden layer(s) is not covered by the proofs"}
        if any(name.startswith("K") for name, _ in net.shapes()):
            return {"why_not": "a network whose only weighted layer is a convolution is not covered by the proofs"}
        if not net.activations[-1].expr.is_Symbol:  # the output's activation is not the identity, z itself
            return {"why_not": "a network whose outputs are not its affine scores (an output activation) is not "
                               "covered"}
        loss = {"squared": "(y - z)**2 is convex in z", "log": "softplus(z) - y*z is convex in z",
                "cross_entropy": "softmax cross-entropy is log-sum-exp of z less a linear term"}[self.objective.kind]
        return {"proved": "convex", "reason": f"without hidden layers the outputs z are affine in the weights, and "
                                              f"{loss}"}


def in_precision(X: np.ndarray, dtype: str) -> np.ndarray:
    """The inputs in the network's precision (a float32 network trains on a float32 copy, as PyTorch's tensors
    would be); a finite value that float32 cannot hold is refused, located, rather than turned into inf."""
    if dtype == "float64" or X.dtype == np.float32:
        return X
    with np.errstate(over="ignore"):
        narrow = X.astype(np.float32)
    lost = np.isinf(narrow) & np.isfinite(X)
    if lost.any():
        pos = tuple(int(i) for i in np.argwhere(lost)[0])
        raise DataError(f"data 'X' has {float(X[pos]):g} at (row, column) {pos}, beyond float32's range (3.4e38), for a "
                        f"network with dtype='float32'; scale the inputs or use dtype='float64'")
    return narrow

"""The four forms a problem takes, behind one interface, so that callers ask the form and stop switching on flags.

- :class:`ExpressionForm`: a SymPy expression in named parameters and data arrays (one scalar per symbol);
- :class:`WideForm`: a ``LinearModel()`` over a data matrix ``X``: ``intercept`` and the array ``coef``,
  through the linear predictor ``eta = intercept + X @ coef``;
- :class:`MulticlassForm`: ``cross_entropy`` over a ``LinearModel()`` (multinomial logistic regression): one
  row of coefficients per class, less the entries fixed at 0 (:mod:`symopt.model.softmax`);
- :class:`NetworkForm`: a layered network, its weight matrices and bias vectors, evaluated only through
  generated code (backpropagation).

Each form answers for its kind: the parameter layout (the blocks of the flat vector ``x`` that generated code
works on, a name per entry, the mapping back to named parameters, the penalty mask, the start point, ``x0`` by
name or flat, checked), which data it reads and how (:func:`symopt.model.data.prepare` calls :meth:`Form.read`), and,
where NumPy can evaluate it, the objective, its gradient and its per-row gradient terms. An
:class:`~symopt.model.objective.Objective` holds its form as ``objective.form``.
"""

from __future__ import annotations

import abc
import functools
import math

import numpy as np
import sympy as sp

from ..errors import ModelError
from ..symbolic.numeric import evaluate
from . import data as data_module
from . import softmax
from .expression import LinearModel
from .network import Network

#: The linear predictor ``eta = intercept + x . coef`` of a linear model over a data matrix.
ETA = sp.Symbol("eta", real=True)

#: Up to this many rows sums are exactly rounded (math.fsum); above it NumPy's pairwise sum is used.
EXACT_SUM_ROWS = 100_000

#: Rows per block where per-row gradient terms are formed (rows x parameters floats at a time).
ROW_BLOCK = 65_536


def summed(expr, values, n_rows) -> tuple[float, float]:
    """``(sum over rows of expr, sum of its absolute values)``, exactly rounded up to :data:`EXACT_SUM_ROWS`."""
    col = np.broadcast_to(np.asarray(evaluate(expr, values), dtype=float), (n_rows,))
    exact = n_rows <= EXACT_SUM_ROWS and np.isfinite(col).all()  # fsum raises on inf - inf and on overflow
    try:
        total = math.fsum(col) if exact else float(np.sum(col))
    except OverflowError:  # finite terms whose sum passes the largest double
        total = float(np.sum(col))
    return total, float(np.sum(np.abs(col)))


def _numbers(label: str, value) -> np.ndarray:
    """``value`` as a flat float array, or a ModelError that says what in ``label`` is not a number."""
    try:
        raw = np.asarray(value)
        if raw.dtype.kind in "USOc" or raw.dtype == bool:
            raise TypeError
        return np.atleast_1d(raw.astype(float)).ravel()
    except (TypeError, ValueError, OverflowError):
        text = repr(value)
        raise ModelError(f"{label} must hold real numbers; got {text if len(text) <= 60 else text[:57] + '...'}") from None


def _vector(label: str, value) -> np.ndarray:
    """``value`` (a number, or a 1-D array of numbers) as a flat float array; a nested one (``[[1.0, -1.0]]``)
    is refused rather than flattened, which would read a matrix's entries in an order the user did not say."""
    flat = _numbers(label, value)  # a ModelError for what is not numbers (ragged rows included)
    shape = np.shape(value)
    if len(shape) > 1:
        raise ModelError(f"{label} must be a flat array (one value per parameter, in order) or a mapping by name; "
                         f"got an array of shape {shape}" + (f" (use np.ravel({label}) if that order is meant)"
                                                            if label.isidentifier() else ""))
    return flat


def _by_name(x0, names, label: str) -> dict:
    """``x0`` (anything with ``keys()``: a dict, a ``pandas.Series``...) as a dict by name, checked to name
    every parameter in ``names`` and nothing else."""
    x0 = {str(k): x0[k] for k in x0.keys()}
    unknown = sorted(set(x0) - set(names))
    if unknown:
        raise ModelError(f"{label} names unknown parameter(s) {', '.join(unknown)}; parameters: {', '.join(names)}")
    missing = [name for name in names if name not in x0]
    if missing:
        raise ModelError(f"{label} gives no value for parameter {missing[0]!r}")
    return x0


def _finite(flat: np.ndarray, label: str) -> np.ndarray:
    if not np.all(np.isfinite(flat)):
        raise ModelError(f"{label} contains NaN or inf")
    return flat


@functools.lru_cache(maxsize=1024)
def _magnitude(expr: sp.Expr) -> sp.Expr:
    """``|t_1| + |t_2| + ...`` over the terms of the sum ``expr``: the size against which its value is small
    (at a stationary point of an objective with one row, the terms cancel within the row)."""
    return sp.Add(*[sp.Abs(t) for t in expr.args])


class Form(abc.ABC):
    """What every form answers. ``objective`` is the :class:`~symopt.model.objective.Objective` it belongs to.

    A form that NumPy can evaluate derives from :class:`EvaluableForm`, which adds the value, gradient and
    per-row terms; the abstract methods of each must be given before the class can be built."""

    #: A short name: "expression", "wide", "multiclass" or "network".
    name = ""
    #: Whether data come as a data matrix and a target, ``(X, y)`` or ``{"X": ..., "y": ...}``.
    matrix_data = False
    #: Whether NumPy can evaluate the objective, its gradient and per-row terms here (else only generated code
    #: can); True exactly for the subclasses of :class:`EvaluableForm`.
    evaluable = False
    #: Whether the default start tries ones and halves where zeros fail (:func:`symopt.run.loop.run_iterative`).
    retries_start = False
    #: Whether the derivation is per named parameter (a gradient entry for each, a Hessian where small), so
    #: NumPy can form the Hessian of F from it (:meth:`ExpressionForm.terms`); the other forms differentiate
    #: the loss in its linear predictor or the network's outputs.
    per_parameter = False

    def has_hessian(self, derivation) -> bool:
        """Whether the generated kernels can form the exact Hessian (Newton's method)."""
        return False

    def hessian(self, derivation, dataset, theta) -> np.ndarray | None:
        """The Hessian of F at ``theta``, formed by NumPy from the derivation, or None where this form has
        no NumPy Hessian (a network, a multinomial model)."""
        return None

    def __init__(self, objective):
        self.objective = objective

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    # -- what the objective says of itself
    def structure(self) -> tuple:
        """The form's part of :meth:`~symopt.model.objective.Objective.structure` (what generated code depends on)."""
        return ()

    def penalised_squares(self) -> sp.Expr:
        """The sum of squares the ``l2`` penalty weighs, as SymPy."""
        o = self.objective
        return sp.Add(*[p ** 2 for p, pen in zip(o.params, o.penalised) if pen])

    def penalty_words(self) -> str:
        """The same in words, for :meth:`~symopt.model.objective.Objective.describe`."""
        o = self.objective
        return "(" + " + ".join(f"{p.name}**2" for p, pen in zip(o.params, o.penalised) if pen) + ")"

    def describe(self, text: str) -> str:
        """The objective's one line, ``text``, with what this form adds (the linear predictor, the network)."""
        return text

    # -- data
    def data_names(self) -> tuple[str, ...]:
        """Names of the data arrays the objective reads."""
        return ("X", self.objective.target.name)

    @abc.abstractmethod
    def read(self, data) -> dict:
        """``data`` as checked float arrays by name (rows not yet compared: :func:`symopt.model.data.prepare` does)."""

    def check_rows(self, arrays: dict, n_rows: int) -> int:
        """Checks that need every array and the row count; returns the number of classes (0 where none)."""
        return 0

    # -- layout
    @abc.abstractmethod
    def blocks(self, dataset) -> list[tuple[str, int]]:
        """Parameter names and sizes in the order of the flat vector ``x``."""

    def block_names(self) -> tuple[str, ...]:
        """The names :meth:`blocks` gives, known before the data (what ``x0`` and ``bounds=`` name)."""
        return tuple(self.objective.param_names)

    def _is_array(self, name: str) -> bool:
        """Whether parameter ``name`` is an array even where it has one entry (``coef`` of one feature)."""
        return False

    def flat_names(self, dataset) -> list[str]:
        """One name per entry of ``x``: ``coef[j]``, ``W1[i, j]`` for the entries of an array."""
        return [name if size == 1 and not self._is_array(name) else f"{name}[{j}]"
                for name, size in self.blocks(dataset) for j in range(size)]

    def unflatten(self, dataset, x) -> dict:
        """``x`` as named parameters: floats for scalars, arrays (a network's in their shapes)."""
        out, k = {}, 0
        for name, size in self.blocks(dataset):
            out[name] = float(x[k]) if size == 1 and not self._is_array(name) else np.array(x[k:k + size])
            k += size
        return out

    @abc.abstractmethod
    def penalty_mask(self, dataset) -> np.ndarray:
        """1 for each entry of ``x`` the ``l2`` penalty applies to, else 0 (intercepts and biases are free)."""

    def default_start(self, dataset) -> np.ndarray:
        return np.zeros(sum(size for _, size in self.blocks(dataset)))

    def draw_start(self, dataset, around: np.ndarray, rng) -> np.ndarray:
        """A seeded start near ``around`` (drawn with the NumPy Generator ``rng``): each entry moved by a
        standard normal draw times max(|entry|, 1)."""
        return around + np.maximum(np.abs(around), 1.0) * rng.standard_normal(around.size)

    def start(self, dataset, x0, label: str = "x0") -> np.ndarray:
        """``x0`` as a flat vector (from a mapping by name or a flat array), or the default start.

        Anything with ``keys()`` (a dict, a ``pandas.Series``...) is read by name, never by position; ``label``
        names the argument in error messages."""
        if x0 is None:
            return self.default_start(dataset)
        spec = self.blocks(dataset)
        if hasattr(x0, "keys"):
            x0 = _by_name(x0, [n for n, _ in spec], label)
            parts = []
            for name, size in spec:
                v = _vector(f"{label}[{name!r}]", x0[name])
                if v.size != size:
                    raise ModelError(f"{label}[{name!r}] has {v.size} value(s); {name} has {size}")
                parts.append(v)
            return _finite(np.concatenate(parts), label)
        flat = _vector(label, x0)
        size = sum(s for _, s in spec)
        if flat.size != size:
            raise ModelError(f"{label} has {flat.size} values; the problem has {size} parameters")
        return _finite(flat, label).copy()


class EvaluableForm(Form):
    """A form NumPy can evaluate: the objective, its gradient and its per-row gradient terms (the generated
    kernels do the same sums compiled)."""

    evaluable = True

    def _scale(self, dataset) -> float:
        return 1.0 / dataset.n_rows if self.objective.reduction == "mean" else 1.0

    def _penalty(self, theta, mask) -> float:
        o = self.objective
        if not o.l2:
            return 0.0  # not 0 * sum(theta**2), which is NaN once theta**2 overflows
        return (-1.0 if o.maximize else 1.0) * o.l2 * float(np.sum(mask * theta ** 2))

    @abc.abstractmethod
    def sums(self, dataset, theta) -> tuple[float, float]:
        """``(F, size)``: the total objective and its own scale (the reduction of ``|l_i|`` plus ``|penalty|``)."""

    @abc.abstractmethod
    def value_and_gradient(self, derivation, dataset, theta) -> tuple[float, np.ndarray]:
        """``(F, gradient of F)`` at ``theta``."""

    @abc.abstractmethod
    def row_gradients(self, derivation, dataset, theta, block: int = ROW_BLOCK):
        """Per-row gradient terms before the reduction: ``(first row, terms (rows x parameters))`` a block at a time."""

    def describe_row(self, dataset, row: int, components) -> str:
        """Where a non-finite per-row gradient is, in words: the row, its data, the components."""
        return f"at row {row} of X, the gradient overflows double precision at these parameters"


class ExpressionForm(EvaluableForm):
    """A SymPy expression in named scalar parameters and named data arrays."""

    name = "expression"
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

    def penalty_mask(self, dataset):
        return np.array([1.0 if p else 0.0 for p in self.objective.penalised])

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
        pen = self._penalty(theta, self.penalty_mask(dataset))
        return self._scale(dataset) * total + pen, self._scale(dataset) * size + abs(pen)

    def terms(self, derivation, dataset, theta, hessian: bool = True):
        """``(F, grad F, per-component gradient scale, Hessian of F or None)``; see
        :func:`symopt.derivation.totals.objective_terms`. A component's scale is the sum of its rows' absolute
        values (:meth:`term_scale` is finer, and costs a pass more)."""
        o = self.objective
        theta = np.asarray(theta, dtype=float)
        n, scale = dataset.n_rows, self._scale(dataset)
        sign = -1.0 if o.maximize else 1.0
        penalised = np.array(o.penalised, dtype=bool)
        values = self._values(dataset, theta)
        fun = self.sums(dataset, theta)[0]
        p = len(theta)
        grad, grad_scale = np.empty(p), np.empty(p)
        for j, g in enumerate(derivation.gradient):
            total, mag = summed(g, values, n)
            pen = 2.0 * sign * o.l2 * theta[j] if penalised[j] else 0.0
            grad[j] = scale * total + pen
            grad_scale[j] = scale * mag + abs(pen) + 1e-300
        hess = None
        if hessian and derivation.hessian is not None:
            hess = np.empty((p, p))
            for i in range(p):
                for j in range(i, p):
                    hess[i, j] = hess[j, i] = scale * summed(derivation.hessian[i, j], values, n)[0]
            hess += np.diag(np.where(penalised, 2.0 * sign * o.l2, 0.0))
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
            mag = summed(_magnitude(g), values, n)[0] if g.is_Add else summed(g, values, n)[1]
            out[j] = scale * mag + (2.0 * o.l2 * abs(theta[j]) if o.penalised[j] else 0.0) + 1e-300
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


class WideForm(EvaluableForm):
    """A ``LinearModel()`` over a data matrix: ``eta = intercept + X @ coef``, the loss a function of ``eta``."""

    name = "wide"
    matrix_data = True

    def has_hessian(self, derivation):  # d2l/deta2 * phi phi^T, summed by the kernel
        return True

    def read(self, data):
        return data_module.read_matrix(self.objective, data)

    def structure(self):
        return ("wide", self.objective.model.intercept)

    def penalised_squares(self):
        coef = sp.Symbol("coef_j", real=True)
        return sp.Sum(coef ** 2, (sp.Symbol("j", integer=True), 1, sp.Symbol("m", integer=True)))

    def penalty_words(self):
        return "||coef||^2"

    def describe(self, text):
        return text + (", where eta = intercept + X @ coef" if self.objective.model.intercept else ", where eta = X @ coef")

    def blocks(self, dataset):
        m = dataset["X"].shape[1]
        return ([("intercept", 1)] if self.objective.model.intercept else []) + [("coef", m)]

    def block_names(self):
        return ("intercept", "coef") if self.objective.model.intercept else ("coef",)

    def _is_array(self, name):
        return name == "coef"

    def penalty_mask(self, dataset):
        m = dataset["X"].shape[1]
        return np.r_[0.0, np.ones(m)] if self.objective.model.intercept else np.ones(m)

    def _eta(self, X, theta):
        if self.objective.model.intercept:
            return theta[0] + X @ theta[1:]
        return X @ theta

    def sums(self, dataset, theta):
        o = self.objective
        theta = np.asarray(theta, dtype=float)
        values = {ETA: self._eta(dataset["X"], theta), o.target: dataset[o.target.name]}
        total, size = summed(o.per_sample, values, dataset.n_rows)
        pen = self._penalty(theta, self.penalty_mask(dataset))
        return self._scale(dataset) * total + pen, self._scale(dataset) * size + abs(pen)

    def value_and_gradient(self, derivation, dataset, theta):
        """``X @ coef`` formed once for both (two passes over ``X`` where the two apart take three)."""
        o = self.objective
        theta = np.asarray(theta, dtype=float)
        X, n, scale = dataset["X"], dataset.n_rows, self._scale(dataset)
        values = {ETA: self._eta(X, theta), o.target: dataset[o.target.name]}
        dl = np.broadcast_to(evaluate(derivation.gradient[0], values), (n,))
        mask = self.penalty_mask(dataset)
        grad = scale * (X.T @ dl)
        if o.model.intercept:
            grad = np.r_[scale * dl.sum(), grad]
        grad = grad + 2.0 * (-1.0 if o.maximize else 1.0) * o.l2 * mask * theta
        total, _ = summed(o.per_sample, values, n)
        return scale * total + self._penalty(theta, mask), grad

    def hessian(self, derivation, dataset, theta):
        """``scale * Phi^T diag(d2l/deta2) Phi`` with ``Phi = [1, X]``, plus the penalty's diagonal."""
        o = self.objective
        theta = np.asarray(theta, dtype=float)
        X, n = dataset["X"], dataset.n_rows
        values = {ETA: self._eta(X, theta), o.target: dataset[o.target.name]}
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
                dl = np.broadcast_to(np.asarray(evaluate(derivation.gradient[0], {
                    ETA: self._eta(X, theta), o.target: dataset[o.target.name][lo:lo + block]}), dtype=float),
                    (X.shape[0],))
                terms = X * dl[:, None]
            yield lo, (np.column_stack([dl, terms]) if o.model.intercept else terms)


class MulticlassForm(WideForm):
    """``cross_entropy`` over a ``LinearModel()``: scores ``eta_k = intercept[k] + coef[k] @ x`` per class."""

    name = "multiclass"

    def check_rows(self, arrays, n_rows):
        return data_module.class_count(self.objective, arrays)

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

    def penalty_mask(self, dataset):
        return softmax.penalty_mask(self.objective, *self._shape(dataset))

    def start(self, dataset, x0, label="x0"):
        if x0 is None or not hasattr(x0, "keys"):
            return super().start(dataset, x0, label)
        spec = self.blocks(dataset)
        x0 = _by_name(x0, [n for n, _ in spec], label)
        for name, _ in spec:  # full shapes by name: (K,) and (K, m)
            _numbers(f"{label}[{name!r}]", x0[name])
        return _finite(softmax.start_from(self.objective, *self._shape(dataset), x0, label), label)

    def sums(self, dataset, theta):  # every row's loss and the penalty are >= 0: the size is F itself
        fun = softmax.value(self.objective, dataset, np.asarray(theta, dtype=float))
        return fun, abs(fun)

    def value_and_gradient(self, derivation, dataset, theta):
        return softmax.value_and_gradient(self.objective, dataset, np.asarray(theta, dtype=float))

    def row_gradients(self, derivation, dataset, theta, block=ROW_BLOCK):
        yield from softmax.row_terms(self.objective, dataset, theta, block)

    def hessian(self, derivation, dataset, theta):
        return softmax.hessian(self.objective, dataset, theta)


class NetworkForm(Form):
    """A layered network: weight matrices and bias vectors, trained by the generated backpropagation module."""

    name = "network"
    matrix_data = True
    evaluable = False

    def read(self, data):
        return data_module.read_network(self.objective, data)

    def structure(self):
        net = self.objective.model
        return (net.n_inputs, tuple((layer.width, layer.dropout, layer.batch_norm) for layer in net.layers),
                tuple(act.expr for act in net.activations))

    def penalty_words(self):
        return "||W||^2 (weights, not biases)"

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

    def penalty_mask(self, dataset):
        return np.concatenate([np.full(int(np.prod(shape)), 1.0 if name.startswith("W") else 0.0)
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


def form_of(model, kind: str) -> type[Form]:
    """The form class for ``model`` (None for a custom objective) under loss ``kind``."""
    if isinstance(model, Network):
        return NetworkForm
    if isinstance(model, LinearModel) and model.is_wide:
        return MulticlassForm if kind == "cross_entropy" else WideForm
    return ExpressionForm

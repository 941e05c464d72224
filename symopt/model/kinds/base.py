"""What every kind of problem answers (:class:`Form`), and what the kinds share: exact sums, the checks of
a start point, the calculus helpers that refuse an unevaluated derivative and note a kink.

A kind is the shape the model and the objective give a problem; one module per kind (this folder's
``__init__`` says how to add one). :class:`Form` is the interface: the parameter layout, the data read, the
derivation and how it reads, and, for a kind NumPy can evaluate (:class:`EvaluableForm`), the objective, its
gradient, its per-row terms and the model's prediction on new data.
"""

from __future__ import annotations

import abc
import functools
import math

import numpy as np
import sympy as sp

from ...errors import ModelError
from ...symbolic.functions import almost_everywhere
from ...symbolic.numeric import evaluate
from ...symbolic.parse import clip, show
from ..data import check_scores
from ..layers import Network
from ..layers import Z as OUTPUT
from ..models import LinearModel, Model

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


def numbers(label: str, value) -> np.ndarray:
    """``value`` as a flat float array, or a ModelError that says what in ``label`` is not a number."""
    try:
        raw = np.asarray(value)
        if raw.dtype.kind in "USOc" or raw.dtype == bool:
            raise TypeError
        return np.atleast_1d(raw.astype(float)).ravel()
    except (TypeError, ValueError, OverflowError):
        text = repr(value)
        raise ModelError(f"{label} must hold real numbers; got {text if len(text) <= 60 else text[:57] + '...'}") from None


def vector(label: str, value) -> np.ndarray:
    """``value`` (a number, or a 1-D array of numbers) as a flat float array; a nested one (``[[1.0, -1.0]]``)
    is refused rather than flattened, which would read a matrix's entries in an order the user did not say."""
    flat = numbers(label, value)  # a ModelError for what is not numbers (ragged rows included)
    shape = np.shape(value)
    if len(shape) > 1:
        raise ModelError(f"{label} must be a flat array (one value per parameter, in order) or a mapping by name; "
                         f"got an array of shape {shape}" + (f" (use np.ravel({label}) if that order is meant)"
                                                            if label.isidentifier() else ""))
    return flat


def by_name(x0, names, label: str) -> dict:
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


def finite(flat: np.ndarray, label: str) -> np.ndarray:
    if not np.all(np.isfinite(flat)):
        raise ModelError(f"{label} contains NaN or inf")
    return flat


@functools.lru_cache(maxsize=1024)
def magnitude(expr: sp.Expr) -> sp.Expr:
    """``|t_1| + |t_2| + ...`` over the terms of the sum ``expr``: the size against which its value is small
    (at a stationary point of an objective with one row, the terms cancel within the row)."""
    return sp.Add(*[sp.Abs(t) for t in expr.args])


def prediction(model) -> sp.Expr:
    """The model's value in symbols: the expression, eta for a data matrix, the output z of a network."""
    if isinstance(model, Network):
        return OUTPUT
    if isinstance(model, Model):
        return model.expr
    if isinstance(model, LinearModel):
        return ETA if model.is_wide else model.expression_model.expr
    raise ModelError(f"expected a symopt.Model or symopt.LinearModel, got {type(model).__name__}")


def labels_or_values(objective, eta: np.ndarray) -> np.ndarray:
    return (check_scores(eta, "the logits") > 0.0).astype(float) if objective.kind == "log" else eta


def almost_everywhere_noted(derivative: sp.Expr, seen: set) -> sp.Expr:
    """``derivative`` with every ``DiracDelta(u)`` (and derivative of ``sign``) set to 0, recorded in ``seen``
    (:func:`symopt.symbolic.functions.almost_everywhere`). L1 and Huber-like losses are common; the derivation says so
    (:func:`delta_notes`)."""
    out, dropped = almost_everywhere(derivative)
    seen.update(dropped)
    return out


def delta_notes(deltas: set) -> tuple:
    if not deltas:
        return ()
    args = ", ".join(sorted({show(d.args[0] if isinstance(d, sp.DiracDelta) else d.expr.args[0], 40)
                             for d in deltas}))
    return (f"DiracDelta({args}) (from differentiating abs or sign) is taken as 0: true wherever its "
            f"argument is not 0, that is almost everywhere; at a kink the derivatives are one-sided",)


def closed(derivative: sp.Expr, ell: sp.Expr, which: str) -> sp.Expr:
    """``derivative``, unless SymPy left part of it unevaluated: then a ModelError naming the function."""
    left = derivative.atoms(sp.Derivative)
    if not left:
        return derivative
    inner = sorted(left, key=str)[0].expr
    name = inner.func.__name__ if isinstance(inner, sp.Function) else clip(str(inner))
    raise ModelError(f"SymPy cannot differentiate {name} in closed form: the {which} of {show(ell, 120)} "
                     f"keeps an unevaluated derivative of {name}; rewrite the model without {name} "
                     "(for example with a smooth stand-in)")


class Form(abc.ABC):
    """What every form answers. ``objective`` is the :class:`~symopt.model.objective.Objective` it belongs to.

    A form that NumPy can evaluate derives from :class:`EvaluableForm`, which adds the value, gradient and
    per-row terms; the abstract methods of each must be given before the class can be built."""

    #: A short name: "expression", "wide", "multiclass" or "network".
    name = ""
    #: What the kind is, in words a message can use ("a network").
    noun = ""
    #: The kernel template of its solver modules (under ``symopt/codegen/templates/``) and the stem of their
    #: file names; a kind with one also has ``kernel_context(derivation, flags)``, what the template reads (the
    #: loss and its derivatives printed as code). None where the kind has its own generated module (a network's
    #: trainer: :mod:`symopt.codegen.network_trainer`).
    kernel_template: str | None = None
    module_stem = ""
    #: Which driver runs its generated module (:mod:`symopt.run.drivers`): "generated" (the kernels and an
    #: optimizer's loop) or "network" (a network's trainer, epoch by epoch).
    driver = "generated"
    #: The shape of its linear closed form where it may have one (:mod:`symopt.closed_form.linear` and
    #: :mod:`symopt.closed_form.design`): "expression" (an expression affine in its parameters) or "matrix" (a
    #: data matrix ``[1, X]``); None where it has none, for the reason :attr:`no_linear_form` gives.
    linear_shape: str | None = None
    no_linear_form = ""
    #: Whether a squared loss on it is least squares on residuals ``y - f`` (standard errors from the residual
    #: Jacobian, prediction bands).
    has_residuals = False
    #: Why its parameters are not identified (no standard errors, no separation certificate), or why this
    #: problem of the kind has no standard errors here; "" where they are identified and have them.
    unidentified = ""
    #: What ``bounds=`` cannot be put on, in words; "" where bounds apply.
    no_bounds = ""
    #: Why ``standardize=True`` does not apply to it, whatever the loss; "" where it may.
    no_standardize = ""
    #: Whether a fit is compared with the constant model (:mod:`symopt.stats.baseline`).
    constant_baseline = True
    #: Whether a spread of starts is a fresh initialisation (the plausible range of a network's weights is its
    #: initialisation's) rather than draws around a point.
    fresh_starts = False
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
    #: Whether the loss is a function of one linear predictor ``eta = intercept + X @ coef`` over a data matrix,
    #: with ``d2l/deta2`` derived: an ``l1`` penalty then runs proximal Newton with coordinate descent
    #: (:mod:`symopt.run.proximal_newton`).
    one_linear_predictor = False
    #: Whether its data carry class labels 0 .. K-1 whose count K sizes the parameters (counted over every chunk
    #: of Dask input, :mod:`symopt.distributed.data`).
    class_labels = False
    #: Why it is not solved on Dask input, in words; "" where it is (:mod:`symopt.distributed`).
    no_dask = ""

    # -- calculus (symopt.derivation.derive builds the Derivation record from these)
    @abc.abstractmethod
    def differentiate(self, ell: sp.Expr) -> dict:
        """The derivatives of the per-sample loss ``ell`` this kind uses: ``gradient`` (a tuple), ``hessian``
        (a Matrix or None), ``hessian_note`` and ``notes`` (what was assumed, in words)."""

    @abc.abstractmethod
    def derivation_rows(self, derivation, fmt) -> list[str]:
        """The derivation's lines as text, each derivative printed by ``fmt``."""

    @abc.abstractmethod
    def derivation_latex(self, derivation) -> list[str]:
        """The derivation's rows as LaTeX (``lhs &= rhs``), every name escaped."""

    @abc.abstractmethod
    def convexity_case(self, derivation) -> dict:
        """What the convexity proof (:mod:`symopt.closed_form.convexity_proof`) is to show for this kind:
        ``{"proved": "convex", "reason": ...}`` where the kind's shape proves it outright; ``{"why_not": ...}``
        where no proof is tried; else ``{"exprs", "words", "orders", "variable"}``: expressions whose signs
        SymPy is to decide for all real values, in words, the orders of the principal minors they are (None:
        one second derivative in ``variable``)."""

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
        """The weighted sum of squares the ``l2`` penalty weighs, as SymPy."""
        o = self.objective
        return sp.Add(*[(p ** 2 if pen == 1.0 else sp.nsimplify(pen) * p ** 2)
                        for p, pen in zip(o.params, o.penalised) if pen])

    def penalty_words(self, penalty=None) -> str:
        """The same in words, for :meth:`~symopt.model.objective.Objective.describe` (``penalty``: the ``l1``
        one's weighted sum of absolute values in its place)."""
        if penalty is not None and penalty.kind == "l1":
            return penalty.words(lambda u: f"|{u}|")
        return self.objective.l2_penalty.words(lambda u: f"{u}**2")

    def describe(self, text: str) -> str:
        """The objective's one line, ``text``, with what this form adds (the linear predictor, the network)."""
        return text

    # -- data
    def data_names(self) -> tuple[str, ...]:
        """Names of the data arrays the objective reads: the matrix ``X``, the target and any per-row columns."""
        return ("X", *(s.name for s in self.objective.data_symbols))

    def row_columns(self) -> tuple[sp.Symbol, ...]:
        """The per-row data columns besides the target a kind over a data matrix reads (a weight, an offset),
        in order of name; none by default."""
        return ()

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
    def penalty_mask(self, dataset, penalty=None) -> np.ndarray:
        """The weight of each entry of ``x`` in the ``l2`` penalty (1 where it applies by default, 0 on intercepts
        and biases; a mapping's weights where it is aimed); ``penalty``: another's, such as the ``l1``."""

    def l1_mask(self, dataset) -> np.ndarray:
        """The ``l1`` weight of each entry of ``x`` (its strength ``objective.l1`` apart)."""
        return self.penalty_mask(dataset, self.objective.l1_penalty)

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
            start = self.default_start(dataset)
            glm = getattr(self.objective, "glm", None)  # a GLM starts at the mean response (symopt.model.glm)
            return start if glm is None else glm.start(self.objective, dataset, start)
        spec = self.blocks(dataset)
        if hasattr(x0, "keys"):
            x0 = by_name(x0, [n for n, _ in spec], label)
            parts = []
            for name, size in spec:
                v = vector(f"{label}[{name!r}]", x0[name])
                if v.size != size:
                    raise ModelError(f"{label}[{name!r}] has {v.size} value(s); {name} has {size}")
                parts.append(v)
            return finite(np.concatenate(parts), label)
        flat = vector(label, x0)
        size = sum(s for _, s in spec)
        if flat.size != size:
            raise ModelError(f"{label} has {flat.size} values; the problem has {size} parameters")
        return finite(flat, label).copy()


class EvaluableForm(Form):
    """A form NumPy can evaluate: the objective, its gradient and its per-row gradient terms (the generated
    kernels do the same sums compiled)."""

    evaluable = True

    def _scale(self, dataset) -> float:
        return 1.0 / dataset.n_rows if self.objective.reduction == "mean" else 1.0

    def _penalty(self, theta, mask, dataset=None) -> float:
        """The ``l2`` term (``mask``: its weights) plus, where there is one, the ``l1`` term."""
        o = self.objective
        total = 0.0  # not 0 * sum(theta**2), which is NaN once theta**2 overflows
        if o.l2:
            total += o.l2 * float(np.sum(mask * theta ** 2))
        if o.l1:
            total += o.l1 * float(np.sum(self.l1_mask(dataset) * np.abs(theta)))
        return (-1.0 if o.maximize else 1.0) * total

    @abc.abstractmethod
    def sums(self, dataset, theta) -> tuple[float, float]:
        """``(F, size)``: the total objective and its own scale (the reduction of ``|l_i|`` plus ``|penalty|``)."""

    @abc.abstractmethod
    def value_and_gradient(self, derivation, dataset, theta) -> tuple[float, np.ndarray]:
        """``(F, gradient of F)`` at ``theta``."""

    @abc.abstractmethod
    def row_gradients(self, derivation, dataset, theta, block: int = ROW_BLOCK):
        """Per-row gradient terms before the reduction: ``(first row, terms (rows x parameters))`` a block at a time."""

    @abc.abstractmethod
    def predict(self, params: dict, data) -> np.ndarray:
        """The model at ``params`` on new ``data``: one value (or class label) per row."""

    def describe_row(self, dataset, row: int, components) -> str:
        """Where a non-finite per-row gradient is, in words: the row, its data, the components."""
        return f"at row {row} of X, the gradient overflows double precision at these parameters"

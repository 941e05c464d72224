"""Networks: a stack of dense layers, each ``z = W a + b``, ``a' = act(z)``.

The last layer is a linear model on the features the earlier layers learn.
Activations are SymPy expressions in one symbol: SymPy derives each one's
derivative, the templates lay out the forward and backward passes.
Parameters are named per layer, 1-based, in PyTorch's layout: ``W1`` of
shape (out, in), ``b1`` of shape (out,).
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass

import numpy as np
import sympy as sp

from ..errors import ModelError, PrinterError
from ..numerics.sizes import FLOAT, check_fits, most_that_fit
from ..optimizers.base import plain_number
from ..symbolic.functions import almost_everywhere, sigmoid, softplus
from ..symbolic.parse import clip, show
from ..symbolic.printer import print_block
from .models import as_expression

#: Arrays of rows x width a forward and backward pass keeps per layer (z, the activation, its derivative,
#: the normalised z and its mask where used, the back-propagated error): what :meth:`Network.work_size` counts.
ARRAYS_PER_UNIT = 6
#: Floats of the widest layer's rows x width a pass over all rows works on at once: 262,144 (2 MB in float64)
#: keeps a chunk's arrays in cache. Measured on 20,000 x 64 -> 512 tanh -> 64 relu -> 10, the objective on all rows
#: took 48.6 ms in chunks of 512 rows against 61.3 ms in 1,024 and 125 ms in 4,096 (its arrays then spill to memory).
PASS_FLOATS = 262_144
#: Precisions a network trains in (:class:`Network`'s ``dtype``).
DTYPES = ("float64", "float32")

#: The symbol every activation is written in.
Z = sp.Symbol("z", real=True)

BUILTIN_ACTIVATIONS = {
    "identity": Z,
    "relu": sp.Piecewise((Z, Z > 0), (0, True)),
    "leaky_relu": sp.Piecewise((Z, Z > 0), (Z / 100, True)),
    "tanh": sp.tanh(Z),
    "sigmoid": sigmoid(Z),
    "softplus": softplus(Z),
    "gelu": Z / 2 * (1 + sp.tanh(sp.sqrt(2 / sp.pi) * (Z + sp.Rational(44715, 1000000) * Z**3))),
    "swish": Z * sigmoid(Z),
}

INITS = ("he", "he_uniform", "glorot", "glorot_uniform", "normal")

#: Names of activations that are not built in, and what to write instead.
_INSTEAD = {"linear": "did you mean 'identity'?", "none": "did you mean 'identity'?",
            "silu": "did you mean 'swish'?", "mish": "write it as 'x*tanh(softplus(x))'",
            "softmax": "softmax belongs to the loss: keep the output layer 'identity' and use symopt.cross_entropy"}


def _unknown_activation(name: str) -> ModelError:
    """A bare name that is no built-in activation: a typo, not the identity ``z``."""
    key = name.strip().lower()
    close = difflib.get_close_matches(key, list(BUILTIN_ACTIVATIONS), n=1)
    tail = _INSTEAD.get(key) or (f"did you mean {close[0]!r}?" if close else
                                 "or give an expression in one symbol, such as 'x*tanh(softplus(x))'")
    return ModelError(f"unknown activation {clip(repr(name))}; built-in: {', '.join(BUILTIN_ACTIVATIONS)}; {tail}")


def _closed_derivative(expr: sp.Expr) -> sp.Expr:
    """SymPy's derivative of the activation, its derivatives of sign (a DiracDelta) taken as 0, their value
    almost everywhere (:func:`symopt.symbolic.functions.almost_everywhere`), as generated code takes them."""
    derivative = almost_everywhere(sp.diff(expr, Z))[0]
    if derivative.atoms(sp.Derivative):
        raise ModelError(f"SymPy cannot differentiate the activation {show(expr)} in closed form; "
                         "rewrite it with other functions")
    return derivative


def _check_printable(expr: sp.Expr, derivative: sp.Expr) -> None:
    """Refuse, when the network is stated, an activation the generated code could not evaluate:
    the rule is the code printer's own (the same one that prints the trainer), not a list of names."""
    for what, e in (("the activation", expr), ("its derivative", derivative)):
        try:
            print_block([e], {Z: "z"})
        except (PrinterError, NotImplementedError) as exc:  # SymPy's strict printing raises the latter
            raise ModelError(f"the activation {show(expr)} cannot be used: {what} ({show(e)}) has no form the "
                             f"generated code can evaluate ({exc}); rewrite it with other functions") from None


@dataclass(frozen=True)
class Activation:
    """An elementwise activation: its expression in ``z`` and SymPy's derivative."""

    name: str
    expr: sp.Expr
    derivative: sp.Expr

    @property
    def saturates(self) -> bool:
        """True when the derivative vanishes for large ``|z|`` on both sides (tanh, sigmoid), so a large
        share of tiny derivatives means saturation; for relu-like activations it is normal."""
        from ..symbolic.numeric import evaluate

        try:
            ends = [abs(float(evaluate(self.derivative, {Z: v}))) for v in (-12.0, 12.0)]
        except Exception:  # an activation the evaluator cannot handle: make no claim
            return False
        return max(ends) < 1e-2

    @classmethod
    def of(cls, spec) -> "Activation":
        if isinstance(spec, Activation):
            if BUILTIN_ACTIVATIONS.get(spec.name) == spec.expr:
                return spec
            # Made by hand: its expression meets the rules of any custom activation (functions symopt
            # supports, one symbol, a derivative the generated code can evaluate); its name is kept (every
            # output escapes it).
            checked = cls.of(spec.expr) if not isinstance(spec.expr, sp.Symbol) else cls.of("identity")
            return cls(spec.name if isinstance(spec.name, str) else checked.name, checked.expr, checked.derivative)
        if isinstance(spec, str) and spec in BUILTIN_ACTIVATIONS:
            expr = BUILTIN_ACTIVATIONS[spec]
            return cls(spec, expr, sp.diff(expr, Z))
        if isinstance(spec, (str, sp.Basic)):
            try:
                expr = as_expression(spec, {}, "activation", functions=False)
            except ModelError as exc:
                raise ModelError(f"{exc}. Built-in activations: {', '.join(BUILTIN_ACTIVATIONS)}") from None
            if isinstance(expr, sp.Symbol):  # a bare name: a built-in (" relu ") or a typo ("Relu"), never z itself
                if expr.name in BUILTIN_ACTIVATIONS:
                    return cls.of(expr.name)
                raise _unknown_activation(str(spec))
            free = sorted(expr.free_symbols, key=lambda s: s.name)
            if len(free) != 1:
                close = difflib.get_close_matches(str(spec).strip().lower()[:100], list(BUILTIN_ACTIVATIONS), n=1)
                names = ", ".join(clip(s.name, 20) for s in free[:5]) + (", ..." if len(free) > 5 else "")
                raise ModelError(f"a custom activation must be an expression in exactly one symbol; "
                                 f"{clip(repr(spec))} has {len(free)} ({names or 'none'}). "
                                 f"Built-in activations: {', '.join(BUILTIN_ACTIVATIONS)}"
                                 + (f"; did you mean {close[0]!r}?" if close else ""))
            expr = expr.xreplace({free[0]: Z})
            derivative = _closed_derivative(expr)
            _check_printable(expr, derivative)
            # The name is printed from the parsed expression, never the user's text (which could hold
            # anything: it reaches descriptions and the generated module's docstring).
            return cls(str(expr), expr, derivative)
        raise ModelError(f"activation must be a name ({', '.join(BUILTIN_ACTIVATIONS)}) or an expression in one "
                         f"symbol, got {spec!r}")


@dataclass(frozen=True)
class Dense:
    """A dense layer of ``width`` units. ``activation=None`` means tanh for a
    hidden layer and identity for the output layer.

    ``dropout=p`` zeroes each output with probability ``p`` in training and
    scales the rest by ``1/(1-p)`` (inverted dropout; nothing at inference).
    ``batch_norm=True`` normalises ``z = W a + b`` with the batch's mean and
    variance in training (running averages, momentum 0.1, for inference),
    then scales and shifts by the parameters ``gamma`` and ``beta``, before
    the activation (as PyTorch's ``BatchNorm1d``, eps 1e-5).
    """

    width: int
    activation: object = None
    dropout: float = 0.0
    batch_norm: bool = False

    def __post_init__(self):
        for name in ("width", "dropout", "batch_norm"):  # NumPy scalars are stored as Python numbers
            object.__setattr__(self, name, plain_number(getattr(self, name)))
        if not isinstance(self.width, int) or isinstance(self.width, bool) or self.width < 1:
            raise ModelError(f"Dense: width must be a positive integer, got {self.width!r}")
        # a layer has at least two parameters a unit (a weight from one input, a bias), each with a gradient
        check_fits(4 * FLOAT * self.width, f"Dense({self.width:,})",
                   lambda: f"at most {most_that_fit(4 * FLOAT):,} units fit (with one input each)")
        if not (isinstance(self.dropout, (int, float)) and not isinstance(self.dropout, bool)
                and 0 <= self.dropout < 1):
            raise ModelError(f"Dense: dropout must be in [0, 1), got {self.dropout!r}")
        if not isinstance(self.batch_norm, bool):
            raise ModelError(f"Dense: batch_norm must be True or False, got {self.batch_norm!r}")


class Network:
    """``Network(n_inputs, layers=[Dense(128, "tanh"), Dense(10)], init="he", seed=0)``.

    ``init``: ``"he"`` (normal, std sqrt(2/fan_in)), ``"he_uniform"``,
    ``"glorot"`` (normal, std sqrt(2/(fan_in+fan_out))), ``"glorot_uniform"``
    or ``"normal"`` (std 0.01); biases start at zero. ``seed`` makes the
    initial weights reproducible.

    ``dtype``: ``"float64"`` (the default: gradients to 1e-10 against a
    reference, as every other symopt solve) or ``"float32"`` (half the memory
    traffic and twice the SIMD width, PyTorch's default: about 2x faster
    training where matrix products dominate; the loss and gradients agree with
    float64 to about 1e-5 relative). The inputs, weights, optimizer state and
    every pass are in that precision; the result's parameters are reported as
    float64 arrays holding the float32 values.
    """

    def __init__(self, n_inputs: int, layers, init: str = "he", seed: int = 0, dtype: str = "float64"):
        n_inputs, seed = plain_number(n_inputs), plain_number(seed)
        if not isinstance(n_inputs, int) or isinstance(n_inputs, bool) or n_inputs < 1:
            raise ModelError(f"Network: n_inputs must be a positive integer, got {n_inputs!r}")
        if isinstance(layers, Dense):
            raise ModelError(f"Network: layers must be a list of symopt.Dense, got a single Dense; put it in a "
                             f"list: Network({n_inputs}, [Dense({layers.width}, ...)])")
        try:
            layers = list(layers)
        except TypeError:
            raise ModelError(f"Network: layers must be a list of symopt.Dense, got {type(layers).__name__}") from None
        if not layers or not all(isinstance(layer, Dense) for layer in layers):
            raise ModelError("Network: layers must be a non-empty list of symopt.Dense")
        if not isinstance(init, str) or init not in INITS:
            raise ModelError(f"Network: init must be one of {', '.join(INITS)}, got {init!r}")
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ModelError(f"Network: seed must be an integer >= 0, got {seed!r}")
        dtype = str(np.dtype(dtype)) if _dtype_like(dtype) else dtype
        if dtype not in DTYPES:
            raise ModelError(f"Network: dtype must be 'float64' or 'float32', got {dtype!r}")
        if layers[-1].dropout or layers[-1].batch_norm:
            raise ModelError("Network: the output layer takes no dropout or batch_norm (it is the linear model "
                             "on the learned features)")
        self.n_inputs, self.layers, self.init, self.seed, self.dtype = n_inputs, tuple(layers), init, seed, dtype
        size = self.size()
        check_fits(2 * FLOAT * size, f"a network of {size:,} parameters ({self.describe_widths()})",
                   "its parameters and their gradient alone take that; use narrower layers")
        last = len(layers) - 1
        self.activations = tuple(
            Activation.of(layer.activation if layer.activation is not None else ("identity" if k == last else "tanh"))
            for k, layer in enumerate(layers))

    @property
    def n_outputs(self) -> int:
        return self.layers[-1].width

    def shapes(self) -> list[tuple[str, tuple]]:
        """Parameter names and shapes, in the order of the flat parameter vector."""
        out, fan_in = [], self.n_inputs
        for k, layer in enumerate(self.layers, start=1):
            out += [(f"W{k}", (layer.width, fan_in)), (f"b{k}", (layer.width,))]
            if layer.batch_norm:
                out += [(f"gamma{k}", (layer.width,)), (f"beta{k}", (layer.width,))]
            fan_in = layer.width
        return out

    def buffer_shapes(self) -> list[tuple[str, tuple]]:
        """Batch-norm running statistics (not trained by gradients), in the order of the buffer vector."""
        out = []
        for k, layer in enumerate(self.layers, start=1):
            if layer.batch_norm:
                out += [(f"running_mean{k}", (layer.width,)), (f"running_var{k}", (layer.width,))]
        return out

    def initial_buffers(self) -> np.ndarray:
        parts = [np.zeros(s) if n.startswith("running_mean") else np.ones(s) for n, s in self.buffer_shapes()]
        return np.concatenate(parts) if parts else np.zeros(0)

    def size(self) -> int:
        return sum(math.prod(shape) for _, shape in self.shapes())

    @property
    def pass_rows(self) -> int:
        """Rows a pass over all rows works on at once: :data:`PASS_FLOATS` over the widest layer, as a power of
        two from 64 to 4,096 (fixed by the shape, so a pass sums in the same order on every run)."""
        widest = max(self.n_inputs, *(layer.width for layer in self.layers))
        return 1 << min(max((PASS_FLOATS // widest).bit_length() - 1, 6), 12)

    def work_size(self, rows: int) -> int:
        """Floats a forward and backward pass over ``rows`` rows allocates (at most :attr:`pass_rows` at once):
        :data:`ARRAYS_PER_UNIT` arrays of rows x width per layer, the inputs, and the gradient of a pass (what
        :func:`symopt.numerics.sizes.check_run` adds for a network)."""
        batch = max(min(rows, self.pass_rows), 1)
        return batch * (ARRAYS_PER_UNIT * sum(layer.width for layer in self.layers) + self.n_inputs) + 2 * self.size()

    def describe_widths(self) -> str:
        """``"3 -> 4096 -> 1"``: the widths alone (no activations: for messages about size)."""
        return " -> ".join(str(w) for w in [self.n_inputs, *(layer.width for layer in self.layers)])

    def initial(self, seed=None) -> np.ndarray:
        """Seeded initial parameters as a flat vector (the network's ``seed``, or ``seed`` where given)."""
        rng = np.random.default_rng(self.seed if seed is None else seed)
        parts = []
        for name, shape in self.shapes():
            if name.startswith("gamma"):
                parts.append(np.ones(shape))
                continue
            if name.startswith("b"):  # biases and batch-norm shifts
                parts.append(np.zeros(shape))
                continue
            fan_out, fan_in = shape
            if self.init == "he":
                w = rng.normal(0.0, np.sqrt(2.0 / fan_in), shape)
            elif self.init == "he_uniform":
                w = rng.uniform(-np.sqrt(6.0 / fan_in), np.sqrt(6.0 / fan_in), shape)
            elif self.init == "glorot":
                w = rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), shape)
            elif self.init == "glorot_uniform":
                limit = np.sqrt(6.0 / (fan_in + fan_out))
                w = rng.uniform(-limit, limit, shape)
            else:
                w = rng.normal(0.0, 0.01, shape)
            parts.append(w)
        return np.concatenate([p.ravel() for p in parts])

    def unflatten(self, flat: np.ndarray, shapes=None) -> dict:
        out, k = {}, 0
        for name, shape in self.shapes() if shapes is None else shapes:
            size = int(np.prod(shape))
            out[name] = np.array(flat[k:k + size]).reshape(shape)
            k += size
        return out

    def flatten(self, params: dict) -> np.ndarray:
        parts = []
        for name, shape in self.shapes():
            if name not in params:
                raise ModelError(f"parameters have no {name!r}; a network needs {', '.join(n for n, _ in self.shapes())}")
            given = params[name]
            if np.iscomplexobj(given):
                raise ModelError(f"parameter {name} is complex; give real numbers")
            try:
                value = np.asarray(given, dtype=float)
            except (TypeError, ValueError, OverflowError):
                text = repr(given)
                raise ModelError(f"parameter {name} must be numbers (an array of shape {shape}), got "
                                 f"{text if len(text) <= 60 else text[:57] + '...'}") from None
            if value.shape != shape:
                raise ModelError(f"parameter {name} has shape {value.shape}; the network needs {shape}")
            parts.append(value.ravel())
        return np.concatenate(parts)

    def describe(self) -> str:
        def layer_text(layer, act):
            extras = (" + batch norm" if layer.batch_norm else "") + (f" + dropout {layer.dropout:g}" if layer.dropout else "")
            return f"{layer.width} {act.name}{extras}"

        widths = [str(self.n_inputs)] + [layer_text(layer, act) for layer, act in zip(self.layers, self.activations)]
        return ("float32 " if self.dtype == "float32" else "") + "network " + " -> ".join(widths)

    def __repr__(self) -> str:
        return f"Network({self.describe()}, init={self.init!r}, seed={self.seed})"


def _dtype_like(value) -> bool:
    """Whether ``value`` reads as a NumPy dtype (np.float32, np.dtype("float32"), "f4"): the name is then
    ``float32`` or ``float64`` for :class:`Network`'s check; anything else is checked as given."""
    try:
        np.dtype(value)
    except TypeError:
        return False
    return value is not None and not isinstance(value, bool)

"""Networks: a stack of layers (dense, convolution, pooling, flatten, dropout) trained by backpropagation.

The last layer is a dense linear model on the features the earlier layers learn. Activations are SymPy
expressions in one symbol (:mod:`symopt.model.activations`): SymPy derives each one's derivative, the
templates lay out the forward and backward passes. Parameters are named by the layer's position ``k`` in the
stack (every layer counts, pooling, flatten and dropout too), in PyTorch's layout: ``W{k}`` of shape (out, in)
and ``b{k}`` for a dense layer, ``K{k}`` of shape (out, in, kh, kw) and ``b{k}`` for a convolution.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ModelError
from ..numerics.sizes import FLOAT, check_fits
from ..optimizers.base import plain_number
from .activations import BUILTIN_ACTIVATIONS, Z, Activation
from .layer_specs import LAYERS, Conv2D, Dense

__all__ = ["ARRAYS_PER_UNIT", "BUILTIN_ACTIVATIONS", "DTYPES", "INITS", "PASS_FLOATS", "Activation", "Dense", "Network", "Z"]

#: Arrays of rows x width a forward and backward pass keeps per layer (z, the activation, its derivative,
#: the normalised z and its mask where used, the back-propagated error): what :meth:`Network.work_size` counts.
ARRAYS_PER_UNIT = 6
#: Floats of the widest layer's rows x width a pass over all rows works on at once: 262,144 (2 MB in float64)
#: keeps a chunk's arrays in cache. Measured on 20,000 x 64 -> 512 tanh -> 64 relu -> 10, the objective on all rows
#: took 48.6 ms in chunks of 512 rows against 61.3 ms in 1,024 and 125 ms in 4,096 (its arrays then spill to memory).
PASS_FLOATS = 262_144
#: Precisions a network trains in (:class:`Network`'s ``dtype``).
DTYPES = ("float64", "float32")

INITS = ("he", "he_uniform", "glorot", "glorot_uniform", "normal")


class Network:
    """``Network(input_shape, layers=[Dense(128, "tanh"), Dense(10)], init="he", seed=0)``.

    ``input_shape``: the number of input features (an int), or ``(channels, height, width)`` for images,
    read from ``X`` of shape (rows, channels, height, width). ``layers``: ``Dense``, ``Conv2D``,
    ``MaxPool2D``, ``AvgPool2D``, ``Flatten`` and ``Dropout``, the last a ``Dense`` (the outputs).
    ``init``: ``"he"`` (normal, std sqrt(2/fan_in)), ``"he_uniform"``,
    ``"glorot"`` (normal, std sqrt(2/(fan_in+fan_out))), ``"glorot_uniform"``
    or ``"normal"`` (std 0.01), with fan_in = in*kh*kw and fan_out = out*kh*kw for a convolution;
    biases start at zero. ``seed`` makes the initial weights reproducible.

    ``dtype``: ``"float64"`` (the default: gradients to 1e-10 against a
    reference, as every other symopt solve) or ``"float32"`` (half the memory
    traffic and twice the SIMD width, PyTorch's default: about 2x faster
    training where matrix products dominate; the loss and gradients agree with
    float64 to about 1e-5 relative). The inputs, weights, optimizer state and
    every pass are in that precision; the result's parameters are reported as
    float64 arrays holding the float32 values.
    """

    def __init__(self, input_shape, layers, init: str = "he", seed: int = 0, dtype: str = "float64"):
        shape, seed = _input_shape(input_shape), plain_number(seed)
        n_inputs = math.prod(shape)
        if isinstance(layers, LAYERS):
            raise ModelError(f"Network: layers must be a list of symopt.Dense, got a single {type(layers).__name__}; put "
                             f"it in a list: Network({input_shape!r}, [{layers.text()}, ...])")
        try:
            layers = list(layers)
        except TypeError:
            raise ModelError(f"Network: layers must be a list of symopt.Dense, got {type(layers).__name__} (layers: "
                             f"Dense, Conv2D, MaxPool2D, AvgPool2D, Flatten, Dropout)") from None
        if not layers or not all(isinstance(layer, LAYERS) for layer in layers):
            raise ModelError("Network: layers must be a non-empty list of symopt.Dense, Conv2D, MaxPool2D, "
                             "AvgPool2D, Flatten or Dropout")
        if not isinstance(init, str) or init not in INITS:
            raise ModelError(f"Network: init must be one of {', '.join(INITS)}, got {init!r}")
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ModelError(f"Network: seed must be an integer >= 0, got {seed!r}")
        dtype = str(np.dtype(dtype)) if _dtype_like(dtype) else dtype
        if dtype not in DTYPES:
            raise ModelError(f"Network: dtype must be 'float64' or 'float32', got {dtype!r}")
        if not isinstance(layers[-1], Dense):
            raise ModelError(f"Network: the last layer must be a Dense layer (the outputs), got "
                             f"{layers[-1].text()}" + (": add Flatten() and a Dense layer after it"
                                                       if len(shape) == 3 else ""))
        if layers[-1].dropout or layers[-1].batch_norm:
            raise ModelError("Network: the output layer takes no dropout or batch_norm (it is the linear model "
                             "on the learned features)")
        self.input_shape = shape if len(shape) == 3 else n_inputs
        self.n_inputs, self.layers, self.init, self.seed, self.dtype = n_inputs, tuple(layers), init, seed, dtype
        self.layer_shapes = []  # the shape each layer gives: (n,) or (channels, height, width)
        for k, layer in enumerate(layers, start=1):
            shape = layer.output_shape(shape, k)
            self.layer_shapes.append(shape)
        self.layer_shapes = tuple(self.layer_shapes)
        size = self.size()
        check_fits(2 * FLOAT * size, f"a network of {size:,} parameters ({self.describe_widths()})",
                   "its parameters and their gradient alone take that; use narrower layers")
        last = len(layers) - 1
        self.activations = tuple(
            (Activation.of(layer.activation if layer.activation is not None else
                           ("identity" if k == last else "relu" if isinstance(layer, Conv2D) else "tanh"))
             if layer.weighted else None)
            for k, layer in enumerate(layers))

    @property
    def images(self) -> bool:
        """Whether the network reads images (channels, height, width) rather than flat features."""
        return isinstance(self.input_shape, tuple)

    @property
    def n_outputs(self) -> int:
        return self.layers[-1].width

    @property
    def hidden_layers(self) -> int:
        """Layers with weights (Dense, Conv2D) before the output layer: pooling, Flatten and Dropout are not
        counted (they have no weights)."""
        return sum(1 for name, _ in self.shapes() if name[0] in "KW") - 1

    def input_shapes(self) -> list[tuple]:
        """The shape each layer gets: the input's for the first, the previous layer's for the others."""
        return [(self.n_inputs,) if not self.images else self.input_shape, *self.layer_shapes[:-1]]

    def shapes(self) -> list[tuple[str, tuple]]:
        """Parameter names and shapes, in the order of the flat parameter vector."""
        return [entry for k, (layer, shape) in enumerate(zip(self.layers, self.input_shapes()), start=1)
                for entry in layer.parameters(k, shape)]

    def buffer_shapes(self) -> list[tuple[str, tuple]]:
        """Batch-norm running statistics (not trained by gradients), in the order of the buffer vector: per
        unit of a dense layer, per channel of a convolution."""
        out = []
        for k, (layer, shape) in enumerate(zip(self.layers, self.layer_shapes), start=1):
            if layer.batch_norm:
                out += [(f"running_mean{k}", (shape[0],)), (f"running_var{k}", (shape[0],))]
        return out

    def initial_buffers(self) -> np.ndarray:
        parts = [np.zeros(s) if n.startswith("running_mean") else np.ones(s) for n, s in self.buffer_shapes()]
        return np.concatenate(parts) if parts else np.zeros(0)

    def size(self) -> int:
        return sum(math.prod(shape) for _, shape in self.shapes())

    @property
    def pass_rows(self) -> int:
        """Rows a pass over all rows works on at once: :data:`PASS_FLOATS` over the widest layer (an image layer's
        channels x height x width), as a power of two from 64 to 4,096 (fixed by the shape, so a pass sums in the
        same order on every run)."""
        widest = max(self.n_inputs, *(math.prod(shape) for shape in self.layer_shapes))
        return 1 << min(max((PASS_FLOATS // widest).bit_length() - 1, 6), 12)

    def work_size(self, rows: int) -> int:
        """Floats a forward and backward pass over ``rows`` rows allocates (at most :attr:`pass_rows` at once):
        :data:`ARRAYS_PER_UNIT` arrays of rows x width per layer, the inputs, and the gradient of a pass (what
        :func:`symopt.numerics.sizes.check_run` adds for a network)."""
        batch = max(min(rows, self.pass_rows), 1)
        units = sum(math.prod(shape) for shape in self.layer_shapes)
        return batch * (ARRAYS_PER_UNIT * units + self.n_inputs) + 2 * self.size()

    def describe_widths(self) -> str:
        """``"3 -> 4096 -> 1"``: the widths alone (no activations: for messages about size); images as
        channels x height x width."""
        return " -> ".join("x".join(map(str, shape)) for shape in [self.input_shapes()[0], *self.layer_shapes])

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
            field = math.prod(shape[2:])  # a convolution's kernel area; 1 for a dense layer
            fan_out, fan_in = shape[0] * field, shape[1] * field
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
        def layer_text(layer, act, shape):
            if isinstance(layer, Dense):
                extras = (" + batch norm" if layer.batch_norm else "") + (f" + dropout {layer.dropout:g}" if layer.dropout else "")
                return f"{layer.width} {act.name}{extras}"
            size = "x".join(map(str, shape))
            if act is None:
                return f"{layer.text()} {size}"
            return f"{layer.text()} {size} {act.name}" + (" + batch norm" if layer.batch_norm else "")

        parts = [str(self.input_shape) if not self.images else "x".join(map(str, self.input_shape))]
        parts += [layer_text(layer, act, shape) for layer, act, shape in zip(self.layers, self.activations,
                                                                           self.layer_shapes)]
        return ("float32 " if self.dtype == "float32" else "") + "network " + " -> ".join(parts)

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


def _input_shape(given) -> tuple:
    """``input_shape`` as ``(n,)`` or ``(channels, height, width)``, or why it cannot be."""
    given = plain_number(given)
    if isinstance(given, int) and not isinstance(given, bool) and given >= 1:
        return (given,)
    if isinstance(given, (tuple, list)) and len(given) == 3:
        dims = tuple(plain_number(d) for d in given)
        if all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in dims):
            return dims
    raise ModelError(f"Network: input_shape must be a positive integer (the number of input features) or "
                     f"(channels, height, width) of positive integers, got {given!r}")

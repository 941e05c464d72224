"""The layers a :class:`~symopt.Network` stacks: ``Dense``, ``Conv2D``, ``MaxPool2D``, ``AvgPool2D``, ``Flatten``
and ``Dropout``. Each is a small frozen record of its settings that knows the shape it gives for the shape it
gets (``(n,)`` for flat features, ``(channels, height, width)`` for images) and its parameters' names and shapes
at its position ``k`` in the stack, in PyTorch's layout (``K{k}`` of shape (out, in, kh, kw), ``W{k}`` of shape
(out, in), ``b{k}``; ``gamma{k}``, ``beta{k}`` with batch norm).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ModelError
from ..numerics.sizes import FLOAT, check_fits, most_that_fit
from ..optimizers.base import plain_number

PADDINGS = ("valid", "same")


def _positive(layer: str, what: str, value) -> int:
    value = plain_number(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ModelError(f"{layer}: {what} must be a positive integer, got {value!r}")
    return value


def _pair(layer: str, what: str, value) -> tuple[int, int]:
    """``3`` or ``(3, 2)`` as ``(3, 3)`` or ``(3, 2)``: (along the height, along the width)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ModelError(f"{layer}: {what} must be an integer or a pair (height, width), got {value!r}")
        return _positive(layer, what, value[0]), _positive(layer, what, value[1])
    size = _positive(layer, what, value)
    return size, size


def _image(shape: tuple, k: int, layer) -> tuple[int, int, int]:
    """The (channels, height, width) a convolution or pooling layer at ``k`` reads, or why not."""
    if len(shape) != 3:
        raise ModelError(f"layer {k} ({layer.text()}) needs images (channels, height, width), but gets flat "
                         f"features of size {shape[0]}: give the Network input_shape=(channels, height, width) and "
                         f"put convolution and pooling layers before Flatten()")
    return shape


def _window_out(k: int, layer, size: int, window: int, stride: int, pad: int, axis: str) -> int:
    if size + pad < window:
        raise ModelError(f"layer {k} ({layer.text()}): its {axis} window of {window} is larger than its input's "
                         f"{axis} of {size}" + (f" (padded to {size + pad})" if pad else "") +
                         ": use a smaller kernel or pool size, padding='same', or fewer pooling layers before it")
    return (size + pad - window) // stride + 1


class _Layer:
    """What every layer answers (a layer without weights has no parameters, no activation, no batch norm)."""

    dropout = 0.0
    batch_norm = False
    weighted = False
    activation = None

    def parameters(self, k: int, shape: tuple) -> list[tuple[str, tuple]]:
        return []

    def text(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class Dense(_Layer):
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
    weighted = True

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

    def output_shape(self, shape: tuple, k: int) -> tuple:
        if len(shape) != 1:
            raise ModelError(f"layer {k} (Dense({self.width})) gets images of shape {shape} (channels, height, "
                             f"width): add Flatten() before it")
        return (self.width,)

    def parameters(self, k: int, shape: tuple) -> list[tuple[str, tuple]]:
        out = [(f"W{k}", (self.width, shape[0])), (f"b{k}", (self.width,))]
        return out + ([(f"gamma{k}", (self.width,)), (f"beta{k}", (self.width,))] if self.batch_norm else [])

    def text(self) -> str:
        return f"Dense({self.width})"


@dataclass(frozen=True)
class Conv2D(_Layer):
    """A 2-D convolution (cross-correlation, as PyTorch's ``Conv2d``) with ``filters`` output channels:
    ``z[o] = b[o] + sum over c of K[o, c] * a[c]``, then the activation (``None``: relu).

    ``kernel_size`` and ``stride``: an integer or a pair (height, width). ``padding``: ``"valid"`` (none),
    ``"same"`` (the output keeps the input's height and width; stride 1 only, the extra row or column of an
    even kernel at the bottom and right, as PyTorch pads) or an integer of zeros on every side.
    ``batch_norm=True`` normalises each channel over the batch and the image (as ``BatchNorm2d``, eps 1e-5,
    momentum 0.1) before the activation. Parameters at position ``k``: ``K{k}`` (filters, channels, kh, kw)
    and ``b{k}``.
    """

    filters: int
    kernel_size: object = 3
    stride: object = 1
    padding: object = "valid"
    activation: object = None
    batch_norm: bool = False
    weighted = True

    def __post_init__(self):
        object.__setattr__(self, "filters", _positive("Conv2D", "filters", self.filters))
        object.__setattr__(self, "kernel_size", _pair("Conv2D", "kernel_size", self.kernel_size))
        object.__setattr__(self, "stride", _pair("Conv2D", "stride", self.stride))
        padding = plain_number(self.padding)
        if isinstance(padding, str):
            if padding not in PADDINGS:
                raise ModelError(f"Conv2D: padding must be 'valid', 'same' or a number of zeros, got {padding!r}")
            if padding == "same" and self.stride != (1, 1):
                raise ModelError(f"Conv2D: padding='same' needs stride 1 (got stride {self.stride}), as in "
                                 f"PyTorch; give padding as a number of zeros to combine it with a stride")
        elif not isinstance(padding, int) or isinstance(padding, bool) or padding < 0:
            raise ModelError(f"Conv2D: padding must be 'valid', 'same' or a number of zeros >= 0, got {padding!r}")
        object.__setattr__(self, "padding", padding)
        check_fits(4 * FLOAT * self.filters, f"Conv2D({self.filters:,})",
                   lambda: f"at most {most_that_fit(4 * FLOAT):,} filters fit")
        if not isinstance(plain_number(self.batch_norm), bool):
            raise ModelError(f"Conv2D: batch_norm must be True or False, got {self.batch_norm!r}")

    def pads(self) -> tuple[int, int, int, int]:
        """Zeros added (top, bottom, left, right)."""
        if self.padding == "valid":
            return 0, 0, 0, 0
        if self.padding == "same":
            (kh, kw) = self.kernel_size
            return (kh - 1) // 2, kh - 1 - (kh - 1) // 2, (kw - 1) // 2, kw - 1 - (kw - 1) // 2
        return (self.padding,) * 4

    def output_shape(self, shape: tuple, k: int) -> tuple:
        c, h, w = _image(shape, k, self)
        top, bottom, left, right = self.pads()
        return (self.filters,
                _window_out(k, self, h, self.kernel_size[0], self.stride[0], top + bottom, "height"),
                _window_out(k, self, w, self.kernel_size[1], self.stride[1], left + right, "width"))

    def parameters(self, k: int, shape: tuple) -> list[tuple[str, tuple]]:
        out = [(f"K{k}", (self.filters, shape[0], *self.kernel_size)), (f"b{k}", (self.filters,))]
        return out + ([(f"gamma{k}", (self.filters,)), (f"beta{k}", (self.filters,))] if self.batch_norm else [])

    def text(self) -> str:
        kh, kw = self.kernel_size
        extra = "" if self.stride == (1, 1) else f", stride={self.stride[0] if self.stride[0] == self.stride[1] else self.stride}"
        pad = "" if self.padding == "valid" else f", padding={self.padding!r}"
        return f"Conv2D({self.filters}, {kh if kh == kw else self.kernel_size}{extra}{pad})"


@dataclass(frozen=True)
class _Pool(_Layer):
    pool_size: object = 2
    stride: object = None

    def __post_init__(self):
        name = type(self).__name__
        object.__setattr__(self, "pool_size", _pair(name, "pool_size", self.pool_size))
        object.__setattr__(self, "stride", self.pool_size if self.stride is None else _pair(name, "stride", self.stride))

    def output_shape(self, shape: tuple, k: int) -> tuple:
        c, h, w = _image(shape, k, self)
        return (c, _window_out(k, self, h, self.pool_size[0], self.stride[0], 0, "height"),
                _window_out(k, self, w, self.pool_size[1], self.stride[1], 0, "width"))

    def text(self) -> str:
        ph, pw = self.pool_size
        extra = "" if self.stride == self.pool_size else f", stride={self.stride}"
        return f"{type(self).__name__}({ph if ph == pw else self.pool_size}{extra})"


class MaxPool2D(_Pool):
    """The largest value of each ``pool_size`` window per channel (``stride`` defaults to the pool size; no
    padding, windows that do not fit dropped, as PyTorch's ``MaxPool2d``). A tie goes to the first value."""


class AvgPool2D(_Pool):
    """The mean of each ``pool_size`` window per channel (``stride`` defaults to the pool size; no padding, as
    PyTorch's ``AvgPool2d``)."""


@dataclass(frozen=True)
class Flatten(_Layer):
    """Images (channels, height, width) to flat features in that order (as ``torch.flatten(a, 1)``), for a
    Dense layer after convolution or pooling."""

    def output_shape(self, shape: tuple, k: int) -> tuple:
        if len(shape) == 1:
            raise ModelError(f"layer {k} (Flatten()) gets flat features already: remove it")
        return (shape[0] * shape[1] * shape[2],)

    def text(self) -> str:
        return "Flatten()"


@dataclass(frozen=True)
class Dropout(_Layer):
    """Zeroes each value with probability ``p`` in training and scales the rest by ``1/(1-p)`` (inverted
    dropout; nothing at inference), on flat features or images alike. ``Dense(..., dropout=p)`` is the same
    as a ``Dropout(p)`` after that layer."""

    p: float = 0.5

    def __post_init__(self):
        p = plain_number(self.p)
        if not (isinstance(p, (int, float)) and not isinstance(p, bool) and 0 < p < 1):
            raise ModelError(f"Dropout: p must be in (0, 1), got {p!r}")
        object.__setattr__(self, "p", float(p))

    @property
    def dropout(self) -> float:
        return self.p

    def output_shape(self, shape: tuple, k: int) -> tuple:
        return shape

    def text(self) -> str:
        return f"Dropout({self.p:g})"


LAYERS = (Dense, Conv2D, MaxPool2D, AvgPool2D, Flatten, Dropout)

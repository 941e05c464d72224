"""Rendering a network's trainer: layer offsets, printed activations, the output loss, and per layer type the
template's record of shapes (templates/network/: conv2d.py.jinja and conv_kernels.py.jinja for Conv2D,
pool.py.jinja and pool_kernels.py.jinja for pooling, flatten and dropout).

Convolutions are im2col and BLAS at every shape. Direct loops (each kernel entry times a row of the input, no
columns stored) were measured against them, forward and backward, float64, one thread, ms per call at batch
32 / 64 / 256 (while other jobs shared the two cores, so the figures are rough):

=============================================  =====================  ==================
layer shape (in -> filters, kernel, padding)   direct                 im2col + BLAS
=============================================  =====================  ==================
1x8x8 -> 16, 3, same (digits, first)           1.2 / 2.5 / 25         0.12 / 0.24 / 0.97
16x4x4 -> 32, 3, same (digits, second)         32 / 69 / 275          0.66 / 1.3 / 9.4
1x28x28 -> 6, 5, valid (LeNet-5, first)        21 / 51 / 211          1.6 / 3.3 / 43
6x12x12 -> 16, 5, valid (LeNet-5, second)      43 / 94 / 559          2.0 / 12 / 41
2x6x6 -> 3, 3, valid                           0.19 / 0.37 / 1.5      0.06 / 0.12 / 0.47
3x6x6 -> 2, 1 (1 x 1)                          0.06 / 0.13 / 0.35     0.03 / 0.06 / 0.16
32x8x8 -> 32, 1 (1 x 1)                        52 / 107 / 380         0.65 / 1.9 / 18
=============================================  =====================  ==================

so the choice is fixed in the template, never made at run time (one seed gives identical parameters). The
im2col column above predates two later changes, which only widen the gap: im2col now reads a padded copy of
the inputs with contiguous row copies (3.8x faster per pass at LeNet-5's layers, batch 256), and a step's
arrays come from one workspace allocated once an epoch (:func:`_lay_out_workspace`).

The convolutions deal their blocks (of output rows forward, of images backward) to a fixed number of lanes.
The serial module runs the lanes one after another; its parallel twin (``parallel=True``: ``prange`` over the
lanes, pooling and the convolutional activations over the images) splits them across Numba's threads, each lane
with its own columns and its own part of the kernels' gradient, added in lane order, so both modules give the same
results bit for bit. A forward block is rows of the output, so one large image is split across threads too, not
only the batch. Which module runs is decided per solve (:mod:`symopt.run.network_threads`): the serial one
unless the convolutions are large and the thread budget has more than one thread, as the generated kernels'
parallel module (starting Numba's thread pool in every process that trains a network would break fork-based
workers). LeNet-5 at batch 256, float32: 17.5 ms a step serial, 10.0 ms parallel (2 cores, quiet).
"""

from __future__ import annotations

import math
import platform

import numpy as np
import sympy as sp

from .._version import __version__
from ..model.layer_specs import Conv2D
from ..model.layers import Z
from ..optimizers.first_order import _FirstOrder
from ..symbolic.printer import names_in, print_block
from .cache import numba_version
from .render import TEMPLATE_VERSION, Rendered, optimizer_context, render_checked, special_functions

A = sp.Symbol("a", real=True)


def _activation_context(k: int, act, conv: bool) -> dict:
    identity = act.expr == Z
    context = {"index": k, "identity": identity, "expr": str(act.expr), "derivative": str(act.derivative),
               "conv": conv}
    if identity:
        return context
    # Numbers printed as T(...), the arrays' number type: Numba computes 2*z in float64 for a float32 z.
    temps, value = print_block([act.expr], {Z: "z"}, temp_prefix="u", exp_neg_abs="inline", number_type="T")
    # The derivative in terms of a = act(z) where that is shorter (tanh: 1 - a**2; sigmoid: a*(1 - a)).
    derivative = act.derivative.subs(act.expr, A)
    dtemps, dvalue = print_block([derivative], {Z: "z", A: "a"}, temp_prefix="v", exp_neg_abs="inline",
                                 number_type="T")
    context.update(temps=temps, value=value[0], dtemps=dtemps, dvalue=dvalue[0],
                   uses=sorted(names_in(value[0], *temps)), d_uses=sorted(names_in(dvalue[0], *dtemps)))
    return context


#: The template's name for each layer type.
KINDS = {"Dense": "dense", "Conv2D": "conv", "MaxPool2D": "maxpool", "AvgPool2D": "avgpool", "Flatten": "flatten",
         "Dropout": "dropout"}


def _layer_entry(k: int, layer, act, shape_in: tuple, shape_out: tuple, offset: int, stat: int,
                 need_input: bool) -> tuple[dict, int, int]:
    """The template's record of layer ``k`` (its shapes, where its parameters and statistics sit in theta and
    stats, what its forward pass hands the backward pass), and the offsets after it."""
    kind = KINDS[type(layer).__name__]
    entry = {"k": k, "kind": kind, "title": type(layer).__name__, "inp": math.prod(shape_in), "out": math.prod(shape_out),
             "weighted": layer.weighted, "need_input": need_input, "identity": act is not None and act.expr == Z,
             "bn": layer.batch_norm, "dropout": layer.dropout, "keep": repr(1.0 - layer.dropout)}
    if len(shape_in) == 3:
        entry.update(C=shape_in[0], H=shape_in[1], W=shape_in[2])
    if len(shape_out) == 3:
        entry.update(Ho=shape_out[1], Wo=shape_out[2], S=shape_out[1] * shape_out[2])
    if layer.weighted:
        units = shape_out[0]
        weights = entry["out"] * entry["inp"] if kind == "dense" else units * shape_in[0] * math.prod(layer.kernel_size)
        entry.update(w_start=offset, w_end=offset + weights, b_start=offset + weights)
        offset = entry["b_start"] + units
        if layer.batch_norm:
            entry.update(gamma_start=offset, beta_start=offset + units, mean_start=stat, var_start=stat + units)
            offset, stat = offset + 2 * units, stat + 2 * units
    if kind == "conv":
        top, _, left, _ = layer.pads()
        entry.update(O=shape_out[0], kh=layer.kernel_size[0], kw=layer.kernel_size[1], sh=layer.stride[0],
                     sw=layer.stride[1], pt=top, pl=left)
    elif kind in ("maxpool", "avgpool"):
        entry.update(ph=layer.pool_size[0], pw=layer.pool_size[1], sh=layer.stride[0], sw=layer.stride[1])
    # What the forward pass hands the backward pass for this layer, in order (the template's _forward
    # returns them, layer by layer: the last is the network's outputs).
    if kind == "dense":
        entry["cached"] = [*([f"W{k}"] if k > 1 else []), *([f"H{k}", f"inv{k}"] if layer.batch_norm else []),
                           *([f"U{k}"] if not entry["identity"] else []), f"P{k}",
                           *([f"M{k}"] if layer.dropout else []), f"A{k}"]
    elif kind == "conv":
        entry["cached"] = [*([f"H{k}", f"inv{k}"] if layer.batch_norm else []),
                           *([f"U{k}"] if not entry["identity"] else []), f"P{k}", f"A{k}"]
    else:
        entry["cached"] = [*([f"I{k}"] if kind == "maxpool" else []), *([f"M{k}"] if kind == "dropout" else []),
                           f"A{k}"]
    return entry, offset, stat


def _lay_out_workspace(layers: list[dict], n_outputs: int, first_weighted: int) -> dict:
    """Where a step's arrays sit in its workspace, one flat array in the inputs' dtype that the step carves into
    views instead of allocating: per row of the batch, each layer's forward arrays (``entry["rows"]``: name ->
    offset in values per row), the batch's inputs and two buffers the backward pass alternates between for dF/dA
    (``entry["g_to"]``: which one a layer writes). Weight gradients need no room: BLAS writes them into grad.

    Measured (dense 64 -> 2048 -> 64 -> 10 at batch 1024, float32): a step that allocated its 8 MB arrays fresh
    took 24.6-27.9 ms within an epoch, 14.0 ms with this workspace (glibc returned the top of the heap to the
    system when a step freed them, and the next step page-faulted them back in)."""
    at = 0

    def take(width: int) -> int:
        nonlocal at
        at += width
        return at - width

    for entry in layers:
        out, rows = entry["out"], {}
        if entry["kind"] in ("dense", "conv"):
            rows["Z"] = take(out)
            if entry["bn"]:
                rows["H"], rows["U"] = take(out), take(out)
            if not entry["identity"]:
                rows["P"] = take(out)
        if entry["kind"] in ("maxpool", "avgpool"):
            rows["A"] = take(out)
        if entry["kind"] == "dropout" or entry["kind"] == "dense" and entry["dropout"]:
            rows["M"], rows["A"] = take(out), take(out)
        entry["rows"] = rows
    backward = [entry for entry in reversed(layers) if entry["k"] >= first_weighted]
    new_g = [entry for entry in backward if entry["kind"] in ("maxpool", "avgpool")
             or entry["kind"] in ("dense", "conv") and entry["need_input"]]
    width = max([n_outputs, *(entry["inp"] for entry in new_g)])
    g_at = [take(width), take(width)]
    current = 0
    for entry in new_g:
        current = entry["g_to"] = 1 - current
    a0_at = take(layers[0]["inp"])
    return {"per_row": at, "g_at": g_at, "a0_at": a0_at}


def render_network(objective, derivation, optimizer, parallel: bool = False) -> Rendered:
    """The trainer module of ``objective``'s network for ``optimizer``; ``parallel``: its twin whose convolutions
    deal their blocks to Numba's threads (``prange``), for a network with convolutions when the thread budget has
    more than one thread (:func:`symopt.run.network_threads.parallel_wanted`). Both modules give the same results."""
    net = objective.model
    parallel = parallel and any(isinstance(layer, Conv2D) for layer in net.layers)
    layers, offset, stat = [], 0, 0
    weighted = [k for k, layer in enumerate(net.layers, start=1) if layer.weighted]
    for k, (layer, act, shape_in, shape_out) in enumerate(zip(net.layers, net.activations, net.input_shapes(),
                                                              net.layer_shapes), start=1):
        entry, offset, stat = _layer_entry(k, layer, act, shape_in, shape_out, offset, stat, k > weighted[0])
        layers.append(entry)
    for entry, after in zip(layers, [*net.layers[1:], None]):
        # The backward pass stops at the first layer with weights, and reads a layer's output only where the
        # next layer has weights (its product with them) or it is the network's outputs.
        wanted = entry["k"] >= weighted[0]
        entry["cached"] = [name for name in entry["cached"] if (wanted and not name.startswith("A"))
                           or name.startswith("A") and (after is None or after.weighted)]
    activations = [_activation_context(k, act, isinstance(layer, Conv2D))
                   for k, (layer, act) in enumerate(zip(net.layers, net.activations), start=1) if act is not None]
    y = objective.target
    context = {
        "work": _lay_out_workspace(layers, layers[-1]["out"], weighted[0]),
        "layers": layers, "activations": activations, "n_layers": len(layers), "first_weighted": weighted[0],
        "has_conv": any(entry["kind"] == "conv" for entry in layers),
        "conv_bn": any(entry["kind"] == "conv" and entry["bn"] for entry in layers),
        "pool_kinds": {"max": any(e["kind"] == "maxpool" for e in layers),
                       "avg": any(e["kind"] == "avgpool" for e in layers)},
        "forward_names": [name for entry in layers for name in entry["cached"]],
        "kind": objective.kind,
        "y_matrix": objective.kind == "squared" and net.n_outputs > 1,
        "chunk": net.pass_rows,
        "parallel": parallel, "block_range": "prange" if parallel else "range",
        "conv_jit": "njit(cache=True, error_model=\"numpy\"" + (", parallel=True)" if parallel else ")"),
        "conv_jit_fast": "njit(cache=True, error_model=\"numpy\", fastmath=FASTMATH" + (", parallel=True)" if parallel else ")"),
        "mean": objective.reduction == "mean",
        **optimizer_context(objective, optimizer),
        # Full-batch optimizers (L-BFGS) get objective_and_gradient over all rows and the optimizer's own
        # module code, driven by symopt.run.loop like any other problem; first-order ones train by epochs.
        "full_batch": not isinstance(optimizer, _FirstOrder), "optimizer_template": optimizer.template,
        "data_args": ["X", "y"],
        "optimizer_title": type(optimizer).__name__, "problem": objective.describe(l2="l2"),
        "param_summary": ", ".join(f"{n} {s}" for n, s in net.shapes()),
        "symopt_version": __version__, "template_version": TEMPLATE_VERSION,
        "numba_version": numba_version(), "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "loss_temps": [], "loss": "0.0", "dloss": "0.0",
    }
    if objective.kind != "cross_entropy":
        temps, printed = print_block([objective.per_sample, derivation.gradient[0]], {Z: "z", y: "yy"},
                                     temp_prefix="q")
        context.update(loss_temps=temps, loss=printed[0], dloss=printed[1])
    context.update(special_functions(context))
    source = render_checked("network/trainer.py.jinja", context)
    return Rendered(source, f"net_{optimizer.name}" + ("_parallel" if parallel else ""), ("X", y.name))

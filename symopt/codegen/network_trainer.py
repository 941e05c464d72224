"""Rendering a network's trainer: layer offsets, printed activations, the output loss."""

from __future__ import annotations

import platform

import numpy as np
import sympy as sp

from .._version import __version__
from ..model.layers import Z
from ..optimizers.first_order import _FirstOrder
from ..symbolic.printer import names_in, print_block
from .cache import numba_version
from .render import TEMPLATE_VERSION, Rendered, optimizer_context, render_checked, special_functions

A = sp.Symbol("a", real=True)


def _activation_context(k: int, act) -> dict:
    identity = act.expr == Z
    context = {"index": k, "identity": identity, "expr": str(act.expr), "derivative": str(act.derivative)}
    if identity:
        return context
    temps, value = print_block([act.expr], {Z: "z"}, temp_prefix="u", exp_neg_abs="inline")
    # The derivative in terms of a = act(z) where that is shorter (tanh: 1 - a**2; sigmoid: a*(1 - a)).
    derivative = act.derivative.subs(act.expr, A)
    dtemps, dvalue = print_block([derivative], {Z: "z", A: "a"}, temp_prefix="v", exp_neg_abs="inline")
    context.update(temps=temps, value=value[0], dtemps=dtemps, dvalue=dvalue[0],
                   d_uses=sorted(names_in(dvalue[0], *dtemps)))
    return context


def render_network(objective, derivation, optimizer) -> Rendered:
    net = objective.model
    layers, offset, stat, fan_in = [], 0, 0, net.n_inputs
    for k, (layer, act) in enumerate(zip(net.layers, net.activations), start=1):
        w = layer.width
        entry = {"k": k, "inp": fan_in, "out": w, "w_start": offset, "w_end": offset + w * fan_in,
                 "b_start": offset + w * fan_in, "identity": act.expr == Z, "bn": layer.batch_norm,
                 "dropout": layer.dropout, "keep": repr(1.0 - layer.dropout)}
        offset = entry["b_start"] + w
        if layer.batch_norm:
            entry.update(gamma_start=offset, beta_start=offset + w, mean_start=stat, var_start=stat + w)
            offset, stat = offset + 2 * w, stat + 2 * w
        # What the forward pass hands the backward pass for this layer, in order (the template's _forward
        # returns them, layer by layer: the last is the network's outputs).
        entry["cached"] = [*([f"W{k}"] if k > 1 else []), *([f"H{k}", f"inv{k}"] if layer.batch_norm else []),
                           *([f"U{k}"] if act.expr != Z else []), f"P{k}", *([f"M{k}"] if layer.dropout else []), f"A{k}"]
        layers.append(entry)
        fan_in = w
    activations = [_activation_context(k, act) for k, act in enumerate(net.activations, start=1)]
    y = objective.target
    context = {
        "layers": layers, "activations": activations, "n_layers": len(layers),
        "forward_names": [name for entry in layers for name in entry["cached"]],
        "kind": objective.kind,
        "y_matrix": objective.kind == "squared" and net.n_outputs > 1,
        "chunk": net.pass_rows,
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
    return Rendered(source, f"net_{optimizer.name}", ("X", y.name))

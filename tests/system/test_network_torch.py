"""Generated backpropagation against PyTorch autograd (float64, identical weights
and data) for every built-in activation and a custom SymPy one, with and without
batch norm. Skips cleanly when PyTorch is not installed."""

from __future__ import annotations

import numpy as np
import pytest

import symopt
from torch_reference import torch_loss

torch = pytest.importorskip("torch")
F = torch.nn.functional

TORCH_ACTIVATIONS = {
    "identity": lambda z: z,
    "relu": F.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, 0.01),
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "softplus": F.softplus,
    "gelu": lambda z: F.gelu(z, approximate="tanh"),
    "swish": F.silu,
    "x*tanh(softplus(x))": F.mish,  # a custom activation given as text: SymPy derives its derivative
}
#: By the name symopt gives each: a custom activation is named by its parsed expression, in z.
BY_NAME = {symopt.Activation.of(spec).name: fn for spec, fn in TORCH_ACTIVATIONS.items()}


def torch_gradient(net, kind, theta, X, y, l2):
    params = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in net.unflatten(theta).items()}
    a = torch.tensor(X, dtype=torch.float64)
    penalty = 0.0
    for k, (layer, act) in enumerate(zip(net.layers, net.activations), start=1):
        z = a @ params[f"W{k}"].T + params[f"b{k}"]
        penalty = penalty + (params[f"W{k}"] ** 2).sum()
        if layer.batch_norm:
            z = F.batch_norm(z, None, None, params[f"gamma{k}"], params[f"beta{k}"], training=True, eps=1e-5)
        a = BY_NAME[act.name](z)
    (torch_loss(kind, a, y) + l2 * penalty).backward()
    return np.concatenate([params[name].grad.numpy().ravel() for name, _ in net.shapes()])


CASES = ([("cross_entropy", a) for a in TORCH_ACTIVATIONS]
         + [(kind, a) for kind in ("log", "squared") for a in ("tanh", "relu")])


@pytest.mark.parametrize("batch_norm", [False, True], ids=["plain", "batch_norm"])
@pytest.mark.parametrize("kind, activation", CASES)
def test_gradients_match_pytorch(kind, activation, batch_norm, rng):
    outputs = 1 if kind == "log" else 3
    net = symopt.Network(5, [symopt.Dense(8, activation, batch_norm=batch_norm), symopt.Dense(6, activation),
                             symopt.Dense(outputs)], init="glorot", seed=4)
    X = rng.normal(size=(30, 5))
    if kind == "cross_entropy":
        y, objective = rng.integers(0, 3, 30).astype(float), symopt.cross_entropy(net, l2=0.01)
    elif kind == "log":
        y, objective = (rng.random(30) > 0.5).astype(float), symopt.log_loss(net, l2=0.01)
    else:
        y, objective = rng.normal(size=(30, 3)), symopt.squared_loss(net, l2=0.01)
    theta = net.initial() + rng.normal(0, 0.1, net.size())
    ours = net.flatten(symopt.gradient(objective, (X, y), net.unflatten(theta)))
    reference = torch_gradient(net, kind, theta, X, y, 0.01)
    assert np.max(np.abs(ours - reference)) <= 1e-10 * np.max(np.abs(reference))

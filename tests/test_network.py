"""Networks: generated backpropagation against central differences for every
built-in activation and a custom one; training on scikit-learn's digits;
reproducibility; prediction and the gradient API; clear errors."""

from __future__ import annotations

import numpy as np
import pytest

import symopt
from symopt import train
from symopt.data import prepare
from symopt.network import BUILTIN_ACTIVATIONS
from symopt.optimizers import Adam


def small_problem(kind, activation, rng, n=40):
    net = symopt.Network(5, [symopt.Dense(7, activation), symopt.Dense(6, activation),
                             symopt.Dense(3 if kind != "log" else 1)], init="glorot", seed=3)
    X = rng.normal(size=(n, 5))
    if kind == "cross_entropy":
        return symopt.cross_entropy(net, l2=0.01), (X, rng.integers(0, 3, n).astype(float)), net
    if kind == "log":
        return symopt.log_loss(net, l2=0.01), (X, (rng.random(n) > 0.5).astype(float)), net
    return symopt.squared_loss(net, l2=0.01), (X, rng.normal(size=(n, 3))), net


def central_differences(objective, data, theta, h=1e-6):
    module, _, _ = train.load(objective, symopt.derive(objective), Adam())
    ds = prepare(objective, data)
    X, y = ds["X"], ds[objective.target.name]
    out = np.empty_like(theta)
    for k in range(theta.size):
        e = np.zeros_like(theta)
        e[k] = h
        out[k] = (module.full_loss(theta + e, X, y, objective.l2, 4096)
                  - module.full_loss(theta - e, X, y, objective.l2, 4096)) / (2 * h)
    return out


@pytest.mark.parametrize("activation", list(BUILTIN_ACTIVATIONS) + ["z*tanh(softplus(z))"])
@pytest.mark.parametrize("kind", ["cross_entropy", "log", "squared"])
def test_backprop_matches_central_differences(kind, activation, rng):
    objective, data, net = small_problem(kind, activation, rng)
    theta = net.initial() + rng.normal(0, 0.05, net.size())
    analytic = net.flatten(symopt.gradient(objective, data, net.unflatten(theta)))
    numeric = central_differences(objective, data, theta)
    scale = np.max(np.abs(numeric))
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-6 * scale)


@pytest.fixture(scope="module")
def digits():
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y.astype(float), test_size=0.25, random_state=0)


def fit_digits(digits, seed):
    Xtr, _, ytr, _ = digits
    net = symopt.Network(64, [symopt.Dense(128, "tanh"), symopt.Dense(64, "relu"), symopt.Dense(10)], seed=seed)
    return symopt.solve(symopt.cross_entropy(net), (Xtr, ytr),
                        optimizer=symopt.Adam(lr=1e-3, batch_size=32, max_iter=30, seed=seed), progress=False)


def test_digits_accuracy_and_reproducibility(digits):
    _, Xte, _, yte = digits
    first = fit_digits(digits, seed=0)
    assert first.success and first.status == "completed" and first.nit == 30
    accuracy = np.mean(first.predict(Xte) == yte)
    assert accuracy >= 0.97, accuracy
    second = fit_digits(digits, seed=0)
    for name in first.params:
        np.testing.assert_array_equal(first.params[name], second.params[name])
    assert first.params["W1"].shape == (128, 64) and first.params["b3"].shape == (10,)
    assert first.history[-1] < first.history[0]


def test_x0_by_name_and_predictions(rng):
    objective, data, net = small_problem("log", "tanh", rng)
    start = net.unflatten(net.initial())
    r = symopt.solve(objective, data, x0=start, optimizer=symopt.Adam(lr=0.01, batch_size=8, max_iter=5),
                     progress=False)
    assert set(r.params) == {"W1", "b1", "W2", "b2", "W3", "b3"}
    labels = r.predict(data[0])
    assert set(np.unique(labels)) <= {0.0, 1.0} and labels.shape == (40,)


def test_network_errors(rng):
    net = symopt.Network(5, [symopt.Dense(4), symopt.Dense(3)])
    with pytest.raises(symopt.ModelError, match="1 output"):
        symopt.log_loss(net)
    with pytest.raises(symopt.DataError, match="integer class labels 0 .. 2"):
        symopt.solve(symopt.cross_entropy(net), (rng.normal(size=(4, 5)), np.array([0, 1, 3, 0.0])))
    with pytest.raises(symopt.DataError, match="5"):
        symopt.solve(symopt.cross_entropy(net), (rng.normal(size=(4, 6)), np.zeros(4)))
    with pytest.raises(symopt.ModelError, match="first-order optimizer"):
        symopt.solve(symopt.cross_entropy(net), (rng.normal(size=(4, 5)), np.zeros(4)), optimizer=symopt.LBFGS())
    with pytest.raises(symopt.ModelError, match="exactly one symbol"):
        symopt.Network(2, [symopt.Dense(3, "x*y")])
    with pytest.raises(symopt.ModelError, match="init must be"):
        symopt.Network(2, [symopt.Dense(1)], init="zeros")
    with pytest.raises(symopt.ModelError, match="shape"):
        net.flatten({**net.unflatten(net.initial()), "W1": np.zeros((5, 4))})


def test_derivation_and_analysis_of_a_network():
    net = symopt.Network(3, [symopt.Dense(4, "sigmoid"), symopt.Dense(1)])
    d = symopt.derive(symopt.log_loss(net))
    text = str(d)
    assert "dl/dz = -y + sigmoid(z)" in text and "layer 1: a = sigmoid(z)" in text
    assert symopt.analyse(symopt.log_loss(net)).status == "none"

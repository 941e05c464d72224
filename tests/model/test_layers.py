"""Networks: generated backpropagation against central differences for every
built-in activation and a custom one; training on scikit-learn's digits;
reproducibility; prediction and the gradient API; clear errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import symopt
from symopt.run import epochs as train
from symopt.model.data import prepare
from symopt.model.layers import BUILTIN_ACTIVATIONS
from symopt.optimizers import Adam


def small_problem(kind, activation, rng, n=40, batch_norm=False):
    net = symopt.Network(5, [symopt.Dense(7, activation, batch_norm=batch_norm), symopt.Dense(6, activation),
                             symopt.Dense(3 if kind != "log" else 1)], init="glorot", seed=3)
    X = rng.normal(size=(n, 5))
    if kind == "cross_entropy":
        return symopt.cross_entropy(net, l2=0.01), (X, rng.integers(0, 3, n).astype(float)), net
    if kind == "log":
        return symopt.log_loss(net, l2=0.01), (X, (rng.random(n) > 0.5).astype(float)), net
    return symopt.squared_loss(net, l2=0.01), (X, rng.normal(size=(n, 3))), net


def training_objective(objective, data):
    """F(theta) in training mode on all rows (batch statistics, dropout off): what symopt.gradient differentiates."""
    _, module, _ = train.load(objective, symopt.derive(objective), Adam())
    ds = prepare(objective, data)
    X, y = ds["X"], ds[objective.target.name]
    net = objective.model
    rows = np.arange(ds.n_rows)

    def F(theta):
        return module.loss_and_gradient(theta, net.initial_buffers(), X, y, rows, objective.l2, 1.0 / ds.n_rows,
                                        np.empty(0), False, True, False, False, np.ones(1, dtype=np.int64),
                                        np.zeros((len(net.layers), 5)), False)
    return F


def central_differences(objective, data, theta, h=1e-6):
    F = training_objective(objective, data)
    out = np.empty_like(theta)
    for k in range(theta.size):
        e = np.zeros_like(theta)
        e[k] = h
        out[k] = (F(theta + e) - F(theta - e)) / (2 * h)
    return out


CASES = ([("cross_entropy", a, False) for a in list(BUILTIN_ACTIVATIONS) + ["x*tanh(softplus(x))"]]
         + [("log", a, True) for a in BUILTIN_ACTIVATIONS] + [("squared", "tanh", False), ("squared", "relu", True)])


@pytest.mark.parametrize("kind, activation, batch_norm", CASES)
def test_backprop_matches_central_differences(kind, activation, batch_norm, rng):
    objective, data, net = small_problem(kind, activation, rng, batch_norm=batch_norm)
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
                        optimizer=symopt.Adam(lr=1e-3, batch_size=32, epochs=30, seed=seed), progress=False)


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
    with pytest.raises(symopt.ModelError, match="LevenbergMarquardt cannot train a network"):
        symopt.solve(symopt.cross_entropy(net), (rng.normal(size=(4, 5)), np.zeros(4)),
                     optimizer=symopt.LevenbergMarquardt())
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


def deep_relu(init):
    return symopt.Network(20, [symopt.Dense(32, "relu") for _ in range(9)] + [symopt.Dense(2)], init=init, seed=1)


def test_diagnostics_flag_vanishing_gradients_for_naive_init_only(rng):
    X = rng.normal(size=(512, 20))
    y = (X[:, 0] + X[:, 1] > 0).astype(float)
    opt = symopt.Adam(lr=1e-3, batch_size=64, max_iter=3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        naive = symopt.solve(symopt.cross_entropy(deep_relu("normal")), (X, y), optimizer=opt, progress=False)
    assert all(issubclass(w.category, symopt.DiagnosticWarning) for w in caught)
    messages = [str(w.message) for w in caught]
    assert any("vanishing gradients" in m for m in messages)
    assert any("dead or saturated" in m for m in messages)  # the naive init also silences deep units
    assert any("vanishing" in note for note in naive.diagnostics.advice)
    assert naive.diagnostics.grad_rms.shape == (3, 10)
    assert naive.diagnostics.grad_rms[-1, 0] < 1e-6 * naive.diagnostics.grad_rms[-1].max()
    with warnings.catch_warnings():
        warnings.simplefilter("error", symopt.DiagnosticWarning)
        he = symopt.solve(symopt.cross_entropy(deep_relu("he")), (X, y), optimizer=opt, progress=False)
    assert not any("vanishing" in note for note in he.diagnostics.advice)
    assert "diagnostics (last epoch)" in str(he)


def test_dropout_and_batch_norm_train_and_infer(rng):
    X = rng.normal(size=(300, 6))
    y = (X[:, 0] * X[:, 1] > 0).astype(float)
    net = symopt.Network(6, [symopt.Dense(24, "relu", dropout=0.3, batch_norm=True), symopt.Dense(1)], seed=2)
    opt = symopt.Adam(lr=0.01, batch_size=32, max_iter=40, seed=4)
    first = symopt.solve(symopt.log_loss(net), (X, y), optimizer=opt, progress=False)
    again = symopt.solve(symopt.log_loss(net), (X, y), optimizer=opt, progress=False)
    np.testing.assert_array_equal(first.x, again.x)  # dropout masks come from the seed
    assert set(first.buffers) == {"running_mean1", "running_var1"}
    assert np.all(first.buffers["running_var1"] > 0) and not np.allclose(first.buffers["running_mean1"], 0)
    assert {"gamma1", "beta1"} <= set(first.params)
    np.testing.assert_array_equal(first.predict(X), first.predict(X))  # inference is deterministic
    assert np.mean(first.predict(X) == y) > 0.8
    other = symopt.solve(symopt.log_loss(net), (X, y), optimizer=symopt.Adam(lr=0.01, batch_size=32, max_iter=40,
                                                                             seed=5), progress=False)
    assert not np.array_equal(first.x, other.x)


def test_inference_uses_running_statistics(rng):
    X = rng.normal(size=(200, 3))
    y = rng.normal(size=200)
    net = symopt.Network(3, [symopt.Dense(5, "tanh", batch_norm=True), symopt.Dense(1)], seed=0)
    r = symopt.solve(symopt.squared_loss(net), (X, y), optimizer=symopt.Adam(lr=0.01, batch_size=50, max_iter=5),
                     progress=False)
    p = r.params
    rm, rv = r.buffers["running_mean1"], r.buffers["running_var1"]
    z = X @ p["W1"].T + p["b1"]
    a = np.tanh(p["gamma1"] * (z - rm) / np.sqrt(rv + 1e-5) + p["beta1"])
    np.testing.assert_allclose(r.predict(X), (a @ p["W2"].T + p["b2"])[:, 0], rtol=1e-12, atol=1e-12)


def test_generated_exp_neg_abs_is_accurate_and_keeps_nan(rng):
    """The activation loops' branch-free exp(-|z|): within 2 ulp of NumPy's exp for normal results,
    0 below 2**-1022, NaN for NaN (so the driver's finite checks still see it)."""
    objective, _, _ = small_problem("cross_entropy", "tanh", rng)
    rendered, module, _ = train.load(objective, symopt.derive(objective), Adam())
    assert "_exp_neg_abs(T(2)*z)" in rendered.source  # tanh's stable form uses it
    z = np.concatenate([rng.uniform(-800, 800, 20_000), rng.uniform(-5, 5, 20_000),
                        [0.0, -0.0, 1e-300, 708.39, -708.39, 708.4, 745.0, 1e300, np.inf, -np.inf]])
    got = np.array([module._exp_neg_abs(v) for v in z])
    want = np.exp(-np.abs(z))
    normal = want >= np.finfo(float).tiny
    assert np.max(np.abs(got[normal] - want[normal]) / want[normal]) <= 4.5e-16
    assert np.all(got[~normal] == 0.0) and (~normal).sum() > 1000
    assert np.isnan(module._exp_neg_abs(np.nan))


def test_unknown_activation_names_are_refused_with_a_suggestion():
    for name, suggestion in [("Relu", "relu"), ("ReLU", "relu"), ("elu", "relu"), ("Tanh", "tanh")]:
        with pytest.raises(symopt.ModelError, match=f"unknown activation '{name}'; built-in: identity, relu.*"
                                                    f"did you mean '{suggestion}'"):
            symopt.Network(2, [symopt.Dense(8, name), symopt.Dense(1)])
    with pytest.raises(symopt.ModelError, match="softmax belongs to the loss.*cross_entropy"):
        symopt.Network(2, [symopt.Dense(8), symopt.Dense(3, "softmax")])
    with pytest.raises(symopt.ModelError, match="unknown activation 'x'"):
        symopt.Activation.of("x")  # a bare symbol is a typo, not the identity: that is "identity"
    assert symopt.Activation.of("identity").derivative == 1
    assert symopt.Activation.of(" relu ").name == "relu"
    assert symopt.Activation.of("x*tanh(softplus(x))").expr.free_symbols == {symopt.model.layers.Z}


def test_layers_and_sizes_are_checked():
    with pytest.raises(symopt.ModelError, match=r"layers must be a list of symopt.Dense, got a single Dense"):
        symopt.Network(2, symopt.Dense(1))
    with pytest.raises(symopt.ModelError, match="layers must be a list of symopt.Dense, got int"):
        symopt.Network(2, 3)
    dense = symopt.Dense(np.int64(4), dropout=np.float32(0.25), batch_norm=np.bool_(True))
    assert type(dense.width) is int and type(dense.dropout) is float and dense.batch_norm is True
    net = symopt.Network(np.int64(3), [dense, symopt.Dense(np.int32(1))], seed=np.int64(2))
    assert type(net.n_inputs) is int and type(net.seed) is int and net.size() == 4 * 3 + 4 * 3 + 4 + 1
    for bad in (True, "4", 4.0):
        with pytest.raises(symopt.ModelError, match="width must be a positive integer"):
            symopt.Dense(bad)
    with pytest.raises(symopt.ModelError, match="batch_norm must be True or False"):
        symopt.Dense(3, batch_norm=1)


@pytest.fixture(scope="module")
def tiny_fit():
    """A small trained log-loss net (the architecture of small_problem("log", "tanh"): compiled once)."""
    rng = np.random.default_rng(7)
    objective, data, net = small_problem("log", "tanh", rng, n=200)
    r = symopt.solve(objective, data, optimizer=symopt.Adam(lr=0.01, batch_size=32, epochs=3), progress=False)
    return objective, data, net, r


@pytest.mark.filterwarnings("ignore::symopt.DiagnosticWarning")  # dead units: the diagnostics see it too
def test_diverged_training_is_not_a_success(tiny_fit):
    objective, data, net, healthy = tiny_fit
    assert healthy.success and healthy.status == "completed"
    r = symopt.solve(objective, data, optimizer=symopt.Adam(lr=1e6, batch_size=32, epochs=3), progress=False)
    assert r.history[-1] > 2 * r.history[0] and np.isfinite(r.history).all()
    assert r.status == "diverged" and not r.success and r.nit == 3
    assert "lower lr" in r.message and "FAILED (diverged)" in str(r)


def test_predict_checks_its_input(tiny_fit):
    _, (X, y), _, r = tiny_fit
    bad = X[:5].copy()
    bad[2, 1] = np.nan
    with pytest.raises(symopt.DataError, match=r"NaN at \(row, column\) \(2, 1\)"):
        r.predict(bad)
    bad[2, 1], bad[4, 0] = 0.0, -np.inf
    with pytest.raises(symopt.DataError, match=r"inf at \(row, column\) \(4, 0\)"):
        r.predict(bad)
    with pytest.raises(symopt.DataError, match=r"pass X, not \(X, y\)"):
        r.predict((X, y))
    with pytest.raises(symopt.DataError, match=r"not numeric.*'a' at \(row, column\) \(1, 2\)"):
        r.predict([[0.0] * 5, [0.0, 0.0, "a", 0.0, 0.0]])
    with pytest.raises(symopt.DataError, match=r"shape \(rows, 5\), got shape \(5,\); for one row use"):
        r.predict(X[0])
    with pytest.raises(symopt.DataError, match=r"shape \(rows, 5\), got shape \(3, 4\)"):
        r.predict(X[:3, :4])
    empty = r.predict(np.zeros((0, 5)))  # no rows in, no predictions out
    assert empty.shape == (0,)
    assert r.predict(X[:3]).shape == (3,)


def test_bad_parameters_are_refused_before_training(tiny_fit):
    objective, data, net, _ = tiny_fit
    start = net.unflatten(net.initial())
    start["W2"][1, 3] = np.nan
    with pytest.raises(symopt.ModelError, match=r"parameter W2 has NaN at index \(1, 3\)"):
        symopt.solve(objective, data, x0=start, optimizer=symopt.Adam(batch_size=32, epochs=1), progress=False)
    with pytest.raises(symopt.ModelError, match=r"parameter W2 has NaN at index \(1, 3\)"):
        symopt.gradient(objective, data, start)
    flat = net.initial()
    flat[7 * 5 + 2] = np.inf  # b1[2]
    with pytest.raises(symopt.ModelError, match=r"parameter b1 has inf at index \(2,\)"):
        symopt.gradient(objective, data, flat)
    with pytest.raises(symopt.ModelError, match="parameter b1 must be numbers.*'zero'"):
        symopt.solve(objective, data, x0={**net.unflatten(net.initial()), "b1": "zero"}, progress=False)
    with pytest.raises(symopt.ModelError, match="flat array of .* real numbers"):
        symopt.gradient(objective, data, ["a"] * net.size())


def test_an_activation_the_generated_code_cannot_evaluate_is_refused_when_the_network_is_built():
    """The rule, not a list of names: refused exactly when the code printer cannot print the activation or
    its derivative. Two stand-in functions that print as tanh differ only in what their derivative is."""
    import sympy as sp

    class opaque(sp.Function):  # noqa: N801 - no numeric form anywhere
        pass

    class step(sp.Function):  # noqa: N801
        def _symopt_numba(self, printer):
            return f"math.tanh({printer._print(self.args[0])})"

        def fdiff(self, argindex=1):
            return opaque(self.args[0])

    class smooth_step(step):  # noqa: N801
        def fdiff(self, argindex=1):
            return 1 - smooth_step(self.args[0]) ** 2

    z = sp.Symbol("z", real=True)
    with pytest.raises(symopt.ModelError, match=r"activation step\(z\) cannot be used: its derivative "
                                                r"\(opaque\(z\)\) has no form the generated code can evaluate"):
        symopt.Network(2, [symopt.Dense(3, step(z)), symopt.Dense(1)])
    with pytest.raises(symopt.ModelError, match=r"SymPy cannot differentiate the activation opaque\(z\)"):
        symopt.Network(2, [symopt.Dense(3, opaque(z)), symopt.Dense(1)])
    net = symopt.Network(2, [symopt.Dense(3, smooth_step(z)), symopt.Dense(1)])
    assert net.activations[0].derivative == 1 - smooth_step(z) ** 2
    assert symopt.Network(2, [symopt.Dense(3, "abs(z) + erf(z)"), symopt.Dense(1)]).activations[0].name == "Abs(z) + erf(z)"


def test_activation_errors_quote_the_text_to_a_bounded_length():
    for text in ["Relu" + "x" * 5000, "a*b" + "+a" * 3000, "q" * 1_000_000]:
        with pytest.raises(symopt.errors.SymoptError) as info:
            symopt.Network(2, [symopt.Dense(3, text), symopt.Dense(1)])
        assert len(str(info.value)) < 400

"""Networks in float32 (``Network(..., dtype="float32")``): one generated module serves both precisions (its arrays
follow the inputs' dtype); float32's loss and gradients agree with float64's at equal weights to 1e-4 relative
(issue 31's bar), training and prediction run in float32 end to end, and the epoch history is the running loss of
the minibatches while ``result.fun`` is the objective on all rows at the returned weights."""

from __future__ import annotations

import numpy as np
import pytest

import symopt
from symopt.run.epochs import Predictor
from symopt.errors import DataError, ModelError


def layers():
    return [symopt.Dense(16, "tanh"), symopt.Dense(8, "relu", batch_norm=True), symopt.Dense(3)]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 5))
    y = np.argmax(X[:, :3] + 0.3 * rng.normal(size=(300, 3)), axis=1).astype(float)
    return X, y


@pytest.fixture(scope="module")
def problems():
    return {dtype: symopt.Problem(symopt.cross_entropy(symopt.Network(5, layers(), seed=2, dtype=dtype), l2=1e-3),
                                  optimizer=symopt.Adam(lr=0.01, batch_size=32, epochs=6, seed=0))
            for dtype in ("float64", "float32")}


def test_float32_loss_and_gradients_agree_with_float64_at_equal_weights(problems, data):
    net = problems["float64"].objective.model
    params = net.unflatten(net.initial(seed=5))
    value64, grad64 = problems["float64"].value_and_grad(data, params)
    value32, grad32 = problems["float32"].value_and_grad(data, params)
    assert value32 == pytest.approx(value64, rel=1e-4)
    assert value32 != value64  # computed in float32, not a float64 pass relabelled
    # Relative to the gradient's size: b2, a bias before batch norm, has gradient 0 exactly, which float32 reads as
    # rounding noise of 1e-9.
    flat64, flat32 = (np.concatenate([g[n].ravel() for n in grad64]) for g in (grad64, grad32))
    assert np.linalg.norm(flat32 - flat64) <= 1e-4 * np.linalg.norm(flat64)
    scale = np.max(np.abs(flat64))
    for name, g in grad64.items():
        assert grad32[name].dtype == np.float64  # reported as float64 arrays holding float32 results
        np.testing.assert_allclose(grad32[name], g, rtol=1e-4, atol=1e-5 * scale, err_msg=name)


def test_float32_training_runs_in_float32_and_stays_close_to_float64(problems, data):
    X, y = data
    r64, r32 = (problems[d].solve(data, progress=False) for d in ("float64", "float32"))
    assert r32.success and r32.status == "completed"
    for name, w in r32.params.items():
        assert w.dtype == np.float64
        np.testing.assert_array_equal(w, w.astype(np.float32))  # the values are float32 numbers
    for name in ("running_mean2", "running_var2"):
        b = r32.buffers[name]
        np.testing.assert_array_equal(b, b.astype(np.float32))
    # Six epochs of Adam amplify rounding differences little: the two runs end near each other.
    assert r32.fun == pytest.approx(r64.fun, rel=1e-3)
    assert np.mean(r32.predict(X) == r64.predict(X)) >= 0.99


def test_history_is_the_running_loss_and_fun_the_objective_on_all_rows(problems, data):
    """The epochs record their minibatches' objectives (no extra pass over all rows per epoch); the
    objective on all rows is computed at the start (history[0]) and at the returned weights (fun)."""
    problem = problems["float64"]
    r = problem.solve(data, progress=False)
    assert len(r.history) == 7 and np.all(np.isfinite(r.history))
    net = problem.objective.model
    start = net.unflatten(net.initial())
    # fun and history[0]: the objective in inference mode (running batch-norm statistics) at the weights returned
    # and at the start, from the network's outputs there by NumPy
    def objective_at(predictor):
        z = predictor.outputs(data[0])
        top = z.max(axis=1, keepdims=True)
        logsum = np.log(np.exp(z - top).sum(axis=1)) + top[:, 0]
        weights = net.unflatten(predictor.theta)
        penalty = 1e-3 * sum(np.sum(weights[n] ** 2) for n, _ in net.shapes() if n.startswith("W"))
        return np.mean(logsum - z[np.arange(len(z)), data[1].astype(int)]) + penalty

    assert r.fun == pytest.approx(objective_at(r.predictor), rel=1e-10)
    at_start = Predictor(r.predictor.module, problem.objective, net.initial(), net.initial_buffers())
    assert r.history[0] == pytest.approx(objective_at(at_start), rel=1e-10)
    # the last epoch's running loss is an average over the epoch, not the final objective
    assert r.history[-1] != r.fun


def test_dtype_is_checked_and_named(data):
    for ok in ("float32", np.float32, np.dtype("float32"), "f4"):
        assert symopt.Network(5, [symopt.Dense(3)], dtype=ok).dtype == "float32"
    assert symopt.Network(5, [symopt.Dense(3)]).dtype == "float64"
    for bad in ("float16", "int64", 32, None, True):
        with pytest.raises(ModelError, match="dtype must be 'float64' or 'float32'"):
            symopt.Network(5, [symopt.Dense(3)], dtype=bad)
    net = symopt.Network(5, [symopt.Dense(3)], dtype="float32")
    assert "float32 network" in net.describe()
    X, y = data
    big = X.copy()
    big[7, 2] = 1e39
    with pytest.raises(DataError, match=r"1e\+39 at \(row, column\) \(7, 2\), beyond float32's range"):
        symopt.solve(symopt.cross_entropy(net), (big, y), progress=False)


def test_float32_training_with_validation_and_early_stopping(problems, data):
    """The held-out rows are float32 too (a float64 validation pass would compile the module a second time and
    mix precisions)."""
    objective = problems["float32"].objective
    r = symopt.solve(objective, data, optimizer=symopt.Adam(lr=0.01, batch_size=32, epochs=6, seed=0,
                                                            validation=0.2, early_stopping=2), progress=False)
    assert r.success and r.training.val_loss.size == r.nit and np.all(np.isfinite(r.training.val_loss))
    assert 0.0 <= r.training.val_accuracy[-1] <= 1.0


def test_a_float32_convolutional_network_agrees_with_float64_at_equal_weights():
    """Every layer type of an image network (convolution with batch norm, both poolings, dropout off in the
    gradient pass, flatten, dense) in float32 against float64."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(12, 2, 8, 8))
    y = rng.integers(0, 3, 12).astype(float)

    def problem(dtype):
        net = symopt.Network((2, 8, 8), [symopt.Conv2D(4, 3, padding="same", batch_norm=True), symopt.MaxPool2D(2),
                                         symopt.Conv2D(5, 3, activation="tanh"), symopt.AvgPool2D(2),
                                         symopt.Dropout(0.2), symopt.Flatten(), symopt.Dense(3)], seed=1, dtype=dtype)
        return symopt.Problem(symopt.cross_entropy(net, l2=1e-3), optimizer=symopt.Adam(epochs=1))

    p64, p32 = problem("float64"), problem("float32")
    params = p64.initial_params((X, y))
    value64, grad64 = p64.value_and_grad((X, y), params)
    value32, grad32 = p32.value_and_grad((X, y), params)
    assert value32 == pytest.approx(value64, rel=1e-4) and value32 != value64
    flat64, flat32 = (np.concatenate([g[n].ravel() for n in grad64]) for g in (grad64, grad32))
    assert np.linalg.norm(flat32 - flat64) <= 1e-4 * np.linalg.norm(flat64)
    r = p32.solve((X, y), progress=False)
    assert r.success and np.all(np.isfinite(r.params["K1"]))
    assert r.predict(X).shape == (12,)

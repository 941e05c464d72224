"""Stops a user asks for: max_time, a callback, and Ctrl-C; each keeps the run (status and parameters)."""

from __future__ import annotations

import signal
import time

import numpy as np
import pytest

import symopt
from symopt.model.data import prepare
from symopt.derivation.totals import objective_value

# The warm-up runs stop at max_iter on purpose; the tiny network's saturation advice is beside the point.
pytestmark = [pytest.mark.filterwarnings("ignore::symopt.errors.ConvergenceWarning"),
              pytest.mark.filterwarnings("ignore::symopt.errors.DiagnosticWarning")]


def _slow(rng):
    """Gradient descent with a tiny fixed step: it would take a very long time to converge."""
    x = np.linspace(0.0, 1.0, 60)
    objective = symopt.squared_loss(symopt.Model("a*exp(b*x)", "a b"))
    data = {"x": x, "y": 2.0 * np.exp(-1.5 * x) + 0.01 * rng.normal(size=60)}
    return objective, data, symopt.GradientDescent(lr=1e-4, line_search=False, max_iter=10**9, tol=0.0)


def _warm(objective, data, backend):
    symopt.solve(objective, data, optimizer=symopt.GradientDescent(lr=1e-4, line_search=False, max_iter=2),
                 x0={"a": 1.0, "b": 0.0}, progress=False, backend=backend)


@pytest.mark.parametrize("backend", ["numba", "python"])
def test_max_time_stops_a_long_run_and_keeps_it(backend, rng):
    objective, data, opt = _slow(rng)
    _warm(objective, data, backend)  # max_time counts compiling too: compile first, to time the run alone
    t0 = time.perf_counter()
    r = symopt.solve(objective, data, optimizer=opt, x0={"a": 1.0, "b": 0.0}, progress=False, max_time=0.5,
                     backend=backend)
    elapsed = time.perf_counter() - t0
    assert r.status == "max_time" and not r.success and "max_time" in r.message
    # A wide margin: CI shares the machine (this run once took 6 s of a 5 s limit beside another process,
    # when every kernel call opened a parallel region and a chunk's size was extrapolated 1,000x at once)
    assert 0.5 <= elapsed < 20.0 and r.nit > 10
    assert r.history[-1] < r.history[0] and r.fun == pytest.approx(r.history[-1])


def test_a_callback_watches_every_iteration_and_can_stop_the_run(rng):
    objective, data, opt = _slow(rng)
    seen = []

    def watch(iteration, value, params):
        seen.append((iteration, value, dict(params)))
        return iteration == 7

    r = symopt.solve(objective, data, optimizer=opt, x0={"a": 1.0, "b": 0.0}, progress=False, callback=watch)
    assert r.status == "stopped_by_callback" and r.nit == 7
    assert [s[0] for s in seen] == list(range(1, 8))
    np.testing.assert_allclose([s[1] for s in seen], r.history[1:], rtol=1e-12)
    assert seen[-1][2] == r.params and set(seen[0][2]) == {"a", "b"}


def test_ctrl_c_in_a_callback_returns_the_run_so_far(rng):
    objective, data, opt = _slow(rng)

    def interrupt(iteration, value, params):
        if iteration == 4:
            raise KeyboardInterrupt

    r = symopt.solve(objective, data, optimizer=opt, x0={"a": 1.0, "b": 0.0}, progress=False, callback=interrupt)
    assert r.status == "interrupted" and not r.success and r.nit == 4 and "Ctrl-C" in r.message


@pytest.mark.parametrize("backend", ["numba", "python"])
def test_ctrl_c_inside_generated_code_returns_a_consistent_state(backend, rng):
    """SIGINT lands wherever the run is (in the interpreted twin, halfway through an iteration): the
    parameters returned are those after the last completed chunk, and F there is what history says."""
    objective, data, opt = _slow(rng)
    _warm(objective, data, backend)  # compiled (or loaded) before the timer
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.setitimer(signal.ITIMER_REAL, 0.0)
    old_alarm = signal.signal(signal.SIGALRM, lambda *_: signal.raise_signal(signal.SIGINT))
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.6)
        r = symopt.solve(objective, data, optimizer=opt, x0={"a": 1.0, "b": 0.0}, progress=False, backend=backend)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0.0)
        signal.signal(signal.SIGALRM, old_alarm)
        signal.signal(signal.SIGINT, previous)
    assert r.status == "interrupted" and r.nit > 0
    assert len(r.history) == r.nit + 1
    F = objective_value(objective, prepare(objective, data), r.x)
    assert F == pytest.approx(r.history[-1], rel=1e-10) and F == pytest.approx(r.fun, rel=1e-10)


def test_a_network_run_stops_on_callback_and_max_time(rng):
    X = rng.normal(size=(64, 3))
    y = (X[:, 0] > 0).astype(float)
    net = symopt.log_loss(symopt.Network(3, [symopt.Dense(4, "tanh"), symopt.Dense(1)], seed=0))
    epochs = []
    r = symopt.solve(net, (X, y), optimizer=symopt.Adam(epochs=50), progress=False,
                     callback=lambda k, f, p: epochs.append((k, set(p))) or k == 3)
    assert r.status == "stopped_by_callback" and r.nit == 3 and [k for k, _ in epochs] == [1, 2, 3]
    assert epochs[0][1] == {"W1", "b1", "W2", "b2"}
    long = symopt.solve(net, (X, y), optimizer=symopt.Adam(epochs=10**7), progress=False, max_time=0.5)
    assert long.status == "max_time" and 0 < long.nit < 10**7


@pytest.mark.parametrize("kwargs, match", [
    ({"max_time": -1.0}, "max_time must be a positive number"),
    ({"max_time": "10"}, "max_time must be a positive number"),
    ({"callback": 3}, "callback must be a function"),
])
def test_limits_are_checked(kwargs, match):
    objective = symopt.squared_loss(symopt.Model("a*exp(b*x)", "a b"))
    with pytest.raises(symopt.ModelError, match=match):
        symopt.solve(objective, {"x": [0.0, 1.0], "y": [1.0, 2.0]}, **kwargs)


def test_ctrl_c_in_epoch_training_keeps_weights_and_batch_norm_statistics_together(rng):
    """Epochs run through the one driver: Ctrl-C after epoch 4 returns exactly what 4 epochs give (weights
    and the batch-norm running statistics that inference uses), and says so."""
    X = rng.normal(size=(96, 3))
    y = (X[:, 0] - X[:, 1] > 0).astype(float)
    net = symopt.log_loss(symopt.Network(3, [symopt.Dense(5, "tanh", batch_norm=True), symopt.Dense(1)], seed=1))

    def interrupt(epoch, value, params):
        if epoch == 4:
            raise KeyboardInterrupt

    cut = symopt.solve(net, (X, y), optimizer=symopt.Adam(epochs=1000, batch_size=16), progress=False,
                       callback=interrupt)
    four = symopt.solve(net, (X, y), optimizer=symopt.Adam(epochs=4, batch_size=16), progress=False)
    assert cut.status == "interrupted" and cut.nit == 4 and "Ctrl-C" in cut.message
    assert four.status == "completed" and four.nit == 4
    np.testing.assert_array_equal(cut.x, four.x)
    assert set(cut.buffers) == set(four.buffers) and cut.buffers  # batch norm keeps running statistics
    for name in four.buffers:
        np.testing.assert_array_equal(cut.buffers[name], four.buffers[name])
    z = cut.predictor.outputs(X)[:, 0]  # inference mode: the running statistics
    loss = np.mean(np.logaddexp(0.0, z) - y * z)
    assert loss == pytest.approx(cut.fun, rel=1e-10) and len(cut.history) == 5  # the history: running losses
    assert cut.fun == four.fun
    assert cut.diagnostics.grad_rms.shape == (4, 2)


def _fresh_problems(monkeypatch, tmp_path):
    """An empty cache folder and no problems kept in this process: the next solve analyses and compiles."""
    from collections import OrderedDict

    import symopt.run.shared as shared_module

    monkeypatch.setenv("SYMOPT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(shared_module, "_SHARED", OrderedDict())


def test_max_time_counts_compiling_from_the_call(monkeypatch, tmp_path, rng):
    """Item 27: max_time bounds the whole call. Compiling cannot be cut short, so it runs in the background
    while the call waits at most max_time; the call then returns the start, says why, and the next solve
    uses the compiled module."""
    _fresh_problems(monkeypatch, tmp_path)
    objective, data, _ = _slow(rng)
    r = symopt.solve(objective, data, x0={"a": 1.0, "b": 0.0}, progress=False, max_time=0.05, backend="numba")
    assert r.status == "max_time" and not r.success and r.nit == 0
    assert "compiling the generated code took longer than max_time" in r.message
    assert r.params == {"a": 1.0, "b": 0.0}
    later = symopt.solve(objective, data, x0={"a": 1.0, "b": 0.0}, progress=False, backend="numba")
    assert later.success and later.backend == "numba"


def test_max_time_ends_the_symbolic_head_start(monkeypatch, tmp_path):
    """Item 27: a symbolic tier SymPy cannot finish (it works through its whole budget) no longer holds a call
    with max_time= for its head start: the head start ends at max_time, and so does the wait for the tier
    after a run that did not converge."""
    import symopt.problem as problem_module

    _fresh_problems(monkeypatch, tmp_path)
    monkeypatch.setattr(problem_module, "SYMBOLIC_HEAD_START", 60.0)  # the whole budget is the head start
    objective = symopt.squared_loss(symopt.Model("a*x + b*x**2 + a*b*x**3 + b**2", "a b"))
    x = np.linspace(0.0, 1.0, 60)
    data = {"x": x, "y": 0.5 * x + 0.3 * x**2 + 0.15 * x**3 + 0.09}
    t0 = time.perf_counter()
    r = symopt.solve(objective, data, progress=False, budget=20.0, max_time=0.5, backend="python",
                     optimizer=symopt.GradientDescent(lr=1e-6, line_search=False, max_iter=10**9, tol=0.0))
    elapsed = time.perf_counter() - t0
    assert r.status == "max_time" and "in the background" in r.closed_form.reason
    assert elapsed < 15.0  # SymPy works for the whole budget, 20 s, which was all head start

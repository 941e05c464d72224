"""symopt.Problem: built once, solved many times; what is kept, where, and that it gives what solve gives."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections import OrderedDict

import numpy as np
import pytest

import symopt
import symopt.closed_form.sufficient_statistics as statistics
import symopt.codegen.cache as cache_module
import symopt.problem as problem_module
import symopt.run.shared as shared_module

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    """An empty cache folder and no problems kept in this process."""
    monkeypatch.setenv("SYMOPT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(shared_module, "_SHARED", OrderedDict())
    return tmp_path


def _counting(monkeypatch, module, name):
    calls = []
    original = getattr(module, name)

    def counted(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def _gauss():
    mu, sigma = symopt.params("mu"), symopt.params("sigma", positive=True)
    return symopt.Objective("-log(sigma) - (x - mu)**2/(2*sigma**2)", [mu, sigma], maximize=True)


def test_second_solve_runs_neither_sympy_solve_nor_rendering(fresh, monkeypatch, rng, patient):
    sympy_solves = _counting(monkeypatch, statistics, "run_with_budget")
    renders = _counting(monkeypatch, shared_module, "render")
    for _ in range(3):  # a new objective object each time, as a notebook cell rebuilds it
        r = symopt.solve(_gauss(), {"x": rng.normal(1.0, 2.0, 50)})
        assert r.method == "symbolic" and r.success
    assert len(sympy_solves) == 1
    a, b = symopt.params("a b")
    x = np.linspace(0, 1, 40)
    for _ in range(3):
        fit = symopt.solve(symopt.squared_loss(symopt.Model("a*exp(b*x)", [a, b])),
                           {"x": x, "y": 2 * np.exp(-x) + 0.01 * rng.normal(size=40)}, x0={"a": 1, "b": 0})
        assert fit.method == "iterative" and fit.success
    assert len(renders) == 1


def test_changing_l2_does_not_recompile(fresh, monkeypatch, rng):
    renders = _counting(monkeypatch, shared_module, "render")
    loads = _counting(monkeypatch, cache_module, "load")
    a, b = symopt.params("a b")
    x = np.linspace(0, 1, 60)
    data = {"x": x, "y": 2 * np.exp(-x) + 0.01 * rng.normal(size=60)}
    sources, fits = set(), []
    for l2 in (0.0, 0.01, 0.1, 1.0):
        r = symopt.solve(symopt.squared_loss(symopt.Model("a*exp(b*x)", [a, b]), l2=l2), data,
                         optimizer=symopt.LBFGS(), x0={"a": 1, "b": 0})
        sources.add(r.source)
        fits.append(r.params["a"])
    assert len(renders) == 1 and len(loads) == 1 and len(sources) == 1
    assert fits[0] > fits[1] > fits[2] > fits[3]  # the penalty did act: the fits shrink with l2
    assert "l2 * (a**2 + b**2)" in sources.pop()  # the module names l2, not one value of it


def test_value_and_grad_is_the_gradient_and_matches_finite_differences(rng):
    a, b = symopt.params("a b")
    objective = symopt.squared_loss(symopt.Model("a*exp(b*x)", [a, b]), l2=0.05)
    x = np.linspace(0, 1, 50)
    data = {"x": x, "y": 2 * np.exp(-x) + 0.01 * rng.normal(size=50)}
    problem = symopt.Problem(objective)
    assert not problem.runs_closed_form
    point = {"a": 1.3, "b": -0.4}
    value, grad = problem.value_and_grad(data, point)
    assert grad == symopt.gradient(objective, data, point)

    def F(av, bv):
        return np.mean((data["y"] - av * np.exp(bv * x)) ** 2) + 0.05 * (av ** 2 + bv ** 2)

    assert value == pytest.approx(F(1.3, -0.4), rel=1e-13)
    h = 1e-6
    assert grad["a"] == pytest.approx((F(1.3 + h, -0.4) - F(1.3 - h, -0.4)) / (2 * h), rel=1e-7)
    assert grad["b"] == pytest.approx((F(1.3, -0.4 + h) - F(1.3, -0.4 - h)) / (2 * h), rel=1e-7)


def test_value_and_grad_for_a_closed_form_a_wide_model_and_a_network(rng):
    x = rng.normal(size=30)
    line = symopt.Problem(symopt.squared_loss(symopt.Model("a + b*x", "a b")))
    assert line.runs_closed_form
    value, grad = line.value_and_grad({"x": x, "y": 3 * x}, [0.5, 2.0])
    assert value == pytest.approx(np.mean((3 * x - 0.5 - 2 * x) ** 2), rel=1e-14)
    assert grad["a"] == pytest.approx(np.mean(-2 * (3 * x - 0.5 - 2 * x)), rel=1e-12)

    X = rng.normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(float)
    wide = symopt.log_loss(symopt.LinearModel(), l2=0.1)
    theta = {"intercept": 0.1, "coef": np.array([0.5, -0.2, 0.3])}
    value, grad = symopt.Problem(wide).value_and_grad({"X": X, "y": y}, theta)
    eta = 0.1 + X @ theta["coef"]
    expected = np.mean(np.logaddexp(0, eta) - y * eta) + 0.1 * np.sum(theta["coef"] ** 2)
    assert value == pytest.approx(expected, rel=1e-13)
    assert grad["coef"] == pytest.approx(X.T @ (1 / (1 + np.exp(-eta)) - y) / 40 + 0.2 * theta["coef"], rel=1e-12)

    net = symopt.Network(3, [symopt.Dense(4), symopt.Dense(1)])
    objective = symopt.squared_loss(net)
    params = net.unflatten(net.initial())
    value, grad = symopt.Problem(objective).value_and_grad({"X": X, "y": y}, params)
    assert set(grad) == set(params) and np.isfinite(value)
    assert all(np.array_equal(grad[k], v) for k, v in symopt.gradient(objective, {"X": X, "y": y}, params).items())


def test_analysis_is_read_from_the_disk_cache_in_a_new_process(fresh):
    script = textwrap.dedent("""
        import sys
        import numpy as np
        import symopt, symopt.closed_form.sufficient_statistics as st
        if sys.argv[1] == "second":
            def refuse(*args):
                raise AssertionError("SymPy's solve ran again")
            st.run_with_budget = refuse
        mu, sigma = symopt.params("mu"), symopt.params("sigma", positive=True)
        obj = symopt.Objective("-log(sigma) - (x - mu)**2/(2*sigma**2)", [mu, sigma], maximize=True)
        if sys.argv[1] == "first":
            symopt.analyse(obj)  # worked out to the end, whatever the machine's load (and kept on disk)
        r = symopt.solve(obj, {"x": np.array([1.0, 2.0, 4.0])})
        assert r.method == "symbolic" and abs(r.params["mu"] - 7 / 3) < 1e-14, r
        print("ok")
    """)
    env = dict(os.environ, SYMOPT_CACHE_DIR=str(fresh), PYTHONPATH=ROOT)
    for which in ("first", "second"):
        out = subprocess.run([sys.executable, "-c", script, which], env=env, capture_output=True, text=True)
        assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
    assert list(fresh.glob("symopt_analysis_*.pickle"))


def test_a_corrupt_analysis_record_is_moved_aside_and_recomputed(fresh, rng, patient):
    symopt.solve(_gauss(), {"x": rng.normal(size=20)})
    records = list(fresh.glob("symopt_analysis_*.pickle"))
    assert records
    for path in records:
        path.write_bytes(b"not a pickle")
    shared_module.clear_problems()
    with pytest.warns(symopt.CacheWarning, match="cannot be read"):
        r = symopt.solve(_gauss(), {"x": rng.normal(size=20)})
    assert r.method == "symbolic" and r.success
    assert list((fresh / "corrupt").iterdir())


def test_the_formula_of_a_linear_closed_form_is_worked_out_only_when_read(fresh, monkeypatch, rng):
    sympy_solves = _counting(monkeypatch, statistics, "run_with_budget")
    x = rng.normal(size=25)
    r = symopt.solve(symopt.squared_loss(symopt.Model("a + b*x", "a b")), {"x": x, "y": 1 + 2 * x})
    assert r.method == "linear" and sympy_solves == []
    assert "S_" in r.closed_form.formula and len(sympy_solves) == 1
    assert "S_" in str(r) and len(sympy_solves) == 1  # kept
    r2 = symopt.solve(symopt.squared_loss(symopt.Model("a + b*x", "a b")), {"x": x, "y": 1 + 2 * x})
    assert "S_" in r2.closed_form.formula and len(sympy_solves) == 1


def test_the_problem_table_is_bounded(fresh, monkeypatch):
    monkeypatch.setattr(shared_module, "MAX_PROBLEMS", 3)
    x = np.linspace(0, 1, 10)
    for k in range(6):
        symopt.solve(symopt.squared_loss(symopt.Model(f"a + {k + 2}*b*x", "a b")), {"x": x, "y": x})
    assert shared_module.kept_problems() == 3


def test_problem_attributes_and_errors(rng):
    objective = symopt.squared_loss(symopt.Model("a*exp(b*x)", "a b"))
    problem = symopt.Problem(objective, optimizer=symopt.LBFGS())
    assert problem.analysis.status == "none" and "dl/da" in str(problem.derivation)
    assert "def run(" in problem.source and "LBFGS" in problem.source
    assert "Problem" in repr(problem)
    with pytest.raises(symopt.ModelError, match="method must be one of"):
        symopt.Problem(objective, method="fast")
    with pytest.raises(symopt.ModelError, match="takes a symopt.Objective"):
        symopt.Problem(symopt.Model("a*x", "a"))


def test_x0_by_name_for_a_network(rng):
    pd = pytest.importorskip("pandas")
    X = rng.normal(size=(30, 2))
    y = X[:, 0] - X[:, 1]
    net = symopt.Network(2, [symopt.Dense(1, activation="identity")])
    start = pd.Series({"b1": np.zeros(1), "W1": np.array([[1.0, -1.0]])})  # not in the network's order
    r = symopt.solve(symopt.squared_loss(net), {"X": X, "y": y}, x0=start,
                     optimizer=symopt.GradientDescent(lr=1e-9, line_search=False, epochs=1, batch_size=30))
    np.testing.assert_allclose(r.params["W1"], [[1.0, -1.0]], atol=1e-8)  # started where x0 said, by name
    assert r.fun < 1e-20


def test_serial_and_parallel_kernel_paths_give_the_same_numbers(rng, monkeypatch):
    import symopt.numerics.threads

    monkeypatch.setattr(symopt.numerics.threads, "PARALLEL_MIN_WORK", 0)  # the parallel module for 10,000 rows
    a, b = symopt.params("a b")
    objective = symopt.squared_loss(symopt.Model("a*exp(b*x)", [a, b]))
    problem = symopt.Problem(objective, backend="numba")
    for n in (100, 10_000):  # below and above the rows where the kernels go parallel
        x = rng.uniform(0, 1, n)
        data = {"x": x, "y": 2 * np.exp(-x) + 0.01 * rng.normal(size=n)}
        value, grad = problem.value_and_grad(data, {"a": 1.5, "b": -0.5})
        r = data["y"] - 1.5 * np.exp(-0.5 * x)
        assert value == pytest.approx(np.mean(r ** 2), rel=1e-12)
        assert grad["b"] == pytest.approx(np.mean(-2 * r * 1.5 * x * np.exp(-0.5 * x)), rel=1e-11)


def test_optimizers_share_a_module_exactly_when_they_render_the_same_code():
    from symopt.codegen.render import render, render_key

    objective = symopt.squared_loss(symopt.Model("a*exp(b*x)", "a b"))
    derivation = symopt.derive(objective)
    optimizers = [symopt.LBFGS(), symopt.LBFGS(tol=1e-3, max_iter=7), symopt.LBFGS(memory=4),
                  symopt.Newton(), symopt.Newton(max_iter=3), symopt.LevenbergMarquardt(),
                  symopt.LevenbergMarquardt(geodesic=False), symopt.GradientDescent(),
                  symopt.GradientDescent(lr=0.1, line_search=False), symopt.Adam(lr=0.1),
                  symopt.Adam(lr=0.01, batch_size=8), symopt.Adam(lr=0.01, batch_size=16), symopt.Momentum(lr=0.1)]
    sources = [render(objective, derivation, o).source for o in optimizers]
    keys = [render_key(o) for o in optimizers]
    for i in range(len(optimizers)):
        for j in range(len(optimizers)):
            assert (keys[i] == keys[j]) == (sources[i] == sources[j]), (optimizers[i], optimizers[j])


def test_a_hopeless_symbolic_tier_runs_beside_the_iterative_solve(fresh, monkeypatch):
    """Least squares of a*x + b*x**2 + a*b*x**3 + b**2: SymPy works through its whole budget on the
    stationarity equations and finds nothing (it held every first solve for 10 s). Now the iterative solver
    starts after a head start (shortened here), the tier goes on in the background, and its verdict is kept
    for the next solve, which waits for nothing."""
    monkeypatch.setattr(problem_module, "SYMBOLIC_HEAD_START", 0.2)
    objective = symopt.squared_loss(symopt.Model("a*x + b*x**2 + a*b*x**3 + b**2", "a b"))
    x = np.linspace(0.0, 1.0, 60)
    data = {"x": x, "y": 0.5 * x + 0.3 * x**2 + 0.15 * x**3 + 0.09}
    problem = symopt.Problem(objective, budget=4.0)
    assert problem._symbolic_later is not None and not problem._symbolic_later.done()
    r = problem.solve(data, progress=False)
    assert r.success and r.method == "iterative"
    assert "in the background" in r.closed_form.reason and not problem._symbolic_later.done()
    np.testing.assert_allclose([r.params["a"], r.params["b"]], [0.5, 0.3], atol=1e-6)
    attempts = {a.tier: a for a in problem.analysis.attempts}  # waits for the tier
    assert attempts["symbolic"].outcome == "failed" and "timed out" in attempts["symbolic"].detail
    again = symopt.Problem(objective, budget=4.0)
    assert again._symbolic_later is None and "timed out" in again.solve(data, progress=False).closed_form.reason

"""The two backends of generated code: compiled by Numba, and its interpreted twin for small problems.

What runs (``Result.backend``), that the twin is the same code (the sources differ only in their import
lines and the twin's math, which gives inf and NaN as compiled code does; the iterates agree), the hand-over
to compiled code when interpreting stops paying, and the fall back to compiled code where the interpreter
still raises.
"""

from __future__ import annotations

import difflib
import os
import subprocess
import sys
import textwrap
import warnings
from collections import OrderedDict

import numpy as np
import pytest

import symopt
import symopt.run.drivers as drivers_module
import symopt.run.shared as shared_module
from symopt.codegen.render import render
from symopt.errors import ConvergenceWarning

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def kept(monkeypatch):
    """No problems kept from other tests (the cache folder stays the session's: compiled code is reused)."""
    monkeypatch.setattr(shared_module, "_SHARED", OrderedDict())


def _curve(rng, n=80):
    a, b = symopt.params("a b")
    x = np.linspace(0.0, 1.0, n)
    return (symopt.squared_loss(symopt.Model("a*exp(b*x)", [a, b])),
            {"x": x, "y": 2.0 * np.exp(-1.5 * x) + 0.01 * rng.normal(size=n)})


def _logistic(rng, n=300, m=4):
    X = rng.normal(size=(n, m))
    y = (X @ np.linspace(-1.0, 1.0, m) + rng.logistic(size=n) > 0).astype(float)
    return symopt.log_loss(symopt.LinearModel()), {"X": X, "y": y}


def _iterates(objective, data, optimizer, backend, k_max=5, x0=None):
    """The parameters after 1, 2, ..., k_max iterations (a run of max_iter=k for each k)."""
    out = []
    for k in range(1, k_max + 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            r = symopt.solve(objective, data, optimizer=optimizer(k), method="iterative", x0=x0,
                             progress=False, backend=backend)
        assert r.backend == backend
        out.append(r.x)
    return np.array(out)


@pytest.mark.parametrize("optimizer", [
    lambda k: symopt.Newton(max_iter=k, tol=0.0),
    lambda k: symopt.LBFGS(max_iter=k, tol=0.0),
    lambda k: symopt.GradientDescent(max_iter=k, tol=0.0),
    lambda k: symopt.Adam(lr=0.05, max_iter=k, tol=0.0),
], ids=["newton", "lbfgs", "gd", "adam"])
def test_linear_kernel_twin_gives_the_compiled_iterates(optimizer, kept, rng):
    """The wide (data matrix) kernel: the first five iterates of both backends agree to 1e-10 relative
    (the expression kernel's are checked against each optimizer's reference in test_optimizers.py)."""
    objective, data = _logistic(rng)
    compiled = _iterates(objective, data, optimizer, "numba")
    twin = _iterates(objective, data, optimizer, "python")
    scale = np.max(np.abs(compiled), axis=1, keepdims=True)
    assert np.all(np.abs(twin - compiled) <= 1e-10 * scale), np.max(np.abs(twin - compiled) / scale)
    assert np.all(np.ptp(compiled, axis=0) > 0)  # the iterates did move


def test_expression_twin_gives_the_compiled_iterates_for_levenberg_marquardt(kept, rng):
    objective, data = _curve(rng)
    opt = lambda k: symopt.LevenbergMarquardt(max_iter=k, projection=False)  # noqa: E731
    compiled = _iterates(objective, data, opt, "numba", x0={"a": 1.0, "b": 0.0})
    twin = _iterates(objective, data, opt, "python", x0={"a": 1.0, "b": 0.0})
    np.testing.assert_allclose(twin, compiled, rtol=1e-10)


def test_small_problems_run_interpreted_and_say_so(kept, rng, tmp_path, monkeypatch):
    monkeypatch.setenv("SYMOPT_CACHE_DIR", str(tmp_path))  # a cold cache: a warm one loads compiled code at once
    objective, data = _curve(rng)
    r = symopt.solve(objective, data, x0={"a": 1.0, "b": -1.0}, progress=False)
    assert r.success and r.backend == "python"
    assert "backend: python" in str(r)
    assert r.source.count("from numba import njit\n") == 1  # Result.source is the (serial) Numba module
    assert r.source_path.read_text() == r.source  # ... and source_path the file that holds it
    forced = symopt.solve(objective, data, x0={"a": 1.0, "b": -1.0}, progress=False, backend="numba")
    assert forced.backend == "numba"
    np.testing.assert_allclose(forced.x, r.x, rtol=1e-9)
    again = symopt.solve(objective, data, x0={"a": 1.0, "b": -1.0}, progress=False)
    assert again.backend == "numba"  # once the compiled module is loaded, it is what runs
    line = symopt.solve(symopt.squared_loss(symopt.Model("a + b*x", "a b")), data)
    assert line.backend == "numpy" and line.method == "linear"


def test_data_past_the_threshold_are_compiled(kept, monkeypatch, rng, tmp_path):
    objective, data = _curve(rng, n=200)
    monkeypatch.setattr(drivers_module, "PYTHON_MAX_WORK", 2 * 200 - 1)  # rows x parameters = 400
    assert symopt.solve(objective, data, x0={"a": 1.0, "b": -1.0}, progress=False).backend == "numba"
    monkeypatch.setattr(shared_module, "_SHARED", OrderedDict())
    monkeypatch.setenv("SYMOPT_CACHE_DIR", str(tmp_path))  # cold: a warm cache runs compiled code at once
    monkeypatch.setattr(drivers_module, "PYTHON_MAX_WORK", 2 * 200)
    assert symopt.solve(objective, data, x0={"a": 1.0, "b": -1.0}, progress=False).backend == "python"


def test_interpreted_runs_hand_over_to_compiled_code(kept, monkeypatch, rng):
    """Once interpreting has cost what compiling would, the compiled module takes over, even mid-run,
    carrying the state on: the result is the compiled run's."""
    monkeypatch.setattr(shared_module, "COMPILE_SECONDS", 1e-9)
    monkeypatch.setattr(shared_module, "LOAD_SECONDS", 1e-9)
    objective, data = _curve(rng)
    opt = symopt.GradientDescent(max_iter=200, tol=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mixed = symopt.solve(objective, data, optimizer=opt, x0={"a": 1.0, "b": 0.0}, progress=False)
        compiled = symopt.solve(objective, data, optimizer=opt, x0={"a": 1.0, "b": 0.0}, progress=False,
                                backend="numba")
    assert mixed.backend.startswith("python, then numba from iteration "), mixed.backend
    assert int(mixed.backend.rsplit(" ", 1)[1]) >= 1
    assert mixed.nit == compiled.nit == 200
    np.testing.assert_allclose(mixed.x, compiled.x, rtol=1e-9)
    assert mixed.source_path == compiled.source_path


def test_the_twin_computes_math_as_compiled_code_does(kept):
    """Python's math raises where compiled code (error_model="numpy") gives inf or NaN; the twin's math gives
    those too, so an overflow or a step outside the domain is judged alike on both backends, with no
    compile. Measured: a Cauchy fit from the default start stepped to s < 0 (log of a negative) and waited
    for a compile; now it stays interpreted (0.18 s)."""
    b = symopt.params("b")
    objective = symopt.squared_loss(symopt.Model("exp(b*x)", [b]))
    data = {"x": np.array([0.0, 1.0, 800.0]), "y": np.array([1.0, 2.0, 3.0])}
    twin = symopt.solve(objective, data, x0={"b": 1.0}, progress=False, backend="python")
    compiled = symopt.solve(objective, data, x0={"b": 1.0}, progress=False, backend="numba")
    assert twin.backend == "python" and "interpreted run met" not in twin.why
    assert (twin.status, twin.success) == (compiled.status, compiled.success)
    _, module, _ = symopt.Problem(objective, backend="python")._compiled(symopt.LevenbergMarquardt(), "python")
    m = module.math
    assert m.exp(1000.0) == m.expm1(1000.0) == m.cosh(1000.0) == m.lgamma(0.0) == m.pow(0.0, -1.0) == np.inf
    assert m.log(0.0) == m.log1p(-1.0) == m.sinh(-1000.0) == m.pow(-10.0, 401.0) == -np.inf
    assert all(np.isnan(v) for v in (m.log(-1.0), m.log1p(-2.0), m.sqrt(-1.0), m.asin(2.0), m.acos(-2.0),
                                     m.pow(-8.0, 1.0 / 3.0)))
    assert m.exp(1.0) == np.exp(1.0) and m.pi == np.pi and m.isfinite(1.0) and m.floor(2.5) == 2.0
    rng = np.random.default_rng(0)
    cauchy = symopt.Objective("-log(s) - log(1 + ((x - m)/s)**2)", "m s", maximize=True)
    x = {"x": rng.gamma(2.5, 1.5, 300)}
    fits = [symopt.solve(cauchy, x, progress=False, backend=backend) for backend in ("python", "numba")]
    assert [f.backend for f in fits] == ["python", "numba"] and fits[0].success
    np.testing.assert_allclose(fits[0].x, fits[1].x, rtol=1e-10)


def test_an_interpreter_fault_is_redone_compiled(kept, monkeypatch):
    """Where the interpreter still raises (Python float arithmetic: a ZeroDivisionError), the run is redone
    compiled, and says so. Forced here by a math whose exp raises."""
    b = symopt.params("b")
    objective = symopt.squared_loss(symopt.Model("exp(b*x)", [b]))
    data = {"x": np.array([0.0, 1.0, 2.0]), "y": np.array([1.0, 2.0, 3.0])}
    _, module, _ = symopt.Problem(objective, backend="python")._compiled(symopt.LevenbergMarquardt(), "python")

    class Raising:
        def __getattr__(self, name):
            if name == "exp":
                def exp(value):
                    raise ZeroDivisionError("float division by zero")
                return exp
            return getattr(module._math, name)

    monkeypatch.setattr(module, "math", Raising())
    r = symopt.solve(objective, data, x0={"b": 1.0}, progress=False, backend="python")
    assert r.backend == "numba" and "the interpreted run met ZeroDivisionError" in r.why and r.success


def test_value_and_grad_agree_between_backends(kept, rng):
    objective, data = _curve(rng)
    point = {"a": 1.3, "b": -0.7}
    twin = symopt.Problem(objective, backend="python").value_and_grad(data, point)
    compiled = symopt.Problem(objective, backend="numba").value_and_grad(data, point)
    assert twin[0] == pytest.approx(compiled[0], rel=1e-12)
    for name in point:
        assert twin[1][name] == pytest.approx(compiled[1][name], rel=1e-12)


def test_the_twin_differs_from_the_compiled_module_only_in_its_import_lines_and_its_math(rng):
    objective, _ = _curve(rng)
    rendered = render(objective, symopt.derive(objective), symopt.LevenbergMarquardt())
    changed = [line for line in difflib.unified_diff(rendered.source.splitlines(),
                                                     rendered.python_source.splitlines(), lineterm="", n=0)
               if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    removed = [line[1:] for line in changed if line.startswith("-")]
    assert removed == [removed[0], "from numba import njit"] and removed[0].startswith("# Backend: numba")
    added = "\n".join(line[1:] for line in changed if line.startswith("+"))
    assert "def njit(" in added and "prange = range" in added and "# Backend: python" in added
    assert "class _CompiledMath:" in added and "math = _CompiledMath()" in added


def test_a_small_first_solve_imports_no_numba(tmp_path):
    code = textwrap.dedent("""
        import sys
        import numpy as np
        import symopt
        x = np.linspace(0.0, 1.0, 50)
        r = symopt.solve(symopt.squared_loss(symopt.Model("a*exp(b*x)", "a b")),
                         {"x": x, "y": 2.0 * np.exp(-x)}, x0={"a": 1.0, "b": 0.0}, progress=False)
        assert r.success and r.backend == "python", (r.status, r.backend)
        print(sorted(m for m in ("numba", "llvmlite", "scipy") if m in sys.modules))
    """)
    env = dict(os.environ, SYMOPT_CACHE_DIR=str(tmp_path), PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_backend_is_checked():
    objective = symopt.squared_loss(symopt.Model("a*exp(b*x)", "a b"))
    with pytest.raises(symopt.ModelError, match="backend must be one of auto, numba, python"):
        symopt.Problem(objective, backend="cuda")
    net = symopt.cross_entropy(symopt.Network(2, [symopt.Dense(2)]))
    with pytest.raises(symopt.ModelError, match="not available for networks"):
        symopt.Problem(net, backend="python")


# --- evaluations counted (issue 10, item 5) ---------------------------------------------------------------------


KERNELS = ("objective_and_gradient", "objective_gradient_hessian", "residuals_and_jacobian", "residuals_only",
           "batch_gradient")


def _count_kernel_calls(module, monkeypatch) -> dict:
    """Wrap the interpreted twin's kernels (plain Python functions) so every call is counted."""
    calls = dict.fromkeys(KERNELS, 0)
    for name in KERNELS:
        if hasattr(module, name):
            original = getattr(module, name)

            def counted(*args, _name=name, _original=original):
                calls[_name] += 1
                return _original(*args)

            monkeypatch.setattr(module, name, counted)
    return calls


@pytest.mark.parametrize("optimizer", [symopt.LevenbergMarquardt(), symopt.Newton(), symopt.LBFGS(),
                                       symopt.GradientDescent(), symopt.Adam(lr=0.05, max_iter=300, tol=1e-5),
                                       symopt.Adam(lr=0.05, batch_size=16, epochs=5)],
                         ids=["lm", "newton", "lbfgs", "gd", "adam", "adam-minibatch"])
def test_nfev_and_njev_count_every_kernel_call(optimizer, kept, monkeypatch, rng):
    objective, data = _curve(rng)
    problem = symopt.Problem(objective, optimizer=optimizer, backend="python")
    runs = problem._driver.optimizer(2)[0]  # LevenbergMarquardt() runs with variable projection here
    module = problem._compiled(runs, "python")[1]
    calls = _count_kernel_calls(module, monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        r = problem.solve(data, x0={"a": 1.0, "b": -1.0}, progress=False)
    assert r.backend == "python" and r.nit > 0
    fused = calls["objective_and_gradient"] + calls["objective_gradient_hessian"] + calls["residuals_and_jacobian"]
    assert r.nfev == fused + calls["residuals_only"] and r.nfev > r.nit // 2
    assert r.njev == fused + calls["batch_gradient"]
    compiled = symopt.solve(objective, data, optimizer=optimizer, x0={"a": 1.0, "b": -1.0}, progress=False,
                            backend="numba")
    # the same code, in chunks of other sizes (each chunk's run may evaluate once at its start)
    slack = max(2, r.nfev // 8)
    assert abs(compiled.nfev - r.nfev) <= slack and abs(compiled.njev - r.njev) <= slack


def test_closed_forms_count_no_evaluations_and_networks_count_passes(rng):
    line = symopt.solve(symopt.squared_loss(symopt.Model("a + b*x", "a b")), {"x": [0.0, 1.0, 2.0], "y": [1.0, 3.0, 5.0]})
    assert (line.nfev, line.njev) == (0, 0)
    X = rng.normal(size=(50, 2))
    net = symopt.solve(symopt.log_loss(symopt.Network(2, [symopt.Dense(3, "tanh"), symopt.Dense(1)])),
                       (X, (X[:, 0] > 0).astype(float)), optimizer=symopt.Adam(batch_size=16, epochs=3), progress=False)
    assert net.njev == 3 * 4 and net.nfev == net.njev + 1  # ceil(50 / 16) = 4 batches per epoch

"""symopt.export: the exported module runs without symopt, SymPy and mpmath (``python -I`` with an import
blocker) and gives symopt.solve's parameters to 1e-12 relative and its standard errors to 1e-10, for an
expression model (Levenberg-Marquardt with variable projection, and L-BFGS), the same with bounds, a
logistic model over a data matrix (unweighted, and weighted by a per-row column), a network (parameters and
predictions), and through its own command line."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import symopt
from symopt.errors import ModelError
from symopt.problem import Problem
from symopt.standalone.export import export

#: Installed first in the child process: any import of symopt, SymPy or mpmath fails there.
BLOCKER = textwrap.dedent("""
    import importlib.abc, importlib.util, json, sys
    class _Blocked(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("symopt", "sympy", "mpmath"):
                raise ImportError(f"{name} is blocked: an exported module runs without it")
            return None
    sys.meta_path.insert(0, _Blocked())
""")

#: The child: load the exported module by path, run the calls the JSON argument lists, print what they gave.
CHILD = BLOCKER + textwrap.dedent("""
    import warnings
    import numpy as np
    path, data_path, calls = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    spec = importlib.util.spec_from_file_location("exported", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["exported"] = module  # importlib's recipe: Numba's cache finds the module by its name
    spec.loader.exec_module(module)
    with np.load(data_path) as archive:
        data = {name: archive[name] for name in archive.files}
    out = {"blocked": [m for m in ("symopt", "sympy", "mpmath") if m in sys.modules]}
    for label, kwargs in calls.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = module.fit(data, **kwargs)
        out[label] = result.as_dict()
        out[label]["warnings"] = [type(w.message).__name__ for w in caught]
        out[label]["predict"] = module.predict(result.params, data).tolist()
        out[label]["value"] = module.value_and_grad(data, result.params)[0]
    print(json.dumps(out))
""")


def run_exported(path, data, calls: dict, tmp_path) -> dict:
    """Run ``calls`` (label -> fit's keyword arguments) of the module at ``path`` on ``data`` in ``python -I``
    with symopt, SymPy and mpmath blocked."""
    data_path = tmp_path / f"{path.stem}_data.npz"
    np.savez(data_path, **data)
    done = subprocess.run([sys.executable, "-I", "-c", CHILD, str(path), str(data_path), json.dumps(calls)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    out = json.loads(done.stdout)
    assert out.pop("blocked") == []
    return out


def flat(values) -> np.ndarray:
    """Parameters (or standard errors) by name as one flat vector, in name order (arrays flattened)."""
    return np.concatenate([np.ravel(np.asarray(values[k], dtype=float)) for k in sorted(values)])


def relative(a, b) -> float:
    a, b = flat(a), flat(b)
    return float(np.max(np.abs(a - b) / np.abs(b)))


@pytest.fixture(scope="module")
def decay():
    rng = np.random.default_rng(1)
    x = np.linspace(0.0, 4.0, 60)
    return {"x": x, "y": 2.5 * np.exp(-1.3 * x) + 0.5 + 0.02 * rng.standard_normal(x.size)}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("exported")


def _model():
    return symopt.squared_loss(symopt.Model("a*exp(-b*x) + c", "a b c"))


@pytest.fixture(scope="module")
def expression_runs(decay, folder):
    """symopt's results and the exported modules' (Levenberg-Marquardt as symopt chooses it; L-BFGS), each
    from the default start and from x0."""
    out = {}
    x0 = {"a": 1.0, "b": 0.5, "c": 0.0}
    for label, optimizer in (("lm", None), ("lbfgs", symopt.LBFGS())):
        problem = Problem(_model(), optimizer=optimizer, method="iterative", backend="numba")
        path = export(problem, folder / f"decay_{label}.py")
        ours = {"default": problem.solve(decay), "x0": problem.solve(decay, x0=x0)}
        theirs = run_exported(path, decay, {"default": {}, "x0": {"x0": x0}}, folder)
        out[label] = (ours, theirs, path)
    return out


@pytest.mark.parametrize("label", ["lm", "lbfgs"])
def test_an_expression_model_exported_gives_symopts_parameters_and_standard_errors(expression_runs, label):
    ours, theirs, _ = expression_runs[label]
    for start in ("default", "x0"):
        mine, exported = ours[start], theirs[start]
        assert mine.success and exported["success"]
        assert exported["status"] == mine.status and exported["nit"] == mine.nit
        assert relative(exported["params"], mine.params) <= 1e-12
        assert relative(exported["stderr"], mine.stderr) <= 1e-10
        assert np.allclose(exported["cov"], mine.cov, rtol=1e-10, atol=0)
        assert exported["fun"] == pytest.approx(mine.fun, rel=1e-12)
        assert exported["value"] == pytest.approx(mine.fun, rel=1e-12)
        assert np.allclose(exported["predict"], mine.predict({"x": np.linspace(0.0, 4.0, 60)}), rtol=1e-12)


def test_the_exported_module_says_what_it_is_and_what_it_carries(expression_runs):
    text = expression_runs["lm"][2].read_text(encoding="utf-8")
    head, doc = text.splitlines()[0], text.split('"""')[1]
    assert head.startswith("# Generated by symopt") and "Do not edit" in text
    assert "dl/db = 2*a*x*(-a*exp(-b*x) - c + y)*exp(-b*x)" in doc  # the derivation
    assert "minimise mean over rows of [(-a*exp(-b*x) - c + y)**2]" in doc  # the problem
    assert "many starts" in doc and "What it does not carry" in doc
    assert "import symopt" not in text and "sympy" not in text.replace("SymPy", "")


@pytest.fixture(scope="module")
def bounded_runs(decay, folder):
    bounds = {"b": (0.0, 1.0), "c": (0.0, None)}
    problem = Problem(_model(), method="iterative", backend="numba", bounds=bounds)
    path = export(problem, folder / "decay_bounded.py")
    x0 = {"a": 1.0, "b": 0.5, "c": 0.1}
    ours = {"default": problem.solve(decay), "x0": problem.solve(decay, x0=x0)}
    json_bounds = {k: list(v) for k, v in bounds.items()}
    theirs = run_exported(path, decay, {"default": {},  # the problem's bounds, as symopt's solve keeps them
                                        "x0": {"bounds": json_bounds, "x0": x0}}, folder)
    return ours, theirs


def test_with_bounds_the_parameter_held_on_its_bound_and_the_others_standard_errors_agree(bounded_runs):
    ours, theirs = bounded_runs
    for start in ("default", "x0"):
        mine, exported = ours[start], theirs[start]
        assert mine.at_bound == {"b": "upper"} and exported["at_bound"] == {"b": "upper"}
        assert exported["params"]["b"] == 1.0
        assert exported["status"] == mine.status and exported["success"] == mine.success
        assert relative(exported["params"], mine.params) <= 1e-12
        assert mine.stderr["b"] is None and exported["stderr"]["b"] is None
        free = {k: v for k, v in mine.stderr.items() if v is not None}
        assert relative({k: exported["stderr"][k] for k in free}, free) <= 1e-10
        assert "b at its upper bound" in exported["message"]


@pytest.fixture(scope="module")
def logistic(folder):
    rng = np.random.default_rng(2)
    n, m = 300, 40
    X = rng.standard_normal((n, m))
    eta = X @ (0.3 * rng.standard_normal(m)) + 0.2
    data = {"X": X, "y": (rng.random(n) < 1.0 / (1.0 + np.exp(-eta))).astype(float)}
    problem = Problem(symopt.log_loss(symopt.LinearModel()), method="iterative", backend="numba")
    path = export(problem, folder / "logistic.py", data=data)
    return data, problem.solve(data), run_exported(path, data, {"default": {}}, folder)["default"], path


def test_a_wide_logistic_model_exported_gives_symopts_coefficients_and_standard_errors(logistic):
    data, mine, exported, _ = logistic
    assert mine.success and exported["success"] and exported["status"] == mine.status
    assert relative(exported["params"], mine.params) <= 1e-12
    assert relative(exported["stderr"], mine.stderr) <= 1e-10
    assert np.array_equal(exported["predict"], mine.predict(data))  # the class labels


@pytest.fixture(scope="module")
def weighted(folder):
    """A log loss and a squared loss over a data matrix, each weighted by a per-row column w (0 on a few rows)."""
    rng = np.random.default_rng(4)
    n, m = 200, 4
    X = rng.standard_normal((n, m))
    w = rng.uniform(0.0, 3.0, n)
    w[:5] = 0.0
    eta = X @ (0.5 * rng.standard_normal(m)) + 0.3
    runs = {}
    for name, loss, y in (("log", symopt.log_loss, (rng.random(n) < 1.0 / (1.0 + np.exp(-eta))).astype(float)),
                          ("squared", symopt.squared_loss, eta + rng.standard_normal(n) / np.sqrt(w + 0.1))):
        data = {"X": X, "y": y, "w": w}
        problem = Problem(loss(symopt.LinearModel(), weights="w"), method="iterative", backend="numba")
        path = export(problem, folder / f"weighted_{name}.py", data=data)
        runs[name] = (data, problem.solve(data, progress=False),
                      run_exported(path, data, {"default": {}}, folder)["default"], path)
    return runs


def test_a_model_over_a_data_matrix_with_a_weights_column_exported_gives_symopts_fit(weighted):
    """The exported fit takes the weights' column by name, as symopt does: the weighted log loss's parameters
    and standard errors (from the observed information of the weighted sum), the weighted least squares'
    parameters and, as symopt, no standard errors yet; predict needs X alone."""
    data, mine, exported, _ = weighted["log"]
    assert mine.success and exported["status"] == mine.status
    assert relative(exported["params"], mine.params) <= 1e-12
    assert relative(exported["stderr"], mine.stderr) <= 1e-10
    assert np.array_equal(exported["predict"], mine.predict(data["X"]))
    data, mine, exported, _ = weighted["squared"]
    assert relative(exported["params"], mine.params) <= 1e-12
    assert exported["stderr"] is None and mine.stderr is not None  # symopt has them; the module does not carry
    assert "weighted" in exported["stderr_reason"]  # the weighted least-squares covariance, and says so


def test_the_exported_module_reads_the_weights_column_by_name_and_checks_it(weighted, folder):
    data, mine, _, path = weighted["log"]
    module = _load(path)
    assert module.DATA_ARRAYS == ["X", "y", "w"] and "{'X': X, 'y': y, 'w': w}" in module.__doc__
    with pytest.raises(module.FitError, match="reads 'w' besides X and 'y', so data must be a mapping"):
        module.fit((data["X"], data["y"]))
    with pytest.raises(module.FitError, match="no column 'w'"):
        module.fit({"X": data["X"], "y": data["y"]})
    with pytest.raises(module.FitError, match="weights 'w' must be >= 0 .* row 7 is -1.0"):
        module.fit({**data, "w": np.where(np.arange(200) == 7, -1.0, data["w"])})
    with pytest.raises(module.FitError, match="weights 'w' are all 0"):
        module.fit({**data, "w": np.zeros(200)})
    # its command line: X is every column of the file but the target and the weights
    csv = folder / "weighted.csv"
    header = ",".join([f"x{j}" for j in range(4)] + ["w", "y"])
    np.savetxt(csv, np.column_stack([data["X"], data["w"], data["y"]]), delimiter=",", header=header, comments="",
               fmt="%.17g")
    done = subprocess.run([sys.executable, "-I", str(path), str(csv), "--json"], capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    assert relative(json.loads(done.stdout)["params"], mine.params) <= 1e-12


@pytest.fixture(scope="module")
def network(folder):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((200, 2))
    data = {"X": X, "y": np.sin(X[:, 0]) + 0.5 * X[:, 1] ** 2 + 0.05 * rng.standard_normal(200)}
    net = symopt.Network(2, [symopt.Dense(6, "tanh"), symopt.Dense(1)])
    problem = Problem(symopt.squared_loss(net), optimizer=symopt.LBFGS(max_iter=300), backend="numba")
    path = export(problem, folder / "network.py", data=data)
    with pytest.warns(symopt.ConvergenceWarning):
        mine = problem.solve(data)
    return data, mine, run_exported(path, data, {"default": {}}, folder)["default"]


def test_a_network_exported_gives_symopts_weights_and_predictions(network):
    data, mine, exported = network
    assert exported["status"] == mine.status == "max_iter" and exported["nit"] == mine.nit == 300
    assert exported["warnings"] == ["ConvergenceWarning"]  # as symopt warns
    assert relative(exported["params"], mine.params) <= 1e-12
    assert np.allclose(exported["predict"], mine.predict(data["X"]), rtol=1e-12, atol=0)
    assert exported["stderr"] is None and "not identified" in exported["stderr_reason"]


def test_the_exported_command_line_reads_csv_and_prints_json(logistic, decay, folder):
    data, mine, _, path = logistic
    csv = folder / "logistic.csv"
    header = ",".join([f"x{j}" for j in range(data["X"].shape[1])] + ["y"])
    np.savetxt(csv, np.column_stack([data["X"], data["y"]]), delimiter=",", header=header, comments="",
               fmt="%.17g")
    done = subprocess.run([sys.executable, "-I", "-c", BLOCKER + "import runpy, sys\nsys.argv = sys.argv[1:]\n"
                           "runpy.run_path(sys.argv[0], run_name='__main__')", str(path), str(csv), "--json"],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    printed = json.loads(done.stdout)
    assert printed["status"] == mine.status
    assert relative(printed["params"], mine.params) <= 1e-12
    bad = subprocess.run([sys.executable, "-I", str(path), str(folder / "missing.csv")], capture_output=True,
                         text=True, timeout=900)
    assert bad.returncode == 2 and "cannot read" in bad.stderr and "Traceback" not in bad.stderr


def test_export_refuses_what_it_cannot_write(folder):
    with pytest.raises(ModelError, match="takes a symopt.Problem"):
        export(symopt.squared_loss(symopt.Model("a*x", "a")), folder / "no.py")
    wide = Problem(symopt.log_loss(symopt.LinearModel()))
    with pytest.raises(ModelError, match="needs data="):
        export(wide, folder / "no.py")
    with pytest.raises(ModelError, match="with bounds= is not supported yet"):
        export(Problem(symopt.log_loss(symopt.LinearModel()), bounds={"intercept": (0.0, None)}), folder / "no.py")
    with pytest.raises(ModelError, match="minibatch"):
        export(Problem(_model(), optimizer=symopt.Adam(batch_size=8)), folder / "no.py")
    with pytest.raises(ModelError, match="with an l1 penalty is not supported yet"):
        export(Problem(symopt.squared_loss(symopt.LinearModel(), l1=0.1)), folder / "no.py")
    with pytest.raises(ModelError, match="does not exist"):
        export(Problem(_model()), folder / "nowhere" / "no.py")


def _load(path):
    """The exported module at ``path``, imported in this process (importlib's recipe)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"loaded_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_exported_fit_refuses_bad_input_with_a_clear_error(expression_runs, decay):
    module = _load(expression_runs["lm"][2])
    with pytest.raises(module.FitError, match="no column 'y'"):
        module.fit({"x": decay["x"]})
    with pytest.raises(module.FitError, match=r"'x' has a non-finite value .* at \(3,\)"):
        module.fit({"x": np.where(np.arange(60) == 3, np.nan, decay["x"]), "y": decay["y"]})
    with pytest.raises(module.FitError, match="differ in length"):
        module.fit({"x": decay["x"], "y": decay["y"][:-1]})
    with pytest.raises(module.FitError, match="unknown parameter.*q"):
        module.fit(decay, x0={"a": 1.0, "b": 1.0, "c": 0.0, "q": 1.0})
    with pytest.raises(module.FitError, match="gives no value for c"):
        module.fit(decay, x0={"a": 1.0, "b": 1.0})
    with pytest.raises(module.FitError, match="exported from a problem without bounds"):
        module.fit(decay, bounds={"b": (0.0, 1.0)})


def test_an_optimizer_state_that_export_cannot_size_is_refused():
    from dataclasses import dataclass

    from symopt.errors import CodegenError
    from symopt.standalone.export import _state_coefficients

    @dataclass(frozen=True)
    class Cubic(symopt.LBFGS):
        def state_size(self, p, n):
            return p ** 3, 1

    with pytest.raises(CodegenError, match="cannot size it"):
        _state_coefficients(Cubic())
    assert _state_coefficients(symopt.LBFGS(memory=5)) == ((5, 10, 0, 0), (2, 0, 0, 0))


def test_every_description_in_the_standalone_template_goes_through_the_escape():
    """The rule tests/system/test_security.py keeps for symopt's generated code holds for the exported module's
    template too: text substituted into a comment or docstring goes through the ``doc`` filter."""
    import re
    from pathlib import Path

    from system.test_security import LITERAL_CHOICE, text_substitutions

    import symopt.standalone.export as exporting

    source = (Path(exporting.__file__).parent / "templates" / "standalone.py.jinja").read_text(encoding="utf-8")
    found = text_substitutions(source)
    assert len(found) > 20
    bare = [(line, expr) for line, expr in found if not (re.search(r"\|\s*doc$", expr) or LITERAL_CHOICE.match(expr))]
    assert not bare, bare


def test_an_array_given_to_the_objective_is_a_named_column_of_the_exported_data(folder):
    rng = np.random.default_rng(3)
    X, t = rng.normal(size=(50, 2)), rng.uniform(1.0, 2.0, size=50)
    y = rng.poisson(t * np.exp(0.2 + X @ [0.3, -0.2])).astype(float)
    path = export(Problem(symopt.glm(symopt.LinearModel(), "poisson", exposure=t)), folder / "exposure.py",
                  data=(X, y))
    module = _load(path)
    assert module.DATA_ARRAYS == ["X", "y", "_exposure"]
    assert "'_exposure': the exposure= values (given to the objective as an array, passed here under this name)" \
        in module.__doc__

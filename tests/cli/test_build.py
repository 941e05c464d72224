"""symopt.cli.build: each kind of spec builds the objective, data and options the Python API would be given,
and solves to the same result."""

from __future__ import annotations

import numpy as np
import pytest

import symopt
from symopt.cli import build, checks, spec as specs

X = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5])
Z = np.array([1.0, 0.0, 2.0, 1.0, 3.0, 0.5, 1.5, 2.5])
Y = 1.0 + 2.0 * X - 0.5 * Z + np.array([0.1, -0.1, 0.05, 0.0, -0.05, 0.1, -0.1, 0.02])
LABELS = np.array([0, 0, 1, 0, 1, 1, 0, 1])


def built(tmp_path, text: str, columns: dict):
    (tmp_path / "d.csv").write_text(",".join(columns) + "\n" + "\n".join(
        ",".join(repr(float(v)) for v in row) for row in zip(*columns.values())) + "\n")
    (tmp_path / "s.toml").write_text(text + '\n[data]\npath = "d.csv"\n')
    spec, source = specs.read(tmp_path / "s.toml")
    checked = checks.check(spec, source)
    arrays = build.read_arrays(spec, checked)
    return build.objective(spec, checked, arrays), build.data(spec, checked, arrays), build.solve_options(spec)


def same(a, b):
    for name in a.params:
        np.testing.assert_allclose(a.params[name], b.params[name], rtol=1e-12, atol=0)


def test_expression_model_with_weights_bounds_start_and_optimizer(tmp_path):
    text = '''[model]
expr = "a + b*x"
params = ["a", "b"]
[objective]
weights = "w"
[optimizer]
name = "newton"
max_iter = 50
[solve]
method = "iterative"
[start]
a = 0.5
b = 1.0
[bounds]
b = [0, inf]
'''
    objective, data, options = built(tmp_path, text, {"x": X, "y": Y, "w": Z + 1})
    assert options["optimizer"] == symopt.Newton(max_iter=50) and options["bounds"] == {"b": (0.0, None)}
    assert options["x0"] == {"a": 0.5, "b": 1.0} and set(data) == {"x", "y", "w"}
    api = symopt.solve(symopt.squared_loss(symopt.Model("a + b*x", "a b"), weights="w"),
                       {"x": X, "y": Y, "w": Z + 1}, optimizer=symopt.Newton(max_iter=50), method="iterative",
                       x0={"a": 0.5, "b": 1.0}, bounds={"b": (0, None)}, progress=False)
    same(symopt.solve(objective, data, progress=False, **options), api)


def test_linear_model_over_columns_and_basis(tmp_path):
    objective, data, options = built(tmp_path, '[model]\nkind = "linear"\ncolumns = ["x", "z"]\n',
                                     {"x": X, "z": Z, "y": Y})
    assert data["X"].shape == (8, 2)
    api = symopt.solve(symopt.squared_loss(symopt.LinearModel(n_features=2)), (np.column_stack([X, Z]), Y))
    same(symopt.solve(objective, data, **options), api)
    text = '[model]\nkind = "linear"\ncolumns = ["x", "z"]\n[objective]\nloss = "log_loss"\n' \
           '[optimizer]\nname = "lbfgs"\n[start]\nintercept = 0.1\ncoef = [0.2, -0.3]\n[bounds]\ncoef = [-1, inf]\n'
    objective, data, options = built(tmp_path, text, {"x": X, "z": Z, "y": LABELS})
    assert options["x0"] == {"intercept": 0.1, "coef": [0.2, -0.3]} and options["bounds"] == {"coef": (-1.0, None)}
    api = symopt.solve(symopt.log_loss(symopt.LinearModel(n_features=2)), (np.column_stack([X, Z]), LABELS),
                       optimizer=symopt.LBFGS(), x0={"intercept": 0.1, "coef": np.array([0.2, -0.3])},
                       bounds={"coef": (-1, None)}, progress=False)
    result = symopt.solve(objective, data, progress=False, **options)
    assert result.method == "iterative" and np.array_equal(result.x0, [0.1, 0.2, -0.3])
    same(result, api)
    objective, data, options = built(tmp_path, '[model]\nkind = "linear"\nbasis = ["x", "x**2"]\nintercept = false\n',
                                     {"x": X, "y": Y})
    assert objective.param_names == ("w1", "w2")
    api = symopt.solve(symopt.squared_loss(symopt.LinearModel(basis=["x", "x**2"], intercept=False)), {"x": X, "y": Y})
    same(symopt.solve(objective, data, **options), api)


def test_likelihood_with_positive_parameter(tmp_path):
    text = '[objective]\nloss = "likelihood"\nexpr = "y*log(lam) - lam"\nparams = ["lam"]\npositive = ["lam"]\n' \
           'maximize = true\n'
    objective, data, options = built(tmp_path, text, {"y": Y})
    assert objective.likelihood and objective.maximize and objective.params[0].is_positive
    np.testing.assert_allclose(symopt.solve(objective, data, **options).params["lam"], Y.mean(), rtol=1e-12)


def test_network_and_log_loss(tmp_path):
    text = '''[network]
columns = ["x", "z"]
seed = 3
[[network.layers]]
units = 3
activation = "tanh"
[[network.layers]]
units = 1
[objective]
loss = "log_loss"
'''
    objective, data, _ = built(tmp_path, text, {"x": X, "z": Z, "y": LABELS})
    assert objective.network and objective.model.n_inputs == 2 and objective.model.seed == 3
    assert [layer.width for layer in objective.model.layers] == [3, 1]
    assert objective.kind == "log"


def test_the_activation_names_are_the_librarys():
    from symopt.model.layers import BUILTIN_ACTIVATIONS

    assert set(checks.ACTIVATIONS) == set(BUILTIN_ACTIVATIONS)


@pytest.mark.parametrize("name", sorted(specs.OPTIMIZERS))
def test_each_optimizer_builds_with_only_the_options_given(name):
    extra = {"gd": {"lr": 0.1}}.get(name, {})
    spec, _ = specs.parse('[model]\nexpr = "a*x"\nparams = ["a"]\n', "s.toml",
                          [("--set", f"optimizer.name={name}"), ("--set", "optimizer.max_iter=7")]
                          + [("--set", f"optimizer.{k}={v}") for k, v in extra.items()])
    optimizer = build.optimizer(spec)
    assert optimizer.name == name and optimizer.max_iter == 7
    default = type(optimizer)(**extra)
    assert optimizer.tol == default.tol

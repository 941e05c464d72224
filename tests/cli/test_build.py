"""symopt.cli.build: each kind of spec builds the objective, data and options the Python API would be given,
and solves to the same result."""

from __future__ import annotations

import dataclasses

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


def test_a_linear_model_over_columns_or_a_matrix_takes_weights(tmp_path):
    """weights= (and sigma=) on a LinearModel over a data matrix, from columns of a CSV or a matrix of an .npz: the
    weights' column travels with X and the target, and the fit is the API's (squared loss by the closed form, log
    loss weighted too)."""
    W = np.array([1.0, 2.0, 0.5, 0.0, 3.0, 1.0, 1.5, 2.0])
    columns = '[model]\nkind = "linear"\ncolumns = ["x", "z"]\n'
    X2 = np.column_stack([X, Z])
    objective, data, options = built(tmp_path, columns + '[objective]\nweights = "w"\n',
                                     {"x": X, "z": Z, "y": Y, "w": W})
    assert set(data) == {"X", "y", "w"} and objective.weight_column == "w"
    np.testing.assert_array_equal(data["w"], W)
    api = symopt.solve(symopt.squared_loss(symopt.LinearModel(n_features=2), weights="w"), {"X": X2, "y": Y, "w": W})
    result = symopt.solve(objective, data, **options)
    assert result.method == "linear"
    same(result, api)
    objective, data, options = built(tmp_path, columns + '[objective]\nsigma = "s"\n',
                                     {"x": X, "z": Z, "y": Y, "s": W + 1.0})
    same(symopt.solve(objective, data, **options),
         symopt.solve(symopt.squared_loss(symopt.LinearModel(), sigma="s"), {"X": X2, "y": Y, "s": W + 1.0}))
    objective, data, options = built(tmp_path, columns + '[objective]\nloss = "log_loss"\nweights = "w"\n',
                                     {"x": X, "z": Z, "y": LABELS, "w": W})
    api = symopt.solve(symopt.log_loss(symopt.LinearModel(), weights="w"), {"X": X2, "y": LABELS, "w": W},
                       progress=False)
    same(symopt.solve(objective, data, progress=False, **options), api)
    # a matrix of an .npz file
    np.savez(tmp_path / "m.npz", M=X2, y=Y, w=W)
    (tmp_path / "m.toml").write_text('[model]\nkind = "linear"\nmatrix = "M"\n[objective]\nweights = "w"\n'
                                     '[data]\npath = "m.npz"\n')
    spec, source = specs.read(tmp_path / "m.toml")
    checked = checks.check(spec, source)
    arrays = build.read_arrays(spec, checked)
    same(symopt.solve(build.objective(spec, checked, arrays), build.data(spec, checked, arrays)),
         symopt.solve(symopt.squared_loss(symopt.LinearModel(), weights="w"), {"X": X2, "y": Y, "w": W}))


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


W = np.array([0.3, 1.2, -0.7, 2.0, 0.1, -1.5, 0.9, 0.4])
WIDE_Y = 1.0 + 2.0 * X - 0.5 * Z + 3.0 * W + np.array([0.1, -0.1, 0.05, 0.0, -0.05, 0.1, -0.1, 0.02])


def test_per_entry_bounds_of_coef_give_the_apis_fit(tmp_path):
    """``coef = [[lower of each], [upper of each]]`` (and one side a number) is bounds={"coef": (lower, upper)}."""
    text = '[model]\nkind = "linear"\ncolumns = ["x", "z", "w"]\n[bounds]\ncoef = [[0, -inf, 0], [1.5, 0, inf]]\n' \
           'intercept = [-inf, 0.5]\n'
    objective, data, options = built(tmp_path, text, {"x": X, "z": Z, "w": W, "y": WIDE_Y})
    assert options["bounds"] == {"coef": ([0.0, -np.inf, 0.0], [1.5, 0.0, np.inf]), "intercept": (None, 0.5)}
    api = symopt.solve(symopt.squared_loss(symopt.LinearModel(n_features=3)), (np.column_stack([X, Z, W]), WIDE_Y),
                       bounds={"coef": (np.array([0, -np.inf, 0]), np.array([1.5, 0, np.inf])),
                               "intercept": (None, 0.5)})
    result = symopt.solve(objective, data, **options)
    assert result.at_bound == api.at_bound and "coef[0]" in result.at_bound and "intercept" in result.at_bound
    same(result, api)
    np.testing.assert_allclose(result.params["coef"], api.params["coef"], rtol=1e-12, atol=0)
    objective, data, options = built(tmp_path, text.replace("[[0, -inf, 0], [1.5, 0, inf]]", "[0, [1.5, inf, 2.5]]"),
                                     {"x": X, "z": Z, "w": W, "y": WIDE_Y})
    api = symopt.solve(symopt.squared_loss(symopt.LinearModel(n_features=3)), (np.column_stack([X, Z, W]), WIDE_Y),
                       bounds={"coef": (0, [1.5, np.inf, 2.5]), "intercept": (None, 0.5)})
    result = symopt.solve(objective, data, **options)
    assert result.at_bound == api.at_bound and result.at_bound["coef[2]"] == "upper"
    np.testing.assert_allclose(result.params["coef"], api.params["coef"], rtol=1e-12, atol=0)


def test_what_only_the_library_or_the_data_can_tell_is_refused_at_build_time_located(tmp_path):
    """A bound with no room (the library's check_bounds), one that a positive parameter's assumption empties,
    and a coef list against the matrix read where check could not measure it: each at its key and line."""
    for text, key, fragment in [
        ('[model]\nexpr = "a + b*x"\nparams = ["a", "b"]\n[bounds]\nb = [1, 1]\n', "bounds.b", "fixed={'b': 1}"),
        ('[model]\nexpr = "a + b*x"\nparams = ["a", "b"]\npositive = ["b"]\n[bounds]\nb = [-2, -1]\n', "bounds.b",
         "leave no room"),
        ('[model]\nexpr = "a + b*x"\nparams = ["a", "b"]\n[fixed]\nb = 3.0\n[bounds]\nb = [0, 1]\n', "bounds.b",
         "outside its bounds"),
    ]:
        objective, data, _ = built(tmp_path, text, {"x": X, "y": Y})
        spec, source = specs.read(tmp_path / "s.toml")
        with pytest.raises(specs.SpecError) as info:
            build.check_parameters(spec, checks.check(spec, source), source, objective, data)
        assert (info.value.line, info.value.key) == (text.count("\n"), key) and fragment in info.value.reason
    np.savez(tmp_path / "m.npz", X=np.column_stack([X, Z]), y=Y)
    (tmp_path / "s.toml").write_text('[model]\nkind = "linear"\nmatrix = "X"\n[data]\npath = "m.npz"\n'
                                     '[start]\ncoef = [1, 2, 3]\n')
    spec, source = specs.read(tmp_path / "s.toml")
    with pytest.raises(specs.SpecError) as info:  # check measures the .npz member's header
        checks.check(spec, source)
    assert (info.value.line, info.value.key) == (7, "start.coef") and "which has 2 here" in info.value.reason
    spec, source = specs.read(tmp_path / "s.toml", [("--set", "start.coef=[1, 2]")])
    unmeasured = dataclasses.replace(checks.check(spec, source), width=None)
    spec, source = specs.read(tmp_path / "s.toml")
    arrays = build.read_arrays(spec, unmeasured)
    with pytest.raises(specs.SpecError) as info:  # the build measures the matrix it read
        build.check_parameters(spec, unmeasured, source, build.objective(spec, unmeasured, arrays),
                               build.data(spec, unmeasured, arrays))
    assert (info.value.line, info.value.key) == (7, "start.coef") and "the data's X" in info.value.reason


def test_a_custom_objective_is_objective_without_likelihood(tmp_path):
    """``loss = "custom"``: Objective(expr, params, likelihood=False), so its standard errors are not the
    observed information's; the same fit and the same refusal of a likelihood's statistics as the API."""
    text = '[objective]\nloss = "custom"\nexpr = "(y - m)**2 + 0.1*(m - 1)**2"\nparams = ["m"]\n'
    objective, data, options = built(tmp_path, text, {"y": Y})
    assert objective.likelihood is False and objective.kind == "custom"
    api = symopt.solve(symopt.Objective("(y - m)**2 + 0.1*(m - 1)**2", "m"), {"y": Y})
    result = symopt.solve(objective, data, **options)
    same(result, api)
    assert result.stderr is None and "declared a likelihood" in result.stderr_reason
    assert result.stderr_reason == api.stderr_reason and result.loglik == api.loglik
    spec, source = specs.read(tmp_path / "s.toml")
    assert checks.check(spec, source).kind == "custom"
    likelihood, _, _ = built(tmp_path, text.replace('"custom"', '"likelihood"'), {"y": Y})
    assert likelihood.likelihood is True


def test_l1_and_penalize_give_the_apis_lasso(tmp_path):
    text = '''[objective]
loss = "custom"
expr = "(y - a - b*x - c*z)**2"
params = ["a", "b", "c"]
l1 = 0.4
penalize = ["b", "c"]
[optimizer]
name = "proximal"
tol = 1e-12
'''
    objective, data, options = built(tmp_path, text, {"x": X, "y": Y, "z": Z})
    assert options["optimizer"] == symopt.ProximalGradient(tol=1e-12)
    api = symopt.solve(symopt.Objective("(y - a - b*x - c*z)**2", "a b c", l1=0.4, penalize=["b", "c"]),
                       {"x": X, "y": Y, "z": Z}, optimizer=symopt.ProximalGradient(tol=1e-12), progress=False)
    result = symopt.solve(objective, data, progress=False, **options)
    same(result, api)
    assert result.kkt.ok and objective.l1_weights == (0.0, 1.0, 1.0)


def test_penalize_is_for_an_objective_of_its_own(tmp_path):
    text = '[model]\nexpr = "a + b*x"\nparams = ["a", "b"]\n[objective]\nl1 = 0.1\npenalize = ["b"]\n'
    with pytest.raises(specs.SpecError, match="objective.penalize is for loss"):
        built(tmp_path, text, {"x": X, "y": Y})


def test_an_offset_gives_the_apis_fit(tmp_path):
    text = '[model]\nexpr = "a + b*x"\nparams = ["a", "b"]\n[objective]\noffset = "z"\n'
    objective, data, options = built(tmp_path, text, {"x": X, "y": Y, "z": Z})
    api = symopt.solve(symopt.squared_loss(symopt.Model("a + b*x", "a b"), offset="z"), {"x": X, "y": Y, "z": Z},
                       progress=False)
    same(symopt.solve(objective, data, progress=False, **options), api)
    np.testing.assert_allclose(api.params["b"], np.polyfit(X, Y - Z, 1)[0], rtol=1e-10)


def test_a_glm_spec_gives_the_apis_fit(tmp_path):
    counts = np.array([1.0, 0.0, 2.0, 1.0, 4.0, 3.0, 5.0, 6.0])
    exposure = np.array([1.0, 0.5, 2.0, 1.0, 2.0, 1.5, 1.0, 2.5])
    text = ('[model]\nexpr = "a + b*x"\nparams = ["a", "b"]\n[objective]\nloss = "glm"\nfamily = "poisson"\n'
            'exposure = "e"\n')
    objective, data, options = built(tmp_path, text, {"x": X, "y": counts, "e": exposure})
    api = symopt.solve(symopt.glm(symopt.Model("a + b*x", "a b"), "poisson", exposure="e"),
                       {"x": X, "y": counts, "e": exposure}, progress=False)
    result = symopt.solve(objective, data, progress=False, **options)
    same(result, api)
    assert result.deviance == pytest.approx(api.deviance, rel=1e-12)
    tweedie = ('[model]\nexpr = "a + b*x"\nparams = ["a", "b"]\n[objective]\nloss = "glm"\nfamily = "tweedie"\n'
               'power = 1.5\nlink = "log"\n')
    objective, _, _ = built(tmp_path, tweedie, {"x": X, "y": counts})
    assert objective.glm.family.name == "tweedie(power=1.5)" and objective.glm.link.name == "log"


@pytest.mark.parametrize("extra, where, message", [
    ('loss = "glm"\n', "family", "needs objective.family"),
    ('family = "poisson"\n', "family", 'family applies to loss = "glm" only'),
    ('loss = "glm"\nfamily = "poisson"\npower = 1.5\n', "power", 'power applies to family = "tweedie" only'),
    ('loss = "glm"\nfamily = "poisson"\ntrials = "n"\n', "trials", 'trials applies to family = "binomial"'),
])
def test_glm_options_are_checked_where_they_are_written(tmp_path, extra, where, message):
    text = '[model]\nexpr = "a + b*x"\nparams = ["a", "b"]\n[objective]\n' + extra
    with pytest.raises(specs.SpecError, match=message) as caught:
        built(tmp_path, text, {"x": X, "y": Y, "n": Z + 1})
    assert where in str(caught.value)

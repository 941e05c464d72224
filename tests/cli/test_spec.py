"""symopt.cli.spec: every kind of refusal is one SpecError located as file:line and key path, and nothing in a
spec runs."""

from __future__ import annotations

import pytest

import symopt
from symopt.cli import spec as specs
from symopt.cli.spec import SpecError

BASE = '''[model]
expr = "a + b*x"
params = ["a", "b"]
'''


def refusal(text: str, sets=()) -> SpecError:
    with pytest.raises(SpecError) as info:
        specs.parse(text, "s.toml", sets)
    return info.value


def test_a_valid_spec_reads_with_defaults():
    spec, source = specs.parse(BASE + '[optimizer]\nname = "lbfgs"\nmax_iter = 50\n[bounds]\nb = [0, inf]\n', "s.toml")
    assert spec.model.params == ["a", "b"] and spec.optimizer.max_iter == 50 and spec.optimizer.tol is None
    assert spec.bounds == {"b": [0.0, float("inf")]}
    assert spec.solve.method == "auto" and spec.objective.loss == "squared"
    assert source.lines[("optimizer", "max_iter")] == 6


def test_unknown_key_with_did_you_mean_line_and_key_path():
    error = refusal(BASE + '[optimizer]\nname = "lbfgs"\nmax_itr = 5\n')
    assert (error.file, error.line, error.key) == ("s.toml", 6, "optimizer.max_itr")
    assert "did you mean 'max_iter'?" in str(error)
    assert str(error).startswith("s.toml:6: optimizer.max_itr: unknown key")
    assert isinstance(error, symopt.SymoptError) and isinstance(error, symopt.ParseError)


def test_unknown_table_and_misspelt_choice():
    error = refusal(BASE + "[solv]\nmethod = 'auto'\n")
    assert (error.line, error.key) == (4, "solv") and "did you mean 'solve'?" in str(error)
    error = refusal(BASE + '[solve]\nmethod = "iterativ"\n')
    assert (error.line, error.key) == (5, "solve.method") and "did you mean 'iterative'?" in str(error)
    error = refusal(BASE + '[optimizer]\nname = "lbgfs"\n')
    assert (error.line, error.key) == (5, "optimizer.name") and "did you mean 'lbfgs'?" in str(error)


@pytest.mark.parametrize("line, fragment", [
    ('max_iter = "500"', "valid integer"),         # a string for a number
    ("max_iter = 5.5", "valid integer"),
    ("max_iter = true", "valid integer"),
    ("max_iter = -3", "greater than or equal to 1"),
    ("tol = nan", "finite number"),
    ("tol = inf", "finite number"),
    ("tol = -1e-6", "greater than or equal to 0"),
])
def test_wrong_types_and_bad_hyperparameters(line, fragment):
    error = refusal(BASE + f'[optimizer]\nname = "lbfgs"\n{line}\n')
    assert error.line == 6 and error.key == f"optimizer.{line.split()[0]}" and fragment in error.reason


def test_nan_bound_refused_inf_bound_accepted():
    error = refusal(BASE + "[bounds]\na = [nan, 1]\n")
    assert (error.line, error.key) == (5, "bounds.a[0]") and "NaN" in error.reason
    error = refusal(BASE + "[bounds]\na = [0]\n")
    assert error.key == "bounds.a" and "a pair [lower, upper]" in error.reason


def test_array_of_tables_entries_located_by_index():
    text = '''[network]
columns = ["x"]
[[network.layers]]
units = 4
[[network.layers]]
units = 0
'''
    error = refusal(text)
    assert (error.line, error.key) == (6, "network.layers[1].units")
    error = refusal('[network]\ncolumns = ["x"]\n[[network.layers]]\nactivation = "tanh"\n')
    assert (error.line, error.key) == (3, "network.layers[0].units") and "required" in error.reason


def test_invalid_toml_and_size_limit_and_encoding(tmp_path):
    error = refusal(BASE + "oops =\n")
    assert error.line == 4 and "not valid TOML" in str(error)
    big = tmp_path / "big.toml"
    big.write_bytes(b"#" * (specs.MAX_SPEC_BYTES + 1))
    with pytest.raises(SpecError, match="larger than"):
        specs.read(big)
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b'[model]\nexpr = "\xff"\n')
    with pytest.raises(SpecError) as info:
        specs.read(bad)
    assert info.value.line == 2 and "UTF-8" in str(info.value)
    with pytest.raises(SpecError, match="cannot read"):
        specs.read(tmp_path / "missing.toml")


def test_set_options_override_and_are_named_in_errors():
    spec, _ = specs.parse(BASE, "s.toml", [("--set optimizer.name=adam", "optimizer.name=adam"),
                                           ("--set optimizer.lr=0.5", "optimizer.lr=0.5")])
    assert spec.optimizer.name == "adam" and spec.optimizer.lr == 0.5
    error = refusal(BASE, [("--set solve.starts=0", "solve.starts=0")])
    assert error.file == "--set solve.starts=0" and error.key == "solve.starts" and error.line is None
    spec, source = specs.parse(BASE, "s.toml", [("--set optimizer.name=gd", "optimizer.name=gd")])
    error = source.error(("optimizer",), "needs lr=")
    assert (error.file, error.line, error.key) == ("--set optimizer.name=gd", None, "optimizer")
    assert source.error(("model",), "x").line == 1
    error = refusal(BASE, [("--set =1", "=1")])
    assert "key path" in str(error)
    error = refusal(BASE, [("--set model.expr.x=1", "model.expr.x=1")])
    assert "not a table" in str(error)


def test_the_schema_is_the_librarys_options():
    """The spec's choices and defaults are symopt.solve's and the optimizers' (so neither drifts)."""
    import inspect
    import typing

    from symopt import front, problem
    from symopt.cli.build import OPTIMIZER_CLASSES
    from symopt.numerics.covariance import COV_TYPES

    solve = inspect.signature(front.solve).parameters
    for name, field in specs.SolveSpec.model_fields.items():
        assert field.default == solve[name].default, name
    assert typing.get_args(specs.SolveSpec.model_fields["method"].annotation) == problem.METHODS
    assert typing.get_args(specs.SolveSpec.model_fields["precision"].annotation) == problem.PRECISIONS
    assert typing.get_args(specs.SolveSpec.model_fields["backend"].annotation) == problem.BACKENDS
    assert typing.get_args(specs.SolveSpec.model_fields["cov_type"].annotation) == COV_TYPES
    import dataclasses

    for name, table in specs.OPTIMIZERS.items():
        cls = getattr(symopt, OPTIMIZER_CLASSES[name])
        assert cls.name == name
        library = {f.name for f in dataclasses.fields(cls)}
        assert set(table.model_fields) - {"name"} == library, name


def test_bounds_of_an_array_parameter_take_a_list_per_side():
    """``coef = [lower, upper]``, each side a number (every entry) or a list (one per entry), as bounds= does."""
    spec, _ = specs.parse(BASE + "[bounds]\ncoef = [[0, -inf, 1], 2.5]\nb = [-1, [2]]\n", "s.toml")
    assert spec.bounds == {"coef": [[0.0, float("-inf"), 1.0], 2.5], "b": [-1.0, [2.0]]}
    error = refusal(BASE + "[bounds]\ncoef = [[0, 1, nan], inf]\n")
    assert (error.line, error.key) == (5, "bounds.coef[0][2]") and "NaN" in error.reason
    error = refusal(BASE + "[bounds]\ncoef = [[0, inf], [-1, 1], [0, 2]]\n")
    assert error.key == "bounds.coef" and "[[lower of each entry], [upper of each entry]]" in error.reason
    error = refusal(BASE + "[bounds]\ncoef = [[], 1]\n")
    assert error.key == "bounds.coef[0]" and "at least 1" in error.reason
    error = refusal(BASE + '[bounds]\ncoef = [["0"], 1]\n')
    assert error.key == "bounds.coef[0][0]" and "valid number" in error.reason


def test_start_errors_name_the_entry_and_fixed_takes_numbers_only():
    error = refusal(BASE + "[start]\ncoef = [1, nan]\n")
    assert (error.line, error.key) == (5, "start.coef[1]") and "finite" in error.reason
    error = refusal(BASE + '[start]\na = "1"\n')
    assert error.key == "start.a" and "(and" not in error.reason  # one error: the member the value's shape picks
    error = refusal(BASE + "[fixed]\ncoef = [1, 2]\n")
    assert (error.line, error.key) == (5, "fixed.coef") and "named parameters only" in error.reason


def test_the_model_tables_are_the_constructors_arguments():
    """[objective], [model], [network] and its layers: the choices and defaults of the losses, Objective,
    LinearModel, Network and Dense, so that a key left out means what the argument left out means."""
    import dataclasses
    import inspect
    import typing

    from symopt.model import layers, losses, models, objective

    def defaults(function) -> dict:
        return {name: p.default for name, p in inspect.signature(function).parameters.items()
                if p.default is not inspect.Parameter.empty}

    def choices(table, name) -> tuple:
        return typing.get_args(table.model_fields[name].annotation)

    o = specs.ObjectiveSpec.model_fields
    for loss in (losses.squared_loss, losses.log_loss, losses.cross_entropy, objective.Objective):
        for name, default in defaults(loss).items():
            if name != "likelihood":  # which loss says it: "likelihood" or "custom"
                assert o[name].default == default, (loss.__name__, name)
    assert choices(specs.ObjectiveSpec, "reduction") == objective.REDUCTIONS
    assert choices(specs.ObjectiveSpec, "scale") == objective.SCALES
    assert specs.ModelSpec.model_fields["intercept"].default == defaults(models.LinearModel)["intercept"]
    network = defaults(layers.Network)
    assert {name: specs.NetworkSpec.model_fields[name].default for name in network} == network
    assert choices(specs.NetworkSpec, "init") == layers.INITS
    assert choices(specs.NetworkSpec, "dtype") == layers.DTYPES
    dense = {f.name: f.default for f in dataclasses.fields(layers.Dense) if f.name != "width"}
    assert {name: specs.LayerSpec.model_fields[name].default for name in dense} == dense
    assert set(specs.LayerSpec.model_fields) == set(dense) | {"units"}  # units: Dense's width


def test_training_by_epochs_takes_validation_early_stopping_and_a_schedule():
    from symopt.cli.build import optimizer

    spec, _ = specs.parse(BASE + '[optimizer]\nname = "adam"\nvalidation = 0.2\nearly_stopping = 3\n'
                                 'schedule = "cosine"\n', "s.toml")
    adam = optimizer(spec)
    assert isinstance(adam, symopt.Adam) and adam.validation == 0.2 and adam.early_stopping == 3
    assert isinstance(adam.schedule, symopt.CosineLR)
    error = refusal(BASE + '[optimizer]\nname = "adam"\nvalidation = 1.5\n')
    assert error.key == "optimizer.validation"
    error = refusal(BASE + '[optimizer]\nname = "adam"\nschedule = "linear"\n')
    assert error.key == "optimizer.schedule"


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
    assert error.key == "bounds.a" and "at least 2" in error.reason


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

"""symopt.cli.checks: what `check` proves before SymPy: the tables agree, expressions pass the whitelist's
syntax, the data file is where a spec may name one and holds every column the problem reads."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from symopt.cli import checks, spec as specs
from symopt.cli.spec import SpecError

from cli_specs import LINE_SPEC


def checked(path, data=None):
    spec, source = specs.read(path)
    return checks.check(spec, source, data)


def refusal(path, data=None) -> SpecError:
    with pytest.raises(SpecError) as info:
        checked(path, data)
    return info.value


def test_a_good_spec_names_its_data_and_columns(write_spec):
    result = checked(write_spec(LINE_SPEC))
    assert result.kind == "expression" and result.params == ("a", "b")
    assert result.columns == ("x", "y") and result.data_path.name == "line.csv"
    assert result.needed == {"y": ("objective", "target"), "x": ("model", "expr")}


def test_a_missing_column_is_located_where_it_is_named(write_spec):
    error = refusal(write_spec(LINE_SPEC, csv="t,y\n0,1\n1,2\n"))
    assert (error.line, error.key) == (2, "model.expr")
    assert "no column 'x'" in str(error) and "(it has: t, y)" in str(error)
    error = refusal(write_spec(LINE_SPEC.replace('target = "y"', 'target = "yy"')))
    assert (error.line, error.key) == (6, "objective.target") and "did you mean 'y'?" in str(error)


def test_data_paths_stay_in_the_spec_folder(write_spec, tmp_path):
    error = refusal(write_spec(LINE_SPEC.replace("line.csv", "nothere.csv")))
    assert (error.line, error.key) == (9, "data.path") and "no data file" in str(error)
    error = refusal(write_spec(LINE_SPEC.replace("line.csv", "../line.csv")))
    assert error.key == "data.path" and "outside the spec's folder" in str(error)
    error = refusal(write_spec(LINE_SPEC.replace("line.csv", str(tmp_path / "line.csv"))))
    assert "relative" in str(error)
    error = refusal(write_spec(LINE_SPEC.replace("line.csv", "line.py")))
    assert ".csv (with a header), .npz or .npy" in str(error)
    outside = tmp_path.parent / f"{tmp_path.name}-outside.csv"
    outside.write_text("x,y\n0,1\n")
    try:
        (tmp_path / "link.csv").symlink_to(outside)
        error = refusal(write_spec(LINE_SPEC.replace("line.csv", "link.csv")))
        assert "outside the spec's folder" in str(error)
    finally:
        outside.unlink()
    # the command line's --data names any file: the user's choice, not the spec's
    other = tmp_path / "sub"
    other.mkdir()
    (other / "d.csv").write_text("x,y\n0,1\n1,2\n")
    assert checked(write_spec(LINE_SPEC), str(other / "d.csv")).data_path == other / "d.csv"
    error = refusal(write_spec(LINE_SPEC), str(other / "none.csv"))
    assert error.file == "--data"


@pytest.mark.parametrize("text, key, fragment", [
    (LINE_SPEC + '[network]\ncolumns = ["x"]\n[[network.layers]]\nunits = 1\n', "network", "not both"),
    ('[objective]\nloss = "likelihood"\nexpr = "log(l) - l*x"\n', "objective.loss", "objective.params"),
    (LINE_SPEC.replace('target = "y"', 'target = "y"\nmaximize = true'), "objective.maximize", "minimised"),
    (LINE_SPEC.replace('"a + b*x"', '"a + b*x.real"'), "model.expr", "attribute access"),
    (LINE_SPEC.replace('"a + b*x"', '"a + b*open(x)"'), "model.expr", "unknown function 'open'"),
    (LINE_SPEC + "[start]\nc = 1.0\n", "start.c", "not a parameter"),
    (LINE_SPEC + "[bounds]\nb = [2, 1]\n", "bounds.b", "above the upper"),
    ('[model]\nkind = "linear"\nexpr = "a*x"\n', "model.expr", 'kind = "expression"'),
    ('[model]\nkind = "linear"\ncolumns = ["x"]\nmatrix = "X"\n', "model.matrix", "exactly one of"),
    (LINE_SPEC.replace('target = "y"', 'target = "y"\nloss = "log_loss"\nsigma = "x"'), "objective.sigma",
     'loss = "squared" only'),
    ('[model]\nkind = "linear"\ncolumns = ["x"]\n[objective]\nloss = "cross_entropy"\nweights = "w"\n',
     "objective.weights", '"squared", "log_loss" or "glm" only'),
    ('[network]\ncolumns = ["x"]\n[[network.layers]]\nunits = 1\n[objective]\nweights = "w"\n', "objective.weights",
     "not supported on a network"),
    ("[solve]\nmethod = \"auto\"\n", "", "needs a [model]"),
])
def test_tables_must_agree(write_spec, text, key, fragment):
    error = refusal(write_spec(text))
    assert error.key == key and fragment in str(error)


def test_npz_and_npy_data(write_spec, tmp_path):
    import numpy as np

    np.savez(tmp_path / "d.npz", X=np.ones((4, 2)), y=np.arange(4.0))
    linear = '[model]\nkind = "linear"\nmatrix = "X"\n[data]\npath = "d.npz"\n'
    assert set(checked(write_spec(linear)).columns) == {"X", "y"}
    error = refusal(write_spec(linear.replace('matrix = "X"', 'matrix = "Z"')))
    assert error.key == "model.matrix" and "no column 'Z'" in str(error)
    np.save(tmp_path / "m.npy", np.ones((4, 2)))
    error = refusal(write_spec(LINE_SPEC.replace("line.csv", "m.npy")))
    assert error.key == "data" and "data.columns" in str(error)
    good = LINE_SPEC.replace('"line.csv"', '"m.npy"\ncolumns = ["x", "y"]')
    assert checked(write_spec(good)).columns == ("x", "y")
    error = refusal(write_spec(good.replace('["x", "y"]', '["x", "y", "z"]')))
    assert error.key == "data.columns" and "2 column(s)" in str(error)


def test_check_imports_neither_sympy_nor_numba(write_spec):
    path = write_spec(LINE_SPEC)
    code = ("import sys; from symopt.cli.main import main; code = main(['check', sys.argv[1]]);"
            "print(sorted(m for m in ('sympy', 'numba', 'scipy') if m in sys.modules)); sys.exit(code)")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


LINEAR = '''[model]
kind = "linear"
columns = ["x1", "x2", "x3"]

[data]
path = "line.csv"
'''
WIDE_CSV = "x1,x2,x3,y\n0,1,2,3\n1,0,1,2\n2,2,0,1\n"


def test_per_entry_lists_are_checked_against_the_width_the_header_tells(write_spec, tmp_path):
    result = checked(write_spec(LINEAR + "[bounds]\ncoef = [[0, 0, -inf], inf]\n[start]\ncoef = [1, 2, 3]\n",
                                csv=WIDE_CSV))
    assert result.width == 3
    error = refusal(write_spec(LINEAR + "[bounds]\ncoef = [0, [1, 2]]\n", csv=WIDE_CSV))
    assert (error.line, error.key) == (8, "bounds.coef[1]")
    assert "2 entries for coef, which has 3 here" in error.reason and "one number for every entry" in error.reason
    error = refusal(write_spec(LINEAR + "[start]\ncoef = [1, 2]\n", csv=WIDE_CSV))
    assert (error.line, error.key) == (8, "start.coef") and "give 3" in error.reason
    import numpy as np  # an .npz matrix: the width from its member's header

    np.savez(tmp_path / "m.npz", X=np.zeros((4, 5)), y=np.zeros(4))
    text = '[model]\nkind = "linear"\nmatrix = "X"\n[data]\npath = "m.npz"\n[bounds]\ncoef = [[0, 0, 0, 0], 1]\n'
    error = refusal(write_spec(text))
    assert (error.line, error.key) == (7, "bounds.coef[0]") and "which has 5 here" in error.reason
    assert checked(write_spec(text.replace("[0, 0, 0, 0]", "[0, 0, 0, 0, 0]"))).width == 5


@pytest.mark.parametrize("tables, key, fragment", [
    ("[bounds]\ncoef = [[0, 2, 1], [1, 3, 0]]\n", "bounds.coef", "above the upper bound 0.0 at entry 2"),
    ("[bounds]\ncoef = [[0, 1, 2], [1, 2]]\n", "bounds.coef", "3 lower bounds and 2 upper bounds"),
    ("[bounds]\nintercept = [[0], 1]\n", "bounds.intercept[0]", "'intercept' is one number"),
    ("[start]\nintercept = [0.5]\n", "start.intercept", "'intercept' is one number"),
    ("[bounds]\ncoeff = [0, 1]\n", "bounds.coeff", "did you mean 'coef'?"),
    ("[fixed]\ncoef = 1.0\n", "fixed.coef", "fixed= holds named parameters"),
])
def test_a_linear_model_over_columns_names_intercept_and_coef(write_spec, tables, key, fragment):
    error = refusal(write_spec(LINEAR + tables, csv=WIDE_CSV))
    assert (error.line, error.key) == (8, key) and fragment in error.reason


def test_lists_for_named_parameters_and_bounds_where_solve_refuses_them(write_spec):
    error = refusal(write_spec(LINE_SPEC + "[bounds]\nb = [[0, 1], 2]\n"))
    assert (error.line, error.key) == (11, "bounds.b[0]") and "'b' is one number" in error.reason
    network = '[network]\ncolumns = ["x"]\n[[network.layers]]\nunits = 1\n[data]\npath = "line.csv"\n'
    error = refusal(write_spec(network + "[bounds]\nW1 = [0, 1]\n"))
    assert error.key == "bounds.W1" and "not supported on a network's weights" in error.reason
    error = refusal(write_spec(network + "[fixed]\nb1 = 0.0\n"))
    assert error.key == "fixed.b1" and "a network has none" in error.reason
    multinomial = LINEAR + '[objective]\nloss = "cross_entropy"\n[bounds]\ncoef = [0, 1]\n'
    error = refusal(write_spec(multinomial, csv=WIDE_CSV))
    assert error.key == "bounds.coef" and "multinomial" in error.reason

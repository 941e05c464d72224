"""[ties], new_params and constraints in a spec (symopt.cli.spec, checks, build): passed to the objective's solve as
ties= and constraints= are, with each refusal located at its key: the syntax and names by `check`, what a tie or a
constraint means (a cycle, a nonlinear constraint) by the library, at the same key."""

from __future__ import annotations

import json

import numpy as np
import pytest

import symopt
from symopt.cli import checks, spec as specs
from symopt.cli.main import main
from symopt.cli.spec import SpecError

ROWS = np.array([[0.0, 1.0, 1.2], [1.0, 0.0, 2.1], [2.0, 2.0, 5.9], [3.0, 1.0, 6.2], [4.0, 3.0, 9.1],
                 [5.0, 0.5, 8.8], [1.5, 2.5, 5.0], [2.5, 0.5, 4.9]])
CSV = "x,z,y\n" + "\n".join(",".join(repr(float(v)) for v in row) for row in ROWS) + "\n"
PLANE = '''constraints = ["a <= b"]

[model]
expr = "a + b*x + c*z"
params = ["a", "b", "c"]

[data]
path = "line.csv"

[ties]
c = "2*b"
'''
DATA = {"x": ROWS[:, 0], "z": ROWS[:, 1], "y": ROWS[:, 2]}
MODEL = symopt.Model("a + b*x + c*z", "a b c")


def _solved(path, capsys) -> dict:
    assert main(["solve", str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_ties_and_constraints_solve_as_the_python_api(write_spec, capsys):
    doc = _solved(write_spec(PLANE, csv=CSV), capsys)
    api = symopt.solve(symopt.squared_loss(MODEL), DATA, ties={"c": "2*b"}, constraints=["a <= b"])
    assert api.kkt.active == ("a <= b",)  # the constraint binds: the solve went through SLSQP
    for name in "abc":
        assert doc["params"][name] == pytest.approx(api.params[name], rel=1e-10, abs=1e-12)
    assert doc["params"]["c"] == pytest.approx(2 * doc["params"]["b"], rel=1e-12)
    assert doc["params"]["a"] == pytest.approx(doc["params"]["b"], rel=1e-7)
    assert doc["spec"]["ties"] == {"c": "2*b"} and doc["spec"]["constraints"] == ["a <= b"]


def test_a_tie_reading_a_new_parameter_is_declared_in_new_params_and_may_be_bounded(write_spec, capsys):
    text = PLANE.replace('constraints = ["a <= b"]', 'new_params = ["k"]').replace('c = "2*b"', 'c = "k*b"') + \
        "[bounds]\nk = [0, 1]\n"
    doc = _solved(write_spec(text, csv=CSV), capsys)
    api = symopt.solve(symopt.squared_loss(MODEL), DATA, ties=symopt.ties({"c": "k*b"}, new="k"),
                       bounds={"k": (0, 1)})
    for name in ("a", "b", "c", "k"):
        assert doc["params"][name] == pytest.approx(api.params[name], rel=1e-7)


def _refusal(path) -> SpecError:
    spec, source = specs.read(path)
    with pytest.raises(SpecError) as info:
        checks.check(spec, source)
    return info.value


@pytest.mark.parametrize("change, key, fragment", [
    (('c = "2*b"', 'd = "2*b"'), "ties.d", "'d' is not a parameter (a, b, c): a tie's key is the parameter"),
    (('c = "2*b"', 'c = "2*bb"'), "ties.c", "names 'bb', which is not a parameter (a, b, c); did you mean 'b'?"),
    (('c = "2*b"', 'c = "2*b +"'), "ties.c", ""),
    (('["a <= b"]', '["a <= b <= c"]'), "constraints[0]", "exactly one comparison, <= or >="),
    (('["a <= b"]', '["a > b"]'), "constraints[0]", "a strict inequality"),
    (('["a <= b"]', '["a == b"]'), "constraints[0]", "say it as a tie in [ties]"),
    (('["a <= b"]', '["a >= q"]'), "constraints[0]", "names 'q', which is not a parameter"),
    (('constraints = ["a <= b"]', 'new_params = ["a"]'), "new_params", "'a' is already a parameter"),
])
def test_check_refuses_bad_ties_and_constraints_at_their_key(write_spec, change, key, fragment):
    error = _refusal(write_spec(PLANE.replace(*change), csv=CSV))
    assert error.key == key and fragment in error.reason


def test_ties_on_a_linear_model_over_columns_are_refused(write_spec):
    text = 'constraints = ["intercept <= 1"]\n[model]\nkind = "linear"\ncolumns = ["x", "z"]\n[data]\npath = "line.csv"\n'
    error = _refusal(write_spec(text, csv=CSV))
    assert error.key == "constraints" and "relate named parameters" in error.reason


def test_constraints_written_after_a_table_say_it_is_a_top_level_key(write_spec):
    text = PLANE.replace('constraints = ["a <= b"]\n', "") + 'constraints = ["a <= b"]\n'
    with pytest.raises(SpecError) as info:
        specs.read(write_spec(text, csv=CSV))
    assert info.value.key == "ties.constraints" and "'constraints' is a top-level key: write it before" in str(info.value)


@pytest.mark.parametrize("change, key, fragment", [
    (('c = "2*b"', 'c = "2*b"\nb = "c"'), "ties", "the ties are circular (c -> b -> c)"),
    (('["a <= b"]', '["a*b >= 1"]'), "constraints[0]", "not linear in the parameters"),
])
def test_what_the_library_refuses_is_located_at_the_key(write_spec, capsys, change, key, fragment):
    path = write_spec(PLANE.replace(*change), csv=CSV)
    assert main(["solve", str(path)]) == 2
    err = capsys.readouterr().err
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1)
                if text.startswith("[ties]" if key == "ties" else "constraints"))
    assert err.startswith(f"symopt: error: {path}:{line}: {key}: ") and fragment in err

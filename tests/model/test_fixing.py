"""fixed=: parameters held at values given at run time (issue 12 item 7), one problem for every value."""

from __future__ import annotations

import numpy as np
import pytest

import symopt
from symopt.errors import DataError, ModelError


@pytest.fixture(scope="module")
def decay():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 3, 40)
    return {"x": x, "y": 2.0 * np.exp(-0.7 * x) + 0.5 + 0.02 * rng.normal(size=40)}


def test_a_fixed_parameter_is_held_and_reported(decay):
    objective = symopt.squared_loss(symopt.Model("a*exp(-b*x) + c", "a b c"))
    r = symopt.solve(objective, decay, fixed={"c": 0.5}, progress=False)
    assert r.success and r.fixed == {"c": 0.5} and list(r.params) == ["a", "b", "c"] and r.params["c"] == 0.5
    assert r.x.shape == (2,) and r.x_names == ("a", "b") and set(r.stderr) == {"a", "b"}
    assert "(fixed)" in str(r) and "c fixed" in r.objective.describe()
    assert "fixed" in str(r.summary())
    # the same as fitting the model with the constant written in
    written = symopt.solve(symopt.squared_loss(symopt.Model("a*exp(-b*x) + 0.5", "a b")), decay, progress=False)
    np.testing.assert_allclose(r.x, written.x, rtol=1e-9)
    np.testing.assert_allclose(r.predict({"x": np.array([0.0, 1.0])}), written.predict({"x": np.array([0.0, 1.0])}),
                               rtol=1e-9)


def test_a_problem_solves_every_fixed_value_without_building_again(decay):
    problem = symopt.Problem(symopt.squared_loss(symopt.Model("a*exp(-b*x) + c", "a b c")), fixed={"c": 0.0})
    modules = []
    for c in (0.3, 0.5, 0.7):
        r = problem.solve(decay, fixed={"c": c}, progress=False)
        assert r.params["c"] == c and r.success
        modules.append(r.source_path)
    assert len(set(modules)) == 1
    grid = [problem.solve(decay, fixed={"c": c}, progress=False).fun for c in (0.3, 0.5, 0.7)]
    assert grid[1] < grid[0] and grid[1] < grid[2]  # 0.5 is the value the data were made with
    with pytest.raises(ModelError, match="solve may change their values, not which are fixed"):
        problem.solve(decay, fixed={"a": 1.0})


def test_a_linear_model_with_a_fixed_slope_keeps_its_closed_form(decay):
    r = symopt.solve(symopt.squared_loss(symopt.Model("a + b*x", "a b")), decay, fixed={"b": 1.0})
    assert r.method == "linear" and r.params["a"] == pytest.approx(np.mean(decay["y"] - decay["x"]), rel=1e-12)


def test_bad_fixed_arguments_are_refused_by_name(decay):
    objective = symopt.squared_loss(symopt.Model("a + b*x", "a b"))
    with pytest.raises(ModelError, match="'z', which is not a parameter"):
        symopt.solve(objective, decay, fixed={"z": 1.0})
    with pytest.raises(ModelError, match="must be a finite number"):
        symopt.solve(objective, decay, fixed={"a": float("nan")})
    with pytest.raises(ModelError, match="every parameter is fixed"):
        symopt.solve(objective, decay, fixed={"a": 1.0, "b": 2.0})
    with pytest.raises(ModelError, match="fixed must be a mapping"):
        symopt.solve(objective, decay, fixed=[("a", 1.0)])
    with pytest.raises(DataError, match="column named 'a', which is a fixed parameter"):
        symopt.solve(objective, {**decay, "a": decay["x"]}, fixed={"a": 1.0})
    with pytest.raises(ModelError, match="not a parameter of the objective"):
        symopt.solve(symopt.squared_loss(symopt.LinearModel()), (np.ones((5, 2)), np.ones(5)), fixed={"coef": 1.0})

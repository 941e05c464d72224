"""check_gradient: the code that runs against central differences and the Taylor test, for every kind of
problem; a wrong gradient injected into a generated module is caught."""

from __future__ import annotations

import numpy as np
import pytest

import symopt
from symopt.codegen import cache
from symopt.codegen.render import render_key


@pytest.fixture(scope="module")
def curve():
    rng = np.random.default_rng(3)
    x = np.linspace(0.0, 3.0, 60)
    a, b = symopt.params("a b")
    objective = symopt.squared_loss(symopt.Model("a*exp(-b*x)", [a, b]))
    return objective, {"x": x, "y": 2.0 * np.exp(-0.7 * x) + 0.01 * rng.normal(size=x.size)}


def test_a_curve_fit_passes_through_the_interpreted_twin_and_the_compiled_module(curve):
    objective, data = curve
    check = symopt.check_gradient(symopt.Problem(objective, backend="python"), data, directions=4)
    assert [c.backend for c in check.checks] == ["python", "numba"]
    assert check.ok and "the gradient is right: python and numba agree" in check.verdict
    for c in check.checks:
        assert c.max_error < 1e-8 and abs(c.min_rate - 2.0) < 0.1
    assert check.checks[0].value == pytest.approx(check.checks[1].value, rel=1e-12)
    assert set(check.point) == {"a", "b"}
    assert "| python |" in check.to_markdown() and "numba: ok" in str(check)


def test_a_wrong_gradient_in_a_generated_module_is_caught(curve):
    """The interpreted twin's source edited so that dF/da comes out 0.1% too large, loaded as the module
    the problem runs: central differences and the Taylor test both see it."""
    objective, data = curve
    problem = symopt.Problem(objective, backend="python")
    driver = problem._driver
    optimizer, _ = driver.optimizer(2)
    rendered = problem._shared.rendered_for(objective, problem.derivation, optimizer)
    line = "grad[j] = grad[j] * scale + 2.0 * l2 * mask[j] * theta[j]"
    assert line in rendered.python_source
    wrong = rendered.python_source.replace(line, line.replace("* scale", "* scale * (1.0 + 1e-3 * (j == 0))"))
    module, path = cache.load(wrong, f"{rendered.stem}_wrong_py")
    problem._shared.modules[(render_key(optimizer), "python")] = (rendered, module, path)
    try:
        check = symopt.check_gradient(problem, data, directions=4, compiled=False)
    finally:
        del problem._shared.modules[(render_key(optimizer), "python")]
    (c,) = check.checks
    assert not check.ok and "the gradient of python is WRONG" in check.verdict
    assert c.max_error > 1e-5
    assert c.min_rate < 1.5  # the remainder falls only linearly at the smallest steps
    assert symopt.check_gradient(problem, data, directions=4, compiled=False).ok  # the real module again


def test_a_closed_form_problem_checks_the_numpy_evaluation(rng):
    X = rng.normal(size=(80, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.3
    check = symopt.check_gradient(symopt.squared_loss(symopt.LinearModel(), l2=0.1), (X, y), compiled=False)
    (c,) = check.checks
    assert c.backend == "numpy" and check.ok and abs(c.min_rate - 2.0) < 0.05
    assert check.point["coef"].shape == (3,)


def test_a_given_point_by_name_and_an_affine_direction(rng):
    """A linear objective has a zero Taylor remainder: nothing to measure, which is not a failure."""
    a, b = symopt.params("a b")
    objective = symopt.Objective("a*x + b", [a, b])
    check = symopt.check_gradient(objective, {"x": rng.normal(size=20)}, params={"a": 1.0, "b": 2.0},
                                  compiled=False)
    assert check.ok and check.point == {"a": 1.0, "b": 2.0} and check.checks[0].min_rate is None
    assert "affine along every direction" in str(check)


def test_a_network_checks_its_backward_pass(rng):
    X = rng.normal(size=(40, 4))
    y = rng.integers(0, 3, size=40)
    net = symopt.Network(4, [symopt.Dense(5, "tanh"), symopt.Dense(3)], seed=1)
    check = symopt.check_gradient(symopt.cross_entropy(net, l2=1e-3), (X, y), directions=3)
    (c,) = check.checks
    assert c.backend == "numba" and check.ok and c.max_error < 1e-7
    assert check.point["W1"].shape == (5, 4)  # (fan_out, fan_in)


def test_bad_arguments_are_refused_with_the_reason(curve):
    objective, data = curve
    with pytest.raises(symopt.ModelError, match="directions must be a whole number"):
        symopt.check_gradient(objective, data, directions=0)
    with pytest.raises(symopt.ModelError, match="tol must be a positive number"):
        symopt.check_gradient(objective, data, tol=float("nan"))
    with pytest.raises(symopt.ModelError, match="not finite at the point checked"):
        symopt.check_gradient(symopt.Objective("log(a)", [symopt.params("a")]), None, params={"a": -1.0},
                              compiled=False)

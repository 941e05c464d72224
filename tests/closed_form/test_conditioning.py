"""Conditioning (Result.conditioning, IllConditionedWarning) and solve(..., standardize=True)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import sympy as sp

import symopt
from nist_models import nist_model
from symopt.closed_form.conditioning import ILL_CONDITIONED, Conditioning, scaled_condition
from symopt.trust.nist import lre, read



def _nist(nist, name):
    problem = read(nist / f"{name}.dat")
    return problem, symopt.squared_loss(nist_model(problem))


def _digits(result, problem) -> float:
    return min(lre(result.params[n], c) for n, c in problem.certified.items())


def test_the_linear_path_reports_the_design_condition_and_warns_only_when_ill(nist):
    problem, objective = _nist(nist, "Longley")
    with warnings.catch_warnings():
        warnings.simplefilter("error", symopt.IllConditionedWarning)
        r = symopt.solve(objective, problem.columns)
    assert r.method == "linear" and r.conditioning.matrix == "design"
    assert 1e4 < r.condition_number < 1e5  # measured: 5.4e4
    assert "conditioning: condition number 5.4e+04 of the column-scaled design" in str(r)
    problem, objective = _nist(nist, "Filip")
    with pytest.warns(symopt.IllConditionedWarning, match=r"condition number 5\.\de\+09 of the column-scaled design") as got:
        r = symopt.solve(objective, problem.columns)
    text = str(got[0].message)
    assert "centre and scale the features" in text and "add l2=" in text and "precision='high'" in text
    assert "standardize=True fits" not in text  # a polynomial in x: refused, so not offered
    assert got[0].filename == __file__  # the warning points at the caller


def test_an_ill_conditioned_iterative_fit_advises_standardize_and_standardize_cures_it(nist):
    problem, objective = _nist(nist, "Longley")
    with pytest.warns(symopt.IllConditionedWarning, match="solve\\(..., standardize=True\\) fits") as got:
        plain = symopt.solve(objective, problem.columns, method="iterative", progress=False)
    assert "Jacobi-scaled Hessian" in str(got[0].message)
    assert plain.conditioning.matrix == "hessian" and plain.condition_number > ILL_CONDITIONED
    with warnings.catch_warnings():
        warnings.simplefilter("error", symopt.IllConditionedWarning)
        scaled = symopt.solve(objective, problem.columns, method="iterative", standardize=True, progress=False)
    assert scaled.condition_number < 1e5 < plain.condition_number  # measured: 1.2e4 against 1.9e9
    assert _digits(scaled, problem) >= 11 and _digits(scaled, problem) > _digits(plain, problem) + 1
    assert "fitted on centred and scaled features" in scaled.why and "x6 = 1954.5 + 4*x6'" in scaled.why
    closed = symopt.solve(objective, problem.columns, standardize=True)
    assert closed.method == "linear" and _digits(closed, problem) >= 13
    assert closed.condition_number < 200  # measured: 115, from 5.4e4


def test_standardize_is_the_same_estimator_on_every_linear_form(rng):
    n = 300
    X = np.column_stack([1000 + rng.normal(size=n), 0.001 * rng.normal(size=n), rng.normal(size=n)])
    eta = 0.5 + 2.0 * (X[:, 0] - 1000) + 300 * X[:, 1] - X[:, 2]
    y_fit = eta + 0.1 * rng.normal(size=n)
    y_class = (eta + rng.logistic(size=n) > 0).astype(float)
    labels = (eta > 0).astype(int) + (X[:, 2] > 0.5)
    named = {"x": X[:, 0], "z": X[:, 1], "w": X[:, 2]}
    cases = [
        (symopt.squared_loss(symopt.LinearModel()), (X, y_fit), "linear"),
        (symopt.log_loss(symopt.LinearModel()), (X, y_class), "iterative"),
        (symopt.cross_entropy(symopt.LinearModel()), (X, labels), "iterative"),
        (symopt.squared_loss(symopt.Model("c + 2*b*x - d*z + e*w", "b c d e")), {**named, "y": y_fit}, "linear"),
        (symopt.log_loss(symopt.Model("c + b*x + d*z + e*w", "b c d e")), {**named, "y": y_class}, "iterative"),
    ]
    for objective, data, method in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", symopt.IllConditionedWarning)
            plain = symopt.solve(objective, data, progress=False)
        scaled = symopt.solve(objective, data, standardize=True, progress=False)
        assert plain.success and scaled.success and scaled.method == plain.method == method
        np.testing.assert_allclose(scaled.x, plain.x, rtol=1e-6, atol=1e-8 * np.max(np.abs(plain.x)))
        assert scaled.fun == pytest.approx(plain.fun, rel=1e-9)
        assert scaled.grad_norm < 1e-4 * max(1.0, abs(scaled.fun))  # the gradient on the user's data


def test_a_model_without_an_intercept_is_only_scaled(rng):
    x = 1e4 * rng.normal(size=50)
    data = {"x": x, "y": 3e-4 * x + 0.01 * rng.normal(size=50)}
    objective = symopt.squared_loss(symopt.Model("b*x", "b"))
    r = symopt.solve(objective, data, standardize=True)
    assert "scaled (no intercept to absorb a centre)" in r.why
    assert r.params["b"] == pytest.approx(symopt.solve(objective, data).params["b"], rel=1e-12)


def test_x0_and_the_callback_speak_in_the_users_parameters(nist):
    problem, objective = _nist(nist, "Longley")
    seen = []
    r = symopt.solve(objective, problem.columns, method="iterative", standardize=True, x0=problem.certified,
                     callback=lambda k, f, params: seen.append(params) and False, progress=False)
    at_start = symopt.Problem(objective).value_and_grad(problem.columns, problem.certified)[0]
    assert r.success and r.history[0] == pytest.approx(at_start, rel=1e-12)  # x0 mapped to the standardized
    assert set(seen[-1]) == set(problem.certified)
    assert seen[-1]["B6"] == pytest.approx(problem.certified["B6"], rel=1e-6)


@pytest.mark.parametrize("objective, words", [
    (symopt.squared_loss(symopt.Model("a*exp(b*x)", "a b")), "the feature x does not enter the model linearly"),
    (symopt.squared_loss(symopt.Model("a + b*x + b*z", "a b")), "the coefficient b of x appears elsewhere"),
    (symopt.squared_loss(symopt.Model("a + b*x", "a b"), l2=0.1), "with l2 = 0.1 the penalty"),
    (symopt.Objective("(y - a - b*x)**2", "a b"), "it needs a model in a loss .* in a custom objective"),
    (symopt.squared_loss(symopt.Network(1, [symopt.Dense(1)])), "a network's training path depends on"),
])
def test_standardize_is_refused_with_the_reason(objective, words):
    data = (np.ones((3, 1)), np.ones(3)) if objective.network else {"x": [0.0, 1.0, 2.0], "z": [1.0, 0.0, 1.0],
                                                                    "y": [1.0, 2.0, 3.5]}
    if not objective.network:
        data = {k: v for k, v in data.items() if k in objective.data_names}
    with pytest.raises(symopt.ModelError, match=f"standardize=True does not apply: {words}"):
        symopt.solve(objective, data, standardize=True)


def test_standardize_with_high_precision_or_not_a_bool_is_refused():
    objective = symopt.squared_loss(symopt.Model("a + b*x", "a b"))
    data = {"x": [0.0, 1.0, 2.0], "y": [1.0, 3.0, 5.0]}
    with pytest.raises(symopt.PrecisionError, match="standardize=True is for precision='double'"):
        symopt.solve(objective, data, standardize=True, precision="high")
    with pytest.raises(symopt.ModelError, match="standardize must be True or False"):
        symopt.solve(objective, data, standardize="yes")


def test_newton_on_a_data_matrix_reports_the_hessian_condition(rng):
    X = rng.normal(size=(200, 3))
    X[:, 2] = X[:, 1] + 1e-5 * rng.normal(size=200)  # two near-dependent features
    y = (X[:, 0] + rng.logistic(size=200) > 0).astype(float)
    with pytest.warns(symopt.IllConditionedWarning, match="Jacobi-scaled Hessian"):
        r = symopt.solve(symopt.log_loss(symopt.LinearModel()), (X, y), progress=False)
    assert r.optimizer.__class__.__name__ == "Newton" and r.condition_number > ILL_CONDITIONED
    assert symopt.solve(symopt.log_loss(symopt.LinearModel()), (X[:, :2], y), progress=False).condition_number < 10


def test_the_scaled_condition_ignores_units_and_sees_dependence():
    H = np.diag([1e12, 1.0, 1e-6])
    assert scaled_condition(H) == pytest.approx(1.0)
    near = np.array([[1.0, 1.0 - 1e-9], [1.0 - 1e-9, 1.0]])
    assert scaled_condition(near) == pytest.approx(2e9, rel=1e-3)
    assert scaled_condition(np.array([[1.0, 1.0], [1.0, 1.0]])) == np.inf
    assert "singular" in str(Conditioning(np.inf, "hessian"))


def test_a_symbol_declared_positive_is_still_a_coefficient():
    b = sp.Symbol("b", positive=True)
    c = sp.Symbol("c")
    x = np.linspace(0.0, 1.0, 20)
    objective = symopt.squared_loss(symopt.Model("c + b*x", [b, c]))
    r = symopt.solve(objective, {"x": 100 + x, "y": 1.0 + 2.0 * x}, standardize=True)
    assert r.params["b"] == pytest.approx(2.0, rel=1e-10) and r.params["c"] == pytest.approx(-199.0, rel=1e-10)

"""Result.predict for every model kind (networks are tested in test_network.py)."""

from __future__ import annotations

import numpy as np
import pytest

import symopt
from symopt.errors import DataError, ModelError


def test_an_expression_model_is_evaluated_at_the_fitted_parameters(rng):
    x = np.linspace(0.0, 1.0, 50)
    fit = symopt.solve(symopt.squared_loss(symopt.Model("a*exp(b*x)", "a b")),
                       {"x": x, "y": 2.0 * np.exp(-1.5 * x) + 0.01 * rng.normal(size=50)}, x0={"a": 1, "b": 0},
                       progress=False)
    new = np.array([0.0, 0.5, 2.0])
    np.testing.assert_allclose(fit.predict({"x": new}), fit.params["a"] * np.exp(fit.params["b"] * new), rtol=1e-14)
    with pytest.raises(DataError, match="no array named 'x'; the model needs x"):
        fit.predict({"t": new})


def test_a_linear_model_over_a_matrix_takes_x(rng):
    X = rng.normal(size=(80, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.3 + 0.01 * rng.normal(size=80)
    fit = symopt.solve(symopt.squared_loss(symopt.LinearModel()), (X, y))
    X_new = rng.normal(size=(5, 3))
    expected = X_new @ fit.params["coef"] + fit.params["intercept"]
    np.testing.assert_allclose(fit.predict(X_new), expected, rtol=1e-13)
    np.testing.assert_allclose(fit.predict({"X": X_new}), expected, rtol=1e-13)
    np.testing.assert_allclose(fit.predict((X_new, None)), expected, rtol=1e-13)
    with pytest.raises(DataError, match="has 2 columns; the model was fitted on 3"):
        fit.predict(X_new[:, :2])


def test_log_loss_predicts_labels(rng):
    X = rng.normal(size=(300, 2))
    y = (X @ np.array([2.0, -1.0]) + 0.5 * rng.logistic(size=300) > 0).astype(float)
    fit = symopt.solve(symopt.log_loss(symopt.LinearModel()), (X, y), progress=False)
    labels = fit.predict(X)
    eta = X @ fit.params["coef"] + fit.params["intercept"]
    np.testing.assert_array_equal(labels, (eta > 0).astype(float))
    assert set(np.unique(labels)) == {0.0, 1.0} and np.mean(labels == y) > 0.8


def test_a_basis_model_predicts_from_a_data_frame(rng):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"t": np.linspace(0, 2, 40)})
    frame["c"] = 1.0 + 0.5 * frame["t"] - 0.25 * frame["t"] ** 2 + 0.001 * rng.normal(size=40)
    fit = symopt.solve(symopt.squared_loss(symopt.LinearModel(basis=["t", "t**2"]), target="c"), frame)
    new = pd.DataFrame({"t": [0.0, 1.0, 3.0]})
    w = fit.params
    np.testing.assert_allclose(fit.predict(new), w["w0"] + w["w1"] * new["t"] + w["w2"] * new["t"] ** 2, rtol=1e-12)


def test_an_objective_without_a_model_says_what_to_do():
    fit = symopt.solve(symopt.Objective("(y - a*x)**2", "a"), {"x": [1.0, 2.0], "y": [2.0, 4.0]})
    with pytest.raises(ModelError, match="predict\\(\\) needs a model"):
        fit.predict({"x": [3.0]})

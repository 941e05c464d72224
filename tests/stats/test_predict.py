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


def test_a_nan_logit_is_refused_not_class_0():
    """Issue 26 item 24: log_loss on a named model whose logit is NaN on new rows (log of a negative x) named
    those rows; it predicted class 0 there (NaN > 0 is False)."""
    rng = np.random.default_rng(0)
    x = np.exp(rng.normal(size=60))
    y = (np.log(x) + rng.logistic(size=60) > 0).astype(float)
    fit = symopt.solve(symopt.log_loss(symopt.Model("a + b*log(x)", "a b")), {"x": x, "y": y}, progress=False)
    np.testing.assert_array_equal(fit.predict({"x": np.array([0.5, 3.0])}),
                                  (fit.params["a"] + fit.params["b"] * np.log([0.5, 3.0]) > 0).astype(float))
    with pytest.raises(ModelError, match=r"logits are not finite .* on 2 of 4 rows \(rows 1, 3\)"):
        fit.predict({"x": np.array([1.0, -1.0, 2.0, -3.0])})
    # a squared loss predicts values: NaN stays NaN there
    values = symopt.solve(symopt.squared_loss(symopt.Model("a + b*log(x)", "a b")), {"x": x, "y": y}).predict(
        {"x": np.array([1.0, -1.0])})
    assert np.isfinite(values[0]) and np.isnan(values[1])


def test_non_finite_class_scores_are_refused(rng):
    X = rng.normal(size=(90, 2))
    y = np.digitize(3.0 * X[:, 0] + rng.logistic(size=90), [-1.0, 1.0]).astype(float)
    fit = symopt.solve(symopt.cross_entropy(symopt.LinearModel(), l2=0.01), (X, y), progress=False)
    assert fit.predict(X[:3]).shape == (3,)
    assert np.max(np.abs(fit.params["coef"][:, 0])) > 1.0
    big = np.finfo(float).max
    huge = np.array([[big, 0.0], [0.0, 0.0], [-big, 0.0]])  # some scores overflow to inf
    with pytest.raises(ModelError, match=r"class scores are not finite .*\(rows 0, 2\)"):
        fit.predict(huge)


@pytest.fixture(scope="module")
def nan_network_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2))
    return X, (X[:, 0] > 0).astype(float)


def test_a_network_whose_forward_pass_is_nan_refuses_to_predict(nan_network_data):
    """The issue's network: an activation log(z) is accepted, its forward pass is NaN (solve says
    nonfinite_start), and predict gave all zeros."""
    X, y = nan_network_data
    net = symopt.Network(2, [symopt.Dense(3, activation="log(z)"), symopt.Dense(1)])
    r = symopt.solve(symopt.log_loss(net), (X, y), progress=False)
    assert r.status == "nonfinite_start"
    with pytest.raises(ModelError, match=r"network's logits are not finite .* on 30 of 30 rows \(rows 0, 1, 2, 3, 4 "
                                         r"and 25 more\)"):
        r.predict(X)

"""bounds= on a LinearModel over a data matrix (issue 12 item 7): intercept and coef bounded, one pair for every
coefficient or one bound each; least squares solved exactly (BVLS on the column-scaled [1, X]), a likelihood by
the generated wide kernels with projected steps; at-bound coefficients reported entry by entry."""

from __future__ import annotations

import numpy as np
import pytest

import symopt


@pytest.fixture(scope="module")
def regression():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(120, 6))
    y = 0.5 + X @ np.array([1.5, -2.0, 0.7, -0.3, 0.0, 2.5]) + 0.3 * rng.normal(size=120)
    return X, y


def test_nonnegative_coefficients_match_scipy_and_scikit_learn(regression):
    optimize = pytest.importorskip("scipy.optimize")
    X, y = regression
    r = symopt.solve(symopt.squared_loss(symopt.LinearModel()), (X, y), bounds={"coef": (0, None)},
                     progress=False)
    A = np.column_stack([np.ones(len(y)), X])
    expected = optimize.lsq_linear(A, y, bounds=(np.r_[-np.inf, np.zeros(6)], np.full(7, np.inf)),
                                   method="bvls", tol=1e-14).x
    assert r.method == "linear" and r.success and r.kkt.ok
    np.testing.assert_allclose(r.x, expected, rtol=1e-10, atol=1e-12)
    held = np.flatnonzero(expected[1:] == 0.0)
    assert 1 in held and 3 in held and len(held) < 6  # the negative true slopes, and maybe a zero one
    assert r.at_bound == {f"coef[{j}]": "lower" for j in held}
    assert isinstance(r.params["coef"], np.ndarray) and np.all(r.params["coef"][held] == 0.0)
    sklearn = pytest.importorskip("sklearn.linear_model")
    fit = sklearn.LinearRegression(positive=True).fit(X, y)
    np.testing.assert_allclose(r.params["coef"], fit.coef_, atol=1e-8)
    assert r.params["intercept"] == pytest.approx(fit.intercept_, abs=1e-8)
    # standard errors: NaN for the coefficients at a bound, the others computed with those held
    se, free = r.stderr["coef"], np.setdiff1d(np.arange(6), held)
    assert np.all(np.isnan(se[held])) and np.all(np.isfinite(se[free]) & (se[free] > 0))
    assert np.isfinite(r.stderr["intercept"]) and r.dof == len(y) - 7 + len(held)
    low, high = r.conf_int()["coef"]
    assert np.all(np.isnan(low[held])) and np.all(low[free] < r.params["coef"][free])
    assert np.all(r.params["coef"][free] < high[free])
    assert f"({len(held)} entries at a bound)" in str(r) and "coef[1]" in str(r.summary())


def test_a_bound_for_each_coefficient(regression):
    optimize = pytest.importorskip("scipy.optimize")
    X, y = regression
    lower = np.array([-np.inf, -1.0, 0.0, -np.inf, -np.inf, 0.0])
    upper = np.array([1.0, np.inf, np.inf, np.inf, np.inf, 2.0])
    r = symopt.solve(symopt.squared_loss(symopt.LinearModel()), (X, y),
                     bounds={"intercept": (None, 0.25), "coef": (lower, upper)}, progress=False)
    A = np.column_stack([np.ones(len(y)), X])
    expected = optimize.lsq_linear(A, y, bounds=(np.r_[-np.inf, lower], np.r_[0.25, upper]), method="bvls",
                                   tol=1e-14).x
    np.testing.assert_allclose(r.x, expected, rtol=1e-10, atol=1e-12)
    assert r.at_bound == {"intercept": "upper", "coef[0]": "upper", "coef[1]": "lower", "coef[5]": "upper"}
    assert r.kkt.ok and r.stderr["intercept"] is None


def test_a_bounded_logistic_regression_over_a_data_matrix_matches_scipy(regression):
    optimize = pytest.importorskip("scipy.optimize")
    X, _ = regression
    rng = np.random.default_rng(8)
    eta = -0.3 + X @ np.array([1.0, -1.5, 0.5, -0.5, 0.2, 1.2])
    y = (rng.uniform(size=len(eta)) < 1 / (1 + np.exp(-eta))).astype(float)
    objective = symopt.log_loss(symopt.LinearModel(), reduction="sum")

    def f(theta):
        z = theta[0] + X @ theta[1:]
        p = 1 / (1 + np.exp(-z))
        return np.sum(np.logaddexp(0, z) - y * z), np.r_[np.sum(p - y), X.T @ (p - y)]

    ref = optimize.minimize(f, np.zeros(7), jac=True, method="L-BFGS-B", bounds=[(None, None)] + [(0, None)] * 6,
                            options={"ftol": 1e-15, "gtol": 1e-12})
    held = {f"coef[{j}]": "lower" for j in np.flatnonzero(ref.x[1:] == 0.0)}
    assert {"coef[1]", "coef[3]"} <= set(held) and len(held) < 6
    for optimizer in (symopt.Newton(tol=1e-10), symopt.LBFGS(tol=1e-10)):
        r = symopt.solve(objective, (X, y), optimizer=optimizer, bounds={"coef": (0, None)}, progress=False)
        assert r.success and r.kkt.ok and r.at_bound == held, r.message
        np.testing.assert_allclose(r.x, ref.x, atol=1e-6)
        assert "kept by the generated code" in r.why and "so every iterate is feasible" in r.why

"""The quantile LP's preprocessing (symopt/run/kinked.py, Portnoy and Koenker's): solved on the rows near a
subsample's fit, the others' residual signs confirmed, it reaches the same optimum as the LP on every row, and
scikit-learn's QuantileRegressor(alpha=0, solver="highs") objective; where it cannot, every row is solved."""

from __future__ import annotations

import numpy as np
import pytest

import symopt
from symopt.run import kinked

sklearn_linear = pytest.importorskip("sklearn.linear_model")


@pytest.fixture(scope="module")
def tall():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((6000, 3))
    y = 1.0 + X @ np.array([0.5, -2.0, 1.0]) + rng.standard_t(2, size=6000) * (1 + 0.5 * np.abs(X[:, 0]))
    return np.column_stack([np.ones(len(y)), X]), y


def _pinball(u, q):
    return float(np.mean(np.maximum(q * u, (q - 1) * u)))


@pytest.mark.parametrize("q", [0.1, 0.5, 0.9])
def test_preprocessing_reaches_the_full_lps_optimum(tall, q, monkeypatch):
    phi, y = tall
    full, full_value, full_status = kinked.solve_quantile_lp(phi, y, q)  # 6,000 rows: below the threshold
    assert full_status[0] == 0 and "near the fit" not in full_status[1]
    monkeypatch.setattr(kinked, "PREPROCESS_ROWS", 1000)
    theta, value, status = kinked.solve_quantile_lp(phi, y, q)
    assert status[0] == 0 and "rows near the fit, the others' residual signs confirmed" in status[1]
    kept = int(status[1].split(" of ")[0].rsplit("on ", 1)[1].replace(",", ""))
    assert kept < len(y)
    np.testing.assert_allclose(theta, full, rtol=1e-9, atol=1e-9)
    # the dual value with the fixed rows' part added is the primal objective (strong duality on every row)
    assert value == pytest.approx(_pinball(y - phi @ theta, q), rel=1e-12)
    sk = sklearn_linear.QuantileRegressor(quantile=q, alpha=0, solver="highs", fit_intercept=False).fit(phi, y)
    assert value == pytest.approx(_pinball(y - phi @ sk.coef_, q), rel=1e-9)


def test_preprocessing_that_does_not_settle_falls_back_to_every_row(tall, monkeypatch):
    phi, y = tall
    monkeypatch.setattr(kinked, "PREPROCESS_ROWS", 1000)
    monkeypatch.setattr(kinked, "ROUNDS", 0)  # no round may confirm the signs
    theta, value, status = kinked.solve_quantile_lp(phi, y, 0.3)
    assert status[0] == 0 and "near the fit" not in status[1]
    assert value == pytest.approx(_pinball(y - phi @ theta, 0.3), rel=1e-12)


def test_solve_reports_the_preprocessing_in_why(tall, monkeypatch):
    phi, y = tall
    monkeypatch.setattr(kinked, "PREPROCESS_ROWS", 1000)
    fit = symopt.solve(symopt.quantile_loss(symopt.LinearModel(), q=0.75), {"X": phi[:, 1:], "y": y})
    assert fit.success and fit.method == "lp" and "rows near the fit" in fit.why


@pytest.mark.parametrize("q", [0.5, 0.9])
def test_a_quantile_regression_with_a_broken_constraint_is_solved_again_as_an_lp(q):
    # the primal programme with the constraint row, stated directly for SciPy's HiGHS, is the reference
    from scipy.optimize import linprog

    rng = np.random.default_rng(0)
    n = 200
    x, z = rng.normal(size=n), rng.normal(size=n)
    y = 1 + 0.3 * x + 0.3 * z + rng.standard_t(3, size=n)
    r = symopt.solve(symopt.quantile_loss(symopt.Model("a + b*x + c*z", "a b c"), q=q), {"x": x, "z": z, "y": y},
                     constraints=["b <= c - 0.2"])
    Phi = np.column_stack([np.ones(n), x, z])
    ref = linprog(np.r_[np.zeros(3), q * np.ones(n) / n, (1 - q) * np.ones(n) / n],
                  A_ub=np.r_[[0.0, 1.0, -1.0], np.zeros(2 * n)][None, :], b_ub=[-0.2],
                  A_eq=np.hstack([Phi, np.eye(n), -np.eye(n)]), b_eq=y,
                  bounds=[(None, None)] * 3 + [(0, None)] * (2 * n), method="highs")
    assert r.success and r.method == "lp" and r.kkt.active == ("b <= c - 0.2",)
    assert abs(r.fun - ref.fun) <= 1e-12 * abs(ref.fun)
    np.testing.assert_allclose(r.x, ref.x[:3], rtol=0, atol=1e-9)
    assert r.multipliers["b <= c - 0.2"] == pytest.approx(-ref.ineqlin.marginals[0], rel=1e-9)
    assert r.stderr is None  # QuantReg's covariance has no restricted form: refused, with the reason

"""Proximal Newton with coordinate descent (symopt.run.proximal_newton): the default for an l1 penalty on a loss
over a data matrix. Checked against scikit-learn (l1 logistic regression by saga) and against symopt's own
proximal gradient, which reaches the same KKT point by another road; with bounds, a non-convex loss and a
mostly-zero (one-hot) design."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import symopt

sklearn = pytest.importorskip("sklearn")
from sklearn.datasets import load_breast_cancer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

TIGHT = symopt.ProximalGradient(tol=1e-12)


def _onehot_poisson(rows=3000, levels=15, seed=0):
    rng = np.random.default_rng(seed)
    X = np.zeros((rows, 3 * levels))
    for c in range(3):
        X[np.arange(rows), c * levels + rng.integers(0, levels, size=rows)] = 1.0
    beta = rng.normal(scale=0.4, size=3 * levels) * (rng.random(3 * levels) < 0.4)
    return X, rng.poisson(np.exp(0.3 + X @ beta)).astype(float)


def _objective(X, y, r, l1, l2):
    eta = r.params["intercept"] + X @ r.params["coef"]
    return np.mean(np.exp(eta) - y * eta) + l1 * np.abs(r.params["coef"]).sum() + l2 * r.params["coef"] @ r.params["coef"]


def test_l1_logistic_regression_by_default_equals_saga():
    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    C = 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = LogisticRegression(C=C, l1_ratio=1, solver="saga", tol=1e-12, max_iter=100_000).fit(X, y)
    result = symopt.solve(symopt.log_loss(symopt.LinearModel(), l1=1 / (len(y) * C)), (X, y.astype(float)))
    assert isinstance(result.optimizer, symopt.CoordinateDescent) and "proximal Newton" in result.why
    assert result.success and result.kkt.ok
    np.testing.assert_allclose(result.params["coef"], ref.coef_[0], rtol=0, atol=1e-6)
    np.testing.assert_array_equal(result.params["coef"] == 0.0, ref.coef_[0] == 0.0)


def test_poisson_elastic_net_on_a_one_hot_design_equals_proximal_gradient():
    X, y = _onehot_poisson()
    objective = symopt.glm(symopt.LinearModel(), "poisson", l1=0.01, l2=0.002)
    newton = symopt.solve(objective, (X, y))
    fista = symopt.solve(objective, (X, y), optimizer=TIGHT)
    assert "proximal Newton" in newton.why and newton.success and newton.kkt.ok
    assert newton.nit < 20  # Newton's few steps, each a pass over the rows
    np.testing.assert_allclose(newton.params["coef"], fista.params["coef"], rtol=0, atol=1e-7)
    np.testing.assert_array_equal(newton.params["coef"] == 0.0, fista.params["coef"] == 0.0)
    assert 0 < np.count_nonzero(newton.params["coef"]) < X.shape[1]
    gap = _objective(X, y, newton, 0.01, 0.002) - _objective(X, y, fista, 0.01, 0.002)
    assert gap <= 1e-12


@pytest.mark.filterwarnings("ignore::symopt.IllConditionedWarning")  # one-hot blocks + intercept: collinear
def test_a_warm_started_path_and_bounds():
    X, y = _onehot_poisson(seed=1)
    objective = symopt.glm(symopt.LinearModel(), "poisson", l1=1.0)
    start = None
    for l1 in (0.05, 0.02, 0.005):
        r = symopt.solve(objective.with_strength(l1=l1), (X, y), x0=start)
        assert r.success and r.kkt.ok
        start = r.x
    bounds = {"coef": (-0.1, 0.1)}
    boxed = symopt.solve(objective.with_strength(l1=0.005), (X, y), bounds=bounds)
    fista = symopt.solve(objective.with_strength(l1=0.005), (X, y), bounds=bounds, optimizer=TIGHT)
    assert "proximal Newton" in boxed.why and boxed.success
    assert np.all(np.abs(boxed.params["coef"]) <= 0.1) and np.any(np.abs(boxed.params["coef"]) == 0.1)
    np.testing.assert_allclose(boxed.params["coef"], fista.params["coef"], rtol=0, atol=1e-7)


def test_a_loss_with_negative_curvature_in_places_still_converges():
    # Gamma with the identity link: d2l/deta2 = 2y/mu^3 - 1/mu^2 < 0 where y < mu/2, so the Newton weights are
    # clipped at 0 there; the line search keeps every step a descent
    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 6))
    mu = 5.0 + X @ np.array([1.0, 0.5, 0.0, 0.0, -0.7, 0.0])
    y = rng.gamma(2.0, mu / 2.0)
    objective = symopt.glm(symopt.LinearModel(), "gamma", link="identity", l1=0.02)
    newton = symopt.solve(objective, (X, y), x0=np.r_[5.0, np.zeros(6)])
    fista = symopt.solve(objective, (X, y), x0=np.r_[5.0, np.zeros(6)], optimizer=TIGHT)
    assert "proximal Newton" in newton.why and newton.success and newton.kkt.ok
    np.testing.assert_allclose(newton.x, fista.x, rtol=0, atol=1e-6)


def test_coordinate_descent_refused_where_neither_route_applies():
    rng = np.random.default_rng(2)
    x = rng.normal(size=40)
    counts = {"x": x, "y": np.floor(np.exp(0.5 + 0.01 * x) + 0.5)}
    with pytest.raises(symopt.ModelError, match="or on a loss of the linear predictor over a data matrix"):
        symopt.solve(symopt.glm(symopt.Model("a + b*x", "a b"), "poisson", l1=0.2), counts,
                     optimizer=symopt.CoordinateDescent())


def test_max_time_and_the_callback_stop_a_run_and_return_its_last_iteration():
    X, y = _onehot_poisson(seed=4)
    objective = symopt.glm(symopt.LinearModel(), "poisson", l1=0.002)
    seen = []

    def stop_at_two(iteration, value, params):
        seen.append((iteration, value, params["coef"].copy()))
        return iteration >= 2

    r = symopt.solve(objective, (X, y), callback=stop_at_two)
    assert r.status == "stopped_by_callback" and not r.success and r.nit == 2
    assert [i for i, _, _ in seen] == [1, 2] and np.array_equal(seen[-1][2], r.params["coef"])
    assert seen[1][1] < seen[0][1]  # each Newton step decreases F
    full = symopt.solve(objective, (X, y))
    assert full.success and full.nit > 2 and full.fun < r.fun
    timed = symopt.solve(objective, (X, y), max_time=1e-9)
    assert timed.status == "max_time" and timed.nit == 1  # checked after each completed iteration


def test_ctrl_c_returns_the_last_completed_iteration():
    X, y = _onehot_poisson(seed=4)

    def interrupt_at_two(iteration, value, params):
        if iteration == 2:
            raise KeyboardInterrupt

    r = symopt.solve(symopt.glm(symopt.LinearModel(), "poisson", l1=0.002), (X, y), callback=interrupt_at_two)
    assert r.status == "interrupted" and not r.success and r.nit == 2 and np.all(np.isfinite(r.x))

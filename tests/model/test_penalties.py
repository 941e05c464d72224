"""Aimed penalties and l1: l2= and l1= as numbers or mappings by name or block, penalize=, and the lasso,
elastic net and l1 logistic regression against scikit-learn (coefficients to 1e-6, the same exact zeros),
with the subgradient optimality check reported; regularisation paths (symopt.path) against lasso_path."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import symopt
from symopt.run.shared import shared_for

sklearn = pytest.importorskip("sklearn")
from sklearn.datasets import load_breast_cancer, load_diabetes  # noqa: E402
from sklearn.linear_model import ElasticNet, Lasso, LogisticRegression, Ridge, lasso_path  # noqa: E402

TIGHT = symopt.ProximalGradient(tol=1e-12)


@pytest.fixture(scope="module")
def diabetes():
    return load_diabetes(return_X_y=True)


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return (X - X.mean(0)) / X.std(0), y.astype(float)


def test_penalize_names_the_penalised_parameters_as_ridge_does():
    # The example: l2 on every parameter shrinks the intercept too; penalize=["b"] is scikit-learn's Ridge.
    rng = np.random.default_rng(0)
    x = rng.normal(size=50)
    y = 2.0 + 1.5 * x + rng.normal(size=50)
    everything = symopt.solve(symopt.Objective("(y - c - b*x)**2", "c b", l2=0.5), {"x": x, "y": y})
    aimed = symopt.solve(symopt.Objective("(y - c - b*x)**2", "c b", l2=0.5, penalize=["b"]), {"x": x, "y": y})
    ridge = Ridge(alpha=0.5 * 50).fit(x[:, None], y)
    assert abs(aimed.params["c"] - ridge.intercept_) < 1e-10
    assert abs(aimed.params["b"] - ridge.coef_[0]) < 1e-10
    assert everything.params["c"] < aimed.params["c"] - 0.1  # the intercept shrunk toward 0 when penalised


def test_l2_by_name_weighs_each_parameter():
    rng = np.random.default_rng(1)
    x, z = rng.normal(size=60), rng.normal(size=60)
    y = 1.0 + 2.0 * x - 1.0 * z + rng.normal(size=60)
    objective = symopt.squared_loss(symopt.Model("a + b*x + c*z", "a b c"), l2={"b": 0.2, "c": 0.05})
    result = symopt.solve(objective, {"x": x, "y": y, "z": z})
    assert result.method == "linear"
    # the same weighted ridge by hand: minimise mean((y - Phi t)**2) + 0.2 b**2 + 0.05 c**2
    Phi = np.column_stack([np.ones(60), x, z])
    A = np.vstack([Phi, np.diag(np.sqrt(60 * np.array([0.0, 0.2, 0.05])))[1:]])
    expected = np.linalg.lstsq(A, np.r_[y, 0.0, 0.0], rcond=None)[0]
    np.testing.assert_allclose(result.x, expected, rtol=1e-10)
    assert "0.2*b**2 + 0.05*c**2" in objective.describe()


def test_penalty_mappings_are_checked():
    model = symopt.Model("a + b*x", "a b")
    with pytest.raises(symopt.ModelError, match="'q', which is not a parameter.*'a', 'b'"):
        symopt.squared_loss(model, l2={"q": 1.0})
    with pytest.raises(symopt.ModelError, match=r"l1\['b'\] must be a finite number >= 0"):
        symopt.squared_loss(model, l1={"b": -1.0})
    with pytest.raises(symopt.ModelError, match="penalize names 'z'"):
        symopt.Objective("(y - a - b*x)**2", "a b", l2=1.0, penalize=["z"])
    with pytest.raises(symopt.ModelError, match="'b', which is not a block of this objective; the blocks are "
                                                "'intercept', 'coef'"):
        symopt.squared_loss(symopt.LinearModel(), l2={"b": 1.0})
    with pytest.raises(symopt.ModelError, match="l1= on multinomial"):
        symopt.cross_entropy(symopt.LinearModel(), l1=0.1)
    net = symopt.Network(3, [symopt.Dense(4, "tanh"), symopt.Dense(1)])
    with pytest.raises(symopt.ModelError, match="a Network takes l2= as one number"):
        symopt.squared_loss(net, l1=0.1)


def test_lasso_equals_scikit_learn_with_its_zeros(diabetes):
    X, y = diabetes
    alpha = 0.1
    ref = Lasso(alpha=alpha, tol=1e-12, max_iter=1_000_000).fit(X, y)
    result = symopt.solve(symopt.squared_loss(symopt.LinearModel(), l1=2 * alpha), (X, y), optimizer=TIGHT)
    assert result.success and "ProximalGradient" in result.why and "l1 penalty" in result.why
    np.testing.assert_allclose(result.params["coef"], ref.coef_, rtol=0, atol=1e-6 * np.max(np.abs(ref.coef_)))
    assert abs(result.params["intercept"] - ref.intercept_) < 1e-6
    np.testing.assert_array_equal(result.params["coef"] == 0.0, ref.coef_ == 0.0)
    assert np.count_nonzero(ref.coef_ == 0.0) >= 2  # the comparison has zeros to compare
    assert result.kkt.ok and "exactly 0; the subgradient condition holds" in result.kkt.message
    assert result.stderr is None and "l1 penalty" in result.stderr_reason
    sk_objective = np.mean((y - ref.predict(X)) ** 2) + 2 * alpha * np.abs(ref.coef_).sum()
    assert abs(result.fun - sk_objective) <= 1e-12 * sk_objective


def test_coordinate_descent_is_the_default_for_least_squares_and_equals_scikit_learn(diabetes):
    X, y = diabetes
    alpha = 0.1
    ref = Lasso(alpha=alpha, tol=1e-12, max_iter=1_000_000).fit(X, y)
    result = symopt.solve(symopt.squared_loss(symopt.LinearModel(), l1=2 * alpha), (X, y))
    assert result.success and isinstance(result.optimizer, symopt.CoordinateDescent)
    np.testing.assert_allclose(result.params["coef"], ref.coef_, rtol=0, atol=1e-6 * np.max(np.abs(ref.coef_)))
    np.testing.assert_array_equal(result.params["coef"] == 0.0, ref.coef_ == 0.0)
    assert result.kkt.ok


def test_coordinate_descent_sweep_matches_its_reference():
    from symopt.numerics.coordinate_descent import _sweep, sweep_reference

    rng = np.random.default_rng(4)
    A = rng.normal(size=(30, 6))
    Q, b = A.T @ A / 15, A.T @ rng.normal(size=30) / 15
    lam = np.array([0.0, 0.1, 0.3, 0.05, 0.2, 0.1])
    lower, upper = np.full(6, -np.inf), np.r_[np.full(5, np.inf), 0.05]
    x = rng.normal(size=6)
    for _ in range(5):
        expected = sweep_reference(Q, b, lam, lower, upper, x, range(6))
        g = Q @ x - b
        _sweep(Q, b, lam, lower, upper, x, g, np.arange(6), 6)
        np.testing.assert_allclose(x, expected, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(g, Q @ x - b, rtol=1e-12, atol=1e-14)  # the gradient kept up to date
    assert x[5] <= 0.05


def test_elastic_net_equals_scikit_learn(diabetes):
    X, y = diabetes
    alpha, ratio = 0.05, 0.7
    ref = ElasticNet(alpha=alpha, l1_ratio=ratio, tol=1e-12, max_iter=1_000_000).fit(X, y)
    objective = symopt.squared_loss(symopt.LinearModel(), l1=2 * alpha * ratio, l2=alpha * (1 - ratio))
    result = symopt.solve(objective, (X, y), optimizer=TIGHT)
    assert result.success
    np.testing.assert_allclose(result.params["coef"], ref.coef_, rtol=0, atol=1e-6 * np.max(np.abs(ref.coef_)))
    assert abs(result.params["intercept"] - ref.intercept_) < 1e-6


def test_l1_logistic_regression_equals_saga(cancer):
    X, y = cancer
    C = 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # saga's slow convergence warning at tol=1e-12
        ref = LogisticRegression(C=C, l1_ratio=1, solver="saga", tol=1e-12, max_iter=100_000).fit(X, y)
    objective = symopt.log_loss(symopt.LinearModel(), l1=1 / (len(y) * C))
    result = symopt.solve(objective, (X, y), optimizer=TIGHT)
    assert result.success and result.status == "converged"  # not "separated": the l1 penalty bounds the fit
    np.testing.assert_allclose(result.params["coef"], ref.coef_[0], rtol=0, atol=1e-6)
    assert abs(result.params["intercept"] - ref.intercept_[0]) < 1e-6
    np.testing.assert_array_equal(result.params["coef"] == 0.0, ref.coef_[0] == 0.0)


def test_l1_is_chosen_and_smooth_optimizers_refused():
    rng = np.random.default_rng(2)
    x = rng.normal(size=40)
    data = {"x": x, "y": 1.0 + 0.01 * x + rng.normal(size=40)}
    objective = symopt.squared_loss(symopt.Model("a + b*x", "a b"), l1=0.5)
    result = symopt.solve(objective, data)
    assert result.method == "iterative" and "coordinate descent on the Gram matrix" in result.why
    assert isinstance(result.optimizer, symopt.CoordinateDescent)
    assert result.params["b"] == 0.0 and result.kkt.at_bound == {"b": "zero"}
    assert result.loglik is None  # a penalised fit is no maximum-likelihood fit
    counts = {"x": x, "y": np.floor(np.exp(0.5 + 0.01 * x) + 0.5)}
    poisson = symopt.solve(symopt.glm(symopt.Model("a + b*x", "a b"), "poisson", l1=0.2), counts)
    assert "chose ProximalGradient" in poisson.why and poisson.params["b"] == 0.0 and poisson.success
    with pytest.raises(symopt.ModelError, match="CoordinateDescent is for an l1 penalty on a least-squares"):
        symopt.solve(symopt.glm(symopt.Model("a + b*x", "a b"), "poisson", l1=0.2), counts,
                     optimizer=symopt.CoordinateDescent())
    with pytest.raises(symopt.ModelError, match="the l1 penalty has a kink at 0"):
        symopt.solve(objective, data, optimizer=symopt.LBFGS())
    with pytest.raises(symopt.ModelError, match="ProximalGradient is for an objective with an l1 penalty"):
        symopt.solve(symopt.squared_loss(symopt.Model("a + b*x", "a b")), data, optimizer=symopt.ProximalGradient(),
                     method="iterative")
    with pytest.raises(symopt.ModelError, match="no linear closed form"):
        symopt.solve(objective, data, method="linear")


def test_path_follows_lasso_path_on_one_compiled_problem(diabetes):
    X, y = diabetes
    objective = symopt.squared_loss(symopt.LinearModel(), l1=1.0)
    lasso = symopt.path(objective, (X, y), l1=12, optimizer=symopt.ProximalGradient(tol=1e-11))
    assert lasso.success and len(lasso) == 12
    alphas, coefs, _ = lasso_path(X - X.mean(0), y - y.mean(), alphas=12, tol=1e-12, max_iter=1_000_000)
    np.testing.assert_allclose(lasso.values, 2 * alphas, rtol=1e-12)  # the same automatic grid
    np.testing.assert_allclose(lasso.x[:, 1:], coefs.T, rtol=0, atol=1e-6 * np.max(np.abs(coefs)))
    assert lasso.n_nonzero[0] == 0 and lasso.n_nonzero[-1] == np.count_nonzero(coefs[:, -1])
    assert np.all(np.diff(lasso.objective) < 0)
    # one problem for the whole path: every point shares one structure, so one derivation and one module
    assert len({id(shared_for(objective.with_strength(l1=v))) for v in lasso.values}) == 1
    assert len({r.source_path for r in lasso.results}) == 1
    assert "RegularizationPath over l1 (12 values, all converged)" in repr(lasso)


def test_path_checks_its_grid():
    objective = symopt.squared_loss(symopt.LinearModel(), l1=1.0)
    data = (np.eye(3), np.ones(3))
    with pytest.raises(symopt.ModelError, match="takes the grid of one penalty"):
        symopt.path(objective, data)
    with pytest.raises(symopt.ModelError, match=r"l1\[1\] = -1.0: every strength must be"):
        symopt.path(objective, data, l1=[1.0, -1.0])
    with pytest.raises(symopt.ModelError, match="an automatic grid is for l1"):
        symopt.path(objective, data, l2=5)


def test_verify_compares_an_l1_fit_with_elastic_net_and_reports_the_subgradient():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 4))
    y = X @ [1.0, 0.0, 0.0, 2.0] + rng.normal(size=100)
    check = symopt.verify(symopt.squared_loss(symopt.LinearModel(), l1=0.3, l2=0.1), (X, y))
    assert check.ok and "scikit-learn ElasticNet" in str(check)
    assert max(s.max_gradient for s in check.solutions) < 1e-6  # the minimum-norm subgradient, 0 at the optimum
    labels = (y > 0).astype(float)
    logistic = symopt.verify(symopt.log_loss(symopt.LinearModel(), l1=0.05), (X, labels))
    assert logistic.ok and "no reference library fits this l1-penalised objective" in str(logistic)

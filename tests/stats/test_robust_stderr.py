"""Standard errors of quantile and Huber fits (symopt/stats/robust.py): statsmodels QuantReg's default covariance
(robust sandwich, Epanechnikov kernel, Hall-Sheather bandwidth) on engel at q = 0.1, 0.5, 0.9, and the Huber
M-estimator sandwich against the same sandwich written out in NumPy (fixed scale) and by central differences of
scikit-learn's HuberRegressor objective (joint scale)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import symopt
from symopt.stats import robust as robust_stats

sm = pytest.importorskip("statsmodels.api")


@pytest.fixture(scope="module")
def engel():
    data = sm.datasets.engel.load_pandas().data
    return data.income.to_numpy(), data.foodexp.to_numpy()


def _quantreg_at(X, y, theta, q):
    """statsmodels QuantReg's bse and p-values at ``theta`` rather than at its own IRLS solution: its fit with
    ``max_iter=0`` reports the covariance at its starting point, ``beta = 1``, so the columns are scaled by
    ``theta`` (the covariance is equivariant: se(theta_j) = |theta_j| se(beta_j)); the rows the LP interpolates
    get ``y`` equal to the fit as statsmodels computes it, so their residuals are exactly 0 on both sides (not
    rounding noise of either sign, which would pick their weight q^2 or (1 - q)^2 at random)."""
    Xs = X * theta
    fitted = Xs @ np.ones(X.shape[1])
    ys = y.copy()
    zero = np.abs(y - fitted) <= 1e-12 * np.max(np.abs(y))
    assert zero.sum() >= X.shape[1]  # an LP vertex
    ys[zero] = fitted[zero]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the iteration limit of 0
        at = sm.QuantReg(ys, Xs).fit(q=q, max_iter=0)
    return at.bse * np.abs(theta), at.pvalues


@pytest.mark.parametrize("q", [0.1, 0.5, 0.9])
def test_quantile_stderr_is_quantreg_bse_at_the_same_params(engel, q):
    x, y = engel
    fit = symopt.solve(symopt.quantile_loss(symopt.LinearModel(basis=["income"]), target="foodexp", q=q),
                       {"income": x, "foodexp": y})
    theta = np.array([fit.params["intercept"], fit.params["coef_income"]])
    bse, pvalues = _quantreg_at(sm.add_constant(x), y, theta, q)
    np.testing.assert_allclose([fit.stderr["intercept"], fit.stderr["coef_income"]], bse, rtol=1e-6)
    inference = fit.inference()
    assert inference.kind == "quantile regression" and inference.uses_t and inference.dof == len(y) - 2
    np.testing.assert_allclose(inference.p_values(), pvalues, rtol=1e-6, atol=1e-300)


@pytest.mark.parametrize("q", [0.1, 0.5, 0.9])
def test_quantile_covariance_at_quantregs_own_solution_is_its_bse(engel, q):
    """At statsmodels' own IRLS solution (no residual exactly 0 there), the covariance formula gives its bse."""
    x, y = engel
    objective = symopt.quantile_loss(symopt.LinearModel(basis=["income"]), target="foodexp", q=q)
    fit = symopt.solve(objective, {"income": x, "foodexp": y})
    ref = sm.QuantReg(y, sm.add_constant(x)).fit(q=q)
    cov = robust_stats.quantile_covariance(objective, fit.dataset, np.asarray(ref.params), fit.x_names)
    np.testing.assert_allclose(np.sqrt(np.diag(cov.matrix)), ref.bse, rtol=1e-9)


def test_quantile_stderr_over_a_data_matrix_and_the_covariances_it_refuses(engel):
    x, y = engel
    wide = symopt.solve(symopt.quantile_loss(symopt.LinearModel(), q=0.9, reduction="sum"), {"X": x[:, None], "y": y})
    named = symopt.solve(symopt.quantile_loss(symopt.LinearModel(basis=["income"]), target="foodexp", q=0.9),
                         {"income": x, "foodexp": y})
    np.testing.assert_allclose([wide.stderr["intercept"], wide.stderr["coef"][0]],
                               [named.stderr["intercept"], named.stderr["coef_income"]], rtol=1e-9)
    refused = wide.inference("HC1")
    assert refused.cov is None and "one covariance, statsmodels QuantReg's default" in refused.reason


def test_quantile_and_huber_summaries_say_what_is_true(engel):
    """No advice to declare a likelihood; the covariance named; the LP's optimum global (proved)."""
    x, y = engel
    fit = symopt.solve(symopt.quantile_loss(symopt.LinearModel(basis=["income"]), target="foodexp", q=0.5),
                       {"income": x, "foodexp": y})
    text = str(fit.summary())
    assert "likelihood=True" not in text and "QuantReg's default" in text and "Hall-Sheather" in text
    assert fit.convexity.kind == "convex" and fit.convexity.certainty == "proved"
    assert "linear programme" in fit.convexity.reason and "is global" in str(fit)
    huber = symopt.solve(symopt.huber_loss(symopt.LinearModel(basis=["income"]), target="foodexp", delta=50.0,
                                           scale="fixed"), {"income": x, "foodexp": y})
    text = str(huber.summary())
    assert "likelihood=True" not in text and "M-estimator sandwich" in text
    assert huber.convexity.kind == "convex" and huber.convexity.certainty == "proved"
    nonlinear = symopt.solve(symopt.quantile_loss(symopt.Model("a*income**b", params="a b"), target="foodexp"),
                             {"income": x / 1000, "foodexp": y / 1000}, x0={"a": 0.5, "b": 1.0})
    assert nonlinear.stderr is None and "likelihood=True" not in str(nonlinear.summary())


def _huber_data():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(80, 2))
    y = 0.5 + X @ np.array([2.0, -1.0]) + rng.standard_t(2, size=80)
    return X, y


def test_fixed_huber_sandwich_is_the_m_estimator_formula():
    """psi(r) = H'(r) = 2r inside delta, 2 delta sign(r) beyond; A = sum H''(r_i) x_i x_i' (2 inside, 0 beyond),
    B = sum psi(r_i)^2 x_i x_i'; cov = A^-1 B A^-1, written out in NumPy (a linear solve, not an inverse)."""
    X, y = _huber_data()
    delta = 1.0
    for reduction in ("mean", "sum"):
        fit = symopt.solve(symopt.huber_loss(symopt.LinearModel(basis=["x1", "x2"]), delta=delta, scale="fixed",
                                             reduction=reduction), {"x1": X[:, 0], "x2": X[:, 1], "y": y},
                           optimizer=symopt.LBFGS(tol=1e-12))
        theta = np.array([fit.params["intercept"], fit.params["coef_x1"], fit.params["coef_x2"]])
        Phi = np.column_stack([np.ones(len(y)), X])
        r = y - Phi @ theta
        inside = np.abs(r) <= delta
        psi = np.where(inside, 2 * r, 2 * delta * np.sign(r))
        A = (Phi.T * np.where(inside, 2.0, 0.0)) @ Phi
        B = (Phi.T * psi ** 2) @ Phi
        cov = np.linalg.solve(A, np.linalg.solve(A, B).T)
        assert fit.inference().kind == "M-estimator"
        np.testing.assert_allclose([fit.stderr[k] for k in ("intercept", "coef_x1", "coef_x2")],
                                   np.sqrt(np.diag(cov)), rtol=1e-8)


def test_joint_huber_sandwich_matches_central_differences_of_scikit_learns_objective():
    """scikit-learn's HuberRegressor objective per row, sigma + sigma*H(|r|/sigma) with sigma = exp(s), written
    in NumPy: its per-row gradients and the Hessian of its sum by central differences give the sandwich, to the
    precision of the differences (1e-5)."""
    X, y = _huber_data()
    fit = symopt.solve(symopt.huber_loss(symopt.LinearModel(basis=["x1", "x2"]), reduction="sum"),
                       {"x1": X[:, 0], "x2": X[:, 1], "y": y}, optimizer=symopt.LBFGS(tol=1e-12))
    names = ("intercept", "coef_x1", "coef_x2", "log_sigma")
    t0 = np.array([fit.params[k] for k in names])

    def rows(t):
        sigma = np.exp(t[3])
        z = np.abs(y - t[0] - X @ t[1:3]) / sigma
        return sigma + sigma * np.where(z <= 1.35, z ** 2, 2 * 1.35 * z - 1.35 ** 2)

    h = 1e-5
    E = np.eye(4) * h
    scores = np.column_stack([(rows(t0 + e) - rows(t0 - e)) / (2 * h) for e in E])
    grad = lambda t: np.array([(rows(t + e).sum() - rows(t - e).sum()) / (2 * h) for e in E])  # noqa: E731
    A = np.column_stack([(grad(t0 + e) - grad(t0 - e)) / (2 * h) for e in E])
    A = (A + A.T) / 2
    cov = np.linalg.solve(A, np.linalg.solve(A, scores.T @ scores).T)
    np.testing.assert_allclose([fit.stderr[k] for k in names], np.sqrt(np.diag(cov)), rtol=1e-5)


def test_fixed_huber_is_statsmodels_rlm_at_its_scale():
    """statsmodels RLM with HuberT(t) and its scale held (update_scale=False) minimises sum rho(r/s), which is
    symopt's fixed Huber with delta = t*s (H(r) = 2 s^2 rho(r/s)): the same estimates. Their covariances differ
    by design (RLM's H1-H3 are Huber's approximations that take the errors independent of the design; symopt
    gives the sandwich, which does not), so only the estimates are compared."""
    X, y = _huber_data()
    norm = sm.robust.norms.HuberT(t=1.345)
    rlm = sm.RLM(y, sm.add_constant(X), M=norm).fit(update_scale=False, conv="coefs", tol=1e-13, maxiter=1000)
    fit = symopt.solve(symopt.huber_loss(symopt.LinearModel(basis=["x1", "x2"]), delta=1.345 * rlm.scale,
                                         scale="fixed"), {"x1": X[:, 0], "x2": X[:, 1], "y": y},
                       optimizer=symopt.LBFGS(tol=1e-13))
    np.testing.assert_allclose(fit.x, rlm.params, rtol=1e-8)


def test_robust_fits_have_wald_intervals_and_no_profile(engel):
    x, y = engel
    fit = symopt.solve(symopt.quantile_loss(symopt.LinearModel(basis=["income"]), target="foodexp", q=0.5),
                       {"income": x, "foodexp": y})
    low, high = fit.conf_int()["coef_income"]
    assert low < fit.params["coef_income"] < high
    with pytest.raises(symopt.ModelError, match="quantile regression fit has no likelihood"):
        fit.conf_int(method="profile")


def test_no_quantile_stderr_where_the_bandwidth_passes_0(engel):
    """At q = 0.01 on 235 rows the Hall-Sheather bandwidth (0.011 on the probability scale) reaches below 0,
    where statsmodels' formula takes the normal quantile of a negative probability (NaN): symopt says why."""
    x, y = engel
    fit = symopt.solve(symopt.quantile_loss(symopt.LinearModel(basis=["income"]), target="foodexp", q=0.01),
                       {"income": x, "foodexp": y})
    assert fit.success and fit.stderr is None
    assert "Hall-Sheather bandwidth at q = 0.01 with 235 rows" in fit.stderr_reason
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.all(np.isnan(sm.QuantReg(y, sm.add_constant(x)).fit(q=0.01).bse))

"""huber_loss and quantile_loss (symopt/model/robust.py, issue 29 item 3) against their peers: scikit-learn's
HuberRegressor (joint scale), SciPy's least_squares with loss="huber" on its own robust-regression example (where
Newton, chosen automatically before, ran off), statsmodels' QuantReg and scikit-learn's QuantileRegressor on the
engel data (the exact LP, :mod:`symopt.run.kinked`), and a quantile loss on a model that is not linear in its
parameters (the iterative route, whose verdict names the kink, never a plateau)."""

from __future__ import annotations

import numpy as np
import pytest

import symopt
from symopt.errors import ModelError
from symopt.run.choose import choose

sklearn_linear = pytest.importorskip("sklearn.linear_model")
sm = pytest.importorskip("statsmodels.api")


# --- Huber ------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def huber_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    y = 1.5 + X @ np.array([3.0, -2.0]) + rng.normal(scale=0.5, size=60)
    y[:6] += 25.0  # outliers
    return X, y


def _huber_total(X, y, intercept, coef, sigma, delta=1.35):
    """scikit-learn's HuberRegressor objective (alpha = 0), written out."""
    z = np.abs(y - intercept - X @ coef) / sigma
    return float(np.sum(sigma + sigma * np.where(z <= delta, z ** 2, 2 * delta * z - delta ** 2)))


def _huber_regressor(X, y, alpha):
    """``HuberRegressor(alpha, tol=1e-12)``, refitted from its own solution (``warm_start``) until its objective
    stops falling: one fit stops early (its L-BFGS-B stops on the relative change of F, 2.2e-9, whatever tol says;
    measured on these data: 12 iterations, a gradient of 1e-3, the intercept 6e-6 from the optimum, which five
    warm refits bring to 1e-8). Returns the first fit's objective too."""
    ref = sklearn_linear.HuberRegressor(alpha=alpha, tol=1e-12, max_iter=10_000, warm_start=True).fit(X, y)
    first = _huber_total(X, y, ref.intercept_, ref.coef_, ref.scale_) + alpha * float(ref.coef_ @ ref.coef_)
    last = first
    for _ in range(30):
        ref.fit(X, y)
        now = _huber_total(X, y, ref.intercept_, ref.coef_, ref.scale_) + alpha * float(ref.coef_ @ ref.coef_)
        if now >= last * (1 - 1e-15):
            break
        last = now
    return ref, first


def test_joint_huber_is_huber_regressor(huber_data):
    X, y = huber_data
    ref, first = _huber_regressor(X, y, 0.0)
    objective = symopt.huber_loss(symopt.LinearModel(basis=["x1", "x2"]), reduction="sum")
    fit = symopt.solve(objective, {"x1": X[:, 0], "x2": X[:, 1], "y": y}, optimizer=symopt.LBFGS(tol=1e-12))
    assert fit.success, fit.message
    got = [fit.params["intercept"], fit.params["coef_x1"], fit.params["coef_x2"], objective.robust.sigma(fit.params)]
    np.testing.assert_allclose(got, [ref.intercept_, *ref.coef_, ref.scale_], rtol=1e-6, atol=1e-6)
    # the same objective, and symopt's optimum no worse than scikit-learn's
    assert fit.fun == pytest.approx(_huber_total(X, y, got[0], np.array(got[1:3]), got[3]), rel=1e-13)
    assert fit.fun <= first and fit.fun <= _huber_total(X, y, ref.intercept_, ref.coef_, ref.scale_) * (1 + 1e-14)
    assert fit.params["log_sigma"] == pytest.approx(np.log(got[3]))


def test_joint_huber_with_a_ridge_leaves_the_scale_and_intercept_alone(huber_data):
    """HuberRegressor(alpha) penalises the coefficients only: l2=alpha with the sum, never log_sigma."""
    X, y = huber_data
    ref, _ = _huber_regressor(X, y, 3.0)
    objective = symopt.huber_loss(symopt.LinearModel(basis=["x1", "x2"]), reduction="sum", l2=3.0)
    assert dict(zip(objective.param_names, objective.penalised)) == {
        "intercept": False, "coef_x1": True, "coef_x2": True, "log_sigma": False}
    fit = symopt.solve(objective, {"x1": X[:, 0], "x2": X[:, 1], "y": y}, optimizer=symopt.LBFGS(tol=1e-12))
    got = [fit.params["intercept"], fit.params["coef_x1"], fit.params["coef_x2"], objective.robust.sigma(fit.params)]
    np.testing.assert_allclose(got, [ref.intercept_, *ref.coef_, ref.scale_], rtol=1e-6, atol=1e-6)


def _scipy_example(seed=0):
    """SciPy's least_squares docstring example: y = a + b*exp(c*t) with noise and three outliers, x0 = (1, 1, 0)."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 10, 15)
    error = 0.1 * rng.standard_normal(t.size)
    error[rng.integers(0, t.size, 3)] *= 10
    return t, 0.5 + 2.0 * np.exp(-t) + error


def test_scipy_huber_example_newton_ran_off_and_the_auto_route_does_not():
    """With f_scale = 0.1. Newton (what method="auto" chose before kinks were recognised) runs off along
    a + b*exp(c*t) with c -> 0, a = -b in the thousands; the route chosen now (L-BFGS) finds SciPy's optimum."""
    from scipy.optimize import least_squares

    t, y = _scipy_example()
    ref = least_squares(lambda x: x[0] + x[1] * np.exp(x[2] * t) - y, [1.0, 1.0, 0.0], loss="huber", f_scale=0.1,
                        xtol=1e-15, ftol=1e-15, gtol=1e-15)
    model = symopt.Model("a + b*exp(c*t)", params="a b c")
    objective = symopt.huber_loss(model, delta=0.1, scale="fixed", reduction="sum")
    data, x0 = {"t": t, "y": y}, {"a": 1.0, "b": 1.0, "c": 0.0}
    with pytest.warns(symopt.ConvergenceWarning):
        newton = symopt.solve(objective, data, x0=x0, optimizer=symopt.Newton())
    assert not newton.success and abs(newton.params["a"]) > 100 and newton.fun > 1.5 * 2 * ref.cost
    fit = symopt.solve(objective, data, x0=x0)
    assert fit.success, fit.message
    assert "LBFGS" in fit.why and "kinks" in fit.why
    np.testing.assert_allclose([fit.params[k] for k in "abc"], ref.x, rtol=1e-6, atol=1e-6)
    assert fit.fun == pytest.approx(2 * ref.cost, rel=1e-9)  # symopt's H is twice scipy.special.huber


def test_fixed_huber_over_a_data_matrix_matches_the_named_model(huber_data):
    X, y = huber_data
    wide = symopt.solve(symopt.huber_loss(symopt.LinearModel(), delta=2.0, scale="fixed"), {"X": X, "y": y})
    named = symopt.solve(symopt.huber_loss(symopt.LinearModel(basis=["x1", "x2"]), delta=2.0, scale="fixed"),
                         {"x1": X[:, 0], "x2": X[:, 1], "y": y})
    assert wide.success and named.success
    np.testing.assert_allclose([wide.params["intercept"], *wide.params["coef"]],
                               [named.params["intercept"], named.params["coef_x1"], named.params["coef_x2"]],
                               rtol=1e-6, atol=1e-6)


def test_huber_and_quantile_refuse_what_they_cannot_do():
    with pytest.raises(ModelError, match="scale='joint' over a LinearModel"):
        symopt.huber_loss(symopt.LinearModel())
    with pytest.raises(ModelError, match="scale must be 'joint'"):
        symopt.huber_loss(symopt.LinearModel(basis=["x"]), scale="mad")
    with pytest.raises(ModelError, match="delta must be above 0"):
        symopt.huber_loss(symopt.LinearModel(basis=["x"]), delta=0)
    with pytest.raises(ModelError, match="q must be between 0 and 1"):
        symopt.quantile_loss(symopt.LinearModel(basis=["x"]), q=1.0)
    with pytest.raises(ModelError, match="taken by the joint scale"):
        symopt.huber_loss(symopt.Model("a*log_sigma", params="a"))


# --- quantile ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def engel():
    data = sm.datasets.engel.load_pandas().data
    return data.income.to_numpy(), data.foodexp.to_numpy()


def _pinball(u, q):
    return float(np.mean(np.maximum(q * u, (q - 1) * u)))


@pytest.mark.parametrize("q", [0.1, 0.5, 0.9])
def test_quantile_regression_is_the_lp_optimum(engel, q):
    """The mean pinball loss at symopt's LP solution equals scikit-learn's QuantileRegressor(alpha=0, "highs") to
    1e-6 (and its coefficients), and is no worse than statsmodels' QuantReg (IRLS, approximate)."""
    x, y = engel
    fit = symopt.solve(symopt.quantile_loss(symopt.LinearModel(basis=["income"]), target="foodexp", q=q),
                       {"income": x, "foodexp": y})
    assert fit.success and fit.method == "lp" and fit.status == "solved"
    assert "HiGHS" in fit.why and "status 0" in fit.why and "dual form" in fit.why and "kinks" in fit.message
    sk = sklearn_linear.QuantileRegressor(quantile=q, alpha=0, solver="highs").fit(x[:, None], y)
    qr = sm.QuantReg(y, sm.add_constant(x)).fit(q=q)
    ours = _pinball(y - fit.params["intercept"] - fit.params["coef_income"] * x, q)
    assert fit.fun == pytest.approx(ours, rel=1e-13)
    assert ours == pytest.approx(_pinball(y - sk.intercept_ - sk.coef_[0] * x, q), rel=1e-6)
    assert ours == pytest.approx(_pinball(y - qr.params[0] - qr.params[1] * x, q), rel=1e-6)
    assert ours <= _pinball(y - qr.params[0] - qr.params[1] * x, q) * (1 + 1e-12)
    np.testing.assert_allclose([fit.params["intercept"], fit.params["coef_income"]], [sk.intercept_, sk.coef_[0]],
                               rtol=1e-6)


def test_quantile_regression_over_a_data_matrix(engel):
    x, y = engel
    fit = symopt.solve(symopt.quantile_loss(symopt.LinearModel(), q=0.25, reduction="sum"), {"X": x[:, None], "y": y})
    sk = sklearn_linear.QuantileRegressor(quantile=0.25, alpha=0, solver="highs").fit(x[:, None], y)
    assert fit.success and fit.method == "lp"
    assert fit.fun == pytest.approx(len(y) * _pinball(y - sk.intercept_ - sk.coef_[0] * x, 0.25), rel=1e-6)


def test_quantile_on_a_nonlinear_model_names_the_kink_not_a_plateau(engel):
    """a*x**b is not linear in b: no LP; L-BFGS (Newton is not chosen), and the verdict says the optimum sits on a
    kink of the quantile loss, not that the objective is flat. Its objective is within 1e-5 of a Nelder-Mead
    polish of the same point."""
    from scipy.optimize import minimize

    x, y = engel[0] / 1000, engel[1] / 1000
    objective = symopt.quantile_loss(symopt.Model("a*x**b", params="a b"), q=0.9)
    optimizer, why = choose(objective, None, 2)
    assert isinstance(optimizer, symopt.LBFGS) and "kinks (max" in why
    fit = symopt.solve(objective, {"x": x, "y": y}, x0={"a": 0.5, "b": 1.0})
    assert fit.method == "iterative" and fit.status == "not_differentiable" and not fit.success
    assert "kinks" in fit.message and "quantile loss has its optimum on kinks" in fit.message
    assert "plateau" not in fit.message and "flat along every direction" not in fit.message
    polish = minimize(lambda t: _pinball(y - t[0] * x ** t[1], 0.9), [fit.params["a"], fit.params["b"]],
                      method="Nelder-Mead", options={"xatol": 1e-12, "fatol": 1e-16, "maxiter": 20_000})
    assert fit.fun == pytest.approx(polish.fun, rel=1e-5)

"""Standard errors, covariance, intervals and fit statistics (issue 12): against statsmodels on real datasets it
ships, against the formulas they come from, and the reasons given where none apply."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import symopt
from symopt.numerics import distributions
from symopt.errors import ModelError
from weighted_data import weighted_rows

sm = pytest.importorskip("statsmodels.api")


def _relative(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.abs(b)))


@pytest.fixture(scope="module")
def stackloss():
    d = sm.datasets.stackloss.load_pandas().data
    X = d[["AIRFLOW", "WATERTEMP", "ACIDCONC"]].to_numpy()
    y = d["STACKLOSS"].to_numpy()
    return X, y, sm.OLS(y, sm.add_constant(X))


def _flat(stderr) -> np.ndarray:
    return np.r_[stderr["intercept"], stderr["coef"]]


def test_ols_over_a_data_matrix_matches_statsmodels(stackloss):
    X, y, ols = stackloss
    ref = ols.fit()
    r = symopt.solve(symopt.squared_loss(symopt.LinearModel()), (X, y))
    assert r.x_names == ("intercept", "coef[0]", "coef[1]", "coef[2]")
    assert _relative(_flat(r.stderr), ref.bse) < 1e-10
    assert _relative(r.cov, ref.cov_params()) < 1e-10
    assert r.stderr["coef"].shape == (3,) and isinstance(r.stderr["intercept"], float)
    assert r.dof == ref.df_resid and r.rss == pytest.approx(ref.ssr, rel=1e-12)
    assert r.residual_sd == pytest.approx(np.sqrt(ref.scale), rel=1e-12)
    assert r.r2 == pytest.approx(ref.rsquared, rel=1e-12)
    assert r.loglik == pytest.approx(ref.llf, rel=1e-12)
    assert r.aic == pytest.approx(ref.aic, rel=1e-12) and r.bic == pytest.approx(ref.bic, rel=1e-12)
    ci = r.conf_int(0.9)
    np.testing.assert_allclose(np.r_[ci["intercept"][0], ci["coef"][0]], ref.conf_int(0.1)[:, 0], rtol=1e-10)
    np.testing.assert_allclose(np.r_[ci["intercept"][1], ci["coef"][1]], ref.conf_int(0.1)[:, 1], rtol=1e-10)
    np.testing.assert_allclose(r.corr, ref.cov_params() / np.outer(ref.bse, ref.bse), atol=1e-12)


@pytest.mark.parametrize("cov_type", ["HC0", "HC1", "HC2", "HC3"])
def test_robust_covariances_match_statsmodels(stackloss, cov_type):
    X, y, ols = stackloss
    ref = ols.fit(cov_type=cov_type)
    r = symopt.solve(symopt.squared_loss(symopt.LinearModel()), (X, y), cov_type=cov_type)
    assert _relative(r.cov, ref.cov_params()) < 1e-10
    assert r.inference("nonrobust").cov_type == "nonrobust" and r.inference().cov_type == cov_type
    # statsmodels uses the normal distribution for robust intervals, and so does symopt
    lo = r.conf_int()
    np.testing.assert_allclose(np.r_[lo["intercept"][0], lo["coef"][0]], ref.conf_int()[:, 0], rtol=1e-10)


def test_an_expression_model_gets_the_same_standard_errors(stackloss):
    X, y, ols = stackloss
    model = symopt.Model("b0 + b1*air + b2*water + b3*acid", "b0 b1 b2 b3")
    data = {"air": X[:, 0], "water": X[:, 1], "acid": X[:, 2], "y": y}
    for method in ("linear", "iterative"):
        r = symopt.solve(symopt.squared_loss(model), data, method=method, progress=False)
        assert _relative([r.stderr[f"b{j}"] for j in range(4)], ols.fit().bse) < 1e-7, method


def test_logit_matches_statsmodels_and_its_sandwich():
    d = sm.datasets.spector.load_pandas().data
    X, y = d[["GPA", "TUCE", "PSI"]].to_numpy(), d["GRADE"].to_numpy()
    ref = sm.Logit(y, sm.add_constant(X)).fit(disp=0, method="newton", tol=1e-12)
    r = symopt.solve(symopt.log_loss(symopt.LinearModel()), (X, y), progress=False)
    assert _relative(r.x, ref.params) < 1e-8
    assert _relative(_flat(r.stderr), ref.bse) < 1e-6
    assert r.loglik == pytest.approx(ref.llf, rel=1e-10) and r.aic == pytest.approx(ref.aic, rel=1e-10)
    assert r.inference().statistic == "z"
    robust = sm.Logit(y, sm.add_constant(X)).fit(disp=0, method="newton", tol=1e-12, cov_type="HC0")
    assert _relative(r.inference("HC0").cov, robust.cov_params()) < 1e-6
    assert "HC2 is for least squares" in r.inference("HC2").reason


def test_poisson_likelihood_matches_statsmodels_glm():
    d = sm.datasets.randhie.load_pandas().data.iloc[:2000]
    cols = ["lncoins", "idp", "physlm", "disea"]
    y = d["mdvis"].to_numpy().astype(float)
    ref = sm.GLM(y, sm.add_constant(d[cols].to_numpy()), family=sm.families.Poisson()).fit(tol=1e-13)
    eta = "b0 + " + " + ".join(f"b{j + 1}*{c}" for j, c in enumerate(cols))
    objective = symopt.Objective(f"exp({eta}) - y*({eta})", "b0 b1 b2 b3 b4", likelihood=True)
    r = symopt.solve(objective, {**{c: d[c].to_numpy() for c in cols}, "y": y}, backend="python", progress=False)
    assert _relative(r.x, ref.params) < 1e-8
    assert _relative([r.stderr[f"b{j}"] for j in range(5)], ref.bse) < 1e-6
    # the same objective not declared a likelihood has no standard errors, and says how to get them
    plain = symopt.solve(symopt.Objective(f"exp({eta}) - y*({eta})", "b0 b1 b2 b3 b4"),
                         {**{c: d[c].to_numpy() for c in cols}, "y": y}, backend="python", progress=False)
    assert plain.stderr is None and "likelihood=True" in plain.stderr_reason


def test_multinomial_logit_matches_statsmodels_mnlogit():
    """anes96 (statsmodels' MNLogit example): 944 voters, party identification 0..6 on five covariates."""
    d = sm.datasets.anes96.load_pandas().data
    X = d[["logpopul", "selfLR", "age", "educ", "income"]].to_numpy(float)
    y = d["PID"].to_numpy(float)
    peer = sm.MNLogit(y, sm.add_constant(X)).fit(method="newton", tol=1e-12, maxiter=100, disp=0)
    r = symopt.solve(symopt.cross_entropy(symopt.LinearModel()), (X, y), progress=False)
    ours = np.column_stack([r.params["intercept"], r.params["coef"]])
    se = np.column_stack([r.stderr["intercept"], r.stderr["coef"]])
    np.testing.assert_allclose(ours[1:], np.asarray(peer.params).T, rtol=1e-6)
    np.testing.assert_allclose(se[1:], np.asarray(peer.bse).T, rtol=1e-6)
    assert np.all(np.isnan(se[0]))  # class 0 is the reference, fixed at 0: no standard error, not 0
    assert r.cov.shape == (36, 36) and r.x_names[0] == "intercept[1]"


def test_a_maximised_log_likelihood_gives_the_inverse_information(rng):
    """Gaussian MLE by its closed form: se(mu) = sigma/sqrt(n), se(sigma) = sigma/sqrt(2n) (the observed
    information at the MLE), whatever the reduction."""
    mu = symopt.params("mu")
    sigma = symopt.params("sigma", positive=True)
    x = rng.normal(3.0, 2.0, 400)
    for reduction in ("mean", "sum"):
        loglik = symopt.Objective("-log(sigma) - (x - mu)**2/(2*sigma**2)", [mu, sigma], maximize=True,
                                  likelihood=True, reduction=reduction)
        r = symopt.solve(loglik, {"x": x})
        s = r.params["sigma"]
        assert r.stderr["mu"] == pytest.approx(s / np.sqrt(x.size), rel=1e-9), reduction
        assert r.stderr["sigma"] == pytest.approx(s / np.sqrt(2 * x.size), rel=1e-9), reduction
        assert abs(r.corr[0, 1]) < 1e-8


def test_where_standard_errors_do_not_apply_the_reason_says_why(rng):
    X = rng.normal(size=(40, 2))
    y = X @ [1.0, -2.0] + rng.normal(size=40)
    ridge = symopt.solve(symopt.squared_loss(symopt.LinearModel(), l2=0.1), (X, y))
    assert ridge.stderr is None and ridge.cov is None and ridge.conf_int() is None
    assert "ridge penalty" in ridge.stderr_reason and "l2=0" in ridge.stderr_reason
    assert ridge.rss is not None  # the fit statistics are still there
    custom = symopt.solve(symopt.Objective("(a - x)**4", "a"), {"x": X[:, 0]})
    assert custom.stderr is None and "likelihood=True" in custom.stderr_reason
    # the record survives pickling and hasattr, as the issue asks
    assert hasattr(ridge, "stderr") and pickle.loads(pickle.dumps(ridge)).stderr is None


def test_parameters_that_are_not_identified_are_named(rng):
    x = rng.normal(size=30)
    data = {"x": x, "z": 2.0 * x, "y": 1.0 + x + rng.normal(size=30)}
    with pytest.warns(symopt.errors.RankDeficiencyWarning):
        r = symopt.solve(symopt.squared_loss(symopt.Model("a + b*x + c*z", "a b c")), data)
    assert r.stderr is None
    assert r.inference().not_identified == ("b", "c")
    assert "b, c are not identified" in r.stderr_reason and "drop or fix one" in r.stderr_reason


def test_an_exact_fit_has_zero_standard_errors_not_nan():
    x = np.arange(6.0)
    r = symopt.solve(symopt.squared_loss(symopt.Model("a + b*x", "a b")), {"x": x, "y": 3.0 + 0.5 * x})
    assert r.rss == 0.0 and r.stderr == {"a": 0.0, "b": 0.0}
    assert any("exact fit" in note for note in r.inference().notes)


def test_too_few_rows_for_a_residual_variance():
    r = symopt.solve(symopt.squared_loss(symopt.Model("a + b*x", "a b")), {"x": [0.0, 1.0], "y": [1.0, 2.5]})
    assert r.stderr is None and "no degrees of freedom" in r.stderr_reason


def test_bad_cov_type_and_level_are_refused():
    model = symopt.Model("a + b*x", "a b")
    with pytest.raises(ModelError, match="cov_type must be one of"):
        symopt.solve(symopt.squared_loss(model), {"x": [0.0, 1, 2], "y": [1.0, 2, 4]}, cov_type="HC9")
    r = symopt.solve(symopt.squared_loss(model), {"x": [0.0, 1, 2], "y": [1.0, 2, 4]})
    with pytest.raises(ModelError, match="level must be"):
        r.conf_int(level=95)
    with pytest.raises(ModelError, match="method must be"):
        r.conf_int(method="bootstrap")


def test_the_summary_reports_the_table_statistics_and_warnings(rng):
    x = rng.uniform(10, 11, 30)  # uncentred: a and b correlated near -1
    data = {"x": x, "y": 2.0 + 0.5 * x + 0.1 * rng.normal(size=30)}
    r = symopt.solve(symopt.squared_loss(symopt.Model("a + b*x", "a b")), data)
    text = str(r.summary())
    assert "parameter" in text and "std err" in text and "P>|t|" in text and "[0.025" in text
    assert f"{r.stderr['b']:.6g}" in text and "R^2" in text and "AIC" in text
    assert "the estimates of a and b are correlated -0.999" in text
    html = r._repr_html_()
    assert "<table>" in html and "\\ell" in html  # the derivation's LaTeX is kept in the display


def test_the_summary_escapes_what_came_from_a_user():
    a = symopt.params("a")
    objective = symopt.Objective("(a - x)**2", [a])
    r = symopt.solve(objective, {"x": np.array([1.0, 2.0, 4.0])})
    html = r.summary().to_html("<script>alert(1)</script>")
    assert "<script>" in html  # the caller's own markup is theirs...
    assert "<script>" not in r.summary().to_html()  # ...nothing else produces any
    summary = r.summary()
    summary.header.append(("note", "<img src=x onerror=alert(1)>"))
    assert "<img" not in summary.to_html() and "&lt;img" in summary.to_html()


@pytest.mark.parametrize("p", [0.975, 0.995, 1e-10, 0.6])
@pytest.mark.parametrize("dof", [1, 3, 12, 1000])
def test_quantiles_match_scipy(p, dof):
    stats = pytest.importorskip("scipy.stats")
    assert distributions.t_quantile(p, dof) == pytest.approx(stats.t.ppf(p, dof), rel=1e-12)
    assert distributions.chi2_quantile(p, dof) == pytest.approx(stats.chi2.ppf(p, dof), rel=1e-12)
    assert distributions.f_quantile(p, dof, 7) == pytest.approx(stats.f.ppf(p, dof, 7), rel=1e-12)
    assert distributions.normal_quantile(p) == pytest.approx(stats.norm.ppf(p), rel=1e-12)
    assert distributions.two_sided_p(2.3, dof) == pytest.approx(2 * stats.t.sf(2.3, dof), rel=1e-12)
    assert distributions.f_sf(2.3, dof, 7) == pytest.approx(stats.f.sf(2.3, dof, 7), rel=1e-12)
    assert distributions.chi2_sf(2.3, dof) == pytest.approx(stats.chi2.sf(2.3, dof), rel=1e-12)


@pytest.mark.parametrize("interval, column", [("confidence", "mean_ci"), ("prediction", "obs_ci")])
def test_prediction_bands_match_statsmodels_get_prediction(stackloss, interval, column):
    X, y, ols = stackloss
    new = X[:7] + 1.5
    frame = ols.fit().get_prediction(sm.add_constant(new, has_constant="add")).summary_frame(alpha=0.1)
    wide = symopt.solve(symopt.squared_loss(symopt.LinearModel()), (X, y))
    named = symopt.solve(symopt.squared_loss(symopt.Model("b0 + b1*air + b2*water + b3*acid", "b0 b1 b2 b3")),
                         {"air": X[:, 0], "water": X[:, 1], "acid": X[:, 2], "y": y})
    for band in (wide.predict(new, interval=interval, level=0.9),
                 named.predict({"air": new[:, 0], "water": new[:, 1], "acid": new[:, 2]}, interval=interval,
                               level=0.9)):
        value, low, high, se = band
        np.testing.assert_allclose(value, frame["mean"], rtol=1e-8)
        np.testing.assert_allclose(low, frame[f"{column}_lower"], rtol=1e-8)
        np.testing.assert_allclose(high, frame[f"{column}_upper"], rtol=1e-8)


def test_a_nonlinear_band_is_the_delta_method_with_the_exact_gradient(rng):
    x = rng.uniform(0, 3, 40)
    y = 2.0 * np.exp(-0.7 * x) + 0.02 * rng.normal(size=40)
    r = symopt.solve(symopt.squared_loss(symopt.Model("a*exp(-b*x)", "a b")), {"x": x, "y": y}, progress=False)
    t = np.array([0.5, 2.0])
    band = r.predict({"x": t}, interval="confidence")
    a, b = r.params["a"], r.params["b"]
    g = np.column_stack([np.exp(-b * t), -a * t * np.exp(-b * t)])
    np.testing.assert_allclose(band.se, np.sqrt(np.einsum("ij,jk,ik->i", g, r.cov, g)), rtol=1e-12)
    np.testing.assert_allclose(band.value, a * np.exp(-b * t), rtol=1e-14)
    assert np.all(band.low < band.value) and np.all(band.value < band.high)


def test_a_band_without_standard_errors_says_why(rng):
    X = rng.normal(size=(30, 2))
    y = X @ [1.0, 2.0] + rng.normal(size=30)
    ridge = symopt.solve(symopt.squared_loss(symopt.LinearModel(), l2=0.5), (X, y))
    with pytest.raises(ModelError, match="no prediction band: there are no standard errors .*ridge"):
        ridge.predict(X, interval="confidence")
    logit = symopt.solve(symopt.log_loss(symopt.LinearModel()), (X, (y > 0).astype(float)), progress=False)
    with pytest.raises(ModelError, match="prediction bands are for a squared_loss"):
        logit.predict(X, interval="confidence")
    with pytest.raises(ModelError, match="interval must be 'confidence' or 'prediction'"):
        ridge.predict(X, interval="credible")


@pytest.fixture(scope="module")
def heteroscedastic():
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 5, 60)
    s = 0.05 + 0.1 * x
    return {"x": x, "s": s, "w": 1.0 / s**2, "y": 1.0 + 2.0 * x + s * rng.normal(size=60)}


@pytest.mark.parametrize("weighting", [{"weights": "w"}, {"sigma": "s"}])
def test_a_weighted_fit_equals_statsmodels_wls(heteroscedastic, weighting):
    d = heteroscedastic
    ref = sm.WLS(d["y"], sm.add_constant(d["x"]), weights=d["w"]).fit()
    objective = symopt.squared_loss(symopt.Model("a + b*x", "a b"), **weighting)
    for method in ("linear", "iterative"):
        r = symopt.solve(objective, d, method=method, progress=False)
        assert r.method == method and _relative(r.x, ref.params) < 1e-8
        assert _relative([r.stderr["a"], r.stderr["b"]], ref.bse) < 1e-8
    linear = symopt.solve(objective, d)
    assert linear.method == "linear"  # weighted least squares stays on the linear closed form
    assert linear.rss == pytest.approx(ref.ssr, rel=1e-12) and linear.r2 == pytest.approx(ref.rsquared, rel=1e-12)
    assert linear.loglik == pytest.approx(ref.llf, rel=1e-12)


def test_absolute_scale_is_curve_fits_absolute_sigma(heteroscedastic):
    from_scipy = pytest.importorskip("scipy.optimize")
    d = dict(heteroscedastic)
    d["y"] = 2.0 * np.exp(-0.7 * d["x"]) + d["s"] * np.random.default_rng(2).normal(size=60)
    for absolute in (False, True):
        p, C = from_scipy.curve_fit(lambda x, a, b: a * np.exp(-b * x), d["x"], d["y"], p0=[1, 1], sigma=d["s"],
                                    absolute_sigma=absolute, xtol=1e-15, ftol=1e-15, gtol=1e-15)
        objective = symopt.squared_loss(symopt.Model("a*exp(-b*x)", "a b"), sigma="s",
                                        scale="absolute" if absolute else "residual")
        r = symopt.solve(objective, d, progress=False)
        assert _relative(r.x, p) < 1e-8 and _relative(r.cov, C) < 1e-6, absolute


def test_bad_weights_are_refused_by_name(heteroscedastic):
    model = symopt.Model("a + b*x", "a b")
    d = dict(heteroscedastic)
    with pytest.raises(symopt.errors.DataError, match="weights 'w' must be >= 0.*row 3"):
        symopt.solve(symopt.squared_loss(model, weights="w"), {**d, "w": np.where(np.arange(60) == 3, -1.0, 1.0)})
    with pytest.raises(symopt.errors.DataError, match="standard deviations 's' must be > 0.*row 0"):
        symopt.solve(symopt.squared_loss(model, sigma="s"), {**d, "s": np.zeros(60)})
    with pytest.raises(ModelError, match="not both"):
        symopt.squared_loss(model, weights="w", sigma="s")
    with pytest.raises(ModelError, match="already a name in the model"):
        symopt.squared_loss(model, weights="x")
    with pytest.raises(ModelError, match="scale must be"):
        symopt.squared_loss(model, scale="relative")
    with pytest.raises(ModelError, match="not supported for a Network"):
        symopt.squared_loss(symopt.Network(1, [symopt.Dense(1)]), weights="w")
    with pytest.raises(ModelError, match="may not be named 'X' over a data matrix"):
        symopt.squared_loss(symopt.LinearModel(), weights="X")
    # a weight of 0 drops the row: the fit equals the one without it
    w = np.ones(60)
    w[:5] = 0.0
    dropped = symopt.solve(symopt.squared_loss(model, weights="w"), {**d, "w": w})
    rest = symopt.solve(symopt.squared_loss(model), {k: d[k][5:] for k in ("x", "y")})
    np.testing.assert_allclose(dropped.x, rest.x, rtol=1e-12)


def test_negative_binomial_nb2_matches_statsmodels():
    """NB2 (issue 12 item 6: loggamma of a parameter, through the generated code) on 2,000 rows of randhie."""
    d = sm.datasets.randhie.load_pandas().data.iloc[:2000]
    cols = ["lncoins", "idp", "physlm", "disea"]
    y = d["mdvis"].to_numpy().astype(float)
    ref = sm.NegativeBinomial(y, sm.add_constant(d[cols].to_numpy()), loglike_method="nb2").fit(
        disp=0, method="newton", maxiter=200, tol=1e-12)
    eta = "b0 + " + " + ".join(f"b{j + 1}*{c}" for j, c in enumerate(cols))
    loglik = (f"loggamma(y + 1/alpha) - loggamma(1/alpha) - loggamma(y + 1) - (1/alpha)*log(1 + alpha*exp({eta})) "
              f"+ y*(log(alpha) + {eta} - log(1 + alpha*exp({eta})))")
    names = ["b0", "b1", "b2", "b3", "b4", "alpha"]
    objective = symopt.Objective(loglik, " ".join(names), maximize=True, likelihood=True)
    r = symopt.solve(objective, {**{c: d[c].to_numpy() for c in cols}, "y": y}, backend="python", progress=False)
    assert r.success and _relative(r.x, ref.params) < 1e-6
    assert _relative([r.stderr[k] for k in names], ref.bse) < 1e-6
    assert r.loglik == pytest.approx(ref.llf, rel=1e-9)


def test_rows_of_weight_zero_are_no_observations():
    """Issue 26 item 2: 5 of 40 weights non-zero is ordinary least squares on the 5 kept rows (dof 3, not 38), for
    the parameters, standard errors, Wald and profile intervals and the prediction band, on both paths."""
    rng = np.random.default_rng(3)
    x = np.linspace(0.0, 4.0, 40)
    y = 1.0 + 2.0 * x + 0.3 * rng.normal(size=40)
    keep = np.array([2, 9, 17, 25, 33])
    w = np.zeros(40)
    w[keep] = 1.0
    ref = sm.OLS(y[keep], sm.add_constant(x[keep])).fit()
    objective = symopt.squared_loss(symopt.Model("a + b*x", "a b"), weights="w")
    new = np.array([0.5, 3.5])
    band = ref.get_prediction(sm.add_constant(new)).summary_frame(alpha=0.05)
    for method in ("linear", "iterative"):
        r = symopt.solve(objective, {"x": x, "y": y, "w": w}, method=method, progress=False)
        assert r.dof == 3 and r.inference().n_obs == 5, method
        assert _relative(r.x, ref.params) < 1e-8
        assert _relative([r.stderr["a"], r.stderr["b"]], ref.bse) < 1e-8
        wald, profile = r.conf_int(), r.conf_int(method="profile")
        for j, name in enumerate(("a", "b")):
            np.testing.assert_allclose(wald[name], ref.conf_int()[j], rtol=1e-8)
            np.testing.assert_allclose(profile[name], ref.conf_int()[j], rtol=1e-7)
        assert r.rss == pytest.approx(ref.ssr, rel=1e-10) and r.loglik == pytest.approx(ref.llf, rel=1e-10)
        assert r.bic == pytest.approx(ref.bic, rel=1e-10)
        value, low, high, _ = r.predict({"x": new}, interval="prediction")
        np.testing.assert_allclose(low, band["obs_ci_lower"], rtol=1e-8)
        np.testing.assert_allclose(high, band["obs_ci_upper"], rtol=1e-8)
    robust = symopt.solve(objective, {"x": x, "y": y, "w": w}, cov_type="HC1")
    assert _relative(robust.cov, sm.OLS(y[keep], sm.add_constant(x[keep])).fit(cov_type="HC1").cov_params()) < 1e-8


def test_a_numpy_float_is_a_level():
    """Issue 26 (item 22's last point): conf_int(np.float32(0.95)) is a valid level."""
    model = symopt.Model("a + b*x", "a b")
    r = symopt.solve(symopt.squared_loss(model), {"x": [0.0, 1, 2, 3], "y": [1.0, 2, 4, 4.5]})
    for level in (np.float32(0.95), np.float64(0.9), np.float16(0.5)):
        ci = r.conf_int(level)
        assert ci["a"][0] < r.params["a"] < ci["a"][1]
        np.testing.assert_allclose(r.conf_int(level, method="profile")["b"], ci["b"], rtol=1e-8)
    assert r.conf_int(np.float32(0.95))["b"] == pytest.approx(r.conf_int(float(np.float32(0.95)))["b"], rel=1e-15)
    for bad in (True, np.float32(1.0), np.float32(np.nan), "0.95"):
        with pytest.raises(ModelError, match="level must be"):
            r.conf_int(bad)


@pytest.mark.parametrize("shift, intercept", [(0.0, True), (50.0, True), (3.0, False)])
def test_a_tall_fit_takes_its_covariance_from_the_normal_equations(shift, intercept):
    """Issue 26 item 9: a tall LinearModel() solved by the normal equations forms its covariance from their
    Cholesky factor (no pass over the data for the classical one, one for the sandwich ones), and it equals
    statsmodels' OLS, centred near 0 (the BLAS Gram matrix), far from it (the blocked, shifted one) and without
    an intercept."""
    rng = np.random.default_rng(0)
    n, m = 60_000, 20
    X = rng.normal(size=(n, m)) + shift * rng.uniform(size=m)
    y = X @ rng.normal(size=m) + 1.0 + rng.standard_t(3, size=n)
    r = symopt.solve(symopt.squared_loss(symopt.LinearModel(intercept=intercept)), (X, y))
    assert r.normal_factor is not None and "normal equations" in r.closed_form.detail
    A = sm.add_constant(X) if intercept else X
    for cov_type in ("nonrobust", "HC0", "HC1", "HC2", "HC3"):
        ref = sm.OLS(y, A).fit(cov_type=cov_type)
        scale = np.sqrt(np.outer(ref.bse, ref.bse))
        assert np.max(np.abs(r.inference(cov_type).cov - ref.cov_params()) / scale) < 1e-10, cov_type
    if shift and intercept:  # standardize=True: the factor is the standardized design's, not carried over
        scaled = symopt.solve(symopt.squared_loss(symopt.LinearModel()), (X, y), standardize=True)
        np.testing.assert_allclose(_flat(scaled.stderr), _flat(r.stderr), rtol=1e-9)


def test_the_standard_errors_of_a_tall_fit_need_no_copy_of_the_data():
    """Issue 26 item 9: reading stderr of a tall LinearModel() fit peaked at 6x the data (1,000,000 x 32: 1.6 GB
    above the solve's 16 MB, 36 s); now within the solve's own peak plus p x p matrices and a block of rows."""
    import tracemalloc

    from symopt.numerics.covariance import BLOCK_ROWS

    rng = np.random.default_rng(0)
    n, m = 200_000, 8
    X = rng.normal(size=(n, m))
    y = X @ rng.normal(size=m) + 1.0 + rng.normal(size=n)
    objective = symopt.squared_loss(symopt.LinearModel())
    symopt.solve(objective, (X[:100], y[:100])).stderr  # the problem built, the code paths imported
    tracemalloc.start()
    try:
        r = symopt.solve(objective, (X, y))
        _, solve_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        se = r.stderr
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    p = m + 1
    allowance = 64 * p * p * 8 + 4 * BLOCK_ROWS * p * 8  # p x p matrices, a few blocks of rows
    assert r.normal_factor is not None and se["coef"].shape == (m,)
    assert peak - before <= solve_peak + allowance, (peak - before, solve_peak)
    assert peak - before < X.nbytes / 2  # two vectors of n (the residuals, y centred for R^2), no n x p copy


@pytest.fixture(scope="module")
def weighted_labels():
    return weighted_rows(7, 300, [1.0, -1.0, 0.5], 0.3, weights=(0.2, 3.0), labels=True)


@pytest.mark.parametrize("backend", ["numba", "python"])
def test_weighted_logistic_regression_is_statsmodels_binomial_glm_with_var_weights(weighted_labels, backend):
    """log_loss(..., weights="w"), per row w*(softplus(eta) - y*eta): the parameters of GLM(Binomial,
    var_weights=w), and its standard errors from the observed information of the weighted sum."""
    X, y, w = weighted_labels
    ref = sm.GLM(y, sm.add_constant(X), family=sm.families.Binomial(), var_weights=w).fit(tol=1e-14)
    r = symopt.solve(symopt.log_loss(symopt.LinearModel(), weights="w"), {"X": X, "y": y, "w": w},
                     backend=backend, progress=False)
    assert r.success and r.inference().kind == "likelihood"
    assert _relative(r.x, ref.params) < 1e-8
    assert _relative(_flat(r.stderr), ref.bse) < 1e-6
    assert r.loglik == pytest.approx(ref.llf, rel=1e-10)
    named = symopt.solve(symopt.log_loss(symopt.Model("a + b*x1 + c*x2 + d*x3", "a b c d"), weights="w"),
                         {"x1": X[:, 0], "x2": X[:, 1], "x3": X[:, 2], "y": y, "w": w}, backend=backend,
                         progress=False)
    assert _relative(named.x, ref.params) < 1e-8
    assert _relative([named.stderr[k] for k in "abcd"], ref.bse) < 1e-6


@pytest.mark.parametrize("backend", ["numba", "python"])
def test_integer_weights_of_a_log_loss_are_repeated_rows(weighted_labels, backend):
    X, y, _ = weighted_labels
    counts = np.random.default_rng(3).integers(0, 4, size=len(y))
    weighted = symopt.solve(symopt.log_loss(symopt.LinearModel(), weights="w"),
                            {"X": X, "y": y, "w": counts.astype(float)}, backend=backend, progress=False)
    repeated = symopt.solve(symopt.log_loss(symopt.LinearModel()), (np.repeat(X, counts, axis=0), np.repeat(y, counts)),
                            backend=backend, progress=False)
    np.testing.assert_allclose(weighted.x, repeated.x, rtol=1e-10)
    np.testing.assert_allclose(_flat(weighted.stderr), _flat(repeated.stderr), rtol=1e-8)


def test_weighted_log_loss_refusals():
    with pytest.raises(ModelError, match="weights= is not supported for a Network"):
        symopt.log_loss(symopt.Network(2, [symopt.Dense(1)]), weights="w")
    with pytest.raises(ModelError, match="may not be named 'eta' over a data matrix"):
        symopt.log_loss(symopt.LinearModel(), weights="eta")
    with pytest.raises(symopt.errors.DataError, match="weights 'w' must be >= 0"):
        symopt.solve(symopt.log_loss(symopt.LinearModel(), weights="w"),
                     {"X": np.ones((4, 1)), "y": np.array([0.0, 1, 0, 1]), "w": np.array([1.0, -1, 1, 1])})


@pytest.mark.parametrize("weighting", ["weights", "sigma"])
def test_weighted_least_squares_over_a_data_matrix_has_the_standard_errors_of_statsmodels_wls(weighting):
    X, y, w = weighted_rows(11, 80, [1.0, -2.0, 0.5], 0.7)
    w[:4] = 0.0
    ref = sm.WLS(y[4:], sm.add_constant(X[4:]), weights=w[4:]).fit()
    data = {"X": X, "y": y, "w": w} if weighting == "weights" else {"X": X[4:], "y": y[4:], "s": 1 / np.sqrt(w[4:])}
    objective = symopt.squared_loss(symopt.LinearModel(), **{weighting: "w" if weighting == "weights" else "s"})
    for method in ("linear", "iterative"):
        r = symopt.solve(objective, data, method=method, progress=False)
        assert _relative(_flat(r.stderr), ref.bse) < 1e-10
        assert r.dof == ref.df_resid and r.rss == pytest.approx(ref.ssr, rel=1e-12)
        assert r.r2 == pytest.approx(ref.rsquared, rel=1e-12) and r.loglik == pytest.approx(ref.llf, rel=1e-12)

"""GLM families (issue 29, item 1): ``symopt.glm`` against statsmodels' GLM on the data sets it ships (star98
binomial counts, scotland Gamma) and on synthetic data with known parameters (a Poisson with exposure, a
Tweedie, the other families and links), and against scikit-learn's Poisson, Gamma and Tweedie regressors at
equal penalty: parameters, standard errors (scaled by the dispersion), deviance, Pearson chi2, scale, null
deviance, log-likelihood, AIC and BIC."""

from __future__ import annotations

import warnings
from math import erfc as _erfc

import numpy as np
import pytest
import sympy as sp

import symopt
from symopt.errors import DataError, ModelError
from symopt.model import families

sm = pytest.importorskip("statsmodels.api")


erfc = np.vectorize(_erfc)


def _relative(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.abs(b)))


def _quiet_fit(model, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels' DomainWarning for the Gamma's canonical link
        return model.fit(**options)


def _same_statistics(r, ref, loglik: bool = True, tol: float = 1e-8, stat_tol: float = 1e-10):
    """Parameters and standard errors to ``tol``, the statistics to ``stat_tol`` (relative)."""
    assert _relative(r.x, ref.params) < tol
    assert _relative(np.sqrt(np.diag(r.cov)), ref.bse) < tol
    assert r.deviance == pytest.approx(ref.deviance, rel=stat_tol)
    assert r.pearson_chi2 == pytest.approx(ref.pearson_chi2, rel=stat_tol)
    assert r.scale == pytest.approx(ref.scale, rel=stat_tol)
    assert r.null_deviance == pytest.approx(ref.null_deviance, rel=stat_tol)
    if loglik:
        assert r.loglik == pytest.approx(ref.llf, rel=stat_tol)
        assert r.aic == pytest.approx(ref.aic, rel=stat_tol)
        assert r.bic == pytest.approx(ref.bic_llf, rel=stat_tol)


def test_scotland_gamma_with_its_canonical_link_and_estimated_scale():
    d = sm.datasets.scotland.load_pandas()
    X, y = d.exog.to_numpy(float), d.endog.to_numpy(float)
    ref = _quiet_fit(sm.GLM(y, sm.add_constant(X), family=sm.families.Gamma()))
    r = symopt.solve(symopt.glm(symopt.LinearModel(), "gamma"), (X, y), progress=False)
    assert r.success
    _same_statistics(r, ref)
    assert any("Pearson" in note for note in r.inference().notes)


def test_star98_binomial_counts_with_trials():
    data = sm.datasets.star98.load()
    exog, endog = data.exog.to_numpy(float), data.endog.to_numpy(float)
    ref = sm.GLM(endog, sm.add_constant(exog), family=sm.families.Binomial()).fit()
    names = [c.replace("_", "").lower() for c in data.exog.columns]
    frame = {name: exog[:, j] for j, name in enumerate(names)}
    frame.update(successes=endog[:, 0], trials=endog.sum(axis=1))
    objective = symopt.glm(symopt.LinearModel(basis=names), "binomial", target="successes", trials="trials")
    r = symopt.solve(objective, frame, progress=False)
    assert r.success
    _same_statistics(r, ref)


def test_star98_over_a_data_matrix_with_trials_and_a_poisson_with_exposure():
    """The same GLMs on a LinearModel() over a data matrix: the columns travel to the wide kernels."""
    data = sm.datasets.star98.load()
    exog, endog = data.exog.to_numpy(float), data.endog.to_numpy(float)
    ref = sm.GLM(endog, sm.add_constant(exog), family=sm.families.Binomial()).fit()
    r = symopt.solve(symopt.glm(symopt.LinearModel(), "binomial", target="successes", trials="trials"),
                     {"X": exog, "successes": endog[:, 0], "trials": endog.sum(axis=1)}, progress=False)
    assert r.success
    _same_statistics(r, ref)
    rng = np.random.default_rng(8)
    X, t = rng.normal(size=(300, 2)), rng.uniform(0.5, 3.0, size=300)
    y = rng.poisson(t * np.exp(0.2 + X @ [0.4, -0.3])).astype(float)
    ref = sm.GLM(y, sm.add_constant(X), family=sm.families.Poisson(), exposure=t).fit()
    r = symopt.solve(symopt.glm(symopt.LinearModel(), "poisson", exposure="t"), {"X": X, "y": y, "t": t},
                     progress=False)
    _same_statistics(r, ref)
    assert "statsmodels' GLM is the reference for an unpenalised GLM" in r.verify().reference


@pytest.fixture(scope="module")
def counts():
    rng = np.random.default_rng(3)
    n = 400
    x1, x2 = rng.normal(size=n), rng.uniform(-1, 1, size=n)
    exposure = rng.uniform(0.5, 3.0, size=n)
    offset = rng.normal(scale=0.1, size=n)
    y = rng.poisson(exposure * np.exp(0.3 + 0.5 * x1 - 0.8 * x2 + offset)).astype(float)
    return {"x1": x1, "x2": x2, "t": exposure, "o": offset, "y": y}


def test_poisson_with_exposure_and_offset(counts):
    exog = sm.add_constant(np.column_stack([counts["x1"], counts["x2"]]))
    ref = sm.GLM(counts["y"], exog, family=sm.families.Poisson(), exposure=counts["t"], offset=counts["o"]).fit()
    objective = symopt.glm(symopt.LinearModel(basis=["x1", "x2"]), "poisson", exposure="t", offset="o")
    r = symopt.solve(objective, counts, progress=False)
    assert r.success
    _same_statistics(r, ref)  # the null deviance refits the constant with the offset and exposure kept


def test_weights_are_statsmodels_var_weights(counts):
    w = np.random.default_rng(4).uniform(0.2, 2.0, size=counts["y"].size)
    exog = sm.add_constant(np.column_stack([counts["x1"], counts["x2"]]))
    ref = sm.GLM(counts["y"], exog, family=sm.families.Poisson(), var_weights=w).fit()
    r = symopt.solve(symopt.glm(symopt.LinearModel(basis=["x1", "x2"]), "poisson", weights="w"),
                     {**counts, "w": w}, progress=False)
    _same_statistics(r, ref)


@pytest.fixture
def positive():
    # A fresh generator per test: with one per module, each test's response depended on which tests of the module
    # had drawn before it in the same xdist worker, so a run's data (and a marginal tolerance) changed with the
    # scheduling (binomial-cloglog's standard errors once agreed to 1.2e-8 against 1e-8).
    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 2))
    mu = np.exp(0.4 + X @ np.array([0.3, -0.2]))
    return X, mu, rng


def test_tweedie_has_deviance_and_pearson_but_no_loglik(positive):
    X, mu, rng = positive
    # a compound Poisson-Gamma response (zeros and positive amounts), as Tweedie with 1 < power < 2 describes
    counts = rng.poisson(mu)
    y = np.array([rng.gamma(2.0, 0.5, size=k).sum() for k in counts])
    ref = sm.GLM(y, sm.add_constant(X), family=sm.families.Tweedie(var_power=1.5)).fit()
    r = symopt.solve(symopt.glm(symopt.LinearModel(), "tweedie", power=1.5), (X, y), progress=False)
    _same_statistics(r, ref, loglik=False)
    assert r.loglik is None and r.aic is None
    assert "no closed-form log-likelihood" in r.glm_fit().why_no_loglik


@pytest.mark.parametrize("family, link, sm_family", [
    ("gaussian", "log", lambda: sm.families.Gaussian(sm.families.links.Log())),
    ("gamma", "log", lambda: sm.families.Gamma(sm.families.links.Log())),
    ("inverse_gaussian", "log", lambda: sm.families.InverseGaussian(sm.families.links.Log())),
    ("negative_binomial", None, lambda: sm.families.NegativeBinomial(alpha=0.5)),
    ("poisson", "sqrt", lambda: sm.families.Poisson(sm.families.links.Sqrt())),
    ("binomial", "cloglog", lambda: sm.families.Binomial(sm.families.links.CLogLog())),
    ("binomial", "probit", lambda: sm.families.Binomial(sm.families.links.Probit())),
])
def test_other_families_and_links(positive, family, link, sm_family):
    X, mu, rng = positive
    y = {"gaussian": lambda: mu + rng.normal(scale=0.3, size=mu.size),
         "gamma": lambda: rng.gamma(4.0, mu / 4.0),
         "inverse_gaussian": lambda: rng.wald(mu, 8.0),
         "negative_binomial": lambda: rng.negative_binomial(2.0, 2.0 / (2.0 + mu)).astype(float),
         "poisson": lambda: rng.poisson(mu).astype(float),
         "binomial": lambda: (rng.uniform(size=mu.size) < (1 - np.exp(-mu) if link == "cloglog" else
                                                            0.5 * erfc(-np.log(mu) / np.sqrt(2)))).astype(float)}[family]()
    options = {"alpha": 0.5} if family == "negative_binomial" else {}
    ref = _quiet_fit(sm.GLM(y, sm.add_constant(X), family=sm_family()))
    r = symopt.solve(symopt.glm(symopt.LinearModel(), family, link, **options), (X, y), progress=False)
    assert r.success, r.status
    # statsmodels' IRLS stops at a relative deviance change of 1e-8 (its default), where the parameters of a
    # non-canonical link agree to about 1e-5; at tol=1e-13 to 1e-8, and Pearson's chi2 (not stationary at the
    # optimum, unlike the deviance) follows the parameters
    assert _relative(r.x, ref.params) < 1e-5
    _same_statistics(r, _quiet_fit(sm.GLM(y, sm.add_constant(X), family=sm_family()), tol=1e-13), stat_tol=1e-8)


@pytest.mark.parametrize("family, regressor, options", [
    ("poisson", "PoissonRegressor", {}),
    ("gamma", "GammaRegressor", {}),
    ("tweedie", "TweedieRegressor", {"power": 1.5}),
])
def test_scikit_learn_regressors_at_equal_penalty(positive, family, regressor, options):
    linear_model = pytest.importorskip("sklearn.linear_model")
    X, mu, rng = positive
    y = rng.poisson(mu).astype(float) + (1.0 if family == "gamma" else 0.0)
    alpha = 0.05
    kwargs = {"power": 1.5, "link": "log"} if family == "tweedie" else {}
    ref = getattr(linear_model, regressor)(alpha=alpha, tol=1e-12, max_iter=10_000, **kwargs).fit(X, y)
    link = "log" if family == "gamma" else None  # scikit-learn's GammaRegressor uses the log link
    r = symopt.solve(symopt.glm(symopt.LinearModel(), family, link, l2=alpha / 2, **options), (X, y),
                     progress=False)
    assert r.success
    np.testing.assert_allclose(r.params["coef"], ref.coef_, rtol=1e-6, atol=1e-9)
    assert r.params["intercept"] == pytest.approx(ref.intercept_, rel=1e-6)
    assert r.stderr is None and "ridge penalty" in r.stderr_reason


def test_losses_are_the_half_deviance_in_stable_forms():
    eta, y = symopt.model.kinds.ETA, sp.Symbol("y", real=True)
    model = symopt.LinearModel()
    assert symopt.glm(model, "poisson").per_sample == sp.exp(eta) - y * eta
    assert symopt.glm(model, "binomial").per_sample == symopt.softplus(eta) - y * eta
    assert symopt.glm(model, "gamma", "log").per_sample == eta + y * sp.exp(-eta)
    negbin = symopt.glm(model, "negative_binomial").per_sample
    assert not negbin.has(sp.exp) and negbin.has(symopt.softplus)  # log(1 + exp(eta)) would overflow
    from sympy.codegen.cfunctions import expm1

    cloglog = symopt.glm(model, "binomial", "cloglog").per_sample  # log(mu) = log(1 - exp(-exp(eta)))
    assert cloglog.has(expm1) and cloglog == sp.exp(eta) - y * sp.exp(eta) - y * sp.log(-expm1(-sp.exp(eta)))
    probit = symopt.glm(model, "binomial", "probit").per_sample  # log(ndtr(eta)) is -inf past eta = -38
    log_ndtr = symopt.symbolic.functions.log_ndtr
    assert probit == y * log_ndtr(-eta) - y * log_ndtr(eta) - log_ndtr(-eta)


def test_a_family_from_its_log_likelihood_derives_its_deviance():
    mine = symopt.Family("poisson again", variance=families.MU, link="log",
                         loglik=families.Y * sp.log(families.MU) - families.MU - sp.loggamma(families.Y + 1),
                         scale="fixed", response="y >= 0")
    built_in = families.poisson()
    assert sp.simplify(mine.deviance - built_in.deviance) == 0
    assert mine.loss() == built_in.loss()
    rng = np.random.default_rng(6)
    x = rng.normal(size=50)
    data = {"x": x, "y": rng.poisson(np.exp(0.2 + 0.4 * x)).astype(float)}
    model = symopt.LinearModel(basis=["x"])
    a = symopt.solve(symopt.glm(model, mine), data, progress=False)
    b = symopt.solve(symopt.glm(model, "poisson"), data, progress=False)
    np.testing.assert_allclose(a.x, b.x, rtol=1e-12)
    assert a.deviance == pytest.approx(b.deviance, rel=1e-12) and a.loglik == pytest.approx(b.loglik, rel=1e-12)


def test_the_binomial_deviance_takes_its_limits_at_0_and_1():
    mu = np.array([0.2, 0.7, 0.5])
    got = symopt.stats.glm.unit_deviance(families.binomial(), np.array([0.0, 1.0, 0.5]), mu)
    np.testing.assert_allclose(got, [2 * np.log(1 / 0.8), 2 * np.log(1 / 0.7), 0.0], atol=1e-15)


def test_clear_errors():
    model = symopt.LinearModel(basis=["x"])
    with pytest.raises(ModelError, match="unknown family 'poison'.*poisson"):
        symopt.glm(model, "poison")
    with pytest.raises(ModelError, match="unknown link 'logg'"):
        symopt.glm(model, "poisson", "logg")
    with pytest.raises(ModelError, match="trials= is for the binomial family"):
        symopt.glm(model, "poisson", trials="n")
    with pytest.raises(ModelError, match="power between 0 and 1"):
        symopt.glm(model, "tweedie", power=0.5)
    with pytest.raises(ModelError, match="takes no option"):
        symopt.glm(model, "poisson", power=2)
    with pytest.raises(ModelError, match="offset column 'x' is already a name"):
        symopt.glm(model, "poisson", offset="x")
    x = np.linspace(0, 1, 5)
    with pytest.raises(DataError, match=r"poisson response must be y >= 0; row 2 has -1.0"):
        symopt.solve(symopt.glm(model, "poisson"), {"x": x, "y": np.array([1.0, 0.0, -1.0, 2.0, 3.0])})
    with pytest.raises(DataError, match="needs 0 <= y <= n"):
        symopt.solve(symopt.glm(model, "binomial", trials="n"),
                     {"x": x, "y": np.array([1.0, 0.0, 4.0, 2.0, 3.0]), "n": np.full(5, 3.0)})
    with pytest.raises(DataError, match="exposure column 't' must be > 0"):
        symopt.solve(symopt.glm(model, "poisson", exposure="t"), {"x": x, "y": x, "t": x})


def test_summary_verify_and_pickling_of_a_glm(positive):
    import pickle

    X, mu, rng = positive
    y = rng.poisson(mu).astype(float)
    r = symopt.solve(symopt.glm(symopt.LinearModel(), "poisson"), (X, y), progress=False)
    text = str(r.summary())
    for row in ("family, link        poisson, log", "deviance", "Pearson chi2", "null deviance",
                "expected (Fisher) information"):
        assert row in text
    assert "(poisson family, log link" in r.objective.describe()
    checked = r.verify()
    assert checked.ok and checked.reference == "statsmodels GLM (Poisson, Log)"
    back = pickle.loads(pickle.dumps(r))
    assert back.stderr["coef"].tolist() == r.stderr["coef"].tolist()
    assert back.objective.glm.family.name == "poisson"
    again = pickle.loads(pickle.dumps(symopt.Problem(symopt.glm(symopt.LinearModel(), "gamma", "log"))))
    assert again.solve((X, y + 1.0), progress=False).success


def test_an_exported_glm_fits_as_symopt_and_says_it_has_no_standard_errors(positive, tmp_path):
    import importlib.util

    X, mu, rng = positive
    y = rng.poisson(mu).astype(float)
    problem = symopt.Problem(symopt.glm(symopt.LinearModel(), "poisson"), symopt.Newton(), backend="numba")
    path = symopt.export(problem, tmp_path / "poisson_fit.py")
    spec = importlib.util.spec_from_file_location("poisson_fit", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    solved = problem.solve((X, y), progress=False)
    exported = module.fit((X, y), x0=solved.x0)  # symopt's GLM start (the intercept at log(mean y)); the
    np.testing.assert_allclose(exported.x, solved.x, rtol=1e-12)  # module's own default start is all zeros
    assert exported.stderr is None and "GLM's standard errors" in exported.stderr_reason


def test_robust_covariance_equals_statsmodels_glm():
    """The sandwich of a GLM (HC0) equals statsmodels' GLM with cov_type="HC0", Poisson and Gamma-log (where the
    scale cancels); statsmodels' GLM gives the same for HC1-HC3 (no small-sample factor), symopt's HC1 has its
    n/(n - p) as everywhere."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 3))
    mu = np.exp(0.3 + X @ [0.2, -0.1, 0.3])
    for family, link, sm_family, y in (
            ("poisson", None, sm.families.Poisson(), rng.poisson(mu).astype(float)),
            ("gamma", "log", sm.families.Gamma(sm.families.links.Log()), rng.gamma(2.0, mu / 2.0))):
        ref = sm.GLM(y, sm.add_constant(X), family=sm_family).fit(cov_type="HC0", tol=1e-13)
        for cov_type, factor in (("HC0", 1.0), ("HC1", np.sqrt(400 / 396))):
            r = symopt.solve(symopt.glm(symopt.LinearModel(), family, link), (X, y), cov_type=cov_type,
                             progress=False)
            se = np.r_[r.stderr["intercept"], r.stderr["coef"]]
            assert _relative(se, factor * np.asarray(ref.bse)) < 1e-8, (family, cov_type)

"""The special functions and their derivatives: loggamma's (digamma, trigamma), besseli, erfc, ndtr and
log_ndtr (issue 29, item 6): the SymPy functions and their derivatives, NumPy evaluation, the generated helpers
on both backends against mpmath at 30 digits, and the maximum-likelihood fits they make possible (Gamma,
negative binomial, von Mises, probit)."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp

import symopt
from symopt.errors import PrinterError
from symopt.symbolic.escape import latex
from symopt.symbolic.functions import (besseli_scaled, inv_mills, inv_mills_gap, log_ndtr, ndtr, scaled_bessel)
from symopt.symbolic.numeric import _np_polygamma, evaluate
from symopt.symbolic.printer import print_block

POINTS = np.array([1e-8, 0.1, 0.5, 1.0, 2.5, 7.0, 9.99, 10.0, 12.0, 100.0, 1e5, 1e12, -0.5, -2.7, -10.3])


def _reference(order: int) -> np.ndarray:
    return np.array([float(mpmath.psi(order, x)) for x in POINTS])


@pytest.mark.parametrize("order", [0, 1])
def test_numpy_polygamma_matches_mpmath(order):
    np.testing.assert_allclose(_np_polygamma(order, POINTS), _reference(order), rtol=1e-14)
    assert np.all(np.isnan(_np_polygamma(order, np.array([0.0, -1.0, -7.0]))))
    with pytest.raises(PrinterError, match="order 2"):
        _np_polygamma(2, POINTS)


@pytest.fixture(scope="module")
def gamma_fit():
    rng = np.random.default_rng(0)
    x = rng.gamma(2.5, 1.5, 300)
    objective = symopt.Objective("(k-1)*log(x) - x/theta - k*log(theta) - loggamma(k)", "k theta", maximize=True)
    return objective, {"x": x}


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_generated_digamma_and_trigamma_match_mpmath(gamma_fit, backend):
    objective, _ = gamma_fit
    problem = symopt.Problem(objective, optimizer=symopt.Newton(), backend=backend)
    assert "def _digamma(x):" in problem.source and "def _trigamma(x):" in problem.source
    _, module, _ = problem._compiled(symopt.Newton(), backend)
    for order, helper in ((0, module._digamma), (1, module._trigamma)):
        got = np.array([helper(float(x)) for x in POINTS])
        np.testing.assert_allclose(got, _reference(order), rtol=1e-14)
        assert np.isnan(helper(0.0)) and np.isnan(helper(-3.0))


def test_gamma_maximum_likelihood_solves_its_score_equation(gamma_fit):
    """At the MLE, theta = mean(x) / k and log(k) - digamma(k) = log(mean(x)) - mean(log(x))."""
    objective, data = gamma_fit
    x = data["x"]
    fits = [symopt.solve(objective, data, backend=b, progress=False) for b in ("python", "numba")]
    for r in fits:
        k = r.params["k"]
        assert r.success and isinstance(r.optimizer, symopt.Newton)
        assert float(mpmath.log(k) - mpmath.digamma(k)) == pytest.approx(np.log(x.mean()) - np.log(x).mean(),
                                                                         rel=1e-12)
        assert r.params["theta"] == pytest.approx(x.mean() / k, rel=1e-12)
    np.testing.assert_allclose(fits[0].x, fits[1].x, rtol=1e-12)


def test_gamma_maximum_likelihood_matches_scipy(gamma_fit):
    """The Gamma MLE with the location fixed at 0 is scipy.stats.gamma.fit(x, floc=0)'s (shape, scale)."""
    stats = pytest.importorskip("scipy.stats")
    objective, data = gamma_fit
    shape, loc, scale = stats.gamma.fit(data["x"], floc=0)
    fit = symopt.solve(objective, data, progress=False)
    assert fit.success and loc == 0
    assert fit.params["k"] == pytest.approx(shape, rel=1e-9)
    assert fit.params["theta"] == pytest.approx(scale, rel=1e-9)
    # and it is the maximum: scipy's point is no better on symopt's objective (the mean log-likelihood)
    assert fit.fun >= stats.gamma.logpdf(data["x"], shape, scale=scale).mean() - 1e-12


def test_higher_polygamma_orders_are_refused_by_name():
    k = sp.Symbol("k", positive=True)
    with pytest.raises(PrinterError, match="polygamma of order 2"):
        print_block([sp.polygamma(2, k)], {k: "k"})


def test_negative_binomial_likelihood_from_the_default_start():
    """Zeros (loggamma(0)) and ones (log(1 - p) at p = 1) are both outside this likelihood's domain; the
    default start's third candidate, halves, is inside. At the MLE, p = r / (r + mean(y)) and the score in r,
    sum digamma(y + r) - n digamma(r) + n log(p), is 0."""
    rng = np.random.default_rng(0)
    y = rng.negative_binomial(3, 0.4, 300).astype(float)
    objective = symopt.Objective("loggamma(y+r) - loggamma(r) + r*log(p) + y*log(1-p)", "r p", maximize=True)
    fit = symopt.solve(objective, {"y": y}, progress=False)
    r, p = fit.params["r"], fit.params["p"]
    assert fit.success and p == pytest.approx(r / (r + y.mean()), rel=1e-10)
    score = sum(mpmath.digamma(v + r) for v in y) - y.size * mpmath.digamma(r) + y.size * mpmath.log(p)
    assert abs(float(score)) < 1e-8 * y.size


# --- besseli, erfc, ndtr and log_ndtr (issue 29, item 6) ---------------------------------------------------------

X = sp.Symbol("x", real=True)
K = sp.Symbol("k", positive=True)


def _mp(f, x, dps=30):
    with mpmath.workdps(dps):
        return f(mpmath.mpf(float(x)))


def test_log_ndtr_differentiates_into_the_inverse_mills_ratio_and_its_gap():
    """d/dx log Phi = phi/Phi = inv_mills, d/dx inv_mills = -inv_mills*inv_mills_gap, d/dx inv_mills_gap =
    1 - inv_mills*inv_mills_gap: checked against mpmath's numerical derivatives of the definitions."""
    assert sp.diff(ndtr(X), X) == sp.exp(-X ** 2 / 2) / sp.sqrt(2 * sp.pi)
    assert sp.diff(log_ndtr(X), X) == inv_mills(X)
    assert sp.diff(log_ndtr(X), X, 2) == -inv_mills(X) * inv_mills_gap(X)
    definitions = {ndtr: mpmath.ncdf, log_ndtr: lambda v: mpmath.log(mpmath.ncdf(v)),
                   inv_mills: lambda v: mpmath.npdf(v) / mpmath.ncdf(v),
                   inv_mills_gap: lambda v: v + mpmath.npdf(v) / mpmath.ncdf(v)}
    with mpmath.workdps(40):
        for f, definition in definitions.items():
            for v in (-30.0, -4.0, -0.3, 0.7, 6.0):
                symbolic = sp.N(sp.diff(f(X), X).subs(X, sp.Float(v, 40)), 30)
                numeric = mpmath.diff(definition, mpmath.mpf(v))
                assert abs(float((mpmath.mpf(str(symbolic)) - numeric) / numeric)) < 1e-25, (f, v)
    assert (ndtr(0), log_ndtr(0), inv_mills(0), inv_mills_gap(0)) == (
        sp.Rational(1, 2), -sp.log(2), sp.sqrt(2 / sp.pi), sp.sqrt(2 / sp.pi))
    assert ndtr(X).rewrite(sp.erfc) == sp.erfc(-X / sp.sqrt(2)) / 2
    assert log_ndtr(X).is_real and log_ndtr(X).is_negative and inv_mills_gap(X).is_positive


def test_log_ndtr_evaluates_in_both_tails():
    """sp.N to 20 digits: log Phi(-40) and log Phi(10), which log(Phi) in doubles would make -inf and 0."""
    assert float(sp.N(log_ndtr(-40), 20)) == pytest.approx(-804.6084420137538, rel=1e-15)
    assert float(sp.N(log_ndtr(10), 20)) == pytest.approx(float(_mp(lambda v: -mpmath.ncdf(-v), 10)), rel=1e-15)
    assert float(sp.N(inv_mills_gap(-40), 20)) == pytest.approx(0.02496884720726372, rel=1e-15)


def test_the_new_functions_read_as_mathematics_in_latex():
    assert latex(ndtr(X)) == r"\Phi\left(x\right)"
    assert latex(log_ndtr(X)) == r"\log\Phi\left(x\right)"
    assert latex(inv_mills(X)) == r"\frac{\varphi\left(x\right)}{\Phi\left(x\right)}"
    assert r"x + \frac{\varphi" in latex(-inv_mills(X) * inv_mills_gap(X))


@pytest.mark.parametrize("expr, printed_as", [
    (sp.log(2 * sp.pi * sp.besseli(0, K)), sp.log(2 * sp.pi * besseli_scaled(0, K)) + K),
    (sp.besseli(1, K) / sp.besseli(0, K), besseli_scaled(1, K) / besseli_scaled(0, K)),
    (sp.diff(sp.log(sp.besseli(0, K)), K, 2),
     sp.diff(sp.log(sp.besseli(0, K)), K, 2).replace(sp.besseli, besseli_scaled)),
    (sp.besseli(0, K) + 1, sp.exp(K) * besseli_scaled(0, K) + 1),
    (sp.besseli(1, X) * X, besseli_scaled(1, X) * X * sp.exp(sp.Abs(X))),
    (sp.cos(X) + sp.log(X), sp.cos(X) + sp.log(X)),
])
def test_besseli_is_printed_scaled_with_only_the_exponentials_that_do_not_cancel(expr, printed_as):
    """The von Mises objective, its gradient and its Hessian (homogeneous of degree 0 in besseli(., k)) keep no
    exponential; a sum of terms of different degrees keeps one per besseli; no besseli, no change."""
    assert scaled_bessel(expr) == printed_as


def test_numpy_evaluation_of_besseli_past_its_overflow():
    """besseli(0, 800) is past the largest double; its log and the ratio in the von Mises gradient are not."""
    log_i0 = sp.log(sp.besseli(0, K))
    ratio = sp.besseli(1, K) / sp.besseli(0, K)
    for k in (0.5, 8.5, 800.0, 1e5):
        for expr in (log_i0, ratio):
            reference = float(_mp(lambda v: sp.lambdify(K, expr, "mpmath")(v), k))
            assert evaluate(expr, {K: k}) == pytest.approx(reference, rel=4e-16)
            assert float(evaluate(expr, {K: mpmath.mpf(k)}, "mpmath")) == pytest.approx(reference, rel=1e-15)
    assert evaluate(sp.besseli(0, K), {K: 800.0}) == math.inf
    got = evaluate(sp.log(sp.besseli(0, X)), {X: np.array([1.0, 750.0, -750.0])})  # |x| for a real x
    assert np.all(np.isfinite(got)) and got[1] == got[2]


def test_besseli_orders_without_a_numeric_form_are_refused_by_name():
    with pytest.raises(PrinterError, match="besseli of order 4"):
        print_block([sp.besseli(4, K)], {K: "k"})
    with pytest.raises(PrinterError, match="besseli of order 1/2"):
        print_block([sp.besseli(sp.Rational(1, 2), K)], {K: "k"})


@pytest.fixture(scope="module")
def helpers_objective():
    """An objective whose Newton module holds every new helper: _ive, _ndtr, _log_ndtr, _inv_mills, _inv_mills_gap."""
    return symopt.Objective("besseli(1, a*x) + ndtr(b*x) + log_ndtr(a + b*x)", "a b")


def _helpers(objective, backend):
    problem = symopt.Problem(objective, optimizer=symopt.Newton(), method="iterative", backend=backend)
    for name in ("_ive", "_ndtr", "_log_ndtr", "_inv_mills", "_inv_mills_gap", "_mills_tail", "_chebyshev"):
        assert f"def {name}(" in problem.source
    assert "_digamma" not in problem.source
    return problem._compiled(symopt.Newton(), backend)[1]


#: Across the splits (8 for the Bessel series; -5 and 0 for log_ndtr and the Mills ratio) and into the tails.
BESSEL_X = np.concatenate([[0.0, 1e-300, 1e-9], np.linspace(1e-3, 40.0, 801), [7.999999999, 8.0, 8.000000001],
                           np.geomspace(40.0, 1e7, 80)])
NORMAL_X = np.concatenate([-np.geomspace(1e-8, 1e3, 300), [0.0, -5.000000001, -5.0, -4.999999999, -37.5, -40.0],
                           np.geomspace(1e-8, 37.0, 150)])
#: The references, at 30 digits (log Phi for x > 0 as log1p(-Phi(-x)): it is 1 - 5e-198 at 30).
NORMAL = {
    "_ndtr": mpmath.ncdf,
    "_log_ndtr": lambda v: mpmath.log1p(-mpmath.ncdf(-v)) if v > 0 else mpmath.log(mpmath.ncdf(v)),
    "_inv_mills": lambda v: mpmath.npdf(v) / mpmath.ncdf(v),
    "_inv_mills_gap": lambda v: v + mpmath.npdf(v) / mpmath.ncdf(v),
}


def _ulps(got: float, reference) -> float:
    return float(abs((got - reference) / reference)) / np.finfo(float).eps


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_generated_besseli_matches_mpmath_and_scipy(helpers_objective, backend):
    """_ive(n, x) = exp(-|x|) I_n(x) within 4.5 ulp (1e-15) of mpmath at 30 digits for orders 0 to 3, both signs
    of x, to 1e7; I_0 and I_1 within 3e-15 of SciPy's i0, i1, i0e and i1e over [0, 700] (the two libraries'
    errors together)."""
    from scipy import special

    module = _helpers(helpers_objective, backend)
    for order in range(4):
        for x in np.concatenate([BESSEL_X, -BESSEL_X]):
            reference = _mp(lambda v: mpmath.besseli(order, v) * mpmath.exp(-abs(v)), x)
            got = module._ive(order, float(x))
            if abs(reference) < 1e-300:  # orders 2 and 3 underflow near 0, as the exact values do
                assert abs(got) < 1e-290
            else:
                assert _ulps(got, reference) < 4.5, (order, x, got)
    xs = np.linspace(0.0, 700.0, 7001)
    for order, plain, scaled in ((0, special.i0, special.i0e), (1, special.i1, special.i1e)):
        ours = np.array([module._ive(order, float(x)) for x in xs])
        np.testing.assert_allclose(ours, scaled(xs), rtol=3e-15)
        np.testing.assert_allclose(ours * np.exp(xs), plain(xs), rtol=3e-15)
        np.testing.assert_allclose(ours, special.ive(order, xs), rtol=3e-15)
    assert module._ive(0, math.inf) == 0.0 and math.isnan(module._ive(1, math.nan))


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_generated_normal_cdf_helpers_match_mpmath(helpers_objective, backend):
    """At 30 digits over [-1000, 37]: within 4 ulp where the function is well conditioned, and otherwise
    within its conditioning (|x f'/f| ulp: the rounding of x*x or x/sqrt(2) inside exp and erfc, which moves
    the argument by an ulp): log Phi(-40) = -804.608442013753... to 1e-14, log Phi(10) = -7.6e-24 (not 0), the
    inverse Mills ratio about -x where phi/Phi written out is 0/0, and its gap about -1/x."""
    module = _helpers(helpers_objective, backend)
    for name, reference_of in NORMAL.items():
        helper = getattr(module, name)
        for x in NORMAL_X:
            reference = _mp(reference_of, x)
            if abs(reference) < 1e-300:  # Phi below -37.5: subnormal, then 0
                assert abs(helper(float(x))) < 1e-300
                continue
            slope = _mp(lambda v: mpmath.diff(reference_of, v), x)
            conditioning = float(abs(x * slope / reference))
            assert _ulps(helper(float(x)), reference) < 4 + 2 * conditioning, (name, x)
    assert module._log_ndtr(-40.0) == pytest.approx(-804.6084420137538, rel=1e-14)
    assert module._log_ndtr(10.0) == pytest.approx(-7.619853024160527e-24, rel=1e-14)
    assert module._inv_mills(-1e200) == 1e200 and module._inv_mills_gap(-1e200) == pytest.approx(1e-200, rel=1e-15)
    assert (module._log_ndtr(-math.inf), module._ndtr(-math.inf), module._inv_mills_gap(-math.inf)) == (
        -math.inf, 0.0, 0.0)
    assert all(math.isnan(getattr(module, name)(math.nan)) for name in NORMAL)


def test_the_two_backends_compute_the_helpers_alike(helpers_objective):
    python, numba = _helpers(helpers_objective, "python"), _helpers(helpers_objective, "numba")
    for x in np.concatenate([NORMAL_X, BESSEL_X, -BESSEL_X]):
        for name in NORMAL:
            assert getattr(python, name)(float(x)) == pytest.approx(getattr(numba, name)(float(x)), rel=2e-16, abs=0)
        for order in range(4):
            assert python._ive(order, float(x)) == pytest.approx(numba._ive(order, float(x)), rel=2e-16, abs=0)


@pytest.fixture(scope="module")
def von_mises():
    m = symopt.params("m")
    kappa = symopt.params("kappa", positive=True)
    objective = symopt.Objective("-(kappa*cos(x - m) - log(2*pi*besseli(0, kappa)))", [m, kappa], likelihood=True)
    return objective, {"x": np.random.default_rng(0).vonmises(0.7, 4.0, 500)}


def test_von_mises_maximum_likelihood_matches_scipy(von_mises):
    """The location and concentration of 500 draws: scipy.stats.vonmises.fit(x, fscale=1)'s, on both backends
    (Newton on the value, gradient I_1/I_0 and Hessian printed through the scaled besseli); the gradient
    passes the central-difference and Taylor checks on both backends."""
    stats = pytest.importorskip("scipy.stats")
    objective, data = von_mises
    kappa, loc, scale = stats.vonmises.fit(data["x"], fscale=1)
    fits = [symopt.solve(objective, data, backend=b, progress=False) for b in ("python", "numba")]
    for fit in fits:
        assert fit.success and isinstance(fit.optimizer, symopt.Newton), fit.message
        assert fit.params["m"] == pytest.approx(loc, abs=1e-6) and scale == 1
        assert fit.params["kappa"] == pytest.approx(kappa, rel=1e-6)
        # and it is the maximum: scipy's point is no better on symopt's objective (the mean negative log-likelihood)
        assert fit.fun <= -stats.vonmises.logpdf(data["x"], kappa, loc=loc).mean() + 1e-12
    np.testing.assert_allclose(fits[0].x, fits[1].x, rtol=1e-12)
    away = {"m": 0.2, "kappa": 2.5}  # from the optimum, where the gradient is 0 and relative errors mean nothing
    check = symopt.check_gradient(symopt.Problem(objective, backend="python"), data, params=away)
    assert check.ok and [c.backend for c in check.checks] == ["python", "numba"], str(check)


def test_von_mises_objective_stays_finite_past_besseli_overflow(von_mises):
    """At kappa = 800, I_0(kappa) is past the largest double; the objective, its gradient and its Hessian are
    not, on both backends and the NumPy evaluation, and agree with mpmath."""
    objective, data = von_mises
    x = data["x"][:5]
    point = {"m": 0.7, "kappa": 800.0}
    with mpmath.workdps(30):
        def loss(m, k):
            return mpmath.fsum(-(k * mpmath.cos(v - m) - mpmath.log(2 * mpmath.pi * mpmath.besseli(0, k)))
                               for v in x) / len(x)
        reference = [loss(0.7, 800), mpmath.diff(lambda m: loss(m, 800), 0.7), mpmath.diff(lambda k: loss(0.7, k), 800)]
    for backend in ("python", "numba"):
        value, grad = symopt.Problem(objective, backend=backend).value_and_grad({"x": x}, point)
        got = [value, grad["m"], grad["kappa"]]
        assert np.all(np.isfinite(got)), backend
        np.testing.assert_allclose(got, [float(r) for r in reference], rtol=1e-12, atol=1e-12)


def _probit_data(scale: float, seed: int):
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, scale, 400)
    eta = 0.3 + 1.5 * x
    y = (rng.uniform(size=x.size) < np.array([float(mpmath.ncdf(v)) for v in eta])).astype(float)
    return {"x": x, "y": y}, eta


@pytest.mark.parametrize("scale", [1.0, 8.0], ids=["moderate", "tails"])
def test_probit_maximum_likelihood_matches_statsmodels(scale):
    """y*log_ndtr(eta) + (1 - y)*log_ndtr(-eta): statsmodels' Probit params and standard errors to 1e-8, on data
    whose linear predictor stays within 5 and on data where it reaches past 30 (log Phi and the inverse Mills
    ratio in their far tails: written out as log(Phi) and phi/Phi they are -inf and 0/0 there)."""
    sm = pytest.importorskip("statsmodels.api")
    objective = symopt.Objective("-(y*log_ndtr(a + b*x) + (1 - y)*log_ndtr(-(a + b*x)))", "a b", likelihood=True)
    data, eta = _probit_data(scale, seed=2)
    assert (np.abs(eta).max() > 30) == (scale > 1)
    reference = sm.Probit(data["y"], sm.add_constant(data["x"])).fit(disp=0, tol=1e-12)
    for backend in ("python", "numba"):
        fit = symopt.solve(objective, data, backend=backend, progress=False)
        assert fit.success, fit.message
        eta_fit = fit.params["a"] + fit.params["b"] * data["x"]
        assert (np.abs(eta_fit).max() > 10) == (scale > 1)
        np.testing.assert_allclose([fit.params["a"], fit.params["b"]], reference.params, rtol=1e-8)
        np.testing.assert_allclose([fit.stderr["a"], fit.stderr["b"]], reference.bse, rtol=1e-8)
    away = {"a": 0.1, "b": 2.0}  # from the optimum
    check = symopt.check_gradient(symopt.Problem(objective, backend="python"), data, params=away)
    assert check.ok and [c.backend for c in check.checks] == ["python", "numba"], str(check)

"""The derivatives of loggamma (digamma, trigamma): NumPy evaluation, the generated helpers on both backends,
and the Gamma maximum-likelihood fit they make possible (it failed in the printer before)."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import sympy as sp

import symopt
from symopt.errors import PrinterError
from symopt.symbolic.numeric import _np_polygamma
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

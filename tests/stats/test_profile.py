"""Profile-likelihood intervals (issue 12 item 3): the statistic equals its quantile at each endpoint, they are
the t interval for a linear model, and they lean the right way where the likelihood is skewed."""

from __future__ import annotations

import math

import numpy as np
import pytest

import symopt
from symopt.numerics.distributions import chi2_quantile, f_quantile
from symopt.errors import ModelError


def test_a_linear_model_profiles_to_its_t_interval(rng):
    x = rng.uniform(0, 3, 40)
    r = symopt.solve(symopt.squared_loss(symopt.Model("a + b*x", "a b")), {"x": x, "y": 1 + 2 * x + rng.normal(size=40)})
    profile, wald = r.conf_int(method="profile"), r.conf_int()
    for name in ("a", "b"):
        np.testing.assert_allclose(profile[name], wald[name], rtol=1e-9)  # F(1, d) = t(d)^2


def test_the_exponential_rate_interval_solves_the_likelihood_ratio_equation_and_leans_right(rng):
    lam = symopt.params("lam", positive=True)
    z = rng.exponential(1 / 3.0, 30)
    r = symopt.solve(symopt.Objective("log(lam) - lam*x", [lam], maximize=True, likelihood=True), {"x": z})
    p = r.profile()["lam"]
    n, estimate, q = z.size, r.params["lam"], chi2_quantile(0.95, 1)
    for end in (p.low, p.high):
        assert 2 * n * (math.log(estimate / end) - 1 + end / estimate) == pytest.approx(q, rel=1e-6)
    low, high = r.conf_int()["lam"]
    assert p.low > low and p.high > high  # the likelihood of a rate is skewed to the right
    assert p.statistic == "likelihood ratio" and p.notes == ()


def test_a_nonlinear_profile_refits_the_other_parameters(rng):
    x = rng.uniform(0, 3, 40)
    y = 2 * np.exp(-0.7 * x) + 0.05 * rng.normal(size=40)
    r = symopt.solve(symopt.squared_loss(symopt.Model("a*exp(-b*x)", "a b")), {"x": x, "y": y}, progress=False)
    q = f_quantile(0.95, 1, r.dof)
    for name, p in r.profile().items():
        assert p.at_low == pytest.approx(q, rel=1e-6) and p.at_high == pytest.approx(q, rel=1e-6)
        # the F statistic at the endpoint, recomputed from a fit with the parameter held there
        other = "b" if name == "a" else "a"
        fit = symopt.solve(symopt.squared_loss(symopt.Model("a*exp(-b*x)", "a b")), {"x": x, "y": y},
                           fixed={name: p.high}, x0={other: r.params[other]}, progress=False)
        assert (fit.fun / r.fun - 1) * r.dof == pytest.approx(q, rel=1e-6)
        assert p.low < r.params[name] < p.high


def test_an_open_side_is_infinite_with_a_note():
    """exp(-a) fitted to data near 0: the fit barely changes as a grows, so the upper side never closes."""
    a = symopt.params("a")
    x = np.array([0.0, 0.001, -0.001, 0.002, -0.002, 0.0005])
    r = symopt.solve(symopt.Objective("(x - exp(-a))**2", [a]), {"x": x}, x0={"a": 3.0})
    p = r.profile()["a"]
    assert p.high == math.inf and any("open" in note for note in p.notes)
    assert math.isfinite(p.low) and p.low < r.params["a"]


def test_profile_intervals_need_standard_errors(rng):
    X = rng.normal(size=(30, 2))
    ridge = symopt.solve(symopt.squared_loss(symopt.LinearModel(), l2=0.5), (X, X @ [1.0, 2.0]))
    with pytest.raises(ModelError, match="no profile interval: a ridge penalty"):
        ridge.conf_int(method="profile")


@pytest.mark.parametrize("model, truth", [("a + b*x", lambda x: 3.0 + 0.5 * x),
                                          ("a*exp(b*x)", lambda x: 2.0 * np.exp(0.3 * x))])
def test_an_exact_fit_has_point_intervals_with_the_note(model, truth):
    """Issue 26 item 23: where the Wald intervals are points (standard errors of 0), so are the profile
    intervals (they were (-inf, inf), "did not converge"), and conf_int's result says why."""
    x = np.arange(6.0)
    r = symopt.solve(symopt.squared_loss(symopt.Model(model, "a b")), {"x": x, "y": truth(x)}, progress=False)
    wald, profile = r.conf_int(), r.conf_int(method="profile")
    for name in ("a", "b"):
        low, high = profile[name]
        assert math.isfinite(low) and math.isfinite(high)
        assert low == pytest.approx(r.params[name], rel=1e-14) and high == pytest.approx(r.params[name], rel=1e-14)
        assert profile[name] == wald[name]
        assert r.profile()[name].solves == 0
    assert len(profile.notes) == 1 and "an exact fit" in profile.notes[0] and "Wald" in profile.notes[0]
    assert "an exact fit" in repr(profile)
    if model == "a + b*x":  # RSS = 0 exactly: the Wald intervals say so too
        assert "an exact fit (RSS = 0)" in wald.notes[0] and profile == {"a": (3.0, 3.0), "b": (0.5, 0.5)}


def test_a_profile_side_left_open_is_noted_in_conf_int():
    a = symopt.params("a")
    x = np.array([0.0, 0.001, -0.001, 0.002, -0.002, 0.0005])
    r = symopt.solve(symopt.Objective("(x - exp(-a))**2", [a]), {"x": x}, x0={"a": 3.0})
    intervals = r.conf_int(method="profile")
    assert intervals["a"][1] == math.inf
    assert any(note.startswith("a: upper side") and "open" in note for note in intervals.notes)

"""ties=: parameters defined as expressions of others (lmfit's ``expr``; issue 29 item 5), substituted before
deriving, with the tied parameters' standard errors by the delta method (lmfit issue 855)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import scipy.optimize

import lineshapes
import symopt
from symopt.errors import ModelError

SPLIT_TIES = symopt.ties({"cen_l": "peak_split + cen_g", "wid_l": "wid_g"}, new="peak_split")


@pytest.fixture(scope="module")
def peaks():
    return lineshapes.data()


@pytest.fixture(scope="module")
def tied_fit(peaks):
    """lmfit's way in symopt: the helper parameter peak_split bounded to [0, 5], cen_l and wid_l tied."""
    return symopt.solve(lineshapes.objective(), peaks, ties=SPLIT_TIES, bounds={"peak_split": (0, 5)},
                        x0={**lineshapes.START, "peak_split": 2.5}, progress=False)


@pytest.fixture(scope="module")
def decay():
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 4, 60)
    return {"x": x, "y": 2.0 * np.exp(-0.6 * x) + 0.03 * rng.normal(size=60)}


def test_the_derivation_sees_only_the_free_parameters(tied_fit):
    problem = symopt.Problem(lineshapes.objective(), ties=SPLIT_TIES, bounds={"peak_split": (0, 5)})
    assert problem.objective.param_names == ("amp_g", "amp_l", "cen_g", "wid_g", "peak_split")
    names = {s.name for s in problem.objective.per_sample.free_symbols}
    assert "cen_l" not in names and "wid_l" not in names and "peak_split" in names
    assert len(problem.derivation.gradient) == 5
    r = tied_fit
    assert r.success and r.x_names == ("amp_g", "amp_l", "cen_g", "wid_g", "peak_split")
    assert list(r.params) == ["amp_g", "amp_l", "cen_g", "cen_l", "wid_g", "wid_l", "peak_split"]
    assert r.params["cen_l"] == pytest.approx(r.params["cen_g"] + r.params["peak_split"], rel=1e-15)
    assert r.params["wid_l"] == r.params["wid_g"]
    assert dict(r.tied) == {"cen_l": "peak_split + cen_g", "wid_l": "wid_g"}
    assert "tied: cen_l = cen_g + peak_split" in str(r)
    assert "= cen_g + peak_split" in str(r.summary())


def test_lmfit_fit_with_inequality_params_and_tied_standard_errors(peaks, tied_fit):
    pytest.importorskip("lmfit")
    out = lineshapes.lmfit_fit(peaks)
    r = tied_fit
    for name in r.params:
        assert r.params[name] == pytest.approx(out.params[name].value, rel=1e-7), name
        # the tied ones (cen_l, wid_l) by the delta method, as lmfit propagates them through `uncertainties`
        assert r.stderr[name] == pytest.approx(out.params[name].stderr, rel=1e-6), name


def test_the_example_against_scipy_without_lmfit(peaks, tied_fit):
    """The same optimum from SciPy's least_squares on the NumPy model (the peer where lmfit is absent)."""
    def residual(t):
        amp_g, amp_l, cen_g, wid_g, split = t
        return peaks["y"] - lineshapes.gaussian(peaks["x"], amp_g, cen_g, wid_g) - \
            lineshapes.lorentzian(peaks["x"], amp_l, cen_g + split, wid_g)

    ref = scipy.optimize.least_squares(residual, [10, 10, 5, 1, 2.5], bounds=([-np.inf] * 4 + [0], [np.inf] * 4 + [5]),
                                       xtol=1e-15, ftol=1e-15, gtol=1e-15)
    np.testing.assert_allclose(tied_fit.x, ref.x, rtol=1e-7)
    J = ref.jac
    s2 = ref.fun @ ref.fun / (len(ref.fun) - 5)
    cov = s2 * np.linalg.pinv(J.T @ J)
    g = np.array([0, 0, 1, 0, 1.0])  # cen_l = cen_g + peak_split
    assert tied_fit.stderr["cen_l"] == pytest.approx(np.sqrt(g @ cov @ g), rel=1e-5)


def test_a_nonlinear_tie_gives_the_directly_fitted_standard_error(decay):
    """b tied to exp(c): its delta-method standard error is the one of b fitted directly (the covariance is
    formed from the exact Jacobian, which the chain rule carries exactly), which is curve_fit's."""
    objective = symopt.squared_loss(symopt.Model("a*exp(-b*x)", "a b"))
    direct = symopt.solve(objective, decay, progress=False)
    tied = symopt.solve(objective, decay, ties=symopt.ties({"b": "exp(c)"}, new="c"), x0={"a": 1.0, "c": 0.0},
                        progress=False)
    popt, pcov = scipy.optimize.curve_fit(lambda x, a, b: a * np.exp(-b * x), decay["x"], decay["y"], p0=[1, 1])
    assert tied.params["b"] == pytest.approx(popt[1], rel=1e-7)
    assert tied.params["b"] == pytest.approx(np.exp(tied.params["c"]), rel=1e-15)
    assert tied.stderr["b"] == pytest.approx(direct.stderr["b"], rel=1e-7)
    assert tied.stderr["b"] == pytest.approx(np.sqrt(pcov[1, 1]), rel=1e-6)
    assert tied.stderr["c"] == pytest.approx(tied.stderr["b"] / tied.params["b"], rel=1e-7)


def test_a_linear_tie_scales_the_standard_error_and_chains_resolve(decay):
    objective = symopt.squared_loss(symopt.Model("a1*exp(-b*x) + a2*exp(-3*b*x)", "a1 a2 b"))
    r = symopt.solve(objective, decay, ties={"a2": "2*a1"}, progress=False)
    assert r.params["a2"] == pytest.approx(2 * r.params["a1"], rel=1e-15)
    assert r.stderr["a2"] == pytest.approx(2 * r.stderr["a1"], rel=1e-12)
    intervals = r.conf_int()  # Wald, from the delta-method standard error: twice a1's
    assert list(intervals) == ["a1", "a2", "b"]
    np.testing.assert_allclose(intervals["a2"], 2 * np.asarray(intervals["a1"]), rtol=1e-12)
    assert "tied: = 2*a1" in str(r.summary())
    # the same fit written out by hand
    written = symopt.solve(symopt.squared_loss(symopt.Model("a1*exp(-b*x) + 2*a1*exp(-3*b*x)", "a1 b")), decay,
                           progress=False)
    np.testing.assert_allclose(r.x, written.x, rtol=1e-9)
    np.testing.assert_allclose(r.predict({"x": np.array([0.5, 1.0])}), written.predict({"x": np.array([0.5, 1.0])}),
                               rtol=1e-9)
    three = symopt.squared_loss(symopt.Model("a*exp(-b*x) + c + d", "a b c d"))
    chained = symopt.solve(three, decay, ties={"c": "d", "d": "0.1*a"}, progress=False)
    assert chained.params["c"] == pytest.approx(0.1 * chained.params["a"], rel=1e-15)
    assert chained.x_names == ("a", "b")


def test_a_tie_may_read_a_fixed_parameter_and_the_result_pickles(decay):
    objective = symopt.squared_loss(symopt.Model("a*exp(-b*x) + c + d", "a b c d"))
    problem = symopt.Problem(objective, ties={"d": "c/2"}, fixed={"c": 0.0})
    for c in (0.02, 0.04):
        r = problem.solve(decay, fixed={"c": c}, progress=False)
        assert r.params["d"] == pytest.approx(c / 2, rel=1e-15) and r.params["c"] == c
        assert r.stderr["d"] == 0.0  # a fixed parameter has no variance
    back = pickle.loads(pickle.dumps(r))
    assert back.params == r.params and dict(back.tied) == {"d": "c/2"} and back.stderr["d"] == 0.0


@pytest.mark.parametrize("ties, kwargs, words", [
    ({"a": "b", "b": "a"}, {}, "circular (a -> b -> a)"),
    ({"a": "2*a"}, {}, "circular (a -> a)"),
    ({"a": "bb"}, {}, "'bb', which is not a parameter"),
    ({"a": "x"}, {}, "'x', which is data"),
    ({"q": "a"}, {}, "ties names 'q', which is not a parameter"),
    ({"a": "1.5"}, {}, "reads no parameter"),
    ({"a": 1.5}, {}, "fixed={'a': 1.5}"),
    ({"a": "__import__('os')"}, {}, "cannot be read"),
    ({"a": "b"}, {"fixed": {"a": 1.0}}, "both fixed"),
    ({"a": "b"}, {"bounds": {"a": (0, 1)}}, "'a' is tied"),
    ({"a": "b", "b": "c", "c": "2*a"}, {}, "circular"),
    ({"a": "c", "b": "c"}, {"fixed": {"c": 1.0}}, "every parameter is tied or fixed"),
])
def test_bad_ties_are_clear_errors(ties, kwargs, words):
    objective = symopt.squared_loss(symopt.Model("a*exp(-b*x) + c", "a b c"))
    with pytest.raises(ModelError) as err:
        symopt.Problem(objective, ties=ties, **kwargs)
    assert words in str(err.value)


def test_ties_that_are_refused_by_the_model():
    with pytest.raises(ModelError, match="ties= applies to the named parameters"):
        symopt.Problem(symopt.squared_loss(symopt.LinearModel()), ties={"intercept": "coef"})
    with pytest.raises(ModelError, match="no longer appear"):
        symopt.Problem(symopt.squared_loss(symopt.Model("a*x - b*x + c", "a b c")), ties={"b": "a"})
    with pytest.raises(ModelError, match="which the objective already has"):
        symopt.Problem(symopt.squared_loss(symopt.Model("a*x + b", "a b")),
                       ties=symopt.ties({"a": "2*b"}, new="b"))
    with pytest.raises(ModelError, match="no tie reads"):
        symopt.Problem(symopt.squared_loss(symopt.Model("a*x + b", "a b")), ties=symopt.ties({"a": "2*b"}, new="z"))


def test_a_parameter_declared_positive_keeps_its_sign_under_its_tie():
    a = symopt.params("a")
    s1, s2 = symopt.params("s1 s2", positive=True)
    model = symopt.Model(a * symopt.parse_expression("x") / s1 + s2 * symopt.parse_expression("x")**2, [a, s1, s2])
    problem = symopt.Problem(symopt.squared_loss(model), ties={"s2": "2*s1"})  # positive: kept
    assert problem.objective.param_names == ("a", "s1") and problem.box == {"s1": (0.0, None)}
    with pytest.raises(ModelError, match=r"s2 is declared positive, and its tie s1 - 1 .*constraints=\['s1 - 1 >= 0'\]"):
        symopt.Problem(symopt.squared_loss(model), ties={"s2": "s1 - 1"})
    with pytest.raises(ModelError, match=r"constraints=\['s1 >= 0', 's1 <= 2'\]"):
        symopt.Problem(symopt.squared_loss(model), ties={"a": "s1"}, bounds={"a": (0, 2)})

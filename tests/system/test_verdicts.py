"""Verdicts that tell the truth (issue 26, items 3, 4, 5, 8, 15, 17 and 28): "probably global" only where no
sampled point says otherwise, no ridge among the optima, no stall called at an exact fit, many starts drawn
lazily and bounded, kinks named, no NumPy warnings from symopt's sampling, and a reference that did not
converge reported as such."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import symopt
from symopt.run import starts as starts_module
from symopt.model.data import prepare


# --- item 3: "probably global" on a bad local optimum ------------------------------------------------------


@pytest.fixture(scope="module")
def frequency():
    """sin(4.3 x) with noise 0.05 on 400 points of [0, 6]: from w = 1 the fit ends at w = 1.09, F = 0.97,
    worse than predicting the mean of y everywhere (F = 0.49)."""
    x = np.linspace(0.0, 6.0, 400)
    y = np.sin(4.3 * x) + 0.05 * np.random.default_rng(0).normal(size=400)
    return symopt.Problem(symopt.squared_loss(symopt.Model("sin(w*x)", "w")), backend="python"), {"x": x, "y": y}


def test_a_bad_local_optimum_is_not_called_probably_global(frequency):
    problem, data = frequency
    r = problem.solve(data, x0={"w": 1.0}, progress=False)
    assert r.success and abs(r.params["w"] - 1.09) < 0.01 and r.fun > 0.9  # the local optimum of the issue
    text = str(r)
    assert "probably global" not in text
    assert "the minimum found is not global" in text
    low = r.convexity.lower
    assert low is not None and low.fun < r.fun and low.than == pytest.approx(r.fun, rel=1e-12)
    # the lower point is a fact about F
    assert problem.flat_value_and_grad(prepare(problem.objective, data), low.x)[0] == pytest.approx(low.fun)
    assert "worse than the constant model's (the mean of y" in text


def test_verify_spreads_its_starts_and_a_lower_f_makes_it_not_ok(frequency):
    problem, data = frequency
    v = symopt.verify(problem, data, x0={"w": 1.0}, gradient=False)
    assert not v.ok, str(v)
    assert "reached a lower F" in v.verdict and "only a local optimum" in v.verdict
    first = v.solutions[0]
    assert first.label.endswith("from x0") and first.fun > 0.9
    assert any(s.role == "start" and s.success and s.fun < 0.6 for s in v.solutions)
    assert "worse than the constant model's" in v.verdict
    # from the right frequency, nothing better is found: ok, with the other optima reported as local
    good = symopt.verify(problem, data, x0={"w": 4.3}, gradient=False, starts=3)
    assert good.ok and good.solutions[0].fun < 0.01, str(good)
    assert "constant model" not in good.verdict


def test_the_cauchy_loss_is_not_called_convex():
    """log(1 + r**2) is convex only for |r| <= 1: near a good fit every residual is small, and a check drawn
    near the answer saw only that."""
    x = np.linspace(0.0, 1.0, 50)
    y = 0.5 * x + 0.1 * np.random.default_rng(0).normal(size=50)
    r = symopt.solve(symopt.Objective("log(1 + (y - a*x)**2)", "a"), {"x": x, "y": y}, progress=False,
                     backend="python")
    assert r.success
    assert r.convexity.kind == "non-convex" and r.convexity.witness is not None, str(r.convexity)
    assert "probably global" not in str(r)


def test_spread_points_cover_ten_times_the_scale_and_keep_positive_parameters_positive():
    lam = symopt.params("lam", positive=True)
    objective = symopt.Objective("log(lam) - lam*x + b*x", [lam, symopt.params("b")], maximize=True)
    dataset = prepare(objective, {"x": [0.5, 1.0]})
    around = np.array([2.0, -3.0])
    drawn = np.array(list(starts_module.spread_points(objective.form, dataset, around, 400,
                                                      np.random.default_rng(0))))
    assert np.all(drawn[:, 0] > 0)
    assert drawn[:, 0].min() < 2.0 / 5 and drawn[:, 0].max() > 2.0 * 5  # log-uniform on [2/11, 22]
    assert drawn[:, 0].min() >= 2.0 / 11 and drawn[:, 0].max() <= 22.0
    assert drawn[:, 1].min() < -3.0 - 25 and drawn[:, 1].max() > -3.0 + 25  # uniform on -3 +- 30
    assert np.all(np.abs(drawn[:, 1] + 3.0) <= 30.0)
    bounded = np.array(list(starts_module.spread_points(objective.form, dataset, around, 100,
                                                        np.random.default_rng(0),
                                                        (np.array([0.0, -4.0]), np.array([3.0, 10.0])))))
    assert np.all((bounded[:, 0] > 0) & (bounded[:, 0] <= 3.0))
    assert np.all((bounded[:, 1] >= -4.0) & (bounded[:, 1] <= 10.0))


def test_the_constant_model_is_the_mean_or_the_base_rate():
    from symopt.stats.baseline import constant_loss

    y = np.array([0.0, 1.0, 1.0, 1.0])
    logistic = symopt.log_loss(symopt.Model("a + b*x", "a b"))
    F, what = constant_loss(logistic, prepare(logistic, {"x": np.arange(4.0), "y": y}))
    assert F == pytest.approx(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25))) and "base rate" in what
    weighted = symopt.squared_loss(symopt.Model("a*x", "a"), weights="w", reduction="sum")
    F, what = constant_loss(weighted, prepare(weighted, {"x": np.arange(4.0), "y": [1.0, 2.0, 3.0, 4.0],
                                                         "w": [1.0, 1.0, 0.0, 2.0]}))
    m = (1 + 2 + 8) / 4
    assert F == pytest.approx((1 - m) ** 2 + (2 - m) ** 2 + 2 * (4 - m) ** 2) and "weighted mean" in what
    assert constant_loss(symopt.Objective("(y - a)**2", "a"), None) is None  # a custom objective: no model


# --- item 4: a ridge is no optimum ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def amplitude_frequency():
    x = np.linspace(0.0, 5.0, 60)
    y = 2.0 * np.sin(1.3 * x) + 0.1 * np.random.default_rng(1).normal(size=60)
    return symopt.Problem(symopt.squared_loss(symopt.Model("a*sin(b*x)", "a b")), backend="python"), {"x": x, "y": y}


def test_a_ridge_is_not_listed_among_the_optima(amplitude_frequency):
    """One of 20 starts ran off to a = 3e7, b = -5.7e-9 (the line (a*b)*x), stopped at the precision floor
    with a zero gradient, and was listed as a distinct optimum."""
    problem, data = amplitude_frequency
    r = problem.solve(data, starts=20, seed=0, progress=False)
    assert r.success and r.starts == 20
    assert all(np.max(np.abs(o.x)) < 1e3 for o in r.optima), [str(o) for o in r.optima]
    assert sum(o.count for o in r.optima) == 19 and "1 failed (1 ridge)" in r.message
    ridge = problem.solve(data, x0=[0.25650075, 0.07827462], progress=False)  # that start
    assert not ridge.success and ridge.status == "ridge", ridge.message
    assert "ran off" in ridge.message and "starts=20" in ridge.message and abs(ridge.params["a"]) > 1e6


# --- item 5: exact fits are not "stalled" --------------------------------------------------------------------


@pytest.fixture(scope="module")
def calibration():
    x = np.linspace(0.0, 2.0, 40)
    return x, 1.5 * np.exp(0.8 * x) + 1e-9 * np.random.default_rng(0).normal(size=40)


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_an_exact_fit_converges_with_the_standard_errors_of_curve_fit(calibration, backend):
    from scipy.optimize import curve_fit

    x, y = calibration
    r = symopt.solve(symopt.squared_loss(symopt.Model("a*exp(b*x)", "a b")), {"x": x, "y": y}, progress=False,
                     backend=backend)
    assert r.success and r.status.startswith("converged"), r.message
    p, cov = curve_fit(lambda x, a, b: a * np.exp(b * x), x, y, p0=[1.0, 1.0])
    assert [r.params["a"], r.params["b"]] == pytest.approx(p, rel=1e-12)
    assert [r.stderr["a"], r.stderr["b"]] == pytest.approx(np.sqrt(np.diag(cov)), rel=1e-5)


def test_a_linear_model_solved_iteratively_at_an_exact_fit_converges(calibration):
    x, _ = calibration
    y = 1.0 + 2.0 * x + 1e-9 * np.random.default_rng(2).normal(size=x.size)
    r = symopt.solve(symopt.squared_loss(symopt.Model("a + b*x", "a b")), {"x": x, "y": y}, method="iterative",
                     progress=False, backend="python")
    assert r.success and r.status.startswith("converged"), r.message
    assert r.params["b"] == pytest.approx(2.0, abs=1e-8)


def test_the_gradient_rounding_level_scales_with_the_parameters_not_with_f(calibration):
    from symopt.derivation.task import Task
    from symopt.run.stationary import gradient_rounding

    x, y = calibration
    objective = symopt.squared_loss(symopt.Model("a*exp(b*x)", "a b"))
    dataset = prepare(objective, {"x": x, "y": y})
    level = gradient_rounding(Task(objective, symopt.derive(objective), dataset), np.array([1.5, 0.8]))
    # F is 1e-18 here; theta's own rounding moves the gradient by about |H| eps |theta|, near 1e-14
    assert np.all((level > 1e-16) & (level < 1e-12)), level


# --- item 8: many starts drawn lazily, bounded in number and by max_time -------------------------------------


@pytest.fixture
def counted_draws(monkeypatch, amplitude_frequency):
    """Counts the start draws, and refuses to draw far ahead of the runs (base drew them all first)."""
    problem, data = amplitude_frequency
    form_type = type(problem.objective.form)
    runs, draws = [0], [0]
    original_draw, original_iterate = form_type.draw_start, symopt.Problem._iterate

    def draw(self, dataset, around, rng):
        draws[0] += 1
        if draws[0] > runs[0] + 2:
            raise RuntimeError(f"start {draws[0]} drawn before run {runs[0] + 1}: the starts are not lazy")
        return original_draw(self, dataset, around, rng)

    def iterate(self, *args, **kwargs):
        runs[0] += 1
        return original_iterate(self, *args, **kwargs)

    monkeypatch.setattr(form_type, "draw_start", draw)
    monkeypatch.setattr(symopt.Problem, "_iterate", iterate)
    return problem, data, runs, draws


def test_a_billion_starts_are_refused_up_front(counted_draws):
    problem, data, runs, draws = counted_draws
    with pytest.raises(symopt.ModelError, match="at most 1,000,000"):
        problem.solve(data, starts=10 ** 9, progress=False)
    assert runs[0] == 0 and draws[0] == 0


def test_max_time_ends_a_million_starts_drawn_one_at_a_time(counted_draws):
    problem, data, runs, draws = counted_draws
    problem.solve(data, progress=False)  # the module rendered and loaded: a start takes milliseconds
    runs[0] = 0
    r = problem.solve(data, starts=10 ** 6, max_time=1.0, seed=0, progress=False)
    assert 1 <= r.starts < 10 ** 6 and r.starts == runs[0]
    assert draws[0] <= runs[0]  # the first start is the default one, not drawn
    assert f"max_time ended the call after {r.starts} of 1000000 starts" in r.message
    assert r.success and r.optima  # the best of the starts that ran


# --- item 15: a loss with a kink -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def quantile():
    x = np.linspace(0.0, 4.0, 50)
    y = 1.0 + 2.0 * x + np.random.default_rng(0).normal(size=50)
    return symopt.Objective("abs(y - a - b*x) + 0.4*(y - a - b*x)", "a b"), {"x": x, "y": y}


@pytest.mark.parametrize("optimizer", [None, symopt.LBFGS()], ids=["default", "lbfgs"])
def test_a_quantile_loss_is_not_called_a_plateau(quantile, optimizer):
    objective, data = quantile
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", symopt.ConvergenceWarning)
        r = symopt.solve(objective, data, optimizer=optimizer, progress=False, backend="python")
    assert not r.success and r.status == "not_differentiable", r.message
    assert "plateau" not in r.message and "flat on the data" not in r.message
    assert "not differentiable" in r.message and "squared_loss" in r.message and "pseudo-Huber" in r.message


def test_a_start_on_a_kink_of_the_model_is_not_called_converged():
    """abs(a)*x + c from the default start a = 0: the derivative of abs there is 0 by convention, so the
    gradient "vanishes" at once; the point sits on the kink (every row's argument, a, is 0), not at the fit
    (a = 2, c = 1), and says so instead of converged."""
    x = np.linspace(0.0, 1.0, 30)
    objective = symopt.squared_loss(symopt.Model("abs(a)*x + c", "a c"))
    r = symopt.solve(objective, {"x": x, "y": 2.0 * x + 1.0}, method="iterative", progress=False)
    assert r.status == "not_differentiable" and not r.success and "kinks (abs)" in r.message
    good = symopt.solve(objective, {"x": x, "y": 2.0 * x + 1.0}, x0={"a": 3.0, "c": 0.0}, method="iterative",
                        progress=False)
    assert good.success and abs(good.params["a"]) == pytest.approx(2.0, rel=1e-8)


def test_the_convexity_of_a_piecewise_linear_loss_is_not_called_flat(quantile):
    objective, data = quantile
    c = symopt.convexity(objective, data)
    assert c.kind == "convex" and c.certainty == "numerical", str(c)
    assert "flat (affine)" not in c.reason and "kink" in c.reason


# --- item 17: no NumPy warnings from symopt's sampling --------------------------------------------------------


def test_the_readme_gaussian_likelihood_leaks_no_numpy_warning():
    mu, s2 = symopt.params("mu s2")
    loglik = symopt.Objective("-log(2*pi*s2)/2 - (x - mu)**2/(2*s2)", [mu, s2], maximize=True)
    data = {"x": np.random.default_rng(0).normal(3, 2, 500)}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = symopt.solve(loglik, data)
        text = str(result)  # reads result.convexity: s2 < 0 sampled
        c = symopt.convexity(loglik, data)
    assert "optimum:" in text
    assert "points sampled were skipped (outside the objective's domain" in c.reason, str(c)


# --- item 28: a reference that did not converge is not a disagreement -----------------------------------------


@pytest.fixture(scope="module")
def offset_growth():
    """1.5 exp(0.8 x) + 2: at b = 0 the columns of a and c are equal; SciPy's least_squares from the origin ran
    off along that ridge to a = -8.5e6, c = 8.5e6 here (but not in every environment: rounding decides)."""
    x = np.linspace(0.0, 2.0, 50)
    y = 1.5 * np.exp(0.8 * x) + 2.0 + 0.01 * np.random.default_rng(0).normal(size=50)
    return symopt.squared_loss(symopt.Model("a*exp(b*x) + c", "a b c")), {"x": x, "y": y}


def test_verify_starts_the_reference_where_it_can_converge(offset_growth):
    objective, data = offset_growth
    r = symopt.solve(objective, data, progress=False, backend="python")
    assert r.success
    v = r.verify(gradient=False)
    assert v.ok, str(v)
    ref = v.solutions[-1]
    assert ref.role == "reference" and ref.success and ref.params["c"] == pytest.approx(r.params["c"], rel=1e-6)


def test_a_reference_that_did_not_converge_is_reported_not_compared(offset_growth):
    """A reference that stops short of a stationary point says so, and a verification that holds one reports it
    and compares the rest. The stop is certain by construction: on data on a straight line, a*exp(b*x) + c has no
    minimiser (F falls toward 0 only as b -> 0 with a*b -> the slope). (From the origin on offset_growth's data,
    SciPy ran off along the ridge b = 0, where the columns of a and c are equal, on this machine, but in CI once
    went on to the optimum: which way it goes there is decided by rounding.)"""
    from symopt.trust.references import reference_fit
    from symopt.trust.verify import Solution, _judge, _stationarity

    objective, data = offset_growth
    line = {"x": data["x"], "y": 2.0 + 3.0 * data["x"]}
    problem = symopt.Problem(objective, backend="python")
    on_line = prepare(objective, line)
    judge = _stationarity(problem, on_line, None)
    alone = reference_fit(objective, problem.analysis, on_line, [np.zeros(3)], judge=judge)
    assert alone.x is not None and not alone.converged
    assert "stopped short of a stationary point" in alone.reason, alone.reason
    v = symopt.verify(problem, data, gradient=False, starts=2)
    assert v.ok, str(v)
    assert v.solutions[-1].success and v.solutions[-1].role == "reference"
    # the same verification with a reference stalled on the ridge in its place: reported as not converged, still ok
    dataset = prepare(objective, data)
    ridge = np.array([-8.5e6, -3.4e-7, 8.5e6])
    far = problem.flat_value_and_grad(dataset, ridge)[0]
    stalled = Solution(alone.name, objective.form.unflatten(dataset, ridge), ridge, far, 0.0, False,
                       f"did not converge: {alone.reason}", role="reference")
    digits, verdict, ok = _judge(objective, [*v.solutions[:-1], stalled])
    assert ok and digits >= 6 and "did not succeed, and are not compared" in verdict
    assert "did not converge" in verdict and "disagrees" not in verdict

"""Closed forms: the symbolic tier's anchors against NumPy, candidate checks,
the linear tier's quadratic and rank-deficient cases, high precision."""

from __future__ import annotations

import warnings

import mpmath
import numpy as np
import pytest
import sympy as sp

import symopt
from symopt.errors import DataError, ModelError, PrecisionError, RankDeficiencyWarning


def rel(a, b):
    return abs(a - b) / abs(b)


@pytest.fixture(scope="module")
def sample():
    rng = np.random.default_rng(7)
    x = rng.normal(3.0, 2.0, 400)
    y = 1.5 - 0.7 * x + rng.normal(0, 0.3, 400)
    return x, y


def test_gaussian_mle(sample, patient):
    x, _ = sample
    mu, s2 = symopt.params("mu s2")
    obj = symopt.Objective("-log(2*pi*s2)/2 - (x - mu)**2/(2*s2)", [mu, s2], maximize=True)
    r = symopt.solve(obj, {"x": x})
    assert r.method == "symbolic" and r.success
    assert "mu = S_1/n" in r.closed_form.formula and "S_1 = sum_i x" in r.closed_form.formula
    assert rel(r.params["mu"], np.mean(x)) < 1e-12
    assert rel(r.params["s2"], np.var(x)) < 1e-12


def test_exponential_rate(sample, patient):
    x = np.abs(sample[0]) + 0.1
    lam = symopt.params("lam", positive=True)
    r = symopt.solve(symopt.Objective("log(lam) - lam*x", lam, maximize=True), {"x": x})
    assert r.method == "symbolic" and "lam = n/S_1" in r.closed_form.formula
    assert rel(r.params["lam"], 1.0 / np.mean(x)) < 1e-12


def test_poisson_rate(patient):
    counts = np.random.default_rng(3).poisson(4.2, 300).astype(float)
    lam = symopt.params("lam", positive=True)
    obj = symopt.Objective("k*log(lam) - lam - lgamma(k + 1)", lam, maximize=True)
    r = symopt.solve(obj, {"k": counts})
    assert r.method == "symbolic" and "lam = S_1/n" in r.closed_form.formula
    assert rel(r.params["lam"], np.mean(counts)) < 1e-12


def test_least_squares_line_with_intercept(sample):
    x, y = sample
    r = symopt.solve(symopt.squared_loss(symopt.Model("a + b*x", "a b")), {"x": x, "y": y}, method="symbolic")
    assert r.method == "symbolic" and "S_" in r.closed_form.formula
    b = np.sum((x - x.mean()) * (y - y.mean())) / np.sum((x - x.mean()) ** 2)
    a = y.mean() - b * x.mean()
    assert rel(r.params["b"], b) < 1e-12 and rel(r.params["a"], a) < 1e-12
    auto = symopt.solve(symopt.squared_loss(symopt.Model("a + b*x", "a b")), {"x": x, "y": y})
    assert auto.method == "linear" and rel(auto.params["b"], b) < 1e-12
    assert auto.closed_form.formula.startswith("a = ")  # the formula is shown alongside the linear solve


def test_one_parameter_ridge(sample):
    x, y = sample
    obj = symopt.squared_loss(symopt.Model("b*x", "b"), l2=0.3)
    r = symopt.solve(obj, {"x": x, "y": y}, method="symbolic")
    expected = np.sum(x * y) / (np.sum(x * x) + len(x) * 0.3)
    assert r.method == "symbolic" and rel(r.params["b"], expected) < 1e-12
    lin = symopt.solve(obj, {"x": x, "y": y}, method="linear")
    assert rel(lin.params["b"], expected) < 1e-12


def test_candidates_checked_and_rejected_with_reason(sample, patient):
    x, _ = sample
    obj = symopt.Objective("-log(sigma) - (x - mu)**2/(2*sigma**2)", "mu sigma", maximize=True)
    r = symopt.solve(obj, {"x": x})
    assert r.method == "symbolic" and r.success
    assert rel(r.params["sigma"], np.std(x)) < 1e-12
    verdicts = {c.accepted: c.why for c in r.closed_form.candidates}
    assert set(verdicts) == {True, False}
    assert "not finite" in verdicts[False] or "not real" in verdicts[False]


def test_no_real_solution_is_reported():
    obj = symopt.Objective("a**3/3 + a*x", "a")
    r = symopt.solve(obj, {"x": np.array([1.0, 2.0, 3.0])}, method="symbolic")
    assert not r.success and r.status == "no_valid_candidate"
    assert "not real" in r.closed_form.reason


def test_symbolic_timeout_is_reported_and_auto_goes_iterative(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMOPT_CACHE_DIR", str(tmp_path))  # no analysis from another test's solve
    symopt.run.shared.clear_problems()
    obj = symopt.Objective("log(lam) - lam*x", symopt.params("lam", positive=True), maximize=True)
    # A budget no worker can answer in (a reused worker, SymPy already imported, takes milliseconds).
    a = symopt.analyse(obj, budget=1e-5)
    assert a.status == "none" and "timed out after 1e-05 s" in a.reason
    r = symopt.solve(obj, {"x": np.array([0.5, 1.0, 2.0])}, budget=1e-5)
    assert r.method == "iterative" and r.success and "timed out" in r.why
    assert rel(r.params["lam"], 1 / np.mean([0.5, 1.0, 2.0])) < 1e-6
    # A larger budget tries again (a timeout is not remembered as "no formula"), and finds it.
    again = symopt.solve(obj, {"x": np.array([0.5, 1.0, 2.0])}, budget=30, method="symbolic")  # waits for it
    assert again.method == "symbolic" and rel(again.params["lam"], 1 / np.mean([0.5, 1.0, 2.0])) < 1e-12


def test_general_quadratic_objective():
    rng = np.random.default_rng(1)
    x, y = rng.uniform(1, 2, 50), rng.normal(size=50)
    obj = symopt.Objective("a**2*x + a*b + b**2 - 2*a*y", "a b")
    r = symopt.solve(obj, {"x": x, "y": y})
    assert r.method == "linear" and r.success
    A = np.array([[2 * x.mean(), 1.0], [1.0, 2.0]])
    expected = np.linalg.solve(A, np.array([2 * y.mean(), 0.0]))
    np.testing.assert_allclose(r.x, expected, rtol=1e-12)
    flipped = symopt.Objective("a**2*x + a*b + b**2 - 2*a*y", "a b", maximize=True)
    bad = symopt.solve(flipped, {"x": x, "y": y})
    assert not bad.success and "no maximum" in bad.message


def test_rank_deficient_gets_minimum_norm_and_warning():
    rng = np.random.default_rng(2)
    x = rng.normal(size=30)
    X = np.column_stack([x, 2 * x, rng.normal(size=30)])
    y = X @ np.array([1.0, 1.0, -1.0]) + 0.5
    with pytest.warns(RankDeficiencyWarning, match="rank 3 of 4"):
        r = symopt.solve(symopt.squared_loss(symopt.LinearModel()), (X, y))
    expected = np.linalg.lstsq(np.column_stack([np.ones(30), X]), y, rcond=None)[0]
    np.testing.assert_allclose(r.x, expected, rtol=1e-9, atol=1e-12)


def test_a_design_column_too_large_to_scale_names_the_array_the_row_and_the_column():
    """Both designs (a data matrix, an expression model's columns) say where the data overflow."""
    rng = np.random.default_rng(4)
    X, y = rng.normal(size=(30, 3)), rng.normal(size=30)
    X[5, 2] = 1.5e308
    with pytest.raises(DataError, match=r"X\[5, 2\] = 1.5e\+308\): the scale of column 2 of X overflows") as info:
        symopt.solve(symopt.squared_loss(symopt.LinearModel()), (X, y), method="linear", progress=False)
    assert (info.value.array, info.value.row) == ("X", 5)
    a, b, x = sp.symbols("a b x")
    xs = rng.normal(size=30)
    xs[7] = 1.5e308
    with pytest.raises(DataError, match=r"x = 1.5e\+308\): the scale of the column of a, x, overflows") as info:
        symopt.solve(symopt.squared_loss(symopt.Model(a * x + b, params=[a, b]), target="y"), {"x": xs, "y": y},
                     method="linear", progress=False)
    assert (info.value.array, info.value.row) == ("x", 7)


def test_high_precision_symbolic_and_limits(sample):
    x, _ = sample
    obj = symopt.Objective("-log(2*pi*s2)/2 - (x - mu)**2/(2*s2)", "mu s2", maximize=True)
    r = symopt.solve(obj, {"x": x}, precision="high")
    with mpmath.workdps(60):
        xs = [mpmath.mpf(float(v)) for v in x]
        mean = mpmath.fsum(xs) / len(xs)
        var = mpmath.fsum((v - mean) ** 2 for v in xs) / len(xs)
        assert mpmath.almosteq(mpmath.mpf(r.exact["mu"]), mean, rel_eps=mpmath.mpf(10) ** -19)
    assert rel(r.params["s2"], float(var)) < 1e-15
    wide = symopt.squared_loss(symopt.LinearModel())
    with pytest.raises(PrecisionError, match="up to 30 parameters"):
        symopt.solve(wide, (np.random.default_rng(0).normal(size=(40, 31)), np.ones(40)), precision="high")
    nonlinear = symopt.squared_loss(symopt.Model("a*exp(b*x)", "a b"))
    with pytest.raises(PrecisionError, match="needs a closed form"):
        symopt.solve(nonlinear, {"x": x, "y": x}, precision="high")


def test_method_requests_that_do_not_apply(sample):
    x, y = sample
    nonlinear = symopt.squared_loss(symopt.Model("a*exp(b*x)", "a b"))
    with pytest.raises(ModelError, match="no linear closed form"):
        symopt.solve(nonlinear, {"x": x, "y": y}, method="linear")
    with pytest.raises(ModelError, match="no symbolic closed form.*not separable"):
        symopt.solve(nonlinear, {"x": x, "y": y}, method="symbolic")
    with pytest.raises(ModelError, match="method must be"):
        symopt.solve(nonlinear, {"x": x, "y": y}, method="magic")


def test_analysis_record_prints_every_tier():
    a = symopt.analyse(symopt.squared_loss(symopt.Model("a*exp(b*x)", "a b")))
    text = str(a)
    assert a.status == "none" and "linear: not applicable" in text and "symbolic: not applicable" in text
    assert "exp(b*x) mixes parameters and data" in a.reason
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lin = symopt.analyse(symopt.squared_loss(symopt.LinearModel(basis=["x", "x**2", "x**3"])))
    assert lin.status == "linear" and "symbolic: skipped" in str(lin)
    assert "a linear closed form was found" in str(lin)


def test_symbolic_tier_skipped_on_request_says_so_not_that_a_linear_form_exists():
    a = symopt.analyse(symopt.squared_loss(symopt.Model("a*exp(b*x)", "a b")), symbolic=False)
    text = str(a)
    assert "symbolic: skipped: the symbolic tier was not requested" in text
    assert "linear closed form was found" not in text


def test_huge_expansions_are_declined_quickly_with_a_reason():
    """(cubic)**12: expanding its gradient took SymPy minutes; the tiers now decline in well under a second."""
    import time

    start = time.perf_counter()
    a = symopt.analyse(symopt.squared_loss(symopt.Model("(a+b*x+c*x**2+d*x**3)**12", "a b c d")))
    assert time.perf_counter() - start < 5.0
    text = str(a)
    assert a.status == "none" and "degree up to 24" in text and "too big to separate" in text


def test_size_bounds():
    from symopt.closed_form.expression_size import degree_bound, expansion_size

    a, b, x = sp.symbols("a b x")
    assert expansion_size((a + b) ** 3) == 4 and expansion_size((a + b) * (a + x + 1)) == 6
    assert degree_bound((a + b * x) ** 3 * a, [a, b]) == 4 and degree_bound(sp.exp(a) + b, [a, b]) == float("inf")
    assert degree_bound(x ** 5, [a, b]) == 0


@pytest.mark.parametrize("kind", ["shifted and scaled", "correlated"])
def test_tall_normal_equations_match_a_centred_qr(kind, rng):
    """The one-pass normal equations (shift by the first block's means, exact centring from the sums) on
    designs where centring matters, and on one ill-conditioned enough for the refinement pass."""
    from symopt.closed_form import normal_equations

    n, m = 70_000, 16
    X = rng.normal(size=(n, m))
    if kind == "shifted and scaled":
        X = X * np.logspace(-2, 2, m) + 1e4
    else:
        X = rng.normal(size=(n, 1)) + 1e-3 * X  # nearly collinear: a scaled Gram condition of about 1e7
    y = X @ rng.normal(size=m) + 5.0 + rng.normal(size=n)
    (beta, c, _, _), cond, refined = normal_equations.solve(X, y, np.zeros(m), center=True)
    assert refined == (cond > normal_equations.REFINE_ABOVE) and refined == (kind == "correlated")
    mu = X.mean(axis=0)
    ref = np.linalg.lstsq(X - mu, y - y.mean(), rcond=None)[0]
    np.testing.assert_allclose(beta, ref, rtol=1e-9)  # without the refinement, correlated: 4.5e-9
    assert c == pytest.approx(y.mean() - mu @ ref, rel=1e-9)
    fit = symopt.solve(symopt.squared_loss(symopt.LinearModel()), (X, y))
    assert "one pass over the data" in fit.closed_form.detail
    np.testing.assert_allclose(fit.params["coef"], beta, rtol=1e-12)


@pytest.mark.parametrize("options", [{}, {"l2": 0.3}, {"reduction": "sum"}, {"intercept": False, "l2": 0.1}])
def test_tall_normal_equations_report_the_objective_and_gradient_of_the_data(options, rng):
    """The fast path takes F from one product with X and the gradient from its sums: F must equal the
    objective evaluated afresh on the data, and the gradient must be as small as the data's own."""
    from symopt.derivation.task import Task
    from symopt.derivation.totals import value_and_gradient

    options = dict(options)
    model = symopt.LinearModel(intercept=options.pop("intercept", True))
    objective = symopt.squared_loss(model, **options)
    n, m = 40_000, 30
    X = rng.normal(size=(n, m)) + 3.0
    y = X @ rng.normal(size=m) + 2.0 + rng.normal(size=n)
    fit = symopt.solve(objective, (X, y))
    assert "one pass over the data" in fit.closed_form.detail
    fun, grad = value_and_gradient(Task(objective, fit.derivation, symopt.model.data.prepare(objective, (X, y))), fit.x)
    assert fit.fun == pytest.approx(fun, rel=1e-13)
    scale = np.max(np.abs(grad)) + 1e-12 * fun
    assert fit.grad_norm <= 100 * scale


def test_a_cubic_whose_real_roots_sympy_writes_with_i_is_solved_in_closed_form(patient):
    """4a^3 - 4a + 0.3 = 0 has three real roots, which SymPy's formulas write with I (the casus
    irreducibilis): evaluated in complex mpmath, both minima pass (their gradient is zero on the scale of
    its terms, not of the one row's value) and the lower is kept; the maximum is rejected."""
    a = symopt.params("a")
    r = symopt.solve(symopt.Objective("(a**2 - 1)**2 + 0.3*a", [a]), progress=False)
    assert r.method == "symbolic" and r.success
    assert r.params["a"] == pytest.approx(-1.0355787140888537, rel=1e-12)
    verdicts = sorted(c.accepted for c in r.closed_form.candidates)
    assert verdicts == [False, True, True]
    assert any("a maximum" in c.why for c in r.closed_form.candidates if not c.accepted)

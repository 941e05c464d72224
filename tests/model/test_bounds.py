"""bounds=: parameters kept in a range on every path (issue 12 item 7): the exact bounded linear solve, symbolic
candidates rejected outside the bounds, the projected steps of the generated iterative solvers (their iterates
against NumPy references: tests/optimizers/test_bounded_optimizers.py), at_bound, the KKT check, standard errors with
at-bound parameters held, profiles that end on a bound."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

import symopt
from symopt.model import bounds as bounds_module
from symopt.errors import ModelError


@pytest.fixture(scope="module")
def decay():
    rng = np.random.default_rng(0)
    x = np.linspace(0, 4, 40)
    return {"x": x, "y": 3.0 * np.exp(-0.7 * x) + 0.02 * rng.standard_normal(40)}


@pytest.fixture(scope="module")
def exponential():
    return symopt.squared_loss(symopt.Model("a*exp(-b*x)", "a b"))


def test_an_iterative_fit_whose_optimum_is_outside_ends_on_the_bound_with_the_right_kkt_sign(decay, exponential):
    free = symopt.solve(exponential, decay, progress=False)
    assert free.params["b"] < 1.0  # the unconstrained optimum is outside b >= 1
    r = symopt.solve(exponential, decay, bounds={"b": (1.0, None)}, progress=False)
    assert r.success, r.message
    assert r.params["b"] == 1.0 and r.at_bound == {"b": "lower"} and r.bounds == {"b": (1.0, None)}
    assert r.kkt.ok and r.kkt.at_bound == {"b": "lower"}
    _, grad = symopt.Problem(exponential).value_and_grad(decay, r.params)
    assert grad["b"] > 0  # F rises into the feasible set: the gradient points out of it
    # with b on the bound, a is linear least squares: sum(y e^-x) / sum(e^-2x)
    e = np.exp(-decay["x"])
    a = decay["y"] @ e / (e @ e)
    assert r.params["a"] == pytest.approx(a, rel=1e-10)
    # the standard errors: b has none, a's is computed with b held (s^2 / sum(e^-2x), n - 1 dof)
    s2 = np.sum((decay["y"] - a * e) ** 2) / (len(e) - 1)
    assert r.stderr["b"] is None and r.stderr["a"] == pytest.approx(math.sqrt(s2 / (e @ e)), rel=1e-8)
    assert r.dof == len(e) - 1 and r.conf_int()["b"] is None
    # the prediction band holds b too: the band of a * e^-x with a's variance alone
    band = r.predict({"x": np.array([0.5, 1.0])}, interval="confidence")
    np.testing.assert_allclose(band.se, r.stderr["a"] * np.exp(-np.array([0.5, 1.0])), rtol=1e-10)
    text = str(r.summary())
    assert "at lower bound" in text and "gradient points out of the feasible set" in text
    assert "(at its lower bound)" in str(r) and "| b | 1 | at its lower bound |" in r.to_markdown()


def test_an_interior_optimum_is_the_unbounded_one_reached_by_the_same_steps(decay, exponential):
    free = symopt.solve(exponential, decay, progress=False, backend="python")  # one backend for all
    for box in ({"b": (0.0, 10.0)}, {"b": (0.0, None)}, {"a": (None, 100.0), "b": (-5.0, 5.0)}):
        r = symopt.solve(exponential, decay, bounds=box, progress=False, backend="python")
        assert r.success and r.at_bound == {}, (box, r.message)
        assert np.array_equal(r.x, free.x) and r.nit == free.nit and r.nfev == free.nfev, (box, r.nit, free.nit)
        assert "projected onto the box, so every iterate is feasible" in r.why
        assert set(r.stderr) == {"a", "b"} and all(v is not None for v in r.stderr.values())


def test_an_upper_bound_and_a_maximised_likelihood(patient):
    x = np.random.default_rng(1).exponential(1.0, 200)  # the rate's MLE 1/mean(x) is near 1
    objective = symopt.Objective("log(lam) - lam*x", "lam", maximize=True, likelihood=True)
    free = symopt.solve(objective, {"x": x}, progress=False)
    assert free.method == "symbolic" and free.params["lam"] > 0.6
    r = symopt.solve(objective, {"x": x}, bounds={"lam": (0.1, 0.5)}, progress=False)
    assert r.success and r.params["lam"] == 0.5 and r.at_bound == {"lam": "upper"} and r.kkt.ok
    assert r.method == "iterative"
    # the symbolic candidate was rejected, with the reason
    rejected = [c for c in r.closed_form.candidates if not c.accepted]
    assert rejected and "outside the bounds" in rejected[0].why and "lam" in rejected[0].why
    # maximising: at the upper bound dF/dlam > 0 (F would still rise above it)
    assert 1 / 0.5 - np.mean(x) > 0


def test_a_symbolic_candidate_inside_the_bounds_is_kept(patient):
    x = np.random.default_rng(1).exponential(1.0, 200)
    objective = symopt.Objective("log(lam) - lam*x", "lam", maximize=True, likelihood=True)
    r = symopt.solve(objective, {"x": x}, bounds={"lam": (0.1, 5.0)}, progress=False)
    assert r.method == "symbolic" and r.params["lam"] == pytest.approx(1 / np.mean(x), rel=1e-12)
    assert r.at_bound == {} and r.kkt.ok and r.bounds == {"lam": (0.1, 5.0)}


def test_nonnegative_least_squares_matches_scipy_nnls():
    scipy_optimize = pytest.importorskip("scipy.optimize")
    rng = np.random.default_rng(3)
    A = rng.normal(size=(30, 4))
    y = A @ np.array([1.0, -2.0, 0.5, -0.1]) + 0.1 * rng.normal(size=30)
    data = {"x1": A[:, 0], "x2": A[:, 1], "x3": A[:, 2], "x4": A[:, 3], "y": y}
    objective = symopt.squared_loss(symopt.Model("a*x1 + b*x2 + c*x3 + d*x4", "a b c d"))
    r = symopt.solve(objective, data, bounds={k: (0, None) for k in "abcd"}, progress=False)
    expected, _ = scipy_optimize.nnls(A, y)
    assert r.method == "linear" and "Stark-Parker" in r.closed_form.detail
    np.testing.assert_allclose(r.x, expected, rtol=1e-10, atol=1e-12)
    assert set(r.at_bound) == {n for n, v in zip("abcd", expected) if v == 0.0} and r.at_bound
    assert r.kkt.ok and r.success
    assert "at lower bound" in str(r.summary())


def test_bounded_ridge_least_squares_matches_scipy_lsq_linear():
    scipy_optimize = pytest.importorskip("scipy.optimize")
    rng = np.random.default_rng(4)
    x = rng.uniform(-1, 1, 50)
    y = 1.0 + 3.0 * x + 0.1 * rng.normal(size=50)
    objective = symopt.squared_loss(symopt.Model("a + b*x", "a b"), l2=0.01)
    r = symopt.solve(objective, {"x": x, "y": y}, bounds={"b": (-1, 2)}, progress=False)
    n = len(x)  # mean reduction: F = (1/n) |y - a - b x|^2 + l2 (a^2 + b^2) (a Model's parameters are all penalised)
    A = np.vstack([np.column_stack([np.ones(n), x]), math.sqrt(n * 0.01) * np.eye(2)])
    target = np.r_[y, 0.0, 0.0]
    expected = scipy_optimize.lsq_linear(A, target, bounds=([-np.inf, -1], [np.inf, 2]), method="bvls", tol=1e-14).x
    np.testing.assert_allclose(r.x, expected, rtol=1e-10)
    assert r.params["b"] == 2.0 and r.at_bound == {"b": "upper"} and r.kkt.ok


def test_symbol_assumptions_are_bounds(decay):
    a, b = sp.Symbol("a"), sp.Symbol("b", positive=True)
    objective = symopt.squared_loss(symopt.Model(a * sp.exp(b * sp.Symbol("x")), [a, b]))
    r = symopt.solve(objective, decay, progress=False)  # the optimum has b = -0.7 < 0
    assert r.bounds == {"b": (0.0, None)} and r.at_bound == {"b": "lower"} and r.params["b"] == 0.0
    assert r.success and r.kkt.ok
    assert r.params["a"] == pytest.approx(np.mean(decay["y"]), rel=1e-10)  # b = 0: a is the mean


def test_newton_and_lbfgs_keep_their_iterates_feasible_and_end_on_the_bound():
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 2, 300)
    counts = rng.poisson(np.exp(0.3 + 0.8 * x))
    objective = symopt.Objective("exp(c + d*x) - k*(c + d*x)", "c d", likelihood=True)
    data = {"x": x, "k": counts.astype(float)}
    for optimizer in (symopt.Newton(), symopt.LBFGS(tol=1e-10)):  # L-BFGS's default tol=1e-6 gives c to 3e-7
        seen = []
        r = symopt.solve(objective, data, optimizer=optimizer, method="iterative", bounds={"d": (None, 0.5)},
                         callback=lambda i, f, p: seen.append(p["d"]), progress=False)
        assert r.success and r.params["d"] == 0.5 and r.at_bound == {"d": "upper"} and r.kkt.ok, r.message
        assert seen and max(seen) <= 0.5  # every iterate inside the bounds
        assert type(r.optimizer).__name__ == type(optimizer).__name__
        # c at d = 0.5 solves sum(exp(c + 0.5 x)) = sum(k): c = log(sum k / sum exp(0.5 x))
        assert r.params["c"] == pytest.approx(math.log(counts.sum() / np.exp(0.5 * x).sum()), rel=1e-7)
        assert r.stderr["d"] is None and r.stderr["c"] > 0


def test_a_bounded_linear_parameter_is_solved_by_bounded_least_squares_inside_variable_projection(decay):
    objective = symopt.squared_loss(symopt.Model("a*exp(-b*x) + c", "a b c"))
    data = {"x": decay["x"], "y": decay["y"] + 0.5}
    r = symopt.solve(objective, data, bounds={"a": (0.0, 2.0)}, progress=False)
    assert r.success and r.params["a"] == 2.0 and r.at_bound == {"a": "upper"} and r.kkt.ok, r.message
    assert type(r.optimizer).__name__ == "ProjectedLevenbergMarquardt"
    assert "variable projection: a, c" in r.why and "solves for a by bounded least squares" in r.why
    # with a on its bound, c solves its own normal equation: mean(y - 2 exp(-b x))
    assert r.params["c"] == pytest.approx(np.mean(data["y"] - 2.0 * np.exp(-r.params["b"] * data["x"])), rel=1e-9)
    # one backend for both (with backend="auto" a module compiled by an earlier test runs compiled)
    free = symopt.solve(objective, data, progress=False, backend="python")
    inside = symopt.solve(objective, data, bounds={"a": (0.0, 10.0)}, progress=False, backend="python")
    assert inside.at_bound == {} and np.array_equal(inside.x, free.x) and inside.nit == free.nit


def test_a_penalty_with_bounds_on_the_iterative_path(decay):
    """l2= and bounds together: the generated code keeps the bounds on the penalised objective."""
    objective = symopt.squared_loss(symopt.Model("a*exp(-b*x)", "a b"), l2=0.01)
    r = symopt.solve(objective, decay, bounds={"b": (1.0, None)}, progress=False)
    assert r.method == "iterative" and r.success and r.at_bound == {"b": "lower"} and r.kkt.ok, r.message
    e = np.exp(-decay["x"])
    # F = mean((y - a e^-bx)^2) + l2 (a^2 + b^2); on b = 1: a = mean(y e) / (mean(e^2) + l2)
    assert r.params["a"] == pytest.approx(np.mean(decay["y"] * e) / (np.mean(e * e) + 0.01), rel=1e-9)


def test_bounds_with_fixed_parameters_and_new_values_without_building_again(decay):
    objective = symopt.squared_loss(symopt.Model("a*exp(-b*x) + c", "a b c"))
    problem = symopt.Problem(objective, fixed={"c": 0.0}, bounds={"b": (1.0, None)})
    first = problem.solve(decay, progress=False)
    assert first.params["b"] == 1.0 and first.fixed == {"c": 0.0} and first.at_bound == {"b": "lower"}
    assert "def _clip(theta, lower, upper)" in problem.source  # the code that runs keeps the bounds
    modules = dict(problem._shared.modules)
    again = problem.solve(decay, bounds={"b": (1.5, None)}, progress=False)
    assert again.params["b"] == 1.5 and problem._shared.modules == modules  # the same module: values at run time
    boxed = problem.solve(decay, bounds={"a": (None, 2.5), "b": (0.5, 0.6)}, progress=False)  # other sides too
    assert boxed.params["a"] == 2.5 and boxed.at_bound == {"a": "upper"} and 0.5 <= boxed.params["b"] <= 0.6
    assert boxed.kkt.ok and problem._shared.modules == modules
    with pytest.raises(ModelError, match="built without bounds"):
        symopt.Problem(objective).solve(decay, bounds={"b": (1.5, 3.0)}, progress=False)


def test_a_profile_interval_ends_at_the_bound_on_the_bounded_side(decay, exponential):
    free = symopt.solve(exponential, decay, progress=False)
    b_hat, se = free.params["b"], free.stderr["b"]
    lower = b_hat - 0.5 * se  # inside the Wald interval: the profile would pass it
    r = symopt.solve(exponential, decay, bounds={"b": (lower, None)}, progress=False)
    assert r.at_bound == {} and r.params["b"] == pytest.approx(b_hat, rel=1e-8)
    profile = r.profile()["b"]
    assert profile.low == lower and any("one-sided" in note for note in profile.notes)
    assert profile.high == pytest.approx(free.profile()["b"].high, rel=1e-8)
    at = symopt.solve(exponential, decay, bounds={"b": (1.0, None)}, progress=False)
    assert at.profile()["b"].low == 1.0 and at.profile()["b"].high > 1.0


def test_the_kkt_check_fails_on_a_gradient_pointing_inside():
    box = bounds_module.Box({"a": 0.0}, {"a": math.inf})
    flat = bounds_module.FlatBox(("a",), np.array([0.0]), np.array([math.inf]), box)
    good = flat.kkt(np.array([0.0]), np.array([2.0]), {"a": "lower"}, False, 1.0)
    bad = flat.kkt(np.array([0.0]), np.array([-2.0]), {"a": "lower"}, False, 1.0)
    assert good.ok and not bad.ok and "WRONG SIGN" in bad.message
    maximised = flat.kkt(np.array([0.0]), np.array([-2.0]), {"a": "lower"}, True, 1.0)
    assert maximised.ok


@pytest.mark.parametrize("bounds, match", [
    ({"z": (0, 1)}, "not a parameter"),
    ({"a": 3}, "a pair"),
    ({"a": (2, 1)}, "leave no room"),
    ({"a": (1, 1)}, "fixed="),
    ({"a": ("0", 1)}, "must be a number"),
    ([("a", (0, 1))], "mapping"),
])
def test_bad_bounds_are_refused_clearly(exponential, decay, bounds, match):
    with pytest.raises(ModelError, match=match):
        symopt.solve(exponential, decay, bounds=bounds, progress=False)


def test_bounds_refusals_say_why(exponential, decay):
    with pytest.raises(ModelError, match="x0 is outside the bounds"):
        symopt.solve(exponential, decay, bounds={"b": (1, None)}, x0={"a": 1, "b": 0.5}, progress=False)
    with pytest.raises(ModelError, match="outside its bounds"):
        symopt.solve(exponential, decay, bounds={"b": (1, None)}, fixed={"b": 0.5}, progress=False)
    line = symopt.squared_loss(symopt.Model("a + b*x", "a b"))
    with pytest.raises(ModelError, match=r"standardize=True with bounds.*b = -0\.6"):
        symopt.solve(line, decay, bounds={"b": (0, 1)}, standardize=True, progress=False)
    inside = symopt.solve(line, decay, bounds={"b": (-5, 1)}, standardize=True, progress=False)
    assert inside.standardized and inside.at_bound == {} and inside.bounds == {"b": (-5, 1)}
    X = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(ModelError, match="multinomial model"):
        symopt.solve(symopt.cross_entropy(symopt.LinearModel()), (X, (X[:, 0] > 0).astype(float)),
                     bounds={"coef": (0, None)}, progress=False)
    with pytest.raises(ModelError, match="coef' have 2 entries; coef has 3 here"):
        symopt.solve(symopt.squared_loss(symopt.LinearModel()), (X, X[:, 0]), bounds={"coef": ([0, 0], None)},
                     progress=False)
    with pytest.raises(ModelError, match="leave no room at entry 1"):
        symopt.solve(symopt.squared_loss(symopt.LinearModel()), (X, X[:, 0]),
                     bounds={"coef": ([0, 2, 0], [1, 1, 1])}, progress=False)



def test_bounded_least_squares_at_high_precision_is_the_fit_with_the_bound_held():
    """precision='high' with bounds: the double active set confirmed in mpmath; the solution and standard errors
    equal the high-precision fit with the at-bound parameter fixed at its bound (another path: fixed=)."""
    rng = np.random.default_rng(11)
    x = np.round(np.linspace(0, 3, 25), 2)
    y = np.round(1 + 2 * x - 0.5 * x ** 2 + 0.1 * rng.normal(size=25), 3)
    objective = symopt.squared_loss(symopt.Model("a + b*x + c*x**2", "a b c"))
    r = symopt.solve(objective, {"x": x, "y": y}, bounds={"c": (-0.2, None)}, precision="high")
    held = symopt.solve(objective, {"x": x, "y": y}, fixed={"c": -0.2}, precision="high")
    assert r.precision == "high" and r.at_bound == {"c": "lower"} and r.kkt.ok and "confirmed" in r.message
    for name in "ab":
        assert r.exact[name] == held.exact[name]  # 20 significant digits, equal
        assert r.stderr[name] == pytest.approx(held.stderr[name], rel=1e-13)
    assert r.stderr["c"] is None and r.params["c"] == -0.2
    double = symopt.solve(objective, {"x": x, "y": y}, bounds={"c": (-0.2, None)})
    np.testing.assert_allclose(double.x, r.x, rtol=1e-12)


def test_verify_compares_a_bounded_fit_with_scipys_bounded_solvers(decay, exponential):
    """The second start is drawn inside the bounds, and the reference is SciPy's with the same bounds: a bounded
    optimum is not reported as disagreeing with the unbounded one."""
    r = symopt.solve(exponential, decay, bounds={"b": (1.0, None)}, progress=False)
    v = r.verify(gradient=False)
    assert v.ok and "least_squares (method='trf', exact Jacobian, bounds)" in v.reference and v.digits >= 7, str(v)
    X = np.random.default_rng(2).normal(size=(40, 3))
    y = X @ np.array([1.0, -1.0, 0.5]) + 0.1 * np.random.default_rng(3).normal(size=40)
    wide = symopt.solve(symopt.squared_loss(symopt.LinearModel()), (X, y), bounds={"coef": (0, None)},
                        progress=False)
    v = wide.verify(gradient=False)
    assert v.ok and v.reference == "SciPy lsq_linear (method='bvls')" and v.digits >= 10, str(v)
    logistic = symopt.solve(symopt.log_loss(symopt.LinearModel()), (X, (y > 0).astype(float)),
                            bounds={"coef": (0, None)}, progress=False)
    v = logistic.verify(gradient=False)
    assert v.ok and v.reference == "SciPy minimize (method='L-BFGS-B')" and v.digits >= 6, str(v)


def test_bounds_travel_as_one_type_read_once_from_entry_to_the_result(decay, exponential, monkeypatch):
    """bounds= is read into a Box where it comes in; the Box is what the solve keeps and what Result.bounds is
    (read as the mapping bounds= takes, equal to it, pickled with the result), and given back as bounds= (as
    verify and plot do, rebuilding the problem) it is taken as read: no number in it is parsed again."""
    import pickle

    reads = []
    number = bounds_module._number
    monkeypatch.setattr(bounds_module, "_number", lambda *args: reads.append(args[0]) or number(*args))
    r = symopt.solve(exponential, decay, bounds={"b": (1.0, None), "a": (0, 10)}, progress=False)
    assert sorted(reads) == ["a", "a", "b", "b"]  # each side of each bound, once
    assert isinstance(r.bounds, symopt.records.Box)
    assert r.bounds == {"a": (0.0, 10.0), "b": (1.0, None)} and r.bounds["b"] == (1.0, None)
    assert dict(r.bounds) == r.bounds.as_dict() and repr(r.bounds).startswith("Box(")
    again = symopt.solve(exponential, decay, bounds=r.bounds, progress=False)
    assert len(reads) == 4 and again.bounds == r.bounds and again.params == pytest.approx(r.params)
    assert pickle.loads(pickle.dumps(r)).bounds == r.bounds
    unbounded = symopt.solve(exponential, decay, progress=False)
    assert isinstance(unbounded.bounds, symopt.records.Box) and not unbounded.bounds and unbounded.bounds == {}

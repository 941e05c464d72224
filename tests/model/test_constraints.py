"""constraints=: linear inequalities between parameters (issue 29 item 5), solved exactly, with the KKT
multipliers in the Result."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import scipy.optimize

import lineshapes
import symopt
from symopt.errors import ModelError


@pytest.fixture(scope="module")
def peaks():
    return lineshapes.data()


def _direct(peaks, split_max):
    """symopt's way: cen_l free, between cen_g and cen_g + split_max."""
    return symopt.solve(lineshapes.objective(), peaks, ties={"wid_l": "wid_g"},
                        constraints=["cen_g <= cen_l", f"cen_l - cen_g <= {split_max}"],
                        x0={**lineshapes.START, "cen_l": 7.5}, progress=False)


def _tied(peaks, split_max):
    """lmfit's way: a helper parameter peak_split in [0, split_max], cen_l tied to cen_g + peak_split."""
    return symopt.solve(lineshapes.objective(), peaks,
                        ties=symopt.ties({"cen_l": "peak_split + cen_g", "wid_l": "wid_g"}, new="peak_split"),
                        bounds={"peak_split": (0, split_max)}, x0={**lineshapes.START, "peak_split": 2.5},
                        progress=False)


@pytest.fixture(scope="module")
def inactive(peaks):
    return _direct(peaks, 5), _tied(peaks, 5)


@pytest.fixture(scope="module")
def active(peaks):
    return _direct(peaks, 3), _tied(peaks, 3)


def test_fit_with_inequality_both_ways_give_lmfits_optimum(peaks, inactive):
    """The example as lmfit states it (the split in [0, 5]): the constraint is not active, every multiplier 0,
    and both ways give lmfit's parameters and standard errors (cen_l's: tied in lmfit, free here)."""
    direct, tied = inactive
    assert direct.success and tied.success
    assert direct.multipliers == {"cen_g <= cen_l": 0.0, "cen_l - cen_g <= 5": 0.0} and direct.kkt.active == ()
    for name in direct.params:
        assert direct.params[name] == pytest.approx(tied.params[name], rel=1e-9), name
        assert direct.stderr[name] == pytest.approx(tied.stderr[name], rel=1e-7), name
    pytest.importorskip("lmfit")
    out = lineshapes.lmfit_fit(peaks, 5.0)
    for name in direct.params:
        assert direct.params[name] == pytest.approx(out.params[name].value, rel=1e-7), name
        assert direct.stderr[name] == pytest.approx(out.params[name].stderr, rel=1e-6), name


def test_an_active_constraint_is_solved_exactly_with_its_multiplier(peaks, active):
    """The split held to at most 3 (the data's is 3.5): the constraint is active. The direct constraint, lmfit's
    way in symopt (a bounded helper) and SciPy's SLSQP on the NumPy objective reach one optimum; the multiplier
    is the objective's rate of change as the constraint is relaxed, -dF/d(split), by central differences of the
    NumPy objective."""
    direct, tied = active
    assert direct.success and direct.status == "converged" and direct.kkt.ok
    assert direct.kkt.active == ("cen_l - cen_g <= 3",) and tied.at_bound == {"peak_split": "upper"}
    assert direct.params["cen_l"] - direct.params["cen_g"] == pytest.approx(3.0, rel=1e-14)
    assert direct.fun == pytest.approx(tied.fun, rel=1e-13)
    for name in direct.params:
        assert direct.params[name] == pytest.approx(tied.params[name], rel=1e-8), name

    def f(t):
        amp_g, amp_l, cen_g, cen_l, wid_g = t
        return lineshapes.mean_squares(peaks, amp_g, amp_l, cen_g, cen_l, wid_g, wid_g)

    ref = scipy.optimize.minimize(f, [10, 10, 5, 7.5, 1], method="SLSQP", options={"ftol": 1e-15, "maxiter": 1000},
                                  constraints=[{"type": "ineq", "fun": lambda t: t[3] - t[2]},
                                               {"type": "ineq", "fun": lambda t: 3 - (t[3] - t[2])}])
    assert direct.fun == pytest.approx(ref.fun, rel=1e-9)
    np.testing.assert_allclose(direct.x, ref.x, rtol=1e-6)
    p, h = direct.params, 1e-5
    slope = (f([p["amp_g"], p["amp_l"], p["cen_g"], p["cen_l"] + h, p["wid_g"]]) -
             f([p["amp_g"], p["amp_l"], p["cen_g"], p["cen_l"] - h, p["wid_g"]])) / (2 * h)
    assert direct.multipliers["cen_l - cen_g <= 3"] == pytest.approx(-slope, rel=1e-6)
    assert direct.multipliers["cen_g <= cen_l"] == 0.0
    assert "active (multiplier" in direct.message and "SLSQP" in direct.why
    # standard errors on the active constraint's surface (symopt.stats.restricted): lmfit's way's, whose helper
    # held at its bound keeps the split at 3, the centres' by the delta method
    for name in direct.params:
        assert direct.stderr[name] == pytest.approx(tied.stderr[name], rel=1e-6), name


def test_constrained_least_squares_against_the_kkt_system():
    """A plane fitted with a + c <= 1 and a - b <= 0.5, both active: the solution of the equality-constrained
    least-squares KKT system (NumPy), and a maximised log-likelihood's multipliers are >= 0 too."""
    rng = np.random.default_rng(1)
    u, v = rng.normal(size=200), rng.normal(size=200)
    y = 1.5 + 0.8 * u - 0.7 * v + rng.normal(scale=0.3, size=200)
    r = symopt.solve(symopt.squared_loss(symopt.Model("c + a*u + b*v", "a b c")), {"u": u, "v": v, "y": y},
                     constraints=["a + c <= 1", "a - b <= 0.5"], progress=False)
    X = np.column_stack([u, v, np.ones(200)]) / np.sqrt(200)  # F = mean of squares = |X t - y/sqrt(n)|^2
    A = np.array([[1.0, 0, 1], [1, -1, 0]])
    kkt = np.block([[2 * X.T @ X, A.T], [A, np.zeros((2, 2))]])
    sol = np.linalg.solve(kkt, np.r_[2 * X.T @ (y / np.sqrt(200)), 1, 0.5])
    assert np.all(sol[3:] > 0)  # both active: the reference multipliers are positive
    np.testing.assert_allclose(r.x, sol[:3], rtol=1e-10)
    np.testing.assert_allclose([r.multipliers["a + c <= 1"], r.multipliers["a - b <= 0.5"]], sol[3:], rtol=1e-8)
    assert r.kkt.ok and set(r.kkt.active) == {"a + c <= 1", "a - b <= 0.5"}

    x = rng.normal(2.0, 1.0, size=100)
    ll = symopt.Objective("-(x - mu)**2/2", "mu", maximize=True)
    m = symopt.solve(ll, {"x": x}, constraints=["mu <= 1.5"], progress=False)
    assert m.params["mu"] == pytest.approx(1.5, rel=1e-14) and m.kkt.ok
    assert m.multipliers["mu <= 1.5"] == pytest.approx(np.mean(x) - 1.5, rel=1e-10)  # dF/dmu at mu = 1.5


def test_constraints_with_fixed_and_tied_parameters_and_bounds():
    rng = np.random.default_rng(2)
    u = rng.normal(size=80)
    y = 2.0 + 1.0 * u + 0.1 * rng.normal(size=80)
    objective = symopt.squared_loss(symopt.Model("a + b*u + c*u**2", "a b c"))
    problem = symopt.Problem(objective, fixed={"c": 0.0}, constraints=["a + b + c <= 2"])
    for c in (0.0, 0.5):  # the fixed value moves to the right-hand side
        r = problem.solve({"u": u, "y": y}, fixed={"c": c}, progress=False)
        assert r.params["a"] + r.params["b"] == pytest.approx(2 - c, rel=1e-12) and r.kkt.ok
    tied = symopt.solve(objective, {"u": u, "y": y}, ties={"c": "b/10"}, constraints=["a + c <= 1.5"],
                        bounds={"b": (None, 0.9)}, progress=False)
    assert tied.params["a"] + tied.params["b"] / 10 == pytest.approx(1.5, rel=1e-12)
    assert tied.at_bound == {"b": "upper"} and tied.kkt.ok and tied.multipliers["a + c <= 1.5"] > 0
    assert "b at its upper bound (multiplier" in tied.kkt.message


@pytest.mark.parametrize("constraints, words", [
    (["a < b"], "write '<='"),
    (["a == b"], "say it as a tie"),
    (["0 <= a <= b"], "exactly one comparison"),
    (["a*b <= 1"], "not linear in the parameters"),
    (["exp(a) <= 1"], "not linear"),
    (["a + q <= 1"], "'q', which is not a parameter"),
    (["a <= x"], "'x', which is not a parameter"),
    (["1 <= 2"], "reads no parameter"),
    ("a <= ", "cannot be read"),
    ([3], "a constraint is text"),
    (5, "must be a list of text"),
])
def test_bad_constraints_are_clear_errors(constraints, words):
    objective = symopt.squared_loss(symopt.Model("a + b*x", "a b"))
    with pytest.raises(ModelError) as err:
        symopt.Problem(objective, constraints=constraints)
    assert words in str(err.value)


def test_constraints_refused_where_they_do_not_apply():
    with pytest.raises(ModelError, match="constraints= applies to the named parameters"):
        symopt.Problem(symopt.squared_loss(symopt.LinearModel()), constraints=["intercept <= 1"])
    with pytest.raises(ModelError, match="nonlinear|not linear"):  # a tie that makes it nonlinear
        symopt.Problem(symopt.squared_loss(symopt.Model("a + b*x", "a b")), ties={"b": "a**2"},
                       constraints=["b <= 1"])
    with pytest.raises(ModelError, match="standardize=True with constraints"):
        symopt.solve(symopt.squared_loss(symopt.Model("a + b*x", "a b")), {"x": [0.0, 1, 2], "y": [1.0, 2, 4]},
                     constraints=["b <= 1"], standardize=True)


def test_the_services_keep_the_constraints_and_a_constrained_result_travels(tmp_path):
    rng = np.random.default_rng(1)
    u, v = rng.normal(size=200), rng.normal(size=200)
    data = {"u": u, "v": v, "y": 1.5 + 0.8 * u - 0.7 * v + rng.normal(scale=0.3, size=200)}
    objective = symopt.squared_loss(symopt.Model("c + a*u + b*v", "a b c"))
    problem = symopt.Problem(objective, constraints=["a + c <= 1"])
    back = pickle.loads(pickle.dumps(problem))
    assert back.constraints.texts == ("a + c <= 1",)
    r = back.solve(data, progress=False)
    assert r.params["a"] + r.params["c"] == pytest.approx(1.0, rel=1e-14)
    verdict = r.verify(reference=None, gradient=False)  # the other starts solve with the constraint too
    assert verdict.ok and "SLSQP with the constraints" in str(verdict)
    for s in verdict.solutions:
        assert s.params["a"] + s.params["c"] == pytest.approx(1.0, rel=1e-9)
    travelled = pickle.loads(pickle.dumps(r))
    assert travelled.multipliers == r.multipliers and travelled.kkt.active == ("a + c <= 1",)
    with pytest.raises(ModelError, match="export\\(\\) of a problem with ties= or constraints="):
        symopt.export(problem, tmp_path / "fit.py")
    # an inactive constraint: the classical standard errors and profile intervals, each profile re-fit kept in it
    loose = symopt.solve(objective, data, constraints=["a + c <= 5"], progress=False)
    plain = symopt.solve(objective, data, progress=False)
    assert loose.multipliers == {"a + c <= 5": 0.0} and loose.stderr == pytest.approx(plain.stderr, rel=1e-12)
    intervals = loose.conf_int(method="profile")
    assert intervals["a"] == pytest.approx(plain.conf_int(method="profile")["a"], rel=1e-8)


def test_constraints_that_leave_no_feasible_point_are_an_error():
    objective = symopt.Objective("(a - 1)**2 + (b - 2)**2", "a b")
    with pytest.raises(ModelError, match="leave no feasible point"):
        symopt.solve(objective, constraints=["a + b <= 0", "a + b >= 1"], progress=False)
    with pytest.raises(ModelError, match=r"\(a \+ b <= 0\) with the bounds leave no feasible point"):
        symopt.solve(objective, constraints=["a + b <= 0"], bounds={"a": (1, None), "b": (0, 2)}, progress=False)
    # dependent active constraints: the multipliers are not unique, the KKT condition holds
    r = symopt.solve(objective, constraints=["a + b <= 1", "2*a + 2*b <= 2"], progress=False)
    assert r.kkt.ok and r.params == pytest.approx({"a": 0.0, "b": 1.0}, abs=1e-12)
    assert r.multipliers["a + b <= 1"] + 2 * r.multipliers["2*a + 2*b <= 2"] == pytest.approx(2.0, rel=1e-12)

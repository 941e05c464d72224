"""Statuses and advice that tell the truth: unbounded objectives, diverging and oscillating
steps, overflowing data, and runs stopped at the precision floor (issue 9, items 3 to 5)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import symopt
from symopt.errors import ConvergenceWarning, DataError
from symopt.optimizers.base import DIVERGED_FACTOR, STATUS, diverged


@pytest.fixture
def x(rng):
    return rng.uniform(0, 3, 50)


# --- closed forms -------------------------------------------------------------------------------


def test_linear_objective_is_unbounded_not_solved(x):
    r = symopt.solve(symopt.Objective("a*x", "a"), {"x": x})
    assert r.method == "linear" and r.status == "unbounded" and not r.success
    assert "no minimum and no stationary point" in r.message and "(a: -1)" in r.message and "falls" in r.message
    up = symopt.solve(symopt.Objective("a*x", "a", maximize=True), {"x": x})
    assert up.status == "unbounded" and not up.success and "no maximum" in up.message
    high = symopt.solve(symopt.Objective("a*x", "a"), {"x": x}, precision="high")
    assert high.status == "unbounded" and not high.success
    # A flat direction with a consistent gradient still has (many) minima: the minimum-norm one, with a warning.
    with pytest.warns(symopt.RankDeficiencyWarning):
        flat = symopt.solve(symopt.Objective("(a + b - x)**2", "a b"), {"x": x})
    assert flat.success and abs(flat.params["a"] + flat.params["b"] - x.mean()) < 1e-12
    bounded = symopt.solve(symopt.Objective("a*x", "a", l2=0.1), {"x": x})
    assert bounded.success and abs(bounded.params["a"] + x.mean() / 0.2) < 1e-9


def test_quadratic_with_the_wrong_curvature_is_unbounded(x):
    saddle = symopt.solve(symopt.Objective("a**2*x - b**2", "a b"), {"x": x})
    assert saddle.status == "unbounded" and not saddle.success and "saddle" in saddle.message
    assert "unbounded below" in saddle.message


def test_quadratic_closed_form_in_high_precision(x, rng):
    y = rng.normal(size=x.size)
    r = symopt.solve(symopt.Objective("a**2*x - a*y", "a"), {"x": x, "y": y}, precision="high")
    assert r.success and abs(r.params["a"] - y.sum() / (2 * x.sum())) < 1e-14


def test_least_squares_data_beyond_double_range_is_a_data_error(x, rng):
    y = 3.5 + 2 * x + rng.normal(0, 0.1, x.size)
    x[7] = 1e308
    with pytest.raises(DataError, match=r"data 'x' at row 7 \(x = 1e\+308\).*overflows double precision") as info:
        symopt.solve(symopt.squared_loss(symopt.Model("a + b*x", "a b")), {"x": x, "y": y})
    assert info.value.array == "x" and info.value.row == 7


def test_products_of_the_data_that_overflow_are_data_errors(x, rng):
    y = rng.normal(size=x.size)
    x[3] = 1e160  # x**2 overflows
    with pytest.raises(DataError, match=r"data 'x' at row 3 .*x\*\*2, overflows"):
        symopt.solve(symopt.squared_loss(symopt.Model("a + b*x**2", "a b")), {"x": x, "y": y})
    with pytest.raises(DataError, match=r"data 'x' at row 3 .*Hessian entry d2l/dada, 2\*x\*\*2, overflows"):
        symopt.solve(symopt.Objective("a**2*x**2 - a*y", "a"), {"x": x, "y": y})
    X = rng.normal(size=(30, 3))
    X[4, 1] = 1e308
    with pytest.raises(DataError, match=r"data 'X' at row 4 \(X\[4, 1\] = 1e\+308\)") as info:
        symopt.solve(symopt.squared_loss(symopt.LinearModel()), (X, rng.normal(size=30)))
    assert info.value.row == 4
    # A model undefined on the data stays a ModelError: log(0) does not overflow, it is -inf.
    x[3] = 0.0
    with pytest.raises(symopt.ModelError, match="undefined there"):
        symopt.solve(symopt.squared_loss(symopt.Model("a + b*log(x)", "a b")), {"x": x, "y": y})


def test_tall_normal_equations_fall_back_when_the_gram_matrix_overflows(rng):
    from symopt.closed_form import normal_equations

    X = rng.normal(size=(1000, 2))
    X[10, 0] = 1e200
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NaN arithmetic on the way (it used to divide inf by inf)
        solved, cond, _ = normal_equations.solve(X, rng.normal(size=1000), np.zeros(2), center=True)
    assert solved is None and cond == np.inf


@pytest.fixture(scope="module")
def labels():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(500, 3))
    return X, (X @ [1.0, -2.0, 0.5] + rng.normal(size=500) > 0).astype(float)


def quiet(objective, data, **kw):
    return symopt.solve(objective, data, progress=False, **kw)


# --- the divergence rule, shared with networks --------------------------------------------------


def test_one_divergence_rule():
    assert DIVERGED_FACTOR == 2.0
    assert diverged(1.0, 2.5) and not diverged(1.0, 1.9) and diverged(1.0, float("nan"))
    assert diverged(-1.0, 0.5) and not diverged(-1.0, -0.5)  # a rise by more than the start's size
    assert STATUS[9][0] == "diverged" and "lower lr" in STATUS[9][2]


def test_minibatch_run_whose_loss_explodes_is_diverged_not_completed(labels):
    r = quiet(symopt.log_loss(symopt.LinearModel()), labels,
              optimizer=symopt.GradientDescent(lr=1e6, line_search=False, batch_size=32, max_iter=20))
    assert r.history[-1] > 1000 * r.history[0]
    assert r.status == "diverged" and not r.success and "lower lr" in r.message


def test_full_batch_run_whose_loss_explodes_says_lower_the_step(labels):
    r = quiet(symopt.log_loss(symopt.LinearModel()), labels,
              optimizer=symopt.GradientDescent(lr=1e6, line_search=False, max_iter=200))
    assert r.history[-1] > 1000 * r.history[0]
    assert r.status == "diverged" and not r.success
    assert "lower lr" in r.message and "raise max_iter" not in r.message


def test_oscillating_fixed_step_says_lower_the_step(x):
    # F = mean (2x - a x)**2 has curvature L = 2 mean(x**2); at lr = 2/L gradient descent flips
    # a - 2 to -(a - 2) for ever.
    lr = 2.0 / (2.0 * np.mean(x ** 2))
    with pytest.warns(ConvergenceWarning, match="lower lr"):
        r = quiet(symopt.squared_loss(symopt.Model("a*x", "a")), {"x": x, "y": 2 * x}, method="iterative",
                  optimizer=symopt.GradientDescent(lr=lr, line_search=False, max_iter=200))
    assert r.status == "max_iter" and not r.success
    assert "overshoots" in r.message and "lower lr" in r.message and "raise max_iter" not in r.message
    healthy = quiet(symopt.squared_loss(symopt.Model("a*x", "a")), {"x": x, "y": 2 * x}, method="iterative",
                    optimizer=symopt.GradientDescent(lr=lr / 2, line_search=False, max_iter=200))
    assert healthy.success and abs(healthy.params["a"] - 2) < 1e-9


# --- unbounded objectives -----------------------------------------------------------------------


@pytest.mark.parametrize("optimizer", [None, symopt.LBFGS(), symopt.GradientDescent(),
                                       symopt.GradientDescent(lr=0.1, line_search=False), symopt.Adam(lr=0.1)],
                         ids=["auto", "lbfgs", "gd", "gd-fixed", "adam"])
@pytest.mark.parametrize("expr", ["-exp(a)*x", "a*x"])
def test_unbounded_objectives_say_so_on_every_iterative_path(x, expr, optimizer):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # not 'raise max_iter'
        r = quiet(symopt.Objective(expr, "a"), {"x": x}, method="iterative", optimizer=optimizer)
    assert r.status == "unbounded" and not r.success, r.message
    assert "no finite minimum" in r.message and "raise max_iter" not in r.message


def test_lbfgs_on_a_linear_objective_is_unbounded_not_a_failed_line_search(x):
    r = quiet(symopt.Objective("a*x", "a"), {"x": x}, method="iterative", optimizer=symopt.LBFGS())
    assert r.status == "unbounded" and r.nit == 1 and r.fun < -1e11, r.message
    assert "no curvature in sight" in r.message and "loosen tol" not in r.message


def test_maximising_an_upward_parabola_is_unbounded(rng):
    r = quiet(symopt.Objective("(x-mu)**2", "mu", maximize=True), {"x": rng.normal(size=50)}, method="iterative")
    assert r.status == "unbounded" and not r.success and "no finite minimum (maximum, when maximising)" in r.message
    assert "rose" in r.message


def test_a_bounded_slow_run_is_not_called_unbounded(x):
    # exp(-a) falls towards 0 without reaching it: no minimum, but bounded below.
    with pytest.warns(ConvergenceWarning):
        r = quiet(symopt.Objective("exp(-a)*x", "a"), {"x": x}, method="iterative",
                  optimizer=symopt.GradientDescent(lr=0.1, line_search=False, max_iter=500))
    assert r.status == "max_iter"


# --- overflow in iterative runs, and the precision floor -----------------------------------------


def test_levenberg_marquardt_jacobian_overflow_names_the_row(x):
    y = np.exp(x)
    x[7] = 1e308
    r = quiet(symopt.squared_loss(symopt.Model("a*exp(b*x)", "a b")), {"x": x, "y": y})
    assert type(r.optimizer).__name__ == "LevenbergMarquardt"
    assert r.status == "nonfinite" and not r.success and np.isfinite(r.fun)
    assert "row 7 (x = 1e+308" in r.message and "dF/db" in r.message and "overflows double precision" in r.message


@pytest.mark.parametrize("seed, ended", [(2, "line_search_failed"), (0, "max_iter")])
def test_lbfgs_with_tol_zero_at_the_optimum_is_converged_precision(seed, ended):
    # With tol=0, L-BFGS reaches the optimum (gradient about 1e-17) and then either finds no step
    # (seed 2: it used to say line_search_failed) or runs out of iterations with F still (seed 0).
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(200, 3))
    y = (X @ [1.0, -2.0, 0.5] + rng.normal(size=200) > 0).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        r = quiet(symopt.log_loss(symopt.LinearModel()), (X, y), optimizer=symopt.LBFGS(tol=0.0))
    assert r.status == "converged_precision" and r.success and r.grad_norm < 1e-15, r.message
    assert "rounding of its terms" in r.message and (ended != "max_iter" or "max_iter ran out" in r.message)


def test_precision_floor_needs_both_a_tiny_gradient_and_a_still_objective(x):
    with pytest.warns(ConvergenceWarning, match="raise max_iter"):
        r = quiet(symopt.Objective("(a-x)**2", "a"), {"x": x}, method="iterative",
                  optimizer=symopt.GradientDescent(lr=1e-3, line_search=False, tol=0.0, max_iter=50))
    assert r.status == "max_iter"
    still = quiet(symopt.Objective("(a-x)**2", "a"), {"x": x}, method="iterative",
                  optimizer=symopt.GradientDescent(tol=0.0, max_iter=50), x0=[x.mean()])
    assert still.status == "converged_precision" and still.success


# --- success means a verified stationary point (issue 10, item 6) ------------------------------------------------


def _offset_decay():
    rng = np.random.default_rng(0)
    x = np.linspace(0.0, 4.0, 50)
    return (symopt.squared_loss(symopt.Model("a*exp(-b*x) + c", "a b c")),
            {"x": x, "y": 2.0 * np.exp(-1.3 * x) - 0.5 + 0.05 * rng.normal(size=50)})


@pytest.mark.parametrize("backend", ["numba", "python"])
def test_a_small_step_far_from_a_stationary_point_is_not_success(backend):
    """From a = 0, b = 0, c = 1 Levenberg-Marquardt on all three parameters ran off to a = -8.6e6, c = 8.6e6
    (F = 0.084, the optimum has F = 0.0017) and said success=True, converged_xtol. Variable projection (the
    default) solves a and c at every b, and reaches the optimum from there."""
    objective, data = _offset_decay()
    full = symopt.LevenbergMarquardt(projection=False)
    far = symopt.solve(objective, data, x0={"a": 0.0, "b": 0.0, "c": 1.0}, optimizer=full, progress=False,
                       backend=backend)
    assert not far.success and far.status == "stalled"
    assert "no stationary point" in far.message and "poor start" in far.message and "x0=" in far.message
    assert max(abs(v) for v in far.params.values()) > 1e6  # the run did go where the message says
    near = symopt.solve(objective, data, x0={"a": 1.0, "b": 1.0, "c": 0.0}, optimizer=full, progress=False,
                        backend=backend)
    assert near.success and near.fun < 0.002 < far.fun
    assert near.params["c"] == pytest.approx(-0.5, abs=0.05)
    projected = symopt.solve(objective, data, x0={"a": 0.0, "b": 0.0, "c": 1.0}, progress=False, backend=backend)
    assert projected.success and projected.fun == pytest.approx(near.fun, rel=1e-9)


def test_a_plateau_is_not_a_minimum_for_any_optimizer():
    """lmfit's double-exponential example: Newton stopped where the model is 0 on every row (F = mean(y**2))
    and said converged; L-BFGS stops at a saddle nearby."""
    rng = np.random.RandomState(0)
    x = np.linspace(1, 10, 250)
    y = 3.0 * np.exp(-x / 2) - 5.0 * np.exp(-(x - 0.1) / 10.0) + 0.1 * rng.randn(x.size)
    objective = symopt.squared_loss(symopt.Model("a1*exp(-x/t1) + a2*exp(-(x - 0.1)/t2)", "a1 a2 t1 t2"))
    x0 = {"a1": 4.0, "a2": 4.0, "t1": 3.0, "t2": 3.0}
    newton = symopt.solve(objective, {"x": x, "y": y}, optimizer=symopt.Newton(), x0=x0, progress=False)
    assert newton.fun == pytest.approx(np.mean(y**2), rel=1e-9)  # the model contributes nothing
    assert newton.status == "plateau" and not newton.success and "barely depends on the parameters" in newton.message
    lbfgs = symopt.solve(objective, {"x": x, "y": y}, optimizer=symopt.LBFGS(), x0=x0, progress=False)
    assert lbfgs.status in ("saddle_point", "plateau") and not lbfgs.success
    good = symopt.solve(objective, {"x": x, "y": y}, x0={"a1": 2.0, "a2": -4.0, "t1": 1.5, "t2": 8.0},
                        progress=False)
    assert good.success and good.fun < 0.02 and good.params["t2"] == pytest.approx(10.0, rel=0.2)


def test_a_step_stop_after_running_off_along_a_valley_is_judged_more_strictly():
    """Where a and c cancel at 1e7 the residuals are orthogonal to the Jacobian's columns (Levenberg-Marquardt
    stops at its precision floor), and a 1% change of a moves F by only 9e-5 of its size: below the usual
    STATIONARY_TOL, but the run got there from a start of size 1, which RUNOFF_TOL judges."""
    from symopt.model.data import prepare
    from symopt.derivation.task import Task
    from symopt.derivation.totals import gradient
    from symopt.run.stationary import RUNOFF_TOL, STATIONARY_TOL, step_stop_verdict

    objective, data = _offset_decay()
    dataset = prepare(objective, data)
    theta = np.array([-10087751.327368071, -3.502287693980874e-08, 10087751.935727887])  # a stop seen in CI
    task = Task(objective, symopt.derive(objective), dataset)
    grad = gradient(task, theta)
    fun = symopt.Problem(objective).value_and_grad(data, theta)[0]
    names = ["a", "b", "c"]
    relative = abs(theta[0] * grad[0]) / fun  # a squared loss: its size is F
    assert RUNOFF_TOL < relative < STATIONARY_TOL
    why = step_stop_verdict(task, theta, grad, fun, 1.0, names, start_size=1.0)
    assert "no stationary point" in why and "ran off to size 1.01e+07" in why and "x0=" in why
    assert step_stop_verdict(task, theta, grad, fun, 1.0, names, start_size=1e7) == ""

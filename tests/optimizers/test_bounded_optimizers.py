"""Bounds kept by the generated optimizers (issue 12 item 7): every optimizer's bounded module against its NumPy
reference, iterate by iterate, on bounds that bind within the first steps; and loose bounds that no step
touches give exactly the iterates of the unbounded module (an interior optimum costs what it costs unbounded)."""

from __future__ import annotations

import numpy as np
import pytest

import symopt
from symopt.model.data import prepare
from symopt.symbolic.numeric import evaluate
from symopt.optimizers import RUNNING, ProjectedLevenbergMarquardt
from test_optimizers import BACKENDS, FIRST_ORDER, Stepper, objective, reference_functions
from test_projection import projection_parts

#: a*exp(-b*x) from a = 1, b = 0.3 (the optimum is near a = 1.5, b = 0.8): a held below 1.2, b below 0.5
TIGHT = (np.array([0.5, 0.25]), np.array([1.2, 0.5]))
LOOSE = (np.array([-100.0, -100.0]), np.array([100.0, 100.0]))
START = [1.0, 0.3]


@pytest.fixture(scope="module")
def curve():
    """The data of tests/optimizers/test_optimizers.py: y = 1.5 exp(-0.8 x) + noise."""
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 1, 64)
    return {"x": x, "y": 1.5 * np.exp(-0.8 * x) + rng.normal(0, 0.02, 64)}


def steps(stepper, count, accepted_only=False):
    """The first ``count`` iterates after the start (accepted ones only, for Levenberg-Marquardt's rejections)."""
    out = [stepper.theta.copy()]
    while len(out) <= count:
        assert stepper.step() == RUNNING
        if not accepted_only or not np.array_equal(stepper.theta, out[-1]):
            out.append(stepper.theta.copy())
    return out


def assert_matches(got, expected, lower, upper):
    for k in range(1, len(got)):
        np.testing.assert_allclose(got[k], expected[k], rtol=1e-12, atol=1e-15)
        assert np.all(got[k] >= lower) and np.all(got[k] <= upper), (k, got[k])
    on_bound = [k for k in range(1, len(got)) if np.any((got[k] == lower) | (got[k] == upper))]
    assert on_bound, "no iterate reached a bound: the test does not exercise the bounded code"


def lm_functions(obj, data):
    ds = prepare(obj, data)
    u, _ = obj.sum_of_squares()
    jac = [u.diff(p) for p in obj.params]
    values = {s: ds[s.name] for s in obj.data_symbols}
    n, c, w = ds.n_rows, np.sqrt(1.0 / ds.n_rows), np.sqrt(obj.l2)

    def residuals(theta):
        v = {**values, **dict(zip(obj.params, theta))}
        r = np.r_[c * evaluate(u, v), w * theta]
        J = np.vstack([c * np.column_stack([np.broadcast_to(evaluate(e, v), (n,)) for e in jac]),
                       w * np.eye(len(theta))])
        return r, J

    def curvature(theta, direction):
        v = {**values, **dict(zip(obj.params, theta))}
        second = sum(evaluate(jac[j].diff(obj.params[k]), v) * direction[j] * direction[k]
                     for j in range(len(theta)) for k in range(len(theta)))
        return np.r_[c * np.broadcast_to(second, (n,)), np.zeros(len(theta))]

    return residuals, curvature


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("geodesic", [True, False], ids=["geodesic", "plain"])
def test_levenberg_marquardt_with_bounds_matches_reference(curve, backend, geodesic):
    obj = objective(l2=0.01)
    residuals, curvature = lm_functions(obj, curve)
    opt = symopt.LevenbergMarquardt(geodesic=geodesic)
    expected = opt.reference(residuals, curvature, START, 5, *TIGHT)
    got = steps(Stepper(obj, opt, curve, START, backend, bounds=TIGHT), 5, accepted_only=True)
    assert_matches(got, expected, *TIGHT)


@pytest.mark.parametrize("backend", BACKENDS)
def test_lbfgs_with_bounds_matches_reference(curve, backend):
    obj = objective(maximize=True)
    fun, _, _, _ = reference_functions(obj, curve)
    opt = symopt.LBFGS(memory=3, tol=0.0)
    expected = opt.reference(fun, START, 5, *TIGHT)
    got = steps(Stepper(obj, opt, curve, START, backend, bounds=TIGHT), 5)
    assert_matches(got, expected, *TIGHT)


@pytest.mark.parametrize("backend", BACKENDS)
def test_newton_with_bounds_matches_reference(curve, backend):
    obj = objective(l2=0.01)
    fun, hess, _, _ = reference_functions(obj, curve)
    expected = symopt.Newton().reference(fun, hess, START, 5, *TIGHT)
    got = steps(Stepper(obj, symopt.Newton(tol=0.0), curve, START, backend, bounds=TIGHT), 5)
    assert_matches(got, expected, *TIGHT)


@pytest.mark.parametrize("optimizer", FIRST_ORDER, ids=lambda o: o.describe()[:60])
def test_first_order_with_bounds_matches_reference(curve, optimizer):
    obj = objective(l2=0.01)
    fun, _, batch_grad, ds = reference_functions(obj, curve)
    lower, upper = np.array([0.5, 0.1]), np.array([1.02, 2.0])  # lr-sized steps: a bound near the start
    expected = optimizer.reference(fun, START, 5, batch_grad=batch_grad, n=ds.n_rows, lower=lower, upper=upper)
    got = steps(Stepper(obj, optimizer, curve, START, "python", bounds=(lower, upper)), 5)
    assert_matches(got, expected, lower, upper)


@pytest.fixture(scope="module")
def decay_offset():
    rng = np.random.default_rng(2)
    x = np.linspace(0, 4, 50)
    return {"x": x, "y": 2.0 * np.exp(-0.9 * x) + 0.5 + 0.01 * rng.standard_normal(50)}


@pytest.mark.parametrize("backend", BACKENDS)
def test_projection_with_a_bounded_inner_solve_matches_reference(decay_offset, backend):
    """a and c are solved for by bounded least squares (the reference's is symopt.numerics.bvls, written
    apart from the generated Stark-Parker loop): a is held on its upper bound (the optimum is near 2), c on
    its lower at the start and free afterwards; b is iterated on."""
    obj = symopt.squared_loss(symopt.Model("a*exp(-b*x) + c", "a b c"))
    lower, upper = np.array([0.0, 0.1, 0.0]), np.array([1.8, 2.0, 2.0])
    opt = ProjectedLevenbergMarquardt(linear=(0, 2))
    start = [0.0, 0.3, 0.0]
    expected = opt.reference(projection_parts(obj, decay_offset), start, 5, lower, upper)
    stepper = Stepper(obj, opt, decay_offset, start, backend, bounds=(lower, upper))
    np.testing.assert_allclose(stepper.theta, expected[0], rtol=1e-12)  # a and c solved for at the start
    got = steps(stepper, 5, accepted_only=True)
    assert_matches(got, expected, lower, upper)
    assert got[0][2] == 0.0 and got[-1][0] == 1.8 and got[-1][2] > 0.0  # the inner solve held a, and c at first


@pytest.mark.parametrize("optimizer", [
    symopt.LevenbergMarquardt(), symopt.LBFGS(memory=3, tol=0.0), symopt.Newton(tol=0.0),
    symopt.GradientDescent(), symopt.Adam(lr=0.05), symopt.Momentum(lr=0.02, batch_size=16, seed=3)],
    ids=lambda o: type(o).__name__ + ("_minibatch" if o.stochastic else ""))
def test_bounds_no_step_touches_give_the_unbounded_iterates_exactly(curve, optimizer):
    obj = objective(l2=0.01)
    free = steps(Stepper(obj, optimizer, curve, START, "python"), 8)
    boxed = steps(Stepper(obj, optimizer, curve, START, "python", bounds=LOOSE), 8)
    for a, b in zip(free, boxed):
        assert np.array_equal(a, b), (a, b)


def test_projection_inside_loose_bounds_gives_the_unbounded_iterates_exactly(decay_offset):
    obj = symopt.squared_loss(symopt.Model("a*exp(-b*x) + c", "a b c"))
    opt = ProjectedLevenbergMarquardt(linear=(0, 2))
    free = steps(Stepper(obj, opt, decay_offset, [0.0, 0.3, 0.0], "python"), 6)
    box = (np.full(3, -100.0), np.full(3, 100.0))
    boxed = steps(Stepper(obj, opt, decay_offset, [0.0, 0.3, 0.0], "python", bounds=box), 6)
    for a, b in zip(free, boxed):
        assert np.array_equal(a, b), (a, b)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("optimizer", [symopt.LBFGS(), symopt.Newton(), symopt.LevenbergMarquardt()],
                         ids=["lbfgs", "newton", "levenberg_marquardt"])
def test_held_on_a_bound_is_one_rule_in_the_generated_code_and_in_numpy(curve, backend, optimizer):
    """The generated modules' ``_held`` (which ``_free`` and the bounded convergence test read) and NumPy's
    ``held_on_bounds`` (the references, the run's stopping rules) say the same for every case: inside, on
    either bound with the gradient pointing in or out, a zero gradient, a NaN gradient, a box of one point."""
    from symopt.optimizers.base import held_on_bounds

    module = Stepper(objective(), optimizer, curve, START, backend, bounds=TIGHT).module
    lower = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, -np.inf])
    upper = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, np.inf])
    theta = np.array([0.5, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 3.0])
    grad = np.array([2.0, 2.0, -2.0, -2.0, 2.0, 0.0, np.nan, 1.0, -1.0, 5.0])
    expected = held_on_bounds(theta, grad, lower, upper)
    assert expected.tolist() == [False, True, False, True, False, False, False, True, True, False]
    got = [bool(module._held(theta[j], grad[j], lower[j], upper[j])) for j in range(theta.size)]
    assert got == expected.tolist()
    free = np.empty(theta.size)
    module._free(theta, grad, lower, upper, free)
    assert (free == 0.0).tolist() == expected.tolist()

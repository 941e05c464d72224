"""ProximalGradient (FISTA with backtracking and restarts, for l1 penalties): the generated code against its
NumPy reference iterate by iterate, compiled and interpreted, with and without bounds; the proximal map and the
minimum-norm subgradient it stops on."""

from __future__ import annotations

import numpy as np
import pytest

import symopt
from symopt.model.data import prepare
from symopt.optimizers.proximal import minimum_norm_subgradient, soft_threshold

from test_optimizers import BACKENDS, Stepper, reference_functions


@pytest.fixture(scope="module")
def lines():
    rng = np.random.default_rng(11)
    x, z = rng.normal(size=80), rng.normal(size=80)
    return {"x": x, "z": z, "y": 1.0 + 2.0 * x + 0.05 * z + rng.normal(0, 0.5, 80)}


def lasso(maximize=False):
    expr = "(y - a - b*x - c*z)**2"
    if maximize:
        return symopt.Objective(f"-{expr}", "a b c", maximize=True, l1=0.3, l2=0.01, penalize=["b", "c"])
    return symopt.Objective(expr, "a b c", l1=0.3, l2=0.01, penalize=["b", "c"])


def stepper_and_reference(obj, data, optimizer, theta0, backend, bounds=None, iterations=8):
    lam = obj.l1 * obj.form.l1_mask(prepare(obj, data))
    fun, _, _, _ = reference_functions(obj.with_strength(l1=0.0), data)  # the smooth part
    lower, upper = bounds if bounds is not None else (None, None)
    expected = optimizer.reference(fun, theta0, lam, iterations, lower, upper)
    return Stepper(obj, optimizer, data, theta0, backend, bounds, extra=(lam,)), expected, lam


@pytest.mark.parametrize("maximize", [False, True], ids=["min", "max"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_proximal_gradient_matches_reference(lines, maximize, backend):
    opt = symopt.ProximalGradient(tol=0.0)
    stepper, expected, _ = stepper_and_reference(lasso(maximize), lines, opt, [0.5, 0.5, 0.5], backend)
    assert len(expected) == 9  # eight iterations, none stopped early
    for k in range(1, 9):
        stepper.step()
        np.testing.assert_allclose(stepper.theta, expected[k], rtol=1e-12, atol=1e-15)
    assert stepper.theta[2] == 0.0  # c's small effect is cut to exactly 0 by the soft-thresholding


@pytest.mark.parametrize("backend", BACKENDS)
def test_proximal_gradient_with_bounds_matches_reference(lines, backend):
    opt = symopt.ProximalGradient(tol=0.0)
    bounds = (np.array([-np.inf, -np.inf, -np.inf]), np.array([np.inf, 1.5, np.inf]))
    stepper, expected, _ = stepper_and_reference(lasso(), lines, opt, [0.5, 0.5, 0.5], backend, bounds)
    for k in range(1, 9):
        stepper.step()
        np.testing.assert_allclose(stepper.theta, expected[k], rtol=1e-12, atol=1e-15)
    assert stepper.theta[1] == 1.5  # held on its upper bound, which the unbounded fit (b near 2) passes


def test_generated_run_stops_on_the_minimum_norm_subgradient(lines):
    obj = lasso()
    opt = symopt.ProximalGradient(tol=1e-10)
    stepper, _, lam = stepper_and_reference(obj, lines, opt, [0.0, 0.0, 0.0], "python")
    arrays, fixed = stepper.args
    status, done = stepper.module.run(stepper.theta, stepper.grad, stepper.fs, stepper.fw, stepper.iw, *arrays,
                                      *fixed, 10_000, 1e-10, 0.0, stepper.history, 0)
    assert status == 0 and done > 0  # CONVERGED
    fun, _, _, _ = reference_functions(obj.with_strength(l1=0.0), lines)
    _, g = fun(stepper.theta)
    r = minimum_norm_subgradient(stepper.theta, g, lam)
    assert np.max(np.abs(r)) <= 1e-10
    np.testing.assert_allclose(stepper.grad, r, atol=1e-14)  # what the driver's verdicts read


def test_soft_threshold_and_subgradient():
    v = np.array([3.0, -0.5, 0.2, -4.0])
    np.testing.assert_array_equal(soft_threshold(v, 1.0), [2.0, 0.0, 0.0, -3.0])
    np.testing.assert_array_equal(soft_threshold(v, 1.0, np.full(4, -2.0), np.full(4, 1.0)), [1.0, 0.0, 0.0, -2.0])
    theta = np.array([1.0, 0.0, 0.0, -2.0])
    g = np.array([-0.5, 0.3, -1.5, 0.5])
    lam = np.array([0.5, 0.5, 1.0, 1.0])
    # off 0: g + lam sign(theta); at 0: the part of g past lam
    np.testing.assert_allclose(minimum_norm_subgradient(theta, g, lam), [0.0, 0.0, -0.5, -0.5])


def test_proximal_gradient_checks_its_hyperparameters():
    with pytest.raises(symopt.ModelError, match="step must be a number > 0"):
        symopt.ProximalGradient(step=0.0)
    with pytest.raises(symopt.ModelError, match="growth must be a number in"):
        symopt.ProximalGradient(growth=0.5)

"""Variable projection (symopt.closed_form.projection, ProjectedLevenbergMarquardt): which parameters are solved for, the
generated module against its NumPy reference, the choice and its words, and the fallback to the full solver."""

from __future__ import annotations

import numpy as np
import pytest

import symopt
from symopt.run import drivers
from symopt.model.data import prepare
from symopt.symbolic.numeric import evaluate
from symopt.optimizers import RUNNING, ProjectedLevenbergMarquardt
from symopt.closed_form.projection import separable
from test_optimizers import BACKENDS, Stepper


@pytest.fixture(scope="module")
def decay():
    x = np.linspace(0.0, 3.0, 40)
    y = 2.5 * np.exp(-1.3 * x) + 0.5 + 0.01 * np.random.default_rng(0).normal(size=40)
    return symopt.squared_loss(symopt.Model("a*exp(-b*x) + c", "a b c")), {"x": x, "y": y}


@pytest.mark.parametrize("expr, params, linear", [
    ("a*exp(-b*x) + c", "a b c", (0, 2)),
    ("b1*(1 - exp(-b2*x))", "b1 b2", (0,)),
    ("b1*exp(-b2*x) + b3*exp(-b4*x) + b5*exp(-b6*x)", "b1 b2 b3 b4 b5 b6", (0, 2, 4)),
    ("(b1 + b2*x + b3*x**2)/(1 + b4*x)", "b1 b2 b3 b4", (0, 1, 2)),
    ("a*b*x + b**2", "a b", (0,)),  # b's slope has a in it: a is taken, b is not
    ("exp(-b1*x)/(b2 + b3*x)", "b1 b2 b3", ()),
    ("a + b*x", "a b", ()),
])
def test_the_parameters_the_residuals_are_jointly_linear_in(expr, params, linear):
    found, why = separable(symopt.squared_loss(symopt.Model(expr, params)))
    assert found == linear
    assert bool(why) == (not linear)


def test_only_sums_of_squares_of_expression_models_are_projected():
    assert separable(symopt.log_loss(symopt.Model("a + b*x", "a b")))[1] == "not a sum of squares"
    assert "wide problem is not projected" in separable(symopt.squared_loss(symopt.LinearModel()))[1]


def projection_parts(objective, data):
    """``parts(theta) -> (rho, J)`` for :meth:`ProjectedLevenbergMarquardt.reference`: the residuals of a
    mean-reduced sum of squares, scaled by sqrt(1/n), and their Jacobian."""
    dataset = prepare(objective, data)
    u, _ = objective.sum_of_squares()
    values = {s: dataset[s.name] for s in objective.data_symbols}
    n = dataset.n_rows
    jac = [u.diff(p) for p in objective.params]

    def parts(theta):
        v = {**values, **dict(zip(objective.params, theta))}
        J = np.column_stack([np.broadcast_to(evaluate(e, v), (n,)) for e in jac])
        return np.sqrt(1.0 / n) * evaluate(u, v), np.sqrt(1.0 / n) * J

    return parts


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_projected_module_matches_its_reference(decay, backend):
    objective, data = decay
    opt = ProjectedLevenbergMarquardt(linear=(0, 2))
    start = [0.0, 0.5, 0.0]
    expected = opt.reference(projection_parts(objective, data), start, 5)
    stepper = Stepper(objective, opt, data, start, backend)
    np.testing.assert_allclose(stepper.theta, expected[0], rtol=1e-12)  # a and c solved for at the start
    accepted = [stepper.theta.copy()]
    while len(accepted) < 6:
        assert stepper.step() == RUNNING
        if not np.array_equal(stepper.theta, accepted[-1]):
            accepted.append(stepper.theta.copy())
    for k in range(1, 6):
        np.testing.assert_allclose(accepted[k], expected[k], rtol=1e-12)


def test_auto_projects_and_says_so_and_reaches_the_full_solvers_optimum(decay):
    objective, data = decay
    projected = symopt.solve(objective, data, backend="python")
    full = symopt.solve(objective, data, optimizer=symopt.LevenbergMarquardt(projection=False), backend="python")
    assert isinstance(projected.optimizer, ProjectedLevenbergMarquardt) and projected.optimizer.linear == (0, 2)
    assert "variable projection: a, c (the residuals are linear in them)" in projected.why
    assert "the iterations on b alone" in projected.why
    assert type(full.optimizer) is symopt.LevenbergMarquardt and "variable projection" not in full.why
    assert projected.success and full.success
    np.testing.assert_allclose(projected.x, full.x, rtol=1e-8)
    assert projected.nit < full.nit  # measured: 20 against 27
    assert "theta[LINEAR] (a, c)" in projected.source and "LINEAR = np.array([0, 2]" in projected.source


def test_a_penalty_turns_projection_off_and_says_why(decay):
    objective, data = decay
    ridge = symopt.squared_loss(objective.model, l2=0.01)
    r = symopt.solve(ridge, data, backend="python")
    assert type(r.optimizer) is symopt.LevenbergMarquardt
    assert "no variable projection of a, c: it needs l2=0" in r.why


def test_a_failed_projected_run_is_redone_by_the_full_solver(decay, monkeypatch):
    objective, data = decay
    original = drivers.GeneratedDriver.run
    runs = []

    def failing_projection(self, dataset, optimizer, x0, progress, stops=None, bounds=None):
        run, code, extras = original(self, dataset, optimizer, x0, progress, stops, bounds)
        runs.append(type(optimizer).__name__)
        if isinstance(optimizer, ProjectedLevenbergMarquardt):
            from dataclasses import replace

            run = replace(run, success=False, status="line_search_failed", message="injected")
        return run, code, extras

    monkeypatch.setattr(drivers.GeneratedDriver, "run", failing_projection)
    r = symopt.solve(objective, data, backend="python")
    assert runs == ["ProjectedLevenbergMarquardt", "LevenbergMarquardt"]
    assert r.success and type(r.optimizer) is symopt.LevenbergMarquardt
    assert "the projected run stopped (line_search_failed after " in r.why and ": injected), so the full " \
           "Levenberg-Marquardt ran" in r.why


@pytest.mark.parametrize("status", ["nonfinite", "line_search_failed"])
def test_why_a_projected_run_stopped_names_where_not_the_users_data(decay, monkeypatch, status):
    """Item 16: the fall-back's reason is what held for the projected run (its status, where it stopped and
    what the driver found there), not the status's advice to the user about outliers or missing-value codes
    in the data, which the full solver then fitted without trouble."""
    from dataclasses import replace

    from symopt.optimizers.base import STATUS, Status

    objective, data = decay
    original = drivers.GeneratedDriver.run
    code = {"nonfinite": Status.NONFINITE_GRADIENT, "line_search_failed": Status.LINE_SEARCH_FAILED}[status]
    found = "row 3 (x = 2.5): d/db is not finite; " if status == "nonfinite" else ""

    def failing_projection(self, dataset, optimizer, x0, progress, stops=None, bounds=None):
        run, words, extras = original(self, dataset, optimizer, x0, progress, stops, bounds)
        if isinstance(optimizer, ProjectedLevenbergMarquardt):
            run = replace(run, success=False, status=status, message=f"{status}: {found}{STATUS[code][2]}")
        return run, words, extras

    monkeypatch.setattr(drivers.GeneratedDriver, "run", failing_projection)
    r = symopt.solve(objective, data, backend="python")
    assert r.success and "the projected run stopped (" in r.why
    assert STATUS[code][2] not in r.why and "missing-value" not in r.why and "a kink" not in r.why
    assert f"{status} after " in r.why and " at a = " in r.why
    if found:
        assert "row 3 (x = 2.5): d/db is not finite" in r.why


def test_projection_cuts_the_iterations_on_nist_mgh10(nist):
    """MGH10 from NIST's first start: the full solver needs 1818 iterations, projection 73 (measured)."""
    from nist_models import nist_problem
    from symopt.trust.nist import lre

    problem, names, objective, data = nist_problem(nist, "MGH10")
    x0 = {n: problem.starts[0][n] for n in names}
    r = symopt.solve(objective, data, x0=x0, progress=False)
    assert isinstance(r.optimizer, ProjectedLevenbergMarquardt) and r.success
    assert r.nit < 200
    assert min(lre(r.params[n], problem.certified[n]) for n in names) >= 6.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_generated_bounded_least_squares_is_the_numpy_bvls(decay, backend):
    """The template's bounded least squares (the macro in optimizers/bvls.py.jinja, which variable projection
    solves its bounded linear parameters with) gives what its independent NumPy reference,
    symopt.numerics.bvls, gives: over random problems, some columns bounded on one side, some on both, some
    open, some pinned by a box of one point."""
    from symopt.numerics.bvls import bounded_least_squares

    objective, data = decay
    box = (np.array([-10.0, 0.0, -10.0]), np.array([10.0, 5.0, 10.0]))
    module = Stepper(objective, ProjectedLevenbergMarquardt(linear=(0, 2)), data, [0.0, 0.5, 0.0], backend,
                     bounds=box).module
    rng = np.random.default_rng(11)
    held = 0
    for _ in range(40):
        m = int(rng.integers(1, 6))
        phi = rng.normal(size=(30, m))
        u = 3.0 * rng.normal(size=30)
        lo = rng.uniform(-1.0, 0.0, m)
        hi = lo + rng.uniform(0.05, 1.5, m)
        lo[rng.random(m) < 0.2] = -np.inf
        hi[rng.random(m) < 0.2] = np.inf
        pinned = rng.random(m) < 0.1
        hi[pinned] = lo[pinned] = np.where(np.isfinite(lo[pinned]), lo[pinned], 0.0)
        x = np.linalg.lstsq(phi, u, rcond=None)[0]  # where the generated solver starts, as the projection does
        assert module._bounded_least_squares(phi, u, x, lo, hi)
        expected = bounded_least_squares(phi, u, lo, hi).x
        np.testing.assert_allclose(x, expected, rtol=1e-9, atol=1e-10)
        held += int(np.sum((expected <= lo) | (expected >= hi)))
    assert held > 20  # the box binds often: this is a test of the bounded solver, not of lstsq

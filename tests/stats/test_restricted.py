"""Standard errors with an active constraint (symopt.stats.restricted): the covariance restricted to the
directions the active constraints leave free, Z (Z' I Z)^-1 Z'. The oracle is the same fit with the active
constraint stated as a tie (a reparametrised fit), the tied parameter's standard error by the delta method: equal
to 1e-8, classical and robust, least squares and likelihood."""

from __future__ import annotations

import numpy as np
import pytest

import symopt

TOL = 1e-8
ROWS = np.array([[0.0, 1.0, 1.2], [1.0, 0.0, 2.1], [2.0, 2.0, 5.9], [3.0, 1.0, 6.2], [4.0, 3.0, 9.1],
                 [5.0, 0.5, 8.8], [1.5, 2.5, 5.0], [2.5, 0.5, 4.9], [3.5, 2.0, 8.1], [0.5, 1.5, 2.6]])
PLANE = {"x": ROWS[:, 0], "z": ROWS[:, 1], "y": ROWS[:, 2]}
MODEL = symopt.Model("a + b*x + c*z", "a b c")


def _same(constrained, tied, cov_types=("nonrobust",)):
    assert constrained.success and tied.success
    for name in tied.params:
        assert constrained.params[name] == pytest.approx(tied.params[name], rel=1e-10, abs=1e-12)
    for cov_type in cov_types:
        mine = constrained.inference(cov_type)
        theirs = tied.inference(cov_type)
        se = dict(zip(mine.names, mine.stderr))
        reference = dict(zip(theirs.names, theirs.stderr))
        for name, value in reference.items():
            assert se[name] == pytest.approx(value, rel=TOL, abs=TOL), (cov_type, name)
        assert mine.dof == theirs.dof
    for name in tied.tied:  # the tied parameter: the delta method's standard error
        assert constrained.stderr[name] == pytest.approx(tied.stderr[name], rel=TOL, abs=TOL)


def test_an_active_difference_constraint_gives_the_tied_fits_standard_errors():
    constrained = symopt.solve(symopt.squared_loss(MODEL), PLANE, constraints=["a >= b"])
    assert constrained.kkt.active == ("a >= b",) and constrained.multipliers["a >= b"] > 0
    tied = symopt.solve(symopt.squared_loss(MODEL), PLANE, ties={"a": "b"})
    _same(constrained, tied, ("nonrobust", "HC0", "HC1", "HC2", "HC3"))
    assert constrained.rss == pytest.approx(tied.rss, rel=1e-12)
    text = str(constrained.summary())
    assert "on the surface of the active constraint(s) a >= b" in text and "std err" in text
    assert "correlated" not in text  # a and b move together because of the constraint, not the data


def test_an_active_sum_constraint_gives_the_tied_fits_standard_errors():
    constrained = symopt.solve(symopt.squared_loss(MODEL), PLANE, constraints=["b + c <= 2"])
    assert constrained.kkt.active == ("b + c <= 2",)
    tied = symopt.solve(symopt.squared_loss(MODEL), PLANE, ties={"c": "2 - b"})
    _same(constrained, tied, ("nonrobust", "HC1"))


def test_a_likelihood_with_an_active_constraint_gives_the_tied_fits_standard_errors():
    rng = np.random.default_rng(1)
    x = rng.uniform(0.0, 2.0, 200)
    data = {"x": x, "y": rng.poisson(np.exp(0.5 + 0.3 * x)).astype(float)}
    poisson = symopt.Objective("exp(a + b*x) - y*(a + b*x)", "a b", likelihood=True)
    constrained = symopt.solve(poisson, data, constraints=["a >= b"])
    assert constrained.kkt.active == ("a >= b",)
    _same(constrained, symopt.solve(poisson, data, ties={"a": "b"}), ("nonrobust", "HC0"))


def test_an_inactive_constraint_leaves_the_classical_standard_errors():
    constrained = symopt.solve(symopt.squared_loss(MODEL), PLANE, constraints=["a <= b"])
    plain = symopt.solve(symopt.squared_loss(MODEL), PLANE)
    assert constrained.kkt.active == () and constrained.inference().surface is None
    np.testing.assert_allclose(constrained.inference().stderr, plain.inference().stderr, rtol=1e-12)


def test_a_tie_and_an_active_constraint_together_give_the_doubly_tied_fit():
    constrained = symopt.solve(symopt.squared_loss(MODEL), PLANE, ties={"c": "2*b"}, constraints=["a >= b"])
    assert constrained.kkt.active == ("a >= b",)
    tied = symopt.solve(symopt.squared_loss(MODEL), PLANE, ties={"c": "2*b", "a": "b"})
    _same(constrained, tied)


def test_a_gamma_glm_with_an_active_constraint_scales_by_the_free_directions():
    # c = b + 0.2 active: statsmodels' Gamma GLM on x + z with the offset 0.2 z is the same fit, and its Pearson
    # scale divides by n - 2, one parameter fewer than the three symopt names
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(0)
    x, z = rng.normal(size=200), rng.normal(size=200)
    y = rng.gamma(3.0, np.exp(0.5 + 0.3 * x + 0.3 * z) / 3.0)
    r = symopt.solve(symopt.glm(symopt.Model("a + b*x + c*z", "a b c"), "gamma", link="log"),
                     {"x": x, "z": z, "y": y}, constraints=["b <= c - 0.2"])
    ref = sm.GLM(y, sm.add_constant(x + z), family=sm.families.Gamma(sm.families.links.Log()), offset=0.2 * z).fit()
    assert abs(r.scale - ref.scale) <= 1e-8 * ref.scale
    np.testing.assert_allclose([r.stderr["a"], r.stderr["b"], r.stderr["c"]], [ref.bse[0], ref.bse[1], ref.bse[1]],
                               rtol=1e-7)

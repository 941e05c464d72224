"""The exact bounded least-squares solver (symopt.numerics.bvls) against SciPy's nnls and lsq_linear."""

from __future__ import annotations

import numpy as np
import pytest

from symopt.numerics.bvls import BoundedSolution, bounded_least_squares, kkt_violation
from symopt.errors import DataError, ModelError


def _problem(rng, n, p):
    return rng.normal(size=(n, p)), 3.0 * rng.normal(size=n)


@pytest.mark.parametrize("n, p", [(30, 5), (100, 10), (8, 8), (60, 1)])
def test_nonnegative_least_squares_equals_scipy_nnls(n, p):
    scipy_optimize = pytest.importorskip("scipy.optimize")
    rng = np.random.default_rng(n * 100 + p)
    for _ in range(10):
        A, b = _problem(rng, n, p)
        s = bounded_least_squares(A, b, 0.0, np.inf)
        np.testing.assert_allclose(s.x, scipy_optimize.nnls(A, b)[0], rtol=1e-10, atol=1e-12)
        assert s.active == tuple("lower" if v == 0.0 else None for v in s.x)
        assert kkt_violation(s, np.zeros(p), np.full(p, np.inf)) < 1e-10 * np.abs(A.T @ b).max()


def test_two_sided_boxes_equal_scipy_lsq_linear_bvls():
    scipy_optimize = pytest.importorskip("scipy.optimize")
    rng = np.random.default_rng(7)
    for _ in range(40):
        n, p = int(rng.integers(8, 50)), int(rng.integers(1, 8))
        A, b = _problem(rng, n, p)
        lo = rng.normal(size=p) - 0.5
        hi = lo + rng.uniform(0.1, 2.0, p)
        lo[rng.random(p) < 0.3] = -np.inf
        hi[rng.random(p) < 0.3] = np.inf
        s = bounded_least_squares(A, b, lo, hi)
        expected = scipy_optimize.lsq_linear(A, b, bounds=(lo, hi), method="bvls", tol=1e-14).x
        np.testing.assert_allclose(s.x, expected, rtol=1e-10, atol=1e-12)
        assert np.all(s.x >= lo) and np.all(s.x <= hi)


def test_loose_bounds_give_the_unconstrained_solution():
    rng = np.random.default_rng(2)
    A, b = _problem(rng, 40, 6)
    s = bounded_least_squares(A, b, -1e6, 1e6)
    np.testing.assert_allclose(s.x, np.linalg.lstsq(A, b, rcond=None)[0], rtol=1e-12)
    assert s.active == (None,) * 6


def test_a_variable_with_equal_bounds_stays_there_and_the_others_fit_around_it():
    rng = np.random.default_rng(3)
    A, b = _problem(rng, 30, 3)
    s = bounded_least_squares(A, b, [0.25, -np.inf, -np.inf], [0.25, np.inf, np.inf])
    assert s.x[0] == 0.25
    np.testing.assert_allclose(s.x[1:], np.linalg.lstsq(A[:, 1:], b - 0.25 * A[:, 0], rcond=None)[0], rtol=1e-12)


def test_the_kkt_violation_sees_a_point_that_is_not_the_optimum():
    rng = np.random.default_rng(4)
    A, b = _problem(rng, 30, 4)
    lo, hi = np.zeros(4), np.full(4, np.inf)
    s = bounded_least_squares(A, b, lo, hi)
    x = s.x + 0.1
    wrong = BoundedSolution(x, (None,) * 4, A.T @ (A @ x - b), 0)
    assert kkt_violation(s, lo, hi) < 1e-10 * np.abs(A.T @ b).max() < kkt_violation(wrong, lo, hi)


def test_an_ill_conditioned_vandermonde_design_still_matches_scipy():
    scipy_optimize = pytest.importorskip("scipy.optimize")
    t = np.linspace(0, 1, 50)
    A = np.vander(t, 7, increasing=True)
    b = np.sin(3 * t) + 0.01 * np.random.default_rng(5).normal(size=50)
    lo, hi = np.full(7, -2.0), np.full(7, 2.0)
    s = bounded_least_squares(A, b, lo, hi)
    expected = scipy_optimize.lsq_linear(A, b, bounds=(lo, hi), method="bvls", tol=1e-15).x
    np.testing.assert_allclose(A @ s.x, A @ expected, atol=1e-8)
    assert np.sum((A @ s.x - b) ** 2) <= np.sum((A @ expected - b) ** 2) * (1 + 1e-10)


def test_bad_input_is_refused_clearly():
    with pytest.raises(ModelError, match="2-D"):
        bounded_least_squares(np.ones(3), np.ones(3), 0, 1)
    with pytest.raises(ModelError, match="one entry per row"):
        bounded_least_squares(np.ones((3, 2)), np.ones(4), 0, 1)
    with pytest.raises(ModelError, match="at most its upper"):
        bounded_least_squares(np.ones((3, 2)), np.ones(3), [0, 2], [1, 1])
    with pytest.raises(DataError, match="NaN"):
        bounded_least_squares(np.array([[1.0, np.nan], [0, 1]]), np.ones(2), 0, 1)

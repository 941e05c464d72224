"""Statuses and advice that tell the truth: unbounded objectives, diverging and oscillating
steps, overflowing data, and runs stopped at the precision floor (issue 9, items 3 to 5)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import symopt
from symopt.errors import DataError


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
        solved, cond = normal_equations.solve(X, rng.normal(size=1000), np.zeros(2), center=True)
    assert solved is None and cond == np.inf

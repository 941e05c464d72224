"""Bad data gets a specific error naming the array (and position); nothing is dropped."""

from __future__ import annotations

import numpy as np
import pytest

import symopt
from symopt.errors import DataError


@pytest.fixture(scope="module")
def objective():
    return symopt.squared_loss(symopt.Model("a + b*x", "a b"))


def test_nan_names_array_and_row(objective):
    with pytest.raises(DataError, match=r"'x' has 1 non-finite value\(s\); the first is NaN at row 2"):
        symopt.solve(objective, {"x": [1.0, 2.0, np.nan, 4.0], "y": [1, 2, 3, 4]})


def test_inf_in_target(objective):
    with pytest.raises(DataError, match=r"'y' .* inf at row 0"):
        symopt.solve(objective, {"x": [1.0, 2.0], "y": [np.inf, 2.0]})


def test_mismatched_lengths(objective):
    with pytest.raises(DataError, match=r"different numbers of rows \(x: 3, y: 2\)"):
        symopt.solve(objective, {"x": [1, 2, 3], "y": [1, 2]})


def test_zero_rows(objective):
    with pytest.raises(DataError, match="'x' has zero rows"):
        symopt.solve(objective, {"x": [], "y": []})


def test_missing_name(objective):
    with pytest.raises(DataError, match="no array named 'y'.*needs x, y"):
        symopt.solve(objective, {"x": [1, 2, 3]})


def test_non_numeric(objective):
    with pytest.raises(DataError, match="'x' is not numeric.*'abc'"):
        symopt.solve(objective, {"x": ["1", "abc", "3"], "y": [1, 2, 3]})


def test_scalar_and_matrix(objective):
    with pytest.raises(DataError, match="single number"):
        symopt.solve(objective, {"x": 3.0, "y": [1, 2, 3]})
    with pytest.raises(DataError, match=r"shape \(2, 2\)"):
        symopt.solve(objective, {"x": [[1, 2], [3, 4]], "y": [1, 2]})


def test_complex_rejected(objective):
    with pytest.raises(DataError, match="complex"):
        symopt.solve(objective, {"x": [1j, 2], "y": [1, 2]})


def test_tuple_for_expression_model(objective):
    with pytest.raises(DataError, match=r"\(X, y\) pair is for a LinearModel"):
        symopt.solve(objective, (np.ones((3, 1)), np.ones(3)))


def test_wide_model_data_errors():
    obj = symopt.squared_loss(symopt.LinearModel(n_features=3))
    with pytest.raises(DataError, match="3 columns but the LinearModel has n_features=3|has 2 columns"):
        symopt.solve(obj, (np.ones((4, 2)), np.ones(4)))
    with pytest.raises(DataError, match=r"'X' .* NaN at \(row, column\) \(1, 2\)"):
        X = np.ones((4, 3))
        X[1, 2] = np.nan
        symopt.solve(obj, (X, np.ones(4)))
    with pytest.raises(DataError, match="must be 2-D"):
        symopt.solve(obj, (np.ones(4), np.ones(4)))


def test_log_loss_labels():
    obj = symopt.log_loss(symopt.LinearModel())
    with pytest.raises(DataError, match="labels 0 or 1.*2.0 at row 1"):
        symopt.solve(obj, (np.ones((3, 1)), np.array([0, 2, 1])))

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
    with pytest.raises(DataError, match="'x' holds text, not numbers"):
        symopt.solve(objective, {"x": ["1", "abc", "3"], "y": [1, 2, 3]})
    with pytest.raises(DataError, match=r"'x' is not numeric.*first non-numeric value: \{'a': 1\}"):
        symopt.solve(objective, {"x": np.array([1.0, {"a": 1}, 3.0], dtype=object), "y": [1, 2, 3]})


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


def test_masked_values_are_not_silently_used(objective):
    x = np.ma.masked_array([1.0, 2.0, 3.0, 4.0], mask=[False, True, False, False])
    with pytest.raises(DataError, match=r"'x' is a masked array with 1 masked value\(s\), the first at \(1,\)"):
        symopt.solve(objective, {"x": x, "y": [1, 2, 3, 4]})
    unmasked = np.ma.masked_array([1.0, 2.0, 3.0], mask=False)
    assert symopt.solve(objective, {"x": unmasked, "y": [1.0, 2.5, 2.9]}).success


@pytest.mark.parametrize("column, what", [
    (np.array(["1.5", "2", "3"]), "text"),
    (np.array(["1.5", 2.0, 3.0], dtype=object), "text"),
    (np.array(["2024-01-01", "2024-01-02", "2024-01-05"], dtype="datetime64[D]"), "dates"),
    (np.array([1, 2, 3], dtype="timedelta64[s]"), "time spans"),
])
def test_text_and_dates_are_not_converted_silently(objective, column, what):
    with pytest.raises(DataError, match=f"'x' holds {what}"):
        symopt.solve(objective, {"x": column, "y": [1.0, 2.0, 3.0]})


def test_integers_too_big_for_a_double(objective):
    with pytest.raises(DataError, match="'x' (cannot be read as an array|is not numeric)"):
        symopt.solve(objective, {"x": [10**400, 1, 2], "y": [1.0, 2.0, 3.0]})


def test_data_named_like_a_parameter_is_an_error_not_ignored():
    model = symopt.Model("a*x", "a x")  # x is declared a parameter
    with pytest.raises(DataError, match="data 'x' has the name of a parameter"):
        symopt.solve(symopt.squared_loss(model), {"x": [1.0, 2.0, 3.0], "y": [2.0, 4.0, 6.0]})


def test_data_keys_must_be_names(objective):
    import sympy as sp

    with pytest.raises(DataError, match="data keys must be names .*Use 'x'"):
        symopt.solve(objective, {sp.Symbol("x"): [1.0, 2.0], "y": [1.0, 2.0]})
    with pytest.raises(DataError, match=r"no array named 'x' \(data has 'x ', with spaces\)"):
        symopt.solve(objective, {"x ": [1.0, 2.0], "y": [1.0, 2.0]})

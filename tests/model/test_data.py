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
    with pytest.raises(DataError, match=r"'x' holds a number too large for double precision at row 0"):
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


def test_minus_inf_is_named_minus_inf(objective):
    with pytest.raises(DataError, match=r"the first is -inf at row 1"):
        symopt.solve(objective, {"x": [1.0, -np.inf], "y": [1.0, 2.0]})


def test_an_integer_past_double_precision_is_too_large_not_non_numeric(objective):
    with pytest.raises(DataError, match=r"'x' holds a number too large for double precision at row 2 \(about 1e\+400"):
        symopt.solve(objective, {"x": np.array([1, 2, 10**400], dtype=object), "y": [1.0, 2.0, 3.0]})


pd = pytest.importorskip("pandas", reason="pandas is needed for the index rule")


def test_pandas_series_with_different_indexes_are_refused(objective):
    x = pd.Series(np.arange(10.0))
    y = pd.Series(2 * np.arange(10.0) + 1, index=np.arange(10)[::-1])  # the same rows, in another order
    with pytest.raises(DataError, match=r"'x' and 'y' are pandas objects with different indexes .*row 0 is "
                                        r"labelled 0 in one and 9 in the other"):
        symopt.solve(objective, {"x": x, "y": y})
    with pytest.raises(DataError, match="10 vs 7 labels"):
        symopt.solve(objective, {"x": x, "y": y.iloc[:7]})


def test_pandas_objects_with_equal_indexes_are_used(objective):
    frame = pd.DataFrame({"x": np.arange(10.0), "y": 2 * np.arange(10.0) + 1}, index=np.arange(10)[::-1])
    result = symopt.solve(objective, frame)
    assert result.params["a"] == pytest.approx(1.0) and result.params["b"] == pytest.approx(2.0)
    aligned = symopt.solve(objective, {"x": frame["x"], "y": frame["y"].sort_index().loc[frame.index]})
    assert aligned.params["b"] == pytest.approx(2.0)


def test_a_data_frame_and_a_series_with_different_indexes_are_refused(rng):
    X = pd.DataFrame(rng.normal(size=(8, 2)))
    y = pd.Series(rng.normal(size=8), index=range(1, 9))
    with pytest.raises(DataError, match="'X' and 'y' are pandas objects with different indexes"):
        symopt.solve(symopt.squared_loss(symopt.LinearModel()), (X, y))


@pytest.mark.parametrize("method", ["auto", "symbolic", "iterative"])
def test_data_outside_a_likelihood_s_domain_is_named_on_every_path(method):
    """Negative counts in a Poisson likelihood: lgamma(y + 1) is infinite at y = -1 (a math domain
    error from math.lgamma before), whatever the parameters; the data are at fault, and said to be."""
    lam = symopt.params("lam", positive=True)
    poisson = symopt.Objective("y*log(lam) - lam - lgamma(y + 1)", lam, maximize=True)
    with pytest.raises(DataError, match=r"term -loggamma\(y \+ 1\).* is -inf at row 2 \(y = -1.0; 1 row\(s\) in "
                                        r"all\).*negative counts in a Poisson likelihood"):
        symopt.solve(poisson, {"y": np.array([1.0, 2.0, -1.0, 3.0])}, method=method, progress=False)


def test_prepared_arrays_are_read_only_views_that_leave_the_users_arrays_alone():
    """Numba compiles per argument type, writability included: the kernels always see read-only data, so a
    read-only input and a writable one call the same compiled code (tests/system/test_pickling.py holds that
    across processes). Views, not copies: a large input is not duplicated."""
    from symopt.model.data import prepare

    X = np.arange(12.0).reshape(6, 2)
    y = np.array([0.0, 1.0, 0.0, 1.0, 1.0, 0.0])
    frozen = y.copy()
    frozen.flags.writeable = False
    for target in (y, frozen):
        dataset = prepare(symopt.log_loss(symopt.LinearModel()), (X, target))
        assert not dataset["X"].flags.writeable and not dataset["y"].flags.writeable
        assert np.shares_memory(dataset["X"], X) and np.shares_memory(dataset["y"], target)
    assert X.flags.writeable and y.flags.writeable
    X[0, 0] = 5.0  # still the user's to change

"""Separated classes (issue 26 item 1): log loss and multinomial cross entropy on data that a direction of the
parameters separates have no maximum-likelihood estimate. The fit says so (status ``separated``, ``success``
False, no standard errors, the direction) on every path that returns a Result, and each direction it names is
checked against the definition on the data; fits whose estimate exists are certified without a linear program."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import symopt

#: The issue's data: x < 0 against x > 0.
X1 = np.r_[np.linspace(-2.0, -0.1, 20), np.linspace(0.1, 2.0, 20)]
Y1 = (X1 > 0).astype(float)
LINE = symopt.Model("a + b*x", "a b")


def _solve(objective, data, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a run off along the direction may also warn that it did not converge
        return symopt.solve(objective, data, progress=False, backend="python", **options)


def _margins(r, rows) -> np.ndarray:
    """``s_i phi_i . d`` for the direction ``r`` reports, ``phi_i = [1, x_i]`` for a line or a LinearModel."""
    d = r.separation.direction
    if "b" in d or "a" in d:
        return (2 * rows[1] - 1) * (d.get("a", 0.0) + d.get("b", 0.0) * rows[0])
    phi = np.column_stack([np.ones(rows[0].shape[0]), rows[0]])
    beta = np.array([d.get("intercept", 0.0)] + [d.get(f"coef[{j}]", 0.0) for j in range(rows[0].shape[1])])
    return (2 * rows[1] - 1) * (phi @ beta)


def _is_separated(r, complete=True):
    assert r.status == "separated" and not r.success
    assert r.stderr is None and r.cov is None and r.conf_int() is None
    assert "separated" in r.stderr_reason
    assert r.separation.kind == ("complete" if complete else "quasi-complete")
    text = str(r)
    assert "FAILED (separated)" in text and "maximum-likelihood estimate does not exist" in text
    assert "global" not in text and "l2=" in text and "bounds=" in text
    assert "separated" in str(r.summary()) and "no standard errors" in str(r.summary())


@pytest.mark.parametrize("options", [{}, {"standardize": True}, {"starts": 5}])
def test_the_issues_line_on_separated_classes_has_no_optimum(options):
    """It said success, converged, b = 155.7, "the minimum found is global", p-values of 0.99."""
    r = _solve(symopt.log_loss(LINE), {"x": X1, "y": Y1}, **options)
    _is_separated(r)
    assert r.separation.direction == {"b": 1.0} and r.separation.strict == 40
    assert np.all(_margins(r, (X1, Y1)) > 0)
    if "starts" in options:
        assert r.optima == () and "no optimum reached from 5 starts" in str(r)


@pytest.mark.parametrize("options", [{}, {"standardize": True}, {"starts": 5}])
def test_a_linear_model_on_separated_classes_has_no_optimum(options):
    X = np.column_stack([X1, np.cos(3 * X1)])
    r = _solve(symopt.log_loss(symopt.LinearModel()), (X, Y1), **options)
    _is_separated(r)
    margins = _margins(r, (X, Y1))
    assert np.all(margins > 0) and r.separation.strict == 40


def test_quasi_complete_separation():
    """Two rows at x = 0 of either class: no direction puts them apart, but b still runs off."""
    x, y = np.r_[X1, 0.0, 0.0], np.r_[Y1, 0.0, 1.0]
    for objective, data in ((symopt.log_loss(LINE), {"x": x, "y": y}),
                            (symopt.log_loss(symopt.LinearModel()), (x[:, None], y))):
        r = _solve(objective, data)
        _is_separated(r, complete=False)
        assert r.separation.strict == 40 and r.separation.level == 2
        rows = (x, y) if isinstance(data, dict) else (x[:, None], y)
        margins = _margins(r, rows)
        assert np.all(margins >= -1e-12) and np.sum(margins > 1e-9) == 40


def test_a_single_row_is_separated():
    _is_separated(_solve(symopt.log_loss(LINE), {"x": np.array([0.3]), "y": np.array([1.0])}))
    r = _solve(symopt.log_loss(symopt.LinearModel()), (np.array([[0.3, 1.0]]), np.array([0.0])))
    _is_separated(r)
    assert _margins(r, (np.array([[0.3, 1.0]]), np.array([0.0])))[0] > 0


def _pair_margins(r, X, y) -> np.ndarray:
    """``(d_{y_i} - d_k) . [1, x_i]`` for every row and class ``k != y_i``, ``d`` the reported direction."""
    K = int(y.max()) + 1
    D = np.zeros((K, X.shape[1] + 1))
    for name, value in r.separation.direction.items():
        k, _, j = name.partition("[")[2].rstrip("]").partition(", ")
        D[int(k), 0 if name.startswith("intercept") else int(j) + 1] = value
    scores = np.column_stack([np.ones(len(y)), X]) @ D.T
    own = scores[np.arange(len(y)), y.astype(int)]
    return np.concatenate([(own - scores[:, k])[y != k] for k in range(K)])


def test_multinomial_classes_separated():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 2))
    ordered = np.digitize(X[:, 0], [-0.5, 0.5]).astype(float)  # every class from every other
    r = _solve(symopt.cross_entropy(symopt.LinearModel()), (X, ordered))
    _is_separated(r)
    assert r.separation.strict == 180 and np.all(_pair_margins(r, X, ordered) > 0)
    # one class cut off from two that overlap: quasi-complete, the pairs of the overlapping two level
    one = np.where(X[:, 0] > 1.0, 2.0, (rng.random(90) > 0.5).astype(float))
    r = _solve(symopt.cross_entropy(symopt.LinearModel()), (X, one))
    _is_separated(r, complete=False)
    margins = _pair_margins(r, X, one)
    assert np.all(margins >= -1e-12) and np.sum(margins > 1e-9) == r.separation.strict > 0
    assert set(r.separation.direction) <= {"intercept[2]", "coef[2, 0]", "coef[2, 1]"}


def test_with_l2_only_the_unpenalised_parameters_can_run_off():
    both = _solve(symopt.log_loss(symopt.LinearModel(), l2=0.1), (X1[:, None], Y1))
    assert both.success and both.status != "separated"
    one_class = _solve(symopt.log_loss(symopt.LinearModel(), l2=0.1), (X1[:, None], np.ones(40)))
    assert one_class.status == "separated" and one_class.separation.direction == {"intercept": 1.0}
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 2))
    multi = _solve(symopt.cross_entropy(symopt.LinearModel(), l2=0.01), (X, np.digitize(X[:, 0], [-0.5, 0.5])))
    assert multi.success


def test_bounds_that_stop_the_direction_leave_an_optimum():
    capped = _solve(symopt.log_loss(LINE), {"x": X1, "y": Y1}, bounds={"b": (None, 5.0)})
    assert capped.success and capped.at_bound == {"b": "upper"} and capped.stderr["a"] > 0
    floor = _solve(symopt.log_loss(LINE), {"x": X1, "y": Y1}, bounds={"b": (0.0, None)})
    assert floor.status == "separated" and floor.separation.direction == {"b": 1.0}


def test_an_estimate_that_exists_is_certified_without_a_linear_program(monkeypatch):
    from symopt.stats import separation

    def refuse(*args, **kwargs):
        raise AssertionError("the linear program ran on a fit whose estimate exists")

    monkeypatch.setattr(separation, "_program", refuse)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 3))
    y = (X @ np.array([1.0, -2.0, 0.5]) + rng.logistic(size=400) > 0).astype(float)
    binary = _solve(symopt.log_loss(symopt.LinearModel()), (X, y))
    assert binary.success and binary.stderr is not None
    named = _solve(symopt.log_loss(symopt.Model("a + b*x + c*z", "a b c")), {"x": X[:, 0], "z": X[:, 1], "y": y})
    assert named.success and named.stderr is not None
    classes = np.digitize(X[:, 0] + rng.logistic(size=400), [-1.0, 1.0]).astype(float)
    multi = _solve(symopt.cross_entropy(symopt.LinearModel()), (X, classes))
    assert multi.success and multi.stderr is not None


def test_the_check_is_on_the_data_not_on_large_parameters():
    """Strong but overlapping classes: large coefficients, yet an estimate, and so no claim of separation."""
    x = np.linspace(-1.0, 1.0, 200)
    y = (x > 0).astype(float)
    y[[99, 100]] = y[[100, 99]]  # two rows either side of 0 swapped: not separable
    r = _solve(symopt.log_loss(LINE), {"x": x, "y": y})
    assert r.success and r.params["b"] > 50 and r.separation is None
    from symopt.stats import separation

    assert separation.check(r.objective, symopt.model.data.prepare(r.objective, {"x": x, "y": y}), r.x) is None


def test_rows_of_weight_zero_are_no_observations_for_separation():
    """One row overlaps the classes; weighted 0 it is no observation, and the rest are separated. Weighted
    above 0 it keeps an estimate, which the certificate (weights times the fitted probabilities) shows."""
    x = np.r_[X1, 1.5]
    y = np.r_[Y1, 0.0]
    w = np.r_[np.ones(X1.size), 0.0]
    for objective, data in ((symopt.log_loss(LINE, weights="w"), {"x": x, "y": y, "w": w}),
                            (symopt.log_loss(symopt.LinearModel(), weights="w"), {"X": x[:, None], "y": y, "w": w})):
        _is_separated(_solve(objective, data))
        kept = _solve(objective, {**data, "w": np.r_[np.ones(X1.size), 0.5]})
        assert kept.success and kept.separation is None and kept.stderr is not None
    assert _solve(symopt.log_loss(LINE), {"x": x, "y": y}).success  # unweighted, the row overlaps

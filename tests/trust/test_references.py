"""Reference fits from other libraries: which (kind of problem, loss) has one, and the words where none does."""

from __future__ import annotations

import numpy as np
import pytest

import symopt
from symopt.model.data import prepare
from symopt.trust.references import reference_fit


@pytest.mark.parametrize("make, words", [
    (lambda: symopt.squared_loss(symopt.Network(2, [symopt.Dense(3, "tanh"), symopt.Dense(1)])),
     "no reference library states a network under squared loss the same way"),
    (lambda: symopt.Objective("(y - a*x)**2", "a"),
     "no reference library states an objective stated as a per-sample expression the same way"),
])
def test_a_problem_no_library_states_the_same_way_says_what_it_is(make, words):
    objective = make()
    data = (np.ones((5, 2)), np.zeros(5)) if objective.form.matrix_data else {"x": np.arange(5.0), "y": np.arange(5.0)}
    fit = reference_fit(objective, None, prepare(objective, data), np.zeros(1))
    assert fit.name is None and fit.x is None and fit.reason == words


def test_bounds_change_which_reference_applies():
    objective = symopt.squared_loss(symopt.LinearModel())
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2))
    dataset = prepare(objective, (X, X @ [1.0, -2.0] + 0.5 + 0.01 * rng.normal(size=30)))
    pytest.importorskip("statsmodels")
    free = reference_fit(objective, None, dataset, np.zeros(3))
    assert free.name == "statsmodels OLS" and free.x[2] == pytest.approx(-2.0, abs=0.02)
    boxed = reference_fit(objective, None, dataset, np.zeros(3), bounds=(np.full(3, -1.0), np.full(3, 1.0)))
    assert boxed.name == "SciPy lsq_linear (method='bvls')"
    assert boxed.x[2] == pytest.approx(-1.0)  # the slope of -2 held at its bound


def test_weighted_losses_over_a_data_matrix_have_weighted_references():
    """A weighted squared loss is statsmodels' WLS (Ridge with sample_weight under l2, lsq_linear on the rows
    scaled by sqrt(w) within bounds), a weighted log loss its binomial GLM with var_weights (LogisticRegression
    with sample_weight under l2): each equal to the fit on repeated rows for integer weights."""
    pytest.importorskip("statsmodels")
    pytest.importorskip("sklearn")
    rng = np.random.default_rng(4)
    X = rng.normal(size=(60, 2))
    counts = rng.integers(0, 4, size=60).astype(float)
    y = X @ [1.0, -2.0] + 0.5 + rng.normal(size=60)
    labels = (X[:, 0] + rng.logistic(size=60) > 0).astype(float)
    repeat = lambda a: np.repeat(a, counts.astype(int), axis=0)  # noqa: E731
    box = (np.full(3, -1.5), np.full(3, 1.5))
    cases = [(symopt.squared_loss, {}, y, "statsmodels WLS", "statsmodels OLS", None),
             (symopt.squared_loss, {"l2": 0.1}, y, "scikit-learn Ridge", "scikit-learn Ridge", None),
             (symopt.squared_loss, {}, y, "SciPy lsq_linear (method='bvls')", "SciPy lsq_linear (method='bvls')", box),
             (symopt.log_loss, {}, labels, "statsmodels GLM (Binomial, var_weights)", "statsmodels Logit", None),
             (symopt.log_loss, {"l2": 0.05}, labels, "scikit-learn LogisticRegression",
              "scikit-learn LogisticRegression", None)]
    for loss, options, target, weighted_name, plain_name, bounds in cases:
        weighted = loss(symopt.LinearModel(), weights="w", **options)
        fit = reference_fit(weighted, None, prepare(weighted, {"X": X, "y": target, "w": counts}), np.zeros(3),
                            bounds=bounds)
        plain = loss(symopt.LinearModel(), **options)
        # the same penalty on the repeated rows: l2 on a mean over more rows is a smaller sum
        if options.get("l2"):
            plain = loss(symopt.LinearModel(), l2=options["l2"] * 60 / counts.sum())
        other = reference_fit(plain, None, prepare(plain, (repeat(X), repeat(target))), np.zeros(3), bounds=bounds)
        assert (fit.name, other.name) == (weighted_name, plain_name)
        np.testing.assert_allclose(fit.x, other.x, rtol=1e-6, atol=1e-8)


def test_a_loss_called_squared_that_reads_an_offset_has_no_reference():
    import sympy as sp

    from symopt.model.kinds import ETA
    from symopt.model.objective import Objective

    y, o = sp.symbols("y o", real=True)
    objective = Objective._from_model((y - o - ETA) ** 2, symopt.LinearModel(), y, "squared", 0.0, "mean")
    dataset = prepare(objective, {"X": np.ones((4, 1)), "y": np.arange(4.0), "o": np.zeros(4)})
    for bounds in (None, (np.full(2, -1.0), np.full(2, 1.0))):
        fit = reference_fit(objective, None, dataset, np.zeros(2), bounds=bounds)
        assert fit.x is None and "not squared_loss's" in fit.reason

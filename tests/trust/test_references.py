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

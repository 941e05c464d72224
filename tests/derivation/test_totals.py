"""The NumPy totals on a Task (objective, derivation, prepared data): the objective, its gradient and Hessian."""

from __future__ import annotations

import numpy as np
import pytest

import symopt
from symopt.derivation.task import Task
from symopt.derivation.totals import gradient, objective_terms, objective_value, value_and_gradient
from symopt.errors import ModelError
from symopt.model.data import prepare


def _task():
    objective = symopt.squared_loss(symopt.Model("a*exp(b*x)", "a b"))
    x = np.linspace(0.0, 1.0, 12)
    return Task(objective, symopt.derive(objective), prepare(objective, {"x": x, "y": 2.0 * np.exp(0.5 * x) + 0.01 * np.sin(7 * x)}))


def test_a_task_unpacks_as_objective_derivation_and_data():
    task = _task()
    objective, derivation, dataset = task
    assert objective is task.objective and derivation is task.derivation and dataset.n_rows == 12


def test_the_gradient_on_a_task_matches_central_differences():
    task, theta = _task(), np.array([1.7, 0.6])
    fun, grad = value_and_gradient(task, theta)
    assert fun == pytest.approx(objective_value(task.objective, task.dataset, theta))
    h = 1e-6
    numeric = [(objective_value(task.objective, task.dataset, theta + h * e)
                - objective_value(task.objective, task.dataset, theta - h * e)) / (2 * h) for e in np.eye(2)]
    np.testing.assert_allclose(grad, numeric, rtol=1e-6)
    np.testing.assert_array_equal(gradient(task, theta), grad)
    hess = objective_terms(task, theta)[3]
    step = np.column_stack([(gradient(task, theta + h * e) - gradient(task, theta - h * e)) / (2 * h) for e in np.eye(2)])
    np.testing.assert_allclose(hess, step, rtol=1e-5)
    assert objective_terms(task, theta, hessian=False)[3] is None


def test_a_network_task_says_only_its_generated_code_evaluates_it():
    net = symopt.Network(2, [symopt.Dense(3, "tanh"), symopt.Dense(1)])
    objective = symopt.squared_loss(net)
    data = (np.ones((4, 2)), np.zeros(4))
    task = Task(objective, symopt.derive(objective), prepare(objective, data))
    with pytest.raises(ModelError, match="evaluated by its generated code"):
        value_and_gradient(task, np.zeros(2 * 3 + 3 + 3 * 1 + 1))  # W1, b1, W2, b2

"""Objective, gradient and Hessian of the *total* objective at a point,
evaluated on data with the NumPy tree walker (no generated code).

Used to check closed-form candidates and to report the objective of a
closed-form solution; the generated kernels do the same sums compiled. Each
form (:mod:`symopt.model.kinds`) does its own sums; these functions are the entry points.
"""

from __future__ import annotations

import numpy as np

from ..errors import ModelError


def objective_value(objective, dataset, theta) -> float:
    """The total objective ``F(theta)`` (reduction, penalty and all)."""
    return _objective_sums(objective, dataset, theta)[0]


def objective_size(objective, dataset, theta) -> float:
    """The objective's own scale at ``theta``: its reduction over rows of ``|l_i|``, plus ``|penalty|``
    (``F`` itself for a sum of squares; never below ``|F|``)."""
    return _objective_sums(objective, dataset, theta)[1]


def _objective_sums(objective, dataset, theta) -> tuple[float, float]:
    return _evaluable(objective).sums(dataset, theta)


def _evaluable(objective):
    """The objective's form, where NumPy can evaluate it (a network's only its generated code can)."""
    if not objective.form.evaluable:
        raise ModelError(f"a {objective.form.name} objective is evaluated by its generated code, not by NumPy")
    return objective.form


def objective_terms(task, theta, hessian: bool = True):
    """``(F, grad F, per-component gradient scale, Hessian of F or None)`` for an expression objective.

    ``hessian=False`` skips the Hessian (``p (p + 1) / 2`` more passes over the data).

    The gradient scale is the sum of absolute per-row contributions: a
    gradient is "near zero" relative to it, whatever the data's units.
    """
    return _evaluable(task.objective).terms(task.derivation, task.dataset, theta, hessian)


def gradient(task, theta) -> np.ndarray:
    """The gradient of the total objective ``F`` at ``theta`` (any model shape)."""
    return value_and_gradient(task, theta)[1]


def value_and_gradient(task, theta) -> tuple[float, np.ndarray]:
    """``(F, gradient of F)`` at ``theta`` (any evaluable form: :meth:`symopt.model.kinds.base.Form.value_and_gradient`)."""
    return _evaluable(task.objective).value_and_gradient(task.derivation, task.dataset, theta)

"""Objective, gradient and Hessian of the *total* objective at a point,
evaluated on data with the NumPy tree walker (no generated code).

Used to check closed-form candidates and to report the objective of a
closed-form solution; the generated kernels do the same sums compiled.
"""

from __future__ import annotations

import math

import numpy as np

from . import softmax
from .numeric import evaluate
from .objective import ETA


#: Up to this many rows sums are exactly rounded (math.fsum); above it NumPy's pairwise sum is used.
EXACT_SUM_ROWS = 100_000


def _summed(expr, values, n_rows) -> tuple[float, float]:
    col = np.broadcast_to(np.asarray(evaluate(expr, values), dtype=float), (n_rows,))
    exact = n_rows <= EXACT_SUM_ROWS and np.isfinite(col).all()  # fsum raises on inf - inf and on overflow
    try:
        total = math.fsum(col) if exact else float(np.sum(col))
    except OverflowError:  # finite terms whose sum passes the largest double
        total = float(np.sum(col))
    return total, float(np.sum(np.abs(col)))


def _penalty(objective, theta, penalised) -> float:
    if not objective.l2:
        return 0.0  # not 0 * sum(theta**2), which is NaN once theta**2 overflows
    sign = -1.0 if objective.maximize else 1.0
    return sign * objective.l2 * float(np.sum(theta[penalised] ** 2))


def objective_value(objective, dataset, theta) -> float:
    """The total objective ``F(theta)`` (reduction, penalty and all)."""
    return _objective_sums(objective, dataset, theta)[0]


def objective_size(objective, dataset, theta) -> float:
    """The objective's own scale at ``theta``: its reduction over rows of ``|l_i|``, plus ``|penalty|``
    (``F`` itself for a sum of squares; never below ``|F|``)."""
    return _objective_sums(objective, dataset, theta)[1]


def _objective_sums(objective, dataset, theta) -> tuple[float, float]:
    theta = np.asarray(theta, dtype=float)
    if objective.multiclass:  # every row's loss and the penalty are >= 0: the size is F itself
        fun = softmax.value(objective, dataset, theta)
        return fun, abs(fun)
    n = dataset.n_rows
    scale = 1.0 / n if objective.reduction == "mean" else 1.0
    if objective.wide:
        X = dataset["X"]
        if objective.model.intercept:
            eta, penalised = theta[0] + X @ theta[1:], np.r_[False, np.ones(X.shape[1], bool)]
        else:
            eta, penalised = X @ theta, np.ones(X.shape[1], bool)
        values = {ETA: eta, objective.target: dataset[objective.target.name]}
    else:
        values = {s: dataset[s.name] for s in objective.data_symbols}
        values.update(zip(objective.params, theta))
        penalised = np.array(objective.penalised, dtype=bool)
    total, size = _summed(objective.per_sample, values, n)
    pen = _penalty(objective, theta, penalised)
    return scale * total + pen, scale * size + abs(pen)


def objective_terms(objective, derivation, dataset, theta, hessian: bool = True):
    """``(F, grad F, per-component gradient scale, Hessian of F or None)`` for an expression objective.

    ``hessian=False`` skips the Hessian (``p (p + 1) / 2`` more passes over the data).

    The gradient scale is the sum of absolute per-row contributions: a
    gradient is "near zero" relative to it, whatever the data's units.
    """
    theta = np.asarray(theta, dtype=float)
    n = dataset.n_rows
    scale = 1.0 / n if objective.reduction == "mean" else 1.0
    sign = -1.0 if objective.maximize else 1.0
    penalised = np.array(objective.penalised, dtype=bool)
    values = {s: dataset[s.name] for s in objective.data_symbols}
    values.update(zip(objective.params, theta))
    fun = objective_value(objective, dataset, theta)
    p = len(theta)
    grad, grad_scale = np.empty(p), np.empty(p)
    for j, g in enumerate(derivation.gradient):
        total, mag = _summed(g, values, n)
        pen = 2.0 * sign * objective.l2 * theta[j] if penalised[j] else 0.0
        grad[j] = scale * total + pen
        grad_scale[j] = scale * mag + abs(pen) + 1e-300
    hess = None
    if hessian and derivation.hessian is not None:
        hess = np.empty((p, p))
        for i in range(p):
            for j in range(i, p):
                hess[i, j] = hess[j, i] = scale * _summed(derivation.hessian[i, j], values, n)[0]
        hess += np.diag(np.where(penalised, 2.0 * sign * objective.l2, 0.0))
    return fun, grad, grad_scale, hess


def gradient(objective, derivation, dataset, theta) -> np.ndarray:
    """The gradient of the total objective ``F`` at ``theta`` (any model shape)."""
    return value_and_gradient(objective, derivation, dataset, theta)[1]


def value_and_gradient(objective, derivation, dataset, theta) -> tuple[float, np.ndarray]:
    """``(F, gradient of F)`` at ``theta`` (any model shape); a wide model's ``X @ coef`` is formed once for both
    (two passes over ``X`` where the two apart take three)."""
    theta = np.asarray(theta, dtype=float)
    if objective.multiclass:
        return softmax.value_and_gradient(objective, dataset, theta)
    if not objective.wide:
        fun, grad, _, _ = objective_terms(objective, derivation, dataset, theta, hessian=False)
        return fun, grad
    X = dataset["X"]
    n = dataset.n_rows
    scale = 1.0 / n if objective.reduction == "mean" else 1.0
    sign = -1.0 if objective.maximize else 1.0
    intercept = objective.model.intercept
    coef = theta[1:] if intercept else theta
    eta = X @ coef + (theta[0] if intercept else 0.0)
    values = {ETA: eta, objective.target: dataset[objective.target.name]}
    dl = np.broadcast_to(evaluate(derivation.gradient[0], values), (n,))
    g_coef = scale * (X.T @ dl) + 2.0 * sign * objective.l2 * coef
    total, _ = _summed(objective.per_sample, values, n)
    penalised = np.r_[False, np.ones(coef.size, bool)] if intercept else np.ones(coef.size, bool)
    fun = scale * total + _penalty(objective, theta, penalised)
    return fun, (np.r_[scale * dl.sum(), g_coef] if intercept else g_coef)

"""Predictions of a fitted model on new data: the model evaluated at the fitted parameters.

What a prediction is follows the objective, as for networks: class labels for ``log_loss`` (the logit
above 0) and for ``cross_entropy`` (the class of the highest score), the model's value for ``squared_loss``. A
class from a score that is NaN or infinite would be a guess, so those are refused, naming the rows (a value
that is NaN is returned as NaN). An objective stated as a per-sample expression has no model to evaluate, and
says so.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np
import sympy as sp

from ..errors import ModelError
from ..model.data import _as_float_array
from ..model.kinds.base import prediction
from ..model.kinds.expression import named_eta
from ..model.kinds.wide import wide_matrix
from ..symbolic.numeric import evaluate


def predict(objective, params: dict, data) -> np.ndarray:
    """The model of ``objective`` at ``params`` on ``data`` (a data matrix ``X`` for a ``LinearModel`` over
    one; otherwise a mapping of feature names to arrays, or a DataFrame): one value per row."""
    model = objective.model
    if model is None:
        raise ModelError("predict() needs a model, and this objective was stated as a per-sample expression "
                         "(symopt cannot tell which part of it is the prediction); state it as "
                         "squared_loss(symopt.Model(...)) or log_loss(...), or evaluate the expression at "
                         "result.params yourself")
    return objective.form.predict(params, data)


class Prediction(NamedTuple):
    """A prediction with its band: ``value``, ``low``, ``high`` (one per row) and ``se``, the standard error
    the band is built on (of the fitted mean for ``interval="confidence"``; of a new observation, the mean's
    and the residual variance together, for ``"prediction"``). Unpacks as ``value, low, high, se``."""

    value: np.ndarray
    low: np.ndarray
    high: np.ndarray
    se: np.ndarray


INTERVALS = ("confidence", "prediction")


@lru_cache(maxsize=256)
def _model_gradient(expr: sp.Expr, params: tuple) -> tuple:
    return tuple(sp.diff(expr, q) for q in params)


def _gradient_rows(objective, params: dict, data) -> tuple[np.ndarray, np.ndarray]:
    """``(prediction, G)``: the model's value on ``data`` and its gradient in the parameters, one row each."""
    if objective.wide:
        coef = np.asarray(params["coef"], dtype=float)
        X = wide_matrix(coef.size, data)
        value = X @ coef + (params["intercept"] if objective.model.intercept else 0.0)
        return value, (np.column_stack([np.ones(X.shape[0]), X]) if objective.model.intercept else X)
    value = named_eta(objective, params, data)
    n = value.shape[0]
    fitted = (*objective.params, *objective.fixed_params)
    values = {s: _as_float_array(s.name, data[s.name], 1) for s in prediction(objective.model).free_symbols
              if s not in set(fitted)}
    values.update({p: float(params[p.name]) for p in fitted})
    with np.errstate(all="ignore"):
        G = np.column_stack([np.broadcast_to(np.asarray(evaluate(g, values), dtype=float), (n,))
                             for g in _model_gradient(prediction(objective.model), objective.params)])
    return value, G


def predict_with_band(result, data, interval: str, level: float) -> Prediction:
    """The delta-method band of :meth:`symopt.Result.predict`: ``se^2 = g^T C g`` with ``g`` the exact
    gradient of the model in the parameters at the estimate and ``C`` the covariance, plus ``s^2`` for a new
    observation; the quantile that of the result's intervals (Student's t with n - p degrees of freedom for
    classical least squares). A parameter at a bound is held there, as for its standard errors: it adds no
    variance."""
    objective = result.objective
    if interval not in INTERVALS:
        raise ModelError(f"interval must be 'confidence' or 'prediction' (or None for the prediction alone); "
                         f"got {interval!r}")
    if objective is None or objective.model is None or not objective.form.has_residuals \
            or objective.kind != "squared":
        raise ModelError("prediction bands are for a squared_loss on a model (the band of the fitted mean, "
                         "and of a new observation with the residual variance); this result's objective is "
                         f"{'a per-sample expression' if objective is None or objective.model is None else objective.kind}")
    inference = result.inference()
    if inference.cov is None:
        raise ModelError(f"no prediction band: there are no standard errors ({inference.reason})")
    value, G = _gradient_rows(objective, result.params, data)
    cov = inference.cov
    if inference.held:  # parameters on a bound are held there: no variance (their rows of cov are NaN)
        cov = cov.copy()
        held = list(inference.held)
        cov[held, :] = 0.0
        cov[:, held] = 0.0
    var = np.einsum("ij,jk,ik->i", G, cov, G)
    if interval == "prediction":  # a new observation's own noise: the residual variance s^2 = RSS / (n - p)
        var = var + inference.rss / inference.dof
    se = np.sqrt(np.maximum(var, 0.0))
    q = inference.critical(level)
    return Prediction(value, value - q * se, value + q * se, se)

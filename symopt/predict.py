"""Predictions of a fitted model on new data: the model evaluated at the fitted parameters.

What a prediction is follows the objective, as for networks: class labels for ``log_loss`` (the logit
above 0) and for ``cross_entropy`` (the class of the highest score), the model's value for ``squared_loss``. An objective stated as a per-sample expression has no
model to evaluate, and says so.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from . import softmax
from .data import _as_float_array, _check_indexes, _short
from .errors import DataError, ModelError
from .numeric import evaluate
from .objective import prediction


def predict(objective, params: dict, data) -> np.ndarray:
    """The model of ``objective`` at ``params`` on ``data`` (a data matrix ``X`` for a ``LinearModel`` over
    one; otherwise a mapping of feature names to arrays, or a DataFrame): one value per row."""
    model = objective.model
    if model is None:
        raise ModelError("predict() needs a model, and this objective was stated as a per-sample expression "
                         "(symopt cannot tell which part of it is the prediction); state it as "
                         "squared_loss(symopt.Model(...)) or log_loss(...), or evaluate the expression at "
                         "result.params yourself")
    return _PREDICTORS[objective.form.name](objective, params, data)


def _classes(objective, params: dict, data) -> np.ndarray:
    return softmax.predict(objective, params, _wide_matrix(params["coef"].shape[1], data))


def _labels_or_values(objective, eta: np.ndarray) -> np.ndarray:
    return (eta > 0.0).astype(float) if objective.kind == "log" else eta


def _wide_prediction(objective, params: dict, data) -> np.ndarray:
    coef = np.asarray(params["coef"], dtype=float)
    X = _wide_matrix(coef.size, data)
    return _labels_or_values(objective, X @ coef + (params["intercept"] if objective.model.intercept else 0.0))


def _named_prediction(objective, params: dict, data) -> np.ndarray:
    return _labels_or_values(objective, _named_eta(objective, params, data))


def _wide_matrix(m: int, data) -> np.ndarray:
    """The data matrix ``X`` for ``predict`` of a model fitted on ``m`` features (from ``X``, ``(X, y)`` or a
    mapping with ``X``)."""
    if isinstance(data, tuple):
        data = data[0]  # (X, y): the labels are not needed
    elif isinstance(data, Mapping):
        if "X" not in data:
            raise DataError("predict() for a LinearModel over a data matrix takes X (rows x features), or a "
                            "mapping with 'X'")
        data = data["X"]
    X = _as_float_array("X", data, 2)
    if X.shape[1] != m:
        raise DataError(f"data 'X' has {X.shape[1]} columns; the model was fitted on {m}")
    return X


def _named_eta(objective, params: dict, data) -> np.ndarray:
    expr = prediction(objective.model)
    features = sorted((s for s in expr.free_symbols if s not in set(objective.params)), key=lambda s: s.name)
    if not hasattr(data, "keys") or not hasattr(data, "__getitem__"):
        raise DataError(f"predict() takes a mapping from feature names to arrays (or a DataFrame); got "
                        f"{type(data).__name__}. The model needs {', '.join(s.name for s in features)}")
    keys = list(data.keys())
    missing = [s.name for s in features if s.name not in keys]
    if missing:
        raise DataError(f"data has no array named {missing[0]!r}; the model needs "
                        f"{', '.join(s.name for s in features)} and data has "
                        f"{', '.join(_short(str(k), 30) for k in keys) or 'nothing'}")
    _check_indexes({s.name: data[s.name] for s in features})
    values = {s: _as_float_array(s.name, data[s.name], 1) for s in features}
    lengths = {v.shape[0] for v in values.values()}
    if len(lengths) > 1:
        raise DataError(f"data arrays have different numbers of rows ({', '.join(f'{s.name}: {v.shape[0]}' for s, v in values.items())})")
    values.update({p: float(params[p.name]) for p in objective.params})
    n = lengths.pop() if lengths else 1
    return np.broadcast_to(np.asarray(evaluate(expr, values), dtype=float), (n,)).copy()


#: How each form predicts (networks predict through their generated module: :mod:`symopt.train`).
_PREDICTORS = {"expression": _named_prediction, "wide": _wide_prediction, "multiclass": _classes}

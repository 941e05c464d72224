"""The constant model: the best prediction that ignores the features, and its objective value.

A fit whose loss is worse than the constant model's has not used its features at all: it is stuck in a
poor local optimum (``sin(w*x)`` fitted to ``sin(4.3*x)`` from ``w = 1`` ends at ``w = 1.1`` with F = 0.97,
where predicting the mean of y everywhere gives F = 0.49), or the model cannot represent these data (a
line through the origin fitted to data far from it). Either way the user should hear it.

The best constant prediction is the mean of y for a squared loss (the weighted mean, with ``weights=`` or
``sigma=``), the base rate of the positive class for log loss (weighted, with ``weights=``), and the class frequencies for
cross-entropy; the constant model's F is that loss at it, with the objective's reduction. The fit is
compared on its loss alone (its F less the ridge penalty): the constant model has no parameters to
penalise.
"""

from __future__ import annotations

import math

import numpy as np

#: The fit is worse than the constant model where its loss exceeds the constant model's by more than this
#: fraction (a perfect constant, as in data with one value, leaves both at rounding).
WORSE_BY = 1e-9


def constant_loss(objective, dataset) -> tuple[float, str] | None:
    """``(F, what the prediction is)`` of the best constant prediction under ``objective``'s loss on
    ``dataset``, or None where the objective is not a squared, log or cross-entropy loss on named data (a
    custom objective, a network)."""
    if objective.maximize or objective.target is None or not objective.form.constant_baseline:
        return None
    if objective.target.name not in objective.data_names or objective.offset_column is not None:
        return None  # with an offset the best constant is no mean or base rate of y
    y = np.asarray(dataset[objective.target.name], dtype=float)
    if y.ndim != 1 or y.size == 0:
        return None
    n = y.size
    scale = 1.0 / n if objective.reduction == "mean" else 1.0
    with np.errstate(all="ignore"):
        if objective.kind == "squared":
            w = _weights(objective, dataset, n)
            if w is None or not np.sum(w) > 0:
                return None
            m = float(np.sum(w * y) / np.sum(w))
            what = "the weighted mean of y" if objective.weight_column is not None else "the mean of y"
            return scale * float(np.sum(w * (y - m) ** 2)), f"{what}, {m:.6g}, on every row"
        if objective.kind == "log":
            w = _weights(objective, dataset, n)
            total = float(np.sum(w))
            if not total > 0:
                return None
            p = float(np.sum(w * y) / total)
            if not 0.0 <= p <= 1.0:
                return None
            ent = 0.0 if p in (0.0, 1.0) else -(p * math.log(p) + (1.0 - p) * math.log1p(-p))
            what = "the weighted base rate" if objective.weight_column is not None else "the base rate"
            return scale * total * ent, f"{what} of y = 1, {p:.6g}, on every row"
        if objective.kind == "cross_entropy":
            _, counts = np.unique(y, return_counts=True)
            freq = counts / n
            return scale * n * float(-np.sum(freq * np.log(freq))), "the class frequencies on every row"
    return None


def _weights(objective, dataset, n: int) -> np.ndarray | None:
    if objective.weight_column is None:
        return np.ones(n)
    column = np.asarray(dataset[objective.weight_column], dtype=float)
    return column if objective.weight_kind == "weights" else 1.0 / column ** 2


def worse_than_constant(objective, dataset, solution) -> str:
    """Words saying that ``solution`` (anything with ``x`` and ``fun``: a :class:`symopt.Result`, a
    verification's solution) fits worse than the constant model, or "" where it does not (or that cannot
    be said)."""
    if solution is None or dataset is None or objective is None:
        return ""
    found = constant_loss(objective, dataset)
    if found is None:
        return ""
    constant, what = found
    x = np.asarray(solution.x, dtype=float)
    penalty = objective.l2 * float(np.sum(objective.form.penalty_mask(dataset) * x ** 2)) if objective.l2 else 0.0
    loss = float(solution.fun) - penalty
    if not (math.isfinite(loss) and math.isfinite(constant)) or loss <= constant * (1.0 + WORSE_BY) + 1e-300:
        return ""
    return (f"its loss, {loss:.6g}, is worse than the constant model's ({what}: {constant:.6g}): a poor local "
            f"optimum, or a model that cannot fit these data; try many starts (starts=), or another model")

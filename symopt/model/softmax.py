"""Multinomial logistic regression: ``cross_entropy`` over a ``LinearModel()`` on a data matrix.

Class ``k`` has the score ``eta_k = intercept[k] + coef[k] @ x``, and per row the loss is
``logsumexp(eta) - eta[y]`` (labels ``0 .. K-1``, ``K`` from the data). Adding one vector to every class's
row changes no probability, so the parameters are pinned down the way the two reference libraries do:

* unpenalised (``l2=0``), class 0 is the reference: its intercept and coefficients are fixed at 0, as in
  statsmodels' ``MNLogit``;
* with ``l2``, every row of ``coef`` is free (the penalty picks the rows that sum to zero, as scikit-learn's
  ``LogisticRegression`` does); the intercepts, which the penalty does not see, keep class 0's at 0.

The free entries are the flat vector ``x`` that the generated kernel (``codegen/templates/kernels/softmax.py.jinja``)
and the optimizers work on: first the free intercepts, then the free rows of ``coef``, row by row. This
module is the NumPy side of the same layout: the positions of the free entries, the objective and its
gradient (for the driver's checks and ``Problem.value_and_grad`` where no kernel runs), per-row gradient
terms, and predictions.
"""

from __future__ import annotations

import numpy as np

from ..errors import ModelError
from .data import check_scores


def reference_row(objective) -> bool:
    """Whether class 0's row of ``coef`` is fixed at 0 (unpenalised), or free (with ``l2``)."""
    return objective.l2 == 0


def positions(objective, n_classes: int, m: int) -> np.ndarray:
    """Where each free entry of ``x`` sits in the full ``(K, m + 1)`` matrix ``[intercept, coef]``, flattened
    row-major: free intercepts (classes 1..K-1) first, then the free rows of ``coef``."""
    width = m + 1
    out = [k * width for k in range(1, n_classes)] if objective.model.intercept else []
    first = 1 if reference_row(objective) else 0
    out += [k * width + 1 + j for k in range(first, n_classes) for j in range(m)]
    return np.array(out, dtype=np.int64)


def blocks(objective, n_classes: int, m: int) -> list[tuple[str, int]]:
    """Parameter names and their numbers of free entries, in the order of ``x``."""
    rows = n_classes - 1 if reference_row(objective) else n_classes
    return ([("intercept", n_classes - 1)] if objective.model.intercept else []) + [("coef", rows * m)]


def flat_names(objective, n_classes: int, m: int) -> list[str]:
    width = m + 1
    return [f"intercept[{p // width}]" if p % width == 0 else f"coef[{p // width}, {p % width - 1}]"
            for p in positions(objective, n_classes, m)]


def full(objective, n_classes: int, m: int, x) -> np.ndarray:
    """The ``(K, m + 1)`` matrix ``[intercept, coef]`` with the fixed entries 0."""
    B = np.zeros(n_classes * (m + 1))
    B[positions(objective, n_classes, m)] = x
    return B.reshape(n_classes, m + 1)


def unflatten(objective, n_classes: int, m: int, x) -> dict:
    B = full(objective, n_classes, m, x)
    out = {"intercept": B[:, 0].copy()} if objective.model.intercept else {}
    out["coef"] = B[:, 1:].copy()
    return out


def penalty_mask(objective, n_classes: int, m: int, penalty=None) -> np.ndarray:
    """The weight of each free entry in the ``l2`` penalty (``penalty``: another's, such as the ``l1``)."""
    penalty = objective.l2_penalty if penalty is None else penalty
    intercept, coef = penalty.weight("intercept"), penalty.weight("coef")
    return np.array([intercept if p % (m + 1) == 0 else coef for p in positions(objective, n_classes, m)])


def start_from(objective, n_classes: int, m: int, given: dict, label: str) -> np.ndarray:
    """``x`` from full-shape ``intercept`` (K,) and ``coef`` (K, m) given by name; the fixed entries must be 0."""
    shapes = {"intercept": (n_classes,), "coef": (n_classes, m)}
    B = np.zeros((n_classes, m + 1))
    for name, shape in shapes.items():
        if name == "intercept" and not objective.model.intercept:
            continue
        value = np.asarray(given[name], dtype=float)
        if value.shape != shape:
            raise ModelError(f"{label}[{name!r}] has shape {value.shape}; {name} has shape {shape} "
                             f"(one {'entry' if name == 'intercept' else 'row'} per class)")
        if name == "intercept":
            B[:, 0] = value
        else:
            B[:, 1:] = value
    fixed = np.ones(B.size, bool)
    fixed[positions(objective, n_classes, m)] = False
    if np.any(B.ravel()[fixed] != 0.0):
        what = "intercept[0] and coef[0]" if reference_row(objective) else "intercept[0]"
        raise ModelError(f"{label} gives class 0 a nonzero {what}: class 0 is the reference, fixed at 0 (adding one "
                         f"vector to every class changes no probability); subtract class 0's values from every class")
    return B.ravel()[positions(objective, n_classes, m)]


def _scores(objective, dataset, x, rows=slice(None)):
    X = dataset["X"][rows]
    B = full(objective, dataset.n_classes, X.shape[1], x)
    return X, B, X @ B[:, 1:].T + B[:, 0]


def _log_sum_exp(Z) -> np.ndarray:
    top = np.max(Z, axis=1)
    top = np.where(np.isfinite(top), top, 0.0)
    return top + np.log(np.sum(np.exp(Z - top[:, None]), axis=1))


def value(objective, dataset, x) -> float:
    """``F`` alone, by NumPy (one product with ``X``)."""
    x = np.asarray(x, dtype=float)
    X, _, Z = _scores(objective, dataset, x)
    y = dataset[objective.target.name].astype(np.int64)
    scale = 1.0 / dataset.n_rows if objective.reduction == "mean" else 1.0
    mask = penalty_mask(objective, dataset.n_classes, X.shape[1])
    return scale * float(np.sum(_log_sum_exp(Z) - Z[np.arange(X.shape[0]), y])) + \
        objective.l2 * float(np.sum(mask * x * x))


def value_and_gradient(objective, dataset, x) -> tuple[float, np.ndarray]:
    """``F`` and its gradient in the free entries, by NumPy (one product with ``X`` each way)."""
    x = np.asarray(x, dtype=float)
    X, B, Z = _scores(objective, dataset, x)
    y = dataset[objective.target.name].astype(np.int64)
    rows = np.arange(X.shape[0])
    lse = _log_sum_exp(Z)
    scale = 1.0 / dataset.n_rows if objective.reduction == "mean" else 1.0
    mask = penalty_mask(objective, dataset.n_classes, X.shape[1])
    fun = scale * float(np.sum(lse - Z[rows, y])) + objective.l2 * float(np.sum(mask * x * x))
    P = np.exp(Z - lse[:, None])
    P[rows, y] -= 1.0
    G = np.column_stack([P.sum(axis=0), P.T @ X]) * scale
    grad = G.ravel()[positions(objective, dataset.n_classes, X.shape[1])] + 2.0 * objective.l2 * mask * x
    return fun, grad


def row_terms(objective, dataset, x, block: int = 65_536):
    """``(first row, per-row gradient terms (rows x free entries))`` a block of rows at a time, before the
    reduction: ``(softmax(eta) - onehot(y))_k * [1, x]``."""
    m = dataset["X"].shape[1]
    pos = positions(objective, dataset.n_classes, m)
    for lo in range(0, dataset.n_rows, block):
        X, _, Z = _scores(objective, dataset, x, slice(lo, lo + block))
        y = dataset[objective.target.name][lo:lo + block].astype(np.int64)
        P = np.exp(Z - _log_sum_exp(Z)[:, None])
        P[np.arange(X.shape[0]), y] -= 1.0
        phi = np.column_stack([np.ones(X.shape[0]), X])
        terms = (P[:, :, None] * phi[:, None, :]).reshape(X.shape[0], -1)
        yield lo, terms[:, pos]


def hessian(objective, dataset, x, block: int = 65_536) -> np.ndarray:
    """The Hessian of ``F`` in the free entries: ``scale * sum_i (diag(p_i) - p_i p_i^T) (x) phi_i phi_i^T`` with
    ``phi_i = [1, x_i]``, block ``(k, l)`` of the full one ``Phi^T diag(p_k (delta_kl - p_l)) Phi``, plus the
    penalty's diagonal (the observed information of the multinomial likelihood, for standard errors)."""
    x = np.asarray(x, dtype=float)
    K, m = dataset.n_classes, dataset["X"].shape[1]
    d = m + 1
    H = np.zeros((K * d, K * d))
    for lo in range(0, dataset.n_rows, block):
        X, _, Z = _scores(objective, dataset, x, slice(lo, lo + block))
        P = np.exp(Z - _log_sum_exp(Z)[:, None])
        phi = np.column_stack([np.ones(X.shape[0]), X])
        for k in range(K):
            for j in range(k, K):
                w = P[:, k] * ((k == j) - P[:, j])
                H[k * d:(k + 1) * d, j * d:(j + 1) * d] += phi.T @ (w[:, None] * phi)
    upper = np.triu(np.ones((K, K), bool), 1)
    for k, j in zip(*np.nonzero(upper)):
        H[j * d:(j + 1) * d, k * d:(k + 1) * d] = H[k * d:(k + 1) * d, j * d:(j + 1) * d].T
    pos = positions(objective, K, m)
    scale = 1.0 / dataset.n_rows if objective.reduction == "mean" else 1.0
    return scale * H[np.ix_(pos, pos)] + np.diag(2.0 * objective.l2 * penalty_mask(objective, K, m))


def predict(objective, params: dict, X: np.ndarray) -> np.ndarray:
    """The most probable class of each row (refused, naming the rows, where a score is not finite: the argmax
    of NaN would be class 0)."""
    with np.errstate(all="ignore"):  # non-finite scores are refused by name below
        scores = X @ params["coef"].T
        if objective.model.intercept:
            scores = scores + params["intercept"]
    return np.argmax(check_scores(scores, "the class scores"), axis=1)

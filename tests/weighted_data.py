"""Weighted rows for the tests of weighted fits over a data matrix: ``(X, y, w)`` with standard normal features,
uniform weights, and a target that is a linear model plus noise of variance ``1/w`` (``labels=True``: 0/1 labels of
a logistic model)."""

import numpy as np


def weighted_rows(seed: int, n: int, coef, intercept: float, weights=(0.2, 4.0), labels: bool = False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(coef)))
    w = rng.uniform(*weights, n)
    eta = intercept + X @ np.asarray(coef, dtype=float)
    if labels:
        return X, (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-eta))).astype(float), w
    return X, eta + rng.normal(size=n) / np.sqrt(w), w

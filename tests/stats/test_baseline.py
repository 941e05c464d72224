"""The constant model a fit is compared with (symopt.stats.baseline), for weighted losses: its loss is the weighted
one at the weighted mean (squared) or the weighted base rate (log), so integer weights equal repeated rows."""

from __future__ import annotations

import numpy as np
import pytest

import symopt
from symopt.model.data import prepare
from symopt.stats.baseline import constant_loss


@pytest.mark.parametrize("loss, what", [(symopt.squared_loss, "the weighted mean of y"),
                                        (symopt.log_loss, "the weighted base rate of y = 1")])
def test_the_constant_model_of_a_weighted_loss_is_that_of_repeated_rows(loss, what):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2))
    y = (rng.uniform(size=30) < 0.4).astype(float)
    counts = rng.integers(0, 4, size=30)
    weighted = loss(symopt.LinearModel(), weights="w", reduction="sum")
    value, words = constant_loss(weighted, prepare(weighted, {"X": X, "y": y, "w": counts.astype(float)}))
    plain = loss(symopt.LinearModel(), reduction="sum")
    repeated, _ = constant_loss(plain, prepare(plain, (np.repeat(X, counts, axis=0), np.repeat(y, counts))))
    assert value == pytest.approx(repeated, rel=1e-12) and words.startswith(what)
    rate = float(np.sum(counts * y) / np.sum(counts))
    assert f"{rate:.6g}" in words

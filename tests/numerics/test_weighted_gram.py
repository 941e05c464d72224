"""The weighted Gram matrix of a Newton step over a data matrix: the row-by-row way for mostly-zero designs and
the BLAS way for dense ones both equal Phi^T diag(w) Phi formed in plain NumPy, on every column or chosen ones,
with and without the intercept."""

from __future__ import annotations

import numpy as np
import pytest

from symopt.numerics import weighted_gram as wg


def _onehot(rows: int, levels: int, columns: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = np.zeros((rows, columns * levels))
    for c in range(columns):
        X[np.arange(rows), c * levels + rng.integers(0, levels, size=rows)] = rng.uniform(0.5, 2.0, size=rows)
    return X


def _reference(X, w, intercept, columns):
    Phi = X if columns is None else X[:, columns]
    if intercept:
        Phi = np.column_stack([np.ones(X.shape[0]), Phi])
    return Phi.T @ (w[:, None] * Phi)


@pytest.mark.parametrize("intercept", [True, False])
@pytest.mark.parametrize("columns", [None, np.array([0, 3, 7, 20, 39])])
def test_both_ways_equal_the_plain_product(intercept, columns):
    rng = np.random.default_rng(0)
    sparse = _onehot(300, 20, 2, seed=1)
    dense = rng.normal(size=(300, 40))
    w = rng.uniform(0.0, 3.0, size=300)
    w[::7] = 0.0  # rows without weight add nothing
    assert wg.nonzeros_of(sparse) is not None and wg.nonzeros_of(dense) is None
    for X in (sparse, dense):
        H = wg.weighted_gram(X, w, intercept, columns)
        np.testing.assert_allclose(H, _reference(X, w, intercept, columns), rtol=1e-13, atol=1e-12)
        np.testing.assert_array_equal(H, H.T)


def test_the_non_zeros_are_found_once_per_array_and_follow_its_views():
    X = _onehot(50, 10, 2, seed=2)
    first = wg.nonzeros_of(X)
    view = X.view()
    view.flags.writeable = False  # as the data stage hands it on
    assert wg.nonzeros_of(view) is first
    assert wg.nonzeros_of(X[10:]) is not first  # other memory: found again
    rows, columns = np.nonzero(X)
    np.testing.assert_array_equal(first.columns, columns)
    np.testing.assert_array_equal(first.values, X[rows, columns])
    assert first.starts[-1] == rows.size


def test_products_over_the_non_zeros_equal_the_dense_ones():
    X = _onehot(200, 10, 3, seed=4)
    rng = np.random.default_rng(5)
    v, u = rng.normal(size=X.shape[1]), rng.normal(size=X.shape[0])
    u[::3] = 0.0
    rows = wg.nonzeros_of(X)
    np.testing.assert_allclose(rows.matvec(v), X @ v, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(rows.rmatvec(u), X.T @ u, rtol=1e-13, atol=1e-13)

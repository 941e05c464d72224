"""symopt.numerics.covariance's rows of a LinearModel()'s Jacobian, weighted (MatrixRows(row_scale=...)): the
blocks are the rows of sqrt(w) [1, X], a selection of rows keeps its weights, and the least-squares covariance
from them is statsmodels' WLS, classical and robust, with rows of weight 0 dropped."""

from __future__ import annotations

import numpy as np
import pytest

from symopt.numerics import covariance
from symopt.numerics.covariance import BLOCK_ROWS, MatrixRows

sm = pytest.importorskip("statsmodels.api")


def test_weighted_matrix_rows_are_the_scaled_rows_a_block_at_a_time():
    rng = np.random.default_rng(0)
    n = BLOCK_ROWS + 37  # two blocks, the second short
    X, r = rng.normal(size=(n, 3)), rng.uniform(0.0, 2.0, n)
    for intercept in (True, False):
        Phi = np.column_stack([np.ones(n), X]) if intercept else X
        rows = MatrixRows(X, intercept, row_scale=r)
        stacked = np.vstack([block.copy() for _, block in rows.blocks()])
        np.testing.assert_array_equal(stacked, r[:, None] * Phi)
        picked = rows.select([0, 2])
        np.testing.assert_array_equal(np.vstack([b.copy() for _, b in picked.blocks()]), (r[:, None] * Phi)[:, [0, 2]])
        kept = r > 1.0
        np.testing.assert_array_equal(np.vstack([b.copy() for _, b in rows[kept].blocks()]), (r[:, None] * Phi)[kept])
    plain = np.vstack([b.copy() for _, b in MatrixRows(X, True).blocks()])
    np.testing.assert_array_equal(plain, np.column_stack([np.ones(n), X]))


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "HC1", "HC2", "HC3"])
def test_the_covariance_from_weighted_rows_is_statsmodels_wls(cov_type):
    """The covariance a weighted LinearModel() fit needs: residuals sqrt(w) (y - eta) and rows sqrt(w) [1, x], the
    rows of weight 0 left out (they are no observations), against WLS on the kept rows."""
    rng = np.random.default_rng(1)
    n = 70
    X = rng.normal(size=(n, 3))
    w = rng.uniform(0.2, 4.0, n)
    w[:5] = 0.0
    y = 0.5 + X @ [1.0, -1.0, 2.0] + rng.normal(size=n) / np.sqrt(np.maximum(w, 0.2))
    keep = w > 0
    ref = sm.WLS(y[keep], sm.add_constant(X[keep]), weights=w[keep]).fit(cov_type=cov_type)
    root = np.sqrt(w)
    u = root * (y - sm.add_constant(X) @ ref.params)
    cov = covariance.from_jacobian(MatrixRows(X, True, row_scale=root)[keep], u[keep], ("a", "b", "c", "d"), cov_type)
    np.testing.assert_allclose(cov.matrix, ref.cov_params(), rtol=1e-10)

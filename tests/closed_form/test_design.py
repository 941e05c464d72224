"""The least-squares design of a LinearModel() over a data matrix, weighted (symopt.closed_form.design's
MatrixDesign, symopt.closed_form.normal_equations): squared_loss(LinearModel(), weights="w") and sigma="s" solved
by the closed form (QR of the rows scaled by sqrt(w); the weighted normal equations when tall) against statsmodels'
WLS, on a small problem, an ill-conditioned one and a tall one; rows of weight 0 drop out, and integer weights are
repeated rows, by the closed form and by the iterative solvers on both backends."""

from __future__ import annotations

import numpy as np
import pytest

import symopt
from weighted_data import weighted_rows

sm = pytest.importorskip("statsmodels.api")


def _relative(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.abs(b)))


def _weighted(weighting="weights"):
    return symopt.squared_loss(symopt.LinearModel(), **{weighting: "w" if weighting == "weights" else "s"})


@pytest.fixture(scope="module")
def small():
    return weighted_rows(11, 80, [1.0, -2.0, 0.5], 0.7)


@pytest.mark.parametrize("weighting", ["weights", "sigma"])
def test_weighted_least_squares_over_a_data_matrix_is_statsmodels_wls(small, weighting):
    X, y, w = small
    ref = sm.WLS(y, sm.add_constant(X), weights=w).fit(method="qr")
    data = {"X": X, "y": y, "w": w} if weighting == "weights" else {"X": X, "y": y, "s": 1.0 / np.sqrt(w)}
    objective = _weighted(weighting)
    closed = symopt.solve(objective, data)
    assert closed.method == "linear" and "QR of the column-scaled design" in closed.closed_form.detail
    assert _relative(closed.x, ref.params) < 1e-10
    # F is the weighted mean: sum(w r^2) / n
    assert closed.fun == pytest.approx(ref.ssr / len(y), rel=1e-12)
    assert closed.x_names == ("intercept", "coef[0]", "coef[1]", "coef[2]")
    for backend in ("numba", "python"):
        iterative = symopt.solve(objective, data, method="iterative", backend=backend, progress=False)
        assert iterative.success and _relative(iterative.x, ref.params) < 1e-10, backend


def test_an_ill_conditioned_weighted_design(small):
    """Powers of x in [1, 3] (condition number of the column-scaled design 4.5e3): the QR of the scaled rows
    keeps 1e-10 against statsmodels' QR, and precision="high" (the rows scaled in mpmath) agrees."""
    rng = np.random.default_rng(4)
    x = np.linspace(1.0, 3.0, 70)
    X = np.column_stack([x, x ** 2, x ** 3, x ** 4])
    w = rng.uniform(0.2, 4.0, 70)
    y = 1.0 + X @ [1.0, -1.0, 0.5, -0.1] + rng.normal(size=70) / np.sqrt(w)
    ref = sm.WLS(y, sm.add_constant(X), weights=w).fit(method="qr")
    r = symopt.solve(_weighted(), {"X": X, "y": y, "w": w})
    assert r.condition_number > 1e3 and _relative(r.x, ref.params) < 1e-10
    high = symopt.solve(_weighted(), {"X": X, "y": y, "w": w}, precision="high")
    assert "mpmath" in high.closed_form.detail and _relative(high.x, ref.params) < 1e-10


@pytest.mark.parametrize("shift", [0.0, 40.0])
def test_a_tall_weighted_design_takes_the_weighted_normal_equations(shift):
    """60,000 x 20: the normal equations, centred about the weighted means from the blocks' sqrt(w)-scaled rows,
    and their factor R with R^T R = Phi^T W Phi (what the covariance reads)."""
    rng = np.random.default_rng(0)
    n, m = 60_000, 20
    X = rng.normal(size=(n, m)) + shift * rng.uniform(size=m)
    w = rng.uniform(0.0, 3.0, n)
    y = X @ rng.normal(size=m) + 1.0 + rng.normal(size=n) / np.sqrt(np.maximum(w, 0.1))
    r = symopt.solve(_weighted(), {"X": X, "y": y, "w": w})
    assert "normal equations by Cholesky on the weighted, centred" in r.closed_form.detail
    ref = sm.WLS(y, sm.add_constant(X), weights=w).fit(method="qr")
    assert _relative(r.x, ref.params) < 1e-10
    Phi = sm.add_constant(X)
    np.testing.assert_allclose(r.normal_factor.T @ r.normal_factor, Phi.T @ (w[:, None] * Phi), rtol=1e-9)
    assert r.grad_norm < 1e-10 * np.max(np.abs(Phi.T @ (w * y))) / n


def test_rows_of_weight_zero_drop_out(small):
    X, y, w = small
    w = w.copy()
    w[:7] = 0.0
    for method in ("linear", "iterative"):
        weighted = symopt.solve(_weighted(), {"X": X, "y": y, "w": w}, method=method, progress=False)
        rest = symopt.solve(_weighted(), {"X": X[7:], "y": y[7:], "w": w[7:]}, method=method, progress=False)
        np.testing.assert_allclose(weighted.x, rest.x, rtol=1e-10)


@pytest.mark.parametrize("backend", ["numba", "python"])
@pytest.mark.parametrize("method", ["linear", "iterative"])
def test_integer_weights_are_repeated_rows(small, backend, method):
    X, y, _ = small
    counts = np.random.default_rng(2).integers(0, 4, size=len(y))
    weighted = symopt.solve(_weighted(), {"X": X, "y": y, "w": counts.astype(float)}, method=method,
                            backend=backend, progress=False)
    repeated = symopt.solve(symopt.squared_loss(symopt.LinearModel()), (np.repeat(X, counts, axis=0),
                                                                      np.repeat(y, counts)),
                            method=method, backend=backend, progress=False)
    assert weighted.method == repeated.method == method
    np.testing.assert_allclose(weighted.x, repeated.x, rtol=1e-10)


def test_a_weight_too_large_to_scale_is_named():
    """1/s = 1e308 times the column of ones and X overflows: the error names the standard deviations' column and its
    row, not X."""
    X = np.array([[1.0], [2.0], [3.0], [4.0]])
    s = np.array([1.0, 1e-308, 1.0, 1.0])
    with pytest.raises(symopt.errors.DataError, match=r"data 's' at row 1 \(s\[1\] = 1e-308\): the scale of "
                                                      r"the intercept column, weighted, overflows"):
        symopt.solve(_weighted("sigma"), {"X": X, "y": np.arange(4.0), "s": s}, method="linear")

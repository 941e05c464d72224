"""verify on a quantile regression solved as a linear programme (symopt/trust/quantile_check.py): the subgradient
certificate and scikit-learn's QuantileRegressor(alpha=0, solver="highs") as the reference; OK on the LP optimum,
NOT OK on a perturbed one."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import symopt
from symopt.trust import quantile_check

sm = pytest.importorskip("statsmodels.api")
sklearn_linear = pytest.importorskip("sklearn.linear_model")


@pytest.fixture(scope="module")
def engel():
    data = sm.datasets.engel.load_pandas().data
    return {"income": data.income.to_numpy(), "foodexp": data.foodexp.to_numpy()}


def _objective(q):
    return symopt.quantile_loss(symopt.LinearModel(basis=["income"]), target="foodexp", q=q)


def _pinball(u, q):
    return float(np.mean(np.maximum(q * u, (q - 1) * u)))


@pytest.mark.parametrize("q", [0.1, 0.5, 0.9])
def test_verify_says_ok_on_the_lp_optimum(engel, q):
    fit = symopt.solve(_objective(q), engel)
    assert fit.method == "lp"
    check = fit.verify(starts=2)
    assert check.ok, str(check)
    assert "is optimal: 0 is in the subdifferential" in check.verdict
    assert check.reference.startswith("scikit-learn QuantileRegressor")
    ref = [s for s in check.solutions if s.role == "reference"][0]
    sk = sklearn_linear.QuantileRegressor(quantile=q, alpha=0, solver="highs").fit(engel["income"][:, None],
                                                                                   engel["foodexp"])
    x, y = engel["income"], engel["foodexp"]
    assert ref.success and ref.fun == pytest.approx(_pinball(y - sk.intercept_ - sk.coef_[0] * x, q), rel=1e-12)
    assert fit.fun == pytest.approx(ref.fun, rel=1e-9)
    this = check.solutions[0]
    assert this.max_gradient < 1e-9  # the minimum-norm subgradient, 0 at the optimum
    # the iterative runs are other ways (they stop on the kinks), not answers that failed
    assert all(s.role == "start" for s in check.solutions if s.label.startswith("iterative"))


def test_verify_says_not_ok_on_a_perturbed_solution(engel):
    fit = symopt.solve(_objective(0.5), engel)
    x = fit.x * np.array([1.0, 1.0 + 1e-6])
    moved = dataclasses.replace(fit, x=x, params={"intercept": x[0], "coef_income": x[1]})
    check = moved.verify(starts=1)
    assert not check.ok and "is NOT optimal: 0 is not in the subdifferential" in check.verdict, str(check)
    assert check.solutions[0].max_gradient > 1e-3
    assert "reached a lower F" in check.verdict  # scikit-learn's optimum is below the perturbed point's


def test_the_subgradient_is_zero_only_at_the_optimum_over_a_data_matrix(engel):
    """Over a LinearModel() on a data matrix, with the sum: the certificate at the LP solution, and not at
    scikit-learn's coefficients moved along either axis."""
    objective = symopt.quantile_loss(symopt.LinearModel(), q=0.25, reduction="sum")
    data = {"X": engel["income"][:, None], "y": engel["foodexp"]}
    fit = symopt.solve(objective, data)
    dataset = fit.dataset
    g, scale = quantile_check.subgradient(objective, dataset, fit.x)
    assert np.max(np.abs(g)) <= quantile_check.OPTIMAL * scale
    for step in (np.array([1e-3, 0.0]), np.array([0.0, -1e-6])):
        g, scale = quantile_check.subgradient(objective, dataset, fit.x + step * np.abs(fit.x))
        assert np.max(np.abs(g)) > 1e-4 * scale

"""NIST StRD linear least squares: all 11 sets, each stated as a symopt.Model
expression and solved by the linear closed form. Accuracy is the number of
correct significant digits (LRE, capped at 15) of every certified coefficient."""

from __future__ import annotations

import pytest

import symopt
from nist_models import nist_model
from symopt.trust.nist import lre, read

LINEAR_SETS = ["Norris", "Pontius", "NoInt1", "NoInt2", "Filip", "Longley",
               "Wampler1", "Wampler2", "Wampler3", "Wampler4", "Wampler5"]




def min_lre(problem, precision) -> float:
    objective = symopt.squared_loss(nist_model(problem))
    result = symopt.solve(objective, problem.columns, method="linear", precision=precision)
    assert result.method == "linear" and result.success
    return min(lre(result.params[n], c) for n, c in problem.certified.items())


@pytest.mark.parametrize("name", LINEAR_SETS)
def test_nist_linear_double(nist, name):
    assert min_lre(read(nist / f"{name}.dat"), "double") >= 7.0


@pytest.mark.parametrize("name", LINEAR_SETS)
def test_nist_linear_high(nist, name):
    assert min_lre(read(nist / f"{name}.dat"), "high") >= 13.0


@pytest.mark.parametrize("precision, digits", [("double", 6.0), ("high", 12.0)])
@pytest.mark.parametrize("name", LINEAR_SETS)
def test_nist_linear_standard_deviations(nist, name, precision, digits):
    """Issue 12: the certified standard deviations of the estimates, the residual standard deviation and R^2
    (where a certified value is 0, as in Wampler1 and 2, lre measures -log10 of the absolute value)."""
    problem = read(nist / f"{name}.dat")
    result = symopt.solve(symopt.squared_loss(nist_model(problem)), problem.columns, method="linear",
                          precision=precision)
    assert result.stderr is not None, result.stderr_reason
    sd = {n: lre(result.stderr[n], c) for n, c in problem.certified_sd.items()}
    assert min(sd.values()) >= digits, sd
    assert lre(result.residual_sd, problem.residual_sd) >= digits, (result.residual_sd, problem.residual_sd)
    assert lre(result.r2, problem.r_squared) >= digits - 1, (result.r2, problem.r_squared)


def test_nist_model_is_stated_as_nist_writes_it(nist):
    assert str(nist_model(read(nist / "Pontius.dat")).expr) == "B0 + B1*x + B2*x**2"
    longley = nist_model(read(nist / "Longley.dat"))
    assert [s.name for s in longley.features] == [f"x{k}" for k in range(1, 7)]

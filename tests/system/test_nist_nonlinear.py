"""NIST StRD nonlinear least squares: all 27 sets, each stated as a
symopt.Model expression, solved from both NIST starting points with the
default method="auto" (Levenberg-Marquardt on the symbolic Jacobian).
Every certified parameter must have >= 6 correct significant digits."""

from __future__ import annotations

import pytest

import symopt
from nist_models import NONLINEAR_MODELS, RELABELLINGS, nist_problem
from symopt.trust.nist import lre




@pytest.mark.parametrize("start", [0, 1], ids=["start1", "start2"])
@pytest.mark.parametrize("name", list(NONLINEAR_MODELS))
def test_nist_nonlinear(nist, name, start):
    problem, names, objective, data = nist_problem(nist, name)
    x0 = {n: problem.starts[start][n] for n in names}
    result = symopt.solve(objective, data, x0=x0, progress=False)
    assert result.method == "iterative" and "LevenbergMarquardt" in result.why
    assert result.success, result.message
    # the certified optimum, possibly under another labelling of the same model (MGH17's exponentials trade
    # places from start 1 on some CPUs: the same fit, F equal to 1e-15)
    params, stderr = _as_certified(name, result.params, result.stderr, problem.certified)
    digits = min(lre(params[n], problem.certified[n]) for n in names)
    assert digits >= 6.0, f"{name} from start {start + 1}: {digits:.2f} digits"
    # issue 12: the certified standard deviations and residual standard deviation at the solution reached
    assert result.stderr is not None, result.stderr_reason
    sd = min(lre(stderr[n], problem.certified_sd[n]) for n in names)
    assert sd >= 4.0, f"{name} from start {start + 1}: standard errors to {sd:.2f} digits"
    assert lre(result.residual_sd, problem.residual_sd) >= 4.0, (result.residual_sd, problem.residual_sd)
    assert result.dof == len(data["y"]) - len(names)


def _relabelled(values: dict, mapping: dict) -> dict:
    """``values`` seen through ``mapping`` (name -> (sign, other name)): the labelling the mapping describes."""
    return {n: (mapping[n][0] * values[mapping[n][1]] if n in mapping else values[n]) for n in values}


def _as_certified(name, params, stderr, certified):
    """``params`` and ``stderr`` under the relabelling of ``name``'s model (the identity included) that brings
    the parameters closest to the certified ones."""
    best = max(RELABELLINGS.get(name, [{}]), key=lambda m: min(lre(_relabelled(params, m)[n], certified[n])
                                                                for n in certified))
    if stderr is not None:
        stderr = {n: abs(v) for n, v in _relabelled(stderr, best).items()}
    return _relabelled(params, best), stderr


@pytest.mark.parametrize("name", sorted(RELABELLINGS))
def test_each_relabelling_leaves_the_model_unchanged(name):
    import sympy as sp

    model = sp.sympify(NONLINEAR_MODELS[name])  # the test's own constant text
    for mapping in RELABELLINGS[name]:
        swapped = model.xreplace({sp.Symbol(n): sign * sp.Symbol(other) for n, (sign, other) in mapping.items()})
        assert sp.simplify(swapped - model) == 0, (name, mapping)

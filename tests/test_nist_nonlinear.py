"""NIST StRD nonlinear least squares: all 27 sets, each stated as a
symopt.Model expression, solved from both NIST starting points with the
default method="auto" (Levenberg-Marquardt on the symbolic Jacobian).
Every certified parameter must have >= 6 correct significant digits."""

from __future__ import annotations

import numpy as np
import pytest

import symopt
from nist_models import LOG_RESPONSE, NONLINEAR_MODELS
from symopt.reference.nist import lre, read


def nist_problem(folder, name):
    problem = read(folder / f"{name}.dat")
    names = sorted(problem.certified, key=lambda n: int(n[1:]))
    data = dict(problem.columns)
    if name in LOG_RESPONSE:
        data["y"] = np.log(data["y"])
    objective = symopt.squared_loss(symopt.Model(NONLINEAR_MODELS[name], names))
    return problem, names, objective, data


@pytest.mark.parametrize("start", [0, 1], ids=["start1", "start2"])
@pytest.mark.parametrize("name", list(NONLINEAR_MODELS))
def test_nist_nonlinear(nist, name, start):
    problem, names, objective, data = nist_problem(nist, name)
    x0 = {n: problem.starts[start][n] for n in names}
    result = symopt.solve(objective, data, x0=x0, progress=False)
    assert result.method == "iterative" and "LevenbergMarquardt" in result.why
    assert result.success, result.message
    digits = min(lre(result.params[n], problem.certified[n]) for n in names)
    assert digits >= 6.0, f"{name} from start {start + 1}: {digits:.2f} digits"
    # issue 12: the certified standard deviations and residual standard deviation at the solution reached
    assert result.stderr is not None, result.stderr_reason
    sd = min(lre(result.stderr[n], problem.certified_sd[n]) for n in names)
    assert sd >= 4.0, f"{name} from start {start + 1}: standard errors to {sd:.2f} digits"
    assert lre(result.residual_sd, problem.residual_sd) >= 4.0, (result.residual_sd, problem.residual_sd)
    assert result.dof == len(data["y"]) - len(names)

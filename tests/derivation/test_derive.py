"""Derivation: gradients and Hessians as SymPy, printable as text and LaTeX."""

from __future__ import annotations

import pytest
import sympy as sp

import symopt
from symopt.errors import ModelError
from symopt.model.kinds import ETA


def test_gradient_and_hessian_of_expression_model():
    d = symopt.derive(symopt.squared_loss(symopt.Model("a*exp(b*x)", "a b")))
    a, b, x, y = (sp.Symbol(n, real=True) for n in "abxy")
    assert sp.simplify(d.gradient[0] - (-2 * (y - a * sp.exp(b * x)) * sp.exp(b * x))) == 0
    assert sp.simplify(d.hessian[0, 0] - 2 * sp.exp(2 * b * x)) == 0
    assert d.hessian.shape == (2, 2) and d.hessian[0, 1] == d.hessian[1, 0]


def test_log_loss_chain_rule_piece_simplifies_to_sigmoid_minus_y():
    d = symopt.derive(symopt.log_loss(symopt.LinearModel()))
    y = sp.Symbol("y", real=True)
    assert d.gradient[0] == symopt.sigmoid(ETA) - y
    text = str(d)
    assert "dl/deta = -y + sigmoid(eta)" in text and "dl/dcoef_j = dl/deta * x_j" in text


def test_text_and_latex():
    d = symopt.derive(symopt.Objective("log(lam) - lam*x", "lam", maximize=True, l2=0.1))
    text = str(d)
    assert "dl/dlam = -x + 1/lam" in text and "penalty" in text
    latex = d.latex()
    assert latex.startswith("\\begin{align}") and "\\frac{\\partial \\ell}{\\partial lam}" in latex
    assert d._repr_latex_().startswith("$$")
    assert "\\frac{\\partial^2 \\ell}{\\partial lam^2} &= - \\frac{1}{lam^{2}}" in latex
    two = symopt.derive(symopt.squared_loss(symopt.Model("a*exp(b*x)", "a b"))).latex()
    assert two.count("\\partial^2") == 3 and "\\partial a \\, \\partial b" in two


def test_no_hessian_past_fifty_parameters():
    names = [f"w{k}" for k in range(60)]
    model = symopt.Model(" + ".join(f"{n}*x**{k}" for k, n in enumerate(names)), names)
    d = symopt.derive(symopt.squared_loss(model))
    assert d.hessian is None and "limit 50" in str(d)
    assert len(d.gradient) == 60


@pytest.mark.parametrize("given", ["a*x", None, symopt.Model("a*x", "a")])
def test_derive_takes_an_objective(given):
    with pytest.raises(ModelError, match=r"derive\(\) takes a symopt.Objective"):
        symopt.derive(given)


def test_a_derivative_sympy_leaves_unevaluated_is_a_model_error():
    a, b = symopt.params("a b")
    x = sp.Symbol("x", real=True)
    # Such functions are refused when the model is built (tests/model/test_models.py); derive still says so for
    # an expression that reaches it another way.
    objective = symopt.squared_loss(symopt.Model(a * x + b, [a, b]))
    objective.per_sample = (objective.target - sp.floor(a * x) - b) ** 2
    with pytest.raises(ModelError, match="cannot differentiate floor in closed form.*without floor"):
        symopt.derive(objective)
    with pytest.raises(ModelError, match="undefined function 'f'"):
        symopt.Model(sp.Function("f")(a * x) + b, [a, b])


def test_abs_differentiates_to_sign_and_the_delta_is_zero_almost_everywhere():
    o = symopt.Objective("abs(y - a*x)", "a")
    d = symopt.derive(o)
    assert not d.hessian.has(sp.DiracDelta) and d.hessian[0, 0] == 0
    assert d.gradient[0].has(sp.sign)
    assert "DiracDelta(a*x - y) (from differentiating abs or sign) is taken as 0" in str(d)


def test_an_l1_fit_runs_in_generated_code(rng):
    """abs in an iterative objective used to fail with a PrinterError about DiracDelta."""
    import numpy as np

    x = np.arange(1.0, 8.0)
    y = 2 * x + np.array([0.1, -0.2, 0.3, 0.05, -0.1, 0.0, 5.0])  # one outlier, which L1 shrugs off
    result = symopt.solve(symopt.Objective("abs(y - a*x)", "a"), {"x": x, "y": y}, optimizer=symopt.LBFGS(),
                          method="iterative", progress=False)
    assert "sign" in result.source and "DiracDelta" not in result.source
    assert abs(result.params["a"] - 2.0) < 0.05  # least squares gives 2.21


def test_latex_of_a_power_of_sigmoid_or_softplus():
    """SymPy hands the power to _latex (found by tests/system/test_fuzz.py: a TypeError before)."""
    latex = symopt.derive(symopt.Objective("sigmoid(a)*x", "a")).latex()
    assert r"\sigma\left(a\right)^{2}" in latex
    assert sp.latex(symopt.symbolic.functions.softplus(sp.Symbol("a")) ** 3) == r"\operatorname{softplus}\left(a\right)^{3}"

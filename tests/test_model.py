"""Entities: parameters, models, objectives and optimizers, and their errors."""

from __future__ import annotations

import pytest
import sympy as sp

import symopt
from symopt.errors import ModelError, ParseError
from symopt.objective import ETA


def test_params_are_real_symbols():
    a, b = symopt.params("a b")
    assert a.is_real and b.is_real and a.name == "a"
    (lam,) = symopt.params("lam", positive=True)
    assert lam.is_positive
    assert symopt.params("a, b")[1].name == "b"


def test_model_from_text_and_sympy_agree():
    a, b = symopt.params("a b")
    x = sp.Symbol("x")  # no assumptions: symopt makes it real
    m1 = symopt.Model("a*exp(b*x)", "a b")
    m2 = symopt.Model(a * sp.exp(b * x), [a, b])
    assert m1.expr == m2.expr
    assert [s.name for s in m2.features] == ["x"] and m2.features[0].is_real


def test_model_errors():
    with pytest.raises(ModelError, match="do not appear"):
        symopt.Model("a*x", "a c")
    with pytest.raises(ModelError, match="repeat"):
        symopt.Model("a*x", "a a")
    with pytest.raises(ParseError, match="not a valid name"):
        symopt.Model("a*x", ["a b!"])


def test_positive_param_keeps_its_assumption_in_text():
    (s,) = symopt.params("s", positive=True)
    m = symopt.Model("s*x", [s])
    assert m.params[0].is_positive and s in m.expr.free_symbols


def test_linear_model_basis_is_an_expression_model():
    lm = symopt.LinearModel(basis=["x", "x**2", "sin(t)"])
    assert not lm.is_wide
    assert str(lm.expression_model.expr) == "w0 + w1*x + w2*x**2 + w3*sin(t)"
    no_icpt = symopt.LinearModel(basis=["x"], intercept=False)
    assert no_icpt.expression_model.param_names == ("w1",)
    with pytest.raises(ModelError, match="clash"):
        symopt.LinearModel(basis=["w1"])
    with pytest.raises(ModelError, match="list of expressions"):
        symopt.LinearModel(basis="x")
    with pytest.raises(ModelError, match="positive integer"):
        symopt.LinearModel(n_features=0)


def test_squared_and_log_loss():
    m = symopt.Model("a + b*x", "a b")
    sq = symopt.squared_loss(m)
    y = sp.Symbol("y", real=True)
    assert sq.per_sample == (y - m.expr) ** 2
    assert sq.data_names == ("x", "y")
    ll = symopt.log_loss(m, target="label")
    assert ll.per_sample.has(symopt.softplus)
    wide = symopt.log_loss(symopt.LinearModel())
    assert wide.wide and wide.data_names == ("X", "y")
    assert wide.per_sample == symopt.softplus(ETA) - y * ETA


def test_objective_validation():
    with pytest.raises(ModelError, match="already appears"):
        symopt.squared_loss(symopt.Model("a*y", "a"), target="y")
    with pytest.raises(ModelError, match="l2"):
        symopt.squared_loss(symopt.Model("a*x", "a"), l2=-1)
    with pytest.raises(ModelError, match="reduction"):
        symopt.squared_loss(symopt.Model("a*x", "a"), reduction="median")
    with pytest.raises(ModelError, match="maximize"):
        symopt.Objective("a*x", "a", maximize="yes")
    with pytest.raises(ModelError, match="expected a symopt.Model"):
        symopt.squared_loss("a*x")


def test_objective_describe_mentions_sense_and_penalty():
    o = symopt.Objective("log(lam) - lam*x", "lam", maximize=True, l2=0.5)
    text = o.describe()
    assert text.startswith("maximise mean") and "- 0.5" in text


def test_gradient_descent_validation():
    with pytest.raises(ModelError, match="needs lr"):
        symopt.GradientDescent(line_search=False)
    with pytest.raises(ModelError, match="lr must be"):
        symopt.GradientDescent(lr=-1.0)
    with pytest.raises(ModelError, match="max_iter"):
        symopt.GradientDescent(max_iter=0)
    with pytest.raises(ModelError, match="tol"):
        symopt.GradientDescent(tol=float("nan"))

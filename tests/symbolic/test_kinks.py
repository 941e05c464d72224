"""Max, Min, Heaviside and Piecewise (issue 29, item 3): accepted in text (max, min, heaviside) and as SymPy objects
(Piecewise too), evaluated by NumPy and mpmath, printed into generated code that runs and agrees with NumPy, their
kinks found (symopt.symbolic.kinks), and the derivative at a kink the subgradient the module says (the midpoint
for max, min and abs; the branch whose condition holds for Piecewise). Each function's value and first two
derivatives away from its kinks are checked to 40 digits in tests/symbolic/test_partials.py, as every
whitelisted function's are."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import symopt
from symopt.errors import ModelError, ParseError
from symopt.symbolic.kinks import has_kink, kinks
from symopt.symbolic.numeric import evaluate
from symopt.symbolic.parse import parse_expression
from symopt.symbolic.printer import print_block
from symopt.symbolic.syntax import check_syntax

X, A, B = sp.symbols("x a b", real=True)
HUBER = sp.Piecewise((X ** 2, sp.And(X <= 1, X >= -1)), (2 * X - 1, X > 1), (-2 * X - 1, True))


def test_text_writes_max_min_and_heaviside():
    assert parse_expression("max(a, 0) + min(a, b, 2) + heaviside(a - 1)") == (
        sp.Max(A, 0) + sp.Min(A, B, 2) + sp.Heaviside(A - 1))
    assert check_syntax("max(y - a*x, 0)") == {"y", "a", "x"}
    for bad in ("max(a)", "min()", "max(a, b=1)"):
        with pytest.raises(ParseError, match="two or more positional arguments"):
            parse_expression(bad)
        with pytest.raises(ParseError, match="two or more positional arguments"):
            check_syntax(bad)
    with pytest.raises(ParseError, match="exactly one positional argument"):
        parse_expression("heaviside(a, 1)")


def test_text_writes_piecewise_as_where_with_one_comparison():
    assert parse_expression("where(x > a, a*x, b)") == sp.Piecewise((A * X, X > A), (B, True))
    assert parse_expression("where(x <= 1, x**2, 2*x - 1)") == sp.Piecewise((X ** 2, X <= 1), (2 * X - 1, True))
    for bad, why in (("where(x, a, b)", "must be one comparison"), ("where(0 < x < 1, a, b)", "no chains"),
                     ("where(x == 1, a, b)", "no chains, =="), ("where(x > 1, a)", "takes 3 positional"),
                     ("x > 1", "a comparison is not allowed"), ("where(x > 1 and x < 2, a, b)", "must be one")):
        for parse in (parse_expression, check_syntax):
            with pytest.raises(ParseError, match=why):
                parse(bad)


def test_piecewise_is_accepted_as_a_sympy_object_and_other_functions_are_not():
    model = symopt.Model(sp.Piecewise((A * X, X > 0), (B * X, True)), params=[A, B])
    assert model.expr.has(sp.Piecewise)
    with pytest.raises(ModelError, match="besselj"):
        symopt.Model(sp.besselj(0, A * X), params=[A])


@pytest.mark.parametrize("expr, expected", [
    (HUBER, [2 * 3.0 - 1, 0.25, 0.0, 0.25, -2 * -2.0 - 1]),
    (sp.Max(X, 0, 2 * X - 1), [5.0, 0.5, 0.0, 0.0, 0.0]),
    (sp.Min(X, 0.25), [0.25, 0.25, 0.0, -0.5, -2.0]),
    (sp.Heaviside(X), [1.0, 1.0, 0.5, 0.0, 0.0]),
    (sp.Heaviside(X, 1), [1.0, 1.0, 1.0, 0.0, 0.0]),
    (sp.Abs(X) + sp.sign(X), [4.0, 1.5, 0.0, -0.5, 1.0]),
])
def test_numpy_mpmath_and_generated_code_agree(expr, expected):
    xs = np.array([3.0, 0.5, 0.0, -0.5, -2.0])
    np.testing.assert_array_equal(evaluate(expr, {X: xs}), expected)
    assert [float(evaluate(expr, {X: v}, backend="mpmath")) for v in xs] == expected
    temps, (code,) = print_block([expr], {X: "x"})
    namespace = {"math": __import__("math")}
    exec("def f(x):\n" + "".join(f"    {t} = {c}\n" for t, c in temps) + f"    return {code}\n", namespace)
    assert [namespace["f"](float(v)) for v in xs] == expected


def test_printed_forms():
    _, (code,) = print_block([sp.Heaviside(X - A)], {X: "x", A: "a"})
    assert code == "(1.0 if (-a + x) > 0.0 else (0.0 if (-a + x) < 0.0 else (0.5 if (-a + x) == 0.0 else (-a + x))))"
    _, (code,) = print_block([sp.Min(X, A, 0)], {X: "x", A: "a"})
    assert code == "min(min(0, a), x)"
    _, (code,) = print_block([sp.Piecewise((X, X > A))], {X: "x", A: "a"})
    assert code == "((x) if (a < x) else math.nan)"  # no condition holds: NaN, as NumPy gives
    assert np.isnan(evaluate(sp.Piecewise((X, X > A)), {X: np.array([0.0]), A: 1.0})[0])


def test_the_derivative_at_a_kink_is_the_stated_subgradient():
    """max and abs: the midpoint of the one-sided derivatives (Heaviside(0) = 1/2, sign(0) = 0); Piecewise: the
    derivative of the branch whose condition holds at the boundary."""
    d_max = sp.diff(sp.Max(A * X, 1), A)
    assert float(evaluate(d_max, {A: 0.5, X: 2.0})) == 1.0  # a*x = 1: half of x
    d_abs = sp.diff(sp.Abs(A - 1), A)
    assert float(evaluate(d_abs, {A: 1.0})) == 0.0
    d_huber = sp.diff(HUBER.subs(X, A), A)
    assert float(evaluate(d_huber, {A: 1.0})) == 2.0  # |a| <= 1 holds at a = 1: 2a (= the other branch's 2 too)


def test_kinks_are_found_in_the_parameters_only():
    found = kinks(sp.Max(A * X, B, 0) + sp.Abs(X) + HUBER.subs(X, X - A), [A, B])
    pairs = {frozenset({sp.expand(k.argument), sp.expand(-k.argument)}) for k in found if k.name == "max"}
    assert pairs == {frozenset({A * X, -A * X}), frozenset({B, -B}), frozenset({A * X - B, B - A * X})}
    assert {k.name for k in found} == {"max", "piecewise"}  # abs(x) reads no parameter
    assert any(k.name == "piecewise" and sp.expand(k.argument - (X - A - 1)) * sp.expand(k.argument + (X - A - 1)) == 0
               for k in found)
    assert not has_kink(sp.exp(A * X) + sp.Abs(X), [A]) and has_kink(sp.Heaviside(A - X), [A])

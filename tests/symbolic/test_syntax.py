"""symopt.symbolic.syntax: the one whitelist of names, and the SymPy-free check agrees with the parser."""

from __future__ import annotations

import pytest

from symopt.errors import ParseError
from symopt.symbolic import parse, syntax
from symopt.symbolic.syntax import check_syntax


def test_the_parser_uses_the_one_whitelist():
    assert tuple(parse.FUNCTIONS) == syntax.FUNCTION_NAMES
    assert tuple(parse.CONSTANTS) == syntax.CONSTANT_NAMES
    assert (parse.MAX_LENGTH, parse.MAX_NODES, parse.MAX_DEPTH) == (syntax.MAX_LENGTH, syntax.MAX_NODES,
                                                                     syntax.MAX_DEPTH)


@pytest.mark.parametrize("text", ["a*exp(-b*x)", "sigmoid(w0 + w1*x)", "pi*r**2", "-x + +y", "log1p(z)/2.5e3",
                                  "log(besseli(0, k)) + besseli(1, k*x)", "y*log_ndtr(a + b*x) + ndtr(c) - erfc(x)"])
def test_accepted_text_parses_with_the_same_names(text):
    names = {s.name for s in parse.parse_expression(text).free_symbols}
    assert check_syntax(text) == names


@pytest.mark.parametrize("text", ["__import__('os')", "x.real", "x[0]", "lambda: 1", "f(x)", "x ^ 2", "x // 2",
                                  "exp", "exp(x, y)", "'text'", "x if y else z", "a; b", "", "(" * 300 + "x" + ")" * 300,
                                  "x" + "+x" * 6000, "_secret + 1", "x < y", "True",
                                  "besseli(x)", "besseli(2, x)", "besseli(nu, x)", "besseli(0.0, x)", "besseli(-1, x)",
                                  "besseli(True, x)", "besseli(0, x, y)", "besseli(nu=0, x=x)", "ndtr(x, y)",
                                  "log_ndtr", "besseli(0, __import__('os'))"])
def test_refused_text_is_refused_by_both(text):
    with pytest.raises(ParseError):
        check_syntax(text)
    with pytest.raises(ParseError):
        parse.parse_expression(text)


@pytest.mark.parametrize("text, message", [
    ("besseli(x)", r"besseli\(\) takes 2 positional arguments, besseli\(nu, x\), as in besseli\(0, x\)"),
    ("besseli(2, x)", r"the order of besseli\(\) \(its first argument\) must be written as the number 0 or 1.*not 2"),
    ("besseli(nu, x)", r"must be written as the number 0 or 1, the orders symopt evaluates, not the name 'nu'"),
    ("besseli(1 - 1, x)", "not an expression"),
    ("ndtr(x, y)", r"ndtr\(\) takes exactly one positional argument"),
])
def test_both_say_what_is_wrong_with_a_call(text, message):
    for check in (check_syntax, parse.parse_expression):
        with pytest.raises(ParseError, match=message):
            check(text)

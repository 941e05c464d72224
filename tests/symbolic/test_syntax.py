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


@pytest.mark.parametrize("text", ["a*exp(-b*x)", "sigmoid(w0 + w1*x)", "pi*r**2", "-x + +y", "log1p(z)/2.5e3"])
def test_accepted_text_parses_with_the_same_names(text):
    names = {s.name for s in parse.parse_expression(text).free_symbols}
    assert check_syntax(text) == names


@pytest.mark.parametrize("text", ["__import__('os')", "x.real", "x[0]", "lambda: 1", "f(x)", "x ^ 2", "x // 2",
                                  "exp", "exp(x, y)", "'text'", "x if y else z", "a; b", "", "(" * 300 + "x" + ")" * 300,
                                  "x" + "+x" * 6000, "_secret + 1", "x < y", "True"])
def test_refused_text_is_refused_by_both(text):
    with pytest.raises(ParseError):
        check_syntax(text)
    with pytest.raises(ParseError):
        parse.parse_expression(text)

"""Safe expression text: what parses, what is refused, and that nothing runs."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import sympy as sp

import symopt
from symopt.errors import ParseError, SymoptError
from symopt.symbolic.parse import parse_expression


def test_parses_arithmetic_and_known_functions():
    e = parse_expression("a*exp(-b*x) + log1p(x) - sqrt(x)/2 + softplus(a) ** 2")
    x = sp.Symbol("x", real=True)
    assert x in e.free_symbols
    assert e.has(sp.exp) and e.has(symopt.softplus)


def test_the_special_functions_parse_to_their_sympy_functions():
    """besseli (orders 0 and 1, written as numbers), erfc, ndtr and log_ndtr (issue 29, item 6)."""
    from symopt.symbolic.functions import log_ndtr, ndtr

    x, k = sp.Symbol("x", real=True), sp.Symbol("k", positive=True)
    e = parse_expression("log(besseli(0, k)) + besseli(1, k*x) + erfc(x) + ndtr(x) + log_ndtr(-x)", {"k": k})
    assert e == sp.log(sp.besseli(0, k)) + sp.besseli(1, k * x) + sp.erfc(x) + ndtr(x) + log_ndtr(-x)
    with pytest.raises(ParseError, match=r"in 'a\*besseli\(2, x\)' at column 3: the order of besseli\(\)"):
        parse_expression("a*besseli(2, x)")
    with pytest.raises(ParseError, match="'ndtr' is the name of a built-in function"):
        symopt.params("ndtr")


def test_float_constants_become_exact_rationals():
    assert parse_expression("0.5*x") == sp.Rational(1, 2) * sp.Symbol("x", real=True)
    assert parse_expression("x**-.5") == sp.Symbol("x", real=True) ** sp.Rational(-1, 2)


@pytest.mark.parametrize("name", ["E", "I", "S", "N", "beta", "gamma", "Q", "O"])
def test_sympy_constant_names_are_user_symbols(name):
    e = parse_expression(f"2*{name}")
    assert e == 2 * sp.Symbol(name, real=True)
    m = symopt.Model(f"{name}*x", name)
    assert [p.name for p in m.params] == [name]


def test_pi_is_the_constant():
    assert parse_expression("2*pi") == 2 * sp.pi


MALICIOUS = [
    "__import__('os').system('touch /tmp/symopt_pwned')",
    "().__class__.__bases__[0].__subclasses__()",
    "exec('import os')",
    "eval('1')",
    "open('/etc/passwd')",
    "lambda: 1",
    "x if x else y",
    "[x for x in y]",
    "x.real",
    "'text'",
    "f'{x}'",
    "x; y",
    "x == y",
]


@pytest.mark.parametrize("text", MALICIOUS)
def test_malicious_text_raises_and_runs_nothing(text, tmp_path):
    with pytest.raises(SymoptError):
        parse_expression(text)


def test_model_with_malicious_string_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    code = (
        "import symopt\n"
        "try:\n"
        f"    symopt.Model(\"__import__('os').system('touch {marker}')\", params='a')\n"
        "except symopt.SymoptError as exc:\n"
        "    print(type(exc).__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "ParseError", out.stderr
    assert not marker.exists()
    assert not os.path.exists("/tmp/symopt_pwned")


@pytest.mark.parametrize("text, fragment", [
    ("x^2", "'**'"),
    ("foo(x)", "unknown function 'foo'"),
    ("exp(x, y)", "exactly one"),
    ("lambda*x", "keyword"),
    ("9**9**9", "exponents are limited"),
    ("x/0", "division by zero"),
    ("", "empty"),
    ("exp", "is a function"),
    ("_hidden + 1", "may not start with '_'"),
])
def test_clear_errors(text, fragment):
    with pytest.raises(ParseError, match=None) as info:
        parse_expression(text)
    assert fragment in str(info.value)


def test_size_caps():
    with pytest.raises(ParseError, match="characters long"):
        parse_expression("x+" * 6000 + "x")
    with pytest.raises(ParseError, match="nested deeper"):
        parse_expression("-" * 250 + "x")


def test_not_a_string():
    with pytest.raises(ParseError, match="expected expression text"):
        parse_expression(42)


@pytest.mark.parametrize("signs", [3000, 9990])
def test_nesting_too_deep_for_python_is_a_parse_error(signs):
    # Python's own parser fails first (RecursionError, or MemoryError for the longer run)
    with pytest.raises(ParseError, match="nested too deeply"):
        parse_expression("-" * signs + "x")


@pytest.mark.parametrize("text", ["x+" * 3000 + "$", "a" * 5000 + "(x)", "x+" * 4000 + "x[1]"])
def test_messages_quote_an_excerpt_not_the_whole_text(text):
    with pytest.raises(ParseError, match=r"\.\.\..*characters") as info:
        parse_expression(text)
    assert len(str(info.value)) < 500  # the excerpt (120 characters) and the list of known functions


def test_syntax_error_reports_the_column():
    with pytest.raises(ParseError, match=r"at column 6 \(the end of the text\)"):
        parse_expression("a*x +")
    with pytest.raises(ParseError, match="at line 2, column 5"):
        parse_expression("(a*x +\n b +)")


@pytest.mark.parametrize("text", ["a*x; import os", "x = 1", "import os"])
def test_statements_are_refused_as_not_one_expression(text):
    with pytest.raises(ParseError, match="expected one expression, not statements") as info:
        parse_expression(text)
    assert "keyword" not in str(info.value)


def test_lgamma_of_a_large_whole_number_is_refused_not_computed():
    # SymPy would compute log((10**20 - 1)!) exactly: it never finishes
    with pytest.raises(ParseError, match=r"lgamma\(\) of a whole or half-integer constant above 171"):
        parse_expression("a*lgamma(10**20)")
    assert parse_expression("lgamma(x) + lgamma(2.5)").has(sp.loggamma)


def test_a_carriage_return_before_a_rejected_node_gives_its_line():
    """Python's parser counts '\\r' as a line break: the position must too (it was an IndexError)."""
    with pytest.raises(ParseError, match=r"at line 3, column 3: attribute access"):
        symopt.Model("(a\r*x\r+ b.c)", "a")
    with pytest.raises(ParseError, match=r"at line 2, column 3: attribute"):
        parse_expression("(a\r\n+ b.c)")


@pytest.mark.parametrize("text", ["exp(" * 195 + "a*x" + ")" * 195, "sin(" * 120 + "a*x" + ")" * 120])
def test_nesting_that_sympy_cannot_handle_is_refused_when_parsed(text):
    with pytest.raises(ParseError, match="nested deeper than 100 levels"):
        symopt.Model(text, "a")


def test_nesting_within_the_limit_is_derived():
    model = symopt.Model("exp(" * 90 + "a*x" + ")" * 90, "a")
    assert symopt.derive(symopt.squared_loss(model)).gradient[0].has(sp.exp)


def test_a_deep_sympy_object_is_refused_too():
    a, x = sp.symbols("a x", real=True)
    expr = a * x
    for _ in range(150):
        expr = sp.exp(expr)
    with pytest.raises(symopt.errors.ModelError, match="nested deeper than 100 levels"):
        symopt.Model(expr, [a])


def test_a_constant_past_double_precision_is_refused_not_an_overflow_later():
    with pytest.raises(symopt.errors.ModelError, match=r"\(1e300\+pi\)\*\*2 is too large for a double"):
        symopt.Model("a*x + (1e300+pi)**2", "a")


@pytest.mark.parametrize("text", ["a*exp(x) + (-8)**(1/3)", "a*x + (-1)**(1/4)", "a*x + log(-2)"])
def test_complex_constants_are_refused(text):
    with pytest.raises(symopt.errors.ModelError, match="complex"):
        symopt.Model(text, "a")


def test_a_real_odd_root_is_written_with_a_real_base():
    assert symopt.Model("a*x + 8**(1/3)", "a").expr == sp.Symbol("a", real=True) * sp.Symbol("x", real=True) + 2


@pytest.mark.parametrize("text", ["(1e-30**1e-30)**(-(x - a))", "a*(x - 1e-300**1e-300)", "a*x + sqrt(2)**(1/10**20)"])
def test_a_constant_to_a_fraction_with_a_huge_denominator_is_a_number(text):
    """Kept exact, 1e-30**1e-30 is an algebraic number of degree 10**30: SymPy's assumptions tried to
    build its minimal polynomial and used up 23 GB (found by tests/system/test_fuzz.py). It is a 17-digit number."""
    model = symopt.Model(text, "a")
    assert model.expr.atoms(sp.Float) and not any(p.is_Pow and p.exp.is_Rational and p.exp.q > 1000
                                                  for p in sp.preorder_traversal(model.expr))
    symopt.derive(symopt.squared_loss(model))


def test_small_roots_stay_exact_and_negative_bases_are_refused():
    assert symopt.Model("a*x + 2**(1/3)", "a").expr.has(sp.Pow(2, sp.Rational(1, 3)))
    (number,) = symopt.Model("a*x + 2**0.0001", "a").expr.atoms(sp.Float)
    assert float(number) == 2**0.0001
    with pytest.raises(symopt.errors.ModelError, match=r"\(-2\)\*\*0.0001 has no real value"):
        symopt.Model("a*x + (-2)**0.0001", "a")

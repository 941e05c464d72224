"""Safe expression text: a whitelist over Python's ``ast``, never ``eval``.

User text (``"a*exp(-b*x)"``) is parsed with :func:`ast.parse` and walked
node by node. Only numbers, names, ``+ - * / **``, unary plus and minus and calls of
the functions in :data:`FUNCTIONS` are accepted (and one comparison, ``<``, ``<=``, ``>`` or ``>=``, as the first
argument of ``where(condition, a, b)``); anything else (attributes,
subscripts, lambdas, strings, ``^``...) is a :class:`~symopt.errors.ParseError`
that says what was found and where (quoting at most :data:`EXCERPT` characters
of the text around it). A constant the text makes that a double cannot hold
(``log(0)``, ``sqrt(-1)``, ``10**400``) is a :class:`~symopt.errors.ModelError`
naming it. Text never reaches ``eval``, ``sympify`` or ``parse_expr``, so
nothing in it can run.

Every name becomes a real SymPy symbol of that name: ``E``, ``I``, ``S``,
``N``, ``beta`` and ``gamma`` are user symbols, not SymPy constants. The one
named constant is ``pi``.

It is one module past 400 lines on purpose: the whitelist is a security boundary (the nodes, functions and
constants allowed, the size limits, and every error that names what was refused), kept in one file so that it is
read and audited in one place.
"""

from __future__ import annotations

import ast
import keyword
import math
import re
import sys

import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p
from sympy.core.function import AppliedUndef, Application
from sympy.functions.elementary.piecewise import ExprCondPair

from ..errors import ModelError, ParseError
from .functions import log_ndtr, ndtr, sigmoid, softplus
from .numeric import evaluate
from .syntax import (CONSTANT_NAMES, FUNCTION_NAMES, MAX_DEPTH, MAX_LENGTH, MAX_NODES, OPERATOR_HINTS, ORDERS,
                     VARIADIC, call_problem, describe_node as _describe)

#: SymPy's function for each name of :data:`symopt.symbolic.syntax.FUNCTION_NAMES` (the one whitelist).
_SYMPY_FUNCTIONS: dict[str, type] = {
    "exp": sp.exp, "log": sp.log, "ln": sp.log, "log1p": log1p, "expm1": expm1, "sqrt": sp.sqrt, "abs": sp.Abs,
    "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "asin": sp.asin, "acos": sp.acos, "atan": sp.atan,
    "arctan": sp.atan, "sinh": sp.sinh, "cosh": sp.cosh, "tanh": sp.tanh, "erf": sp.erf, "erfc": sp.erfc,
    "lgamma": sp.loggamma, "loggamma": sp.loggamma, "besseli": sp.besseli, "ndtr": ndtr, "log_ndtr": log_ndtr,
    "sigmoid": sigmoid, "softplus": softplus, "max": sp.Max, "min": sp.Min, "heaviside": sp.Heaviside,
    "where": sp.Piecewise,
}
_SYMPY_CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi}

#: Functions expression text may call, by the name the text uses: the whitelist's names only.
FUNCTIONS: dict[str, type] = {name: _SYMPY_FUNCTIONS[name] for name in FUNCTION_NAMES}

#: Named constants expression text may use.
CONSTANTS: dict[str, sp.Expr] = {name: _SYMPY_CONSTANTS[name] for name in CONSTANT_NAMES}

#: The function classes a SymPy expression given to symopt may hold: those text may call (``sqrt`` is a power,
#: not a function; ``max``, ``min`` and ``heaviside`` are SymPy's ``Max``, ``Min`` and ``Heaviside``), ``sign``,
#: the derivative of ``abs``, and ``Piecewise`` (text writes ``where(x > 0, a, b)``, one comparison), whose conditions
#: may hold comparisons, ``&``, ``|`` and ``~`` (:data:`CONDITIONS`); the printer and the evaluator know them all.
#: Anything else (``besselj``, an undefined ``Function('f')``, an unevaluated ``Integral``) is refused when the
#: model is built (:func:`unsupported`), before it could fail in code generation, and so is a ``besseli`` of an
#: order other than those of :data:`symopt.symbolic.syntax.ORDERS` (0 and 1).
SUPPORTED_FUNCTIONS: frozenset = frozenset({f for f in FUNCTIONS.values() if isinstance(f, type)}
                                           | {sp.sign, sp.Piecewise})
#: What a ``Piecewise``'s conditions may be made of: its (value, condition) pairs, comparisons, and, or, not, and
#: the constants true and false.
CONDITIONS: tuple = (ExprCondPair, sp.core.relational.Relational, sp.And, sp.Or, sp.Not,
                     sp.logic.boolalg.BooleanTrue, sp.logic.boolalg.BooleanFalse)
#: Named constants a SymPy expression may hold (besides numbers): pi, and E (``exp(1)``).
SUPPORTED_CONSTANTS: frozenset = frozenset({sp.pi, sp.E})
#: SymPy classes that stand for an operation not carried out: symopt needs their result.
UNEVALUATED = (sp.Integral, sp.Derivative, sp.Sum, sp.Product, sp.Limit, sp.Subs)

# Limits on expression text (:mod:`symopt.symbolic.syntax`, with the whitelist), in characters, syntax nodes
# (``ast.walk``) and levels of nesting. An expression given as a SymPy object meets the same numbers, counted on
# its own tree and its text (:func:`size_problem`). Nesting: SymPy recurses several frames per level; measured
# here, exp() nested 150 deep overflows Python's stack in ``diff``, 120 deep passes every stage.

#: The largest exponent a power in text may have.
MAX_EXPONENT = 1_000
#: A constant raised to a fraction whose denominator is larger than this becomes a 17-digit number.
MAX_ROOT = 1_000
#: lgamma of a larger whole or half-integer constant is refused (SymPy makes it log(n!), past any double).
MAX_LGAMMA = 171
#: Error messages quote at most this many characters of the text.
EXCERPT = 120
DOUBLE_MAX = sys.float_info.max
DOUBLE_TINY = math.ulp(0.0)  # the smallest positive double, about 4.9e-324
#: SymPy's infinite and undefined numbers: oo, -oo, zoo (complex infinity), nan.
NON_FINITE = (type(sp.oo), type(sp.S.NegativeInfinity), type(sp.zoo), type(sp.nan))

#: The comparisons ``where()``'s condition may make (:data:`symopt.symbolic.syntax.COMPARISONS`).
_RELATIONS = {ast.Lt: sp.Lt, ast.LtE: sp.Le, ast.Gt: sp.Gt, ast.GtE: sp.Ge}

_BINARY = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
}
def check_name(name: str, where: str = "name") -> str:
    """Return ``name`` if it can name a parameter or data symbol, else raise."""
    if not isinstance(name, str) or not name.isidentifier() or not name.isascii():
        raise ParseError(
            f"{where} {clip(repr(name))} is not a valid name: use letters, digits and '_', "
            "starting with a letter (for example 'b1' or 'rate')"
        )
    if name.startswith("_"):
        raise ParseError(f"{where} {clip(repr(name))} may not start with '_'")
    if keyword.iskeyword(name):
        raise ParseError(
            f"{where} {name!r} is a Python keyword and cannot be parsed; "
            f"rename it (for example {name[:3] + '_'!r})"
        )
    if name in FUNCTIONS or name in CONSTANTS:
        raise ParseError(f"{where} {name!r} is the name of a built-in function or constant")
    return name


def real_symbol(name: str) -> sp.Symbol:
    """The symbol symopt uses for a name: real-valued, no other assumption."""
    return sp.Symbol(check_name(name), real=True)


def parse_expression(text: str, symbols: dict[str, sp.Symbol] | None = None) -> sp.Expr:
    """Parse ``text`` into a SymPy expression without evaluating any code.

    ``symbols`` maps names to the symbols to use for them (for example
    parameters declared positive); other names become real symbols and are
    added to ``symbols``.

    >>> parse_expression("a*exp(-b*x)")
    a*exp(-b*x)
    """
    if not isinstance(text, str):
        raise ParseError(f"expected expression text (str), got {type(text).__name__}")
    stripped = text.strip()
    if not stripped:
        raise ParseError("the expression text is empty")
    if len(stripped) > MAX_LENGTH:
        raise ParseError(f"the expression text is {len(stripped)} characters long; the limit is {MAX_LENGTH}")
    try:
        tree = ast.parse(stripped, mode="eval")
    except SyntaxError as exc:
        raise _syntax_error(stripped, exc) from None
    except (RecursionError, MemoryError):
        # Python's own parser gives up on deep nesting ("-"*3000 + "x") before our depth check can run.
        raise _too_deep(stripped) from None
    except ValueError as exc:  # null bytes, on some Python versions
        raise ParseError(f"cannot parse {excerpt(stripped)}: {exc}") from None
    count = sum(1 for _ in ast.walk(tree))
    if count > MAX_NODES:
        raise ParseError(f"the expression has {count} syntax nodes; the limit is {MAX_NODES}")
    try:
        return _Builder(stripped, symbols if symbols is not None else {}).build(tree.body, 0)
    except RecursionError:
        raise _too_deep(stripped) from None


def clip(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters, with '...' where it was cut."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def show(expr: sp.Basic, limit: int = 60) -> str:
    """``expr`` as text for a message, clipped to ``limit`` characters."""
    try:
        return clip(str(expr), limit)
    except ValueError:  # an integer past Python's 4300-digit str() limit: show numbers to 4 digits
        return clip(str(sp.N(expr, 4)), limit)


def excerpt(text: str, at: int | None = None) -> str:
    """``text`` quoted for a message: whole if short, else :data:`EXCERPT` characters around offset ``at``."""
    if len(text) <= EXCERPT:
        return repr(text)
    start = max(0, min((at or 0) - EXCERPT // 2, len(text) - EXCERPT))
    end = start + EXCERPT
    return (("..." if start else "") + repr(text[start:end]) + ("..." if end < len(text) else "")
            + f" ({len(text)} characters)")


def source_lines(text: str) -> list[tuple[int, str]]:
    """``(offset, line)`` for each line of ``text``, split where Python's parser splits: at
    ``\\r\\n``, ``\\r`` and ``\\n`` (so its line numbers index this list)."""
    out, start = [], 0
    for match in re.finditer(r"\r\n|\r|\n", text):
        out.append((start, text[start:match.start()]))
        start = match.end()
    out.append((start, text[start:]))
    return out


def _position(text: str, lineno: int | None, col: int | None) -> tuple[int | None, str]:
    """Offset into ``text`` and 'at column c' (or 'at line l, column c') for a 1-based line and 0-based column."""
    if not lineno or col is None or col < 0:
        return None, ""
    lines = source_lines(text)
    if lineno > len(lines):
        return len(text), " at the end of the text"
    start, line = lines[lineno - 1]
    where = f" at column {col + 1}" if lineno == 1 else f" at line {lineno}, column {col + 1}"
    if col >= len(line) and lineno == len(lines):
        where += " (the end of the text)"
    return start + min(col, len(line)), where


def _syntax_error(text: str, exc: SyntaxError) -> ParseError:
    """A ParseError for text Python cannot read as one expression: where, and the likely reason."""
    try:
        statements = ast.parse(text, mode="exec").body
    except SyntaxError as exec_exc:
        # "eval" mode gives no column for an error at the end of the text ("a*x +"); "exec" mode does.
        statements = None
        if not exc.offset and exec_exc.offset:
            exc = exec_exc
    except (RecursionError, MemoryError, ValueError):
        statements = None
    if statements is not None:
        return ParseError(f"cannot parse {excerpt(text)}: expected one expression, not statements "
                          "(';', '=', 'import' and the like are not allowed); write a single expression, "
                          "such as 'a*exp(-b*x)'")
    col = exc.offset - 1 if exc.offset else None
    at, where = _position(text, exc.lineno, col)
    hint = ""
    words = text.replace("(", " ").replace(")", " ").replace("*", " ").split()
    for word in keyword.kwlist:
        if word in words:
            hint = f" ('{word}' is a Python keyword: rename that symbol)"
    return ParseError(f"cannot parse {excerpt(text, at)}: {exc.msg}{where}{hint}")


def expression_depth(expr: sp.Basic) -> int:
    """Levels of nesting in a SymPy expression tree (a symbol is 1), counted without recursion."""
    deepest, stack = 0, [(expr, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth <= MAX_DEPTH:  # past the limit the answer is already known
            stack.extend((arg, depth + 1) for arg in node.args)
    return deepest


def count_nodes(expr: sp.Basic, limit: int = MAX_NODES) -> int:
    """Nodes of a SymPy expression tree (symbols, numbers, operations, calls; a shared subtree counted where
    it appears), counted without recursion and only up to ``limit + 1``: past the limit the answer is known."""
    count, stack = 0, [expr]
    while stack and count <= limit:
        node = stack.pop()
        count += 1
        stack.extend(node.args)
    return count


def size_problem(expr: sp.Basic) -> str | None:
    """Which limit on expression text a SymPy expression passes, as a sentence's end, or ``None``.

    The limits are text's own: nodes (:data:`MAX_NODES`, counted on the SymPy tree, which has about half the
    syntax nodes of the same text: a SymPy object gets the benefit), nesting (:data:`MAX_DEPTH` levels) and
    length (:data:`MAX_LENGTH` characters of its text). Each is checked in that order and stops early, so a
    sum of 100,000 terms is refused in the time of counting 5,001 nodes; the text is printed only for a tree
    already within the node limit.
    """
    if count_nodes(expr) > MAX_NODES:
        return (f"has more than {MAX_NODES:,} nodes (symbols, numbers, operations and function calls), the "
                f"limit for an expression, as for expression text")
    if expression_depth(expr) > MAX_DEPTH:
        return (f"is nested deeper than {MAX_DEPTH} levels, the limit for expressions (symopt's and SymPy's own "
                f"recursive algorithms allow no more): simplify it or introduce intermediate features")
    try:
        length = len(sp.sstr(expr, order="none"))
    except ValueError:  # an integer past Python's 4300-digit str() limit: the check of constants names it
        return None
    if length > MAX_LENGTH:
        return (f"is {length:,} characters long as text, past the limit of {MAX_LENGTH:,} for an expression, "
                f"as for expression text")
    return None


def unsupported(expr: sp.Basic, functions: bool = True) -> tuple[sp.Basic, str] | None:
    """The first part of ``expr`` symopt cannot differentiate, evaluate or print, and why (a sentence's end,
    naming it and what to write instead), or ``None``: an undefined function, an unevaluated integral,
    derivative, sum or limit, a named constant other than pi and E, anything else that is not an arithmetic
    operation, and (``functions=True``) a function not in :data:`SUPPORTED_FUNCTIONS`. With
    ``functions=False`` any defined function passes (a network's activation: there the rule is what the code
    printer can print, :func:`symopt.model.layers._check_printable`)."""
    seen, stack = set(), [expr]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        why = _unsupported_node(node, functions)
        if why:
            return node, why
        stack.extend(node.args)
    return None


def supported_names() -> str:
    """The functions a model may use, as text writes them."""
    return ", ".join(sorted(FUNCTIONS)) + " and sign"


def _unsupported_node(node: sp.Basic, functions: bool) -> str | None:
    if node.is_Symbol or node.is_Number or node.is_Add or node.is_Mul or node.is_Pow:
        return None
    if node.is_Atom:
        if isinstance(node, sp.NumberSymbol) and node not in SUPPORTED_CONSTANTS:
            return (f"is the named constant {node}, which symopt does not evaluate: write its value as a number "
                    f"({float(node):.17g})")
        return None  # I, oo, nan and the like: check_constants names them
    if type(node) in SUPPORTED_FUNCTIONS:
        return _order_problem(node)
    if isinstance(node, CONDITIONS):
        return None  # a Piecewise's pairs and conditions: their parts are checked as any other
    name = clip(repr(getattr(node.func, "__name__", type(node).__name__)), 60)
    if isinstance(node, UNEVALUATED):
        return (f"is an unevaluated {type(node).__name__}: symopt differentiates and evaluates closed "
                f"expressions only; carry it out first (.doit()) or write its result with the supported "
                f"functions ({supported_names()})")
    if isinstance(node, AppliedUndef):
        return (f"calls the undefined function {name}, which symopt can neither differentiate nor evaluate; "
                f"write it with the supported functions ({supported_names()})")
    if not functions and isinstance(node, (Application, sp.logic.boolalg.Boolean, ExprCondPair)):
        return None  # a defined function, and a Piecewise's conditions: the code printer decides
    if isinstance(node, Application):  # sp.Function, and Max and Min
        return (f"uses the function {name}, which symopt does not support yet; supported functions: "
                f"{supported_names()}")
    kind = type(node).__name__
    return (f"is {'an' if kind[0] in 'AEIOU' else 'a'} {kind}, which is not an arithmetic expression symopt can "
            f"differentiate; write the model with + - * / ** and the supported functions ({supported_names()})")


def _order_problem(node: sp.Basic) -> str | None:
    """Why a supported function's order is not one symopt evaluates (``besseli(2, x)``, ``besseli(nu, x)``)."""
    for name, orders in ORDERS.items():
        if type(node) is FUNCTIONS[name] and not (node.args[0].is_Integer and node.args[0] in orders):
            allowed = " and ".join(str(v) for v in orders)
            return (f"is {name} of order {show(node.args[0])}: symopt evaluates the orders {allowed} (and, in "
                    f"derivatives, the orders they bring in)")
    return None


def _too_deep(text: str) -> ParseError:
    return ParseError(f"cannot parse {excerpt(text)}: the expression is nested too deeply for Python's parser "
                      f"(a long run of signs, powers or parentheses); symopt allows {MAX_DEPTH} levels")


def constant_problem(value: sp.Expr) -> str | None:
    """Why the constant ``value`` (an expression without symbols) cannot be a double, or ``None``.

    The answer completes a sentence about the constant ("... is complex").
    Numbers are checked exactly; other constants (``exp(1000)``, ``asin(2)``)
    are evaluated in double precision, as generated code would.
    """
    if value.atoms(*NON_FINITE):
        return f"is infinite or undefined (SymPy gives {show(value)}); symopt needs finite constants"
    if value.has(sp.I):
        return f"is complex (SymPy gives {show(value)}); symopt works in real numbers"
    for number in sorted(value.atoms(sp.Number), key=abs, reverse=True):
        why = _number_problem(number)
        if why:
            return why if number == value else f"contains the number {sp.N(number, 4)!s}, which {why}"
    if value.is_Atom or not value.is_number:
        return None
    try:
        result = float(evaluate(value, {}))
    except Exception:  # a function the evaluator does not know: the printer will say so later
        result = None
    if value.is_real is False and (result is None or math.isnan(result)):
        # (-8)**(1/3) is 2*(-1)**(1/3) to SymPy: complex, with no I in it
        return f"has no real value (it is complex: SymPy gives {show(value)}); symopt works in real numbers"
    if result is None:
        return None
    if math.isnan(result):
        return "has no real value (it is nan in double precision): check its argument"
    if math.isinf(result):
        return "is too large for a double (the largest is about 1.8e+308): rescale it"
    return None


def _number_problem(number: sp.Number) -> str | None:
    if number.is_Rational:
        if abs(number.p) <= DOUBLE_MAX and number.q <= DOUBLE_MAX:
            return None
    elif number.is_Float:
        value = float(number)
        if math.isfinite(value) and (value != 0 or number.is_zero):
            return None
    else:
        return None
    if abs(number) > DOUBLE_MAX:
        return f"is about {sp.N(number, 4)!s}, too large for a double (the largest is about 1.8e+308): rescale it"
    if abs(number) < DOUBLE_TINY:
        return f"is about {sp.N(number, 4)!s}, too small for a double (it would be 0): rescale it"
    return "is a fraction whose numerator or denominator is too large for a double; simplify it"


class _Builder:
    """Turns whitelisted ``ast`` nodes into SymPy, bottom-up."""

    def __init__(self, text: str, symbols: dict[str, sp.Symbol]):
        self.text = text
        self.symbols = symbols

    def fail(self, node: ast.AST, message: str, error: type = ParseError) -> Exception:
        lineno, col = getattr(node, "lineno", None), getattr(node, "col_offset", None)
        lines = source_lines(self.text)
        if lineno and col is not None and lineno <= len(lines):  # ast columns count UTF-8 bytes
            line = lines[lineno - 1][1]
            col = len(line.encode()[:col].decode(errors="ignore"))
        at, where = _position(self.text, lineno, col)
        return error(f"in {excerpt(self.text, at)}{where}: {message}")

    def checked(self, node: ast.AST, value: sp.Expr) -> sp.Expr:
        """``value``, unless it is a constant a double cannot hold (said where the text makes it)."""
        if value.is_Number or (value.is_number and (isinstance(node, ast.Call) or isinstance(node.op, ast.Pow))):
            why = constant_problem(value)
            if why:
                source = ast.get_source_segment(self.text, node) or show(value)
                raise self.fail(node, f"{clip(source)} {why}", ModelError)
        return value

    def build(self, node: ast.AST, depth: int) -> sp.Expr:
        if depth > MAX_DEPTH:
            raise self.fail(node, f"the expression is nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.UnaryOp):
            operand = self.build(node.operand, depth + 1)
            if isinstance(node.op, ast.USub):
                return -operand
            if isinstance(node.op, ast.UAdd):
                return operand
            raise self.fail(node, f"the unary operator {type(node.op).__name__} is not allowed")
        if isinstance(node, ast.BinOp):
            return self.checked(node, self.binary(node, depth))
        if isinstance(node, ast.Call):
            return self.checked(node, self.call(node, depth))
        raise self.fail(node, f"{_describe(node)} is not allowed in an expression")

    def constant(self, node: ast.Constant) -> sp.Expr:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(node, f"the constant {clip(repr(value))} is not a number")
        if isinstance(value, int):
            if abs(value) > 10**30:
                raise self.fail(node, "integer constants are limited to 30 digits")
            return sp.Integer(value)
        source = clip(ast.get_source_segment(self.text, node) or repr(value))
        if value != value or value in (float("inf"), float("-inf")):
            raise self.fail(node, f"the constant {source} is too large for a double (the largest is about 1.8e+308)",
                            ModelError)
        if value == 0 and any(d in "123456789" for d in source.lower().split("e")[0]):
            raise self.fail(node, f"the constant {source} is too small for a double (it would be 0)", ModelError)
        # The shortest decimal text of the float, as an exact rational: 0.5 -> 1/2.
        return sp.Rational(repr(value))

    def name(self, node: ast.Name) -> sp.Expr:
        ident = node.id
        if ident in CONSTANTS:
            return CONSTANTS[ident]
        if ident in FUNCTIONS:
            raise self.fail(node, f"{ident!r} is a function; call it, as in {ident}(x)")
        if ident not in self.symbols:
            try:
                self.symbols[ident] = real_symbol(ident)
            except ParseError as exc:
                raise self.fail(node, str(exc)) from None
        return self.symbols[ident]

    def binary(self, node: ast.BinOp, depth: int) -> sp.Expr:
        op = type(node.op)
        if op in OPERATOR_HINTS:
            raise self.fail(node, OPERATOR_HINTS[op])
        left = self.build(node.left, depth + 1)
        right = self.build(node.right, depth + 1)
        if op in _BINARY:
            if op is ast.Div and right == 0:
                raise self.fail(node, "division by zero")
            return _BINARY[op](left, right)
        if op is ast.Pow:
            if right.is_Number and abs(right) > MAX_EXPONENT:
                raise self.fail(node, f"exponents are limited to {MAX_EXPONENT} in size")
            if left.is_Number and right.is_Number and abs(left) > 10**6 and right > 30:
                raise self.fail(node, "the constant power is too large")
            if left.is_number and right.is_Rational and right.q > MAX_ROOT:
                return self.numeric_root(node, left, right)
            return left**right
        raise self.fail(node, f"the operator {op.__name__} is not allowed")

    def numeric_root(self, node: ast.AST, base: sp.Expr, exponent: sp.Rational) -> sp.Expr:
        """``base**exponent`` for a constant base and a fraction with a denominator past :data:`MAX_ROOT`
        (``2**0.0001``, ``1e-30**1e-30``), as a 17-digit number. Kept exact, it would be an algebraic
        number of that degree, and SymPy's assumptions would build its minimal polynomial (with a
        denominator of 10**30 that exhausts memory)."""
        if base.is_negative:
            raise self.fail(node, f"{clip(ast.get_source_segment(self.text, node) or '')} has no real value "
                                  "(a negative number to a fractional power is complex); symopt works in real "
                                  "numbers", ModelError)
        try:
            value = sp.Float(sp.N(base, 30), 30) ** sp.Float(sp.N(exponent, 30), 30)
        except (ValueError, TypeError, OverflowError):
            raise self.fail(node, "cannot evaluate this constant power", ModelError) from None
        return sp.Float(value, 17)

    def call(self, node: ast.Call, depth: int) -> sp.Expr:
        if not isinstance(node.func, ast.Name):
            raise self.fail(node, f"only plain function names may be called, not {_describe(node.func)}")
        fname = node.func.id
        if fname not in FUNCTIONS:
            known = ", ".join(sorted(FUNCTIONS))
            raise self.fail(node, f"unknown function {clip(repr(fname))}; known functions: {known}")
        problem = call_problem(node)
        if problem:
            raise self.fail(node, problem)
        if fname in ORDERS:  # an order, written as the number (call_problem checked it)
            return FUNCTIONS[fname](sp.Integer(node.args[0].value), self.build(node.args[1], depth + 1))
        if fname == "where":  # where(left < right, a, b): Piecewise((a, left < right), (b, True))
            test = node.args[0]
            left, right = self.build(test.left, depth + 1), self.build(test.comparators[0], depth + 1)
            condition = _RELATIONS[type(test.ops[0])](left, right)
            a, b = self.build(node.args[1], depth + 1), self.build(node.args[2], depth + 1)
            return sp.Piecewise((a, condition), (b, True))
        if fname in VARIADIC:  # max(a, b, ...), min(a, b, ...)
            return FUNCTIONS[fname](*(self.build(a, depth + 1) for a in node.args))
        arg = self.build(node.args[0], depth + 1)
        if FUNCTIONS[fname] is sp.loggamma and arg.is_Rational and arg.q <= 2 and arg > MAX_LGAMMA:
            # SymPy would evaluate it exactly, as the log of a factorial: slow, and too large for a double.
            value = math.lgamma(float(arg)) if arg < 1e300 else math.inf
            raise self.fail(node, f"{fname}() of a whole or half-integer constant above {MAX_LGAMMA} is not "
                                  f"supported; write its value ({value:.17g}) instead")
        return FUNCTIONS[fname](arg)

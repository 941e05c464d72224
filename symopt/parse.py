"""Safe expression text: a whitelist over Python's ``ast``, never ``eval``.

User text (``"a*exp(-b*x)"``) is parsed with :func:`ast.parse` and walked
node by node. Only numbers, names, ``+ - * / **``, unary plus and minus and calls of
the functions in :data:`FUNCTIONS` are accepted; anything else (attributes,
subscripts, lambdas, strings, ``^``...) is a :class:`~symopt.errors.ParseError`
that says what was found and where. Text never reaches ``eval``,
``sympify`` or ``parse_expr``, so nothing in it can run.

Every name becomes a real SymPy symbol of that name: ``E``, ``I``, ``S``,
``N``, ``beta`` and ``gamma`` are user symbols, not SymPy constants. The one
named constant is ``pi``.
"""

from __future__ import annotations

import ast
import keyword
import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p

from .errors import ParseError
from .functions import sigmoid, softplus

#: Functions expression text may call, by the name the text uses.
FUNCTIONS: dict[str, type] = {
    "exp": sp.exp,
    "log": sp.log,
    "ln": sp.log,
    "log1p": log1p,
    "expm1": expm1,
    "sqrt": sp.sqrt,
    "abs": sp.Abs,
    "sin": sp.sin,
    "cos": sp.cos,
    "tan": sp.tan,
    "asin": sp.asin,
    "acos": sp.acos,
    "atan": sp.atan,
    "arctan": sp.atan,
    "sinh": sp.sinh,
    "cosh": sp.cosh,
    "tanh": sp.tanh,
    "erf": sp.erf,
    "lgamma": sp.loggamma,
    "loggamma": sp.loggamma,
    "sigmoid": sigmoid,
    "softplus": softplus,
}

#: Named constants expression text may use.
CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi}

MAX_LENGTH = 10_000
MAX_NODES = 5_000
MAX_DEPTH = 200
MAX_EXPONENT = 1_000

_BINARY = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
}
_OPERATOR_HINTS = {
    ast.BitXor: "'^' is not a power here; write '**' (x**2)",
    ast.FloorDiv: "'//' is not allowed; write '/'",
    ast.Mod: "'%' is not allowed",
    ast.MatMult: "'@' is not allowed; state a LinearModel for matrix data",
}


def check_name(name: str, where: str = "name") -> str:
    """Return ``name`` if it can name a parameter or data symbol, else raise."""
    if not isinstance(name, str) or not name.isidentifier() or not name.isascii():
        raise ParseError(
            f"{where} {name!r} is not a valid name: use letters, digits and '_', "
            "starting with a letter (for example 'b1' or 'rate')"
        )
    if name.startswith("_"):
        raise ParseError(f"{where} {name!r} may not start with '_'")
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
        hint = ""
        for word in keyword.kwlist:
            if word in stripped.replace("(", " ").replace(")", " ").replace("*", " ").split():
                hint = f" ('{word}' is a Python keyword: rename that symbol)"
        raise ParseError(f"cannot parse {stripped!r}: {exc.msg} at column {exc.offset}{hint}") from None
    count = sum(1 for _ in ast.walk(tree))
    if count > MAX_NODES:
        raise ParseError(f"the expression has {count} syntax nodes; the limit is {MAX_NODES}")
    return _Builder(stripped, symbols if symbols is not None else {}).build(tree.body, 0)


class _Builder:
    """Turns whitelisted ``ast`` nodes into SymPy, bottom-up."""

    def __init__(self, text: str, symbols: dict[str, sp.Symbol]):
        self.text = text
        self.symbols = symbols

    def fail(self, node: ast.AST, message: str) -> ParseError:
        col = getattr(node, "col_offset", None)
        where = f" at column {col + 1}" if col is not None else ""
        return ParseError(f"in {self.text!r}{where}: {message}")

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
            return self.binary(node, depth)
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        raise self.fail(node, f"{_describe(node)} is not allowed in an expression")

    def constant(self, node: ast.Constant) -> sp.Expr:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(node, f"the constant {value!r} is not a number")
        if isinstance(value, int):
            if abs(value) > 10**30:
                raise self.fail(node, "integer constants are limited to 30 digits")
            return sp.Integer(value)
        if value != value or value in (float("inf"), float("-inf")):
            raise self.fail(node, "the constant is not finite")
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
        if op in _OPERATOR_HINTS:
            raise self.fail(node, _OPERATOR_HINTS[op])
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
            return left**right
        raise self.fail(node, f"the operator {op.__name__} is not allowed")

    def call(self, node: ast.Call, depth: int) -> sp.Expr:
        if not isinstance(node.func, ast.Name):
            raise self.fail(node, f"only plain function names may be called, not {_describe(node.func)}")
        fname = node.func.id
        if fname not in FUNCTIONS:
            known = ", ".join(sorted(FUNCTIONS))
            raise self.fail(node, f"unknown function {fname!r}; known functions: {known}")
        if node.keywords or len(node.args) != 1:
            raise self.fail(node, f"{fname}() takes exactly one positional argument")
        return FUNCTIONS[fname](self.build(node.args[0], depth + 1))


def _describe(node: ast.AST) -> str:
    names = {
        ast.Attribute: "attribute access ('.')",
        ast.Subscript: "indexing ('[...]')",
        ast.Lambda: "a lambda",
        ast.Compare: "a comparison",
        ast.BoolOp: "'and'/'or'",
        ast.IfExp: "an if-expression",
        ast.List: "a list",
        ast.Tuple: "a tuple",
        ast.Dict: "a dict",
        ast.Starred: "'*' unpacking",
        ast.JoinedStr: "an f-string",
        ast.NamedExpr: "':='",
    }
    return names.get(type(node), f"a {type(node).__name__} node")

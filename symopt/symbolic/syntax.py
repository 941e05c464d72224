"""The whitelist of expression text, and a check of text against it without SymPy.

:data:`FUNCTION_NAMES` and :data:`CONSTANT_NAMES` are the one whitelist: :mod:`symopt.symbolic.parse` builds its
table of SymPy functions from them (a name missing here can never be parsed; a name here without a SymPy
function fails when that module is imported). :func:`check_syntax` walks text with Python's ``ast`` as the
parser does (the same nodes, functions and limits) and returns the names it uses, so that the command line's
``check`` can say which data columns a spec needs, and refuse text that could never parse, before SymPy is
imported. It builds nothing: the parser stays the one that turns text into mathematics, and text that passes
here can still be refused there (a constant a double cannot hold, ``log(0)``).
"""

from __future__ import annotations

import ast

from ..errors import ParseError

#: Functions expression text may call, by the name the text uses (:data:`symopt.symbolic.parse.FUNCTIONS` maps
#: each to SymPy).
FUNCTION_NAMES: tuple = ("exp", "log", "ln", "log1p", "expm1", "sqrt", "abs", "sin", "cos", "tan", "asin", "acos",
                         "atan", "arctan", "sinh", "cosh", "tanh", "erf", "erfc", "lgamma", "loggamma", "besseli",
                         "ndtr", "log_ndtr", "sigmoid", "softplus", "max", "min", "heaviside",
                         "where")
#: Functions of more than one argument, and their arguments' names (every other function takes one).
ARGUMENTS: dict = {"besseli": ("nu", "x"), "where": ("condition", "a", "b")}
#: ``where(condition, a, b)``: ``a`` where the condition holds, else ``b`` (SymPy's ``Piecewise``). The condition
#: is one comparison of two expressions with one of these operators (no chains, no and/or): the only place text
#: may compare.
COMPARISONS: tuple = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)
#: Functions of two or more arguments (``max(a, b, c)``): their kinks, where two arguments tie, are handled as
#: :mod:`symopt.symbolic.kinks` says.
VARIADIC: tuple = ("max", "min")
#: Functions whose first argument is an order, and the orders text may write (as those numbers, literally):
#: symopt evaluates the modified Bessel function ``besseli`` of orders 0 and 1 (and of the orders 2 and 3 their
#: derivatives bring in).
ORDERS: dict = {"besseli": (0, 1)}
#: Named constants expression text may use.
CONSTANT_NAMES: tuple = ("pi",)

#: Limits on expression text, in characters, syntax nodes (``ast.walk``) and levels of nesting (why these
#: numbers: :mod:`symopt.symbolic.parse`).
MAX_LENGTH = 10_000
MAX_NODES = 5_000
MAX_DEPTH = 100

_OPERATORS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)
_UNARY = (ast.UAdd, ast.USub)
#: What to write instead of an operator expression text may not use.
OPERATOR_HINTS = {
    ast.BitXor: "'^' is not a power here; write '**' (x**2)",
    ast.FloorDiv: "'//' is not allowed; write '/'",
    ast.Mod: "'%' is not allowed",
    ast.MatMult: "'@' is not allowed; state a LinearModel for matrix data",
}


def check_syntax(text, what: str = "expression") -> frozenset:
    """The names (parameters and data) ``text`` uses, if it is in the whitelist; else a
    :class:`~symopt.errors.ParseError` naming ``what`` and the first thing refused.

    >>> sorted(check_syntax("a*exp(-b*x)"))
    ['a', 'b', 'x']
    """
    if not isinstance(text, str):
        raise ParseError(f"{what}: expected expression text, got {type(text).__name__}")
    stripped = text.strip()
    if not stripped:
        raise ParseError(f"{what}: the expression text is empty")
    if len(stripped) > MAX_LENGTH:
        raise ParseError(f"{what}: the expression text is {len(stripped)} characters long; the limit is {MAX_LENGTH}")
    try:
        tree = ast.parse(stripped, mode="eval")
    except SyntaxError as exc:
        raise ParseError(f"{what}: cannot parse {_clip(repr(stripped))}: {exc.msg}") from None
    except (RecursionError, MemoryError):
        raise ParseError(f"{what}: the expression is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # null bytes
        raise ParseError(f"{what}: cannot parse {_clip(repr(stripped))}: {exc}") from None
    count = sum(1 for _ in ast.walk(tree))
    if count > MAX_NODES:
        raise ParseError(f"{what}: the expression has {count} syntax nodes; the limit is {MAX_NODES}")
    names, stack = set(), [(tree.body, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ParseError(f"{what}: the expression is nested deeper than {MAX_DEPTH} levels")
        stack.extend((child, depth + 1) for child in _children(node, what, names))
    return frozenset(names)


def _children(node: ast.AST, what: str, names: set) -> list:
    """The sub-expressions of an allowed node (``names`` gains the names it uses), or a ParseError."""
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise ParseError(f"{what}: the constant {_clip(repr(node.value))} is not a number")
        return []
    if isinstance(node, ast.Name):
        if node.id in FUNCTION_NAMES:
            raise ParseError(f"{what}: {node.id!r} is a function; call it, as in {node.id}(x)")
        if node.id not in CONSTANT_NAMES:
            if not node.id.isascii() or node.id.startswith("_"):
                raise ParseError(f"{what}: {_clip(repr(node.id))} is not a valid name: use ASCII letters, digits "
                                 "and '_', starting with a letter")
            names.add(node.id)
        return []
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, _UNARY):
        return [node.operand]
    if isinstance(node, ast.BinOp) and isinstance(node.op, _OPERATORS):
        return [node.left, node.right]
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name):
            raise ParseError(f"{what}: only plain function names may be called, not {describe_node(node.func)}")
        if node.func.id not in FUNCTION_NAMES:
            raise ParseError(f"{what}: unknown function {_clip(repr(node.func.id))}; known functions: "
                             f"{', '.join(sorted(FUNCTION_NAMES))}")
        problem = call_problem(node)
        if problem:
            raise ParseError(f"{what}: {problem}")
        if node.func.id == "where":  # the comparison's two sides, then the two values
            return [node.args[0].left, node.args[0].comparators[0], *node.args[1:]]
        return list(node.args[1:] if node.func.id in ORDERS else node.args)
    if isinstance(node, (ast.BinOp, ast.UnaryOp)):
        hint = OPERATOR_HINTS.get(type(node.op), f"the operator {type(node.op).__name__} is not allowed")
        raise ParseError(f"{what}: {hint}")
    raise ParseError(f"{what}: {describe_node(node)} is not allowed in an expression")


def call_problem(node: ast.Call) -> str | None:
    """What is wrong with the arguments of a call of a whitelisted function, or ``None``: their number (one,
    or as :data:`ARGUMENTS` says), keywords, and an order (:data:`ORDERS`) that is not one of the numbers
    allowed, written as such."""
    name = node.func.id
    if name in VARIADIC:
        if node.keywords or len(node.args) < 2:
            return f"{name}() takes two or more positional arguments, as in {name}(x, 0)"
        return None
    arguments = ARGUMENTS.get(name, ("x",))
    if node.keywords or len(node.args) != len(arguments):
        if len(arguments) == 1:
            return f"{name}() takes exactly one positional argument"
        example = [str(ORDERS[name][0]), *arguments[1:]] if name in ORDERS else arguments
        return (f"{name}() takes {len(arguments)} positional arguments, {name}({', '.join(arguments)}), as in "
                f"{name}({', '.join(example)})")
    if name == "where":
        condition = node.args[0]
        if not (isinstance(condition, ast.Compare) and len(condition.ops) == 1
                and isinstance(condition.ops[0], COMPARISONS)):
            return ("the first argument of where() must be one comparison with <, <=, > or >= (as in "
                    "where(x > 0, a*x, b*x)), not " + describe_node(condition) if not isinstance(condition, ast.Compare)
                    else "the first argument of where() must be one comparison with <, <=, > or >= (as in "
                    "where(x > 0, a*x, b*x)): no chains, ==, != or 'in'")
        return None
    orders = ORDERS.get(name)
    if orders is not None:
        order = node.args[0]
        if not (isinstance(order, ast.Constant) and type(order.value) is int and order.value in orders):
            allowed = " or ".join(str(v) for v in orders)
            found = (_clip(repr(order.value)) if isinstance(order, ast.Constant) else
                     f"the name {_clip(repr(order.id))}" if isinstance(order, ast.Name) else "an expression")
            return (f"the order of {name}() (its first argument) must be written as the number {allowed}, the "
                    f"orders symopt evaluates, not {found}")
    return None


def describe_node(node: ast.AST) -> str:
    """A syntax node in words, for messages: ``attribute access ('.')``, ``a lambda``, ..."""
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


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."

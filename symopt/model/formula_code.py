"""What the Python inside a formula may say (:func:`symopt.formula`): a whitelist over Python's ``ast``.

formulaic evaluates each function-call factor of a formula (``np.log(x2)``, ``C(group)``, ``I(x**2)``) with
Python's ``eval``, the builtins reachable and the whole of NumPy in scope (``np.load``, ``np.save``...); its
documentation says to isolate the environment where the text is not trusted. So every such factor is read here
first, and only this is let through: names of data columns; the functions in :data:`FUNCTIONS`; ``np.<name>``
and ``contr.<name>`` for the names in :data:`NAMESPACES`; numbers, short strings, ``True``/``False``/``None``
and lists or tuples of them as arguments; ``+ - * / // % **`` (a power's exponent a number of at most
:data:`MAX_POWER` in size), unary ``-``/``+`` and comparisons; keyword arguments by name (not ``_...``, which
formulaic uses for its own state). No other attribute, no subscript, no lambda, comprehension or ``**kwargs``.
"""

from __future__ import annotations

import ast

from ..errors import ModelError

#: Functions a formula may call by bare name: formulaic's transforms (categorical coding, centring, scaling,
#: polynomials and splines, ``I`` for arithmetic as written, patsy's names for the same) and elementwise maths.
FUNCTIONS = frozenset({
    "C", "I", "Q", "center", "scale", "standardize", "poly", "bs", "cr", "cs", "cc",
    "Treatment", "Sum", "Helmert", "Diff", "Poly",
    "log", "log2", "log10", "log1p", "exp", "exp2", "expm1", "sqrt", "abs",
})
#: ``namespace.<name>`` a formula may use: elementwise NumPy functions, and formulaic's contrast codings.
NAMESPACES = {
    "np": frozenset({"log", "log1p", "log2", "log10", "exp", "expm1", "exp2", "sqrt", "square", "abs",
                     "absolute", "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
                     "power", "minimum", "maximum", "clip", "sign", "floor", "ceil", "pi", "e"}),
    "contr": frozenset({"treatment", "sum", "helmert", "diff", "poly", "SAS"}),
}
#: The largest exponent of ``**`` inside a factor (``I(x**3)``), and the longest string argument.
MAX_POWER = 100
MAX_TEXT = 200

_OPERATORS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)
_COMPARE = (ast.Gt, ast.GtE, ast.Lt, ast.LtE, ast.Eq, ast.NotEq)


def available() -> str:
    """The names a formula may call, for messages and the docs."""
    return (", ".join(sorted(FUNCTIONS)) + ", np.<name> for the elementwise NumPy functions "
            f"{', '.join(sorted(NAMESPACES['np']))} and contr.<coding> (symopt.model.formula_code lists them)")


def check_code(code: str, columns, formula: str) -> None:
    """Raise :class:`ModelError` unless the factor ``code`` (Python text inside ``formula``) keeps to the
    whitelist above; ``columns`` are the data's column names (the only other names it may read)."""
    try:
        tree = ast.parse(code, mode="eval")
    except SyntaxError:
        raise ModelError(f"the term {code!r} of the formula {formula!r} is not Python symopt can read (a column "
                         f"name with spaces or symbols inside a function call cannot be quoted there: rename "
                         f"the column)") from None
    columns = set(columns)

    def refuse(node, why: str):
        raise ModelError(f"the formula {formula!r} cannot use {ast.unparse(node)!r} (in the term {code!r}): {why}. "
                         f"A formula reads data columns and calls only {available()}")

    def visit(node, role: str = "value") -> None:
        if isinstance(node, ast.Expression):
            return visit(node.body)
        if isinstance(node, ast.Name):
            if node.id in columns:
                return None
            if node.id in FUNCTIONS and role == "function":
                return None
            if node.id in NAMESPACES:
                refuse(node, f"{node.id} is usable only as {node.id}.<name>")
            what = "a function symopt's formulas offer" if role == "function" else "a column of the data"
            refuse(node, f"{node.id!r} is not {what}")
        if isinstance(node, ast.Attribute):
            space = node.value.id if isinstance(node.value, ast.Name) and node.value.id not in columns else None
            if space in NAMESPACES and node.attr in NAMESPACES[space]:
                return None
            refuse(node, "the only attributes are np.<name> and contr.<coding>, for the names listed next")
        if isinstance(node, ast.Call):
            visit(node.func, "function")
            for arg in node.args:
                if isinstance(arg, ast.Starred):
                    refuse(arg, "*arguments are not taken")
                visit(arg)
            for keyword in node.keywords:
                if keyword.arg is None or keyword.arg.startswith("_"):
                    refuse(node, "**arguments and keywords starting with _ are not taken")
                visit(keyword.value)
            return None
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str) and len(node.value) > MAX_TEXT:
                refuse(node, f"a string argument longer than {MAX_TEXT} characters")
            if node.value is None or isinstance(node.value, (bool, int, float, str)):
                return None
            refuse(node, "only numbers, strings, True, False and None are constants here")
        if isinstance(node, (ast.List, ast.Tuple)) and role == "value":
            for item in node.elts:
                visit(item)
            return None
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            return visit(node.operand, "number")
        if isinstance(node, ast.BinOp) and isinstance(node.op, _OPERATORS):
            if isinstance(node.op, ast.Pow) and not _small_number(node.right):
                refuse(node, f"an exponent must be a number of size at most {MAX_POWER}")
            for side in (node.left, node.right):
                if isinstance(side, ast.Constant) and isinstance(side.value, str):
                    refuse(node, "arithmetic on strings")
                visit(side, "number")
            return None
        if isinstance(node, ast.Compare) and all(isinstance(op, _COMPARE) for op in node.ops):
            for side in (node.left, *node.comparators):
                visit(side, "number")
            return None
        refuse(node, f"{type(node).__name__} is not part of what a formula may say")

    visit(tree)


def _small_number(node) -> bool:
    """Whether ``node`` is a number (or its negative) of size at most :data:`MAX_POWER`."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        node = node.operand
    return (isinstance(node, ast.Constant) and isinstance(node.value, (int, float))
            and not isinstance(node.value, bool) and abs(node.value) <= MAX_POWER)

"""Models: what predicts. An expression in parameters and features, or a
model linear in its parameters (over a data matrix of any width, or over a
list of basis expressions)."""

from __future__ import annotations

import math
import numbers
import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
import sympy as sp

from ..errors import ModelError, ParseError
from ..symbolic.parse import (DOUBLE_MAX, DOUBLE_TINY, NON_FINITE, check_name, constant_problem, parse_expression, show,
                    size_problem, unsupported)

#: Longest expression text quoted in an error message.
SHOWN = 120


def params(names: str | Iterable[str], *, positive: bool = False) -> sp.Symbol | tuple[sp.Symbol, ...]:
    """Parameter symbols, real-valued: ``params("a b")`` -> ``(a, b)``; one name gives the symbol
    itself, ``params("k")`` -> ``k``, as ``sympy.symbols`` does (``params("k,")`` or ``params(["k"])``
    give a 1-tuple).

    ``positive=True`` declares them positive: closed-form candidates outside
    that domain are rejected (useful for a variance or a rate).
    """
    if not isinstance(positive, (bool, np.bool_)):
        raise ModelError(f"positive must be True or False, got {positive!r}")
    names_list = _split_names(names)
    assumptions = {"positive": True} if positive else {"real": True}
    symbols = tuple(sp.Symbol(check_name(n, "parameter name"), **assumptions) for n in names_list)
    single = isinstance(names, str) and len(symbols) == 1 and not names.strip().endswith(",")
    return symbols[0] if single else symbols


def _split_names(names) -> list[str]:
    if names is None:
        raise ModelError("no parameters given (params=None): name them, as in params='a b' or symopt.params('a b')")
    if isinstance(names, str):
        out = [n for n in re.split(r"[\s,]+", names.strip()) if n]
    elif isinstance(names, Iterable) and not isinstance(names, (bytes, sp.Basic)):
        out = list(names)
    else:
        raise ModelError(f"params must be names ('a b', ['a', 'b']) or SymPy symbols, not {type(names).__name__}")
    if not out:
        raise ModelError("no parameter names given")
    return out


def _as_param_symbols(given) -> tuple[sp.Symbol, ...]:
    """Normalise ``params`` arguments: names, a string, or SymPy symbols."""
    if isinstance(given, sp.Symbol):
        given = [given]
    items = _split_names(given)
    symbols: list[sp.Symbol] = []
    for item in items:
        if isinstance(item, sp.Symbol):
            check_name(item.name, "parameter name")
            sym = item if item.is_real else sp.Symbol(item.name, real=True)
        elif isinstance(item, str):
            sym = sp.Symbol(check_name(item, "parameter name"), real=True)
        else:
            raise ModelError(f"a parameter must be a name or a SymPy symbol, not {type(item).__name__}")
        symbols.append(sym)
    counts = Counter(s.name for s in symbols)
    dupes = sorted(n for n, k in counts.items() if k > 1)
    if dupes:
        raise ModelError(f"parameter names repeat: {', '.join(dupes)}")
    return tuple(symbols)


def as_expression(expr, symbols: dict[str, sp.Symbol], what: str = "expression", functions: bool = True) -> sp.Expr:
    """Text or SymPy -> SymPy, with every symbol real and named as ``symbols`` says.

    ``what`` names the expression in errors ("model", "objective"...). Refused: a SymPy object past the
    limits on text (:func:`check_size`); a function symopt does not support, an undefined function or an
    unevaluated integral, derivative or sum (:func:`check_functions`; ``functions=False`` lets any defined
    function through, for an activation, whose rule is the code printer's); constants a double cannot hold
    (complex, infinite, undefined, out of range).
    """
    if isinstance(expr, str):
        out = parse_expression(expr, symbols)
    else:
        out = _from_object(expr, symbols, what)
    check_functions(out, what, functions)
    check_constants(out, what)
    return out


def check_size(expr: sp.Basic, what: str, hint: str = "") -> None:
    """Raise ModelError if ``expr`` passes a limit on expression text (nesting, nodes, length: see
    :func:`symopt.symbolic.parse.size_problem`), naming the limit; ``hint`` says what to do instead."""
    why = size_problem(expr)
    if why:
        hint = hint or ("state it in fewer terms, or a model linear in many parameters as LinearModel() over a "
                        "data matrix (of any width: its columns are never SymPy terms)")
        raise ModelError(f"the {what} {why}; {hint}" if "nested" not in why else f"the {what} {why}")


def check_functions(expr: sp.Expr, what: str = "expression", functions: bool = True) -> None:
    """Raise ModelError naming the first function (or unevaluated operation, or undefined function) in ``expr``
    that symopt cannot differentiate, evaluate and print, and listing what is supported: refused when the
    model is built rather than when its code is generated (:func:`symopt.symbolic.parse.unsupported`)."""
    found = unsupported(expr, functions)
    if found:
        node, why = found
        where = "" if node is expr else f"cannot be used: {show(node, SHOWN)} "
        raise ModelError(f"the {what} {show(expr, SHOWN)} {where}{why}")


def _from_object(expr, symbols: dict[str, sp.Symbol], what: str) -> sp.Expr:
    if isinstance(expr, (bool, np.bool_)):
        raise ModelError(f"the {what} must be text or a SymPy expression, not a bool ({expr!r})")
    if isinstance(expr, numbers.Real) and not isinstance(expr, sp.Basic):
        if not math.isfinite(float(expr)):
            raise ModelError(f"the {what} is {float(expr)!r}; give a finite number or an expression")
        if isinstance(expr, numbers.Integral):
            return sp.Integer(int(expr))
        return sp.Rational(repr(float(expr)))
    if getattr(expr, "is_Matrix", False):
        raise ModelError(f"the {what} must be a scalar expression, not a {expr.shape[0]}x{expr.shape[1]} matrix; "
                         "state one expression (a LinearModel takes matrix data)")
    if not isinstance(expr, sp.Basic):
        raise ModelError(f"the {what} must be text or a SymPy expression, not {type(expr).__name__}")
    check_size(expr, what)
    if not isinstance(expr, sp.Expr):
        shown = show(expr, SHOWN)
        if isinstance(expr, sp.core.relational.Relational):
            hint = ("give the per-sample quantity to minimise or maximise, such as (y - f)**2 for Eq(y, f)"
                    if what == "objective" else
                    "give the prediction alone: for Eq(y, f) write f and name y as the target")
            raise ModelError(f"the {what} must be an expression, not an equation or comparison ({shown}); {hint}")
        if isinstance(expr, sp.logic.boolalg.Boolean):
            raise ModelError(f"the {what} must be an expression, not a logical value ({shown})")
        raise ModelError(f"the {what} must be a scalar expression, not a {type(expr).__name__} ({shown})")
    bad = [a for a in expr.atoms(sp.MatrixSymbol, sp.Indexed, sp.Function) if isinstance(a, sp.MatrixSymbol)]
    if bad:
        raise ModelError(f"matrix symbols are not supported in expressions ({bad[0]}); use LinearModel")
    mapping = {}
    for s in expr.free_symbols:
        if not isinstance(s, sp.Symbol):
            raise ModelError(f"unsupported symbol {s!r} of type {type(s).__name__}")
        try:
            check_name(s.name, "symbol")
        except ParseError as exc:
            raise ModelError(str(exc)) from None
        target = symbols.get(s.name)
        if target is None:
            target = s if s.is_real else sp.Symbol(s.name, real=True)
            symbols[s.name] = target
        mapping[s] = target
    return expr.xreplace(mapping)


def check_constants(expr: sp.Expr, what: str = "expression") -> None:
    """Raise ModelError naming a constant in ``expr`` that a double cannot hold, and its term."""
    infinite = sorted(expr.atoms(*NON_FINITE), key=str)
    if infinite and expr in infinite:
        raise ModelError(f"the {what} is {expr}: a constant in it is infinite or undefined (such as log(0), "
                         "0**-1 or tan(pi/2)) and SymPy reduced the whole expression to it; remove that term")
    if infinite:
        raise ModelError(f"the {what} {show(expr, SHOWN)} contains an infinite or undefined constant ({infinite[0]})"
                         f"{_term(expr, infinite[0])}, as from log(0), 0**-1 or tan(pi/2); remove or rewrite it")
    if expr.has(sp.I):
        raise ModelError(f"the {what} {show(expr, SHOWN)} contains a complex constant (I){_term(expr, sp.I)}, as from "
                         "log or sqrt of a negative number; symopt works in real numbers: rewrite that term")
    for number in sorted(expr.atoms(sp.Number), key=abs, reverse=True):
        why = constant_problem(number)
        if why:
            huge = not DOUBLE_TINY <= abs(number) <= DOUBLE_MAX  # else a fraction of huge integers
            raise ModelError(f"the {what} contains the constant {show(sp.N(number, 4) if huge else number)}"
                             f"{_term(expr, number, huge)}, which {why}")
    for node in sp.postorder_traversal(expr):
        if isinstance(node, sp.Expr) and not node.is_Atom and node.is_number:
            why = constant_problem(node)
            if why:
                raise ModelError(f"the {what} contains the constant {show(node)}{_term(expr, node)}, "
                                 f"which {why}")


def _term(expr: sp.Expr, part: sp.Basic, numeric: bool = False) -> str:
    """' in the term T' for the term of ``expr`` (a sum) that contains ``part``, if that says more than ``part``.

    ``numeric`` shows the term's numbers to 4 digits (a 400-digit integer as 1.000e+400).
    """
    term = next((t for t in sp.Add.make_args(expr) if t.has(part)), expr)
    if term in (expr, part):
        return ""
    return f" in the term {show(sp.N(term, 4) if numeric else term)}"


def sorted_symbols(symbols) -> tuple[sp.Symbol, ...]:
    return tuple(sorted(symbols, key=lambda s: s.name))


class Model:
    """A model given by an expression: ``Model("a*exp(b*x)", params="a b")``.

    ``expr`` is SymPy or safe text; ``params`` are the parameter symbols or
    their names. Every other free symbol is data (a feature).
    """

    def __init__(self, expr, params):
        self.params = _as_param_symbols(params)
        symbols = {p.name: p for p in self.params}
        self.expr = as_expression(expr, symbols, "model")
        free = self.expr.free_symbols  # once: it walks the whole tree (5,000 terms: minutes, once per parameter)
        missing = [p.name for p in self.params if p not in free]
        if missing:
            raise ModelError(f"parameter(s) {', '.join(missing)} do not appear in the model {show(self.expr, SHOWN)}")
        self.features = sorted_symbols(free - set(self.params))

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def __repr__(self) -> str:
        return f"Model({self.expr}, params={list(self.param_names)})"


class LinearModel:
    """A model linear in its parameters.

    * ``LinearModel()`` / ``LinearModel(n_features=m)``: ``eta = intercept +
      X @ coef`` over a data matrix ``X`` of any width. The columns are never
      expanded into SymPy terms; only the scalar loss is symbolic. Parameters
      are ``intercept`` (a number) and ``coef`` (an array).
    * ``LinearModel(basis=["x", "x**2", "sin(t)"])``: ``w0 + w1*x + w2*x**2 +
      w3*sin(t)`` in named features, an expression model with parameters
      ``w0`` (the intercept, if any), ``w1``, ... Where every basis expression is a plain name (the
      columns of a DataFrame, ``basis=list(df.columns)``), the coefficients are named after them:
      ``LinearModel(basis=["age", "dose"])`` is ``intercept + coef_age*age + coef_dose*dose``.

    ``intercept=False`` drops the intercept from either form.

    ``names=[...]`` (the data-matrix form only) names the columns of ``X``, one each (and so fixes
    ``n_features``): labels, not parameters. ``Result.params`` keeps ``intercept`` and the array ``coef``;
    ``Result.x_names``, the rows of ``summary()``, ``cov`` and ``corr`` read ``intercept_label`` (``"intercept"``
    unless given) and the names in place of ``coef[j]``. :func:`symopt.formula` gives them from a design.
    """

    def __init__(self, n_features: int | None = None, basis: Sequence | None = None, intercept: bool = True,
                 names: Sequence[str] | None = None, intercept_label: str = "intercept"):
        if not isinstance(intercept, (bool, np.bool_)):
            raise ModelError(f"intercept must be True or False, got {intercept!r}")
        self.intercept = bool(intercept)
        self.names, self.intercept_label = _column_labels(names, intercept_label, n_features, basis)
        if self.names is not None:
            n_features = len(self.names)
        if n_features is not None:
            integral = isinstance(n_features, numbers.Integral) and not isinstance(n_features, (bool, np.bool_))
            if not integral or n_features < 1:
                raise ModelError(f"n_features must be a positive integer, got {n_features!r}")
            n_features = int(n_features)
        self.basis: tuple[sp.Expr, ...] | None = None
        self.intercept_name: str | None = None  # the basis form's intercept parameter (not penalised)
        self.expression_model: Model | None = None
        if basis is not None:
            if isinstance(basis, (str, sp.Basic)) or not isinstance(basis, Iterable):
                raise ModelError("basis must be a list of expressions, for example ['x', 'x**2']")
            basis = list(basis)
            if n_features is not None and n_features != len(basis):
                raise ModelError(f"n_features={n_features} but {len(basis)} basis expressions were given")
            symbols: dict[str, sp.Symbol] = {}
            self.basis = tuple(as_expression(b, symbols, "basis expression") for b in basis)
            if not self.basis:
                raise ModelError("basis is empty")
            if all(isinstance(b, sp.Symbol) for b in self.basis):
                names = (["intercept"] if self.intercept else []) + [f"coef_{b.name}" for b in self.basis]
            else:
                names = [f"w{k}" for k in range(0 if self.intercept else 1, len(self.basis) + 1)]
            clash = sorted(set(names) & set(symbols))
            if clash:
                raise ModelError(f"feature name(s) {', '.join(clash)} clash with the parameter names "
                                 f"{', '.join(names)}; rename them")
            self.intercept_name = names[0] if self.intercept else None
            weights = [sp.Symbol(n, real=True) for n in names]
            terms = list(self.basis) if not self.intercept else [sp.Integer(1), *self.basis]
            for w, b in zip(weights, terms):
                if b.is_Number:
                    continue
                if not b.free_symbols:
                    raise ModelError(f"basis expression {b} has no feature in it")
            combined = sp.Add(*[w * b for w, b in zip(weights, terms)])
            check_size(combined, f"model made of {len(self.basis)} basis expressions",
                       "for many columns state LinearModel() over a data matrix X whose columns are the basis "
                       "evaluated on the data (of any width: its columns are never SymPy terms)")
            self.expression_model = Model(combined, weights)
            self.n_features = len(self.basis)
        else:
            self.n_features = n_features

    @property
    def is_wide(self) -> bool:
        """True for the data-matrix form (``X`` of any width)."""
        return self.basis is None

    def __repr__(self) -> str:
        if self.is_wide and self.names is not None:
            return f"LinearModel(names={list(self.names)}, intercept={self.intercept})"
        if self.is_wide:
            return f"LinearModel(n_features={self.n_features}, intercept={self.intercept})"
        return f"LinearModel(basis={[str(b) for b in self.basis]}, intercept={self.intercept})"


def _column_labels(names, intercept_label, n_features, basis) -> tuple:
    """``(names, intercept_label)`` of a ``LinearModel()`` over a data matrix, checked: text, one per column, no
    two alike (a label read twice would name two estimates)."""
    if not isinstance(intercept_label, str) or not intercept_label.strip():
        raise ModelError(f"intercept_label must be a non-empty name, got {intercept_label!r}")
    if names is None:
        return None, intercept_label
    if basis is not None:
        raise ModelError("names= labels the columns of a data matrix (LinearModel(names=[...])); a "
                         "LinearModel(basis=...) names its coefficients after its basis expressions")
    if isinstance(names, (str, bytes)) or not isinstance(names, Iterable):
        raise ModelError(f"names must be a list of column names, one per column of X, got {names!r}")
    names = tuple(names)
    odd = next((n for n in names if not isinstance(n, str) or not n.strip()), None)
    if odd is not None or not names:
        raise ModelError(f"names must be non-empty text, one per column of X; got {odd!r}" if names else
                         "names is empty: give one name per column of X")
    if n_features is not None and n_features != len(names):
        raise ModelError(f"n_features={n_features} but {len(names)} names were given")
    repeated = sorted(n for n, k in Counter((intercept_label, *names)).items() if k > 1)
    if repeated:
        raise ModelError(f"the column names repeat (or repeat the intercept's label {intercept_label!r}): "
                         f"{', '.join(map(repr, repeated))}; each label names one estimate")
    return names, intercept_label

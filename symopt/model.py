"""Models: what predicts. An expression in parameters and features, or a
model linear in its parameters (over a data matrix of any width, or over a
list of basis expressions)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import sympy as sp

from .errors import ModelError, ParseError
from .parse import check_name, parse_expression


def params(names: str | Iterable[str], *, positive: bool = False) -> tuple[sp.Symbol, ...]:
    """Parameter symbols: ``params("a b")`` -> ``(a, b)``, real-valued.

    ``positive=True`` declares them positive: closed-form candidates outside
    that domain are rejected (useful for a variance or a rate).
    """
    names_list = _split_names(names)
    assumptions = {"positive": True} if positive else {"real": True}
    return tuple(sp.Symbol(check_name(n, "parameter name"), **assumptions) for n in names_list)


def _split_names(names) -> list[str]:
    if isinstance(names, str):
        out = [n for n in re.split(r"[\s,]+", names.strip()) if n]
    else:
        out = list(names)
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
    names = [s.name for s in symbols]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ModelError(f"parameter names repeat: {', '.join(dupes)}")
    return tuple(symbols)


def as_expression(expr, symbols: dict[str, sp.Symbol]) -> sp.Expr:
    """Text or SymPy -> SymPy, with every symbol real and named as ``symbols`` says."""
    if isinstance(expr, str):
        return parse_expression(expr, symbols)
    if isinstance(expr, (int, float)):
        return sp.Rational(repr(expr)) if isinstance(expr, float) else sp.Integer(expr)
    if not isinstance(expr, sp.Basic):
        raise ModelError(f"an expression must be text or a SymPy expression, not {type(expr).__name__}")
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
        self.expr = as_expression(expr, symbols)
        missing = [p.name for p in self.params if p not in self.expr.free_symbols]
        if missing:
            raise ModelError(f"parameter(s) {', '.join(missing)} do not appear in the model {self.expr}")
        self.features = sorted_symbols(self.expr.free_symbols - set(self.params))

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
      ``w0`` (the intercept, if any), ``w1``, ...

    ``intercept=False`` drops the intercept from either form.
    """

    def __init__(self, n_features: int | None = None, basis: Sequence | None = None, intercept: bool = True):
        self.intercept = bool(intercept)
        self.basis: tuple[sp.Expr, ...] | None = None
        self.expression_model: Model | None = None
        if basis is not None:
            if n_features is not None and n_features != len(basis):
                raise ModelError(f"n_features={n_features} but {len(basis)} basis expressions were given")
            if isinstance(basis, (str, sp.Basic)):
                raise ModelError("basis must be a list of expressions, for example ['x', 'x**2']")
            symbols: dict[str, sp.Symbol] = {}
            self.basis = tuple(as_expression(b, symbols) for b in basis)
            if not self.basis:
                raise ModelError("basis is empty")
            start = 0 if self.intercept else 1
            names = [f"w{k}" for k in range(start, len(self.basis) + 1)]
            clash = sorted(set(names) & set(symbols))
            if clash:
                raise ModelError(f"feature name(s) {', '.join(clash)} clash with the parameter names w0, w1, ...; rename them")
            weights = [sp.Symbol(n, real=True) for n in names]
            terms = list(self.basis) if not self.intercept else [sp.Integer(1), *self.basis]
            for w, b in zip(weights, terms):
                if b.is_Number:
                    continue
                if not b.free_symbols:
                    raise ModelError(f"basis expression {b} has no feature in it")
            self.expression_model = Model(sp.Add(*[w * b for w, b in zip(weights, terms)]), weights)
            self.n_features = len(self.basis)
        else:
            if n_features is not None and (not isinstance(n_features, int) or n_features < 1):
                raise ModelError(f"n_features must be a positive integer, got {n_features!r}")
            self.n_features = n_features

    @property
    def is_wide(self) -> bool:
        """True for the data-matrix form (``X`` of any width)."""
        return self.basis is None

    def __repr__(self) -> str:
        if self.is_wide:
            return f"LinearModel(n_features={self.n_features}, intercept={self.intercept})"
        return f"LinearModel(basis={[str(b) for b in self.basis]}, intercept={self.intercept})"

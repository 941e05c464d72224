"""Cheap structural bounds that keep the closed-form tiers from expanding huge expressions.

``sp.expand`` of ``(y - P**12) * P**11`` with ``P`` a cubic multiplies out about a
million products before collecting them, which takes SymPy minutes. These bounds walk
the expression tree once, without expanding anything, so a tier can decline with a
reason instead.
"""

from __future__ import annotations

from math import comb

import sympy as sp

#: The closed-form tiers expand an expression only up to this many products: about a
#: second of SymPy (10,164 products took 1.1 s; a Gaussian log-likelihood's gradient takes 4).
EXPAND_LIMIT = 10_000


def expansion_size(expr: sp.Expr) -> int:
    """An upper bound on the number of products ``sp.expand(expr)`` forms before collecting terms."""
    if expr.is_Add:
        return sum(expansion_size(a) for a in expr.args)
    if expr.is_Mul:
        size = 1
        for factor in expr.args:
            size *= expansion_size(factor)
        return size
    if expr.is_Pow and expr.exp.is_Integer and expr.exp > 0:
        t = expansion_size(expr.base)
        return comb(int(expr.exp) + t - 1, t - 1)  # the terms of a multinomial expansion
    return 1


def degree_bound(expr: sp.Expr, params) -> float:
    """An upper bound on the total degree of ``expr`` as a polynomial in ``params``
    (``inf`` where a parameter sits inside a function or a non-integer power)."""
    params = set(params)
    if not (expr.free_symbols & params):
        return 0
    if expr.is_Symbol:
        return 1
    if expr.is_Add:
        return max(degree_bound(a, params) for a in expr.args)
    if expr.is_Mul:
        return sum(degree_bound(a, params) for a in expr.args)
    if expr.is_Pow and expr.exp.is_Integer and expr.exp >= 0:
        return int(expr.exp) * degree_bound(expr.base, params)
    return float("inf")

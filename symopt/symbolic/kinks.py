"""Kinks: where a per-sample expression is not differentiable in its parameters, and what its derivative is there.

``abs``, ``sign``, ``Heaviside``, ``Max``, ``Min`` and ``Piecewise`` are differentiable except where an argument
(for ``Max`` and ``Min``, the difference of two of their arguments; for ``Piecewise``, the two sides of a
condition) crosses 0. :func:`kinks` finds those arguments in an expression, for the parts that depend on the
parameters: the run stage then does not choose Newton (whose Hessian is 0 or undefined there) and does not call a
zero curvature a plateau (:mod:`symopt.run.stationary`).

The derivative at a kink is a choice, and symopt's is SymPy's, evaluated as it stands:

* ``d|u|/du = sign(u)``, 0 at ``u = 0``; ``d max(a, b) = Heaviside(a - b) da + Heaviside(b - a) db`` with
  ``Heaviside(0) = 1/2``, and ``min`` likewise: at a tie, the midpoint of the one-sided derivatives. For a convex
  kink (``|u|``, ``max``) that is an element of the subdifferential (its centre), so a zero gradient there is a
  true optimality certificate only when 0 is that element; the run's verdict says the optimum is at a kink
  instead of pretending otherwise.
* ``Piecewise`` differentiates branch by branch, so at a boundary the derivative is that of the branch whose
  condition holds there (a one-sided derivative, also an element of a convex kink's subdifferential).
* ``d sign(u)`` and ``d Heaviside(u)`` are ``DiracDelta(u)``, taken as 0: their value everywhere but at the kink
  (:func:`symopt.symbolic.functions.almost_everywhere`).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import sympy as sp

#: The functions with kinks or steps.
KINKED = (sp.Abs, sp.sign, sp.Heaviside, sp.Max, sp.Min, sp.Piecewise)


class Kink(NamedTuple):
    """One kink: the ``call`` that has it, the ``argument`` that is 0 there, and the call's name in words."""

    call: sp.Basic
    argument: sp.Expr
    name: str


def kinks(expr: sp.Basic, params) -> tuple:
    """The :class:`Kink` s of ``expr`` whose argument depends on one of ``params`` (symbols), in a fixed order.

    >>> import sympy as sp
    >>> a, y = sp.symbols("a y", real=True)
    >>> [k.argument for k in kinks(sp.Max(y - a, 0), [a])]
    [-a + y]
    """
    return _kinks(expr, frozenset(params))


@functools.lru_cache(maxsize=256)
def _kinks(expr: sp.Basic, params: frozenset) -> tuple:
    """:func:`kinks`, remembered: the run stage asks on every solve, and the tree walk cost 0.3 ms a solve
    (SymPy expressions are immutable and hashable, so the answer for one expression never changes)."""
    found = {}
    for call in expr.atoms(*KINKED):
        for argument in _arguments(call):
            argument = sp.expand(argument)
            if argument.free_symbols & params and not argument.is_number:
                found.setdefault((call, argument), Kink(call, argument, type(call).__name__.lower()))
    return tuple(sorted(found.values(), key=lambda k: (sp.default_sort_key(k.call), sp.default_sort_key(k.argument))))


def has_kink(expr: sp.Basic, params) -> bool:
    """Whether ``expr`` has a kink in ``params`` (:func:`kinks`), without listing them."""
    return bool(expr.has(*KINKED)) and bool(kinks(expr, params))


def _arguments(call) -> list:
    """What is 0 at the call's kinks: the argument of ``abs``, ``sign`` and ``Heaviside``, the pairwise differences
    of ``Max``'s and ``Min``'s arguments, the sides' difference of each comparison in a ``Piecewise``'s
    conditions."""
    if isinstance(call, (sp.Abs, sp.sign, sp.Heaviside)):
        return [call.args[0]]
    if isinstance(call, (sp.Max, sp.Min)):
        args = call.args
        return [args[i] - args[j] for i in range(len(args)) for j in range(i + 1, len(args))]
    if isinstance(call, sp.Piecewise):
        out = []
        for _, condition in call.args:
            for relation in condition.atoms(sp.core.relational.Relational):
                out.append(relation.lhs - relation.rhs)
        return out
    return []

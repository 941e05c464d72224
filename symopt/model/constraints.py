"""``constraints=``: linear inequalities between parameters, ``constraints=["a <= b", "x + y <= 1"]``.

Each constraint is text with one comparison, ``<=`` or ``>=``, whose two sides are linear in the parameters
(read by symopt's safe parser, :func:`symopt.symbolic.parse.parse_expression`: never ``eval``). A tied
parameter may appear (its tie is substituted: the constraint must stay linear), and so may a fixed one (its
value moves to the right-hand side at each solve). Which constraints there are is structure; the solve
(:mod:`symopt.run.constrained`) takes them as rows ``A theta <= b`` over the free parameters.

An equality is a tie (``ties={"b": "a"}``), and a strict inequality has no closed feasible set: both are
refused with that advice.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import sympy as sp

from ..errors import ModelError, ParseError
from ..symbolic.parse import clip, parse_expression

#: The comparisons a constraint may hold (the first two) and those refused with advice.
_COMPARISON = re.compile(r"<=|>=|==|!=|<|>")


@dataclass(frozen=True)
class Constraint:
    """One constraint: ``text`` as given, and ``expr``, the linear ``g(theta)`` with the constraint ``g <= 0``
    (ties substituted; fixed parameters still symbols)."""

    text: str
    expr: sp.Expr


@dataclass(frozen=True)
class Constraints(Sequence):
    """The constraints of a problem, checked once where they come in (:func:`check_constraints`); reads as
    the list of their texts. Given back as ``constraints=`` it is taken as checked."""

    items: tuple = ()

    def __getitem__(self, i):
        return self.items[i].text

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)

    @property
    def texts(self) -> tuple:
        return tuple(c.text for c in self.items)

    def rows(self, objective, dataset=None, values: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(A, b)`` with the constraints ``A theta <= b`` over ``objective``'s free parameters, in the order
        of its flat vector; a fixed parameter's value (from ``values``, else its column in ``dataset``) moved
        to ``b``."""
        values = dict(values or {})
        for p in objective.fixed_params:
            if p.name not in values and dataset is not None:
                values[p.name] = float(np.asarray(dataset[p.name])[0])
        free = objective.params
        A = np.zeros((len(self.items), len(free)))
        b = np.zeros(len(self.items))
        for i, c in enumerate(self.items):
            at = {s: sp.Float(values[s.name], 17) for s in c.expr.free_symbols if s.name in values}
            g = c.expr.xreplace(at) if at else c.expr
            A[i] = [float(sp.diff(g, p)) for p in free]
            b[i] = -float(g.xreplace({p: 0 for p in free}))
            if not np.any(A[i]) and b[i] < 0:
                raise ModelError(f"the constraint {c.text!r} cannot hold: it reads only fixed parameters, and at "
                                 f"their values it is false")
        return A, b


def check_constraints(objective, constraints, ties) -> Constraints:
    """``constraints`` (a list of text, or one text) checked against ``objective`` (with its ties applied:
    ``ties`` is the :class:`symopt.model.ties.Ties`, whose tied names may appear and are substituted)."""
    if constraints is None:
        return Constraints()
    if isinstance(constraints, Constraints):
        return constraints
    if isinstance(constraints, str):
        constraints = [constraints]
    if not isinstance(constraints, Sequence):
        raise ModelError(f"constraints must be a list of text such as ['a <= b', 'x + y <= 1']; got "
                         f"{type(constraints).__name__}")
    if constraints and not objective.form.per_parameter:
        raise ModelError("constraints= applies to the named parameters of an expression model; this objective is "
                         "a model over a data matrix or a network (use bounds= on intercept and coef)")
    params = {p.name: p for p in objective.params}
    named = {**params, **{name: s for name, s in ties.symbols.items()}}
    sub = ties.substitution() if ties else {}
    out = []
    for text in constraints:
        if not isinstance(text, str):
            raise ModelError(f"a constraint is text such as 'a <= b', got {type(text).__name__} {text!r}")
        g = _parse(text, named, sub)
        symbols = g.free_symbols
        if not symbols:
            raise ModelError(f"the constraint {text!r} reads no parameter")
        for p in symbols:
            if sp.diff(g, p).free_symbols:
                raise ModelError(f"the constraint {text!r} is not linear in the parameters (in {p.name}"
                                 f"{', with the ties substituted' if sub else ''}): constraints= takes linear "
                                 f"inequalities; bound a nonlinear quantity through a tie to a new bounded parameter "
                                 f"(symopt.ties(..., new=...) with bounds=)")
        out.append(Constraint(text, sp.expand(g)))
    return Constraints(tuple(out))


def _parse(text: str, named: dict, sub: dict) -> sp.Expr:
    """``g`` with the constraint ``g <= 0``, from ``"lhs <= rhs"`` or ``"lhs >= rhs"``."""
    found = _COMPARISON.findall(text)
    if len(found) != 1:
        raise ModelError(f"a constraint holds exactly one comparison, <= or >= (for a <= b <= c give two: "
                         f"'a <= b', 'b <= c'); {clip(repr(text))} has {len(found)}")
    op = found[0]
    if op == "==":
        raise ModelError(f"{clip(repr(text))} is an equality: say it as a tie (ties={{'b': 'a + 1'}} for "
                         f"'b == a + 1'), which takes the parameter out of the fit")
    if op in ("<", ">", "!="):
        raise ModelError(f"{clip(repr(text))}: write '{op}=' ({'<=' if op == '<' else '>='}); a strict inequality "
                         f"has no closed feasible set, so an optimum on its edge would not be attained")
    left, right = text.split(op)
    sides = []
    for side in (left, right):
        symbols = dict(named)
        try:
            expr = parse_expression(side, symbols)
        except ParseError as exc:
            raise ModelError(f"the constraint {clip(repr(text))} cannot be read: {exc}") from None
        unknown = sorted(set(symbols) - set(named))
        if unknown:
            raise ModelError(f"the constraint {clip(repr(text))} names {', '.join(map(repr, unknown))}, which is not "
                             f"a parameter of the objective ({', '.join(named)})")
        sides.append(expr.xreplace(sub) if sub else expr)
    return sides[0] - sides[1] if op == "<=" else sides[1] - sides[0]

"""``ties=``: parameters defined as expressions of others, as lmfit's ``Parameter(expr=...)``:
``ties={"sigma_2": "sigma_1", "amp_2": "2*amp_1"}``.

A tie is structure: the tied parameters are substituted into the objective symbolically before it is derived
(:meth:`Ties.apply`), so the derivation, the closed-form analysis and the generated code see only the free
parameters. Chains resolve (``a = "b"``, ``b = "2*c"`` ties ``a`` to ``2*c``); a tie may read a fixed parameter
(``fixed=``), whose value then enters as the data it is. The text goes through symopt's safe parser
(:func:`symopt.symbolic.parse.parse_expression`: a whitelist, never ``eval``).

The result speaks in the whole model: ``Result.params`` has the tied parameters at their values,
``Result.tied`` says which are tied and to what, and ``Result.stderr`` gives their standard errors by the delta
method, ``se(t)^2 = g^T C g`` with ``g`` the exact gradient of the tie's expression in the free parameters and
``C`` their covariance (lmfit computes the same by first-order propagation through the ``uncertainties``
package; lmfit issue 855). ``Result.x`` and ``Result.cov`` are the free parameters'.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import sympy as sp

from ..errors import ModelError, ParseError
from ..symbolic.numeric import evaluate
from ..symbolic.parse import clip, parse_expression, real_symbol
from .models import LinearModel, Model, sorted_symbols


class TieSpec(NamedTuple):
    """Ties that introduce new parameters (:func:`ties`): ``exprs`` (name -> expression text) and ``new``,
    the names of the new parameters the expressions read."""

    exprs: Mapping
    new: tuple


def ties(exprs: Mapping, new=()) -> TieSpec:
    """Ties that read parameters the model does not have, lmfit's helper parameters: ``new`` names them
    (a list, or one string of names separated by spaces), and they are fitted as free parameters (bounds
    and fixed values apply to them as to any other).

    >>> spec = ties({"cen_l": "cen_g + peak_split"}, new="peak_split")

    A name in a tie that is neither a parameter nor declared here is an error (a misspelt name does not
    become a parameter silently)."""
    names = new.split() if isinstance(new, str) else list(new)
    for name in names:
        if not isinstance(name, str):
            raise ModelError(f"new= names new parameters by text, got {name!r}")
    return TieSpec(exprs, tuple(names))


@dataclass(frozen=True, eq=False)
class Ties(Mapping):
    """The ties of a problem, checked once where they come in (:func:`check_ties`). Reads as the mapping
    ``ties=`` takes (name -> the expression text as given); ``exprs`` maps each tied parameter's name to its
    expression in the untied parameters (chains resolved), ``symbols`` to the tied parameter's symbol.
    Given back as ``ties=`` it is taken as checked."""

    text: dict
    exprs: dict = field(repr=False)
    symbols: dict = field(repr=False)
    #: The new parameters the ties read (:func:`ties`'s ``new``): fitted, reported in ``Result.params``.
    new: tuple = ()

    @classmethod
    def empty(cls) -> "Ties":
        return cls({}, {}, {})

    def __getitem__(self, name: str) -> str:
        return self.text[name]

    def __iter__(self):
        return iter(self.text)

    def __len__(self) -> int:
        return len(self.text)

    def __bool__(self) -> bool:
        return bool(self.text)

    def __repr__(self) -> str:
        return f"Ties({self.text!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Mapping) and dict(self.items()) == dict(other.items())

    __hash__ = None

    def describe(self) -> str:
        """``"sigma_2 = sigma_1, amp_2 = 2*amp_1"`` (the resolved expressions)."""
        return ", ".join(f"{name} = {expr}" for name, expr in self.exprs.items())

    def substitution(self) -> dict:
        """symbol -> expression, for ``xreplace``."""
        return {self.symbols[name]: expr for name, expr in self.exprs.items()}

    def apply(self, objective):
        """``objective`` with the tied parameters substituted: they leave ``params`` (the derivation sees the
        free ones only); the model (for predictions) is substituted too."""
        if not self:
            return objective
        sub = self.substitution()
        new = copy.copy(objective)
        new.per_sample = objective.per_sample.xreplace(sub)
        new.params = tuple(p for p in objective.params if p.name not in self.exprs) + self.new
        # a new helper parameter is penalised as a parameter of an Objective is (where the penalty is a number)
        helpers = tuple(p.name for p in self.new)
        new.l2_penalty = objective.l2_penalty.extended(helpers)
        new.l1_penalty = objective.l1_penalty.extended(helpers)
        if objective._residual is not None:
            new._residual = objective._residual.xreplace(sub)
        new.model = _substituted_model(objective.model, sub, self)
        free = new.per_sample.free_symbols
        lost = [p.name for p in new.params if p not in free]
        if lost:
            raise ModelError(f"with the ties ({self.describe()}), {', '.join(lost)} no longer appear(s) in the "
                             f"objective: the tied terms cancel it; tie differently, or fix it (fixed=)")
        new.data_symbols = sorted_symbols(free - set(new.params))
        new.form = type(objective.form)(new)
        new.tied = self
        return new

    def values(self, params: dict) -> dict:
        """name -> the tied parameter's value at ``params`` (the free and fixed parameters by name)."""
        out = {}
        for name, expr in self.exprs.items():
            at = {s: float(params[s.name]) for s in expr.free_symbols}
            out[name] = float(evaluate(expr, at)) if at else float(expr)
        return out

    def complete(self, names, params: dict) -> dict:
        """``params`` with the tied parameters at their values, in the order of ``names`` (the objective's)."""
        tied = self.values(params)
        out = {name: tied[name] if name in tied else params[name] for name in names
               if name in tied or name in params}
        return {**out, **{name: value for name, value in params.items() if name not in out}}

    def stderr(self, params: dict, x_names, cov) -> dict:
        """name -> the delta-method standard error of each tied parameter: ``sqrt(g^T C g)``, ``g`` the gradient
        of its expression in the entries of ``x`` (named ``x_names``; a fixed parameter adds no variance) and
        ``C`` = ``cov`` with NaN rows and columns (a parameter held at a bound) read as 0. None where ``cov``
        is None or a tie reads a parameter without a standard error."""
        if cov is None:
            return {name: None for name in self.exprs}
        cov = np.asarray(cov, dtype=float)
        clean = np.where(np.isnan(cov), 0.0, cov)
        out = {}
        for name, expr in self.exprs.items():
            symbols = {s.name: s for s in expr.free_symbols}
            at = {s: float(params[s.name]) for s in expr.free_symbols}
            g = np.array([float(evaluate(sp.diff(expr, symbols[n]), at)) if n in symbols else 0.0 for n in x_names])
            if np.any(np.isnan(g)):
                out[name] = None
                continue
            var = float(g @ clean @ g)
            out[name] = math.sqrt(max(var, 0.0)) if math.isfinite(var) else None
        return out


def wald(ties: Ties, params: dict, x_names, cov, critical: float) -> dict:
    """name -> ``(low, high)``, each tied parameter's value -/+ ``critical`` times its delta-method standard error
    (None where it has none)."""
    se = ties.stderr(params, x_names, cov)
    return {name: None if se[name] is None else (params[name] - critical * se[name], params[name] + critical * se[name])
            for name in ties}


def _substituted_model(model, sub: dict, ties: Ties):
    """``model`` (a Model, a LinearModel with a basis, or None) with the ties substituted."""
    if model is None:
        return None

    def plain(m: Model) -> Model:
        out = Model.__new__(Model)
        out.expr = m.expr.xreplace(sub)
        out.params = tuple(p for p in m.params if p.name not in ties.exprs)
        out.features = m.features
        return out

    if isinstance(model, Model):
        return plain(model)
    if isinstance(model, LinearModel) and model.expression_model is not None:
        new = copy.copy(model)
        new.expression_model = plain(model.expression_model)
        return new
    return model


def check_ties(objective, ties, fixed: dict) -> Ties:
    """``ties`` (name -> expression text) checked against ``objective`` (the whole one) and ``fixed``, the
    chains resolved: a :class:`Ties`."""
    if ties is None:
        return Ties.empty()
    if isinstance(ties, Ties):
        return ties
    new = ()
    if isinstance(ties, TieSpec):
        ties, new = ties
    if not isinstance(ties, Mapping):
        raise ModelError(f"ties must be a mapping from parameter names to expression text, such as "
                         f"{{'sigma_2': 'sigma_1', 'amp_2': '2*amp_1'}}; got {type(ties).__name__}")
    if not ties:
        return Ties.empty()
    if not objective.form.per_parameter or getattr(objective, "glm", None) is not None:
        raise ModelError("ties= applies to the named parameters of an expression model (symopt.Model, a "
                         "LinearModel with a basis, or an Objective); this objective is "
                         f"{'a GLM' if getattr(objective, 'glm', None) is not None else 'a model over a data matrix or a network'}")
    params = {p.name: p for p in objective.params}
    taken = set(params) | {s.name for s in objective.per_sample.free_symbols}
    for name in new:
        if name in taken:
            raise ModelError(f"new= names {name!r}, which the objective already has (as a "
                             f"{'parameter' if name in params else 'data column'}): a new parameter needs a new name")
    helpers = {name: real_symbol(name) for name in new}
    params = {**params, **helpers}
    fixed = fixed if isinstance(fixed, Mapping) else {}
    parsed = {}
    for name, text in ties.items():
        if name not in params or name in helpers:
            raise ModelError(f"ties names {name!r}, which is not a parameter of the objective "
                             f"({', '.join(p for p in params if p not in helpers)})")
        if name in fixed:
            raise ModelError(f"{name!r} is both fixed (at {fixed[name]!r}) and tied (to {text!r}): a parameter is "
                             f"one or the other; drop it from fixed= or from ties=")
        if not isinstance(text, str):
            hint = f"; to hold it at a value use fixed={{{name!r}: {text!r}}}" if isinstance(text, (int, float)) else ""
            raise ModelError(f"the tie of {name!r} must be expression text such as 'sigma_1' or '2*amp_1', got "
                             f"{type(text).__name__}{hint}")
        symbols = dict(params)
        try:
            expr = parse_expression(text, symbols)
        except ParseError as exc:
            raise ModelError(f"the tie of {name!r} ({clip(repr(text))}) cannot be read: {exc}") from None
        unknown = sorted(set(symbols) - set(params))
        if unknown:
            what = "data" if set(unknown) & taken else "not a parameter of the objective"
            raise ModelError(f"the tie of {name!r} ({clip(repr(text))}) names {', '.join(map(repr, unknown))}, which "
                             f"is {what} ({', '.join(params)}): a tie relates parameters; to introduce a new "
                             f"parameter (lmfit's helper parameter), declare it: ties=symopt.ties({{...}}, "
                             f"new={unknown[0]!r})")
        if not expr.free_symbols:
            raise ModelError(f"the tie of {name!r} ({clip(repr(text))}) reads no parameter: to hold {name} at a "
                             f"value use fixed={{{name!r}: ...}}")
        _check_sign(params[name], expr)
        parsed[name] = expr
    resolved = {name: _resolve(name, parsed, params, {}, ()) for name in parsed}
    free = [n for n in params if n not in resolved and n not in fixed]
    if not free:
        raise ModelError(f"every parameter is tied or fixed ({', '.join(params)}): nothing is left to fit")
    unused = [n for n in helpers if not any(helpers[n] in e.free_symbols for e in resolved.values())]
    if unused:
        raise ModelError(f"new= declares {', '.join(unused)}, which no tie reads")
    return Ties({name: ties[name] for name in parsed}, resolved, {name: params[name] for name in parsed},
                tuple(helpers.values()))


def _check_sign(symbol: sp.Symbol, expr: sp.Expr) -> None:
    """A parameter declared positive (negative, nonnegative, nonpositive) stays so under its tie, or the tie is
    refused: the bound its assumption implies would otherwise be dropped without a word."""
    for kind, op in (("positive", ">"), ("nonnegative", ">="), ("negative", "<"), ("nonpositive", "<=")):
        if getattr(symbol, f"is_{kind}") and not getattr(expr, f"is_{kind}"):
            raise ModelError(f"{symbol.name} is declared {kind}, and its tie {expr} is not known to be: tie it to "
                             f"an expression that is (of parameters declared so), or keep it in range with "
                             f"constraints=['{expr} {op.rstrip('=')}= 0']")


def _resolve(name, parsed: dict, params: dict, done: dict, path: tuple) -> sp.Expr:
    """The tie of ``name`` with every tied parameter in it replaced by its own (resolved) tie."""
    if name in done:
        return done[name]
    if name in path:
        cycle = " -> ".join((*path[path.index(name):], name))
        raise ModelError(f"the ties are circular ({cycle}): each tie must end in parameters that are not tied")
    expr = parsed[name]
    inner = {params[n]: _resolve(n, parsed, params, done, (*path, name))
             for n in sorted(s.name for s in expr.free_symbols) if n in parsed}
    done[name] = expr.xreplace(inner) if inner else expr
    return done[name]


def check_not_bounded(ties: Ties, bounds) -> None:
    """A tied parameter takes its value from its tie: bounds on it are refused, with the constraints that
    say the same (:mod:`symopt.model.constraints`)."""
    if not ties or not isinstance(bounds, Mapping):
        return
    for name, pair in bounds.items():
        if name in ties.exprs:
            sides = pair if isinstance(pair, (tuple, list)) and len(pair) == 2 else (None, None)
            said = [f"'{ties.exprs[name]} {op} {value}'" for op, value in zip((">=", "<="), sides) if value is not None]
            raise ModelError(f"{name!r} is tied ({name} = {ties.exprs[name]}) and has bounds: a tied parameter takes "
                             f"its value from its tie; keep the tie in range with constraints=[{', '.join(said)}]")

"""Penalties: how strongly the ``l1`` and ``l2`` terms weigh each parameter.

A penalty is given as a number or as a mapping:

* a number keeps its meaning: the strength on every penalised parameter (an ``Objective`` penalises every
  parameter, or those it names in ``penalize=``; a ``LinearModel`` every coefficient but the intercept; a
  network its weights, not its biases);
* a mapping aims it, by parameter name (``{"b": 0.1, "c": 0.5}``) or, over a data matrix, by block
  (``{"coef": 0.1}``, ``{"intercept": 0.01, "coef": 0.1}``): each unit named takes its own strength, every
  other is left unpenalised.

The total objective (minimised) adds ``l2 * sum_j w2_j theta_j**2 + l1 * sum_j w1_j |theta_j|``. Each penalty is
read here into a :class:`Penalty`: one strength and one weight per unit (a parameter, or a block), so that
the strength alone changes between the values of a regularisation path and one generated module serves
them all (the weights are structure, the strength a number given at run time).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from ..errors import ModelError


@dataclass(frozen=True)
class Penalty:
    """``strength * sum_u weights[u] * (term of unit u)``: ``units`` are parameter names (or block names over a
    data matrix), ``weights`` one number >= 0 per unit. A number given keeps ``strength`` and weights 1 (0 on
    the units a penalty leaves free); a mapping has strength 1 and its values as weights."""

    kind: str
    strength: float
    units: tuple
    weights: tuple
    aimed: bool = False

    def __bool__(self) -> bool:
        return self.strength > 0 and any(w > 0 for w in self.weights)

    def weight(self, unit: str) -> float:
        return self.weights[self.units.index(unit)] if unit in self.units else 0.0

    def extended(self, units: tuple) -> "Penalty":
        """The same penalty over ``units`` more (new parameters): weight 1 where it is a number, 0 where aimed."""
        if not units:
            return self
        return Penalty(self.kind, self.strength, self.units + tuple(units),
                       self.weights + (0.0 if self.aimed else 1.0,) * len(units), self.aimed)

    def with_strength(self, strength) -> "Penalty":
        """The same weights at another strength (a point of a regularisation path)."""
        return Penalty(self.kind, _strength(self.kind, strength), self.units, self.weights, self.aimed)

    def words(self, fmt_unit) -> str:
        """The weighted sum in words: ``(b**2 + c**2)``, ``(0.1*|b| + 0.5*|c|)``; ``fmt_unit(unit)`` writes one term."""
        terms = [(w, fmt_unit(u)) for u, w in zip(self.units, self.weights) if w > 0]
        return "(" + " + ".join(t if w == 1.0 else f"{w:g}*{t}" for w, t in terms) + ")"

    def describe(self) -> str:
        """``l1 = 0.1`` or ``l1 = {b: 0.1, c: 0.5}``: the penalty as given."""
        if not self.aimed:
            return f"{self.kind} = {self.strength:g}"
        return f"{self.kind} = {{{', '.join(f'{u}: {w:g}' for u, w in zip(self.units, self.weights) if w > 0)}}}"


def _strength(kind: str, value) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ModelError(f"{kind} must be a number >= 0 (such as 0.1) or a mapping from parameter names (or "
                         f"'coef' / 'intercept' over a data matrix) to numbers, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ModelError(f"{kind} must be a finite number >= 0, got {value!r}")
    return value


def read(kind: str, given, units: tuple, default: tuple, what: str = "parameter") -> Penalty:
    """``given`` (a number or a mapping) as a :class:`Penalty` over ``units`` (parameter or block names);
    ``default``: the weight of each unit when a number is given (1 penalised, 0 free)."""
    if hasattr(given, "keys") and not isinstance(given, (str, bytes)):
        unknown = [str(k) for k in given.keys() if k not in units]
        if unknown:
            raise ModelError(f"{kind} names {', '.join(map(repr, unknown))}, which {'is' if len(unknown) == 1 else 'are'} "
                             f"not a {what} of this objective; the {what}s are {', '.join(map(repr, units))}")
        weights = tuple(_strength(f"{kind}[{u!r}]", given[u]) if u in given else 0.0 for u in units)
        strength = 1.0 if any(w > 0 for w in weights) else 0.0
        return Penalty(kind, strength, tuple(units), weights, aimed=True)
    return Penalty(kind, _strength(kind, given), tuple(units), tuple(float(d) for d in default))


def penalize_defaults(names: tuple, penalize, unpenalised: set) -> tuple:
    """The weight of each parameter for a penalty given as a number: 1 on those ``penalize`` names (every
    parameter when None, less ``unpenalised``), 0 on the rest."""
    if penalize is None:
        return tuple(0.0 if n in unpenalised else 1.0 for n in names)
    if isinstance(penalize, str) or not hasattr(penalize, "__iter__"):
        raise ModelError(f"penalize must be a list of parameter names, such as penalize=['b', 'c'], got {penalize!r}")
    chosen = [str(getattr(p, "name", p)) for p in penalize]
    unknown = [c for c in chosen if c not in names]
    if unknown:
        raise ModelError(f"penalize names {', '.join(map(repr, unknown))}, not a parameter of this objective; "
                         f"the parameters are {', '.join(map(repr, names))}")
    return tuple(1.0 if n in chosen else 0.0 for n in names)


def flat_weights(penalty: Penalty, blocks) -> np.ndarray:
    """One weight per entry of the flat parameter vector, from ``blocks`` (``(name, size)`` pairs)."""
    return np.concatenate([np.full(size, penalty.weight(name)) for name, size in blocks]) if blocks else np.zeros(0)


def l1_subgradient(objective, dataset, x, grad, lower=None, upper=None) -> np.ndarray:
    """The minimum-norm subgradient of the minimised objective at ``x`` (``grad``: the gradient symopt's
    evaluations give, whose ``l1`` part is ``l1 w_j sign(x_j)``), in the objective's own sense."""
    from ..optimizers.proximal import minimum_norm_subgradient

    sign = -1.0 if objective.maximize else 1.0
    lam = objective.l1 * objective.form.l1_mask(dataset)
    smooth = sign * np.asarray(grad, dtype=float) - lam * np.sign(x)
    return sign * minimum_norm_subgradient(x, smooth, lam, lower, upper)


def l1_check(objective, dataset, x, grad, scale: float, lower=None, upper=None):
    """The optimality condition of an ``l1``-penalised problem at ``x``, as a
    :class:`symopt.model.bounds.BoundCheck`: the minimum-norm subgradient of the minimised objective is 0
    (``grad``: the gradient NumPy gives at ``x``, whose ``l1`` part is ``l1 w_j sign(x_j)``; ``scale``: the
    objective's size, for what 0 is). ``at_bound`` names the parameters at exactly 0 (``"zero"``)."""
    from .bounds import KKT_TOLERANCE, BoundCheck

    lam = objective.l1 * objective.form.l1_mask(dataset)
    r = l1_subgradient(objective, dataset, x, grad, lower, upper)
    worst = float(np.max(np.abs(r), initial=0.0))
    ok = worst <= KKT_TOLERANCE * max(scale, 1e-300)
    names = objective.form.flat_names(dataset)
    zeros = {names[j]: "zero" for j in np.flatnonzero((x == 0.0) & (lam > 0))}
    penalised = int(np.count_nonzero(lam > 0))
    message = (f"l1: {len(zeros)} of {penalised} penalised parameters exactly 0; the subgradient condition "
               f"{'holds' if ok else 'FAILS'} (largest component of the minimum-norm subgradient {worst:.2g})")
    return BoundCheck(zeros, ok, message)

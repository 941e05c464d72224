"""``bounds=``: parameters kept in a range, ``lower <= p <= upper`` (either side may be open).

Which parameters are bounded, and on which sides, is structure (the problem is derived and compiled once for
it); the bound values are run-time arguments of the generated code (``lower`` and ``upper``), so a profile
interval or a grid over a bound solves again without compiling. A symbol declared ``positive=True`` or
``nonnegative=True`` (``negative``, ``nonpositive``) is bounded below (above) by 0 without ``bounds=``; a
given bound and an assumption are intersected.

Each path keeps the bounds its own way:

* the **linear closed form** solves the bounded least-squares problem exactly, by the Stark-Parker
  active-set method (:mod:`symopt.closed_form.bvls`);
* **symbolic** candidates outside the bounds are rejected, with the reason, and the iterative solver runs;
* the **iterative** solvers keep them in their generated code (the ``{% if bounded %}`` parts of
  ``templates/optimizers/``), by **projection**: every candidate point is clipped into the box, so every
  iterate is feasible, and a parameter that sits on a bound with the gradient pointing out of the box is
  held there for the step (the active set). Levenberg-Marquardt solves its damped Gauss-Newton step for the
  other parameters and projects it (the predicted decrease is the model's at the projected step); L-BFGS
  leaves the held parameters out of its direction and searches along the projected path (Bertsekas 1982),
  so several parameters can reach their bounds in one step; Newton is Bertsekas' projected Newton; the
  first-order methods are projected gradient steps. Variable projection's inner solve for the linear
  parameters becomes a bounded least-squares solve (Stark-Parker, as the linear closed form, in the
  generated code), and its Kaufman Jacobian projects out the columns of the free linear parameters only.
  Where no bound is touched, every optimizer takes exactly the steps it takes without bounds (the bounded
  module differs only where a step is clipped, a parameter held or an inner solve leaves the box), so an
  interior optimum costs what it costs unbounded.

A parameter that ends within :data:`AT_BOUND` (relative) of a bound, with the gradient pointing out of the
feasible set there, is reported as at that bound (:attr:`symopt.Result.at_bound`), put exactly on it, and the
Karush-Kuhn-Tucker condition is checked (:func:`kkt`). Its standard error is None; the others are computed with
it held at the bound.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from .errors import ModelError

#: A parameter this close to a bound (relative to ``max(1, |bound|)``) is a candidate for being at it.
AT_BOUND = 1e-7
#: A gradient component is "zero" below this fraction of the objective's size (for the KKT check).
KKT_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Box:
    """The bounds on an objective's parameters: ``lower`` and ``upper`` map each bounded parameter's name to
    a float (``-inf`` / ``inf`` on an open side); parameters not named are free."""

    lower: dict
    upper: dict

    def __bool__(self) -> bool:
        return bool(self.lower)

    @property
    def names(self) -> tuple:
        return tuple(self.lower)

    def side(self, name: str) -> str:
        """``"both"``, ``"lower"`` or ``"upper"``: which sides of ``name`` are closed."""
        lo, hi = math.isfinite(self.lower[name]), math.isfinite(self.upper[name])
        return "both" if lo and hi else ("lower" if lo else "upper")

    def structure(self) -> tuple:
        return tuple((name, self.side(name)) for name in self.names)

    def arrays(self, names) -> tuple[np.ndarray, np.ndarray]:
        """``(lower, upper)`` over ``names`` (``-inf`` / ``inf`` for the unbounded ones)."""
        return (np.array([self.lower.get(n, -math.inf) for n in names]),
                np.array([self.upper.get(n, math.inf) for n in names]))

    def without(self, names) -> "Box":
        names = set(names)
        return Box({k: v for k, v in self.lower.items() if k not in names},
                   {k: v for k, v in self.upper.items() if k not in names})

    def as_dict(self) -> dict:
        """name -> ``(lower, upper)``, None on an open side (what ``bounds=`` takes)."""
        return {n: (None if math.isinf(self.lower[n]) else self.lower[n],
                    None if math.isinf(self.upper[n]) else self.upper[n]) for n in self.names}

    def violations(self, values: dict) -> list[str]:
        """The bounds ``values`` (name -> number) break, in words."""
        out = []
        for name in self.names:
            v = values.get(name)
            if v is None:
                continue
            if v < self.lower[name]:
                out.append(f"{name} = {v:.6g} < {self.lower[name]:g}")
            elif v > self.upper[name]:
                out.append(f"{name} = {v:.6g} > {self.upper[name]:g}")
        return out


def _number(name, side, value) -> float:
    if value is None:
        return -math.inf if side == "lower" else math.inf
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise ModelError(f"the {side} bound of {name!r} must be a number or None (open), got {value!r}")
    return float(value)


def assumed(params) -> dict:
    """Bounds the parameters' SymPy assumptions imply: name -> (lower, upper)."""
    out = {}
    for p in params:
        if p.is_positive or p.is_nonnegative:
            out[p.name] = (0.0, math.inf)
        elif p.is_negative or p.is_nonpositive:
            out[p.name] = (-math.inf, 0.0)
    return out


def check_bounds(objective, bounds, fixed: dict) -> Box:
    """``bounds`` (name -> ``(lower, upper)``, None for an open side), intersected with what the parameters'
    assumptions imply, checked against ``objective`` (the whole one, before ``fixed`` is taken out)."""
    given = {}
    if bounds is not None:
        if not hasattr(bounds, "items"):
            raise ModelError(f"bounds must be a mapping from parameter names to (lower, upper) pairs, such as "
                             f"{{'a': (0, None), 'b': (-1, 1)}}; got {type(bounds).__name__}")
        names = objective.param_names
        for name, pair in bounds.items():
            if name not in names:
                what = "" if objective.form.per_parameter else ("a LinearModel over a data matrix or a network: "
                                                                "bounds= applies to named parameters")
                raise ModelError(f"bounds names {name!r}, which is not a parameter of the objective "
                                 f"({', '.join(names) if names else what})")
            if isinstance(pair, (str, bytes)) or not hasattr(pair, "__len__") or len(pair) != 2:
                raise ModelError(f"the bounds of {name!r} must be a pair (lower, upper), None for an open side; "
                                 f"got {pair!r}")
            given[name] = (_number(name, "lower", pair[0]), _number(name, "upper", pair[1]))
    merged = {}
    implied = assumed(objective.params)
    for p in objective.params:
        lo, hi = given.get(p.name, (-math.inf, math.inf))
        a_lo, a_hi = implied.get(p.name, (-math.inf, math.inf))
        lo, hi = max(lo, a_lo), min(hi, a_hi)
        if math.isinf(lo) and math.isinf(hi) and lo < 0 < hi:
            continue
        if not lo < hi:
            why = " (with what its SymPy assumptions imply)" if p.name in implied else ""
            hint = f"; to hold it at one value use fixed={{{p.name!r}: {lo:g}}}" if lo == hi else ""
            raise ModelError(f"the bounds of {p.name!r}{why} leave no room: lower {lo:g} must be below upper "
                             f"{hi:g}{hint}")
        if p.name in fixed:
            if not lo <= fixed[p.name] <= hi:
                raise ModelError(f"{p.name!r} is fixed at {fixed[p.name]:g}, outside its bounds [{lo:g}, {hi:g}]")
            continue
        merged[p.name] = (lo, hi)
    if merged and not objective.form.per_parameter:
        raise ModelError("bounds apply to the named parameters of an expression model; a LinearModel over a "
                         "data matrix or a network has none")
    return Box({k: v[0] for k, v in merged.items()}, {k: v[1] for k, v in merged.items()})


def inside(box: Box, names, x, default: bool) -> np.ndarray:
    """A start inside the box: a ``default`` start (symopt's, not the user's) outside a bound is moved inside,
    a tenth of the width into a two-sided range, 1 into a one-sided one; one on a bound stays there (the
    default start is already one where the objective is finite, :func:`symopt.run.starting_point`, and the
    generated code moves a parameter off its bound where the gradient points inside); a user's start is
    left as it is (one outside the bounds is refused before)."""
    x = np.array(x, dtype=float)
    for j, name in enumerate(names):
        if name not in box.lower:
            continue
        lo, hi = box.lower[name], box.upper[name]
        if lo <= x[j] <= hi or not default:
            continue
        side = box.side(name)
        if side == "both":
            x[j] = lo + 0.1 * (hi - lo) if x[j] <= lo else hi - 0.1 * (hi - lo)
        else:
            x[j] = lo + 1.0 if side == "lower" else hi - 1.0
    return x


# --- in the iterative solvers -------------------------------------------------------------------------------


def describe(box: Box, optimizer, names) -> str:
    """How the iterative run of ``optimizer`` keeps ``box``, in words (for :attr:`symopt.Result.why`);
    ``names``: the parameters' names in flat order."""
    sides = ", ".join(f"{n} in [{box.lower[n]:g}, {box.upper[n]:g}]" for n in box.names)
    how = PROJECTED.get(type(optimizer).__name__, "every step projected onto the box")
    words = f"bounds ({sides}) kept by the generated code: {how}, so every iterate is feasible"
    linear = [names[j] for j in getattr(optimizer, "linear", ()) if names[j] in box.lower]
    if linear:
        words += (f"; variable projection solves for {', '.join(linear)} by bounded least squares (Stark-Parker, "
                  f"in the generated code)")
    return words


#: How each optimizer keeps the bounds (the templates' ``{% if bounded %}`` parts).
PROJECTED = {
    "LevenbergMarquardt": "the parameters on a bound with the gradient pointing out held there, the damped "
                          "Gauss-Newton step solved for the others and projected onto the box",
    "ProjectedLevenbergMarquardt": "the parameters on a bound with the gradient pointing out held there, the "
                                   "damped Gauss-Newton step solved for the others and projected onto the box",
    "LBFGS": "the parameters on a bound with the gradient pointing out left out of the direction, the line "
             "search along its projection onto the box",
    "Newton": "projected Newton (the Newton system solved for the parameters not held on a bound, the "
              "backtracking along the projection onto the box)",
}


# --- at the end of a run -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoundCheck:
    """Which parameters ended on a bound and the KKT condition there: ``at_bound`` maps each to "lower" or
    "upper"; ``ok`` says whether the gradient points out of the feasible set at each (and is zero at the free
    ones); ``message`` says so in words."""

    at_bound: dict
    ok: bool
    message: str


def near(box: Box, names, x) -> bool:
    """Whether any bounded parameter in ``x`` is within :data:`AT_BOUND` of a bound (else none can be at one)."""
    for j, name in enumerate(names):
        if name in box.lower:
            for bound in (box.lower[name], box.upper[name]):
                if math.isfinite(bound) and abs(x[j] - bound) <= AT_BOUND * max(1.0, abs(bound)):
                    return True
    return False


def snap(box: Box, names, x, grad, scale: float) -> tuple[np.ndarray, dict]:
    """``(x, at_bound)``: the parameters within :data:`AT_BOUND` of a bound whose gradient component is not
    zero there (``scale``: the objective's size, for what a zero gradient is) put exactly on it. Which way the
    gradient points is :func:`kkt`'s to judge (an interior optimum that touches a bound, gradient zero, is not
    "at" it)."""
    x = np.array(x, dtype=float)
    at = {}
    tiny = KKT_TOLERANCE * max(scale, 1e-300)
    for j, name in enumerate(names):
        if name not in box.lower or not abs(grad[j]) > tiny:
            continue
        for side, bound in (("lower", box.lower[name]), ("upper", box.upper[name])):
            if math.isfinite(bound) and abs(x[j] - bound) <= AT_BOUND * max(1.0, abs(bound)):
                x[j], at[name] = bound, side
    return x, at


def kkt(box: Box, names, x, grad, at_bound: dict, maximize: bool, scale: float) -> BoundCheck:
    """The Karush-Kuhn-Tucker check at ``x``: at a lower bound ``dF/dp >= 0`` (minimising), at an upper one
    ``<= 0``, elsewhere ``|dF/dp|`` small (relative to ``scale``)."""
    sign = -1.0 if maximize else 1.0
    tiny = KKT_TOLERANCE * max(scale, 1e-300)
    parts, ok = [], True
    for j, name in enumerate(names):
        g = sign * grad[j]
        side = at_bound.get(name)
        if side is None:
            continue
        bound = box.lower[name] if side == "lower" else box.upper[name]
        good = g >= -tiny if side == "lower" else g <= tiny
        ok &= good
        parts.append(f"{name} at its {side} bound {bound:g} (dF/d{name} = {grad[j]:.3g}: "
                     f"{'the gradient points out of the feasible set' if good else 'WRONG SIGN: F improves inside'})")
    message = "; ".join(parts)
    return BoundCheck(dict(at_bound), ok, message)

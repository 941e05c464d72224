"""``bounds=``: parameters kept in a range, ``lower <= p <= upper`` (either side may be open).

Which parameters are bounded, and on which sides, is structure (the problem is derived and compiled once for
it); the bound values are run-time data, one constant column each, so a profile interval or a grid over a bound
solves again without compiling. A symbol declared ``positive=True`` or ``nonnegative=True`` (``negative``,
``nonpositive``) is bounded below (above) by 0 without ``bounds=``; a given bound and an assumption are
intersected.

Each path keeps the bounds its own way:

* the **linear closed form** solves the bounded least-squares problem exactly, by the Stark-Parker
  active-set method (:mod:`symopt.closed_form.bvls`);
* **symbolic** candidates outside the bounds are rejected, with the reason, and the iterative solver runs;
* the **iterative** solvers run on a **change of variables** (MINUIT's and lmfit's): every iterate is
  feasible by construction, and every optimizer (Levenberg-Marquardt, Newton, L-BFGS, gradient descent) and
  every generated kernel works unchanged on the transformed objective,

  - both sides: ``p = lower + (upper - lower) * (1 + sin(u)) / 2``,
  - lower only: ``p = lower + u**2 / (1 + sqrt(1 + u**2))`` (that is ``lower - 1 + sqrt(1 + u**2)``,
    written without the cancellation near the bound),
  - upper only: ``p = upper - u**2 / (1 + sqrt(1 + u**2))``.

  At a bound ``dp/du = 0``, so an optimum on the bound is a stationary point in ``u`` (reached at the usual
  rate: near the bound the objective is quadratic in ``u``). A parameter the residuals are linear in stops
  being linear in ``u``, so variable projection does not solve for a bounded parameter (it still projects the
  unbounded ones).

A parameter that ends within :data:`AT_BOUND` (relative) of a bound, with the gradient pointing out of the
feasible set there, is reported as at that bound (:attr:`symopt.Result.at_bound`), put exactly on it, and the
Karush-Kuhn-Tucker condition is checked (:func:`kkt`). Its standard error is None; the others are computed with
it held at the bound.
"""

from __future__ import annotations

import copy
import math
import numbers
from dataclasses import dataclass

import numpy as np
import sympy as sp

from .data import Dataset
from .errors import ModelError
from .model import sorted_symbols

#: A parameter this close to a bound (relative to ``max(1, |bound|)``) is a candidate for being at it.
AT_BOUND = 1e-7
#: A parameter this close to a bound at the end of the transformed run, with the gradient pointing out, is held
#: on the bound and the others re-fitted (:func:`near_bound`).
NEAR_BOUND = 1e-3
#: A gradient component is "zero" below this fraction of the objective's size (for the KKT check).
KKT_TOLERANCE = 1e-6
#: A start on (or outside) a bound is moved this far inside, in ``u``: at the bound ``dp/du = 0`` and an
#: optimizer started there would not move.
START_INSIDE = 1e-2


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
    """A start inside the box: a ``default`` start (symopt's, not the user's) on or outside a bound is moved
    inside, a tenth of the width into a two-sided range, 1 into a one-sided one; a user's start is left as it
    is (one on a bound is moved off it by :func:`Transform.to_internal`'s :data:`START_INSIDE`)."""
    x = np.array(x, dtype=float)
    for j, name in enumerate(names):
        if name not in box.lower:
            continue
        lo, hi = box.lower[name], box.upper[name]
        if lo < x[j] < hi or not default:
            continue
        side = box.side(name)
        if side == "both":
            x[j] = lo + 0.1 * (hi - lo) if x[j] <= lo else hi - 0.1 * (hi - lo)
        else:
            x[j] = lo + 1.0 if side == "lower" else hi - 1.0
    return x


# --- the change of variables -------------------------------------------------------------------------------


def _unique(base: str, taken: set) -> str:
    name = base
    while name in taken:
        name += "_"
    taken.add(name)
    return name


@dataclass(frozen=True)
class Transform:
    """The change of variables of an objective's bounded parameters: ``internal`` is the objective in
    ``u`` (each bounded parameter ``p`` replaced by its expression in a parameter ``p_unbounded`` and the bound
    columns), ``columns`` maps each bounded name to its ``(lower column, upper column)`` names (None where
    open)."""

    internal: object
    columns: dict
    box: Box
    expressions: dict  # name -> the SymPy expression of p in u and the bound symbols

    def with_columns(self, dataset: Dataset, box: Box | None = None) -> Dataset:
        """``dataset`` with the bound values as constant columns (``box``: other values of the same bounds)."""
        box = box or self.box
        arrays = dict(dataset.arrays)
        n = dataset.n_rows
        for name, (lo_col, hi_col) in self.columns.items():
            if lo_col:
                arrays[lo_col] = np.full(n, box.lower[name])
            if hi_col:
                arrays[hi_col] = np.full(n, box.upper[name])
        return Dataset(arrays, n, dataset.n_classes)

    def to_internal(self, names, x, box: Box | None = None) -> np.ndarray:
        """The flat ``u`` for the flat feasible point ``x`` (clipped into the box, and moved off a bound by
        :data:`START_INSIDE`)."""
        box = box or self.box
        u = np.array(x, dtype=float)
        for j, name in enumerate(names):
            if name not in self.columns:
                continue
            lo, hi, side = box.lower[name], box.upper[name], box.side(name)
            if side == "both":
                s = float(np.clip(2.0 * (x[j] - lo) / (hi - lo) - 1.0, -1.0, 1.0))
                u[j] = float(np.clip(math.asin(s), -math.pi / 2 + START_INSIDE, math.pi / 2 - START_INSIDE))
            else:
                d = max(0.0, (x[j] - lo) if side == "lower" else (hi - x[j]))
                u[j] = max(math.sqrt(d * d + 2.0 * d), START_INSIDE)
        return u

    def to_external(self, names, u, box: Box | None = None) -> np.ndarray:
        """The flat point for the flat ``u`` (the expressions evaluated in NumPy)."""
        box = box or self.box
        x = np.array(u, dtype=float)
        for j, name in enumerate(names):
            if name not in self.columns:
                continue
            lo, hi, side = box.lower[name], box.upper[name], box.side(name)
            if side == "both":
                x[j] = min(hi, max(lo, lo + (hi - lo) * (1.0 + math.sin(u[j])) / 2.0))
            else:
                d = u[j] * u[j] / (1.0 + math.sqrt(1.0 + u[j] * u[j]))
                x[j] = lo + d if side == "lower" else hi - d
        return x

    def describe(self) -> str:
        return "; ".join(f"{name} = {sp.sstr(expr)}" for name, expr in self.expressions.items())


def transform(objective, box: Box) -> Transform:
    """The objective in unbounded variables (see the module docstring), for the iterative solvers."""
    if objective.l2:
        raise ModelError("bounds with an l2 penalty are solved only by the linear closed form (bounded least "
                         "squares); for this objective the iterative solver would need the penalty on the "
                         "transformed parameters, which it does not have: drop l2= or the bounds")
    taken = {s.name for s in objective.per_sample.free_symbols} | {p.name for p in objective.params}
    if objective._residual is not None:
        taken |= {s.name for s in objective._residual.free_symbols}
    mapping, params, columns, expressions = {}, [], {}, {}
    for p in objective.params:
        if p.name not in box.lower:
            params.append(p)
            continue
        u = sp.Symbol(_unique(f"{p.name}_unbounded", taken), real=True)
        side = box.side(p.name)
        lo = sp.Symbol(_unique(f"{p.name}_lower", taken), real=True) if side != "upper" else None
        hi = sp.Symbol(_unique(f"{p.name}_upper", taken), real=True) if side != "lower" else None
        if side == "both":
            expr = lo + (hi - lo) * (1 + sp.sin(u)) / 2
        else:
            d = u ** 2 / (1 + sp.sqrt(1 + u ** 2))
            expr = lo + d if side == "lower" else hi - d
        mapping[p], expressions[p.name] = expr, expr
        columns[p.name] = (lo.name if lo is not None else None, hi.name if hi is not None else None)
        params.append(u)
    new = copy.copy(objective)
    new.params = tuple(params)
    new.per_sample = objective.per_sample.xreplace(mapping)
    if objective._residual is not None:
        new._residual = objective._residual.xreplace(mapping)
    new.form = type(objective.form)(new)
    new.data_symbols = sorted_symbols(new.per_sample.free_symbols - set(new.params))
    return Transform(new, columns, box, expressions)


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


def near_bound(box: Box, names, x, grad, scale: float, maximize: bool) -> dict:
    """name -> (side, bound) for the parameters within :data:`NEAR_BOUND` of a bound with the gradient pointing
    out of the feasible set there: where the change of variables slows down (``dp/du -> 0`` at the bound, so
    Gauss-Newton sees no slope), the active-set step holds them on the bound and re-fits the others."""
    tiny = KKT_TOLERANCE * max(scale, 1e-300)
    out = {}
    for j, name in enumerate(names):
        if name not in box.lower or not np.isfinite(grad[j]):
            continue
        g = -grad[j] if maximize else grad[j]
        for side, bound, outward in (("lower", box.lower[name], g > tiny), ("upper", box.upper[name], g < -tiny)):
            if math.isfinite(bound) and outward and abs(x[j] - bound) <= NEAR_BOUND * max(1.0, abs(bound)):
                out[name] = (side, bound)
    return out


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

"""``bounds=``: parameters kept in a range, ``lower <= p <= upper`` (either side may be open).

Whether a problem has bounds is structure (its generated code is compiled with them or not); the bound values
are run-time arguments of the generated code (``lower`` and ``upper``), so a profile interval or a grid over
a bound solves again without compiling. A symbol declared ``positive=True`` or ``nonnegative=True``
(``negative``, ``nonpositive``) is bounded below (above) by 0 without ``bounds=``; a given bound and an
assumption are intersected. A ``LinearModel()`` over a data matrix takes bounds on ``intercept`` and on
``coef``: one pair for every coefficient, or arrays of one bound per coefficient (``-inf`` / ``inf`` where
open).

Each path keeps the bounds its own way:

* the **linear closed form** solves the bounded least-squares problem exactly, by the Stark-Parker
  active-set method (:mod:`symopt.numerics.bvls`);
* **symbolic** candidates outside the bounds are rejected, with the reason, and the iterative solver runs;
* the **iterative** solvers keep them in their generated code (the ``{% if bounded %}`` parts of
  ``codegen/templates/optimizers/``), by **projection**: every candidate point is clipped into the box, so every
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

A parameter that ends within :data:`AT_BOUND` (relative) of a bound, and within :data:`NARROW_SHARE` of its
box's width (so that in a box narrower than the tolerance a point is near one bound at most), with the gradient
pointing out of the feasible set there, is reported as at that bound (:attr:`symopt.Result.at_bound`), put exactly on it, and the
Karush-Kuhn-Tucker condition is checked (:func:`kkt`). Its standard error is None; the others are computed with
it held at the bound.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..errors import ModelError

#: A parameter this close to a bound (relative to ``max(1, |bound|)``) is a candidate for being at it.
AT_BOUND = 1e-7
#: ... and within this share of the box's width (upper - lower), so that in a box narrower than AT_BOUND a point
#: is near one bound at most: below a half, the two bands cannot meet; a third leaves the middle third of any
#: box interior.
NARROW_SHARE = 1 / 3
#: A gradient component is "zero" below this fraction of the objective's size (for the KKT check).
KKT_TOLERANCE = 1e-6


@dataclass(frozen=True, eq=False)
class Box(Mapping):
    """The bounds on an objective's parameters, checked once where they come in (:func:`check_bounds`) and the
    one type they travel as, to :attr:`symopt.Result.bounds`: ``lower`` and ``upper`` map each bounded
    parameter's name to a float (``-inf`` / ``inf`` on an open side), or, for an array parameter (``coef``),
    a float for every entry or an array of one per entry; parameters not named are free. :meth:`flat` lays
    them out along the flat parameter vector of a dataset.

    It reads as the mapping ``bounds=`` takes: ``box["b"]`` is ``(lower, upper)`` with None on an open side,
    ``dict(box)`` the plain dict, and ``box == {"b": (1.0, None)}`` compares as one; given back as
    ``bounds=`` it is taken as checked."""

    lower: dict
    upper: dict

    @classmethod
    def empty(cls) -> "Box":
        """No bounds."""
        return cls({}, {})

    def __bool__(self) -> bool:
        return bool(self.lower)

    def __getitem__(self, name: str) -> tuple:
        def given(v):
            return v if np.ndim(v) else (None if math.isinf(v) else v)
        return given(self.lower[name]), given(self.upper[name])

    def __iter__(self):
        return iter(self.lower)

    def __len__(self) -> int:
        return len(self.lower)

    def __repr__(self) -> str:
        return f"Box({self.as_dict()!r})"

    @property
    def names(self) -> tuple:
        return tuple(self.lower)

    def flat(self, form, dataset) -> "FlatBox":
        """The bounds entry by entry along ``form``'s flat vector on ``dataset`` (an array bound checked
        against its parameter's size)."""
        names = tuple(form.flat_names(dataset))
        lower, upper = np.full(len(names), -math.inf), np.full(len(names), math.inf)
        k = 0
        for name, size in form.blocks(dataset):
            if name in self.lower:
                for side, given, out in (("lower", self.lower[name], lower), ("upper", self.upper[name], upper)):
                    value = np.asarray(given, dtype=float)
                    if value.ndim and value.shape != (size,):
                        raise ModelError(f"the {side} bounds of {name!r} have {value.size} entries; {name} has "
                                         f"{size} here (one per column of X): give one number for all, or "
                                         f"{size}")
                    out[k:k + size] = value
            k += size
        return FlatBox(names, lower, upper, self)

    def as_dict(self) -> dict:
        """name -> ``(lower, upper)``, None on an open side (what ``bounds=`` takes; arrays as given)."""
        return {n: self[n] for n in self.names}

    def describe(self) -> str:
        """``"b in [1, inf], coef in [0, inf]"`` (per-entry bounds of an array said so)."""
        def one(n):
            lo, hi = self.lower[n], self.upper[n]
            if np.ndim(lo) or np.ndim(hi):
                return f"{n} in per-entry bounds"
            return f"{n} in [{show_number(lo)}, {show_number(hi)}]"
        return ", ".join(one(n) for n in self.names)


def show_number(value, near=None) -> str:
    """``value`` in as few digits as tell it apart: ``:g``'s six where they give it back exactly (or, with
    ``near``, tell it from ``near``), else every digit (a bound of a box narrower than six digits, 1 + 1e-9,
    is not shown as 1)."""
    value = float(value)
    text = f"{value:g}"
    if float(text) == value or (near is not None and text != f"{float(near):g}"):
        return text
    return repr(value)


def _number(name, side, value) -> float:
    if value is None:
        return -math.inf if side == "lower" else math.inf
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise ModelError(f"the {side} bound of {name!r} must be a number or None (open), got {value!r}")
    return float(value)


def _numbers(name, side, value):
    """A bound of an array parameter: a number (None: open) for every entry, or a 1-D array of them."""
    if value is None or isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        return _number(name, side, value)
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.ndim != 1 or np.any(np.isnan(arr)):
        raise ModelError(f"the {side} bounds of {name!r} must be a number or None (open) for every entry, or a "
                         f"1-D array of numbers (-inf / inf where open), got {value!r}")
    return arr


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
    form = objective.form
    names = form.block_names()
    given = {}
    if bounds is not None:
        if not hasattr(bounds, "items"):
            raise ModelError(f"bounds must be a mapping from parameter names to (lower, upper) pairs, such as "
                             f"{{'a': (0, None), 'b': (-1, 1)}}; got {type(bounds).__name__}")
        if bounds and form.no_bounds:
            raise ModelError(f"bounds are not supported on {form.no_bounds}; they apply to the named parameters of an "
                             f"expression model and to intercept and coef of a LinearModel over a data matrix")
        for name, pair in bounds.items():
            if isinstance(bounds, Box) and name in names:  # read and checked where it came in
                given[name] = (bounds.lower[name], bounds.upper[name])
                continue
            if name not in names:
                raise ModelError(f"bounds names {name!r}, which is not a parameter of the objective "
                                 f"({', '.join(names)})")
            if isinstance(pair, (str, bytes)) or not hasattr(pair, "__len__") or len(pair) != 2:
                raise ModelError(f"the bounds of {name!r} must be a pair (lower, upper), None for an open side; "
                                 f"got {pair!r}")
            read = _numbers if form._is_array(name) else _number
            given[name] = (read(name, "lower", pair[0]), read(name, "upper", pair[1]))
    merged = {}
    implied = assumed(objective.params)
    if not given and not implied:  # the common case, on every solve: nothing to intersect or check
        return Box.empty()
    for name in names:
        lo, hi = given.get(name, (-math.inf, math.inf))
        if name in implied:  # a scalar parameter's SymPy assumption
            lo, hi = max(lo, implied[name][0]), min(hi, implied[name][1])
        if np.ndim(lo) or np.ndim(hi):  # an array parameter's bounds, one per entry
            if np.all(np.isneginf(lo) & np.isposinf(hi)):
                continue
            if not np.all(np.less(lo, hi)):
                entry = int(np.flatnonzero(~np.broadcast_to(np.less(lo, hi), np.broadcast(lo, hi).shape))[0])
                raise ModelError(f"the bounds of {name!r} leave no room at entry {entry}: each lower bound must be "
                                 f"below its upper bound")
            merged[name] = (lo, hi)
            continue
        if lo == -math.inf and hi == math.inf:
            continue
        if not lo < hi:
            why = " (with what its SymPy assumptions imply)" if name in implied else ""
            hint = f"; to hold it at one value use fixed={{{name!r}: {show_number(lo)}}}" if lo == hi else ""
            raise ModelError(f"the bounds of {name!r}{why} leave no room: lower {show_number(lo)} must be below "
                             f"upper {show_number(hi)}{hint}")
        if name in fixed:
            if not lo <= fixed[name] <= hi:
                raise ModelError(f"{name!r} is fixed at {show_number(fixed[name])}, outside its bounds "
                                 f"[{show_number(lo)}, {show_number(hi)}]")
            continue
        merged[name] = (lo, hi)
    return Box({k: v[0] for k, v in merged.items()}, {k: v[1] for k, v in merged.items()})


@dataclass(frozen=True)
class BoundCheck:
    """Which parameters ended on a bound and the KKT condition there: ``at_bound`` maps each to "lower" or
    "upper"; ``ok`` says whether the gradient points out of the feasible set at each (and is zero at the free
    ones); ``message`` says so in words."""

    at_bound: dict
    ok: bool
    message: str


#: The KKT message names at most this many at-bound entries (a wide model may have hundreds).
SHOWN_AT_BOUND = 6


@dataclass(frozen=True)
class FlatBox:
    """The bounds along the flat parameter vector: ``names`` (one per entry, as
    :meth:`symopt.model.kinds.base.Form.flat_names`), ``lower`` and ``upper`` (``-inf`` / ``inf`` where open), and the
    ``box`` by name they come from (:meth:`Box.flat`)."""

    names: tuple
    lower: np.ndarray
    upper: np.ndarray
    box: Box

    def __bool__(self) -> bool:
        return bool(self.box)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return self.lower, self.upper

    def violations(self, x) -> list[str]:
        """The bounds the flat point ``x`` breaks, in words."""
        out = []
        for name, v, lo, hi in zip(self.names, x, self.lower, self.upper):
            if v < lo:
                out.append(f"{name} = {show_number(v, lo)} < {show_number(lo)}")
            elif v > hi:
                out.append(f"{name} = {show_number(v, hi)} > {show_number(hi)}")
        return out

    def inside(self, x, default: bool) -> np.ndarray:
        """A start inside the box: a ``default`` start (symopt's, not the user's) outside a bound is moved
        inside, a tenth of the width into a two-sided range, 1 into a one-sided one; one on a bound stays there
        (the default start is already one where the objective is finite, :func:`symopt.run.loop.starting_point`,
        and the generated code moves a parameter off its bound where the gradient points inside); a user's
        start is left as it is (one outside the bounds is refused before)."""
        x = np.array(x, dtype=float)
        if not default:
            return x
        for j, (lo, hi) in enumerate(zip(self.lower, self.upper)):
            if lo <= x[j] <= hi:
                continue
            if math.isfinite(lo) and math.isfinite(hi):
                x[j] = lo + 0.1 * (hi - lo) if x[j] < lo else hi - 0.1 * (hi - lo)
            else:
                x[j] = lo + 1.0 if x[j] < lo else hi - 1.0
        return x

    def _close(self, x) -> tuple[np.ndarray, np.ndarray]:
        """Which entries are within :data:`AT_BOUND` (relative to ``max(1, |bound|)``) of their lower, upper bound,
        and within :data:`NARROW_SHARE` of the box's width, so that no entry is close to both (in a box narrower
        than the tolerance, a point on the upper bound was also "at" the lower one, and was put there)."""
        with np.errstate(invalid="ignore"):
            share = NARROW_SHARE * (self.upper - self.lower)  # inf where a side is open
            low_tol = np.minimum(AT_BOUND * np.maximum(1.0, np.abs(self.lower)), share)
            high_tol = np.minimum(AT_BOUND * np.maximum(1.0, np.abs(self.upper)), share)
            low = np.isfinite(self.lower) & (np.abs(x - self.lower) <= low_tol)
            high = np.isfinite(self.upper) & (np.abs(x - self.upper) <= high_tol)
        return low, high

    def near(self, x) -> bool:
        """Whether any entry of ``x`` is within :data:`AT_BOUND` of a bound (else none can be at one)."""
        low, high = self._close(np.asarray(x, dtype=float))
        return bool(np.any(low | high))

    def snap(self, x, grad, scale: float) -> tuple[np.ndarray, dict]:
        """``(x, at_bound)``: the entries within :data:`AT_BOUND` of a bound whose gradient component is not
        zero there (``scale``: the objective's size, for what a zero gradient is) put exactly on it. Which way
        the gradient points is :meth:`kkt`'s to judge (an interior optimum that touches a bound, gradient
        zero, is not "at" it)."""
        x = np.array(x, dtype=float)
        low, high = self._close(x)
        moving = np.abs(grad) > KKT_TOLERANCE * max(scale, 1e-300)
        at = {}
        for j in np.flatnonzero((low | high) & moving):
            x[j] = self.lower[j] if low[j] else self.upper[j]
            at[self.names[j]] = "lower" if low[j] else "upper"
        return x, at

    def put_on(self, x, at: dict) -> np.ndarray:
        """``x`` with the entries ``at`` names (name -> "lower" / "upper") exactly on those bounds."""
        x = np.array(x, dtype=float)
        for j, name in enumerate(self.names):
            side = at.get(name)
            if side is not None:
                x[j] = self.lower[j] if side == "lower" else self.upper[j]
        return x

    def kkt(self, x, grad, at_bound: dict, maximize: bool, scale: float) -> BoundCheck:
        """The Karush-Kuhn-Tucker check at ``x``: at a lower bound ``dF/dp >= 0`` (minimising), at an upper one
        ``<= 0`` (``scale``: the objective's size, for what a zero gradient is)."""
        sign = -1.0 if maximize else 1.0
        tiny = KKT_TOLERANCE * max(scale, 1e-300)
        parts, wrong, ok = [], [], True
        for j, name in enumerate(self.names):
            side = at_bound.get(name)
            if side is None:
                continue
            g = sign * grad[j]
            bound = self.lower[j] if side == "lower" else self.upper[j]
            good = g >= -tiny if side == "lower" else g <= tiny
            ok &= good
            (parts if good else wrong).append(
                f"{name} at its {side} bound {show_number(bound)} (dF/d{name} = {grad[j]:.3g}: "
                f"{'the gradient points out of the feasible set' if good else 'WRONG SIGN: F improves inside'})")
        shown = wrong + parts  # a wrong sign first: it is the news
        more = len(shown) - SHOWN_AT_BOUND
        message = "; ".join(shown[:SHOWN_AT_BOUND]) + (f"; and {more} more at a bound, each with the gradient "
                                                       f"pointing out" if more > 0 else "")
        return BoundCheck(dict(at_bound), ok, message)


# --- in the iterative solvers -------------------------------------------------------------------------------


def describe(flat: FlatBox, optimizer) -> str:
    """How the iterative run of ``optimizer`` keeps the bounds ``flat``, in words (for :attr:`symopt.Result.why`)."""
    how = PROJECTED.get(type(optimizer).__name__, "every step projected onto the box")
    words = f"bounds ({flat.box.describe()}) kept by the generated code: {how}, so every iterate is feasible"
    linear = [flat.names[j] for j in getattr(optimizer, "linear", ())
              if math.isfinite(flat.lower[j]) or math.isfinite(flat.upper[j])]
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
    "ProximalGradient": "every proximal step (soft-thresholding) clipped into the box",
    "Newton": "projected Newton (the Newton system solved for the parameters not held on a bound, the "
              "backtracking along the projection onto the box)",
}

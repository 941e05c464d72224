"""Regularisation paths: one objective solved over a grid of penalty strengths, each solve warm-started from
the one before, all on one compiled problem (the strength is a run-time number, :mod:`symopt.model.penalties`).

``symopt.path(objective, data, l1=[...])`` (or ``l2=[...]``) gives a :class:`RegularizationPath`: the grid, the
parameters at each value, the objective, the number of non-zero penalised parameters and each value's
:class:`~symopt.Result`. ``l1=20`` makes a grid of 20 values itself, as glmnet and scikit-learn's
``lasso_path`` do: from the smallest strength at which every penalised parameter is 0 down to a thousandth of
it, evenly on a log scale (solved from the largest, where the warm starts help most).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from .errors import ModelError
from .model.objective import Objective
from .problem import Problem
from .model.data import prepare
from .run.options import SolveOptions

#: An automatic grid ends at this fraction of the strength that zeroes every penalised parameter (glmnet's
#: ``lambda.min.ratio`` for n > p, scikit-learn's ``eps``).
GRID_RATIO = 1e-3


@dataclass(frozen=True)
class RegularizationPath:
    """The solves along a grid of one penalty's strengths (``penalty``: ``"l1"`` or ``"l2"``), in grid order.

    ``values``: the strengths; ``x``: the flat parameters at each (one row per value); ``names``: what each
    column of ``x`` is; ``params``: the parameters by name at each; ``objective``: F at each; ``n_nonzero``: how
    many penalised parameters are not exactly 0 at each; ``results``: each value's :class:`~symopt.Result`
    (its status, message, KKT check)."""

    penalty: str
    values: np.ndarray
    x: np.ndarray
    names: tuple
    params: tuple
    objective: np.ndarray
    n_nonzero: np.ndarray
    results: tuple

    @property
    def success(self) -> bool:
        """Whether every solve along the path converged (and passed its optimality check)."""
        return all(r.success for r in self.results)

    def __len__(self) -> int:
        return len(self.values)

    def __repr__(self) -> str:
        lines = [f"RegularizationPath over {self.penalty} ({len(self.values)} values, "
                 f"{'all converged' if self.success else 'NOT all converged'})",
                 f"  {self.penalty:>12}  {'F':>14}  non-zero  status"]
        for v, f, k, r in zip(self.values, self.objective, self.n_nonzero, self.results):
            lines.append(f"  {v:12.6g}  {f:14.8g}  {k:8d}  {r.status}")
        return "\n".join(lines)


def path(objective: Objective, data, *, l1=None, l2=None, optimizer=None, x0=None, bounds=None, fixed=None,
         progress: bool = False, backend: str = "auto") -> RegularizationPath:
    """Solve ``objective`` on ``data`` at each strength of ``l1`` (or ``l2``): a sequence of numbers >= 0, or for
    ``l1`` a count of values chosen automatically (see :mod:`symopt.paths`). The objective's own penalty gives
    the weights (aimed by name or block, or the default: every coefficient but the intercept); its other
    penalty stays as it is. Each solve starts from the previous solution (``x0``: the first one's start), and
    all share one problem, compiled once. ``optimizer``, ``bounds``, ``fixed`` and ``backend`` mean what they
    mean for :func:`symopt.solve`; ``progress`` shows each solve's progress bar.

    >>> import numpy as np, symopt
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 5)); y = X @ [3.0, 0, 0, -2.0, 0] + rng.normal(size=200)
    >>> lasso = symopt.path(symopt.squared_loss(symopt.LinearModel()), (X, y), l1=[1.0, 0.1, 0.01])
    >>> [int(k) for k in lasso.n_nonzero]
    [2, 4, 5]
    """
    if not isinstance(objective, Objective):
        raise ModelError(f"path() takes a symopt.Objective first, got {type(objective).__name__}")
    if (l1 is None) == (l2 is None):
        raise ModelError("path() takes the grid of one penalty: l1=[...] (or a count of values, l1=20) or l2=[...]")
    kind, given = ("l1", l1) if l1 is not None else ("l2", l2)
    auto = isinstance(given, numbers.Integral) and not isinstance(given, bool)
    if auto and kind == "l2":
        raise ModelError("l2= takes the grid itself (a list of numbers >= 0); an automatic grid is for l1 (l1=20)")
    options = SolveOptions(progress=progress)
    first = x0
    if fixed is None:  # prepared once for the whole path (what the solves share is kept with it)
        data = prepare(objective, data)
    if auto:
        if given < 1:
            raise ModelError(f"l1={given}: the number of values on the path must be at least 1")
        values, first = _automatic_grid(objective, data, int(given), optimizer, x0, bounds, fixed, backend, options)
    else:
        values = _grid(kind, given)
    results, start = [], first
    for value in values:
        variant = objective.with_strength(**{kind: float(value)})
        problem = Problem(variant, _optimizer_for(variant, optimizer), backend=backend, fixed=fixed, bounds=bounds)
        result = problem.solve_with(data, options, x0=start)
        results.append(result)
        start = result.x if result.x.size and np.all(np.isfinite(result.x)) else start
    return _record(kind, values, results, objective)


def _optimizer_for(variant: Objective, optimizer):
    """The optimizer given, or None (symopt's choice) where it does not fit this point of the path (an l1 path
    through 0, where the given ProximalGradient has no l1 to handle)."""
    if optimizer is None:
        return None
    if getattr(optimizer, "proximal", False) and not variant.l1:
        return None
    return optimizer


def _grid(kind: str, given) -> np.ndarray:
    try:
        values = np.asarray(given, dtype=float)
    except (TypeError, ValueError):
        raise ModelError(f"{kind}= must be a list of numbers >= 0 (the path's strengths), got {given!r}") from None
    if values.ndim != 1 or values.size == 0:
        raise ModelError(f"{kind}= must be a non-empty list of numbers >= 0, got {given!r}")
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        bad = int(np.flatnonzero(~(np.isfinite(values) & (values >= 0)))[0])
        raise ModelError(f"{kind}[{bad}] = {float(values[bad])!r}: every strength must be a finite number >= 0")
    return values


def _automatic_grid(objective, data, count, optimizer, x0, bounds, fixed, backend, options):
    """``(grid, start)``: ``count`` strengths from ``l1_max`` (where every penalised parameter is 0) down to
    ``GRID_RATIO * l1_max``, log-spaced, and the solution at ``l1_max`` as the first start. ``l1_max`` is the
    largest ``|dF/dtheta_j| / w_j`` of the penalised parameters at the fit with all of them held at 0 (found
    by one solve at a strength surely past it)."""
    strength = 1.0
    for _ in range(8):  # a strength at which every penalised parameter is 0
        variant = objective.with_strength(l1=strength)
        problem = Problem(variant, _optimizer_for(variant, optimizer), backend=backend, fixed=fixed, bounds=bounds)
        result = problem.solve_with(data, options, x0=x0)
        dataset = result.dataset
        weights = variant.form.l1_mask(dataset)
        penalised = weights > 0
        if not np.any(penalised):
            raise ModelError("an automatic l1 grid needs penalised parameters, and this objective's l1 weights are "
                             "all 0: give l1= a mapping with weights, or the grid itself")
        _, grad = problem.flat_value_and_grad(dataset, result.x, backend="numpy")
        sign = -1.0 if variant.maximize else 1.0
        smooth = sign * grad - variant.l1 * weights * np.sign(result.x)
        top = float(np.max(np.abs(smooth[penalised]) / weights[penalised]))
        if np.all(result.x[penalised] == 0.0) and top <= strength:
            if top <= 0.0 or not math.isfinite(top):
                raise ModelError("every penalised parameter is 0 at any l1 (the data do not move them): there is no "
                                 "path to follow")
            return top * np.logspace(0.0, math.log10(GRID_RATIO), count), result.x
        strength = max(10.0 * strength, 2.0 * top)
    raise ModelError("could not find an l1 strength at which every penalised parameter is 0 (the fit at l1 = "
                     f"{strength:g} still moves them): give the grid itself, l1=[...]")


def _record(kind, values, results, objective) -> RegularizationPath:
    names = tuple(results[0].x_names)
    x = np.array([r.x for r in results])
    dataset = results[0].dataset
    penalty = objective.l1_penalty if kind == "l1" else objective.l2_penalty
    mask = objective.form.penalty_mask(dataset, penalty) > 0 if dataset is not None else np.ones(x.shape[1], bool)
    if mask.shape[0] != x.shape[1]:  # fixed parameters left the flat vector: count them all
        mask = np.ones(x.shape[1], bool)
    nonzero = np.array([int(np.count_nonzero(row[mask] != 0.0)) for row in x])
    return RegularizationPath(kind, np.asarray(values, dtype=float), x, names,
                              tuple(r.params for r in results), np.array([r.fun for r in results]), nonzero,
                              tuple(results))

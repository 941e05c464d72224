"""Run generated solver code: arguments in, status and history out.

Checks the start point, calls the compiled descent loop, turns its status
code into words (with advice when it failed) and warns on non-convergence.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from .codegen import cache
from .codegen.render import render
from .errors import ConvergenceWarning, ModelError

STATUS = {
    0: ("converged", True, "the largest gradient component is below tol"),
    1: ("converged_ftol", True, "the relative change of the objective is below ftol"),
    2: ("max_iter", False, "stopped after max_iter iterations before the gradient fell below tol; "
                           "raise max_iter, loosen tol, or scale the data"),
    3: ("diverged", False, "the objective became non-finite: the step is too large; use a smaller lr, "
                           "line_search=True, or scale the data (the last finite parameters are returned)"),
    4: ("line_search_failed", False, "no step along the gradient reduced the objective: the gradient "
                                     "is at the limit of floating-point precision (loosen tol) or inaccurate"),
    5: ("nonfinite_start", False, "the objective or its gradient is not finite at the starting point; "
                                  "give x0= inside the model's domain"),
}


@dataclass(frozen=True)
class Run:
    x: np.ndarray
    fun: float
    nit: int
    status: str
    success: bool
    message: str
    grad_norm: float
    history: np.ndarray
    source: str
    source_path: object


def layout(objective, dataset) -> list[tuple[str, int]]:
    """Parameter names and sizes in the order of the flat vector ``x``."""
    if objective.wide:
        m = dataset["X"].shape[1]
        return ([("intercept", 1)] if objective.model.intercept else []) + [("coef", m)]
    return [(p.name, 1) for p in objective.params]


def unflatten(objective, dataset, x) -> dict:
    out, k = {}, 0
    for name, size in layout(objective, dataset):
        out[name] = float(x[k]) if size == 1 and not (objective.wide and name == "coef") else np.array(x[k:k + size])
        k += size
    return out


def start_point(objective, dataset, x0) -> np.ndarray:
    """``x0`` as a flat vector (from a mapping by name or a flat array), or the default start."""
    spec = layout(objective, dataset)
    size = sum(s for _, s in spec)
    if x0 is None:
        return np.array([1.0 if getattr(p, "is_positive", False) else 0.0 for p in objective.params]) \
            if not objective.wide else np.zeros(size)
    if isinstance(x0, dict):
        unknown = sorted(set(x0) - {n for n, _ in spec})
        if unknown:
            raise ModelError(f"x0 names unknown parameter(s) {', '.join(unknown)}; parameters: "
                             f"{', '.join(n for n, _ in spec)}")
        parts = []
        for name, s in spec:
            if name not in x0:
                raise ModelError(f"x0 gives no value for parameter {name!r}")
            v = np.atleast_1d(np.asarray(x0[name], dtype=float)).ravel()
            if v.size != s:
                raise ModelError(f"x0[{name!r}] has {v.size} value(s); {name} has {s}")
            parts.append(v)
        flat = np.concatenate(parts)
    else:
        flat = np.asarray(x0, dtype=float).ravel()
        if flat.size != size:
            raise ModelError(f"x0 has {flat.size} values; the problem has {size} parameters")
    if not np.all(np.isfinite(flat)):
        raise ModelError("x0 contains NaN or inf")
    return flat.copy()


def penalty_mask(objective, dataset) -> np.ndarray:
    if objective.wide:
        m = dataset["X"].shape[1]
        return np.r_[0.0, np.ones(m)] if objective.model.intercept else np.ones(m)
    return np.array([1.0 if p else 0.0 for p in objective.penalised])


def run_iterative(objective, derivation, dataset, optimizer, x0) -> Run:
    """Generate (or load from the cache) the solver module and run it."""
    rendered = render(objective, derivation, optimizer)
    module, path = cache.load(rendered.source, rendered.stem)
    theta0 = start_point(objective, dataset, x0)
    if x0 is None and not objective.wide:
        theta0 = _finite_default(objective, dataset, theta0)
    arrays = [dataset[name] for name in rendered.data_names]
    history = np.full(optimizer.max_iter + 1, np.nan)
    sign = -1.0 if objective.maximize else 1.0
    theta, fun, nit, code, gmax = module.minimise(
        theta0, *arrays, penalty_mask(objective, dataset), float(objective.l2), sign,
        *optimizer.arguments(), history)
    status, success, advice = STATUS[int(code)]
    message = advice if success else f"{status}: {advice}"
    if code == 2:
        warnings.warn(f"{type(optimizer).__name__} did not converge: {advice} "
                      f"(max |gradient| = {gmax:.3g}, tol = {optimizer.tol:g})", ConvergenceWarning, stacklevel=3)
    return Run(np.asarray(theta), float(fun), int(nit), status, success, message, float(gmax),
               history[: int(nit) + 1].copy(), rendered.source, path)


def _finite_default(objective, dataset, theta0):
    """Zeros can be outside a model's domain (log(s) at s = 0): fall back to ones."""
    from .evaluate import objective_value

    for candidate in (theta0, np.ones_like(theta0)):
        if math.isfinite(objective_value(objective, dataset, candidate)):
            return candidate
    return theta0

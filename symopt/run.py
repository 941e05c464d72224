"""Run generated solver code: arguments in, status and history out.

Checks the start point, calls the compiled optimizer loop in chunks (so a
long run shows progress and can be interrupted), turns its status code into
words (with advice when it failed) and warns on non-convergence.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from .codegen import cache
from .codegen.render import render
from .errors import ConvergenceWarning, ModelError
from .optimizers import RUNNING, STATUS

#: A failed run whose parameters ended beyond this size is said to have run away (an unbounded objective?).
RUNAWAY = 1e30


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


def _numbers(label: str, value) -> np.ndarray:
    """``value`` as a flat float array, or a ModelError that says what in ``label`` is not a number."""
    try:
        raw = np.asarray(value)
        if raw.dtype.kind in "USOc" or raw.dtype == bool:
            raise TypeError
        return np.atleast_1d(raw.astype(float)).ravel()
    except (TypeError, ValueError, OverflowError):
        text = repr(value)
        raise ModelError(f"{label} must hold real numbers; got {text if len(text) <= 60 else text[:57] + '...'}") from None


def start_point(objective, dataset, x0, label: str = "x0") -> np.ndarray:
    """``x0`` as a flat vector (from a mapping by name or a flat array), or the default start.

    Anything with ``keys()`` (a dict, a ``pandas.Series``...) is read by name, never by position.
    ``label`` names the argument in error messages.
    """
    spec = layout(objective, dataset)
    size = sum(s for _, s in spec)
    if x0 is None:
        return np.array([1.0 if getattr(p, "is_positive", False) else 0.0 for p in objective.params]) \
            if not objective.wide else np.zeros(size)
    if isinstance(x0, Mapping) or hasattr(x0, "keys"):
        x0 = {str(k): x0[k] for k in x0.keys()}
        unknown = sorted(set(x0) - {n for n, _ in spec})
        if unknown:
            raise ModelError(f"{label} names unknown parameter(s) {', '.join(unknown)}; parameters: "
                             f"{', '.join(n for n, _ in spec)}")
        parts = []
        for name, s in spec:
            if name not in x0:
                raise ModelError(f"{label} gives no value for parameter {name!r}")
            v = _numbers(f"{label}[{name!r}]", x0[name])
            if v.size != s:
                raise ModelError(f"{label}[{name!r}] has {v.size} value(s); {name} has {s}")
            parts.append(v)
        flat = np.concatenate(parts)
    else:
        flat = _numbers(label, x0)
        if flat.size != size:
            raise ModelError(f"{label} has {flat.size} values; the problem has {size} parameters")
    if not np.all(np.isfinite(flat)):
        raise ModelError(f"{label} contains NaN or inf")
    return flat.copy()


def penalty_mask(objective, dataset) -> np.ndarray:
    if objective.wide:
        m = dataset["X"].shape[1]
        return np.r_[0.0, np.ones(m)] if objective.model.intercept else np.ones(m)
    return np.array([1.0 if p else 0.0 for p in objective.penalised])


def run_iterative(objective, derivation, dataset, optimizer, x0, progress: bool = True) -> Run:
    """Generate (or load from the cache) the solver module and drive it to a stop."""
    rendered = render(objective, derivation, optimizer)
    module, path = cache.load(rendered.source, rendered.stem)
    theta = start_point(objective, dataset, x0)
    if x0 is None and not objective.wide:
        theta = _default_start(objective, derivation, dataset, theta)
    arrays = [dataset[name] for name in rendered.data_names]
    n, p = dataset.n_rows, theta.size
    grad, fs = np.zeros(p), np.zeros(2)
    fsize, isize = optimizer.state_size(p, n)
    fw, iw = np.zeros(fsize), np.zeros(isize, dtype=np.int64)
    if hasattr(optimizer, "init_state"):
        optimizer.init_state(fw, iw, n)
    sign = -1.0 if objective.maximize else 1.0
    fixed = (penalty_mask(objective, dataset), float(objective.l2), sign, optimizer.hyper())
    # The history grows with the run (max_iter may be far more than a run needs).
    history = np.full(min(optimizer.max_iter, 1023) + 1, np.nan)
    code = int(module.start(theta, grad, fs, fw, iw, *arrays, *fixed))
    history[0] = sign * fs[0]
    done = 0
    if code == RUNNING:
        code, done, history = _drive(module, optimizer, (theta, grad, fs, fw, iw, *arrays, *fixed), history,
                                     progress)
    if code == RUNNING:
        code = 8 if optimizer.stochastic else 2
    status, success, advice = STATUS[code]
    largest = float(np.max(np.abs(theta))) if theta.size else 0.0
    if not success and largest > RUNAWAY:
        advice = (f"the parameters ran away (largest |value| {largest:.3g}): the objective may have no finite "
                  f"{'maximum' if objective.maximize else 'minimum'} (check maximize=, the model's sign, or add "
                  f"l2=); otherwise: {advice}")
    message = advice if success else f"{status}: {advice}"
    gmax = float(np.max(np.abs(grad))) if grad.size else 0.0
    if code == 2:
        warnings.warn(f"{type(optimizer).__name__} did not converge: {advice} "
                      f"(max |gradient| = {gmax:.3g}, tol = {optimizer.tol:g})", ConvergenceWarning, stacklevel=3)
    return Run(theta, float(sign * fs[0]), done, status, success, message, gmax,
               history[: done + 1].copy(), rendered.source, path)


def _drive(module, optimizer, args, history, progress: bool):
    """Call the compiled ``run`` in chunks sized to about 0.2 s, with a progress bar past 1 s.

    Returns the status code, the iterations done and the history (grown as needed: the
    compiled loop writes the objective after iteration k to ``history[k]``).
    """
    started = None  # the clock starts after the first call, which may include compiling
    done, chunk, bar = 0, 8, None
    code = RUNNING
    tol, ftol = float(optimizer.tol), float(optimizer.ftol)
    try:
        while done < optimizer.max_iter:
            budget = min(chunk, optimizer.max_iter - done)
            if done + budget + 1 > history.size:
                grown = np.full(min(optimizer.max_iter + 1, max(2 * history.size, done + budget + 1)), np.nan)
                grown[: history.size] = history
                history = grown
            t0 = time.perf_counter()
            code, k = module.run(*args, budget, tol, ftol, history, done)
            done += int(k)
            elapsed = time.perf_counter() - t0
            if code != RUNNING:
                break
            chunk = int(min(max(budget * 0.2 / max(elapsed, 1e-6), 1), 1_000_000))
            if started is None:
                started = time.perf_counter()
            elif progress and bar is None and time.perf_counter() - started > 1.0:
                bar = tqdm(total=optimizer.max_iter, initial=done, desc=type(optimizer).__name__,
                           unit="epoch" if optimizer.stochastic else "it", leave=False)
            if bar is not None:
                bar.update(done - bar.n)
                bar.set_postfix(F=f"{history[done]:.6g}", refresh=False)
    finally:
        if bar is not None:
            bar.close()
    return int(code), done, history


def _default_start(objective, derivation, dataset, theta0):
    """The default start: zeros (ones for positive parameters), else ones.

    Zeros can be outside a model's domain (log(s) at s = 0), or a stationary point
    that is no optimum (a = b = 0 for a*sin(b*x): the gradient is exactly zero there,
    and every optimizer would stop at once): the first candidate where the objective
    is finite and the gradient is not zero is taken.
    """
    from .evaluate import gradient, objective_value

    candidates = (theta0, np.ones_like(theta0))
    finite = [c for c in candidates if math.isfinite(objective_value(objective, dataset, c))]
    for candidate in finite:
        if np.any(gradient(objective, derivation, dataset, candidate) != 0.0):
            return candidate
    return finite[0] if finite else theta0

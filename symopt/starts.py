"""Many starts for a non-convex problem: one compiled problem run from the given (or default) start and
N - 1 seeded draws around it; the best optimum kept, and the distinct optima listed with how many starts
reached each.

The draws are the form's (:meth:`symopt.forms.Form.draw_start`): each parameter moved by a standard normal
draw times max(|its start|, 1); a parameter declared positive multiplied by exp of one instead; a network
initialised afresh under a drawn seed.
"""

from __future__ import annotations

import numbers
import time
from dataclasses import dataclass, replace

import numpy as np

from .errors import ModelError

#: Two converged starts reached the same optimum when every parameter agrees within this fraction of
#: max(|value|, 1): an iterative stop pins the parameters to about the square root of the gradient
#: tolerance, far finer than this, while distinct local optima of a fit are far coarser apart.
SAME_OPTIMUM = 1e-4
#: Statuses after which the remaining starts are not run: the user asked the whole call to stop.
USER_STOPS = ("interrupted", "max_time", "stopped_by_callback")
#: The number of starts the advice suggests (a non-convex verdict, a saddle, a stall far from an optimum).
SUGGESTED_STARTS = 20
#: A progress bar over the starts appears once they have taken this long (with ``progress=True``).
BAR_AFTER = 1.0


@dataclass(frozen=True)
class Optimum:
    """A distinct optimum that converged starts reached: its parameters (by name and flat), the objective
    there, and which starts reached it (0 is the given or default start)."""

    params: dict
    x: np.ndarray
    fun: float
    starts: tuple

    @property
    def count(self) -> int:
        """How many starts reached this optimum."""
        return len(self.starts)

    def __str__(self) -> str:
        from .show import params_line

        return f"F = {self.fun:.10g} at {params_line(self.params)}, reached by {self.count} start(s)"


def check_starts(starts, seed) -> None:
    """Refuse a ``starts`` that is not a positive whole number, or a ``seed`` that is not a whole number >= 0
    (or None)."""
    if isinstance(starts, bool) or not isinstance(starts, numbers.Integral) or starts < 1:
        raise ModelError(f"starts must be a whole number >= 1 (how many starts the optimizer runs from), got "
                         f"{starts!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0):
        raise ModelError(f"seed must be a whole number >= 0 (or None for fresh randomness), got {seed!r}")


def start_points(form, dataset, first: np.ndarray, starts: int, seed) -> list:
    """``first`` and ``starts - 1`` draws around it from a NumPy Generator seeded with ``seed``."""
    rng = np.random.default_rng(seed)
    return [first] + [form.draw_start(dataset, first, rng) for _ in range(starts - 1)]


def run_starts(solve_one, points, progress: bool):
    """``solve_one(x0)`` (a :class:`symopt.Result`) from each point in turn, with a progress bar over the
    starts once they take :data:`BAR_AFTER` seconds; stops early where a run ends on the user's stop
    (Ctrl-C, ``max_time``, the callback). Returns the results run."""
    results, bar, t0 = [], None, time.perf_counter()
    try:
        for x0 in points:
            result = solve_one(x0)
            results.append(result)
            if result.status in USER_STOPS:
                break
            if progress and bar is None and time.perf_counter() - t0 > BAR_AFTER:
                from tqdm import tqdm  # a progress bar is rare: not imported before one is shown

                bar = tqdm(total=len(points), initial=len(results), desc="starts", unit="start", leave=False)
            elif bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return results


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.all(np.abs(a - b) <= SAME_OPTIMUM * np.maximum(np.maximum(np.abs(a), np.abs(b)), 1.0)))


def distinct_optima(results, maximize: bool) -> tuple:
    """The distinct optima the converged ``results`` reached, best first (see :data:`SAME_OPTIMUM`)."""
    sign = -1.0 if maximize else 1.0
    groups = []  # [representative result, start indices]
    order = sorted((i for i, r in enumerate(results) if r.success and np.isfinite(r.fun)),
                   key=lambda i: sign * results[i].fun)
    for i in order:
        for group in groups:
            if _same(group[0].x, results[i].x):
                group[1].append(i)
                break
        else:
            groups.append([results[i], [i]])
    return tuple(Optimum(r.params, r.x, r.fun, tuple(sorted(ix))) for r, ix in groups)


def best_of(results, seed, maximize: bool):
    """The result to return from the runs of many starts: the best converged one (else the best finite one,
    as a failure), its message saying what the starts found and :attr:`symopt.Result.optima` set."""
    sign = -1.0 if maximize else 1.0
    optima = distinct_optima(results, maximize)
    ran = len(results)
    drawn = f"{ran} starts (seed {seed})"
    if optima:
        best = min((r for r in results if r.success and np.isfinite(r.fun)), key=lambda r: sign * r.fun)
        converged = sum(o.count for o in optima)
        summary = (f"the best of {drawn}: {converged} converged, to {len(optima)} distinct "
                   f"optim{'um' if len(optima) == 1 else 'a'}; this one was reached by {optima[0].count}")
        return replace(best, optima=optima, starts=ran, message=f"{best.message}; {summary}")
    finite = [r for r in results if np.isfinite(r.fun)]
    best = min(finite, key=lambda r: sign * r.fun) if finite else results[0]
    return replace(best, optima=(), starts=ran,
                   message=f"{best.message}; none of {drawn} converged: this is the one with the best F")

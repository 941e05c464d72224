"""Many starts for a non-convex problem: one compiled problem run from the given (or default) start and
N - 1 seeded draws around it; the best optimum kept, and the distinct optima listed with how many starts
reached each.

The draws are the form's (:meth:`symopt.model.kinds.base.Form.draw_start`): each parameter moved by a standard normal
draw times max(|its start|, 1); a parameter declared positive multiplied by exp of one instead; a network
initialised afresh under a drawn seed. They are drawn one at a time as the runs need them (a million
starts hold one start vector at a time, not a million), and what the runs found is kept as they end
(:class:`Tally`: the best run in full, and per distinct optimum its value and which starts reached it).

:func:`spread_points` draws over the problem's plausible range instead, for the checks that must look
beyond the neighbourhood of an answer (:mod:`symopt.trust.convexity`, :func:`symopt.verify`).
"""

from __future__ import annotations

import numbers
import time
from collections import Counter
from dataclasses import dataclass, replace

import numpy as np

from ..errors import SUGGESTED_STARTS, ModelError  # noqa: F401  (SUGGESTED_STARTS: read here by the modules that advise many starts)

#: Two converged starts reached the same optimum when every parameter agrees within this fraction of
#: max(|value|, 1): an iterative stop pins the parameters to about the square root of the gradient
#: tolerance, far finer than this, while distinct local optima of a fit are far coarser apart.
SAME_OPTIMUM = 1e-4
#: Statuses after which the remaining starts are not run: the user asked the whole call to stop.
USER_STOPS = ("interrupted", "max_time", "stopped_by_callback")
#: A progress bar over the starts appears once they have taken this long (with ``progress=True``).
BAR_AFTER = 1.0
#: The most starts one call runs. Each start is a whole iterative solve (1.7 ms for the two-parameter
#: frequency fit of tests/run/test_starts.py, compiled): a million take half an hour at that speed, and more
#: than that is a typo or a job for a loop that saves as it goes. ``starts=10**9`` drew every start vector
#: before the first run (21 GB within minutes); now they are drawn one at a time, and this bounds the call.
MAX_STARTS = 10 ** 6
#: The plausible range of a parameter around a point x: x +- max(SPREAD * |x|, 1) (issue 26: "at least
#: +-max(10 |x*|, 1) per parameter around the solution and the start"). A local optimum of a fit is seldom
#: more than ten times off the right scale, and a check drawn only near an answer cannot see past its basin.
SPREAD = 10.0


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
        from ..symbolic.show import params_line

        return f"F = {self.fun:.10g} at {params_line(self.params)}, reached by {self.count} start(s)"


def _whole(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, numbers.Integral)


def check_starts(starts, seed) -> None:
    """Refuse a ``starts`` that is not a whole number from 1 to :data:`MAX_STARTS`, or a ``seed`` that is not
    a whole number >= 0 (or None)."""
    if not _whole(starts) or starts < 1:
        raise ModelError(f"starts must be a whole number >= 1 (how many starts the optimizer runs from), got "
                         f"{starts!r}")
    if starts > MAX_STARTS:
        raise ModelError(f"starts={starts} is more than one call runs (at most {MAX_STARTS:,}): each start is a "
                         f"whole iterative solve; run batches of starts in a loop of your own (with seed=) and "
                         f"keep the best, or bound the call with max_time=")
    if seed is not None and (not _whole(seed) or seed < 0):
        raise ModelError(f"seed must be a whole number >= 0 (or None for fresh randomness), got {seed!r}")


def start_points(form, dataset, first: np.ndarray, starts: int, seed):
    """``first`` and ``starts - 1`` draws around it from a NumPy Generator seeded with ``seed``, drawn one at
    a time as they are asked for (a generator: nothing is drawn before the first run)."""
    rng = np.random.default_rng(seed)
    yield first
    for _ in range(starts - 1):
        yield form.draw_start(dataset, first, rng)


def _positive(form) -> np.ndarray:
    """Which flat parameters are declared positive (only named scalar parameters can be)."""
    if not form.per_parameter:
        return np.zeros(0, dtype=bool)
    return np.array([bool(getattr(p, "is_positive", False)) for p in form.objective.params], dtype=bool)


def spread_points(form, dataset, around: np.ndarray, count: int, rng, bounds=None):
    """``count`` draws over the plausible range around ``around`` (:data:`SPREAD`), one at a time: each
    parameter uniform on ``x +- max(SPREAD |x|, 1)`` (within ``bounds``, the flat ``(lower, upper)`` arrays,
    where given); a parameter declared positive log-uniform from ``x / (1 + w / x)`` to ``x + w`` (``w``
    the same half-width; ``x`` taken as 1 where it is not positive); a network initialised afresh under a
    drawn seed (its weights' plausible range is its initialisation's)."""
    around = np.asarray(around, dtype=float)
    if form.fresh_starts:
        for _ in range(count):
            yield form.draw_start(dataset, around, rng)
        return
    positive = _positive(form)
    if positive.size != around.size:
        positive = np.zeros(around.size, dtype=bool)
    centre = np.where(positive & ~(around > 0), 1.0, around)
    width = np.maximum(SPREAD * np.abs(centre), 1.0)
    low, high = centre - width, centre + width
    if bounds is not None:
        low, high = np.maximum(low, bounds[0]), np.minimum(high, bounds[1])
        high = np.maximum(high, low)  # a centre outside its bounds: the nearest bound
    log_low = np.log(np.where(positive, centre / (1.0 + width / np.where(positive, centre, 1.0)), 1.0))
    log_high = np.log(np.where(positive, centre + width, 1.0))
    if bounds is not None:
        with np.errstate(divide="ignore"):
            log_low = np.maximum(log_low, np.log(np.maximum(bounds[0], 0.0)))
            log_high = np.minimum(log_high, np.log(np.where(positive, np.maximum(bounds[1], 1e-300), 1.0)))
        log_high = np.maximum(log_high, log_low)
    for _ in range(count):
        u = rng.uniform(size=around.size)
        yield np.where(positive, np.exp(log_low + u * (log_high - log_low)), low + u * (high - low))


class Tally:
    """What the runs from many starts found, kept as each run ends (not every :class:`symopt.Result`: a
    million starts would hold a million): the best converged run in full, each distinct optimum (its best
    run's parameters and F, and the starts that reached it; two runs reached the same one when every
    parameter agrees within :data:`SAME_OPTIMUM` of max(|value|, 1)), how many runs failed and with which
    status, and the best finite failed run (what is returned where none converged)."""

    def __init__(self, maximize: bool):
        self.sign = -1.0 if maximize else 1.0
        self.ran = 0
        self.best = None
        self.groups = []  # [params, x, fun, [start indices]]
        self.failed = Counter()
        self.best_failed = None
        self.stopped = ""  # why the remaining starts were not run ("" where all ran)

    def add(self, result) -> None:
        index, self.ran = self.ran, self.ran + 1
        if not (result.success and np.isfinite(result.fun)):
            self.failed[result.status] += 1
            if self.best_failed is None or (np.isfinite(result.fun) and not
                                            self.sign * self.best_failed.fun <= self.sign * result.fun):
                self.best_failed = result
            return
        if self.best is None or self.sign * result.fun < self.sign * self.best.fun:
            self.best = result
        for group in self.groups:
            if _same(group[1], result.x):
                group[3].append(index)
                if self.sign * result.fun < self.sign * group[2]:
                    group[0], group[1], group[2] = result.params, result.x, result.fun
                break
        else:
            self.groups.append([result.params, result.x, result.fun, [index]])

    @property
    def optima(self) -> tuple:
        """The distinct optima, best first."""
        ordered = sorted(self.groups, key=lambda g: self.sign * g[2])
        return tuple(Optimum(params, x, fun, tuple(ix)) for params, x, fun, ix in ordered)


def run_starts(solve_one, points, progress: bool, total: int, maximize: bool, deadline: float | None = None):
    """``solve_one(x0)`` (a :class:`symopt.Result`) from each point in turn (``points`` an iterable of
    ``total``, drawn as they are asked for), with a progress bar over the starts once they take
    :data:`BAR_AFTER` seconds; stops early where a run ends on the user's stop (Ctrl-C, ``max_time``, the
    callback) or, between runs, at ``deadline`` (a :func:`time.perf_counter` time: ``max_time`` bounds the
    whole call, not each start). Returns the :class:`Tally` of the runs made."""
    tally, bar, t0 = Tally(maximize), None, time.perf_counter()
    try:
        for x0 in points:
            if tally.ran and deadline is not None and time.perf_counter() >= deadline:
                tally.stopped = "max_time"
                break
            result = solve_one(x0)
            tally.add(result)
            if result.status in USER_STOPS:
                tally.stopped = result.status
                break
            if progress and bar is None and time.perf_counter() - t0 > BAR_AFTER:
                from tqdm import tqdm  # a progress bar is rare: not imported before one is shown

                bar = tqdm(total=total, initial=tally.ran, desc="starts", unit="start", leave=False)
            elif bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return tally


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.all(np.abs(a - b) <= SAME_OPTIMUM * np.maximum(np.maximum(np.abs(a), np.abs(b)), 1.0)))


def _tally(results, maximize: bool) -> Tally:
    tally = Tally(maximize)
    for result in results:
        tally.add(result)
    return tally


def distinct_optima(results, maximize: bool) -> tuple:
    """The distinct optima the converged ``results`` reached, best first (see :data:`SAME_OPTIMUM`)."""
    return _tally(results, maximize).optima


def best_of(runs, seed, maximize: bool, planned: int | None = None):
    """The result to return from the runs of many starts (a :class:`Tally`, or a list of results): the best
    converged one (else the best finite one, as a failure), its message saying what the starts found (and
    why fewer than ``planned`` ran) and :attr:`symopt.Result.optima` set."""
    tally = runs if isinstance(runs, Tally) else _tally(runs, maximize)
    ran = tally.ran
    drawn = f"{ran} starts (seed {seed})"
    failed = sum(tally.failed.values())
    why_failed = ", ".join(f"{count} {status}" for status, count in tally.failed.most_common())
    cut = (f"; {tally.stopped} ended the call after {ran} of {planned} starts"
           if tally.stopped and planned is not None and ran < planned else "")
    optima = tally.optima
    if optima:
        best = tally.best
        converged = sum(o.count for o in optima)
        summary = (f"the best of {drawn}: {converged} converged, to {len(optima)} distinct "
                   f"optim{'um' if len(optima) == 1 else 'a'}; this one was reached by {optima[0].count}")
        if failed:
            summary += f"; {failed} failed ({why_failed}): no optimum there"
        return replace(best, optima=optima, starts=ran, message=f"{best.message}; {summary}{cut}")
    best = tally.best_failed
    return replace(best, optima=(), starts=ran,
                   message=f"{best.message}; none of {drawn} converged ({why_failed}): this is the one with the "
                           f"best F{cut}")

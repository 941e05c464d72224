"""Run generated solver code: arguments in, status and history out.

Checks the start point, calls the compiled optimizer loop in chunks (so a
long run shows progress and can be interrupted), turns its status code into
words (with advice when it failed) and warns on non-convergence.

It is one module past 400 lines because the run of a generated module, from the start checks through the chunked
calls (progress, interrupts, the backend handover) to the stop verdicts, shares one state; the verdicts
themselves are in :mod:`symopt.run.stationary` and :mod:`symopt.run.stops`.
"""

from __future__ import annotations

import math
import threading
import time
import warnings
from dataclasses import dataclass

import numpy as np

from ..codegen import cache
from ..codegen.render import render
from ..derivation.totals import gradient, objective_value
from ..errors import ConvergenceWarning
from ..optimizers import RUNNING, STATUS
from ..optimizers.base import Status
from ..optimizers.base import (DIVERGED_LOSS, INTERRUPTED, NONFINITE_GRADIENT, OUT_OF_TIME, STALLED, STEP_STOPS, UNBOUNDED, diverged,
                              falls_without_bound, held_on_bounds)
from ..numerics.sizes import check_run
from ..optimizers.first_order import GradientDescent, _FirstOrder
from .stationary import SMOOTH_ADVICE, gradient_and_size, kink_arguments, step_stop_verdict

#: A failed run whose parameters ended beyond this size is said to have run away (an unbounded objective?).
RUNAWAY = 1e30
#: A run that has not converged, whose minimised objective ended below -UNBOUNDED_DEPTH * (1 + |its start|) at
#: the lowest value it reached (so still falling), is unbounded: a minimum 1e100 times deeper than the start's
#: size is beyond what data in double precision plausibly give (a sum of squares of numbers of size 1e50),
#: while an unbounded objective gets there fast (gradient descent's line search doubles its step on a*x: a
#: few hundred iterations; -exp(a)*x: three). The other tests: the ray test (the generated Newton and L-BFGS
#: code, status 10, and ``_ray_from`` here) and a fixed step that met -inf.
UNBOUNDED_DEPTH = 1e100
#: A line search that fails with every gradient component at most this fraction of the sum of its absolute
#: per-row terms has stopped at the precision floor: near a minimum F is known only to eps relative, so the
#: parameters only to sqrt(eps) and the gradient only to about sqrt(eps) of the size of its terms (by
#: Cauchy-Schwarz, sum |r_i J_i| <= sqrt(sum r_i**2 * sum J_i**2) for least squares).
PRECISION_FLOOR = math.sqrt(np.finfo(float).eps)
#: A run out of iterations at the precision floor has converged there if F stayed within rounding (1e-12
#: relative, the allowance of the line searches) over this many last iterations.
STILL_ITERATIONS = 10


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
    backend: str = "numba"  # "numba", "python", or "python, then numba from iteration k"
    interpreted_seconds: float = 0.0  # time spent in the interpreted twin
    nfev: int = 0  # objective (residual) evaluations
    njev: int = 0  # gradient (Jacobian) evaluations
    x0: np.ndarray | None = None  # where the run started
    held: tuple = ()  # with bounds: the flat indices of the parameters held on a bound at the end


class InterpreterFault(Exception):
    """The interpreted twin of a module raised where compiled code gives inf or NaN (its ``math`` gives those
    as compiled code does, so this is Python arithmetic: a float division by zero, say): the run must be
    redone in compiled code."""


def interpreted(module) -> bool:
    """Whether ``module`` is the interpreted twin of a generated module (``prange`` is ``range``)."""
    return getattr(module, "prange", None) is range


def compile_solver(objective, derivation, optimizer, bounded: bool = False) -> tuple:
    """``(rendered, module, path)``: the solver module for ``optimizer`` (keeping bounds, where ``bounded``),
    generated and loaded from the cache."""
    rendered = render(objective, derivation, optimizer, bounded)
    module, path = cache.load(rendered.source, rendered.stem)
    return rendered, module, path


def kernel_value_and_grad(module, rendered, objective, dataset, theta) -> tuple[float, np.ndarray]:
    """F and its gradient at ``theta`` from the generated module's fused objective-and-gradient kernel."""
    grad = np.zeros(theta.size)
    arrays = [dataset[name] for name in rendered.data_names]
    with np.errstate(all="ignore"):
        try:
            value = module.objective_and_gradient(np.ascontiguousarray(theta, dtype=float), *arrays,
                                                  objective.form.penalty_mask(dataset), float(objective.l2), grad)
        except (ArithmeticError, ValueError) as exc:  # the interpreted twin only: compiled code gives inf
            raise InterpreterFault(f"{type(exc).__name__}: {exc}") from exc
    return float(value), grad


def run_iterative(task, optimizer, x0, progress: bool = True, compiled=None, switch=None, stops=None,
                  bounds=None) -> Run:
    """Drive the solver module (``compiled``, ``(rendered, module, path)`` from :func:`compile_solver`; made
    here if None) to a stop on ``task`` (a :class:`~symopt.derivation.task.Task`: objective, derivation, data).

    Where ``module`` is the interpreted twin, ``switch`` (if given) is ``(seconds, get)``: once the run has
    spent ``seconds`` in the interpreter, ``get()`` gives the compiled ``(rendered, module, path)``, which takes over the same
    state between two chunks. A fault of the interpreter (see :class:`InterpreterFault`) propagates.
    ``stops`` (a :class:`~symopt.run.stops.Stops`) adds the user's time limit and callback; Ctrl-C ends the run
    with status ``interrupted`` and the state after the last completed iteration.

    ``module`` is a generated module, or an object with the same ``start`` and ``run`` (a network's
    :class:`~symopt.run.epochs.EpochLoop`), which may also have: ``state_size(p, n)`` (its work arrays' sizes,
    in place of the optimizer's; it then sets them up in ``start``), ``extra_state`` (arrays it updates in
    place, put back with the parameters on Ctrl-C), ``unit`` (the progress bar's) and
    ``finish(theta, grad, *data arrays, l2)`` (brings ``grad`` up to date at the end) and ``first_chunk``
    (iterations in the first call of ``run``; 8 by default).

    ``bounds``: the flat ``(lower, upper)`` arrays of a bounded problem, whose module (``compiled``) keeps
    every iterate inside them; the start is put into the box, and the stopping verdicts read the gradient
    of the parameters not held on a bound (:func:`held_on_bounds`).
    """
    objective, derivation, dataset = task
    rendered, module, path = compiled or compile_solver(objective, derivation, optimizer, bounds is not None)
    theta = starting_point(task, x0)
    if bounds is None:
        lower, upper = np.full(theta.size, -np.inf), np.full(theta.size, np.inf)
    else:
        lower, upper = (np.ascontiguousarray(b, dtype=float) for b in bounds)
        theta = np.minimum(np.maximum(theta, lower), upper)
    started_at = theta.copy()
    arrays = [dataset[name] for name in rendered.data_names]
    n, p = dataset.n_rows, theta.size
    start_size = float(np.max(np.abs(theta))) if p else 0.0  # theta is updated in place
    grad, fs = np.zeros(p), np.zeros(4)  # fs[2], fs[3]: the evaluations the generated code counts
    fsize, isize = getattr(module, "state_size", optimizer.state_size)(p, n)
    check_run(optimizer, p, n, (fsize, isize), objective.model)  # refused here, before the state is allocated
    fw, iw = np.zeros(fsize), np.zeros(isize, dtype=np.int64)
    if hasattr(optimizer, "init_state") and not hasattr(module, "state_size"):
        optimizer.init_state(fw, iw, n)
    sign = -1.0 if objective.maximize else 1.0
    fixed = (objective.form.penalty_mask(dataset), float(objective.l2), sign, optimizer.hyper(), lower, upper)
    if getattr(optimizer, "proximal", False):  # the l1 weights, its strength included (symopt.optimizers.proximal)
        fixed += (objective.l1 * objective.form.l1_mask(dataset),)
    # The history grows with the run (max_iter may be far more than a run needs).
    history = np.full(min(optimizer.max_iter, 1023) + 1, np.nan)
    driver = _Driver(module, path, switch)
    if stops is not None and not compiled_within(module, stops, [
            ("start", (theta, grad, fs, fw, iw, *arrays, *fixed)),
            ("run", (theta, grad, fs, fw, iw, *arrays, *fixed, 1, 0.0, 0.0, history, 0))]):
        value = objective_value(objective, dataset, theta) if objective.form.evaluable else math.nan
        advice = (f"{STATUS[OUT_OF_TIME][2]}; compiling the generated code took longer than max_time: it goes on in "
                  f"the background, and the next solve of this problem uses it (the start is returned)")
        return Run(x=theta, fun=float(value), nit=0, status=STATUS[OUT_OF_TIME][0], success=False,
                   message=f"{STATUS[OUT_OF_TIME][0]}: {advice}", grad_norm=math.nan, history=np.array([value]),
                   source=rendered.source, source_path=path, backend="numba", x0=started_at)
    code = int(driver.call("start", theta, grad, fs, fw, iw, *arrays, *fixed))
    history[0] = sign * fs[0]
    done = 0
    if code == RUNNING:
        state = (theta, grad, fs, *getattr(module, "extra_state", ()))
        code, done, history = _drive(driver, optimizer, (theta, grad, fs, fw, iw, *arrays, *fixed), history,
                                     progress, stops, state, getattr(module, "unit", None))
    if hasattr(module, "finish"):
        module.finish(theta, grad, *arrays, float(objective.l2))
    if code == RUNNING:
        code = Status.COMPLETED if optimizer.stochastic else Status.MAX_ITER
    free = None if bounds is None else ~held_on_bounds(theta, grad, lower, upper)
    code, advice = _verdict(code, task, optimizer, theta, grad, fs, sign * history[: done + 1], sign, free)
    moving = grad if free is None else np.where(free, grad, 0.0)  # the gradient the stopping rules read
    if code in STEP_STOPS and not getattr(optimizer, "proximal", False):  # (l1: checked after the run)
        why_not = step_stop_verdict(task, theta, moving, fs[0], sign * history[0],
                                    objective.form.flat_names(dataset), start_size)
        if why_not:
            code, advice = STALLED, why_not
    status, success = STATUS[code][:2]
    largest = float(np.max(np.abs(theta))) if theta.size else 0.0
    if not success and largest > RUNAWAY and code not in (UNBOUNDED, NONFINITE_GRADIENT):
        advice = (f"the parameters ran away (largest |value| {largest:.3g}): the objective may have no finite "
                  f"{'maximum' if objective.maximize else 'minimum'} (check maximize=, the model's sign, or add "
                  f"l2=); otherwise: {advice}")
    message = advice if success else f"{status}: {advice}"
    gmax = float(np.max(np.abs(moving))) if grad.size else 0.0
    if code == Status.MAX_ITER:
        warnings.warn(f"{type(optimizer).__name__} did not converge: {advice} "
                      f"(max |gradient| = {gmax:.3g}, tol = {optimizer.tol:g})", ConvergenceWarning, stacklevel=3)
    return Run(x=theta, fun=float(sign * fs[0]), nit=done, status=status, success=success, message=message,
               grad_norm=gmax, history=history[: done + 1].copy(), source=rendered.source, source_path=driver.path,
               backend=driver.backend(), interpreted_seconds=driver.interpreted_seconds, nfev=int(fs[2]),
               njev=int(fs[3]), x0=started_at,
               held=() if free is None else tuple(int(j) for j in np.flatnonzero(~free)))


def compiled_within(module, stops, calls) -> bool:
    """Whether ``module``'s functions are compiled for ``calls`` (``(name, arguments)``) before ``stops``' max_time
    runs out: compiled now in a background thread while this one waits at most the time left (a compile
    cannot be cut short, and max_time counts from the call). True at once for the interpreted twin, a
    network's epoch loop, functions already compiled for these arguments, or no max_time; False if the
    time ran out first (the compile goes on, and its module serves the next solve)."""
    if stops is None or stops.max_time is None or interpreted(module):
        return True
    pending = [(getattr(module, name, None), args) for name, args in calls]
    pending = [(f, args) for f, args in pending if hasattr(f, "compile") and not f.signatures]
    if not pending:
        return True
    import numba

    signatures = [(f, tuple(numba.typeof(a) for a in args)) for f, args in pending]
    finished = threading.Event()

    def work() -> None:
        try:
            for f, signature in signatures:
                f.compile(signature)
        except Exception:  # noqa: BLE001 - the call that follows compiles again and raises what failed
            pass
        finally:
            finished.set()

    threading.Thread(target=work, name="symopt-compile", daemon=True).start()
    return finished.wait(timeout=max(stops.remaining(), 0.0))


class _Driver:
    """Calls into a generated module, timing the interpreted twin and handing over to compiled code when
    ``switch`` says so (the two share every argument, so the state carries over)."""

    def __init__(self, module, path, switch):
        self.module, self.path, self.switch = module, path, switch
        self.interpreted_seconds = 0.0
        self.switched_at = None  # the iteration the compiled module took over at

    def call(self, name: str, *args):
        if not interpreted(self.module):
            return getattr(self.module, name)(*args)
        t0 = time.perf_counter()
        try:
            with np.errstate(all="ignore"):
                return getattr(self.module, name)(*args)
        except (ArithmeticError, ValueError) as exc:
            raise InterpreterFault(f"{type(exc).__name__}: {exc}") from exc
        finally:
            self.interpreted_seconds += time.perf_counter() - t0

    def maybe_switch(self, done: int) -> None:
        if interpreted(self.module) and self.switch is not None and self.interpreted_seconds >= self.switch[0]:
            _, self.module, self.path = self.switch[1]()
            self.switched_at = done

    def backend(self) -> str:
        if self.switched_at is not None:
            return f"python, then numba from iteration {self.switched_at}"
        return "python" if interpreted(self.module) else "numba"


def _verdict(code, task, optimizer, theta, grad, fs, h, sign, free=None) -> tuple[int, str]:
    """The status code and advice, from what the driver sees and the compiled loop does not.

    ``free``: with bounds, which parameters are not held on a bound (the precision-floor and ray tests read
    only those; the ray test runs only where no bound can stop the ray).

    ``h`` is the minimised objective ``sign * F`` after each iteration. In order (codes as
    :class:`~symopt.optimizers.base.Status`): the loop's ray test found F unbounded (UNBOUNDED); a gradient
    that is not finite (NONFINITE_GRADIENT, the row named); a run off to -inf or past :data:`UNBOUNDED_DEPTH`
    (UNBOUNDED); a run whose objective rose by more than its starting size (DIVERGED_LOSS, the rule networks
    use); a failed line search (or max_iter with F still) at the precision floor (CONVERGED_PRECISION); the
    ray test from where a failed run stopped (UNBOUNDED); a fixed step that overshoots (advice only).
    """
    objective, dataset = task.objective, task.dataset
    advice = STATUS[code][2]
    down = "rose" if objective.maximize else "fell"
    start, end = float(h[0]), float(h[-1])
    if code == UNBOUNDED:  # the far point may have an overflowing gradient: that is not the news
        return code, (f"F {down} along the search direction to {sign * end:.3g} (the parameters there are returned) "
                      f"with no curvature in sight over a 2**40 range of steps, or to {'+' if sign < 0 else '-'}inf; "
                      f"{advice}")
    if code == NONFINITE_GRADIENT or (code not in (Status.DIVERGED, Status.NONFINITE_START) and not np.all(np.isfinite(grad))):
        where = _nonfinite_where(task, theta) if objective.form.evaluable else ""
        return NONFINITE_GRADIENT, f"{where}{'; ' if where else ''}{STATUS[NONFINITE_GRADIENT][2]}"
    if code == Status.DIVERGED and fs[1] == -math.inf:
        return UNBOUNDED, (f"F {down} to {'+' if sign < 0 else '-'}inf (the last finite value, {sign * end:.3g}, is "
                           f"returned); {STATUS[UNBOUNDED][2]}")
    if code in (Status.MAX_ITER, Status.DIVERGED, Status.LINE_SEARCH_FAILED, Status.COMPLETED) and end < -UNBOUNDED_DEPTH * (1.0 + abs(start)) and end <= np.nanmin(h):
        return UNBOUNDED, (f"F {down} from {sign * start:.3g} to {sign * end:.3g} in {len(h) - 1} iterations and was "
                           f"still going, past {UNBOUNDED_DEPTH:g} times its starting size; {STATUS[UNBOUNDED][2]}")
    if code in (Status.MAX_ITER, Status.COMPLETED) and diverged(start, end):
        return DIVERGED_LOSS, STATUS[DIVERGED_LOSS][2]
    # The per-row tests below read the derivation row by row, which a network does not have: its losses
    # (squared, log, cross-entropy) are bounded below by 0, so it cannot be unbounded either.
    if not objective.form.evaluable:
        return code, advice
    if getattr(optimizer, "proximal", False):
        # the per-row tests read the smooth gradient, which is not zero at an l1 optimum; the subgradient
        # condition is checked after the run (symopt.model.penalties.l1_check)
        return code, advice
    searched = (Status.MAX_ITER, Status.LINE_SEARCH_FAILED)  # stops that may be at the precision floor
    ratio = _gradient_to_terms(task, theta, free) if code in searched else math.inf
    if code == Status.LINE_SEARCH_FAILED and ratio <= PRECISION_FLOOR:
        return Status.CONVERGED_PRECISION, (f"{STATUS[Status.CONVERGED_PRECISION][2]} (the line search found no decrease with the gradient at the rounding of "
                   f"its terms: |dF/dtheta_j| <= {ratio:.2g} x sum_i |terms|)")
    if code in searched and ratio > PRECISION_FLOOR:
        far = _ray_from(task, theta, grad, end, sign) if free is None else None
        if far is not None:
            return UNBOUNDED, (f"from where the run stopped, F {down} along the steepest "
                               f"{'ascent' if objective.maximize else 'descent'} direction with no curvature in "
                               f"sight over a 2**40 range of steps (to {sign * far:.3g}); {STATUS[UNBOUNDED][2]}")
    if code == Status.MAX_ITER and ratio <= PRECISION_FLOOR:
        recent = h[-min(len(h), STILL_ITERATIONS + 1):]
        if len(h) > STILL_ITERATIONS and np.ptp(recent) <= 1e-12 * np.max(np.abs(recent)):
            return Status.CONVERGED_PRECISION, (f"{STATUS[Status.CONVERGED_PRECISION][2]} (max_iter ran out with F unchanged to rounding over the last "
                       f"{STILL_ITERATIONS} iterations and the gradient at the rounding of its terms: "
                       f"|dF/dtheta_j| <= {ratio:.2g} x sum_i |terms|; tol = {optimizer.tol:g} cannot be met)")
        return code, (f"stopped after max_iter iterations at the precision floor: the gradient is at the rounding "
                      f"of its terms (|dF/dtheta_j| <= {ratio:.2g} x sum_i |terms|), so tol = {optimizer.tol:g} "
                      f"cannot be met; loosen tol (or set ftol=)")
    fixed_step = isinstance(optimizer, _FirstOrder) and not getattr(optimizer, "line_search", False)
    if code == Status.MAX_ITER and fixed_step and not optimizer.stochastic:
        if isinstance(optimizer, GradientDescent):
            g = grad  # sign * dF/dtheta: the next fixed step is theta - lr * g
            gg = float(g @ g)
            need = 1e-4 * optimizer.lr * gg
            nxt = sign * objective_value(objective, dataset, theta - optimizer.lr * g)
            if need > 1e-12 * abs(end) and not nxt <= end - need:
                return code, (f"stopped after max_iter iterations, and the fixed step overshoots: from the final "
                              f"point a step of lr = {optimizer.lr:g} does not decrease F enough (an oscillation: lr "
                              f"is at or above 2 / the curvature); lower lr (try half), or use line_search=True")
        if end >= start:
            return code, (f"stopped after max_iter iterations with F no better than at the start "
                          f"({sign * start:.6g} -> {sign * end:.6g}): the steps overshoot; lower lr (try 10x smaller)")
    if code in searched and objective.form.per_parameter and kink_arguments(objective):
        kinks = ", ".join(str(k.call) for k in kink_arguments(objective)[:3])
        advice = (f"{advice}; the objective has kinks ({kinks}) where it is not differentiable: gradient-based "
                  f"steps zig-zag across them and line searches fail there; {SMOOTH_ADVICE}")
    return code, advice


def _ray_from(task, theta, grad, f, sign):
    """The ray test (:func:`~symopt.optimizers.base.falls_without_bound`) from where a run stopped, along
    ``-grad`` with a first step of length ``max(1, |theta|)``: the minimised objective at the farthest point
    if it falls without bound, else None."""
    norm = float(np.linalg.norm(grad))
    if not (norm > 0.0 and math.isfinite(norm) and math.isfinite(f)):
        return None
    d = -grad / norm * max(1.0, float(np.linalg.norm(theta)))

    def fun(t):
        with np.errstate(all="ignore"):
            value = sign * objective_value(task.objective, task.dataset, t)
            g = sign * gradient(task, t) if math.isfinite(value) else grad * np.nan
        return value, g

    far = falls_without_bound(fun, theta, d, f, float(grad @ d))
    return fun(theta + far * d)[0] if far > 0.0 else None


def _nonfinite_where(task, theta) -> str:
    """Which row (and data values) make the gradient non-finite at ``theta``, or ""."""
    objective, derivation, dataset = task
    for lo, terms in objective.form.row_gradients(derivation, dataset, theta):
        bad = ~np.isfinite(terms)
        rows = np.flatnonzero(bad.any(axis=1))
        if rows.size:
            break
    else:
        return ""
    r = int(rows[0])
    where = objective.form.describe_row(dataset, lo + r, np.flatnonzero(bad[r]))
    return where + (f" ({rows.size} rows in all)" if rows.size > 1 else "")


def _gradient_to_terms(task, theta, free=None) -> float:
    """max_j |dF/dtheta_j| / (sum of |per-row terms| of component j + |penalty|): how far the gradient stands
    above the rounding of the sums that form it (a non-finite gradient gives inf); over the ``free``
    components only, where given (a parameter held on a bound has a gradient that is not 0 there)."""
    with np.errstate(all="ignore"):
        grad, size = gradient_and_size(task, theta)
        ratio = np.abs(grad) / (size + 1e-300)
    if free is not None:
        ratio = np.where(free, ratio, 0.0)
    return float(np.max(ratio)) if np.all(np.isfinite(ratio)) else math.inf


#: Seconds a chunk of iterations aims at between two looks at the stops and the progress bar.
CHUNK_SECONDS = 0.2
#: A chunk is at most this many times the one before: its size is extrapolated from the last one's time, and a
#: machine that gets busy meanwhile (another process on the cores) makes that time a poor guide; growing
#: step by step, a chunk never overshoots max_time by more than a few of the last chunk's lengths.
CHUNK_GROWTH = 4


def _drive(driver, optimizer, args, history, progress: bool, stops=None, state=None, unit=None):
    """Call the generated ``run`` in chunks sized to about :data:`CHUNK_SECONDS` (one iteration at a time for a
    callback; at most half the time ``max_time`` leaves), with a progress bar past 1 s, checking ``stops``
    between chunks.

    Returns the status code, the iterations done and the history (grown as needed: the
    compiled loop writes the objective after iteration k to ``history[k]``). On Ctrl-C the state
    arrays are put back as they were after the last completed chunk (an interpreted chunk may have
    been cut off halfway through an iteration).
    """
    started = None  # the clock starts after the first call, which may include compiling
    done, chunk, bar = 0, getattr(driver.module, "first_chunk", 8), None
    code = RUNNING
    tol, ftol = float(optimizer.tol), float(optimizer.ftol)
    state = state or args[:3]  # theta, grad, fs (and more): what the module updates in place, kept for Ctrl-C
    saved = (tuple(a.copy() for a in state), 0)
    single = stops is not None and stops.every_iteration
    try:
        while done < optimizer.max_iter:
            budget = 1 if single else min(chunk, optimizer.max_iter - done)
            if done + budget + 1 > history.size:
                grown = np.full(min(optimizer.max_iter + 1, max(2 * history.size, done + budget + 1)), np.nan)
                grown[: history.size] = history
                history = grown
            t0 = time.perf_counter()
            code, k = driver.call("run", *args, budget, tol, ftol, history, done)
            done += int(k)
            saved = (tuple(a.copy() for a in state), done)
            elapsed = time.perf_counter() - t0
            if code != RUNNING:
                break
            asked = stops.check(done, history[done], state[0]) if stops is not None else None
            if asked is not None:
                code = asked
                break
            driver.maybe_switch(done)
            aim = CHUNK_SECONDS if stops is None else min(CHUNK_SECONDS, 0.5 * stops.remaining())
            chunk = int(min(max(budget * aim / max(elapsed, 1e-6), 1), CHUNK_GROWTH * budget, 1_000_000))
            if started is None:
                started = time.perf_counter()
            elif progress and bar is None and time.perf_counter() - started > 1.0:
                from tqdm import tqdm  # a progress bar is rare: not imported before one is shown

                bar = tqdm(total=optimizer.max_iter, initial=done, desc=type(optimizer).__name__,
                           unit=unit or ("epoch" if optimizer.stochastic else "it"), leave=False)
            if bar is not None:
                bar.update(done - bar.n)
                bar.set_postfix(F=f"{history[done]:.6g}", refresh=False)
    except KeyboardInterrupt:
        for now, then in zip(state, saved[0]):
            now[:] = then
        done, code = saved[1], INTERRUPTED
    finally:
        if bar is not None:
            bar.close()
    return int(code), done, history


def starting_point(task, x0) -> np.ndarray:
    """Where an iterative run starts: ``x0`` as a flat vector, or the form's default start (for a form that
    retries it, the first of zeros, ones and halves where F is finite and the gradient is not zero)."""
    form = task.objective.form
    theta = form.start(task.dataset, x0)
    if x0 is None and form.retries_start:
        theta = _default_start(task, theta)
    return theta


def _default_start(task, theta0):
    """The default start: zeros (ones for positive parameters), else ones, else halves.

    Zeros can be outside a model's domain (log(s) at s = 0), or a stationary point
    that is no optimum (a = b = 0 for a*sin(b*x): the gradient is exactly zero there,
    and every optimizer would stop at once); ones are outside it for a probability in a
    log(1 - p) (a negative binomial's), where halves are inside: the first candidate where
    the objective is finite and the gradient is not zero is taken (else the first finite one).
    """
    first_finite = None
    for candidate in (theta0, np.ones_like(theta0), np.full_like(theta0, 0.5)):
        if not math.isfinite(objective_value(task.objective, task.dataset, candidate)):
            continue
        if first_finite is None:
            first_finite = candidate
        if np.any(gradient(task, candidate) != 0.0):
            return candidate
    return first_finite if first_finite is not None else theta0

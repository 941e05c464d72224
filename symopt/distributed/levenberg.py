"""Levenberg-Marquardt on Dask input: each step's Jacobian read as a tall QR over the chunks.

In memory, symopt's Levenberg-Marquardt (:class:`symopt.LevenbergMarquardt`) keeps the ``n x p`` Jacobian ``J``
and solves each damped step ``min ||u + J d||^2 + lambda ||D d||^2`` through the column-scaled ``J``, never the
normal equations (which square its condition number). On Dask input ``J`` never sits in one place, and the sum
``J^T J`` would square the condition. So each iteration makes one pass in which every chunk factors its own
``[J, u]`` (the generated ``residuals_and_jacobian`` kernel, compiled, where the chunk lies) and the triangles
are stacked and factored again (:mod:`.passes`): ``R`` of ``[J, u]``, ``(p + 1)`` square, has ``J``'s singular
values and right vectors, so the damped step solved on it (by QR of the stacked, damped triangle) is the
in-memory one. A trial point costs one pass of ``residuals_only``.

The rules are the in-memory solver's: Moré's scaling ``D`` (the largest column norms seen), Nielsen's damping
(first ``tau`` times the largest squared singular value of the scaled Jacobian), the stops ``tol`` (largest
gradient component), ``ftol`` (relative decrease), ``xtol`` (step relative to the scaled parameters), no damping
giving a decrease (converged to precision where the gradient is at the rounding level of its terms), ``max_iter``
and the user's stops (``max_time``, the callback, Ctrl-C); a small-step stop that is no stationary point is
``stalled``, as in memory. Not on Dask input: geodesic acceleration (a second pass per step) and variable
projection, and ``result.why`` says so. Measured on the NIST StRD nonlinear problems from both starts (data in 3
chunks): 51 of 54 to 4 digits or more; the 3 others (BoxBOD, MGH10 and MGH17 from start 1, the curved valleys
that geodesic acceleration follows in memory) end ``stalled``, not converged.
"""

from __future__ import annotations

import math

import numpy as np

from ..optimizers.base import STATUS, Status
from ..run.loop import Run
from ..run.stationary import EXACT_FIT, ROUNDING_FACTOR, RUNOFF, RUNOFF_TOL, STATIONARY_TOL
from . import passes

#: Damping past which no step is tried any more: the steps it allows are below the rounding of the parameters.
MAX_DAMPING = 1e32


def _chunk_triangle(chunk, kernel, data_names, theta):
    n, p = chunk.n_rows, theta.size
    u, J = np.empty(n), np.empty((n, p))
    with np.errstate(all="ignore"):
        kernel(theta, *[chunk[name] for name in data_names], u, J)
    return {"R": np.linalg.qr(np.column_stack([J, u]), mode="r"), "bad": float(not np.all(np.isfinite(J))),
            "terms": np.sum(np.abs(J) * np.abs(u)[:, None], axis=0)}


def _chunk_squares(chunk, kernel, data_names, theta):
    u = np.empty(chunk.n_rows)
    with np.errstate(all="ignore"):
        kernel(theta, *[chunk[name] for name in data_names], u)
    return float(u @ u)


class _Passes:
    """The residual kernels of the generated Levenberg-Marquardt module, over the Dask chunks."""

    def __init__(self, objective, dataset, rendered):
        self.dataset, self.names = dataset, tuple(rendered.data_names)
        self.jacobian = passes.Kernel(rendered.source, rendered.stem, "residuals_and_jacobian")
        self.residuals = passes.Kernel(rendered.source, rendered.stem, "residuals_only")
        _, c = objective.sum_of_squares()
        self.c = float(c) / (dataset.n_rows if objective.reduction == "mean" else 1)
        self.mask, self.l2 = objective.form.penalty_mask(dataset), float(objective.l2)
        self.nfev = self.njev = 0

    def fun(self, theta) -> float:
        self.nfev += 1
        squares = passes.chunk_sum(self.dataset, _chunk_squares, self.residuals, self.names, theta, names=self.names)
        return self.c * squares + self.l2 * float(np.sum(self.mask * theta * theta))

    def linearised(self, theta):
        """``(R_J, r, rest, bad, terms)``: ``R`` of ``[J, u]`` split into ``J``'s triangle, the residuals' part
        along it and the rest's norm squared; whether ``J`` is finite; the scale of the gradient's terms."""
        self.njev += 1
        q = passes.chunk_sum(self.dataset, _chunk_triangle, self.jacobian, self.names, theta, names=self.names)
        p = theta.size
        R = np.zeros((p + 1, p + 1))
        R[:q["R"].shape[0]] = q["R"]
        return R[:p, :p], R[:p, p], float(R[p, p] ** 2), bool(q["bad"]), q["terms"]


def _not_stationary(theta, grad, fun, start_fun, size, start_size, names) -> str:
    """Why a stop on a small step is no stationary point, or "": the in-memory rule
    (:func:`symopt.run.stationary.step_stop_verdict`) with the gradient's rounding taken as machine epsilon times
    the size of its per-row terms (``size``, from the last pass)."""
    if abs(fun) <= EXACT_FIT * abs(start_fun):
        return ""
    moves = np.abs(theta * grad)
    if not np.all(np.isfinite(moves)) or not moves.size:
        return ""
    worst = int(np.argmax(moves))
    relative = float(moves[worst]) / max(abs(fun), 1e-300)
    ran_off = float(np.max(np.abs(theta))) > RUNOFF * max(1.0, start_size)
    if relative <= (RUNOFF_TOL if ran_off else STATIONARY_TOL):
        return ""
    if not ran_off and np.all(np.abs(grad) <= ROUNDING_FACTOR * np.finfo(float).eps * size):
        return ""
    return (f"the steps became too small to go on, but this is no stationary point: a 1% change of {names[worst]} "
            f"still moves F by {relative * 1e-2:.2g} of its size; likely cause: a poor start or a badly scaled "
            f"problem (on Dask input Levenberg-Marquardt runs without geodesic acceleration): give x0= nearer the "
            f"answer, or scale the data")


def run(problem, task, optimizer, theta, stops) -> Run:
    """Levenberg-Marquardt from ``theta`` on Dask input (the module's note), as a :class:`symopt.run.loop.Run`
    (``result.history`` holds F after every iteration; no progress bar: each iteration is a few Dask passes)."""
    from ..codegen import cache

    objective, dataset = task.objective, task.dataset
    rendered, _, _ = problem._driver.compiled(optimizer, "python")
    ops = _Passes(objective, dataset, rendered)
    theta = np.array(theta, dtype=float)
    started = theta.copy()
    sc, mask, l2 = ops.c, ops.mask, ops.l2
    f = ops.fun(theta)
    history = [f]
    code, nit, damping, nu = None, 0, None, 2.0
    D = np.zeros(theta.size)
    grad = np.full(theta.size, math.nan)
    try:
        if not math.isfinite(f):
            code = Status.NONFINITE_START
        while code is None:
            RJ, r, _, bad, terms = ops.linearised(theta)
            grad = 2.0 * sc * (RJ.T @ r) + 2.0 * l2 * mask * theta
            if bad:
                code = Status.NONFINITE_GRADIENT
                break
            if optimizer.tol > 0 and np.max(np.abs(grad), initial=0.0) <= optimizer.tol:
                code = Status.CONVERGED
                break
            if nit >= optimizer.max_iter:
                code = Status.MAX_ITER
                break
            A = math.sqrt(sc) * RJ
            D = np.maximum(D, np.linalg.norm(A, axis=0))
            scale = np.where(D > 0, D, 1.0)
            if damping is None:  # tau times the largest squared singular value of the scaled Jacobian
                damping = optimizer.tau * float(np.linalg.norm(A / scale, 2) ** 2 if A.size else 1.0)
            while True:  # damp until a step decreases F
                rows = np.vstack([A, np.diag(np.sqrt(l2 * mask)), math.sqrt(damping) * np.diag(scale)])
                rhs = -np.concatenate([math.sqrt(sc) * r, np.sqrt(l2 * mask) * theta, np.zeros(theta.size)])
                step = np.linalg.lstsq(rows, rhs, rcond=None)[0]
                trial = theta + step
                # the linear model's decrease at the damped step, as a sum of positive terms (no cancellation
                # between F and the model: Hahn1's columns span 1e9 and the difference rounds to nothing)
                predicted = sc * float(np.sum((RJ @ step) ** 2)) + l2 * float(np.sum(mask * step * step)) + \
                    2.0 * damping * float(np.sum((scale * step) ** 2))
                f_trial = ops.fun(trial)
                actual = f - f_trial
                if predicted > 0 and math.isfinite(f_trial) and actual > 0:
                    ratio = actual / predicted
                    damping *= max(1.0 / 3.0, 1.0 - (2.0 * ratio - 1.0) ** 3)
                    nu = 2.0
                    break
                damping *= nu
                nu *= 2.0
                if damping > MAX_DAMPING:
                    step = None
                    break
            if step is None:  # no damping decreases F: at the rounding floor, or stuck
                size = 2.0 * sc * terms + 2.0 * l2 * np.abs(mask * theta)
                code = Status.CONVERGED_PRECISION if np.all(np.abs(grad) <= 1e-6 * np.maximum(size, 1e-300)) \
                    else Status.STALLED
                break
            theta, f_old, f = trial, f, f_trial
            nit += 1
            history.append(f)
            if stops is not None:
                stop = stops.check(nit, f, theta)
                if stop is not None:
                    code = Status(stop)
                    break
            if np.linalg.norm(scale * step) <= optimizer.xtol * (np.linalg.norm(scale * theta) + optimizer.xtol):
                code = Status.CONVERGED_XTOL
            elif optimizer.ftol > 0 and f_old - f <= optimizer.ftol * max(abs(f_old), 1e-300):
                code = Status.CONVERGED_FTOL
    except KeyboardInterrupt:
        code = Status.INTERRUPTED
    advice = None
    if code in (Status.CONVERGED_XTOL, Status.CONVERGED_FTOL, Status.CONVERGED_PRECISION):
        RJ, r, _, _, terms = ops.linearised(theta)  # the gradient where the run stopped
        grad = 2.0 * sc * (RJ.T @ r) + 2.0 * l2 * mask * theta
        advice = _not_stationary(theta, grad, f, history[0], 2.0 * sc * terms + 2.0 * l2 * np.abs(mask * theta),
                                 float(np.max(np.abs(started), initial=0.0)), task.objective.form.flat_names(dataset))
        if advice:
            code = Status.STALLED
    status, success, words = STATUS[code]
    advice = advice or words
    message = advice if success else f"{status}: {advice}"
    return Run(x=theta, fun=float(f), nit=nit, status=status, success=success, message=message,
               grad_norm=float(np.max(np.abs(grad), initial=0.0)), history=np.array(history),
               source=rendered.source, source_path=cache.write(rendered.source, rendered.stem),
               backend="numba, per Dask chunk", nfev=ops.nfev, njev=ops.njev, x0=started)


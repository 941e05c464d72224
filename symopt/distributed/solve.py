"""Solving on Dask input: the NumPy path's stages, each data pass a Dask pass over the chunks.

- The linear closed form (least squares) from a tall QR: each chunk's ``[Phi, u]`` factored where it lies, the
  triangles stacked and factored again in a tree (TSQR), so the solve sees ``R`` (``p + 1`` square) and gives
  the NumPy path's answer (QR of the column-scaled design with refinement) with one pass;
  ``R^T R = Phi^T Phi`` is kept for the standard errors.
- The symbolic closed form from the statistics summed over chunks, its candidates judged by the objective's
  terms summed over chunks.
- The iterative optimizers on the client: the generated module's interpreted twin drives the iterations, its
  objective kernels rebound to Dask passes that run the compiled kernels per chunk (:class:`.passes.KernelPasses`).
  Enabled: L-BFGS, Newton (the Hessian summed per chunk), the full-batch first-order methods, and
  Levenberg-Marquardt with each step's Jacobian a tall QR over the chunks (:mod:`.levenberg`; with bounds, Newton
  on the summed Hessian instead).
"""

from __future__ import annotations

import importlib.util
import itertools
import math
import warnings
from dataclasses import fields

import numpy as np

from ..closed_form.design import design_for
from ..closed_form.linear import _column_norms, _qr_refined
from ..closed_form.records import LinearSolution
from ..errors import ModelError, RankDeficiencyWarning
from ..optimizers import LBFGS, LevenbergMarquardt, Newton
from ..run.loop import run_iterative, starting_point
from ..run.stationary import CURVATURE_CHECK_MAX_WORK
from . import passes

_NAMES = itertools.count()


# --- refusals -----------------------------------------------------------------------------------------------------

def check(problem, options, box, start, values) -> None:
    """Refuse, with the reason, what the Dask path does not do (yet)."""
    o = problem.objective
    why = ""
    if problem.constraints:
        why = "constraints= (the constrained solve reads all rows in one array)"
    elif options.standardize:
        why = "standardize=True (centre and scale the Dask arrays first: (X - X.mean(0)) / X.std(0))"
    elif o.l1:
        why = "an l1 penalty (coordinate descent reads all rows in one array; use l2=, or compute the arrays)"
    elif options.starts > 1:
        why = "starts= (one start: give x0= to choose it)"
    elif problem.precision == "high":
        why = "precision='high' (its mpmath sums read every row in one process)"
    elif getattr(o, "robust", None) is not None and o.robust.loss == "quantile":
        why = "a quantile loss (its linear programme reads all rows in one array)"
    if why:
        raise ModelError(f"Dask input does not take {why}; solve without it, or compute the Dask arrays into NumPy "
                         f"arrays (X.compute()) to use the in-memory path")


# --- closed forms -------------------------------------------------------------------------------------------------

def _chunk_triangle(chunk, design):
    """``R`` of one chunk's ``[Phi, u]``, the squared residuals' weight and the ridge weights."""
    Phi, u, c, penalised = design.matrix(chunk)
    return {"R": np.linalg.qr(np.column_stack([Phi, u]), mode="r"), "first": (c, penalised)}


def least_squares_solution(objective, form, dataset) -> LinearSolution:
    """The least-squares closed form on Dask input (the module's note), as the NumPy path's
    :func:`symopt.closed_form.linear.solve_least_squares` gives it, with F, its gradient and the factor."""
    design = design_for(objective, form)
    pieces = passes.chunk_sum(dataset, _chunk_triangle, design)
    R, (c, penalised) = pieces["R"], pieces["first"]
    p = R.shape[1] - 1
    A, u = R[:, :p], R[:, p]
    factor = np.triu(A[:p]) if A.shape[0] >= p else None
    scale_rows = dataset.n_rows if objective.reduction == "mean" else 1
    ridge = math.sqrt(scale_rows * objective.l2 / c) if objective.l2 else 0.0
    if ridge:
        rows = np.diag(ridge * np.sqrt(penalised))[penalised > 0]
        A, u = np.vstack([A, rows]), np.r_[u, np.zeros(rows.shape[0])]
    norms = _column_norms(A)
    if not np.all(np.isfinite(norms)):
        raise ModelError("a column of the design overflows double precision on the Dask input; rescale the data")
    S = np.linalg.svd(A / norms, compute_uv=False)
    tol = S[0] * max(dataset.n_rows, p) * np.finfo(float).eps if S.size else 0.0
    rank = int(np.sum(S > tol))
    cond = float(S[0] / S[-1]) if rank == p and S.size == p and S[-1] > 0 else math.inf
    if rank == p:
        x = _qr_refined(A / norms, u) / norms
        steps = _refined_on_chunks(dataset, design, A, norms, x, ridge * ridge * penalised if ridge else None)
        note = (f"tall QR of the design over {len(dataset.row_chunks)} Dask chunks (each chunk's R stacked and "
                f"factored again), then QR of the column-scaled R, refined by {steps} step(s) of the corrected "
                f"semi-normal equations with the residuals in extended precision, one pass each: full rank {p}, "
                f"condition number {cond:.3g}")
    else:
        x = np.linalg.lstsq(A, u, rcond=max(A.shape) * np.finfo(float).eps)[0]
        note = f"rank deficient: rank {rank} of {p} parameters; returned the minimum-norm solution (SVD)"
        warnings.warn(f"linear closed form is {note}. Remove dependent columns or add l2= to pin it down.",
                      RankDeficiencyWarning, stacklevel=4)
    r = A @ x - u
    weight = c / scale_rows
    return LinearSolution(x, rank, p, cond, "double", None, note, "minimum", fun=float(weight * (r @ r)),
                          gradient=2.0 * weight * (A.T @ r), factor=factor if rank == p else None)


#: At most this many refinement steps (each a pass over the chunks) of a tall-QR least-squares solve.
REFINE_STEPS = 3


def _chunk_correction(chunk, design, x):
    """``Phi^T (u - Phi x)`` of one chunk, in extended precision (``np.longdouble``)."""
    Phi, u, _, _ = design.matrix(chunk)
    L = np.longdouble
    Phi = Phi.astype(L)
    return Phi.T @ (u.astype(L) - Phi @ x.astype(L))


def _refined_on_chunks(dataset, design, A, norms, x, ridge) -> int:
    """Refine ``x`` in place by the corrected semi-normal equations (Bjorck): ``R^T R dx = Phi^T r``, ``r`` the
    residuals over all rows in extended precision (one pass a step), ``R`` the triangle of the column-scaled
    (ridge-stacked) ``A``. What the tall QR's rounding cost the solution (NIST Longley: 10.8 digits from the
    triangle alone) comes back as the in-memory path's refinement brings it (14.5). Returns the steps taken."""
    from ..numerics.linalg import triangular_solve

    R = np.linalg.qr(A / norms, mode="r")
    for step in range(1, REFINE_STEPS + 1):
        g = passes.chunk_sum(dataset, _chunk_correction, design, x).astype(float)
        if ridge is not None:
            g = g - ridge * x  # the ridge rows' residuals, -ridge x
        dz = triangular_solve(R, triangular_solve(R.T, g / norms, lower=True))
        x += dz / norms
        if np.all(np.abs(dz / norms) <= 4 * np.finfo(float).eps * np.abs(x)):
            return step
    return REFINE_STEPS


class ChunkSums:
    """The NumPy evaluation of the derivation, summed over Dask chunks (:mod:`.passes`' weights): what the
    symbolic closed form's checks read (:func:`symopt.closed_form.on_data.symbolic_result`'s ``sums``)."""

    def __init__(self, objective, derivation, dataset):
        self.objective, self.derivation, self.dataset = objective, derivation, dataset

    def statistics(self, objective, statistics) -> dict:
        from ..closed_form.sufficient_statistics import COUNT

        values = passes.chunk_sum(self.dataset, _chunk_statistics, objective, statistics)
        return {COUNT: self.dataset.n_rows, **dict(zip(statistics.symbols, (float(v) for v in values)))}

    def value_and_gradient(self, theta):
        """``(F, gradient)`` at ``theta`` by the NumPy evaluation of the derivation, summed over chunks."""
        o, d, ds = self.objective, self.derivation, self.dataset
        theta = np.asarray(theta, dtype=float)
        fun, grad = passes.chunk_sum(ds, _chunk_value_and_gradient, o, d, theta, ds.n_rows)
        value, slope, _ = passes.penalty(o, o.form.penalty_mask(ds), theta)
        k = passes.excess(o, ds)
        return float(fun - k * value), grad - k * slope

    def terms(self, theta):
        """``(F, gradient, gradient scale, Hessian or None)`` at ``theta``, as
        :func:`symopt.derivation.totals.objective_terms` gives them for data in one array (the scale the larger
        of the terms' and the rows')."""
        o, d, ds = self.objective, self.derivation, self.dataset
        theta = np.asarray(theta, dtype=float)
        fun, grad, scale, hess = passes.chunk_sum(ds, _chunk_terms, o, d, theta, ds.n_rows)
        value, slope, curve = passes.penalty(o, o.form.penalty_mask(ds), theta)
        k = passes.excess(o, ds)
        hess = None if np.ndim(hess) == 0 else hess - k * np.diag(curve)
        return float(fun - k * value), grad - k * slope, scale, hess


def _chunk_statistics(chunk, objective, statistics):
    from ..closed_form.sufficient_statistics import statistic_values

    values = statistic_values(objective, statistics, chunk, "double")
    return np.array([values[s] for s in statistics.symbols])


def _chunk_value_and_gradient(chunk, objective, derivation, theta, n_rows):
    w = passes.weight(objective, chunk, n_rows)
    with np.errstate(all="ignore"):
        fun, grad = objective.form.value_and_gradient(derivation, chunk, theta)
    return np.float64(w * fun), w * grad


def _chunk_terms(chunk, objective, derivation, theta, n_rows):
    from ..derivation.task import Task
    from ..derivation.totals import objective_terms

    w = passes.weight(objective, chunk, n_rows)
    with np.errstate(all="ignore"):
        fun, grad, scale, hess = objective_terms(Task(objective, derivation, chunk), theta)
        rows = objective.form.term_scale(derivation, chunk, theta)
    return (np.float64(w * fun), w * grad, w * np.maximum(scale, rows),
            np.float64(0.0) if hess is None else w * hess)


# --- the iterative run --------------------------------------------------------------------------------------------

def optimizer_for(problem, n_params: int, n_rows: int):
    """``(optimizer, why)`` for the run on Dask input: the problem's (refused where it reads rows itself), or the
    NumPy path's choice; Levenberg-Marquardt without variable projection (the module's note)."""
    optimizer, why = problem._driver.optimizer(n_params, n_rows)
    if getattr(optimizer, "stochastic", False) or getattr(optimizer, "proximal", False):
        raise ModelError(f"{type(optimizer).__name__} does not run on Dask input ({_why_not(optimizer)}); use "
                         f"symopt.LBFGS() or symopt.Newton(), whose evaluations are one Dask pass each")
    if isinstance(optimizer, LevenbergMarquardt) and problem.box:
        replaced = Newton() if problem.derivation.hessian is not None else LBFGS()
        why = (f"chose {type(replaced).__name__}: Levenberg-Marquardt with bounds is not run on Dask input (its "
               f"bounded step reads the rows in one array); "
               f"{'the Hessian is summed per chunk' if isinstance(replaced, Newton) else 'no Hessian derived'}")
        optimizer = replaced
    elif isinstance(optimizer, LevenbergMarquardt):
        optimizer = LevenbergMarquardt(**{f.name: getattr(optimizer, f.name) for f in fields(LevenbergMarquardt)
                                          if f.name != "projection"}, projection=False)
        why = (f"{why}; on Dask input each step's Jacobian is a tall QR over the chunks (one pass, the damped step "
               f"solved on the triangle), without geodesic acceleration or variable projection")
    return optimizer, why


def _why_not(optimizer) -> str:
    if getattr(optimizer, "stochastic", False):
        return "a minibatch optimizer draws rows from all of them at every step"
    if getattr(optimizer, "proximal", False):
        return "proximal steps belong to an l1 penalty, not taken on Dask input"
    return "it reads the rows in one array"


def dask_module(problem, optimizer, dataset):
    """``(rendered, module, path, passes)``: a private copy of the generated module's interpreted twin for
    ``optimizer``, its objective kernels rebound to Dask passes (:class:`.passes.KernelPasses`)."""
    rendered, _, path = problem._driver.compiled(optimizer, "python")
    spec = importlib.util.spec_from_file_location(f"_symopt_dask_{rendered.stem}_{next(_NAMES)}", str(path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    kernels = passes.KernelPasses(problem.objective, dataset, rendered)
    module.objective_and_gradient = kernels.objective_and_gradient
    module.objective_gradient_hessian = kernels.objective_gradient_hessian
    return rendered, module, path, kernels


def run(problem, task, optimizer, x0, progress, stops, bounds=None):
    """The run on Dask input (the module's note): ``(Run, words for what ran)``; ``bounds``: the flat ``(lower,
    upper)`` arrays of a bounded problem (its module keeps them, as on NumPy data)."""
    from dataclasses import replace

    if isinstance(optimizer, LevenbergMarquardt):
        from . import levenberg

        outcome = levenberg.run(problem, task, optimizer, starting_point(task, x0), stops)
        return outcome, (f"generated code: Levenberg-Marquardt on the client, each step one tall-QR Dask pass of the "
                         f"compiled residual kernels over {len(task.dataset.row_chunks)} chunks")
    rendered, module, path, kernels = dask_module(problem, optimizer, task.dataset)
    outcome = run_iterative(task, optimizer, x0, progress, compiled=(rendered, module, path), stops=stops,
                            bounds=bounds)
    from ..codegen import cache

    outcome = replace(outcome, backend="numba, per Dask chunk", source_path=cache.write(rendered.source, rendered.stem))
    code = (f"generated code: the optimizer on the client, each evaluation one Dask pass of the compiled kernels over "
            f"{len(task.dataset.row_chunks)} chunks ({kernels.passes} passes)")
    return outcome, code


def hessian(task, x) -> np.ndarray | None:
    """The Hessian of F at ``x`` summed over chunks (:func:`symopt.run.stationary.hessian_at` per chunk), or None
    where the form has none or it is not finite."""
    objective, derivation, dataset = task
    p = len(x)
    if derivation.hessian is None or dataset.n_rows * p * (p + 1) // 2 > CURVATURE_CHECK_MAX_WORK:
        return None  # (as on NumPy data: the check is skipped where forming it costs more than the solve)
    x = np.asarray(x, dtype=float)
    hess = passes.chunk_sum(dataset, _chunk_hessian, objective, derivation, x, dataset.n_rows)
    if np.ndim(hess) == 0 or not np.all(np.isfinite(hess)):
        return None
    _, _, curve = passes.penalty(objective, objective.form.penalty_mask(dataset), x)
    return hess - passes.excess(objective, dataset) * np.diag(curve)


def _chunk_hessian(chunk, objective, derivation, x, n_rows):
    with np.errstate(all="ignore"):
        hess = objective.form.hessian(derivation, chunk, x)
    return np.float64(np.nan) if hess is None else passes.weight(objective, chunk, n_rows) * hess

"""Tier 1: objectives whose gradient is affine in the parameters.

Two shapes are recognised, each solved stably (never ``inv``):

* **least squares** ``c * (u0(x) - phi(x) . theta)**2`` per sample (a squared
  loss on a model linear in its parameters, or a custom objective of that
  form): Householder QR of the column-scaled design matrix (the ridge penalty
  as extra rows), refined on the augmented system with residuals in extended
  precision; the singular values give the rank and condition number. A
  rank-deficient problem gets the minimum-norm solution (SVD) and a warning.
  Where the design comes from is the form's (:mod:`.design`): a tall
  ``LinearModel()`` over a data matrix first tries the normal equations by
  Cholesky when their condition allows (``normal_equations``).
* **quadratic** (any other per-sample objective of degree two in theta): the
  summed Hessian ``A`` and gradient at zero ``b`` are assembled and
  ``A theta = -b`` is solved by a symmetric eigendecomposition of the
  Jacobi-scaled ``A``, which also says whether the point is a minimum or a
  maximum.

``precision="high"`` evaluates either in mpmath at 50 digits or more.

It is one module past 400 lines because finding the linear form (the structural degree bound, the least-squares
columns, a quadratic's Hessian) and solving it on data (QR, normal equations, ridge rows, bounds, high
precision) share the LinearForm record; the design of each shape is in :mod:`symopt.closed_form.design`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import replace

import mpmath
import numpy as np
import sympy as sp

from ..errors import ModelError, PrecisionError, RankDeficiencyWarning
from ..model.kinds.base import ETA
from ..numerics.linalg import triangular_solve
from ..symbolic.numeric import evaluate

from ..numerics.bvls import bounded_least_squares
from .design import column, data_overflow, design_for, overflows
from .expression_size import EXPAND_LIMIT, degree_bound, expansion_size
from .records import LinearForm, LinearSolution

HIGH_PRECISION_MAX_PARAMS = 30
HIGH_PRECISION_MAX_ROWS = 100_000
HIGH_PRECISION_DIGITS = 50


def find_linear_form(objective, derivation):
    """Return ``(LinearForm, "")`` when the gradient is affine in theta, else ``(None, reason)``."""
    shape = objective.form.linear_shape
    if shape is None:
        return None, objective.form.no_linear_form
    return FINDERS[shape](objective, derivation)


def _find_matrix(objective, derivation):
    """A loss in the linear predictor ``eta``: affine in the parameters exactly when dl/deta is affine in eta,
    which among the losses offered is the squared loss, weighted or not: ``(r*(y - eta))**2`` with ``r`` the
    residual's multiplier (:class:`.design.MatrixDesign` scales the rows by it). Any other loss over the data
    matrix (one that reads an offset, say) is left to the iterative solvers."""
    if objective.kind == "squared" and objective.maximize:
        return None, "a squared loss has no maximum: maximising it is unbounded"
    if objective.kind == "squared":
        if is_matrix_least_squares(objective):
            return LinearForm("least_squares"), ""
        return None, (f"the loss {objective.per_sample} is not squared_loss's (y - eta)**2 (weighted or not), the one "
                      f"whose design the matrix closed form knows, so the iterative solvers fit it")
    return None, f"dl/deta = {derivation.gradient[0]} is not affine in eta, so the gradient is not affine in the parameters"


def is_matrix_least_squares(objective) -> bool:
    """Whether ``objective`` over a data matrix is squared_loss's ``(r*(y - eta))**2``, ``r`` the residual's
    multiplier where weighted (the loss whose design :class:`.design.MatrixDesign` forms)."""
    multiplier = sp.Integer(1) if objective.residual_weight is None else objective.residual_weight
    return objective.kind == "squared" and objective.per_sample == (multiplier * (objective.target - ETA)) ** 2


def _find_expression(objective, derivation):
    """The linear form of an expression objective, decided without a polynomial in the parameters: SymPy's
    ``as_poly`` expands ``(y - sum_k w_k b_k)**2`` into ``k**2`` products and builds a dense polynomial in
    ``k`` variables, recursively (measured: a basis of 100 terms took 24 s, 200 minutes, and 1,000 parameters
    overflowed Python's stack). The structural bound of :func:`degree_bound` settles the degree in one walk;
    only where it exceeds 2 and the expansion is small is it expanded, to find a cancellation. The least
    squares columns and a quadratic's Hessian are read off affine expressions term by term
    (:func:`affine_parts`), so the work grows with the size of the objective, not its square."""
    ell = objective.per_sample
    params = objective.params
    names = _names(params)
    bound = degree_bound(ell, params)
    if bound > 2:
        size = expansion_size(ell)
        if size > EXPAND_LIMIT:
            # Too big to expand cheaply, and only a cancellation could bring the degree down to 2.
            return None, (f"the gradient is not affine in the parameters (l is of degree up to {bound} in {names} "
                          f"by its structure; not expanded, it would take {size:,} products)")
        if max(degree_bound(t, params) for t in sp.Add.make_args(sp.expand(ell))) > 2:
            return None, (f"the gradient is not affine in the parameters (l is not a polynomial of degree <= 2 "
                          f"in {names})")
    if not objective.maximize:
        form = _least_squares(objective)
        if form is not None:
            return form, ""
    quadratic = _quadratic(objective, derivation)
    if quadratic is None:
        return None, (f"the gradient is not affine in the parameters by its structure, and expanding it to "
                      f"see whether it is would take more than {EXPAND_LIMIT:,} products")
    return quadratic, ""


def _names(params, shown: int = 10) -> str:
    """The parameters' names for a message: the first ``shown`` and how many more."""
    head = ", ".join(p.name for p in params[:shown])
    return head + (f", ... ({len(params)} in all)" if len(params) > shown else "")


#: How a linear form is found, by the shape the kind of problem declares (:attr:`symopt.model.kinds.base.Form.linear_shape`).
FINDERS = {"expression": _find_expression, "matrix": _find_matrix}


def affine_parts(expr: sp.Expr, params) -> tuple[sp.Expr, dict] | None:
    """``(offset, {parameter: coefficient})`` with ``expr = offset + sum_p coefficient_p * p``, the offset and
    the coefficients free of ``params``, or ``None`` where ``expr`` is not affine in them by its structure.

    One walk of the tree, nothing expanded (each coefficient is what ``diff(expr, p)`` gives, without ``p``
    differentiations of the whole expression): a sum is affine when each term is, a product when one factor
    holds parameters and is affine. A product of two factors that hold parameters, a parameter in a power or
    a function, is not; where such a structure is affine after all (``(a + 1)**2 - a**2``), an expansion of
    at most :data:`EXPAND_LIMIT` products settles it.
    """
    params = frozenset(params)
    parts = _affine(expr, params)
    if parts is None and expansion_size(expr) <= EXPAND_LIMIT:
        parts = _affine(sp.expand(expr), params)
    if parts is None:
        return None
    offset, coefficients = parts
    return offset, {p: sp.Add(*terms) for p, terms in coefficients.items()}


def _affine(expr: sp.Expr, params: frozenset) -> tuple[sp.Expr, dict] | None:
    """:func:`affine_parts` by structure alone, the coefficients as lists of terms (added once, at the end:
    adding to a growing sum term by term is quadratic)."""
    if not (expr.free_symbols & params):
        return expr, {}
    if expr in params:
        return sp.Integer(0), {expr: [sp.Integer(1)]}
    if expr.is_Add:
        offsets, coefficients = [], {}
        for term in expr.args:
            parts = _affine(term, params)
            if parts is None:
                return None
            offsets.append(parts[0])
            for p, terms in parts[1].items():
                coefficients.setdefault(p, []).extend(terms)
        return sp.Add(*offsets), coefficients
    if expr.is_Mul:
        # Split by hand: as_independent(*params) builds a set of all the parameters on every call.
        dependent = [f for f in expr.args if f.free_symbols & params]
        if len(dependent) > 1:  # two factors hold parameters
            return None
        constant = sp.Mul(*[f for f in expr.args if f is not dependent[0]])
        parts = _affine(dependent[0], params)
        if parts is None:
            return None
        return constant * parts[0], {p: [constant * sp.Add(*terms)] for p, terms in parts[1].items()}
    return None


def _least_squares(objective):
    """Match ``c * u**2`` with ``c`` a positive number and ``u`` affine in the parameters (a weighted squared
    loss's ``u`` is ``sqrt(w)*(y - f)``: its design is the rows scaled by ``sqrt(w)``)."""
    squares = objective.sum_of_squares()
    if squares is None:
        return None
    u, coeff = squares
    params = objective.params
    parts = affine_parts(u, params)
    if parts is None:
        return None
    offset, coefficients = parts
    columns = tuple(-coefficients.get(p, sp.Integer(0)) for p in params)
    return LinearForm("least_squares", columns=columns, offset=offset, weight=coeff)


def _quadratic(objective, derivation):
    """The quadratic form: per-sample Hessian entries (row-major) and gradient at zero. From the derivation's
    Hessian where it formed one; else read off the gradient, affine in the parameters (:func:`affine_parts`)
    row by row. ``None`` if a row is not affine by its structure and too big to expand."""
    params = objective.params
    zero = {p: 0 for p in params}
    if derivation.hessian is not None:
        hess = tuple(derivation.hessian[i, j] for i in range(len(params)) for j in range(len(params)))
        grad0 = tuple(g.xreplace(zero) for g in derivation.gradient)
        return LinearForm("quadratic", hessian=hess, gradient_at_zero=grad0)
    rows, grad0 = [], []
    for g in derivation.gradient:
        parts = affine_parts(g, params)
        if parts is None:
            return None
        offset, coefficients = parts
        grad0.append(offset)
        rows.extend(coefficients.get(p, sp.Integer(0)) for p in params)
    return LinearForm("quadratic", hessian=tuple(rows), gradient_at_zero=tuple(grad0))


def check_high_precision(n_rows: int, n_params: int) -> None:
    if n_params > HIGH_PRECISION_MAX_PARAMS or n_rows > HIGH_PRECISION_MAX_ROWS:
        raise PrecisionError(
            f"precision='high' is for problems up to {HIGH_PRECISION_MAX_PARAMS} parameters and "
            f"{HIGH_PRECISION_MAX_ROWS:,} rows; this one has {n_params} parameters and {n_rows:,} rows. "
            "Use precision='double' (QR of the column-scaled design, refined in extended precision).")


def solve_least_squares(objective, form, dataset, precision: str) -> LinearSolution:
    design = design_for(objective, form)
    if precision == "double":
        fast = design.fast(dataset)
        if fast is not None:
            return fast
    Phi, u = _stacked(objective, design, dataset)
    n, p = dataset.n_rows, Phi.shape[1]
    if precision == "high":
        check_high_precision(n, p)
        return _least_squares_high(design, dataset, Phi, u)
    norms = _column_norms(Phi)
    for j in np.flatnonzero(~np.isfinite(norms)):
        # The scaling (a power of two at or above the column's norm) needs the column's sum of squares
        # to stay below 2**2046: a column with an entry near the largest double has no usable scale.
        raise design.unscalable(dataset, Phi, int(j))
    A = Phi / norms
    S = np.linalg.svd(A, compute_uv=False)
    tol = S[0] * max(A.shape) * np.finfo(float).eps if S.size else 0.0
    rank = int(np.sum(S > tol))
    cond = float(S[0] / S[-1]) if rank == p and S[-1] > 0 else math.inf
    if rank == p:
        x = _qr_refined(A, u) / norms
        note = (f"QR of the column-scaled design with iterative refinement: full rank {p}, "
                f"condition number {cond:.3g}")
    else:
        # The minimum-norm solution in the user's parameters needs the unscaled system.
        x = np.linalg.lstsq(Phi, u, rcond=max(Phi.shape) * np.finfo(float).eps)[0]
        note = (f"rank deficient: rank {rank} of {p} parameters; returned the minimum-norm solution (SVD)")
        warnings.warn(f"linear closed form is {note}. Remove dependent columns or add l2= to pin it down.",
                      RankDeficiencyWarning, stacklevel=4)
    return LinearSolution(x, rank, p, cond, "double", None, note, "minimum")


def _stacked(objective, design, dataset):
    """``(Phi, u)``: the design and target with the ridge penalty as extra rows, so that
    F = (c/n) sum r^2 + l2 |theta_pen|^2  ==  (c/n) * || [u; 0] - [Phi; sqrt(n l2/c) I_pen] theta ||^2."""
    Phi, u, weight, penalised = design.matrix(dataset)
    scale_rows = Phi.shape[0] if objective.reduction == "mean" else 1
    ridge = math.sqrt(scale_rows * objective.l2 / weight) if objective.l2 else 0.0
    if ridge:
        rows = np.diag(ridge * np.sqrt(penalised))[penalised > 0]
        Phi = np.vstack([Phi, rows])
        u = np.r_[u, np.zeros(rows.shape[0])]
    return Phi, u


def solve_bounded_least_squares(objective, form, dataset, lower, upper, precision: str = "double"):
    """Least squares with ``lower <= theta <= upper`` solved exactly (:func:`.bvls.bounded_least_squares`) on
    the column-scaled design, the ridge penalty as extra rows, as :func:`solve_least_squares` forms them;
    with ``precision="high"``, the active set it finds confirmed (or corrected) in mpmath and the solution
    computed there (:func:`_bounded_high`)."""
    design = design_for(objective, form)
    Phi, u = _stacked(objective, design, dataset)
    norms = _column_norms(Phi)
    for j in np.flatnonzero(~np.isfinite(norms)):
        raise design.unscalable(dataset, Phi, int(j))

    sol = bounded_least_squares(Phi / norms, u, lower * norms, upper * norms)
    sol = replace(sol, x=sol.x / norms)
    if precision == "high":
        check_high_precision(dataset.n_rows, Phi.shape[1])
        return _bounded_high(design, dataset, Phi, u, lower, upper, sol)
    return sol


def _bounded_high(design, dataset, Phi_double, u_double, lower, upper, start):
    """The bounded least-squares solution in mpmath: from the active set of the double solve (``start``), the
    normal equations of the free parameters with the held ones at their bounds; a free one that leaves the
    box is held at the bound it passes, a held one whose gradient points inside is freed, until neither
    happens (the KKT conditions at the working precision). Usually the double active set stands as it is."""
    cond = _scaled_condition(Phi_double)
    p = Phi_double.shape[1]
    state = [-1 if side == "lower" else 1 if side == "upper" else 0 for side in start.active]
    with mpmath.workdps(_working_digits(cond)):
        A, b = _normal_equations_high(design, dataset, Phi_double, u_double)
        lo = [mpmath.mpf(v) if math.isfinite(v) else None for v in lower]
        hi = [mpmath.mpf(v) if math.isfinite(v) else None for v in upper]
        for step in range(3 * p + 10):
            x = [lo[j] if state[j] == -1 else hi[j] if state[j] == 1 else mpmath.mpf(0) for j in range(p)]
            free = [j for j in range(p) if state[j] == 0]
            if free:
                Af = mpmath.matrix(len(free), len(free))
                bf = mpmath.matrix(len(free), 1)
                for a, j in enumerate(free):
                    bf[a] = b[j] - mpmath.fsum(A[j, k] * x[k] for k in range(p) if state[k] != 0)
                    for c, k in enumerate(free):
                        Af[a, c] = A[j, k]
                try:
                    solved = mpmath.lu_solve(Af, bf)
                except ZeroDivisionError:
                    raise PrecisionError("the normal equations of the free parameters are singular: the problem is "
                                         "rank deficient; precision='high' needs a full-rank design (use "
                                         "precision='double')") from None
                for a, j in enumerate(free):
                    x[j] = solved[a]
            out = [j for j in free if (lo[j] is not None and x[j] < lo[j]) or (hi[j] is not None and x[j] > hi[j])]
            if out:
                j = out[0]
                state[j] = -1 if lo[j] is not None and x[j] < lo[j] else 1
                continue
            g = [mpmath.fsum(A[j, k] * x[k] for k in range(p)) - b[j] for j in range(p)]
            wrong = [j for j in range(p) if (state[j] == -1 and g[j] < 0) or (state[j] == 1 and g[j] > 0)]
            if not wrong:
                break
            state[max(wrong, key=lambda j: abs(g[j]))] = 0
        else:
            raise PrecisionError("bounded least squares at high precision did not settle on an active set; use "
                                 "precision='double'")
        exact = tuple(x)
        gradient = np.array([float(v) for v in g])
    active = tuple("lower" if s == -1 else "upper" if s == 1 else None for s in state)
    note = (f"normal equations of the free parameters solved in mpmath at {_working_digits(cond)} digits, the "
            f"active set of the double solve {'confirmed' if step == 0 else f'corrected in {step} steps'}")
    return replace(start, x=np.array([float(v) for v in exact]), active=active, gradient=gradient, exact=exact,
                   note=note)


def _column_norms(Phi):
    """Column scales: each column's Euclidean norm rounded to a power of two (1 for a zero
    column), so dividing by it is exact. Computed on the column over its largest entry (also
    a power of two), so columns of size 1e160 or 1e-160 neither overflow nor underflow. A column whose
    scale would be 2**1024 or more (an entry or the norm at 2**1023 or above) gets inf."""
    big = np.max(np.abs(Phi), axis=0)
    big[big == 0] = 1.0
    with np.errstate(over="ignore", invalid="ignore"):
        big = np.ldexp(1.0, np.frexp(big)[1])
        norms = np.ldexp(1.0, np.frexp(big * np.linalg.norm(Phi / big, axis=0))[1])
    norms[~np.isfinite(big)] = np.inf
    return norms


def _extended_residuals(A, x, r, u, block: int = 65_536):
    """``f = u - r - A x`` and ``g = -A^T r`` accumulated in ``np.longdouble``, a block of rows at a time."""
    L = np.longdouble
    f = np.empty(A.shape[0])
    g = np.zeros(A.shape[1], dtype=L)
    xl = x.astype(L)
    for start in range(0, A.shape[0], block):
        rows = slice(start, start + block)
        Ab = A[rows].astype(L)
        rb = r[rows].astype(L)
        f[rows] = (u[rows].astype(L) - rb - Ab @ xl).astype(float)
        g -= Ab.T @ rb
    return f, g.astype(float)


def _qr_refined(A, u, steps: int = 3):
    """Least squares by Householder QR, refined on the augmented system (Bjorck 1967).

    Refining ``[I A; A^T 0] [r; x] = [u; 0]`` with residuals in extended
    precision recovers digits that plain QR loses on large-residual problems
    (NIST Wampler5: 5.6 -> 7.5 digits). Where ``np.longdouble`` is plain
    double the refinement changes little and costs little.
    """
    Q, R = np.linalg.qr(A)
    x = triangular_solve(R, Q.T @ u)
    r = u - A @ x
    for _ in range(steps):
        f, g = _extended_residuals(A, x, r, u)
        h = triangular_solve(R.T, g, lower=True)
        c = Q.T @ f
        dx = triangular_solve(R, c - h)
        r = r + (f - Q @ (c - h))
        x = x + dx
        if np.all(np.abs(dx) <= 4 * np.finfo(float).eps * np.abs(x)):
            break
    return x


def _working_digits(cond: float) -> int:
    extra = 0 if not math.isfinite(cond) else int(2 * math.log10(max(cond, 1.0)))
    return max(HIGH_PRECISION_DIGITS, extra + 30)


def _scaled_condition(Phi) -> float:
    """The condition number of ``Phi`` with its columns scaled to unit norm (what the working digits need)."""
    norms = np.linalg.norm(Phi, axis=0)
    return float(np.linalg.cond(Phi / np.where(norms == 0, 1, norms)))


def _normal_equations_high(design, dataset, Phi_double, u_double):
    """``(A, b)``: ``Phi^T Phi`` and ``Phi^T u`` in mpmath at the working precision, from the design's rows
    read exactly (:meth:`.design.Design.rows_high`)."""
    p = Phi_double.shape[1]
    rows, u = design.rows_high(dataset, Phi_double, u_double)
    cols = list(zip(*rows))
    A = mpmath.matrix(p, p)
    b = mpmath.matrix(p, 1)
    for j in range(p):
        b[j] = mpmath.fdot(cols[j], u)
        for k in range(j, p):
            A[j, k] = A[k, j] = mpmath.fdot(cols[j], cols[k])
    return A, b


def _least_squares_high(design, dataset, Phi_double, u_double) -> LinearSolution:
    """Normal equations assembled and solved in mpmath, with digits to spare for the conditioning."""
    cond = _scaled_condition(Phi_double)
    p = Phi_double.shape[1]
    with mpmath.workdps(_working_digits(cond)):
        A, b = _normal_equations_high(design, dataset, Phi_double, u_double)
        try:
            sol = mpmath.lu_solve(A, b)
        except ZeroDivisionError:
            raise PrecisionError("the normal equations are singular: the problem is rank deficient; "
                                 "precision='high' needs a full-rank design (use precision='double')") from None
        exact = tuple(sol[j] for j in range(p))
    x = np.array([float(v) for v in exact])
    note = (f"normal equations solved in mpmath at {_working_digits(cond)} digits "
            f"(condition number of the scaled design {cond:.3g})")
    return LinearSolution(x, p, p, cond, "high", exact, note, "minimum")


def solve_quadratic(objective, form, dataset, precision: str) -> LinearSolution:
    """Solve ``A theta = -b`` for a quadratic objective; classify the point by A's eigenvalues."""
    p = len(objective.params)
    n = dataset.n_rows
    values = {s: dataset[s.name] for s in objective.data_symbols}
    scale = 1.0 / n if objective.reduction == "mean" else 1.0
    sign = -1.0 if objective.maximize else 1.0
    pen = np.array([2.0 * sign * objective.l2 * k for k in objective.penalised])
    if precision == "high":
        check_high_precision(n, p)
        return _quadratic_high(objective, form, dataset, pen)
    params = objective.params

    def entry(k, h):  # a number (most entries of a large Hessian are 0) is not printed into the message
        what = f"the Hessian entry d2l/d{params[k // p].name}d{params[k % p].name}" + ("" if h.is_Number else f", {h},")
        return _summed(objective, dataset, h, values, what)

    A = np.array([entry(k, h) for k, h in enumerate(form.hessian)]).reshape(p, p) * scale + np.diag(pen)
    b = np.array([_summed(objective, dataset, g, values, f"the gradient at zero dl/d{q.name}, {g},")
                  for g, q in zip(form.gradient_at_zero, objective.params)]) * scale
    return _solve_symmetric(A, -b, objective.maximize)


def _summed(objective, dataset, expr, values, what: str) -> float:
    """The exactly rounded sum of ``expr`` over the rows; a DataError naming the row where the sum (or a
    term) overflows double precision, a ModelError where the expression is undefined on the data. A number
    (most entries of a large quadratic's Hessian are 0) needs no pass over the rows: ``n`` times it is the
    same exactly rounded sum."""
    if expr.is_Number:
        total = float(expr) * dataset.n_rows
        if math.isfinite(total):
            return total
    col = column(expr, values, dataset.n_rows)
    bad = np.flatnonzero(~np.isfinite(col))
    if bad.size:
        row = int(bad[0])
        if overflows(objective, dataset, expr, row):
            raise data_overflow(objective, dataset, row, what, expr)
        raise ModelError(f"{what} is not finite on the data ({col[row]} at row {row}): the model is undefined there")
    try:
        total = math.fsum(col)
    except OverflowError:
        total = math.inf
    if not math.isfinite(total):
        raise data_overflow(objective, dataset, int(np.argmax(np.abs(col))), f"the sum of {what}", expr)
    return total


def _solve_symmetric(A, rhs, maximize) -> LinearSolution:
    p = A.shape[0]
    d = np.sqrt(np.abs(np.diag(A)))
    d[d == 0] = 1.0
    As = A / np.outer(d, d)
    lam, V = np.linalg.eigh(As)
    big = np.max(np.abs(lam)) if lam.size else 0.0
    keep = np.abs(lam) > big * p * np.finfo(float).eps
    rank = int(keep.sum())
    cond = float(big / np.min(np.abs(lam))) if np.all(keep) else math.inf
    bs = rhs / d
    xs = V[:, keep] @ ((V[:, keep].T @ bs) / lam[keep])
    x = xs / d
    pos, neg = np.any(lam[keep] > 0), np.any(lam[keep] < 0)
    curvature = "saddle" if pos and neg else ("maximum" if neg else "minimum")
    if rank < p:
        curvature += " (flat directions: rank deficient)"
    note = f"symmetric eigensolve of the Jacobi-scaled summed Hessian: rank {rank} of {p}, condition number {cond:.3g}"
    # A theta = rhs has a solution only if rhs is in A's range. A part c of rhs along the flat directions
    # makes F linear along w = V_flat c / d with slope -|c|**2: F falls without bound along w (rises against
    # it), with no stationary point anywhere. A consistent system keeps a part of order eps * |rhs| from
    # rounding; a part above sqrt(eps) * |rhs| is taken to be real.
    flat = V[:, ~keep].T @ bs
    direction = None
    if rank < p and np.linalg.norm(flat) > math.sqrt(np.finfo(float).eps) * np.linalg.norm(bs):
        w = (V[:, ~keep] @ flat) / d
        direction = w / np.max(np.abs(w))
    elif rank < p and curvature.startswith("maximum" if maximize else "minimum"):
        warnings.warn(f"quadratic closed form is rank deficient ({note}); returned the minimum-norm stationary point",
                      RankDeficiencyWarning, stacklevel=4)
    return LinearSolution(x, rank, p, cond, "double", None, note, curvature, direction)


def _quadratic_high(objective, form, dataset, pen) -> LinearSolution:
    p = len(objective.params)
    syms = objective.data_symbols
    cols = [dataset[s.name] for s in syms]
    with mpmath.workdps(HIGH_PRECISION_DIGITS + 30):
        A = mpmath.matrix(p, p)
        b = mpmath.matrix(p, 1)
        hs = [mpmath.mpf(0)] * (p * p)
        gs = [mpmath.mpf(0)] * p
        for i in range(dataset.n_rows):
            values = {s: mpmath.mpf(float(c[i])) for s, c in zip(syms, cols)}
            hs = [a + evaluate(h, values, "mpmath") for a, h in zip(hs, form.hessian)]
            gs = [a + evaluate(g, values, "mpmath") for a, g in zip(gs, form.gradient_at_zero)]
        scale = mpmath.mpf(1) / dataset.n_rows if objective.reduction == "mean" else mpmath.mpf(1)
        for j in range(p):
            b[j] = -gs[j] * scale
            for k in range(p):
                A[j, k] = hs[j * p + k] * scale + (mpmath.mpf(repr(float(pen[j]))) if j == k else 0)
        try:
            sol = mpmath.lu_solve(A, b)
        except ZeroDivisionError:
            double = _solve_symmetric(np.array(A.tolist(), dtype=float), np.array(b.tolist(), dtype=float).ravel(),
                                      objective.maximize)
            if double.direction is not None:  # no stationary point at all: unbounded, in any precision
                return double
            raise PrecisionError("the summed Hessian is singular; precision='high' needs a unique stationary point") from None
        exact = tuple(sol[j] for j in range(p))
        lam = mpmath.eigsy(A)[0]
        lam = [float(lam[k]) for k in range(p)]
    curvature = "minimum" if min(lam) > 0 else ("maximum" if max(lam) < 0 else "saddle")
    x = np.array([float(v) for v in exact])
    cond = max(abs(v) for v in lam) / min(abs(v) for v in lam)
    return LinearSolution(x, p, p, cond, "high", exact, f"solved in mpmath at {HIGH_PRECISION_DIGITS + 30} digits", curvature)

"""The least-squares design of a linear closed form on data: ``min ||u - Phi theta||^2`` (plus ridge rows),
one class per linear shape a kind of problem declares, so the solver asks the design and does not test what
kind of model it has.

- :class:`MatrixDesign`: a ``LinearModel()`` over a data matrix: ``Phi = [1, X]`` (or ``X``), ``u = y``, each row
  scaled by the residual's multiplier ``r`` where the squared loss is weighted (``sqrt(w)``, or ``1/s``); a tall
  one tries the normal equations first (:mod:`symopt.closed_form.normal_equations`, weighted by ``r**2``);
- :class:`ExpressionDesign`: an expression model linear in its parameters: the columns ``phi_j(x)`` and the
  offset ``u0(x)`` of the :class:`~symopt.closed_form.records.LinearForm`, evaluated on the data.

Each also names the data where a column cannot be formed or scaled in double precision (the row and the
array), and gives the rows in mpmath for ``precision="high"``.
"""

from __future__ import annotations

import abc
import math

import mpmath
import numpy as np
import sympy as sp

from ..errors import DataError, ModelError
from ..symbolic.numeric import evaluate
from . import normal_equations
from .records import LinearSolution


def column(expr, values, n_rows) -> np.ndarray:
    """``expr`` evaluated on the data, as a float column of ``n_rows`` (a constant broadcast)."""
    col = evaluate(expr, values)
    return np.broadcast_to(np.asarray(col, dtype=float), (n_rows,)).astype(float)


def overflows(objective, dataset, expr, row: int) -> bool:
    """Whether ``expr`` is non-finite at ``row`` only because it overflows double precision: evaluated in
    mpmath (which does not overflow) it is a finite number beyond the largest double (log(0) stays -inf)."""
    values = {s: mpmath.mpf(float(dataset[s.name][row])) for s in objective.data_symbols}
    try:
        with mpmath.workdps(30):
            value = evaluate(expr, values, "mpmath")
            return bool(mpmath.isfinite(value)) and abs(value) > np.finfo(float).max
    except (TypeError, ValueError, ZeroDivisionError, KeyError):
        return False


def _overflow(array: str, row: int, shown: str, what: str) -> DataError:
    err = DataError(f"data {array!r} at row {row} ({shown}): {what} overflows double precision there, so the "
                    f"closed form cannot be formed; scale the data, or check row {row} (an outlier, or a "
                    f"missing-value code?)")
    err.array, err.row = array, row
    return err


def data_overflow(objective, dataset, row: int, what: str, expr=None) -> DataError:
    """The DataError for named data at ``row`` whose products overflow double precision in ``what`` (the
    expression ``expr``: the data arrays it reads are named); it carries the array name and the row as
    ``array`` and ``row``."""
    used = getattr(expr, "free_symbols", set())
    names = [s.name for s in objective.data_symbols if s in used] or [s.name for s in objective.data_symbols]
    shown = ", ".join(f"{n} = {dataset[n][row]:.6g}" for n in names)
    return _overflow(names[0] if len(names) == 1 else ", ".join(names), row, shown, what)


def matrix_overflow(dataset, row: int, col: int, what: str) -> DataError:
    """The same for entry ``(row, col)`` of the data matrix ``X``."""
    return _overflow("X", row, f"X[{row}, {col}] = {dataset['X'][row, col]:.6g}", what)


class Design(abc.ABC):
    """The design of a least-squares closed form: ``objective`` and its :class:`LinearForm` ``form``."""

    def __init__(self, objective, form):
        self.objective, self.form = objective, form

    def fast(self, dataset) -> LinearSolution | None:
        """A cheaper solve where one applies (double precision only), else None."""
        return None

    @abc.abstractmethod
    def matrix(self, dataset) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
        """``(Phi, u, c, penalised)``: the design (n x p), the target, the weight ``c`` of each squared
        residual and the ridge penalty's weight on each parameter (0: unpenalised)."""

    @abc.abstractmethod
    def unscalable(self, dataset, Phi, j: int) -> DataError:
        """The error for column ``j`` of ``Phi`` whose scale overflows double precision (an entry or its norm
        at 2**1023 or above)."""

    @abc.abstractmethod
    def rows_high(self, dataset, Phi, u) -> tuple[list, list]:
        """The rows of the design and the target in mpmath (the ridge rows included), for the normal
        equations at high precision; ``Phi`` and ``u`` are the double ones, with their ridge rows."""


class MatrixDesign(Design):
    """``Phi = [1, X]`` with an intercept (else ``X``) and ``u = y``; a weighted squared loss scales each row by
    the residual's multiplier ``r`` (``sqrt(w)``, or ``1/s``): ``Phi = r [1, X]``, ``u = r y``, so a row of
    weight 0 is a row of zeros and drops out."""

    def _per_row(self, dataset, expr) -> np.ndarray:
        return column(expr, {s: dataset[s.name] for s in expr.free_symbols}, dataset.n_rows)

    def matrix(self, dataset):
        o = self.objective
        X, y = dataset["X"], dataset[o.target.name]
        m, first = X.shape[1], int(o.model.intercept)
        penalised = o.form.penalty_mask(dataset)  # the l2 weight of each column (0 on the intercept by default)
        r = None if o.residual_weight is None else self._per_row(dataset, o.residual_weight)
        if r is None and not first:
            return X, y, 1.0, penalised
        Phi = np.empty((dataset.n_rows, m + first))
        Phi[:, :first] = 1.0 if r is None else r[:, None]
        with np.errstate(over="ignore"):  # a scale past double precision is named by unscalable()
            np.multiply(X, 1.0 if r is None else r[:, None], out=Phi[:, first:])
            return Phi, (y if r is None else y * r), 1.0, penalised

    def unscalable(self, dataset, Phi, j):
        o = self.objective
        row = int(np.argmax(np.abs(Phi[:dataset.n_rows, j])))
        col = j - int(o.model.intercept)
        if o.weight_column is not None and (col < 0 or abs(dataset["X"][row, col]) < 2.0 ** 1023):
            name = o.weight_column  # the weight, not X, is what is too large there
            return _overflow(name, row, f"{name}[{row}] = {dataset[name][row]:.6g}",
                             f"the scale of {'the intercept column' if col < 0 else f'column {col} of X'}, weighted,")
        return matrix_overflow(dataset, row, col, f"the scale of column {col} of X")

    def rows_high(self, dataset, Phi, u):
        o = self.objective
        if o.residual_weight is None:
            return [[mpmath.mpf(v) for v in row] for row in Phi], [mpmath.mpf(v) for v in u]
        # each row's multiplier (sqrt(w), 1/s) in mpmath, not rounded to double first
        X, y, m = dataset["X"], dataset[o.target.name], o.residual_weight
        symbols = sorted(m.free_symbols, key=lambda s: s.name)
        rows, target = [], []
        for i in range(dataset.n_rows):
            r = evaluate(m, {s: mpmath.mpf(float(dataset[s.name][i])) for s in symbols}, "mpmath")
            rows.append(([r] if o.model.intercept else []) + [r * mpmath.mpf(float(v)) for v in X[i]])
            target.append(r * mpmath.mpf(float(y[i])))
        return rows, target

    def fast(self, dataset):
        """The normal equations by Cholesky for a tall design, where their condition allows (weighted by
        ``r**2``, the weights, for a weighted squared loss)."""
        o = self.objective
        X, y = dataset["X"], dataset[o.target.name]
        n, m = X.shape
        intercept = o.model.intercept
        p = m + intercept
        if not normal_equations.applies(n, p):
            return None
        w = None if o.residual_weight is None else self._per_row(dataset, o.residual_weight ** 2)
        ridge = np.full(m, (n if o.reduction == "mean" else 1) * o.l2)
        solved, cond, refined = normal_equations.solve(X, y, ridge, center=intercept, weights=w)
        if solved is None:
            return None
        beta, c, gradient, factor = solved
        x = np.r_[c, beta] if intercept else beta
        scale = 1.0 / n if o.reduction == "mean" else 1.0
        residual = y - X @ beta
        if intercept:
            residual -= c
        fun = scale * float(residual @ (residual if w is None else w * residual)) + o.l2 * float(beta @ beta)
        note = (f"normal equations by Cholesky on the {'weighted, ' if w is not None else ''}"
                f"{'centred, ' if intercept else ''}Jacobi-scaled Gram matrix, "
                f"one pass over the data (condition number {cond:.3g}, below {normal_equations.MAX_CONDITION:g}"
                + (f"; above {normal_equations.REFINE_ABOVE:g}, so one refinement step followed)" if refined else ")")
                + "; F from one product with X, its gradient from the same sums")
        return LinearSolution(x, p, p, math.sqrt(cond), "double", None, note, "minimum", fun=fun,
                              gradient=scale * gradient, factor=factor)


class ExpressionDesign(Design):
    """The columns ``phi_j(x)`` and offset ``u0(x)`` of the linear form, evaluated on the named data."""

    def matrix(self, dataset):
        o, form, n = self.objective, self.form, dataset.n_rows
        values = {s: dataset[s.name] for s in o.data_symbols}
        Phi = np.column_stack([column(c, values, n) for c in form.columns])
        u = column(form.offset, values, n)
        parts = [(f"the column of {p.name}", c, Phi[:, j]) for j, (p, c) in enumerate(zip(o.params, form.columns))]
        for what, expr, col in [*parts, ("the target part", form.offset, u)]:
            bad = np.flatnonzero(~np.isfinite(col))
            if bad.size:
                row = int(bad[0])
                if overflows(o, dataset, expr, row):
                    raise data_overflow(o, dataset, row, f"{what} in the least-squares design, {expr},", expr)
                raise ModelError(f"{what} in the least-squares design, {expr}, is not finite on the data "
                                 f"({col[row]} at row {row}): the model is undefined there")
        return Phi, u, float(form.weight), np.array(o.penalised, dtype=float)

    def unscalable(self, dataset, Phi, j):
        row = int(np.argmax(np.abs(Phi[:dataset.n_rows, j])))
        expr = self.form.columns[j]
        return data_overflow(self.objective, dataset, row,
                             f"the scale of the column of {self.objective.params[j].name}, {expr},", expr)

    def rows_high(self, dataset, Phi, u):
        """Evaluated row by row in mpmath (features like x**10 exactly), the ridge rows exact rather than
        rounded to double."""
        o, form = self.objective, self.form
        syms = o.data_symbols
        cols = [dataset[s.name] for s in syms]
        rows, target = [], []
        for i in range(dataset.n_rows):
            values = {s: mpmath.mpf(float(c[i])) for s, c in zip(syms, cols)}
            rows.append([evaluate(c, values, "mpmath") for c in form.columns])
            target.append(evaluate(form.offset, values, "mpmath"))
        if o.l2:
            p = len(form.columns)
            ridge = mpmath.sqrt((dataset.n_rows if o.reduction == "mean" else 1)
                                * mpmath.mpf(repr(o.l2)) / _mp_number(form.weight))
            for j, pen in enumerate(o.penalised):
                if pen:
                    weighted = ridge * mpmath.sqrt(mpmath.mpf(repr(float(pen))))
                    rows.append([weighted if k == j else mpmath.mpf(0) for k in range(p)])
                    target.append(mpmath.mpf(0))
        return rows, target


def _mp_number(e: sp.Expr):
    return mpmath.mpf(int(e.p)) / int(e.q) if e.is_Rational else mpmath.mpf(str(sp.N(e, mpmath.mp.dps)))


#: The design of each linear shape a kind of problem may declare (:attr:`symopt.model.kinds.base.Form.linear_shape`).
DESIGNS = {"expression": ExpressionDesign, "matrix": MatrixDesign}


def design_for(objective, form) -> Design:
    """The least-squares design of ``objective``'s linear form ``form`` (a kind with a linear shape)."""
    return DESIGNS[objective.form.linear_shape](objective, form)

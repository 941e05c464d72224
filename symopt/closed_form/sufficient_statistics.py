"""Tier 2: stationary points as formulas in sufficient statistics.

Expand each per-sample gradient component as ``sum_k c_k(theta) phi_k(x)``.
When every term separates into a parameter part and a data part, the summed
gradient is ``sum_k c_k(theta) S_k`` with ``S_k = sum_i phi_k(x_i)`` (and
``n`` for ``phi = 1``). SymPy solves those few equations for theta (in a
child process with a time budget); the answer is a formula in the ``S_k``,
so the data cost one pass. Every candidate is then checked on the data:
real, finite, in the parameter's domain, gradient near zero, and classified
by the Hessian against the sense of the objective.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import mpmath
import numpy as np
import sympy as sp

from ..derivation.task import Task
from ..derivation.totals import objective_terms
from ..symbolic.numeric import evaluate
from .expression_size import EXPAND_LIMIT, expansion_size
from .sandbox import ChildFailed, Timeout, run_with_budget

MAX_SYMBOLIC_PARAMS = 10
HIGH_DIGITS = 60  # working digits for statistics and formulas with precision="high"
COUNT = sp.Symbol("n", positive=True, integer=True)


@dataclass(frozen=True)
class Statistics:
    """Stationarity equations in sufficient statistics ``S_k = sum_i phi_k``."""

    symbols: tuple  # S_1, S_2, ...
    definitions: tuple  # phi_1, phi_2, ... (data expressions)
    equations: tuple  # one per parameter, in S_k and n

    def display(self, expr: sp.Expr) -> sp.Expr:
        """``expr`` with each ``S_k`` written out as a sum over rows ``i``."""
        i = sp.Symbol("i", integer=True)
        repl = {}
        for s, d in zip(self.symbols, self.definitions):
            indexed = d.xreplace({v: sp.Symbol(f"{v.name}_i", real=True) for v in d.free_symbols})
            repl[s] = sp.Sum(indexed, (i, 1, COUNT))
        return expr.xreplace(repl)

    @functools.cached_property
    def _table(self) -> str:
        return ", ".join(f"{s} = sum_i {d}" for s, d in zip(self.symbols, self.definitions))

    def table(self) -> str:
        """``S_1 = sum_i x, S_2 = ...`` (printed once, then kept)."""
        return self._table


@dataclass(frozen=True)
class Candidate:
    values: dict  # name -> float
    accepted: bool
    why: str
    objective: float = math.nan
    exact: dict = field(default_factory=dict)  # name -> mpf (precision="high")


def separate(objective, derivation):
    """Return ``(Statistics, "")`` or ``(None, reason)``."""
    params = set(objective.params)
    data = set(objective.data_symbols)
    stats: dict[sp.Expr, sp.Symbol] = {}
    equations = []
    for g, pen in zip(derivation.gradient, derivation.penalty_gradient()):
        size = expansion_size(g)
        if size > EXPAND_LIMIT:
            return None, (f"the gradient is too big to separate into statistics: expanding it would take "
                          f"{size:,} products (the symbolic tier stops at {EXPAND_LIMIT:,})")
        terms = []  # summed once at the end: adding to a growing Add term by term is quadratic
        for term in sp.Add.make_args(sp.expand(g)):
            param_part, data_part = sp.Integer(1), sp.Integer(1)
            for factor in sp.Mul.make_args(term):
                free = factor.free_symbols
                if free <= params:
                    param_part *= factor
                elif free <= data:
                    data_part *= factor
                else:
                    return None, (f"the gradient is not separable into statistics of the data: "
                                  f"the factor {factor} mixes parameters and data")
            if data_part == 1:
                stat = COUNT
            else:
                if data_part not in stats:
                    stats[data_part] = sp.Symbol(f"S_{len(stats) + 1}", real=True)
                stat = stats[data_part]
            terms.append(param_part * stat)
        penalty_factor = COUNT if objective.reduction == "mean" else 1
        equations.append(sp.expand(sp.Add(*terms) + penalty_factor * pen))
    return Statistics(tuple(stats.values()), tuple(stats.keys()), tuple(equations)), ""


def _solve_equations(equations, params):
    """Child-process body: SymPy's solve on the stationarity equations."""
    solutions = sp.solve(list(equations), list(params), dict=True)
    return [{p: sp.simplify(s[p]) for p in params if p in s} for s in solutions
            if all(p in s for p in params)]


#: The symbolic tier skips a polynomial system with more solutions than this by Bezout's bound (the product
#: of the equations' total degrees). Measured on the n-dimensional Rosenbrock function, on 2 cores: bound 6
#: (n = 2) 1.1 s, 18 (n = 3) 0.9 s, 54 (n = 4) 4.9 s, 162 (n = 5) more than 60 s.
MAX_BEZOUT = 64


def bezout_bound(stats: Statistics, params) -> tuple[int, tuple] | None:
    """``(bound, degrees)``: Bezout's bound on the number of isolated solutions of the stationarity
    equations (the product of their total degrees in the parameters), or None if they are not all
    polynomial in the parameters."""
    degrees = []
    for eq in stats.equations:
        if not eq.is_polynomial(*params):
            return None
        degrees.append(max(sp.Poly(eq, *params).total_degree(), 1))
    return math.prod(degrees), tuple(degrees)


def solve_symbolic(stats: Statistics, params, budget: float):
    """Return ``(solutions, "")`` or ``([], reason)``; solutions map params to formulas."""
    try:
        sols = run_with_budget(_solve_equations, (stats.equations, tuple(params)), budget)
    except Timeout as exc:
        return [], f"SymPy's solver {exc}"
    except ChildFailed as exc:
        return [], f"SymPy's solver failed: {str(exc).splitlines()[0]}"
    sols = [s for s in sols if not any(v.free_symbols & set(params) for v in s.values())]
    if not sols:
        return [], "SymPy found no solution of the stationarity equations in closed form"
    return sols, ""


def statistic_values(objective, stats: Statistics, dataset, precision: str) -> dict:
    """Numeric ``S_k`` and ``n``: exactly rounded sums in double, or mpmath sums."""
    values = {COUNT: dataset.n_rows}
    arrays = {s: dataset[s.name] for s in objective.data_symbols}
    if precision == "high":
        syms = list(arrays)
        with mpmath.workdps(HIGH_DIGITS):
            for sym, definition in zip(stats.symbols, stats.definitions):
                values[sym] = mpmath.fsum(
                    evaluate(definition, {s: mpmath.mpf(float(arrays[s][i])) for s in syms}, "mpmath")
                    for i in range(dataset.n_rows))
        return values
    for sym, definition in zip(stats.symbols, stats.definitions):
        column = np.broadcast_to(evaluate(definition, arrays), (dataset.n_rows,))
        values[sym] = math.fsum(column)
    return values


def check_candidates(objective, derivation, solutions, stat_values, dataset, precision: str,
                     terms=None) -> list[Candidate]:
    """Substitute each formula and keep only real, finite, in-domain stationary points of the right kind.
    ``terms``: what gives ``(F, gradient, gradient scale, Hessian)`` at a point where the data are not in one
    array (Dask input's chunk sums); the NumPy evaluation on ``dataset`` otherwise."""
    out = []
    digits = HIGH_DIGITS if precision == "high" else 30
    for sol in solutions:
        with mpmath.workdps(digits):
            stats_mp = {k: v if isinstance(v, mpmath.mpf) else mpmath.mpf(v) for k, v in stat_values.items()}
            exact = {}
            why = ""
            for p in objective.params:
                try:
                    v = evaluate(sol[p], stats_mp, "mpmath")
                except (ValueError, ZeroDivisionError) as exc:
                    why = f"{p.name} cannot be evaluated ({exc})"
                    break
                if isinstance(v, mpmath.mpc):
                    if abs(v.imag) > abs(v.real) * mpmath.mpf(10) ** (-digits // 2):
                        why = f"{p.name} = {mpmath.nstr(v, 6)} is not real"
                        break
                    v = v.real
                if not mpmath.isfinite(v):
                    why = f"{p.name} is not finite"
                    break
                if (p.is_positive and v <= 0) or (p.is_nonnegative and v < 0):
                    why = f"{p.name} = {mpmath.nstr(v, 6)} is outside its domain ({p.name} > 0)"
                    break
                exact[p.name] = v
        values = {k: float(v) for k, v in exact.items()}
        if why:
            out.append(Candidate(values, False, why))
            continue
        out.append(_classify(objective, derivation, values, exact, dataset, terms))
    return out


def _classify(objective, derivation, values, exact, dataset, terms=None) -> Candidate:
    theta = np.array([values[p.name] for p in objective.params])
    if terms is None:
        fun, grad, grad_scale, hess = objective_terms(Task(objective, derivation, dataset), theta)
    else:
        fun, grad, grad_scale, hess = terms(theta)
    if not math.isfinite(fun):
        return Candidate(values, False, "the objective is not finite there (outside the model's domain)")
    if terms is None and np.any(np.abs(grad) > 1e-7 * grad_scale):
        # judged again on the scale of the terms, which may cancel in a row (chunk sums give the first scale only)
        grad_scale = objective.form.term_scale(derivation, dataset, theta)
    if np.any(np.abs(grad) > 1e-7 * grad_scale):
        return Candidate(values, False, f"the gradient is not zero there (|grad| = {np.max(np.abs(grad)):.3g})", fun)
    if hess is None:
        return Candidate(values, True, "stationary point (Hessian not formed)", fun, exact)
    lam = np.linalg.eigvalsh(hess)
    tol = np.max(np.abs(lam)) * 1e-10
    kind = ("minimum" if lam.min() > tol else "maximum" if lam.max() < -tol else
            "saddle point" if lam.min() < -tol and lam.max() > tol else "degenerate stationary point")
    wanted = "maximum" if objective.maximize else "minimum"
    if kind != wanted:
        return Candidate(values, False, f"a {kind} (Hessian eigenvalues {lam.min():.3g} .. {lam.max():.3g}); "
                                        f"we {objective.sense} so we need a {wanted}", fun)
    return Candidate(values, True, f"a strict local {kind} (Hessian eigenvalues {lam.min():.3g} .. {lam.max():.3g})",
                     fun, exact)

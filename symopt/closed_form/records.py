"""The closed-form stage's records: what the linear tier finds and what its solve returns (the affine-gradient
structure in symbols, :class:`LinearForm`, and the solution on data, :class:`LinearSolution`), what the analysis
found as a ``Result`` reports it (:class:`ClosedForm`), and what one way of solving gives (:class:`Outcome`: a
closed form on data, one iterative run, the best of many starts), which :class:`symopt.Problem` builds its
:class:`~symopt.Result` from. They sit here, at the lowest stage that makes them, so that every path above can
hand them up."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sympy as sp



@dataclass(frozen=True)
class LinearForm:
    """The affine-gradient structure of an objective, in symbols."""

    kind: str  # "least_squares" or "quadratic"
    columns: tuple = ()  # least squares: phi_j(x), one per parameter (none for a data matrix: the design is [1, X])
    offset: sp.Expr = sp.Integer(0)  # least squares: u0(x)
    weight: sp.Expr = sp.Integer(1)  # least squares: c
    hessian: tuple = ()  # quadratic: per-sample Hessian entries (row-major)
    gradient_at_zero: tuple = ()  # quadratic: per-sample gradient at theta = 0

    def describe(self, params) -> str:
        if self.kind == "least_squares":
            if not self.columns:
                return "least squares on the design matrix [1, X]: solve min ||y - Phi theta||^2 (+ ridge rows)"
            phi = ", ".join(str(c) for c in self.columns)
            return (f"least squares: minimise {self.weight}*sum (u - Phi theta)^2 with u = {self.offset}, "
                    f"Phi = [{phi}] (the least-squares solution of Phi theta = u, by QR of the column-scaled Phi)")
        return "quadratic: solve (sum_i H_i) theta = -(sum_i grad l_i(0)) with the Hessian H_i free of theta"


@dataclass(frozen=True)
class LinearSolution:
    x: np.ndarray
    rank: int
    n_params: int
    condition_number: float
    precision: str
    exact: tuple | None  # mpmath values when precision="high"
    note: str
    curvature: str  # "minimum", "maximum", ...
    # A direction (in the parameters) along which F falls without bound, when the summed Hessian is singular
    # and the gradient has a part outside its range: then there is no stationary point at all.
    direction: np.ndarray | None = None
    # F and its gradient at x, where the solver had them for less than evaluating them afresh (the tall
    # normal equations: F from one product with X, the gradient from the sums already formed); else None.
    fun: float | None = None
    gradient: np.ndarray | None = None
    # The tall normal equations' factor R (upper triangular, R^T R = Phi^T Phi, unpenalised), from the Cholesky
    # they solved by: the covariance of the estimates comes from it with no second pass over the data; else None.
    factor: np.ndarray | None = None


@dataclass(frozen=True)
class ClosedForm:
    """What the closed-form analysis found: ``status`` is "linear", "symbolic" or "none".

    ``formula`` is the solution in words or symbols. Where a linear closed form was found, the formula in
    statistics of the data (SymPy's solve in a child process, a second or so) is not waited for: it is
    worked out the first time ``formula`` is read (``print(result)`` reads it), then kept, in this process
    and in the cache folder for the next one.
    """

    status: str
    reason: str
    formula_text: str | None = None
    detail: str = ""
    candidates: tuple = ()  # symbolic: every candidate with accepted / why
    pending: object = field(default=None, repr=False, compare=False)  # gives the formula in statistics, or None
    _worked_out: dict = field(default_factory=dict, repr=False, compare=False, init=False)  # the formula, once read

    @property
    def formula(self) -> str | None:
        if self.pending is None:
            return self.formula_text
        if "formula" not in self._worked_out:
            self._worked_out["formula"] = self.pending() or self.formula_text
        return self._worked_out["formula"]


@dataclass(frozen=True)
class Outcome:
    """What one way of solving gives: a closed form evaluated on the data, one iterative run, or the best of
    many starts. The stages (:mod:`symopt.closed_form.on_data`, :mod:`symopt.run.drivers`, :mod:`symopt.run.starts`)
    hand it up; :class:`symopt.Problem` adds the solve's bounds and fixed values (which are not the stages' to
    know) and builds the
    :class:`Result` from it (the fields mean what the Result's of the same name mean)."""

    params: dict
    x: np.ndarray
    fun: float
    method: str
    why: str
    closed_form: ClosedForm
    success: bool
    status: str
    message: str
    nit: int = 0
    nfev: int = 0
    njev: int = 0
    grad_norm: float = float("nan")
    history: np.ndarray = field(default_factory=lambda: np.empty(0))
    source: str | None = None
    source_path: Path | None = None
    objective: object = None
    derivation: object = None
    optimizer: object = None
    precision: str = "double"
    exact: dict = field(default_factory=dict)
    predictor: object = None
    buffers: dict = field(default_factory=dict)
    diagnostics: object = None
    backend: str = "numba"
    conditioning: object = None
    x0: np.ndarray | None = None
    standardized: bool = False
    starts: int = 1
    optima: tuple = ()
    at_bound: dict = field(default_factory=dict)
    kkt: object = None
    exact_x: tuple = field(default=(), repr=False, compare=False)
    separation: object = None
    normal_factor: np.ndarray | None = field(default=None, repr=False, compare=False)

"""What the linear tier finds and what its solve returns: the affine-gradient structure in symbols
(:class:`LinearForm`) and the solution on data (:class:`LinearSolution`)."""

from __future__ import annotations

from dataclasses import dataclass

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

"""Levenberg-Marquardt with geodesic acceleration, for sums of squares."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .base import Optimizer, _flag, _positive


@dataclass(frozen=True)
class LevenbergMarquardt(Optimizer):
    r"""Levenberg-Marquardt for :math:`F = \sum_i \rho_i(\theta)^2` with the symbolic Jacobian.

    Each iteration solves the damped problem
    :math:`\min_\delta \|\rho + J\delta\|^2 + \lambda \|D\delta\|^2` through the
    SVD of the column-scaled Jacobian :math:`J D^{-1}` (never the normal
    equations, which square the condition number). :math:`D` holds the
    largest column norms seen so far (Moré's scaling). The damping follows
    Nielsen's rule (:math:`\lambda \leftarrow \lambda \max(1/3, 1-(2r-1)^3)`
    on success, :math:`\lambda \leftarrow \nu\lambda,\ \nu \leftarrow 2\nu` on
    failure). With ``geodesic=True`` the step adds half the geodesic
    acceleration (Transtrum and Sethna 2012) computed from the exact second
    directional derivative of the residuals, and is taken only when
    :math:`2\|a\| \le \alpha \|v\|` (``alpha``): this follows curved valleys that defeat
    MINPACK (NIST BoxBOD from start 1, MGH10, MGH17).

    Stops when an accepted step is below ``xtol`` relative to the scaled
    parameters, when the largest gradient component is below ``tol``, when
    the relative decrease is below ``ftol``, or when no damping gives a
    decrease (converged to floating-point precision if the residual is
    orthogonal to the Jacobian's columns to 1e-6, or the fit is exact to
    rounding; stalled otherwise). The first damping is ``tau`` times the
    largest squared singular value of the scaled Jacobian.
    """

    max_iter: int = 10_000
    tol: float = 0.0
    ftol: float = 0.0
    xtol: float = 1e-15
    geodesic: bool = True
    alpha: float = 0.75
    tau: float = 1e-3

    name = "lm"
    template = "optimizers/levenberg_marquardt.py.jinja"
    needs = "residuals"
    hyper_names = ("xtol", "alpha", "tau")

    def _check(self) -> None:
        super()._check()
        _positive("LevenbergMarquardt", "alpha", self.alpha)
        _positive("LevenbergMarquardt", "tau", self.tau)
        _flag("LevenbergMarquardt", "geodesic", self.geodesic)

    def hyper(self) -> np.ndarray:
        return np.array([self.xtol, self.alpha, self.tau, 1.0 if self.geodesic else 0.0])

    def state_size(self, p: int, n: int) -> tuple[int, int]:
        return 2 + p, 1

    def reference(self, residuals, curvature, theta0, iterations: int):
        """NumPy reference iterates.

        ``residuals(theta) -> (rho, J)``: the scaled (augmented) residuals whose
        squares sum to F, and their Jacobian; ``curvature(theta, v) -> rho_vv``.
        """
        theta = np.array(theta0, dtype=float)
        r, J = residuals(theta)
        f = float(r @ r)
        d = np.zeros(theta.size)
        lam, nu = -1.0, 2.0
        out = [theta.copy()]
        while len(out) <= iterations:
            d = np.maximum(d, np.linalg.norm(J, axis=0))
            d[d == 0] = 1.0
            Js = J / d
            U, s, Vt = np.linalg.svd(Js, full_matrices=False)
            if lam < 0:
                lam = self.tau * s[0] ** 2
            filt = s / (s * s + lam)
            vz = -(Vt.T @ (filt * (U.T @ r)))
            v = vz / d
            use = True
            step = v
            if self.geodesic:
                az = -(Vt.T @ (filt * (U.T @ curvature(theta, v))))
                use = bool(np.all(np.isfinite(az))) and 2.0 * np.linalg.norm(az) <= self.alpha * np.linalg.norm(vz)
                step = v + 0.5 * (az / d)
            cand = theta + step
            rc, _ = residuals(cand)
            fc = float(rc @ rc)
            pred = f - float(np.sum((r + J @ v) ** 2))
            ratio = (f - fc) / pred if pred > 0 else -1.0
            if use and math.isfinite(fc) and ratio > 0:
                theta = cand
                r, J = residuals(theta)
                f = fc
                lam *= max(1.0 / 3.0, 1.0 - (2.0 * ratio - 1.0) ** 3)
                nu = 2.0
                out.append(theta.copy())
            else:
                lam *= nu
                nu *= 2.0
                if not math.isfinite(lam) or lam > 1e32 * s[0] ** 2:
                    return out
        return out

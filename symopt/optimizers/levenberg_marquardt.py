"""Levenberg-Marquardt with geodesic acceleration, for sums of squares."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from ..numerics.bvls import bounded_least_squares
from .base import Optimizer, _flag, _positive, box_of, held_on_bounds


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

    With ``projection=True`` (the default) and residuals linear in some of the parameters (``a*exp(-b*x)``:
    in ``a``), those are solved by a linear least-squares solve at every value of the others, and the
    iterations run on the others alone (variable projection, Golub and Pereyra 1973, with Kaufman's
    Jacobian; :class:`ProjectedLevenbergMarquardt` is what runs, and ``Result.why`` names the parameters
    projected out). It needs ``l2=0``; where a projected run fails, the full solver runs from the same
    start. ``projection=False`` iterates on every parameter.

    With bounds (``bounds=`` on :func:`symopt.solve`), a parameter on a bound with the gradient pointing out
    of the box is held there for the step (its column left out of the damped problem), the step is projected
    onto the box, and the decrease it is judged against is the linear model's at the projected step; the
    projected run's inner solve is bounded least squares (Stark-Parker). Where no bound is touched, the
    steps are those of the unbounded run.

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
    projection: bool = True

    name = "lm"
    template = "optimizers/levenberg_marquardt.py.jinja"
    needs = "residuals"
    hyper_names = ("xtol", "alpha", "tau")

    def _check(self) -> None:
        super()._check()
        _positive("LevenbergMarquardt", "alpha", self.alpha)
        _positive("LevenbergMarquardt", "tau", self.tau)
        _flag("LevenbergMarquardt", "geodesic", self.geodesic)
        _flag("LevenbergMarquardt", "projection", self.projection)

    def hyper(self) -> np.ndarray:
        return np.array([self.xtol, self.alpha, self.tau, 1.0 if self.geodesic else 0.0])

    def state_size(self, p: int, n: int) -> tuple[int, int]:
        return 2 + p, 1

    def work_size(self, p: int, n: int) -> int:
        rows = n + p  # the augmented residuals: n rows and p of the penalty
        # J and its column-scaled copy, the SVD's U and Vt, the per-row Jacobian, and the vectors of rows
        return 3 * rows * p + n * p + p * p + 4 * rows + 8 * p

    def reference(self, residuals, curvature, theta0, iterations: int, lower=None, upper=None):
        """NumPy reference iterates.

        ``residuals(theta) -> (rho, J)``: the scaled (augmented) residuals whose
        squares sum to F, and their Jacobian; ``curvature(theta, v) -> rho_vv``;
        ``lower``, ``upper``: bounds (None: open).
        """
        theta = np.array(theta0, dtype=float)
        lower, upper = box_of(theta.size, lower, upper)
        r, J = residuals(theta)
        f = float(r @ r)
        d = np.zeros(theta.size)
        lam, nu = -1.0, 2.0
        out = [theta.copy()]
        while len(out) <= iterations:
            free = np.where(held_on_bounds(theta, 2.0 * (J.T @ r), lower, upper), 0.0, 1.0)
            d = np.maximum(d, np.linalg.norm(J, axis=0))
            d[d == 0] = 1.0
            Js = J / d * free
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
            v, step = np.where(free > 0, v, 0.0), np.where(free > 0, step, 0.0)
            cand = theta + step
            clipped = bool(np.any((cand < lower) | (cand > upper)))
            if clipped:
                cand = np.minimum(np.maximum(cand, lower), upper)
                step = cand - theta
            rc, _ = residuals(cand)
            fc = float(rc @ rc)
            pred = f - float(np.sum((r + J @ (step if clipped else v)) ** 2))
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
                    cosines = np.abs(J.T @ r) / np.maximum(np.linalg.norm(J, axis=0) * np.linalg.norm(r), 1e-300)
                    if np.max(np.where(free > 0, cosines, 0.0)) <= 1e-6:  # the precision floor: polish
                        keep = s > s[0] * 1e-15 * J.shape[0]
                        v = -(Vt.T[:, keep] @ ((U.T @ r)[keep] / s[keep])) / d
                        cand = np.minimum(np.maximum(theta + v, lower), upper)
                        v = cand - theta
                        if f - float(np.sum((r + J @ v) ** 2)) <= 1e-8 * f:
                            rc, _ = residuals(cand)
                            if math.isfinite(float(rc @ rc)) and float(rc @ rc) <= f * (1.0 + 1e-10):
                                out.append(cand.copy())
                    return out
        return out


@dataclass(frozen=True)
class ProjectedLevenbergMarquardt(LevenbergMarquardt):
    """:class:`LevenbergMarquardt` with variable projection, as symopt runs it where the residuals are linear
    in the parameters at the flat indices ``linear`` (built by the driver from ``LevenbergMarquardt()``; not
    meant to be made by hand). The hyperparameters are the full solver's; there is no geodesic step."""

    linear: tuple = ()

    name = "lm_varpro"
    template = "optimizers/variable_projection.py.jinja"

    def full(self) -> LevenbergMarquardt:
        """The same settings without projection."""
        return LevenbergMarquardt(**{f.name: getattr(self, f.name) for f in fields(LevenbergMarquardt)})

    def reference(self, parts, theta0, iterations: int, lower=None, upper=None):
        """NumPy reference iterates. ``parts(theta) -> (rho, J)``: the scaled residuals whose squares sum to F
        (no penalty: projection needs l2=0) and their Jacobian in every parameter; ``lower``, ``upper``:
        bounds (None: open; the inner solve by :func:`symopt.numerics.bvls.bounded_least_squares`)."""
        linear = list(self.linear)
        theta = np.array(theta0, dtype=float)
        lower, upper = box_of(theta.size, lower, upper)
        others = [j for j in range(theta.size) if j not in linear]
        eps = np.finfo(float).eps

        def basis(phi):
            U, s, Vt = np.linalg.svd(phi, full_matrices=False)
            rank = int(np.sum(s > s[0] * max(phi.shape) * eps))
            return U[:, :rank], s[:rank], Vt[:rank].T

        def project(t):
            t = t.copy()
            t[linear] = 0.0
            u0, J = parts(t)
            Q, s, V = basis(-J[:, linear])
            coef = Q.T @ u0
            t[linear] = V @ (coef / s)
            if np.any((t[linear] < lower[linear]) | (t[linear] > upper[linear])):
                t[linear] = bounded_least_squares(-J[:, linear], u0, lower[linear], upper[linear]).x
                return t, u0 + J[:, linear] @ t[linear]
            return t, u0 - Q @ coef

        def linearize(t):
            r, J = parts(t)
            inside = [j for j in linear if lower[j] < t[j] < upper[j]]
            B = J[:, others]
            if not inside:
                return r, B
            Q = basis(-J[:, inside])[0]
            return r, B - Q @ (Q.T @ B)

        theta, r = project(theta)
        f = float(r @ r)
        rho, JK = linearize(theta)
        d = np.zeros(len(others))
        lam, nu = -1.0, 2.0
        out = [theta.copy()]
        while len(out) <= iterations:
            free = np.where(held_on_bounds(theta, 2.0 * (parts(theta)[1].T @ rho), lower, upper), 0.0, 1.0)[others]
            d = np.maximum(d, np.linalg.norm(JK, axis=0))
            d[d == 0] = 1.0
            U, s, Vt = np.linalg.svd(JK / d * free, full_matrices=False)
            if lam < 0:
                lam = self.tau * s[0] ** 2
            filt = s / (s * s + lam)
            v = np.where(free > 0, -(Vt.T @ (filt * (U.T @ rho))) / d, 0.0)
            cand = theta.copy()
            cand[others] += v
            if np.any((cand < lower) | (cand > upper)):
                cand = np.minimum(np.maximum(cand, lower), upper)
                v = cand[others] - theta[others]
            cand, rc = project(cand)
            fc = float(rc @ rc)
            pred = f - float(np.sum((rho + JK @ v) ** 2))
            ratio = (f - fc) / pred if pred > 0 else -1.0
            if math.isfinite(fc) and ratio > 0:
                theta = cand
                rho, JK = linearize(theta)
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

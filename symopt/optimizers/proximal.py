"""Proximal gradient with acceleration (FISTA) for objectives with an ``l1`` penalty.

The objective is ``F(theta) = f(theta) + sum_j lam_j |theta_j|`` (``f``: the smooth part, the generated
kernels' objective with its ``l2`` term; ``lam_j = l1 * w_j``). The ``l1`` term has a kink at 0, where
gradient methods stall (L-BFGS's line search fails, the iterates hover around 0 and never reach it). Its
proximal map is exact and cheap, soft-thresholding (then clipping into the bounds, where there are any):
``prox(v)_j = clip(sign(v_j) max(|v_j| - t lam_j, 0), lower_j, upper_j)``, so each step lands exactly on 0
where the penalty wins, and the solution has exact zeros.

The iteration (Beck and Teboulle 2009, FISTA with backtracking; the gradient restart of O'Donoghue and
Candes 2015, which unlike a test on F does not depend on F's rounding):

    x+ = prox_{t lam}(y - t grad f(y)),  t halved until f(x+) <= f(y) + g.(x+ - y) + |x+ - y|^2 / (2t)
                                         and (g(x+) - g(y)).(x+ - y) <= |x+ - y|^2 / t
    s = 1 where (y - x+).(x+ - x) > 0 (the step turned against the momentum: restart),
    s+ = (1 + sqrt(1 + 4 s^2)) / 2,  y+ = x+ + (s - 1)/s+ (x+ - x)

The second test bounds the curvature along the step by ``1/t`` through gradients, which keep their accuracy
near the optimum where ``f``'s values differ only in their rounding (the first alone would then accept any
step). The step tried first is the last accepted one times ``growth`` (a step only shrinking would stay as small
as the most curved region met). The run stops where the minimum-norm subgradient of ``F`` at ``x`` is at
most ``tol`` in every component: ``g_j + lam_j sign(x_j)`` where ``x_j != 0``, ``sign(g_j) max(|g_j| - lam_j,
0)`` at 0 (0 where a bound holds the parameter): the optimality condition of the non-smooth problem, which
the generated code writes into ``grad`` for the driver's verdicts.

``reference`` is the same iteration in NumPy, compared with the generated code iterate by iterate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ModelError
from .base import Optimizer, _positive, box_of, held_on_bounds


def soft_threshold(v, t, lower=None, upper=None):
    """``sign(v) max(|v| - t, 0)`` entry by entry, clipped into ``[lower, upper]`` where given."""
    out = np.sign(v) * np.maximum(np.abs(v) - t, 0.0)
    return out if lower is None else np.minimum(np.maximum(out, lower), upper)


def minimum_norm_subgradient(theta, g, lam, lower=None, upper=None):
    """The minimum-norm element of the subdifferential of ``f + sum lam_j |theta_j|`` at ``theta`` (``g``:
    the gradient of ``f``), 0 where a bound holds the parameter: zero exactly at a KKT point."""
    theta, g, lam = (np.asarray(a, dtype=float) for a in (theta, g, lam))
    r = np.where(theta != 0.0, g + lam * np.sign(theta), np.sign(g) * np.maximum(np.abs(g) - lam, 0.0))
    if lower is not None:
        r = np.where(held_on_bounds(theta, r, lower, upper), 0.0, r)
    return r


@dataclass(frozen=True)
class ProximalGradient(Optimizer):
    """Accelerated proximal gradient (FISTA) with backtracking and restarts: for an ``l1`` (lasso, elastic
    net) penalty, which it handles exactly by soft-thresholding (see :mod:`symopt.optimizers.proximal`).

    ``step``: the first step tried (halved until the sufficient-decrease test holds); ``growth``: each
    iteration first tries the last accepted step times this; ``tol``: on the largest component of the
    minimum-norm subgradient (the optimality condition of the non-smooth problem); ``ftol``: on the relative
    change of the objective (0: off).
    """

    max_iter: int = 100_000
    tol: float = 1e-8
    ftol: float = 0.0
    step: float = 1.0
    growth: float = 1.25

    name = "proximal"
    template = "optimizers/proximal.py.jinja"
    hyper_names = ("step", "growth")
    #: The generated ``start`` and ``run`` take the ``l1`` weights (``lam``, one per parameter) after the bounds.
    proximal = True

    def _check(self) -> None:
        super()._check()
        _positive("ProximalGradient", "step", self.step)
        if not (isinstance(self.growth, (int, float)) and not isinstance(self.growth, bool) and
                1.0 <= self.growth <= 4.0):
            raise ModelError(f"ProximalGradient: growth must be a number in [1, 4], got {self.growth!r}")

    def state_size(self, p: int, n: int) -> tuple[int, int]:
        # fw: [step, s, F(x), f(y)] + x_prev, y, g(y), g(x) (smooth), candidate, its gradient
        return 4 + 6 * p, 1

    def work_size(self, p: int, n: int) -> int:
        return 6 * p

    def reference(self, fun, theta0, lam, iterations: int, lower=None, upper=None):
        """NumPy reference: the iterates ``theta_0 .. theta_k`` (one per iteration, a restart repeating its
        point), as the generated ``run`` takes them. ``fun(theta) -> (f, grad f)`` of the smooth part
        (minimised); ``lam``: the ``l1`` weight of each parameter, its strength included."""
        x = np.array(theta0, dtype=float)
        lam = np.asarray(lam, dtype=float)
        lower, upper = box_of(x.size, lower, upper)
        x = np.minimum(np.maximum(x, lower), upper)
        fx, gx = fun(x)
        y, fy, gy = x.copy(), fx, gx.copy()
        t, s = self.step, 1.0
        out = [x.copy()]
        for _ in range(iterations):
            if np.max(np.abs(minimum_norm_subgradient(x, gx, lam, lower, upper)), initial=0.0) <= self.tol:
                break
            t = t * self.growth
            while True:
                cand = soft_threshold(y - t * gy, t * lam, lower, upper)
                fc, gc = fun(cand)
                d = cand - y
                if math.isfinite(fc) and fc <= fy + gy @ d + (d @ d) / (2.0 * t) + 1e-12 * abs(fy) and \
                        (gc - gy) @ d <= (d @ d) / t:
                    break
                t *= 0.5
                if t < 1e-30:
                    return out
            if np.array_equal(cand, x):
                break  # the precision floor
            if float((y - cand) @ (cand - x)) > 0.0:
                s = 1.0  # restart: the step turned against the momentum
            s_next = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * s * s))
            beta = (s - 1.0) / s_next
            y = cand + beta * (cand - x)
            x, fx, gx, s = cand, fc, gc, s_next
            if beta == 0.0:
                fy, gy = fc, gc.copy()
            else:
                fy, gy = fun(y)
                if not math.isfinite(fy):
                    s, y, fy, gy = 1.0, x.copy(), fc, gc.copy()
            out.append(x.copy())
        return out


@dataclass(frozen=True)
class CoordinateDescent(Optimizer):
    """Cyclic coordinate descent for ``l1`` penalties, with a working set of the non-zero coefficients
    (:mod:`symopt.numerics.coordinate_descent`), chosen by default where it applies:

    * the lasso and elastic net on a linear least-squares design not too ill-conditioned for its Gram matrix:
      on the Gram matrix, formed once (each step costs ``p`` operations);
    * an ``l1``-penalised loss of the linear predictor over a data matrix (a GLM or logistic regression on a
      ``LinearModel()``): proximal Newton, the quadratic model of each Newton step solved by coordinate descent
      (IRLS with coordinate descent, as glmnet and glum; :mod:`symopt.run.proximal_newton`).

    Elsewhere use :class:`ProximalGradient`. ``max_iter``: coordinate sweeps (of each quadratic model, for
    proximal Newton); ``tol``: on the largest component of the minimum-norm subgradient, relative to the largest
    gradient term at 0.
    """

    max_iter: int = 100_000
    tol: float = 1e-12

    name = "coordinate_descent"
    #: Not generated code: a fixed kernel over the Gram matrix (no template).
    template = ""

"""L-BFGS with a strong Wolfe line search (Nocedal and Wright, Algorithms 7.4, 3.5, 3.6)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ModelError
from ..numerics.sizes import FLOAT, check_count
from .base import Optimizer, _positive, box_of, held_on_bounds


def two_loop(g, S, Y, rho, count, head, memory):
    """-H g by the two-loop recursion over the stored pairs (newest first)."""
    q = g.copy()
    alpha = np.zeros(memory)
    for i in range(count):
        idx = (head - 1 - i) % memory
        alpha[idx] = rho[idx] * (S[idx] @ q)
        q -= alpha[idx] * Y[idx]
    if count > 0:
        newest = (head - 1) % memory
        q *= (S[newest] @ Y[newest]) / (Y[newest] @ Y[newest])
    for i in range(count - 1, -1, -1):
        idx = (head - 1 - i) % memory
        beta = rho[idx] * (Y[idx] @ q)
        q += S[idx] * (alpha[idx] - beta)
    return -q


def _cubic(lo, hi, flo, fhi, dlo, dhi):
    """Minimiser of the cubic through (lo, flo, dlo), (hi, fhi, dhi), kept 10% inside the bracket."""
    d1 = dlo + dhi - 3.0 * (flo - fhi) / (lo - hi)
    disc = d1 * d1 - dlo * dhi
    a, b = min(lo, hi), max(lo, hi)
    t = 0.5 * (lo + hi)
    if disc >= 0.0 and math.isfinite(fhi) and math.isfinite(dhi):
        d2 = math.copysign(math.sqrt(disc), hi - lo)
        denom = dhi - dlo + 2.0 * d2
        if denom != 0.0:
            t = hi - (hi - lo) * (dhi + d2 - d1) / denom
    margin = 0.1 * (b - a)
    if not (a + margin <= t <= b - margin):
        t = 0.5 * (lo + hi)
    return t


class Unbounded(float):
    """What :func:`wolfe_search` returns when the objective falls without bound along the ray: the
    farthest step at which it was finite."""


def wolfe_search(phi, f0, d0, t0, c1, c2):
    """Strong Wolfe step along a descent direction; ``phi(t) -> (f, slope, step)``, where ``step`` is the
    step the sufficient-decrease test reads (``t`` on a straight line; on a path projected onto bounds, the
    step along the line that promises the same decrease as the point reached). Returns ``t``, ``None``,
    or :class:`Unbounded` (the farthest finite step) when ``f`` reached ``-inf``, or kept the Armijo
    decrease over 40 doublings of the step with the slope never less steep than at ``t = 0`` (to 1e-9).

    Sufficient decrease is Armijo's, or, below the rounding of ``f``, Hager
    and Zhang's approximate form (slope at t at most ``(1 - 2 c1) |d0|``).
    """
    def decrease(t, ft, dt):
        return ft <= f0 + c1 * t * d0 or (ft <= f0 + 1e-12 * abs(f0) and dt <= -(1.0 - 2.0 * c1) * d0)

    t_prev, f_prev, d_prev = 0.0, f0, d0
    t = t0
    straight = True
    for i in range(40):
        ft, dt, te = phi(t)
        if ft == -math.inf:
            return Unbounded(t_prev)
        if not math.isfinite(ft) or not decrease(te, ft, dt) or (i > 0 and ft >= f_prev):
            return _zoom(phi, t_prev, t, f_prev, ft, d_prev, dt, f0, d0, c1, c2, decrease)
        if abs(dt) <= -c2 * d0:
            return t
        if dt >= 0.0:
            return _zoom(phi, t, t_prev, ft, f_prev, dt, d_prev, f0, d0, c1, c2, decrease)
        straight = straight and dt <= d0 * (1.0 - 1e-9)
        t_prev, f_prev, d_prev = t, ft, dt
        t *= 2.0
    return Unbounded(t_prev) if straight else None


def _zoom(phi, lo, hi, flo, fhi, dlo, dhi, f0, d0, c1, c2, decrease):
    for _ in range(40):
        t = _cubic(lo, hi, flo, fhi, dlo, dhi)
        ft, dt, te = phi(t)
        if not math.isfinite(ft) or not decrease(te, ft, dt) or ft >= flo:
            hi, fhi, dhi = t, ft, dt
        else:
            if abs(dt) <= -c2 * d0:
                return t
            if dt * (hi - lo) >= 0.0:
                hi, fhi, dhi = lo, flo, dlo
            lo, flo, dlo = t, ft, dt
        if abs(hi - lo) <= 1e-16 * max(abs(lo), abs(hi)):
            break
    return lo if lo > 0.0 else None


@dataclass(frozen=True)
class LBFGS(Optimizer):
    r"""Limited-memory BFGS: the last ``memory`` pairs :math:`(s_k, y_k)` give
    :math:`d = -H_k g` by the two-loop recursion (initial scaling
    :math:`s^\top y / y^\top y`), then a strong Wolfe line search (``c1``,
    ``c2``) with cubic interpolation. The first step is scaled to
    :math:`1/\max(1, \|g\|)`. A pair is stored only when :math:`s^\top y > 0`.
    A search that doubles the step 40 times with no curvature in sight, or
    meets ``-inf``, ends the run with status ``unbounded``.

    With bounds, the parameters on a bound with the gradient pointing out of
    the box are left out of the direction, and the search runs along the
    direction's projection onto the box (Bertsekas 1982), Armijo's test
    reading the step actually taken; where no bound is touched, the steps
    are those of the unbounded run.
    """

    memory: int = 10
    max_iter: int = 1000
    tol: float = 1e-6
    ftol: float = 0.0
    c1: float = 1e-4
    c2: float = 0.9

    name = "lbfgs"
    template = "optimizers/lbfgs.py.jinja"
    hyper_names = ("c1", "c2")

    def _check(self) -> None:
        super()._check()
        _positive("LBFGS", "memory", self.memory, integer=True)
        # the pairs of even one parameter (2 x memory floats, and memory of rho) must fit, whatever the problem
        check_count("LBFGS", "memory", self.memory, 3 * FLOAT, meaning="how many (s, y) pairs it keeps")
        _positive("LBFGS", "c1", self.c1)
        _positive("LBFGS", "c2", self.c2)
        if not (0 < self.c1 < self.c2 < 1):
            raise ModelError(f"LBFGS: need 0 < c1 < c2 < 1, got c1={self.c1!r}, c2={self.c2!r}")

    def state_size(self, p: int, n: int) -> tuple[int, int]:
        return 2 * self.memory * p + self.memory, 2

    def work_size(self, p: int, n: int) -> int:
        return 8 * p + self.memory  # the direction, trial points and gradients, alpha

    def reference(self, fun, theta0, iterations: int, lower=None, upper=None):
        """NumPy reference iterates; ``fun(theta) -> (f, g)`` (minimised sense); ``lower``, ``upper``: bounds
        (None: open)."""
        m = self.memory
        theta = np.array(theta0, dtype=float)
        p = theta.size
        bounded = lower is not None or upper is not None
        lower, upper = box_of(p, lower, upper)
        S, Y, rho = np.zeros((m, p)), np.zeros((m, p)), np.zeros(m)
        count = head = 0
        f, g = fun(theta)
        out = [theta.copy()]
        for _ in range(iterations):
            free = np.where(held_on_bounds(theta, g, lower, upper), 0.0, 1.0)
            d = two_loop(g * free, S, Y, rho, count, head, m) * free
            d0 = float(g @ d)
            if not d0 < 0.0:
                count, d = 0, -g * free
                d0 = float(g @ d)
            t0 = 1.0 if count > 0 else 1.0 / max(1.0, math.sqrt(float((d if bounded else g) @ (d if bounded else g))))

            def phi(t):
                point = theta + t * d
                projected = np.minimum(np.maximum(point, lower), upper)
                fc, gc = fun(projected)
                if np.array_equal(projected, point):
                    return fc, float(gc @ d), t
                moving = projected == point
                return fc, float(gc[moving] @ d[moving]), float(g @ (projected - theta)) / d0

            t = wolfe_search(phi, f, d0, t0, self.c1, self.c2)
            if t is None:
                return out
            if isinstance(t, Unbounded):  # the generated code stops at the farthest finite point
                out.append(np.minimum(np.maximum(theta + float(t) * d, lower), upper))
                return out
            new = np.minimum(np.maximum(theta + t * d, lower), upper)
            s = np.where(new == theta + t * d, t * d, new - theta)
            fn, gn = fun(new)
            y = gn - g
            sy = float(s @ y)
            if sy > 0.0:
                S[head], Y[head], rho[head] = s, y, 1.0 / sy
                head = (head + 1) % m
                count = min(count + 1, m)
            theta, f, g = new, fn, gn
            out.append(theta.copy())
        return out

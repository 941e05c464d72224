"""Robust and quantile losses as objectives: ``huber_loss(model, delta=1.35)`` and ``quantile_loss(model, q=0.5)``
are :class:`~.objective.Objective` s like ``squared_loss``, so everything that takes an objective takes them.

Both have kinks (:mod:`symopt.symbolic.kinks`): the Huber loss in its curvature (it is once continuously
differentiable, its second derivative jumps where ``|residual| = delta``), the pinball loss in its value (where the
residual is 0). The run stage sees them: Newton is not chosen for them (:mod:`symopt.run.choose`), and a quantile
loss on a model linear in its parameters is solved exactly as the linear programme it is
(:mod:`symopt.run.kinked`).

* Huber with ``scale="joint"`` is scikit-learn's ``HuberRegressor`` objective (the concomitant scale estimate of
  Owen, 2007, as scikit-learn writes it): per row ``sigma + sigma * H(r / sigma)`` with ``r = y - f`` and
  ``H(z) = z**2`` for ``|z| <= delta``, ``2*delta*|z| - delta**2`` beyond. ``sigma > 0`` is kept by a
  reparametrisation, ``sigma = exp(log_sigma)``: the parameter is ``log_sigma`` (free, no bound to hit), and
  :meth:`RobustSpec.sigma` gives ``sigma`` from a result. ``HuberRegressor(epsilon=delta, alpha)`` minimises the
  sum of that over rows plus ``alpha * ||coef||**2``: ``huber_loss(..., reduction="sum", l2=alpha)`` (or the mean,
  the default, with ``l2=alpha/n``).
* Huber with ``scale="fixed"``: per row ``H(r)``, ``delta`` in the units of ``y`` (twice SciPy's
  ``scipy.special.huber(delta, r)``, so that it tends to symopt's squared loss ``r**2`` as delta grows; SciPy's
  ``least_squares(..., loss="huber", f_scale=delta)`` minimises half the sum of it).
* Quantile: per row the pinball loss ``max(q*r, (q - 1)*r)`` (statsmodels' ``QuantReg``, scikit-learn's
  ``QuantileRegressor(alpha=0)``, which minimise its sum and its mean).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
import sympy as sp

from ..errors import ModelError
from .kinds.base import prediction
from .layers import Network
from .models import LinearModel, Model
from .losses import _target
from .objective import Objective

#: The scales of a Huber loss: estimated with the parameters (scikit-learn's), or fixed (``delta`` in y's units).
HUBER_SCALES = ("joint", "fixed")
#: The name of the joint scale's parameter: ``sigma = exp(log_sigma)``.
LOG_SIGMA = "log_sigma"


@dataclass(frozen=True)
class RobustSpec:
    """What a robust or quantile objective adds to its per-row loss: which loss (``"huber"`` or ``"quantile"``),
    its constants, the residual ``y - f`` in symbols, the name of the scale's parameter (``log_sigma``, joint
    Huber only), and whether the gradient is continuous at the kinks (``smooth_gradient``: a Huber loss, whose
    kinks are in its curvature only, so a zero gradient still certifies its optimum)."""

    loss: str
    residual: sp.Expr
    delta: float | None = None
    scale: str | None = None
    q: float | None = None
    scale_param: str | None = None
    smooth_gradient: bool = False

    def convex_reason(self, params: tuple) -> str:
        """Why the objective is convex in ``params`` (the parameters as symbols; none for a ``LinearModel()`` over
        a data matrix, whose residual is in its linear predictor ``eta``), or "" where this spec does not say:
        a quantile loss, or a Huber loss with a fixed scale, of a residual affine in the parameters (never the
        joint scale: ``sigma + sigma*H(r/sigma)`` is not convex in ``log_sigma``)."""
        if self.scale_param is not None or self.loss not in ("quantile", "huber"):
            return ""
        variables = set(params) or {s for s in self.residual.free_symbols if s.name == "eta"}
        if not variables or any(sp.diff(self.residual, v).free_symbols & variables for v in variables):
            return ""
        if self.loss == "quantile":
            return ("each row's pinball loss max(q*r, (q - 1)*r) is the larger of two affine functions of the "
                    "parameters (the residual r is affine in them), so convex, and so is their sum: a linear "
                    "programme, whose optimum is global")
        return ("the Huber function H is convex and the residual is affine in the parameters, so each row's H(r) "
                "is convex, and so is their sum")

    def sigma(self, params) -> float | None:
        """The joint scale ``exp(log_sigma)`` from a result's parameters (a mapping by name, such as
        ``Result.params``); None where the scale is fixed."""
        if self.scale_param is None:
            return None
        return float(np.exp(params[self.scale_param]))


def _positive(value, name: str, above: float = 0.0, below: float | None = None) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ModelError(f"{name} must be a finite number, got {value!r}")
    value = float(value)
    if value <= above or (below is not None and value >= below):
        bounds = f"between {above:g} and {below:g}" if below is not None else f"above {above:g}"
        raise ModelError(f"{name} must be {bounds} (exclusive), got {value!r}")
    return value


def _checked_model(model, what: str):
    if isinstance(model, Network):
        raise ModelError(f"{what} takes a symopt.Model or a symopt.LinearModel; for a Network use squared_loss")
    if not isinstance(model, (Model, LinearModel)):
        raise ModelError(f"{what} takes a symopt.Model or a symopt.LinearModel, got {type(model).__name__}")


def _number(value: float) -> sp.Expr:
    """A constant as SymPy: exact where it is a short decimal (1.35 -> 27/20), so the printed code is exact."""
    return sp.Rational(repr(value)) if len(repr(value)) <= 20 else sp.Float(value, 17)


def huber_H(z: sp.Expr, delta: sp.Expr) -> sp.Expr:
    """``H(z) = z**2`` for ``|z| <= delta``, ``2*delta*|z| - delta**2`` beyond, as a ``Piecewise`` whose conditions
    compare ``z`` itself (no ``abs`` in it: its only kinks are at ``z = -delta`` and ``z = delta``)."""
    return sp.Piecewise((z ** 2, sp.And(z <= delta, z >= -delta)), (2 * delta * z - delta ** 2, z > delta),
                        (-2 * delta * z - delta ** 2, True))


def huber_loss(model, target: str = "y", delta: float = 1.35, scale: str = "joint", l2: float = 0.0,
               reduction: str = "mean") -> Objective:
    """The Huber loss of the residual ``r = y - f``: quadratic for small residuals, linear for large ones.

    ``scale="joint"`` (the default) estimates a scale with the parameters, scikit-learn's ``HuberRegressor``
    objective: per row ``sigma + sigma*H(r/sigma)``, ``sigma = exp(log_sigma)``, ``log_sigma`` a parameter of the
    objective (a reparametrisation that keeps sigma > 0); ``delta`` is scikit-learn's ``epsilon`` (1.35 by
    default), in units of sigma. ``scale="fixed"``: per row ``H(r)``, ``delta`` in the units of ``y``. Here
    ``H(z) = z**2`` for ``|z| <= delta`` and ``2*delta*|z| - delta**2`` beyond.

    On a model by name and a ``LinearModel(basis=...)``; over a ``LinearModel()`` on a data matrix with
    ``scale="fixed"`` only (a joint scale is one more parameter than that form has).

    >>> import symopt
    >>> objective = symopt.huber_loss(symopt.LinearModel(basis=["x"]), reduction="sum")  # HuberRegressor(alpha=0)
    """
    _checked_model(model, "huber_loss")
    if scale not in HUBER_SCALES:
        raise ModelError(f"scale must be 'joint' (estimated, as scikit-learn's HuberRegressor) or 'fixed' (delta in "
                         f"the units of y), got {scale!r}")
    delta = _positive(delta, "delta")
    f = prediction(model)
    y = _target(model, target)
    r = y - f
    d = _number(delta)
    wide = isinstance(model, LinearModel) and model.is_wide
    if scale == "fixed":
        objective = Objective._from_model(huber_H(r, d), model, y, "huber", l2, reduction)
        objective.robust = RobustSpec("huber", r, delta=delta, scale=scale, smooth_gradient=True)
        return objective
    if wide:
        raise ModelError("huber_loss with scale='joint' over a LinearModel() on a data matrix is not supported: the "
                         "scale is one parameter more than that form has. Name the columns "
                         "(LinearModel(basis=[...])) or give scale='fixed' with delta in the units of y")
    expr_model = model.expression_model if isinstance(model, LinearModel) else model
    log_sigma = sp.Symbol(LOG_SIGMA, real=True)
    if log_sigma in f.free_symbols or LOG_SIGMA == y.name:
        raise ModelError(f"the name {LOG_SIGMA!r} is taken by the joint scale of huber_loss; rename it in the model")
    sigma = sp.exp(log_sigma)
    # sigma*H(r/sigma), expanded so that no division by sigma is left in the quadratic branch: r**2/sigma
    per_sample = sigma + sp.Piecewise(
        (r ** 2 / sigma, sp.And(r <= d * sigma, r >= -d * sigma)), (2 * d * r - d ** 2 * sigma, r > d * sigma),
        (-2 * d * r - d ** 2 * sigma, True))
    objective = Objective.__new__(Objective)
    # The ridge penalty is on the model's coefficients: never on the scale, nor on an intercept.
    intercept = model.intercept_name if isinstance(model, LinearModel) and model.intercept else None
    penalize = [p.name for p in expr_model.params if p.name != intercept]
    objective._setup(per_sample, (*expr_model.params, log_sigma), False, l2, reduction, kind="huber", model=model,
                     target=y, penalize=penalize)
    objective.likelihood = False
    objective.robust = RobustSpec("huber", r, delta=delta, scale=scale, scale_param=LOG_SIGMA, smooth_gradient=True)
    return objective


def quantile_loss(model, target: str = "y", q: float = 0.5, l2: float = 0.0, reduction: str = "mean") -> Objective:
    """The pinball (check) loss of the residual ``r = y - f`` at quantile ``q``: per row ``max(q*r, (q - 1)*r)``,
    so that its minimiser is the conditional q-quantile (``q = 0.5``: half the absolute error, the median).

    On a model linear in its parameters (a ``LinearModel``, over named columns or a data matrix, or a model by
    name that is linear in them) and without ``l2``, ``solve`` finds the exact optimum as a linear programme
    (SciPy's HiGHS, :mod:`symopt.run.kinked`); otherwise iteratively, with L-BFGS, the verdict saying where the
    optimum sits on a kink.

    >>> import symopt
    >>> objective = symopt.quantile_loss(symopt.LinearModel(basis=["income"]), target="foodexp", q=0.9)
    """
    _checked_model(model, "quantile_loss")
    q = _positive(q, "q", 0.0, 1.0)
    f = prediction(model)
    y = _target(model, target)
    r = y - f
    qq = _number(q)
    objective = Objective._from_model(sp.Max(qq * r, (qq - 1) * r), model, y, "quantile", l2, reduction)
    objective.likelihood = False
    objective.robust = RobustSpec("quantile", r, q=q)
    return objective

"""Standard errors of robust and quantile fits (``quantile_loss``, ``huber_loss``: :mod:`symopt.model.robust`).

Neither loss is a likelihood nor a sum of squares, so neither of :mod:`symopt.stats.inference`'s covariances
applies; each has the covariance of its own estimator:

* **quantile regression** on a model linear in its parameters: statsmodels' ``QuantReg`` default
  (``vcov="robust"``, ``kernel="epa"``, ``bandwidth="hsheather"``), the sandwich
  ``(Phi'Phi)^-1 Phi' D Phi (Phi'Phi)^-1`` with ``D_i = (q / f)^2`` where the residual ``e_i > 0`` and
  ``((1 - q) / f)^2`` elsewhere. ``f`` estimates the density of the errors at their ``q``-quantile (1/f is the
  *sparsity*): ``f = sum_i K(e_i / h) / (n h)`` with the Epanechnikov kernel ``K(u) = 3/4 (1 - u^2)`` on
  ``|u| <= 1`` and the Hall-Sheather bandwidth ``h = min(sd(y), IQR(e) / 1.34) (Phi^-1(q + b) - Phi^-1(q - b))``,
  ``b = n^(-1/3) z_{0.975}^(2/3) (1.5 phi(z_q)^2 / (2 z_q^2 + 1))^(1/3)`` (Koenker, *Quantile Regression*,
  2005, 3.4; Stata's bandwidth). A residual within rounding of 0 counts as 0 (an LP optimum has at least p of
  them exactly 0; computed in floating point they come out of either sign, and ``e > 0`` would then pick
  ``D_i`` by rounding noise). The ``y`` in ``sd(y)`` is what the linear part fits (the target less the part of
  the model free of parameters).
* **Huber** (fixed or joint scale): the M-estimator's sandwich ``A^-1 B A^-1`` over all the objective's
  parameters (the joint scale's ``log_sigma`` included), ``A`` the Hessian of the summed per-row loss and ``B``
  the sum of the outer products of its per-row gradients (Huber, 1967; Stefanski and Boos, 2002): the estimating
  equations are the gradient of the objective, so this is the robust (HC0) covariance of a likelihood with the
  objective in the place of the negative log-likelihood, and :mod:`symopt.stats.inference` computes it so.

The sandwich's algebra is :mod:`symopt.numerics.covariance`'s (QR of the design, never an inverse of
``Phi'Phi``).
"""

from __future__ import annotations

import math

import numpy as np

from ..numerics import covariance
from ..numerics.distributions import normal_quantile
from ..run.kinked import linear_design, zero_residuals

#: The Hall-Sheather bandwidth is for a two-sided interval at this level (statsmodels' ``alpha=0.05``).
BANDWIDTH_ALPHA = 0.05
#: What :attr:`symopt.stats.inference.Inference` says of the quantile covariance.
QUANTILE_WORDS = ("statsmodels QuantReg's default: the sandwich (Phi'Phi)^-1 Phi'D Phi (Phi'Phi)^-1, the sparsity "
                  "1/f by the Epanechnikov kernel with the Hall-Sheather bandwidth")
HUBER_WORDS = "the M-estimator sandwich A^-1 B A^-1 (A the Hessian of the summed loss, B the scores' outer products)"


def _normal_pdf(z: float) -> float:
    return math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


def hall_sheather(n: int, q: float, alpha: float = BANDWIDTH_ALPHA) -> float:
    """The Hall-Sheather bandwidth for the ``q``-quantile of ``n`` rows, on the probability scale."""
    z = normal_quantile(q)
    return n ** (-1.0 / 3) * normal_quantile(1.0 - alpha / 2.0) ** (2.0 / 3) * \
        (1.5 * _normal_pdf(z) ** 2 / (2.0 * z * z + 1.0)) ** (1.0 / 3)


def quantile_sparsity(response: np.ndarray, e: np.ndarray, q: float) -> tuple[float, float, str]:
    """``(f, h, "")``: the density of the errors at their ``q``-quantile estimated from the residuals ``e``
    (Epanechnikov kernel, Hall-Sheather bandwidth ``h`` in the residuals' units), or ``(nan, nan, why)`` where
    it cannot be estimated."""
    n = e.size
    b = hall_sheather(n, q)
    if not (0.0 < q - b and q + b < 1.0):
        return math.nan, math.nan, (f"the Hall-Sheather bandwidth at q = {q:g} with {n} rows ({b:.3g} on the "
                                    f"probability scale) reaches past 0 or 1: too few rows for this quantile")
    low, high = np.percentile(e, [25.0, 75.0])
    h = min(float(np.std(response)), float(high - low) / 1.34) * (normal_quantile(q + b) - normal_quantile(q - b))
    if not h > 0:
        return math.nan, math.nan, ("the residuals' interquartile range (or the spread of y) is 0, so the density "
                                    "of the errors at the quantile cannot be estimated")
    u = e / h
    f = float(np.sum(np.where(np.abs(u) <= 1.0, 0.75 * (1.0 - u * u), 0.0))) / (n * h)
    if not f > 0:
        return math.nan, math.nan, "no residual lies within the bandwidth of 0, so the sparsity 1/f is infinite"
    return f, h, ""


def quantile_covariance(objective, dataset, x: np.ndarray, names) -> covariance.Covariance:
    """statsmodels ``QuantReg``'s default covariance (see the module's text) of a quantile loss on a model linear
    in its parameters, at the flat parameters ``x`` on ``dataset``."""
    q = objective.robust.q
    design = linear_design(objective, dataset)
    if design is None:
        return covariance.Covariance(None, "the standard errors of a quantile regression need an estimate of the "
                                           "sparsity (1/f, f the density of the errors at the quantile), and symopt "
                                           "gives them (statsmodels QuantReg's sandwich) for a model linear in its "
                                           "parameters; this one is not")
    phi, c0 = design
    response = np.asarray(dataset[objective.target.name], dtype=float) - c0
    fitted = phi @ x
    e = response - fitted
    zero = zero_residuals(e, response, fitted)
    e[zero] = 0.0
    f, _, why = quantile_sparsity(response, e, q)
    if why:
        return covariance.Covariance(None, why)
    root = np.where(e > 0, q / f, (1.0 - q) / f)  # sqrt(D): the sandwich's "residuals" (HC0 squares them)
    return covariance.from_jacobian(phi, root, names, "HC0")


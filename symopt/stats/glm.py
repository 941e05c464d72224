"""The statistics of a fitted GLM (an objective made by :func:`symopt.glm`), as statsmodels' ``GLMResults``
gives them: the fitted means, the deviance, Pearson's chi2, the scale (Pearson's chi2 / (n - p) where the
family estimates one: Gaussian, Gamma, inverse Gaussian, Tweedie; 1 for binomial, Poisson and negative
binomial), the null deviance (of the model with a constant alone, offset kept), the log-likelihood at the
scale (concentrated for the Gaussian with the identity link) and the expected (Fisher) information
``J^T diag(w (dmu/deta)^2 / V(mu)) J / scale``, ``J`` the Jacobian of the linear predictor, whose inverse is
statsmodels' default covariance (the one its IRLS reports).

Takes the objective (its ``glm`` record), the prepared data and the flat estimate; gives a :class:`GLMFit`.
Everything is evaluated from the family's and link's SymPy expressions (:mod:`symopt.model.families`), so a
custom family gets the same statistics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sympy as sp

from ..model.families import ETA, MU, PHI, Y
from ..symbolic.numeric import evaluate

#: Fisher scoring steps for the null model's constant when there is an offset (it converges in a handful).
NULL_STEPS = 100


@dataclass(frozen=True)
class GLMFit:
    """A fitted GLM's statistics (see the module docstring); ``loglik`` is None where the family has no
    closed-form log-likelihood (Tweedie), ``why_no_loglik`` says so."""

    mu: np.ndarray
    deviance: float
    pearson_chi2: float
    scale: float
    null_deviance: float
    loglik: float | None
    why_no_loglik: str
    information: np.ndarray  # the expected information at the estimate, scale applied
    n_obs: int
    n_params: int


def _column(expr, values: dict, n: int) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.broadcast_to(np.asarray(evaluate(expr, values), dtype=float), (n,)).astype(float)


def _values(expr: sp.Expr, dataset, params: dict) -> dict:
    """Each free symbol of ``expr``: a parameter's value, else the data column of its name."""
    return {s: params[s] if s in params else dataset[s.name] for s in expr.free_symbols}


def linear_predictor(objective, dataset, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(eta, J)``: the linear predictor with the offset and log exposure at ``x``, and its Jacobian in the
    parameters (n x p)."""
    spec, n = objective.glm, dataset.n_rows
    if objective.wide:
        X = dataset["X"]
        intercept = objective.model.intercept
        eta = X @ (x[1:] if intercept else x) + (x[0] if intercept else 0.0)
        J = np.column_stack([np.ones(n), X]) if intercept else X
    else:
        params = dict(zip(objective.params, (float(v) for v in x)))
        eta = _column(spec.eta, _values(spec.eta, dataset, params), n)
        columns = [_column(d, _values(d, dataset, params), n) for d in _jacobian(spec.eta, objective.params)]
        J = np.column_stack(columns) if columns else np.zeros((n, 0))
    if spec.offset:
        eta = eta + dataset[spec.offset]
    if spec.exposure:
        eta = eta + np.log(dataset[spec.exposure])
    return eta, J


@lru_cache(maxsize=256)
def _jacobian(eta: sp.Expr, params: tuple) -> tuple:
    return tuple(sp.diff(eta, p) for p in params)


def response_and_weights(objective, dataset) -> tuple[np.ndarray, np.ndarray]:
    """``(Y, weights)``: the response as the family states it (a proportion of the trials for a binomial with
    ``trials=``) and each row's weight (``weights`` times the trials)."""
    spec = objective.glm
    y = dataset[objective.target.name]
    weights = np.ones(dataset.n_rows) if spec.weights is None else dataset[spec.weights].astype(float)
    if spec.trials:
        trials = dataset[spec.trials]
        return y / trials, weights * trials
    return y, weights


@lru_cache(maxsize=64)
def _limits(deviance: sp.Expr, edges: tuple) -> dict:
    """The unit deviance's limits as ``y`` tends to each edge (``y log y`` terms are 0 there)."""
    return {edge: sp.limit(deviance, Y, edge, "+" if edge == 0 else "-") for edge in edges}


def unit_deviance(family, y: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """``d(y, mu)`` per row, its limit where ``y`` is 0 (or 1 for a binomial), where the expression is 0 * log 0."""
    out = _column(family.deviance, {Y: y, MU: mu}, y.shape[0])
    edges = (0, 1) if family.trials else (0,)
    for edge, limit in _limits(family.deviance, edges).items():
        at = y == edge
        if np.any(at):
            out[at] = _column(limit, {MU: mu[at]}, int(np.count_nonzero(at)))
    return out


def fit(objective, dataset, x: np.ndarray, n_params: int | None = None) -> GLMFit:
    """The statistics of the GLM ``objective`` at the flat estimate ``x`` on ``dataset``; ``n_params``: the
    parameters the data estimate (``len(x)`` less those held on a bound and one per active constraint, as the
    inference counts them), for the residual degrees of freedom of the Pearson scale."""
    spec, family = objective.glm, objective.glm.family
    n, p = dataset.n_rows, len(x) if n_params is None else n_params
    eta, J = linear_predictor(objective, dataset, x)
    mu = _column(spec.link.inverse, {ETA: eta}, n)
    dmu = _column(sp.diff(spec.link.inverse, ETA), {ETA: eta}, n)
    variance = _column(family.variance, {MU: mu}, n)
    y, w = response_and_weights(objective, dataset)
    pearson = float(np.sum(w * (y - mu) ** 2 / variance))
    deviance = float(np.sum(w * unit_deviance(family, y, mu)))
    scale = pearson / (n - p) if family.scale == "pearson" and n > p else 1.0
    fisher = w * dmu ** 2 / variance
    information = (J.T @ (fisher[:, None] * J)) / scale
    loglik, why = _loglik(objective, dataset, y, w, mu, scale)
    return GLMFit(mu, deviance, pearson, scale, _null_deviance(objective, dataset, y, w), loglik, why,
                  information, n, p)


def _loglik(objective, dataset, y, w, mu, scale, concentrated: float | None = None) -> tuple[float | None, str]:
    """The log-likelihood at ``scale``; ``concentrated``: the Gaussian identity-link scale over all rows where
    ``dataset`` is one chunk of them (:mod:`symopt.stats.chunked`), else worked out here."""
    family, spec = objective.glm.family, objective.glm
    if family.loglik is None:
        return None, f"the {family.name} family has no closed-form log-likelihood"
    if family.name == "gaussian" and spec.link.name == "identity":  # concentrated, as statsmodels
        scale = float(np.sum(w * (y - mu) ** 2) / np.sum(w)) if concentrated is None else concentrated
    n = dataset.n_rows
    values = {Y: y, MU: mu}
    if PHI in family.loglik.free_symbols:
        values[PHI] = scale / w  # each row's dispersion: statsmodels' var_weights
        rows = _column(family.loglik, values, n)
    else:
        rows = w * _column(family.loglik, values, n)
    if spec.trials:  # the binomial coefficient of n trials, y = Y n successes
        trials = dataset[spec.trials]
        successes = y * trials
        rows = rows + np.array([math.lgamma(t + 1) - math.lgamma(s + 1) - math.lgamma(t - s + 1)
                                for t, s in zip(trials, successes)])
    total = float(np.sum(rows))
    return (total, "") if math.isfinite(total) else (None, "the log-likelihood is not finite at the estimate")


def _null_deviance(objective, dataset, y, w) -> float:
    """The deviance of the model with a constant alone (offset and exposure kept, as statsmodels)."""
    spec = objective.glm
    family, inverse, n = spec.family, spec.link.inverse, dataset.n_rows
    shift = np.zeros(n)
    if spec.offset:
        shift = shift + dataset[spec.offset]
    if spec.exposure:
        shift = shift + np.log(dataset[spec.exposure])
    mean = float(np.sum(w * y) / np.sum(w))
    if not np.any(shift):
        return float(np.sum(w * unit_deviance(family, y, np.full(n, mean))))
    derivative = sp.diff(inverse, ETA)
    constant = float(spec.link.link.subs(MU, mean)) - float(np.mean(shift))
    for _ in range(NULL_STEPS):
        eta = constant + shift
        mu = _column(inverse, {ETA: eta}, n)
        dmu = _column(derivative, {ETA: eta}, n)
        variance = _column(family.variance, {MU: mu}, n)
        step = float(np.sum(w * (y - mu) * dmu / variance) / np.sum(w * dmu ** 2 / variance))
        constant += step
        if abs(step) <= 1e-13 * max(1.0, abs(constant)):
            break
    mu = _column(inverse, {ETA: constant + shift}, n)
    return float(np.sum(w * unit_deviance(family, y, mu)))


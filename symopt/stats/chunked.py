"""Standard errors and fit statistics on Dask input, from pieces each chunk gives where it lies.

The NumPy path's statistics (:mod:`symopt.stats.inference`, :mod:`symopt.stats.glm`) read every row; here each
chunk gives sums (and a triangle, moments, extremes) that add up to what those read, in one pass (a GLM's
log-likelihood and null deviance take one more each), and the same record comes out:

- least squares: ``R`` of the residuals' Jacobian by a tall QR (``R^T R = J^T J``), the RSS, the weighted moments
  of the target (R^2, centred as statsmodels' where the model fits a constant), and for HC0/HC1 the meat
  ``sum_i u_i^2 J_i^T J_i``, handed to :func:`symopt.numerics.covariance.from_jacobian` as a ``p x p`` square root
  with the row count (what it reads of the rows is ``R`` and the meat); HC2 and HC3 need each row's leverage
  ``h_i = |J_i R^-1|^2``: a second pass, with ``R`` from the first;
- likelihoods: the summed Hessian (the observed information) and for HC0/HC1 the scores' ``sum_i s_i s_i^T``;
- GLMs: deviance, Pearson's chi2, the expected information, the scale, the log-likelihood at the scale and the
  null deviance (Fisher scoring of the constant, one pass per step, where there is an offset);
- separated classes: the certificate that none separates (:mod:`symopt.stats.separation`), from its sums and
  each row's change, two passes (the linear programme that finds a separating direction is not run).

Takes a solved result and its :class:`~symopt.distributed.data.DaskDataset`; gives an
:class:`~symopt.stats.inference.Inference` (or a :class:`~symopt.stats.glm.GLMFit`, its ``mu`` None: the fitted
means are one per row).
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

from ..distributed import passes
from ..model.families import ETA, MU
from ..numerics import covariance
from ..numerics.covariance import check_cov_type
from . import glm as glm_stats
from . import separation
from .inference import REFINE_BELOW, Inference, _refusal, _residuals, _response, _weights, kind_of


class _Rows:
    """The rows :func:`symopt.numerics.covariance.from_jacobian` reads, as ``M`` (``p x p``, ``M^T M`` the sum it
    forms over the rows, the residuals given as ones) and the row count ``n``."""

    def __init__(self, M: np.ndarray, n: int):
        self.M, self.shape = M, (n, M.shape[1])

    def blocks(self):
        yield 0, self.M

    def select(self, columns):
        return self if len(columns) == self.shape[1] else _Rows(self.M[:, columns], self.shape[0])


def _root(S: np.ndarray) -> np.ndarray:
    """A symmetric ``M`` with ``M^T M = S`` (``S`` symmetric positive semi-definite)."""
    lam, V = np.linalg.eigh(0.5 * (S + S.T))
    return (V * np.sqrt(np.maximum(lam, 0.0))) @ V.T


def infer(result, cov_type: str, dataset) -> Inference:
    """:func:`symopt.stats.inference.infer` on Dask input (the module's note)."""
    check_cov_type(cov_type)
    objective = result.objective
    names = tuple(objective.form.flat_names(dataset))
    x = np.asarray(result.x, dtype=float)
    base = dict(names=names, cov_type=cov_type, n_obs=dataset.n_rows, n_params=len(x), x=x, held=(), surface=None)
    kind, why = kind_of(objective)
    leverage = cov_type in ("HC2", "HC3")
    if kind == "least squares":
        return _least_squares(result, objective, dataset, base, leverage)
    robust = getattr(objective, "robust", None)
    if getattr(objective, "glm", None) is not None:
        fitted = glm_fit(objective, dataset, x, len(x))
        stats = {"loglik": None if objective.l2 or objective.l1 else fitted.loglik}
    else:
        stats = {}
        if kind == "likelihood" and not objective.l2 and not objective.l1:
            total = result.fun * (dataset.n_rows if objective.reduction == "mean" else 1)
            stats["loglik"] = total if objective.maximize else -total
    if robust is not None and not objective.maximize:  # a Huber loss: the M-estimator sandwich, as the NumPy path
        refusal = (f"{objective.form.unidentified}, so they have no standard errors" if objective.form.unidentified
                   else _refusal(result, objective, len(x)))
    else:
        robust = None
        refusal = why or _refusal(result, objective, len(x))
    if not refusal and leverage:
        refusal = f"{cov_type} is for least squares (it needs the hat matrix); use HC0 or HC1"
    out_kind = "M-estimator" if robust is not None else "likelihood"
    if refusal:
        return Inference(kind=out_kind, cov=None, reason=refusal, **base, **stats)
    if getattr(objective, "glm", None) is not None and cov_type == "nonrobust":
        cov = covariance.from_information(fitted.information, names)
        notes = (f"scaled by the dispersion estimated as Pearson's chi2 / (n - p) = {fitted.scale:.6g}",) \
            if objective.glm.family.scale == "pearson" else ()
        return Inference(kind="likelihood", cov=cov.matrix, reason=cov.reason, not_identified=cov.not_identified,
                         notes=notes, **base, **stats)
    if robust is not None:  # a Huber loss's covariance is the sandwich: HC0 (HC1 on request)
        cov_type = "HC1" if cov_type == "HC1" else "HC0"
    pieces = passes.chunk_sum(dataset, _likelihood_piece, objective, result.derivation, x, cov_type != "nonrobust")
    if np.ndim(pieces["hess"]) == 0:
        note = result.derivation.hessian_note if result.derivation is not None else ""
        return Inference(kind=out_kind, cov=None, reason="the Hessian of the objective was not derived, so there is "
                         f"no observed information{f' ({note})' if note else ''}", **base, **stats)
    info = (-1.0 if objective.maximize else 1.0) * pieces["hess"]
    scores = None if cov_type == "nonrobust" else _root(pieces["meat"])
    cov = covariance.from_information(info, names, scores, cov_type, dataset.n_rows)
    return Inference(kind=out_kind, cov=cov.matrix, reason=cov.reason, not_identified=cov.not_identified,
                     **base, **stats)


def _likelihood_piece(chunk, objective, derivation, x, robust: bool) -> dict:
    """A chunk's summed Hessian of the per-row terms and, for a sandwich, its scores' ``sum s_i s_i^T``."""
    with np.errstate(all="ignore"):
        hess = objective.form.hessian(derivation, chunk, x)
    per_row = chunk.n_rows if objective.reduction == "mean" else 1
    pieces = {"hess": np.float64(0.0) if hess is None else per_row * hess}
    if robust:
        p = x.size
        meat = np.zeros((p, p))
        for _, block in objective.form.row_gradients(derivation, chunk, x):
            meat += block.T @ block
        pieces["meat"] = meat
    return pieces


# --- least squares ------------------------------------------------------------------------------------------------

def _least_squares_piece(chunk, objective, x, robust: bool) -> dict:
    u, J = _residuals(objective, chunk, x)
    rows = covariance.ArrayRows(J) if isinstance(J, np.ndarray) else J
    w = _weights(objective, chunk)
    R, _ = covariance._triangular(rows)
    p = x.size
    pieces = {"R": np.zeros((0, p)) if R is None else R, "nonfinite": float(R is None), "rss": float(u @ u),
              "kept": float(chunk.n_rows if w is None else np.count_nonzero(w > 0)),
              "logs": 0.0 if w is None else float(np.sum(np.log(w[w > 0])))}
    if robust:
        meat = np.zeros((p, p))
        for lo, block in rows.blocks():
            meat += (block.T * u[lo:lo + block.shape[0]] ** 2) @ block
        pieces["meat"] = meat
    if objective.kind == "squared":
        y = _response(objective, chunk)
        weight = np.ones(chunk.n_rows) if w is None else w
        total = float(np.sum(weight))
        mean = float(np.sum(weight * y) / total) if total > 0 else 0.0
        pieces["moments"] = (total, mean, float(np.sum(weight * (y - mean) ** 2)))
        pieces["size"] = float(np.sum(weight * y * y))
    # the model fits a constant where a column of the unweighted Jacobian is constant and not 0
    if objective.wide:
        G = chunk["X"]
    else:
        G = J if w is None else J[w > 0] / np.sqrt(w[w > 0])[:, None]
    if G.shape[0]:
        pieces.update(low=G.min(axis=0), high=G.max(axis=0), peak=np.abs(G).max(axis=0), first=G[0])
    return pieces


def _least_squares(result, objective, dataset, base, leverage: bool) -> Inference:
    x, p, cov_type = base["x"], base["n_params"], base["cov_type"]
    robust = cov_type != "nonrobust" and not leverage
    q = passes.chunk_sum(dataset, _least_squares_piece, objective, x, robust)
    n, rss = int(q["kept"]), q["rss"]
    base = {**base, "n_obs": n}
    spread = q["high"] - q["low"]
    if objective.wide:
        constant = objective.model.intercept or bool(np.any((spread == 0) & (q["first"] != 0)))
    else:
        constant = bool(np.any((spread <= 1e-12 * q["peak"]) & (q["first"] != 0)))
    r2 = None
    if "moments" in q:
        tss = q["moments"][2] if constant else q["size"]
        r2 = 1.0 - rss / tss if tss > 0 else None
    stats = dict(rss=rss, r2=r2, loglik=_gaussian_loglik(objective, n, rss, q["logs"]))
    absolute = 1.0 if objective.scale == "absolute" else None
    refusal = _refusal(result, objective, p)
    if not refusal and n <= p and cov_type == "nonrobust" and absolute is None:
        refusal = f"{n} rows and {p} parameters leave no degrees of freedom for the residual variance RSS / (n - p)"
    if not refusal and q["nonfinite"]:
        refusal = "the Jacobian of the residuals is not finite at the solution (in some chunk of the Dask input)"
    if refusal:
        return Inference(kind="least squares", cov=None, reason=refusal, **base, **stats)
    notes = []
    size = q.get("size", 0.0)
    if rss == 0.0:
        notes.append("an exact fit (RSS = 0): the standard errors are 0")
        stats["exact_fit"] = "an exact fit (RSS = 0): the standard errors are 0 and the intervals are points"
    elif rss < REFINE_BELOW * size:
        stats["exact_fit"] = (f"an exact fit to double precision (RSS / sum(y^2) = {rss / size:.2g}, residuals at "
                              f"the rounding level)")
    R = np.triu(q["R"][:p]) if q["R"].shape[0] >= p else None
    if R is None:
        return Inference(kind="least squares", cov=None, reason=f"{q['R'].shape[0]} independent rows for {p} "
                         f"parameters: some parameters are not identified", **base, **stats)
    if leverage:  # each row's leverage from R: a second pass (the module's note)
        cov = covariance.from_jacobian(_Rows(R, n), None, base["names"], "nonrobust", 1.0, R)  # (rank checked)
        if cov.matrix is not None:
            cov = _leverage_covariance(dataset, objective, x, R, cov_type)
    elif robust:
        cov = covariance.from_jacobian(_Rows(_root(q["meat"]), n), np.ones(p), base["names"], cov_type, None, R)
    else:
        scale = absolute if absolute is not None else rss / (n - p)
        cov = covariance.from_jacobian(_Rows(R, n), None, base["names"], "nonrobust", scale, R)
    if absolute is not None and cov_type == "nonrobust":
        notes.append("scale='absolute': the covariance is not scaled by the residual variance (the weights are "
                     "taken as the exact inverse variances)")
    return Inference(kind="least squares", cov=cov.matrix, reason=cov.reason, notes=tuple(notes),
                     not_identified=cov.not_identified, **base, **stats)


def _leverage_piece(chunk, objective, x, to_q, power: int) -> dict:
    """A chunk's ``sum q_i^T q_i u_i^2 / (1 - h_i)^power`` with ``q_i = J_i R^-1`` and ``h_i = |q_i|^2`` (HC2:
    power 1, HC3: 2), and its largest leverage (with its row in the whole data)."""
    u, J = _residuals(objective, chunk, x)
    rows = covariance.ArrayRows(J) if isinstance(J, np.ndarray) else J
    p = to_q.shape[1]
    meat, top = np.zeros((p, p)), np.array([-1.0, -1.0])
    for lo, block in rows.blocks():
        q = block @ to_q
        h = np.sum(q * q, axis=1)
        k = int(np.argmax(h)) if h.size else 0
        if h.size and h[k] > top[0]:
            top = np.array([h[k], lo + k])
        e2 = u[lo:lo + block.shape[0]] ** 2 / np.maximum(1.0 - h, 1e-300) ** power
        meat += (q.T * e2) @ q
    return {"meat": meat, "high": top}


def _leverage_covariance(dataset, objective, x, R, cov_type: str) -> covariance.Covariance:
    """HC2 or HC3 as :func:`symopt.numerics.covariance.from_jacobian` forms them, the rows read in a second pass."""
    d = covariance._scales(R, 0)
    Rinv = np.triu(np.linalg.solve(R / d, np.eye(R.shape[1])))
    q = passes.chunk_sum(dataset, _leverage_piece, objective, x, Rinv / d[:, None], 1 if cov_type == "HC2" else 2)
    if q["high"][0] >= 1.0 - 1e-12:
        return covariance.Covariance(None, f"{cov_type} divides by 1 - leverage, and a row has leverage "
                                           f"{q['high'][0]:.6g} (the fit passes through it exactly); use HC0 or HC1")
    B = Rinv @ q["meat"] @ Rinv.T
    return covariance.Covariance(0.5 * (B + B.T) / d[:, None] / d[None, :])


def _gaussian_loglik(objective, n: int, rss: float, logs: float) -> float | None:
    """:func:`symopt.stats.inference._gaussian_loglik` with ``sum(log w)`` over the kept rows given."""
    if objective.kind != "squared" or objective.l2 or objective.l1 or not rss > 0:
        return None
    if objective.scale == "absolute":
        return float(-0.5 * n * math.log(2 * math.pi) + 0.5 * logs - 0.5 * rss)
    return -0.5 * n * (math.log(2 * math.pi * rss / n) + 1.0) + 0.5 * logs


# --- GLMs ---------------------------------------------------------------------------------------------------------

def _glm_piece(chunk, objective, x) -> dict:
    spec, family = objective.glm, objective.glm.family
    n = chunk.n_rows
    eta, J = glm_stats.linear_predictor(objective, chunk, x)
    mu = glm_stats._column(spec.link.inverse, {ETA: eta}, n)
    dmu = glm_stats._column(sp.diff(spec.link.inverse, ETA), {ETA: eta}, n)
    variance = glm_stats._column(family.variance, {MU: mu}, n)
    y, w = glm_stats.response_and_weights(objective, chunk)
    fisher = w * dmu ** 2 / variance
    shift = _shift(objective, chunk)
    return {"pearson": float(np.sum(w * (y - mu) ** 2 / variance)),
            "deviance": float(np.sum(w * glm_stats.unit_deviance(family, y, mu))),
            "information": J.T @ (fisher[:, None] * J), "squares": float(np.sum(w * (y - mu) ** 2)),
            "w": float(np.sum(w)), "wy": float(np.sum(w * y)), "shift": float(np.sum(shift)),
            "shifted": float(np.any(shift))}


def _shift(objective, chunk) -> np.ndarray:
    spec = objective.glm
    shift = np.zeros(chunk.n_rows)
    if spec.offset:
        shift = shift + chunk[spec.offset]
    if spec.exposure:
        shift = shift + np.log(chunk[spec.exposure])
    return shift


def _glm_loglik_piece(chunk, objective, x, scale: float, concentrated: float) -> float:
    eta, _ = glm_stats.linear_predictor(objective, chunk, x)
    mu = glm_stats._column(objective.glm.link.inverse, {ETA: eta}, chunk.n_rows)
    y, w = glm_stats.response_and_weights(objective, chunk)
    total, _ = glm_stats._loglik(objective, chunk, y, w, mu, scale, concentrated)
    return math.nan if total is None else total


def _null_piece(chunk, objective, constant: float) -> dict:
    """At the constant model ``constant + shift``: its deviance and Fisher scoring's two sums."""
    spec, family = objective.glm, objective.glm.family
    n = chunk.n_rows
    eta = constant + _shift(objective, chunk)
    mu = glm_stats._column(spec.link.inverse, {ETA: eta}, n)
    dmu = glm_stats._column(sp.diff(spec.link.inverse, ETA), {ETA: eta}, n)
    variance = glm_stats._column(family.variance, {MU: mu}, n)
    y, w = glm_stats.response_and_weights(objective, chunk)
    return {"deviance": float(np.sum(w * glm_stats.unit_deviance(family, y, mu))),
            "score": float(np.sum(w * (y - mu) * dmu / variance)), "fisher": float(np.sum(w * dmu ** 2 / variance))}


def glm_fit(objective, dataset, x: np.ndarray, n_params: int | None = None) -> glm_stats.GLMFit:
    """:func:`symopt.stats.glm.fit` on Dask input (the module's note); ``mu`` is None."""
    spec, family = objective.glm, objective.glm.family
    x = np.asarray(x, dtype=float)
    n, p = dataset.n_rows, len(x) if n_params is None else n_params
    q = passes.chunk_sum(dataset, _glm_piece, objective, x)
    scale = q["pearson"] / (n - p) if family.scale == "pearson" and n > p else 1.0
    if family.loglik is None:
        loglik, why = None, f"the {family.name} family has no closed-form log-likelihood"
    else:
        total = passes.chunk_sum(dataset, _glm_loglik_piece, objective, x, scale, q["squares"] / q["w"])
        loglik, why = (total, "") if math.isfinite(total) else (None, "the log-likelihood is not finite at the "
                                                                      "estimate")
    mean = q["wy"] / q["w"]
    if not q["shifted"]:
        null = passes.chunk_sum(dataset, _null_piece, objective, float(spec.link.link.subs(MU, mean)))["deviance"]
    else:
        constant = float(spec.link.link.subs(MU, mean)) - q["shift"] / n
        for _ in range(glm_stats.NULL_STEPS):
            sums = passes.chunk_sum(dataset, _null_piece, objective, constant)
            step = sums["score"] / sums["fisher"]
            constant += step
            if abs(step) <= 1e-13 * max(1.0, abs(constant)):
                break
        null = passes.chunk_sum(dataset, _null_piece, objective, constant)["deviance"]
    return glm_stats.GLMFit(None, q["deviance"], q["pearson"], scale, null, loglik, why, q["information"] / scale,
                            n, p)


# --- separated classes ----------------------------------------------------------------------------------------------

def _certificate_piece(chunk, objective, x, free) -> dict:
    sums = separation.certificate_sums(separation._Rows(objective, chunk, x, free))
    q = free.size
    return {"M": np.zeros((q, q)), "g": np.zeros(q), "bad": 1.0} if sums is None else \
        {"M": sums[0], "g": sums[1], "bad": 0.0}


def _change_piece(chunk, objective, x, free, a) -> dict:
    return {"high": np.array([separation.certificate_change(separation._Rows(objective, chunk, x, free), a)])}


def not_separated(objective, dataset, x) -> bool:
    """Whether the certificate of :mod:`symopt.stats.separation` holds at ``x`` on Dask input, from two passes
    (its sums, then each row's change): then no direction separates the classes. False where it does not hold
    (or a bound restricts a direction's sign): the linear programme that finds a separating direction reads all
    rows in one array, so the result can only say it was not shown."""
    x = np.asarray(x, dtype=float)
    if not x.size or not np.all(np.isfinite(x)):
        return False
    free, signs = separation._free_directions(objective, dataset, x.size, None)
    if not free.size:
        return True
    if np.any(signs):
        return False
    sums = passes.chunk_sum(dataset, _certificate_piece, objective, x, free)
    a = None if sums["bad"] else separation.certificate_direction(sums["M"], sums["g"])
    if a is None:
        return False
    return float(passes.chunk_sum(dataset, _change_piece, objective, x, free, a)["high"][0]) <= \
        separation.CERTIFIED_CHANGE

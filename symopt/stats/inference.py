"""Statistical inference at a solution: the covariance of the estimates, standard errors, the fit statistics
(RSS, residual standard deviation, R^2, log-likelihood, AIC, BIC) and Wald intervals.

Which covariance applies is the objective's:

* **least squares** (a ``squared_loss``, or a custom objective symopt recognises as a sum of squares
  ``c * u**2``): ``s^2 (J^T J)^-1`` with ``J`` the exact Jacobian of the residuals ``u`` (from SymPy's
  derivative; ``-[1, X]`` for a ``LinearModel`` over a data matrix) and ``s^2 = RSS / (n - p)``, by QR
  (:mod:`symopt.numerics.covariance`); in mpmath for a closed form solved with ``precision="high"``;
* **likelihoods** (``log_loss``, and an objective declared ``Objective(..., likelihood=True)``: a negative
  log-likelihood per sample minimised, or a log-likelihood maximised): the inverse of the observed
  information, the Hessian of the summed negative log-likelihood, whatever the reduction;
* **robust and quantile losses** (:mod:`symopt.stats.robust`): a quantile loss on a model linear in its
  parameters has statsmodels ``QuantReg``'s covariance (kind "quantile regression"), a Huber loss the
  M-estimator sandwich (kind "M-estimator");
* **nothing else**: a ridge penalty (the estimates are biased and their spread is not the classical one), a
  network (its parameters are not identified: hidden units can be permuted), a custom objective not declared
  a likelihood. There ``cov`` is None and the reason says why.

Robust covariances (``cov_type`` "HC0" to "HC3") are the sandwich forms statsmodels offers: all four for
least squares, HC0 and HC1 for likelihoods. Intervals and p-values use Student's t with ``n - p`` degrees of
freedom for classical least squares, the normal distribution otherwise (statsmodels' defaults).

It is one module past 400 lines because every statistic here reads the same covariance record (which covariance
applies to which objective, then RSS, R^2, the log-likelihood, AIC and BIC, Wald intervals and tests); the
linear algebra they rest on is in :mod:`symopt.numerics.covariance`.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field, replace
from functools import lru_cache

import mpmath
import numpy as np
import sympy as sp

from ..errors import ModelError
from ..numerics import covariance
from ..numerics.covariance import COV_TYPES, check_cov_type
from ..numerics.distributions import normal_quantile, t_quantile, two_sided_p
from ..symbolic.numeric import evaluate
from . import glm as glm_stats
from . import restricted
from . import robust as robust_stats
from . import separation

#: Above this many parameters no covariance is formed: it is a p x p matrix of doubles (4,096 parameters
#: take 134 MB; 10,000 would take 800 MB), and the QR of the n x p Jacobian behind it costs n p^2.
MAX_COVARIANCE_PARAMS = 4096
#: A least-squares fit whose RSS is below this fraction of ``sum(y**2)`` has residuals near the rounding
#: level of double precision (NIST Lanczos1: 1.4e-25 of 1.3e1), where residuals computed in double keep only a
#: few digits (3.4 on Lanczos1): there the parameters are refined by Gauss-Newton in mpmath and the residuals,
#: RSS and covariance computed at :data:`REFINE_DIGITS` digits, for problems up to :data:`REFINE_MAX_WORK`
#: rows x parameters (the mpmath evaluation takes some 50 microseconds a term).
REFINE_BELOW = 1e-14
REFINE_DIGITS = 40
REFINE_MAX_WORK = 20_000
#: The objective kinds that are likelihoods already (per sample, a negative log-likelihood).
LIKELIHOOD_KINDS = ("log", "cross_entropy")


@dataclass(frozen=True)
class Inference:
    """What can be said about the estimates' uncertainty at a solution, and the fit statistics.

    ``cov`` is None where no covariance applies, and ``reason`` says why. ``kind`` is "least squares",
    "likelihood" or "none"; ``dof`` is ``n - p``; ``rss``, ``residual_sd`` and ``r2`` are for least squares
    (``r2`` where the target is known: centred when the model can fit a constant, as statsmodels does);
    ``loglik`` is the log-likelihood (for least squares the Gaussian one, with the variance at its maximum
    ``RSS / n``; for a declared likelihood, the objective's sum as written, so constants it leaves out are
    left out here too).
    """

    names: tuple
    kind: str
    cov_type: str
    cov: np.ndarray | None
    reason: str
    n_obs: int
    n_params: int
    rss: float | None = None
    r2: float | None = None
    loglik: float | None = None
    notes: tuple = ()
    not_identified: tuple = ()
    x: np.ndarray = field(default=None, repr=False)
    #: The flat indices of parameters at a bound: held there, their rows and columns of ``cov`` are NaN.
    held: tuple = ()
    #: Least squares whose residuals are zero or at the rounding level of double precision (RSS below
    #: :data:`REFINE_BELOW` of ``sum(w y^2)``), in words ("" otherwise): an exact fit, whose F statistic has
    #: no residual variance to divide by (:mod:`symopt.stats.profile` gives its Wald intervals).
    exact_fit: str = ""
    #: The surface of the constraints active at the optimum (:class:`symopt.stats.restricted.Surface`), to which
    #: the covariance is restricted; None where none is active.
    surface: object = field(default=None, repr=False)

    @property
    def dof(self) -> int:
        return self.n_obs - self.n_params

    @property
    def residual_sd(self) -> float | None:
        if self.rss is None or self.dof <= 0:
            return None
        return math.sqrt(self.rss / self.dof)

    @property
    def stderr(self) -> np.ndarray | None:
        """The flat standard errors (in the order of ``names``), or None."""
        return None if self.cov is None else np.sqrt(np.maximum(np.diag(self.cov), 0.0))

    @property
    def corr(self) -> np.ndarray | None:
        if self.cov is None:
            return None
        se = self.stderr
        with np.errstate(invalid="ignore", divide="ignore"):
            out = self.cov / se[:, None] / se[None, :]
        out[~np.isfinite(out)] = 0.0
        np.fill_diagonal(out, 1.0)
        held = list(self.held)
        out[held, :] = math.nan
        out[:, held] = math.nan
        return out

    @property
    def uses_t(self) -> bool:
        """Student's t (classical least squares) rather than the normal distribution."""
        return (self.kind == "least squares" and self.cov_type == "nonrobust") or self.kind == "quantile regression"

    @property
    def statistic(self) -> str:
        return "t" if self.uses_t else "z"

    def critical(self, level: float) -> float:
        """The two-sided quantile for a ``level`` interval."""
        p = 0.5 + check_level(level) / 2
        return t_quantile(p, self.dof) if self.uses_t else normal_quantile(p)

    def wald(self, level: float) -> tuple[np.ndarray, np.ndarray] | None:
        """Flat ``(low, high)``: estimate -/+ critical value * standard error."""
        if self.cov is None:
            return None
        q = self.critical(level) * self.stderr
        return self.x - q, self.x + q

    def p_values(self) -> np.ndarray | None:
        if self.cov is None:
            return None
        se = self.stderr
        with np.errstate(divide="ignore", invalid="ignore"):
            stat = np.where(se > 0, self.x / se, np.where(self.x == 0, 0.0, np.inf))
        dof = self.dof if self.uses_t else None
        return np.array([math.nan if math.isnan(e) else two_sided_p(float(s), dof) for s, e in zip(stat, se)])

    @property
    def aic(self) -> float | None:
        return None if self.loglik is None else -2.0 * self.loglik + 2.0 * self.n_params

    @property
    def bic(self) -> float | None:
        return None if self.loglik is None else -2.0 * self.loglik + self.n_params * math.log(self.n_obs)


class Intervals(dict):
    """What :meth:`symopt.Result.conf_int` returns: name -> ``(low, high)``, a dict, with ``notes`` (a tuple of
    sentences: an exact fit's points, a profile side left open and why), shown after the dict in its repr."""

    def __init__(self, items=(), notes=()):
        super().__init__(items)
        self.notes = tuple(notes)

    def __repr__(self) -> str:
        shown = super().__repr__()
        return f"{shown}  # {'; '.join(self.notes)}" if self.notes else shown

    def __reduce__(self):
        return (type(self), (dict(self), self.notes))


def check_level(level) -> float:
    """``level`` as a float, refused unless it is a real number strictly between 0 and 1 (a NumPy float, such
    as ``np.float32(0.95)``, is as good as a Python one; a bool is no level)."""
    if isinstance(level, (bool, np.bool_)) or not isinstance(level, numbers.Real) or not 0 < level < 1:
        raise ModelError(f"level must be a number strictly between 0 and 1 (such as 0.95), got {level!r}")
    return float(level)


def kind_of(objective) -> tuple[str, str]:
    """``("least squares" | "likelihood" | "none", why none)``: which covariance applies to ``objective``."""
    if objective.form.unidentified:
        return "none", f"{objective.form.unidentified}, so they have no standard errors"
    if objective.form.has_residuals and not objective.maximize and \
            (objective.kind == "squared" or objective.sum_of_squares() is not None):
        return "least squares", ""
    if objective.likelihood:
        return "likelihood", ""
    return "none", ("this custom objective is neither a sum of squares nor declared a likelihood, so its "
                    "optimum has no standard errors; if it is a negative log-likelihood per sample (or a "
                    "log-likelihood, maximised), say so: symopt.Objective(..., likelihood=True)")


@lru_cache(maxsize=256)
def _residual_jacobian(u: sp.Expr, params: tuple) -> tuple:
    return tuple(sp.diff(u, q) for q in params)


def _residuals(objective, dataset, x):
    """``(u, J)``: the residuals at ``x`` (n) and their Jacobian, for a least-squares objective: an array (n x p)
    for a named model, the rows of ``[1, X]`` a block at a time for a ``LinearModel()`` over a data matrix
    (:class:`symopt.numerics.covariance.MatrixRows`: the Jacobian up to sign, never formed whole; ``u`` takes one vector
    of n, as the solve's own residual does)."""
    n = dataset.n_rows
    if objective.wide:
        X, y = dataset["X"], _response(objective, dataset)
        intercept = objective.model.intercept
        u = X @ (x[1:] if intercept else x)
        np.subtract(y, u, out=u)
        if intercept:
            u -= x[0]
        w = _weights(objective, dataset)  # a weighted fit: residuals and Jacobian rows scaled by sqrt(w)
        root = None if w is None else np.sqrt(w)
        if root is not None:
            u *= root
        return u, covariance.MatrixRows(X, intercept, row_scale=root)
    u, _ = objective.sum_of_squares()
    values = {s: dataset[s.name] for s in objective.data_symbols}
    values.update(zip(objective.params, (float(v) for v in x)))
    column = lambda e: np.broadcast_to(np.asarray(evaluate(e, values), dtype=float), (n,))  # noqa: E731
    with np.errstate(all="ignore"):
        return column(u).copy(), np.column_stack([column(e) for e in _residual_jacobian(u, objective.params)])


def _residuals_high(objective, dataset, exact, digits: int):
    """The residuals and the Jacobian's rows in mpmath at ``digits``, at the high-precision solution."""
    u, _ = objective.sum_of_squares()
    jac = _residual_jacobian(u, objective.params)
    syms = objective.data_symbols
    cols = [dataset[s.name] for s in syms]
    rows, res = [], []
    with mpmath.workdps(digits):
        theta = dict(zip(objective.params, exact))
        for i in range(dataset.n_rows):
            values = {**theta, **{s: mpmath.mpf(repr(float(c[i]))) for s, c in zip(syms, cols)}}
            res.append(evaluate(u, values, "mpmath"))
            rows.append([evaluate(e, values, "mpmath") for e in jac])
    return res, rows


def _refined_high(objective, dataset, x, digits: int = REFINE_DIGITS, steps: int = 8):
    """Gauss-Newton from ``x`` in mpmath at ``digits``: ``(theta, residuals, Jacobian rows)`` as mpmath numbers,
    each step ``min ||u + J d||`` by QR (for residuals at the rounding level of double precision)."""
    theta = [mpmath.mpf(float(v)) for v in x]
    p = len(theta)
    res, rows = _residuals_high(objective, dataset, theta, digits)
    for _ in range(steps):
        with mpmath.workdps(digits):
            Q, R = mpmath.qr(mpmath.matrix(rows), mode="skinny")
            c = Q.T * mpmath.matrix(res)
            d = [mpmath.mpf(0)] * p
            for i in range(p - 1, -1, -1):
                d[i] = (-c[i] - mpmath.fsum(R[i, j] * d[j] for j in range(i + 1, p))) / R[i, i]
            theta = [t + di for t, di in zip(theta, d)]
            small = all(abs(di) <= mpmath.mpf(10) ** (10 - digits) * max(abs(t), 1) for di, t in zip(d, theta))
        res, rows = _residuals_high(objective, dataset, theta, digits)
        if small:
            break
    return theta, res, rows


def _response(objective, dataset) -> np.ndarray:
    """What a squared loss fits: the target, less the offset where it has one (``squared_loss(...,
    offset="o")`` fits ``y - o``, so its residuals, R^2 and scale are those of statsmodels' ``OLS(y - o, X)``)."""
    y = dataset[objective.target.name]
    return y if objective.offset_column is None else y - dataset[objective.offset_column]


def _weights(objective, dataset) -> np.ndarray | None:
    """Each row's weight in a squared loss (``w``, or ``1/s**2``), or None where it is unweighted."""
    if objective.residual_weight is None:
        return None
    m = objective.residual_weight
    values = {s: dataset[s.name] for s in m.free_symbols}
    return np.broadcast_to(np.asarray(evaluate(m ** 2, values), dtype=float), (dataset.n_rows,)).copy()


def _fits_a_constant(objective, dataset, J, w) -> bool:
    """Whether the model can fit a constant: a column of the unweighted Jacobian is constant (for a ``LinearModel()``
    over a data matrix: it has an intercept, or ``X`` a constant column that is not 0)."""
    if objective.wide:
        X = dataset["X"]
        return objective.model.intercept or bool(X.shape[0] and np.any((np.ptp(X, axis=0) == 0) & (X[0] != 0)))
    G = J if w is None else J[w > 0] / np.sqrt(w[w > 0])[:, None]
    return any(np.ptp(G[:, j]) <= 1e-12 * np.max(np.abs(G[:, j])) and G[0, j] != 0 for j in range(G.shape[1]))


def _r2(objective, dataset, constant: bool, rss, w) -> float | None:
    """R^2 of a squared loss, weighted as statsmodels' WLS: centred (about the weighted mean) when the model
    can fit a constant (``constant``: :func:`_fits_a_constant`), else uncentred."""
    if objective.kind != "squared":
        return None
    y = _response(objective, dataset)
    if w is None:  # one vector of n at a time (a tall fit's inference stays within the solve's memory)
        d = y - y.mean() if constant else y
        tss = float(d @ d)
    else:
        tss = float(np.sum(w * (y - np.average(y, weights=w)) ** 2)) if constant else float(np.sum(w * y * y))
    return 1.0 - rss / tss if tss > 0 else None


def _gaussian_loglik(objective, n: int, rss: float, w: np.ndarray | None) -> float | None:
    """The Gaussian log-likelihood of a squared loss at the estimate: with the variance at its maximum
    ``RSS / n`` (``scale="residual"``; weighted as statsmodels' WLS, ``+ sum(log w) / 2``), or with the
    variances ``1/w`` as given (``scale="absolute"``); over the rows of weight > 0 (``n`` of them)."""
    if objective.kind != "squared" or objective.l2 or objective.l1 or not rss > 0:
        return None
    logs = 0.0 if w is None else float(np.sum(np.log(w[w > 0])))
    if objective.scale == "absolute":
        return float(-0.5 * n * math.log(2 * math.pi) + 0.5 * logs - 0.5 * rss)
    return -0.5 * n * (math.log(2 * math.pi * rss / n) + 1.0) + 0.5 * logs


def infer(result, cov_type: str, dataset) -> Inference:
    """The :class:`Inference` for a solved :class:`symopt.Result` on ``dataset``, the prepared data it was solved
    on (``cov_type`` as in :data:`COV_TYPES`)."""
    check_cov_type(cov_type)
    objective = result.objective
    if objective is None or dataset is None:
        return Inference((), "none", cov_type, None, "this result does not carry its problem and data (it was "
                         "not returned by solve)", 0, len(result.x))
    names = tuple(objective.form.flat_names(dataset))
    held = tuple(j for j, name in enumerate(names) if name in result.at_bound)
    n, p, x = dataset.n_rows, len(result.x) - len(held), np.asarray(result.x, dtype=float)
    training = getattr(result, "training", None)
    if getattr(training, "held_out", 0) and n == training.rows + training.held_out:
        n = training.rows  # a network's validation rows, held out of the data solved on, are no observations of the fit
    kind, why = kind_of(objective)
    on = restricted.surface(result, dataset, names, [j for j in range(len(x)) if j not in held])
    p -= 0 if on is None else on.rank  # an active constraint removes a direction, as a tie removes a parameter
    base = dict(names=names, cov_type=cov_type, n_obs=n, n_params=p, x=x, held=held, surface=on)
    if kind == "least squares":
        return _least_squares(result, objective, dataset, base)
    if getattr(objective, "glm", None) is not None:
        return _glm(result, objective, dataset, base, why)
    robust = getattr(objective, "robust", None)
    if robust is not None and not objective.maximize:
        return _robust(result, objective, dataset, base, robust)
    stats = {}
    if kind == "likelihood" and not objective.l2 and not objective.l1:
        total = result.fun * (n if objective.reduction == "mean" else 1)
        stats["loglik"] = total if objective.maximize else -total
    refusal = why or _refusal(result, objective, p)
    if refusal:
        return Inference(kind=kind, cov=None, reason=refusal, **base, **stats)
    return _likelihood(result, objective, dataset, base, stats)


def _refusal(result, objective, p: int) -> str:
    """Why no covariance is formed for a result whose objective has one, or ""."""
    if separation.refusal(result):
        return separation.refusal(result)
    if not result.success:
        return (f"the solve did not reach an optimum ({result.status}), and standard errors are those of an "
                f"optimum")
    if objective.l1:
        return (f"an l1 penalty (l1={objective.l1!r}) sets coefficients to exactly 0 and biases the rest, so the "
                "classical standard errors do not apply (refit the selected coefficients with l1=0 for them, or "
                "bootstrap the penalised fit)")
    if objective.l2:
        return (f"a ridge penalty (l2={objective.l2!r}) biases the estimates and shrinks their spread, so the "
                "classical standard errors do not apply (fit with l2=0 for them, or bootstrap the penalised fit)")
    if p > MAX_COVARIANCE_PARAMS:
        return (f"{p:,} parameters: the covariance would be a {p:,} x {p:,} matrix ({8 * p * p / 1e6:,.0f} MB); "
                f"symopt forms it up to {MAX_COVARIANCE_PARAMS:,} parameters")
    return ""


def _least_squares(result, objective, dataset, base) -> Inference:
    x, p, cov_type = base["x"], base["n_params"], base["cov_type"]
    u, J = _residuals(objective, dataset, x)
    w = _weights(objective, dataset)
    rss = float(u @ u)
    constant = _fits_a_constant(objective, dataset, J, w)
    # A row of weight 0 is dropped (README): it is no observation, so it counts in neither n nor n - p, and
    # its zero row of J and zero residual leave the covariance as ordinary least squares on the kept rows.
    kept = None if w is None else w > 0
    dropped = kept is not None and not np.all(kept)
    if dropped:
        base = {**base, "n_obs": int(np.count_nonzero(kept))}
        u, J = u[kept], J[kept]
    n = base["n_obs"]
    stats = dict(rss=rss, r2=_r2(objective, dataset, constant, rss, w))
    absolute = 1.0 if objective.scale == "absolute" else None  # s^2 = 1: the weights are exact
    refusal = _refusal(result, objective, p)
    if not refusal and n <= p and cov_type == "nonrobust" and absolute is None:
        refusal = (f"{n} rows and {p} parameters leave no degrees of freedom for the residual variance "
                   f"RSS / (n - p)")
    if refusal:
        return Inference(kind="least squares", cov=None, reason=refusal, loglik=_gaussian_loglik(objective, n, rss, w),
                         **base, **stats)
    notes = []
    held = base["held"]
    free = [j for j in range(len(x)) if j not in held]
    if held:
        notes.append(f"{', '.join(base['names'][j] for j in held)} at a bound: held there, no standard error; the "
                     f"others' are computed with it held, and the degrees of freedom count the free parameters")
    if rss == 0.0:
        notes.append("an exact fit (RSS = 0): the standard errors are 0")
    y = _response(objective, dataset) if objective.kind == "squared" else None
    size = 0.0 if y is None else float(y @ y) if w is None else float(np.sum(w * y * y))
    if rss == 0.0:
        stats["exact_fit"] = "an exact fit (RSS = 0): the standard errors are 0 and the intervals are points"
    elif rss < REFINE_BELOW * size:
        stats["exact_fit"] = (f"an exact fit to double precision (RSS / sum(y^2) = {rss / size:.2g}, residuals at "
                              f"the rounding level)")
    high = result.precision == "high" and result.exact_x and cov_type == "nonrobust"
    if not high and not held and objective.kind == "squared" and not objective.wide and cov_type == "nonrobust" \
            and 0 < n * p <= REFINE_MAX_WORK and rss < REFINE_BELOW * size and base["surface"] is None:
        theta, res, rows = _refined_high(objective, dataset, x)
        if dropped:
            res, rows = _kept_rows(res, kept), _kept_rows(rows, kept)
        cov = covariance.from_jacobian_high(rows, res, base["names"], REFINE_DIGITS, absolute)
        with mpmath.workdps(REFINE_DIGITS):
            stats["rss"] = float(mpmath.fsum(r * r for r in res))
        moved = max(abs(float(t) - v) / max(abs(v), 1e-300) for t, v in zip(theta, x)) if p else 0.0
        notes.append(f"the residuals are at the rounding level of double precision (RSS / sum(y^2) = "
                     f"{rss / size:.2g}): the parameters were refined by Gauss-Newton in mpmath at {REFINE_DIGITS} "
                     f"digits (they moved by {moved:.2g} relative) and the RSS and covariance computed there")
    elif high:
        cond = result.condition_number or 1.0
        digits = max(50, 30 + int(2 * math.log10(max(cond, 1.0)))) if math.isfinite(cond) else 50
        res, rows = _residuals_high(objective, dataset, result.exact_x, digits)
        if dropped:
            res, rows = _kept_rows(res, kept), _kept_rows(rows, kept)
        if held:  # the parameters at a bound are held there: the Jacobian of the free ones
            rows = [[row[j] for j in free] for row in rows]
        cov = covariance.from_jacobian_high(rows, res, _names(base, free), digits, absolute)
        with mpmath.workdps(digits):
            stats["rss"] = float(mpmath.fsum(r * r for r in res))
        stats["r2"] = _r2(objective, dataset, constant, stats["rss"], w)
        notes.append(f"computed in mpmath at {digits} digits (precision='high')")
    else:
        rows = covariance.ArrayRows(J) if isinstance(J, np.ndarray) else J
        factor = result.normal_factor if len(free) == len(x) else None  # the tall normal equations' R
        cov = restricted.from_jacobian(base["surface"], rows.select(free), u, _names(base, free), cov_type, absolute,
                                       factor)
    if base["surface"] is not None:
        notes.append(base["surface"].note())
    if absolute is not None and cov_type == "nonrobust":
        notes.append("scale='absolute': the covariance is not scaled by the residual variance (the weights are "
                     "taken as the exact inverse variances)")
    return Inference(kind="least squares", cov=_expand(cov.matrix, free, len(x)), reason=cov.reason, notes=tuple(notes),
                     not_identified=cov.not_identified, loglik=_gaussian_loglik(objective, n, stats["rss"], w),
                     **base, **stats)


def _kept_rows(items: list, kept: np.ndarray) -> list:
    """The entries of ``items`` (one per row) whose row has a weight above 0."""
    return [item for item, keep in zip(items, kept) if keep]


def _likelihood(result, objective, dataset, base, stats) -> Inference:
    x, n, cov_type = base["x"], base["n_obs"], base["cov_type"]
    if cov_type in ("HC2", "HC3"):
        return Inference(kind="likelihood", cov=None, reason=f"{cov_type} is for least squares (it needs the "
                         "hat matrix); use HC0 or HC1 for a likelihood", **base, **stats)
    hess = objective.form.hessian(result.derivation, dataset, x)
    if hess is None:
        note = result.derivation.hessian_note if result.derivation is not None else ""
        return Inference(kind="likelihood", cov=None, reason="the Hessian of the objective was not derived, so "
                         f"there is no observed information{f' ({note})' if note else ''}", **base, **stats)
    per_row = n if objective.reduction == "mean" else 1
    free = [j for j in range(len(x)) if j not in base["held"]]
    info = ((-per_row if objective.maximize else per_row) * hess)[np.ix_(free, free)]
    scores = None
    if cov_type != "nonrobust":
        scores = np.concatenate([block for _, block in
                                 objective.form.row_gradients(result.derivation, dataset, x)], axis=0)[:, free]
    cov = restricted.from_information(base["surface"], info, _names(base, free), scores, cov_type, n)
    notes = (f"{', '.join(base['names'][j] for j in base['held'])} at a bound: held there, no standard error",) \
        if base["held"] else ()
    notes += (base["surface"].note(),) if base["surface"] is not None else ()
    return Inference(kind="likelihood", cov=_expand(cov.matrix, free, len(x)), reason=cov.reason,
                     not_identified=cov.not_identified, notes=notes, **base, **stats)


def _robust(result, objective, dataset, base, robust) -> Inference:
    """A quantile loss's covariance (statsmodels QuantReg's) or a Huber loss's (the M-estimator sandwich, the
    HC0 of :func:`_likelihood` with the objective as the negative log-likelihood; HC1 on request), or why
    none (:mod:`symopt.stats.robust`)."""
    kind = "quantile regression" if robust.loss == "quantile" else "M-estimator"
    cov_type = base["cov_type"]
    unidentified = objective.form.unidentified
    refusal = f"{unidentified}, so they have no standard errors" if unidentified else \
        _refusal(result, objective, base["n_params"])
    if not refusal and base["held"]:
        refusal = f"{', '.join(base['names'][j] for j in base['held'])} at a bound: the sandwich ignores bounds"
    if not refusal and kind == "quantile regression" and base["surface"] is not None:
        refusal = (f"the constraint(s) {', '.join(base['surface'].active)} are active, and QuantReg's covariance "
                   f"has no form restricted to a constraint surface, so none is given")
    if not refusal and kind == "quantile regression" and cov_type != "nonrobust":
        refusal = (f"a quantile fit has one covariance, statsmodels QuantReg's default (itself a sandwich: "
                   f"cov_type='nonrobust', the default, gives it); {cov_type} is for least squares and likelihoods")
    if not refusal and kind == "M-estimator" and cov_type in ("HC2", "HC3"):
        refusal = f"{cov_type} is for least squares (it needs the hat matrix); use HC0 or HC1 for a Huber fit"
    if refusal:
        return Inference(kind=kind, cov=None, reason=refusal, **base)
    if kind == "quantile regression":
        cov = robust_stats.quantile_covariance(objective, dataset, base["x"], base["names"])
        return Inference(kind=kind, cov=cov.matrix, reason=cov.reason, not_identified=cov.not_identified, **base)
    sandwich = _likelihood(result, objective, dataset, {**base, "cov_type": "HC1" if cov_type == "HC1" else "HC0"},
                           {})
    return replace(sandwich, kind=kind, cov_type=cov_type)


def _glm(result, objective, dataset, base, why: str) -> Inference:
    """A GLM's covariance as statsmodels' default: the inverse of the expected (Fisher) information, scaled by
    the estimated dispersion where the family has one (:mod:`symopt.stats.glm`); the robust types as for any
    likelihood (a sandwich, in which the scale cancels). Its log-likelihood is the family's, at that scale."""
    fitted = glm_stats.fit(objective, dataset, base["x"], base["n_params"])
    stats = {"loglik": None if objective.l2 or objective.l1 else fitted.loglik}
    refusal = why or _refusal(result, objective, base["n_params"])
    if refusal:
        return Inference(kind="likelihood", cov=None, reason=refusal, **base, **stats)
    if base["cov_type"] != "nonrobust":
        return _likelihood(result, objective, dataset, base, stats)
    free = [j for j in range(len(base["x"])) if j not in base["held"]]
    cov = restricted.from_information(base["surface"], fitted.information[np.ix_(free, free)], _names(base, free))
    notes = []
    if objective.glm.family.scale == "pearson":
        notes.append(f"scaled by the dispersion estimated as Pearson's chi2 / (n - p) = {fitted.scale:.6g}")
    if base["held"]:
        notes.append(f"{', '.join(base['names'][j] for j in base['held'])} at a bound: held there, no standard error")
    if base["surface"] is not None:
        notes.append(base["surface"].note())
    return Inference(kind="likelihood", cov=_expand(cov.matrix, free, len(base["x"])), reason=cov.reason,
                     not_identified=cov.not_identified, notes=tuple(notes), **base, **stats)


def _names(base, free) -> tuple:
    return tuple(base["names"][j] for j in free)


def _expand(matrix, free, p: int):
    """The covariance of the free parameters placed in the p x p one, NaN in the rows of those held."""
    if matrix is None or len(free) == p:
        return matrix
    out = np.full((p, p), math.nan)
    out[np.ix_(free, free)] = matrix
    return out

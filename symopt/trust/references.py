"""Reference fits from other libraries, for :func:`symopt.verify`: the same estimator, computed by code that
is not symopt's, in symopt's parameter layout.

Which reference applies follows the problem's shape (``reference="auto"``):

- least squares on a ``LinearModel()`` over a data matrix: statsmodels ``OLS`` (QR; ``WLS`` where weighted), or
  with ``l2`` scikit-learn's ``Ridge`` (``alpha = n * l2`` for a mean, the intercept unpenalised as in symopt; the
  weights as its ``sample_weight``);
- least squares on an expression model linear in its parameters, unpenalised: statsmodels ``OLS`` on the
  design (the columns ``phi_j(x)``);
- any other ``squared_loss`` on an expression model: SciPy's ``least_squares`` with the exact Jacobian of
  the residuals (from SymPy; weighted ones as the objective weighs them), the ridge penalty as extra
  residuals;
- ``log_loss`` on a ``LinearModel()`` over a data matrix: statsmodels ``Logit`` (weighted: its binomial ``GLM``
  with ``var_weights``), or with ``l2`` scikit-learn's ``LogisticRegression`` (``C = 1 / (2 n l2)``; the weights as
  its ``sample_weight``);
- :func:`symopt.glm` on a ``LinearModel()`` over a data matrix, unpenalised, of a built-in family and link
  without offset, exposure, weights or trials: statsmodels ``GLM`` with the same family and link;
- ``quantile_loss`` on a model linear in its parameters, unpenalised: scikit-learn's ``QuantileRegressor(alpha=0,
  solver="highs")`` on the design (:mod:`symopt.trust.quantile_check`);
- ``cross_entropy`` on a ``LinearModel()``: statsmodels ``MNLogit`` (class 0 the reference, as symopt), or
  with ``l2`` scikit-learn's multinomial ``LogisticRegression`` (its intercepts shifted so that class 0's is
  0: adding one number to every class changes no probability).

With bounds (:mod:`symopt.model.bounds`) the references are SciPy's bounded solvers: ``lsq_linear`` (``bvls``) for
least squares linear in the parameters, ``least_squares`` (``trf``) for other least squares, and
``minimize`` (``L-BFGS-B``) on the log loss of a ``LinearModel()`` over a data matrix.

Anything else (a custom objective, a likelihood stated as an expression, a network) has no reference here,
and :func:`reference_fit` says why.

An iterative reference (``least_squares``, ``minimize``) starts from each of the starts it is given in turn
(:func:`symopt.verify` gives symopt's own start search: the default start or ``x0``, then the draws of
``solve(..., starts=N)``; never the result it checks) until the ``judge`` finds it stopped at a stationary
point; every fit is judged, and one that did not converge says so (``converged=False``) rather than pass
for an answer.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import replace

import numpy as np
import sympy as sp

from ..closed_form.design import MatrixDesign, design_for
from ..closed_form.linear import is_matrix_least_squares
from ..model import softmax
from ..symbolic.numeric import evaluate
from . import quantile_check
from .reference_fit import ReferenceFit
from .reference_fit import missing as _missing


def reference_fit(objective, analysis, dataset, starts, bounds=None, judge=None) -> ReferenceFit:
    """The reference fit for ``objective`` on ``dataset``. ``starts``: where an iterative reference begins, in
    turn (an iterable of flat vectors, drawn as needed; a single flat vector is one start); ``bounds``: the
    flat ``(lower, upper)`` arrays of a bounded problem, or None; ``judge(x, start) -> str``: "" where ``x``
    is a stationary point, else why not (None: every fit is taken as converged)."""
    form = objective.form
    if objective.maximize:
        return ReferenceFit(None, None, "no reference library fits a maximised objective of this kind")
    fit = (_BOUNDED if bounds is not None else _TABLE).get((form.name, objective.kind))
    if fit is None:
        what = form.noun if objective.kind == "custom" else f"{form.noun} under {objective.kind} loss"
        return ReferenceFit(None, None, f"no reference library states {what}{' with bounds' if bounds else ''} "
                                        f"the same way")
    if objective.l1:
        return _l1_reference(objective, dataset, bounds)
    if objective.offset_column is not None and form.name == "wide":  # the fits below read X and y alone
        return ReferenceFit(None, None, f"the loss reads the offset {objective.offset_column!r}, which the "
                                        f"reference fits over a data matrix do not take")
    if isinstance(starts, np.ndarray):
        starts = (starts,)
    tried, found = 0, None
    for start in starts:
        start = np.asarray(start, dtype=float)
        if bounds is not None:
            start = np.clip(start, *bounds)
            found = fit(objective, analysis, dataset, start, bounds)
        else:
            found = fit(objective, analysis, dataset, start)
        tried += 1
        why = "" if found.x is None or judge is None else judge(found.x, start)
        if not why:
            return found
        if not found.iterative:
            return replace(found, converged=False, reason=f"its solution is no stationary point ({why})")
        found = replace(found, converged=False, reason=f"from {tried} start(s) of symopt's start search it stopped "
                                                       f"short of a stationary point (the last: {why})")
    return found if found is not None else ReferenceFit(None, None, "no start to begin from")


def _phi(objective, X) -> np.ndarray:
    return np.column_stack([np.ones(X.shape[0]), X]) if objective.model.intercept else X


def _alpha(objective, dataset) -> float:
    """scikit-learn's penalty weight on ``sum of losses + alpha |coef|^2`` for symopt's ``l2``."""
    return objective.l2 * (dataset.n_rows if objective.reduction == "mean" else 1)


def _row_weights(objective, dataset) -> np.ndarray | None:
    """Each row's weight in a weighted loss (``w``; ``1/s**2`` for a squared loss given ``sigma=``), or None."""
    if objective.weight_column is None:
        return None
    column = dataset[objective.weight_column]
    return column if objective.weight_kind == "weights" else 1.0 / column ** 2


#: Why a loss called squared over a data matrix that is not squared_loss's (it reads an offset, say) has no reference.
NOT_SQUARED_LOSS = ("the loss over the data matrix is not squared_loss's (y - eta)**2, weighted or not, so no "
                    "reference library states it the same way")


def _wide_squared(objective, analysis, dataset, start) -> ReferenceFit:
    if not is_matrix_least_squares(objective):
        return ReferenceFit(None, None, NOT_SQUARED_LOSS)
    X, y = dataset["X"], dataset[objective.target.name]
    w = _row_weights(objective, dataset)
    if not objective.l2:
        why = _missing("statsmodels")
        if why:
            return ReferenceFit(None, None, why)
        import statsmodels.api as sm

        if w is not None:
            return ReferenceFit("statsmodels WLS", np.asarray(sm.WLS(y, _phi(objective, X), weights=w).fit(
                method="qr").params))
        return ReferenceFit("statsmodels OLS", np.asarray(sm.OLS(y, _phi(objective, X)).fit(method="qr").params))
    why = _missing("sklearn")
    if why:
        return ReferenceFit(None, None, why)
    from sklearn.linear_model import Ridge

    fit = Ridge(alpha=_alpha(objective, dataset), fit_intercept=objective.model.intercept, solver="svd").fit(
        X, y, sample_weight=w)
    x = np.r_[fit.intercept_, fit.coef_] if objective.model.intercept else np.asarray(fit.coef_)
    return ReferenceFit("scikit-learn Ridge", x)


def _l1_reference(objective, dataset, bounds) -> ReferenceFit:
    """scikit-learn's ElasticNet (Lasso when l2 = 0) for an l1-penalised squared loss over a data matrix, its
    penalty on every coefficient alike and not on the intercept: ``alpha = l2 + l1/2``, ``l1_ratio = (l1/2) /
    alpha`` (symopt's squared loss has no 1/2); None, with the reason, for any other l1 problem."""
    form = objective.form
    plain = (form.name == "wide" and objective.kind == "squared" and objective.weight_column is None and
             objective.offset_column is None and bounds is None and not objective.l1_penalty.aimed and
             not objective.l2_penalty.aimed)
    if not plain:
        return ReferenceFit(None, None, "no reference library fits this l1-penalised objective the same way "
                                        "(scikit-learn's ElasticNet takes an unweighted squared loss over a data "
                                        "matrix with one penalty on every coefficient)")
    why = _missing("sklearn")
    if why:
        return ReferenceFit(None, None, why)
    from sklearn.linear_model import ElasticNet

    X, y = dataset["X"], dataset[objective.target.name]
    scale = 1.0 if objective.reduction == "mean" else float(dataset.n_rows)
    alpha = scale * (objective.l2 + objective.l1 / 2.0)
    fit = ElasticNet(alpha=alpha, l1_ratio=scale * objective.l1 / 2.0 / alpha, fit_intercept=objective.model.intercept,
                     tol=1e-12, max_iter=1_000_000).fit(X, y)
    x = np.r_[fit.intercept_, fit.coef_] if objective.model.intercept else np.asarray(fit.coef_)
    return ReferenceFit("scikit-learn ElasticNet", x)


def _expression_squared(objective, analysis, dataset, start) -> ReferenceFit:
    form = analysis.linear
    if form is not None and form.kind == "least_squares" and not objective.l2 and objective.kind == "squared":
        why = _missing("statsmodels")
        if why is None:
            import statsmodels.api as sm

            Phi, u, _, _ = design_for(objective, form).matrix(dataset)
            return ReferenceFit("statsmodels OLS", np.asarray(sm.OLS(u, Phi).fit(method="qr").params))
    return _least_squares(objective, dataset, start)


def _least_squares(objective, dataset, start, bounds=None) -> ReferenceFit:
    """SciPy's least_squares on the objective's residuals ``u`` (``F = c * sum u**2``: ``y - f`` with the
    weights it carries) with the exact Jacobian, and ``sqrt(n l2 / c) theta`` rows for a ridge penalty;
    ``trf`` within ``bounds``."""
    from scipy.optimize import least_squares

    params = objective.params
    u, c = objective.sum_of_squares()
    jac = [sp.diff(u, p) for p in params]
    data = {s: dataset[s.name] for s in objective.data_symbols}
    n = dataset.n_rows
    ridge = math.sqrt(_alpha(objective, dataset) / float(c)) * np.sqrt(np.array(objective.penalised, dtype=float))

    def values(theta):
        return {**data, **dict(zip(params, theta))}

    def residuals(theta):
        r = np.broadcast_to(np.asarray(evaluate(u, values(theta)), dtype=float), (n,))
        return np.r_[r, ridge * theta] if objective.l2 else r

    def jacobian(theta):
        v = values(theta)
        J = np.column_stack([np.broadcast_to(np.asarray(evaluate(g, v), dtype=float), (n,)) for g in jac])
        return np.vstack([J, np.diag(ridge)]) if objective.l2 else J

    method = "lm" if n + (len(params) if objective.l2 else 0) >= len(params) and bounds is None else "trf"
    with np.errstate(all="ignore"):
        fit = least_squares(residuals, start, jac=jacobian, method=method, xtol=1e-15, ftol=1e-15, gtol=1e-15,
                            max_nfev=2000 * (len(params) + 1),
                            **({} if bounds is None else {"bounds": bounds, "x_scale": "jac"}))
    return ReferenceFit(f"SciPy least_squares (method={method!r}, exact Jacobian{', bounds' if bounds else ''})",
                        np.asarray(fit.x), iterative=True)


def _bounded_linear(Phi, u, weight, penalised, objective, dataset, bounds) -> ReferenceFit:
    """SciPy's ``lsq_linear`` (``bvls``) on the design within ``bounds``, the ridge penalty as extra rows."""
    from scipy.optimize import lsq_linear

    if objective.l2:
        penalised = np.asarray(penalised, dtype=bool)
        ridge = math.sqrt(_alpha(objective, dataset) / float(weight))
        rows = np.diag(np.where(penalised, ridge, 0.0))[penalised]
        Phi, u = np.vstack([Phi, rows]), np.r_[u, np.zeros(rows.shape[0])]
    fit = lsq_linear(Phi, u, bounds=bounds, method="bvls", tol=1e-14)
    return ReferenceFit("SciPy lsq_linear (method='bvls')", np.asarray(fit.x))


def _wide_squared_bounded(objective, analysis, dataset, start, bounds) -> ReferenceFit:
    """``lsq_linear`` on the closed form's design ``[1, X]``, its rows scaled by ``sqrt(w)`` where weighted."""
    if not is_matrix_least_squares(objective):
        return ReferenceFit(None, None, NOT_SQUARED_LOSS)
    Phi, u, weight, penalised = MatrixDesign(objective, None).matrix(dataset)
    return _bounded_linear(Phi, u, weight, penalised, objective, dataset, bounds)


def _expression_squared_bounded(objective, analysis, dataset, start, bounds) -> ReferenceFit:
    form = analysis.linear
    if form is not None and form.kind == "least_squares" and objective.kind == "squared":
        Phi, u, weight, penalised = design_for(objective, form).matrix(dataset)
        return _bounded_linear(Phi, u, weight, penalised, objective, dataset, bounds)
    return _least_squares(objective, dataset, start, bounds)


def _wide_log_bounded(objective, analysis, dataset, start, bounds) -> ReferenceFit:
    """SciPy's L-BFGS-B on the log loss, ``softplus(eta) - y eta`` written here in NumPy, within ``bounds``."""
    from scipy.optimize import minimize
    from scipy.special import expit

    X, y = dataset["X"], dataset[objective.target.name]
    Phi = _phi(objective, X)
    scale = 1.0 / dataset.n_rows if objective.reduction == "mean" else 1.0
    pen = objective.l2 * objective.form.penalty_mask(dataset)
    w = _row_weights(objective, dataset)
    w = np.ones(dataset.n_rows) if w is None else w

    def fun(theta):
        eta = Phi @ theta
        value = scale * float(w @ (np.logaddexp(0.0, eta) - y * eta)) + float(pen @ (theta * theta))
        return value, scale * (Phi.T @ (w * (expit(eta) - y))) + 2.0 * pen * theta

    box = [(None if math.isinf(lo) else lo, None if math.isinf(hi) else hi) for lo, hi in zip(*bounds)]
    fit = minimize(fun, start, jac=True, method="L-BFGS-B", bounds=box,
                   options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 10_000})
    return ReferenceFit("SciPy minimize (method='L-BFGS-B')", np.asarray(fit.x), iterative=True)


def _statsmodels_newton(model: str, objective, X, y):
    """The parameters of statsmodels' ``Logit`` or ``MNLogit`` fitted by Newton to ``tol=1e-14``, or why not."""
    why = _missing("statsmodels")
    if why:
        return why
    import statsmodels.api as sm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = getattr(sm, model)(y, _phi(objective, X)).fit(method="newton", disp=0, maxiter=200, tol=1e-14)
    return np.asarray(fit.params)


def _statsmodels_weighted_logit(objective, X, y, w):
    """The parameters of statsmodels' binomial ``GLM`` with ``var_weights=w`` (the weighted log loss), by IRLS
    to ``tol=1e-14``, or why not."""
    why = _missing("statsmodels")
    if why:
        return why
    import statsmodels.api as sm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sm.GLM(y, _phi(objective, X), family=sm.families.Binomial(), var_weights=w).fit(tol=1e-14, maxiter=200)
    return np.asarray(fit.params)


def _wide_log(objective, analysis, dataset, start) -> ReferenceFit:
    X, y = dataset["X"], dataset[objective.target.name]
    w = _row_weights(objective, dataset)
    if not objective.l2 and w is not None:
        params = _statsmodels_weighted_logit(objective, X, y, w)
        if isinstance(params, str):
            return ReferenceFit(None, None, params)
        return ReferenceFit("statsmodels GLM (Binomial, var_weights)", params)
    if not objective.l2:
        params = _statsmodels_newton("Logit", objective, X, y)
        if isinstance(params, str):
            return ReferenceFit(None, None, params)
        return ReferenceFit("statsmodels Logit", params)
    fit = _sklearn_logistic(objective, dataset, X, y)
    if isinstance(fit, str):
        return ReferenceFit(None, None, fit)
    x = np.r_[fit.intercept_, fit.coef_.ravel()] if objective.model.intercept else fit.coef_.ravel()
    return ReferenceFit("scikit-learn LogisticRegression", x)


def _sklearn_logistic(objective, dataset, X, y):
    why = _missing("sklearn")
    if why:
        return why
    from sklearn.linear_model import LogisticRegression

    C = 1.0 / (2.0 * _alpha(objective, dataset))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return LogisticRegression(C=C, fit_intercept=objective.model.intercept, solver="newton-cholesky",
                                  tol=1e-12, max_iter=1000).fit(X, y, sample_weight=_row_weights(objective, dataset))


def _multiclass(objective, analysis, dataset, start) -> ReferenceFit:
    X, y = dataset["X"], dataset[objective.target.name]
    K, m = dataset.n_classes, X.shape[1]
    if not objective.l2:
        P = _statsmodels_newton("MNLogit", objective, X, y)  # (columns of Phi) x (K - 1): classes 1 .. K-1 vs 0
        if isinstance(P, str):
            return ReferenceFit(None, None, P)
        B = np.zeros((K, P.shape[0]))
        B[1:] = P.T
        name = "statsmodels MNLogit"
    else:
        fit = _sklearn_logistic(objective, dataset, X, y)
        if isinstance(fit, str):
            return ReferenceFit(None, None, fit)
        B = np.column_stack([fit.intercept_ - fit.intercept_[0], fit.coef_]) if objective.model.intercept \
            else np.asarray(fit.coef_)
        name = "scikit-learn LogisticRegression (multinomial)"
    given = {"intercept": B[:, 0], "coef": B[:, 1:]} if objective.model.intercept else {"coef": B}
    return ReferenceFit(name, softmax.start_from(objective, K, m, given, "the reference fit"))


def _wide_glm(objective, analysis, dataset, start) -> ReferenceFit:
    """statsmodels' GLM (IRLS to ``tol=1e-13``) with the same family and link, unpenalised and without
    offset, exposure, weights or trials (a GLM with any of them, or of a family of the user's own, has none)."""
    spec = objective.glm
    if objective.l2 or spec.columns() or not spec.family.statsmodels or not spec.link.statsmodels:
        return ReferenceFit(None, None, "statsmodels' GLM is the reference for an unpenalised GLM of a built-in "
                                        "family and link without offset, exposure, weights or trials")
    why = _missing("statsmodels")
    if why:
        return ReferenceFit(None, None, why)
    import statsmodels.api as sm

    (family, options), (link, link_options) = spec.family.statsmodels, spec.link.statsmodels
    X, y = dataset["X"], dataset[objective.target.name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its DomainWarning for the Gamma's canonical link, and the like
        chosen = getattr(sm.families, family)(getattr(sm.families.links, link)(**link_options), **options)
        fit = sm.GLM(y, _phi(objective, X), family=chosen).fit(tol=1e-13, maxiter=1000)
    return ReferenceFit(f"statsmodels GLM ({family}, {link})", np.asarray(fit.params))


#: The references by (kind of problem, loss): the verification stage's own table, which a new kind of problem
#: joins only where another library states the same estimator (until then :func:`reference_fit` says none does).
_TABLE = {("wide", "squared"): _wide_squared, ("expression", "squared"): _expression_squared,
          ("wide", "log"): _wide_log, ("multiclass", "cross_entropy"): _multiclass, ("wide", "glm"): _wide_glm,
          ("wide", "quantile"): quantile_check.reference, ("expression", "quantile"): quantile_check.reference}
#: The references for a problem with bounds.
_BOUNDED = {("wide", "squared"): _wide_squared_bounded, ("expression", "squared"): _expression_squared_bounded,
            ("wide", "log"): _wide_log_bounded}

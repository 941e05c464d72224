"""The losses symopt names: ``squared_loss``, ``log_loss`` and ``cross_entropy``, each an :class:`Objective` built
on a model's prediction (``symopt.glm`` is in :mod:`symopt.model.glm`), with the data columns they read (a target,
weights or standard deviations, an offset) checked by name."""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..errors import ModelError
from ..symbolic.functions import softplus
from ..symbolic.parse import check_name
from .kinds import ETA
from .kinds.base import prediction
from .kinds.wide import TAKEN
from .data import _as_float_array
from .held import reserved
from .layers import Network
from .layers import Z as OUTPUT
from .models import LinearModel, Model
from .objective import SCALES, Objective


def held_array(role: str, value) -> tuple[str, np.ndarray | None]:
    """``(name, array)`` for ``role=value``: a column name as it is (checked where its symbol is made) and None,
    or for the values themselves the reserved name (:mod:`symopt.model.held`) and the values as a checked 1-D
    float array (numbers, finite: checked here, where they are given, not at the solve)."""
    if isinstance(value, str):
        return value, None
    return reserved(role), _as_float_array(f"{role}=", value, 1)


def _target(model, target: str) -> sp.Symbol:
    name = check_name(target, "target name")
    taken = set()
    if isinstance(model, Model):
        taken = {s.name for s in model.expr.free_symbols}
    elif isinstance(model, LinearModel) and not model.is_wide:
        taken = {s.name for s in model.expression_model.expr.free_symbols}
    if name in taken:
        raise ModelError(
            f"the target {name!r} already appears in the model; name the target something else (target='...')")
    if (isinstance(model, Network) or (isinstance(model, LinearModel) and model.is_wide)) and name in ("X", "eta", "z"):
        what = "a Network" if isinstance(model, Network) else "a LinearModel over a data matrix"
        raise ModelError(f"the target may not be named {name!r} for {what} ('X', 'eta' and 'z' are taken); "
                         f"use target='y'")
    return sp.Symbol(name, real=True)


def squared_loss(model, target: str = "y", l2: float = 0.0, reduction: str = "mean",
                 weights: str | np.ndarray | None = None, sigma: str | np.ndarray | None = None,
                 scale: str = "residual", offset: str | np.ndarray | None = None, exposure: str | None = None,
                 l1: float = 0.0) -> Objective:
    """Squared error ``(y - f)**2`` per sample (mean squared error by default).

    ``weights="w"`` names a data column of weights, ``w = 1/sigma**2``: per sample ``w*(y - f)**2``
    (weighted least squares; a weight of 0 drops the row). ``sigma="s"`` names a column of the standard
    deviations of ``y`` instead: per sample ``((y - f)/s)**2``. ``scale`` says how the covariance of the
    estimates is scaled: ``"residual"`` (the default) by the residual variance of the weighted fit, as
    statsmodels' WLS and lmfit do, so only the weights' ratios matter; ``"absolute"`` not at all, the
    weights being the exact inverse variances (SciPy's ``curve_fit(..., absolute_sigma=True)``).

    ``weights``, ``sigma`` and ``offset`` take a column's name or the values themselves, one per row (an
    array, as statsmodels' ``offset=``): the objective keeps an array and joins it to the data at each solve
    (:mod:`symopt.model.held`), the same fit as the column.

    ``offset="o"`` names a data column added to the prediction, a known part of it with coefficient 1: per
    sample ``(y - (f + o))**2``, the fit of ``y - o`` by ``f`` (statsmodels' ``OLS(y - o, X)``, its
    ``GLM(..., offset=o)`` with the Gaussian family). ``predict`` gives ``f`` alone, as for :func:`symopt.glm`.
    ``exposure=`` is refused: an exposure enters as ``log(exposure)`` on the scale of a log link, which a
    squared loss on ``f`` does not have; use ``symopt.glm(model, "poisson", exposure=...)`` (or
    ``glm(model, "gaussian", link="log", exposure=...)``), or give the column you mean as ``offset=``.

    ``l2`` and ``l1``: ridge and lasso penalties, each a number (on every coefficient but the intercept) or a
    mapping by parameter name (or ``"coef"`` / ``"intercept"`` over a data matrix). scikit-learn's
    ``Lasso(alpha)`` is ``l1 = 2*alpha`` here (symopt's squared loss has no 1/2), ``ElasticNet(alpha,
    l1_ratio=r)`` is ``l1 = 2*alpha*r, l2 = alpha*(1 - r)``.
    """
    f = prediction(model)
    y = _target(model, target)
    if scale not in SCALES:
        raise ModelError(f"scale must be 'residual' or 'absolute', got {scale!r}")
    held = {}
    multiplier, column, kind = _weighting(model, y, weights, sigma, held)
    o = _offset_column(model, y, "squared_loss", offset, exposure, column, held)
    f = f if o is None else f + o
    if multiplier is None:
        objective = Objective._from_model((y - f) ** 2, model, y, "squared", l2, reduction, l1)
    else:
        residual = multiplier * (y - f)
        objective = Objective._from_model(residual ** 2, model, y, "squared", l2, reduction, l1)
        objective.residual_weight, objective.weight_column, objective.weight_kind = multiplier, column, kind
        objective._residual = residual
    objective.scale = scale
    objective.offset_column = None if o is None else o.name
    objective.held_columns = held
    return objective


def _offset_column(model, y, loss: str, offset, exposure, weight_column, held: dict) -> sp.Symbol | None:
    """The offset's symbol (real: an offset may be negative), checked as a weights column is; None without one.
    ``exposure=`` is refused, with the reason: ``log(exposure)`` belongs on a log link's scale (:func:`symopt.glm`).
    An array (not a name) goes into ``held`` (:mod:`symopt.model.held`)."""
    if exposure is not None:
        shown = repr(exposure) if isinstance(exposure, str) else "t"
        raise ModelError(f"{loss} takes offset= but not exposure=: an exposure t enters the linear predictor as "
                         f"log(t), which makes a rate only under a log link, and {loss}'s prediction is on "
                         f"{'the scale of y (identity link)' if loss == 'squared_loss' else 'the logit scale'}; "
                         f"for a rate use symopt.glm(model, 'poisson', exposure={shown}) (glm takes both), "
                         f"or, if you mean log(t) added here, give a column holding it as offset=")
    if offset is None:
        return None
    symbol = _weight_column(model, y, "offset", offset, held)
    if symbol.name == weight_column:
        raise ModelError(f"the offset column {symbol.name!r} is also the weights (or sigma) column; give two "
                         f"different columns")
    return sp.Symbol(symbol.name, real=True)


def _weighting(model, y, weights, sigma, held: dict) -> tuple:
    """``(multiplier of the residual, column name, "weights" | "sigma")``, or ``(None, None, None)``; an array
    given goes into ``held``."""
    if weights is None and sigma is None:
        return None, None, None
    if weights is not None and sigma is not None:
        raise ModelError("give weights= (w = 1/sigma**2) or sigma= (standard deviations of y), not both")
    kind, given = ("weights", weights) if weights is not None else ("sigma", sigma)
    column = _weight_column(model, y, kind, given, held)
    return (sp.sqrt(column) if kind == "weights" else 1 / column), column.name, kind


def _weight_column(model, y, kind: str, given, held: dict) -> sp.Symbol:
    """The symbol of the data column ``given`` names (weights or standard deviations), checked: a valid name,
    not a name in the model or the target (nor ``X``, ``eta`` or ``z`` over a data matrix), not on a Network.
    ``given`` may be the values themselves (one per row): kept in ``held`` under a reserved name."""
    if isinstance(model, Network):
        raise ModelError(f"{kind}= is not supported for a Network yet; fit a LinearModel() over the data matrix, "
                         f"or state the model by name (symopt.Model('a + b*x', ...)), to fit it weighted")
    name, array = held_array(kind, given)
    if array is not None:
        held[name] = array
        return sp.Symbol(name, positive=True)
    name = check_name(given, f"the {kind} column name")
    if isinstance(model, LinearModel) and model.is_wide and name in TAKEN:
        raise ModelError(f"the {kind} column may not be named {name!r} over a data matrix ('X' is the data matrix, "
                         f"'eta' the linear predictor); name it something else")
    taken = {s.name for s in prediction(model).free_symbols} | {y.name}
    if name in taken:
        raise ModelError(f"the {kind} column {name!r} is already a name in the model or the target; "
                         f"name it something else")
    return sp.Symbol(name, positive=True)


def log_loss(model, target: str = "y", l2: float = 0.0, reduction: str = "mean",
             weights: str | np.ndarray | None = None, offset: str | np.ndarray | None = None,
             exposure: str | None = None, l1: float = 0.0) -> Objective:
    """Binary log loss on the logit ``f``, labels 0/1: ``softplus(f) - y*f``.

    Equal to ``-(y*log(sigmoid(f)) + (1-y)*log(1-sigmoid(f)))`` but stable for
    any ``f``: softplus is evaluated as ``max(f,0) + log1p(exp(-|f|))``.

    ``weights="w"`` names a data column of weights ``w >= 0``: per sample ``w*(softplus(f) - y*f)``, the
    negative log-likelihood of a binomial GLM with ``var_weights=w`` (statsmodels) or logistic regression with
    ``sample_weight=w`` (scikit-learn); an integer weight counts its row that many times, a weight of 0 drops
    it. On a model by name and on a ``LinearModel()`` over a data matrix; not on a ``Network``.

    ``weights`` and ``offset`` take a column's name or the values themselves, one per row (an array,
    :mod:`symopt.model.held`).

    ``offset="o"`` names a data column added to the logit: per sample the loss at ``f + o`` (statsmodels'
    ``Logit(y, X, offset=o)``, ``GLM(y, X, family=Binomial(), offset=o)``); ``predict`` gives the classes of
    ``f`` alone. ``exposure=`` is refused (an exposure belongs on a log link's scale: :func:`symopt.glm`).

    ``l2`` and ``l1``: ridge and lasso penalties (a number, or a mapping by name or block); scikit-learn's
    ``LogisticRegression(C=C, l1_ratio=1)`` is ``l1 = 1/(n*C)`` with the mean reduction.
    """
    f = prediction(model)
    y = _target(model, target)
    if isinstance(model, Network) and model.n_outputs != 1:
        raise ModelError(f"log_loss needs a network with 1 output (the logit); this one has {model.n_outputs}: "
                         "use cross_entropy for several classes")
    held = {}
    w = None if weights is None else _weight_column(model, y, "weights", weights, held)
    o = _offset_column(model, y, "log_loss", offset, exposure, None if w is None else w.name, held)
    f = f if o is None else f + o
    objective = Objective._from_model((1 if w is None else w) * (softplus(f) - y * f), model, y, "log", l2,
                                      reduction, l1)
    if w is not None:
        objective.weight_column, objective.weight_kind = w.name, "weights"
    objective.offset_column = None if o is None else o.name
    objective.held_columns = held
    return objective


def cross_entropy(network, target: str = "y", l2: float = 0.0, reduction: str = "mean", l1: float = 0.0) -> Objective:
    """Softmax cross-entropy, integer class labels ``0 .. K-1``: on a network's outputs, or over a
    ``LinearModel()`` on a data matrix (multinomial logistic regression, ``K`` from the labels).

    Per sample ``logsumexp(z) - z[y]``, evaluated with the maximum subtracted
    (stable for any logits); its gradient is ``softmax(z) - onehot(y)``. For a ``LinearModel()`` the
    scores are ``eta_k = intercept[k] + coef[k] @ x``; ``Result.params`` holds ``intercept`` (K,) and
    ``coef`` (K, m). Class 0 is the reference: unpenalised, its intercept and coefficients are fixed
    at 0 (as statsmodels' MNLogit); with ``l2``, every row of ``coef`` is free (as scikit-learn's
    ``LogisticRegression``) and only ``intercept[0]`` is fixed at 0 (adding one number to every
    intercept changes no probability; subtract the mean to compare with scikit-learn's).
    """
    if isinstance(network, LinearModel):
        if not network.is_wide:
            raise ModelError("cross_entropy over a LinearModel needs the data-matrix form LinearModel() (one "
                             "row of coefficients per class); a LinearModel(basis=...) has one output: use "
                             "log_loss for two classes")
        y = _target(network, target)
        per_sample = sp.Function("logsumexp")(ETA) - sp.Symbol(f"eta[{target}]", real=True)
        return Objective._from_model(per_sample, network, y, "cross_entropy", l2, reduction, l1)
    if not isinstance(network, Network):
        raise ModelError(f"cross_entropy takes a symopt.Network or a symopt.LinearModel(), got "
                         f"{type(network).__name__}")
    if network.n_outputs < 2:
        raise ModelError("cross_entropy needs a network with at least 2 outputs (one per class); "
                         "for two classes with one output use log_loss")
    y = _target(network, target)
    per_sample = sp.Function("logsumexp")(OUTPUT) - sp.Symbol(f"z[{target}]", real=True)
    return Objective._from_model(per_sample, network, y, "cross_entropy", l2, reduction, l1)

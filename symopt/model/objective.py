"""Objectives: what is judged. A per-sample expression in data and
parameters, a reduction over rows (mean or sum), optional ridge and lasso
penalties and a sense (minimise or maximise).

The total objective is::

    F(theta) = reduce_i l(theta; x_i, y_i) + l2 * sum_j w2_j theta_j**2 + l1 * sum_j w1_j |theta_j|  (minimise)
    F(theta) = reduce_i l(theta; x_i, y_i) - l2 * sum_j w2_j theta_j**2 - l1 * sum_j w1_j |theta_j|  (maximise)

The penalties are on the parameters, not per sample. Given as numbers, every
parameter is penalised with weight 1 (those ``penalize=`` names, for an
``Objective``), except the intercept of a :class:`LinearModel` (as in
scikit-learn); a mapping by name (or block, over a data matrix) aims them
(:mod:`symopt.model.penalties`). The ``l1`` term has a kink at 0: symopt
solves it with :class:`symopt.ProximalGradient` and checks the subgradient
optimality condition at the end.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..errors import ModelError
from ..symbolic.functions import softplus
from ..symbolic.parse import check_name, show
from .models import SHOWN, LinearModel, Model, _as_param_symbols, as_expression, sorted_symbols
from .kinds import ETA, MulticlassForm, NetworkForm, WideForm, form_of
from .kinds.base import prediction
from .kinds.wide import TAKEN
from . import penalties
from .layers import Network
from .layers import Z as OUTPUT

REDUCTIONS = ("mean", "sum")
#: How a weighted least-squares covariance is scaled: by the residual variance (statsmodels' WLS, lmfit), or
#: not at all, the weights being exact (SciPy's ``curve_fit(absolute_sigma=True)``).
SCALES = ("residual", "absolute")


class Objective:
    """A per-sample objective: ``Objective("log(lam) - lam*x", "lam", maximize=True)``.

    ``expr`` is any per-sample expression in data and parameters (SymPy or
    safe text), for example a log-likelihood to maximise.

    ``l2`` and ``l1``: a ridge penalty ``l2 * sum theta_j**2`` and a lasso penalty ``l1 * sum |theta_j|``
    (subtracted when maximising), each a number or a mapping from parameter names to strengths (aimed);
    ``penalize=["b", "c"]`` names the parameters a number applies to (every parameter by default).

    ``likelihood=True`` declares it a likelihood: a negative log-likelihood per sample (minimised) or a
    log-likelihood per sample (``maximize=True``). Then ``Result.cov`` and ``Result.stderr`` come from the
    observed information (the Hessian of the summed negative log-likelihood) and ``Result.loglik``, ``aic``
    and ``bic`` from its value as written (constants it leaves out are left out of them too).
    """

    def __init__(self, expr, params, maximize: bool = False, l2: float = 0.0, reduction: str = "mean",
                 likelihood: bool = False, l1: float = 0.0, penalize=None):
        param_symbols = _as_param_symbols(params)
        symbols = {p.name: p for p in param_symbols}
        per_sample = as_expression(expr, symbols, "objective")
        free = per_sample.free_symbols  # once, not once per parameter: it walks the whole tree
        missing = [p.name for p in param_symbols if p not in free]
        if missing:
            raise ModelError(f"parameter(s) {', '.join(missing)} do not appear in the objective "
                             f"{show(per_sample, SHOWN)}")
        if not isinstance(likelihood, (bool, np.bool_)):
            raise ModelError(f"likelihood must be True or False, got {likelihood!r}")
        self._setup(per_sample, param_symbols, maximize, l2, reduction, kind="custom", model=None, target=None,
                    l1=l1, penalize=penalize)
        #: Whether the per-sample objective is a (negative, when minimised) log-likelihood.
        self.likelihood = bool(likelihood)

    #: A squared loss's weighting: the residual's multiplier (``sqrt(w)`` or ``1/s``), None when unweighted.
    residual_weight = None
    #: The name of the weights (or standard deviations) column of a weighted squared or log loss, and which
    #: ("weights" or "sigma"; a log loss takes weights only).
    weight_column = None
    weight_kind = None
    #: How the least-squares covariance is scaled (:data:`SCALES`).
    scale = "residual"
    #: The residual ``u`` of a (weighted) squared loss, per sample ``u**2`` (None otherwise).
    _residual = None
    #: The name of the offset column of a squared or log loss (added to the prediction), None without one.
    offset_column = None

    @classmethod
    def _from_model(cls, per_sample, model, target, kind, l2, reduction, l1=0.0):
        self = cls.__new__(cls)
        if isinstance(model, Network) or (isinstance(model, LinearModel) and model.is_wide):
            self._setup(per_sample, (), False, l2, reduction, kind=kind, model=model, target=target, l1=l1)
        else:
            expr_model = model.expression_model if isinstance(model, LinearModel) else model
            self._setup(per_sample, expr_model.params, False, l2, reduction, kind=kind, model=model, target=target,
                        l1=l1)
        self.likelihood = kind in ("log", "cross_entropy")  # per sample, a negative log-likelihood
        return self

    def _setup(self, per_sample, params, maximize, l2, reduction, *, kind, model, target, l1=0.0, penalize=None):
        if not isinstance(maximize, (bool, np.bool_)):
            raise ModelError(f"maximize must be True or False, got {maximize!r}")
        maximize = bool(maximize)
        if not isinstance(reduction, str) or reduction not in REDUCTIONS:
            raise ModelError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
        reduction = str(reduction)
        self.per_sample: sp.Expr = per_sample
        self.params: tuple[sp.Symbol, ...] = tuple(params)
        self.maximize = maximize
        self.reduction = reduction
        self.kind = kind
        self.model = model
        self.target = target
        #: The problem's form (symopt.model.kinds): its parameter layout, the data it reads, its NumPy evaluation.
        self.form = form_of(model, kind)(self)
        if self.form.matrix_data:  # the target, then the per-row columns the loss reads (a weight, an offset)
            self.data_symbols = (target, *self.form.row_columns())
        else:
            self.data_symbols = sorted_symbols(per_sample.free_symbols - set(self.params))
        self._read_penalties(l2, l1, penalize)

    def _read_penalties(self, l2, l1, penalize) -> None:
        """``l2`` and ``l1`` (numbers or mappings, :mod:`symopt.model.penalties`) as :class:`Penalty` records;
        ``penalised``: the ``l2`` weight of each parameter (of an expression form)."""
        model = self.model
        if self.form.per_parameter:
            unpenalised = set()
            if isinstance(model, LinearModel) and not model.is_wide and model.intercept:
                unpenalised.add(model.intercept_name)  # an intercept is not penalised (as in scikit-learn)
            units = self.param_names
            default = penalties.penalize_defaults(units, penalize, unpenalised)
            what = "parameter"
        else:
            if penalize is not None:
                raise ModelError("penalize= names the parameters of an Objective; over a data matrix aim the penalty "
                                 "by block instead, such as l2={'coef': 0.1} or l1={'intercept': 0.0, 'coef': 0.1}")
            units = self.form.block_names()
            network = isinstance(model, Network)  # a network's biases are free, a matrix model's intercept too
            default = tuple(0.0 if u == "intercept" or (network and u.startswith("b")) else 1.0 for u in units)
            what = "block"
        self.l2_penalty = penalties.read("l2", l2, units, default, what)
        self.l1_penalty = penalties.read("l1", l1, units, default, what)
        if self.kind == "cross_entropy" and isinstance(model, LinearModel) and self.l1_penalty:
            raise ModelError("l1= on multinomial logistic regression is not supported yet; use l2=, or fit one "
                             "log_loss per class")
        if isinstance(model, Network) and (self.l2_penalty.aimed or self.l1_penalty):
            raise ModelError("a Network takes l2= as one number (on its weights, not its biases); l1= and aimed "
                             "penalties are for models by name and LinearModel(), not networks yet")
        self.l2 = self.l2_penalty.strength if self.l2_penalty else 0.0
        self.l1 = self.l1_penalty.strength if self.l1_penalty else 0.0

    @property
    def penalised(self) -> tuple:
        """The ``l2`` weight of each parameter of an expression form (0: unpenalised); empty over a data matrix."""
        return tuple(self.l2_penalty.weight(p.name) for p in self.params) if self.form.per_parameter else ()

    @property
    def l1_weights(self) -> tuple:
        """The ``l1`` weight of each parameter of an expression form; empty over a data matrix."""
        return tuple(self.l1_penalty.weight(p.name) for p in self.params) if self.form.per_parameter else ()

    #: Parameters held at values given at run time (:meth:`fixing`): read as data, not fitted.
    fixed_params: tuple = ()

    def fixing(self, names) -> "Objective":
        """This objective with the parameters ``names`` held fixed: they leave :attr:`params` and are read as
        data (one column of their value, given at run time), so one problem serves every value. For
        :func:`symopt.solve`'s ``fixed=`` (:mod:`symopt.model.fixing`)."""
        import copy

        names = set(names)
        new = copy.copy(self)
        new.params = tuple(p for p in self.params if p.name not in names)
        new.fixed_params = self.fixed_params + tuple(p for p in self.params if p.name in names)
        new.form = type(self.form)(new)
        new.data_symbols = sorted_symbols(self.per_sample.free_symbols - set(new.params))
        return new

    def with_strength(self, l1: float | None = None, l2: float | None = None) -> "Objective":
        """This objective with its ``l1`` (or ``l2``) penalty at another strength, the weights kept: the same
        problem to symopt (one compiled module), another point of a regularisation path (:func:`symopt.path`)."""
        import copy

        new = copy.copy(self)
        if l1 is not None:
            new.l1_penalty = self.l1_penalty.with_strength(l1)
            new.l1 = new.l1_penalty.strength if new.l1_penalty else 0.0
        if l2 is not None:
            new.l2_penalty = self.l2_penalty.with_strength(l2)
            new.l2 = new.l2_penalty.strength if new.l2_penalty else 0.0
        new.form = type(self.form)(new)
        return new

    @property
    def wide(self) -> bool:
        """A ``LinearModel()`` over a data matrix (``coef`` an array), multinomial or not."""
        return isinstance(self.form, WideForm)

    @property
    def network(self) -> bool:
        """A layered network (trained by generated backpropagation)."""
        return isinstance(self.form, NetworkForm)

    @property
    def multiclass(self) -> bool:
        """Multinomial logistic regression: ``cross_entropy`` over a ``LinearModel()`` (symopt.model.softmax)."""
        return isinstance(self.form, MulticlassForm)

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    @property
    def data_names(self) -> tuple[str, ...]:
        """Names of the data arrays ``solve`` needs (``X`` and the target for a wide model)."""
        return self.form.data_names()

    @property
    def sense(self) -> str:
        return "maximise" if self.maximize else "minimise"

    def penalty(self) -> sp.Expr:
        """The ridge term as SymPy (``0`` without ``l2``); for wide models in ``coef``. (The ``l1`` term is not
        differentiable at 0: it is never part of a derivation, and the solvers for it handle it apart.)"""
        if self.l2 == 0:
            return sp.Integer(0)
        l2 = sp.Float(self.l2, 17) if self.l2 != int(self.l2) else sp.Integer(int(self.l2))
        return l2 * self.form.penalised_squares()

    def sum_of_squares(self):
        """``(u, c)`` when every per-sample term is ``c * u**2`` (c a positive number), else ``None``.

        A squared loss is ``(y - f)**2``; a custom objective qualifies when it is
        written as a positive multiple of a square. Such objectives can be fitted
        by Levenberg-Marquardt on the residuals ``u`` with their Jacobian.
        """
        if not self.form.per_parameter or self.maximize:
            return None
        if self._residual is not None:
            return self._residual, sp.Integer(1)
        coeff, rest = self.per_sample.as_coeff_Mul()
        if rest.is_Pow and rest.exp == 2 and coeff.is_number and coeff > 0:
            return rest.base, coeff
        return None

    def structure(self) -> tuple:
        """What generated code and the closed-form analysis depend on, as a hashable tuple: everything but the
        numbers given at run time (``l2``, a network's ``init`` and ``seed``). Equal tuples mean one problem."""
        shape = self.form.structure()
        return (self.kind, self.per_sample, self.params, self.maximize, self.reduction, self.target,
                self.penalised, shape, self._residual, self.l2_penalty.weights, self.l1_penalty.weights, self.l1 > 0)

    def describe(self, l2: str | None = None) -> str:
        """One line: sense, reduction, per-sample expression, penalty (and eta for a wide model).

        ``l2="l2"`` writes the penalty with that name in place of its value, whatever the value (the
        generated code takes ``l2`` as an argument, so one module serves every value)."""
        text = f"{self.sense} {self.reduction} over rows of [{self.per_sample}]"
        if self.weight_column is not None:
            text += f" ({'weights' if self.weight_kind == 'weights' else 'standard deviations'} {self.weight_column})"
        glm = getattr(self, "glm", None)
        if glm is not None:
            text += f" ({glm.family.name} family, {glm.link.name} link: half the unit deviance, less terms free of mu)"
        if self.fixed_params:
            text += f" ({', '.join(p.name for p in self.fixed_params)} fixed)"
        if self.l2 or l2 is not None:
            squares = self.form.penalty_words()
            weight = repr(self.l2) if l2 is None else l2
            text += f" {'-' if self.maximize else '+'} {weight} * {squares}"
        if self.l1:
            text += f" {'-' if self.maximize else '+'} {self.l1!r} * {self.form.penalty_words(self.l1_penalty)}"
        return self.form.describe(text)

    def __repr__(self) -> str:
        return f"Objective({self.describe()})"


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


def squared_loss(model, target: str = "y", l2: float = 0.0, reduction: str = "mean", weights: str | None = None,
                 sigma: str | None = None, scale: str = "residual", offset: str | None = None,
                 exposure: str | None = None, l1: float = 0.0) -> Objective:
    """Squared error ``(y - f)**2`` per sample (mean squared error by default).

    ``weights="w"`` names a data column of weights, ``w = 1/sigma**2``: per sample ``w*(y - f)**2``
    (weighted least squares; a weight of 0 drops the row). ``sigma="s"`` names a column of the standard
    deviations of ``y`` instead: per sample ``((y - f)/s)**2``. ``scale`` says how the covariance of the
    estimates is scaled: ``"residual"`` (the default) by the residual variance of the weighted fit, as
    statsmodels' WLS and lmfit do, so only the weights' ratios matter; ``"absolute"`` not at all, the
    weights being the exact inverse variances (SciPy's ``curve_fit(..., absolute_sigma=True)``).

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
    multiplier, column, kind = _weighting(model, y, weights, sigma)
    o = _offset_column(model, y, "squared_loss", offset, exposure, column)
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
    return objective


def _offset_column(model, y, loss: str, offset, exposure, weight_column) -> sp.Symbol | None:
    """The offset's symbol (real: an offset may be negative), checked as a weights column is; None without one.
    ``exposure=`` is refused, with the reason: ``log(exposure)`` belongs on a log link's scale (:func:`symopt.glm`)."""
    if exposure is not None:
        raise ModelError(f"{loss} takes offset= but not exposure=: an exposure t enters the linear predictor as "
                         f"log(t), which makes a rate only under a log link, and {loss}'s prediction is on "
                         f"{'the scale of y (identity link)' if loss == 'squared_loss' else 'the logit scale'}; "
                         f"for a rate use symopt.glm(model, 'poisson', exposure={exposure!r}) (glm takes both), "
                         f"or, if you mean log(t) added here, give a column holding it as offset=")
    if offset is None:
        return None
    symbol = _weight_column(model, y, "offset", offset)
    if symbol.name == weight_column:
        raise ModelError(f"the offset column {symbol.name!r} is also the weights (or sigma) column; give two "
                         f"different columns")
    return sp.Symbol(symbol.name, real=True)


def _weighting(model, y, weights, sigma) -> tuple:
    """``(multiplier of the residual, column name, "weights" | "sigma")``, or ``(None, None, None)``."""
    if weights is None and sigma is None:
        return None, None, None
    if weights is not None and sigma is not None:
        raise ModelError("give weights= (w = 1/sigma**2) or sigma= (standard deviations of y), not both")
    kind, given = ("weights", weights) if weights is not None else ("sigma", sigma)
    column = _weight_column(model, y, kind, given)
    return (sp.sqrt(column) if kind == "weights" else 1 / column), column.name, kind


def _weight_column(model, y, kind: str, given) -> sp.Symbol:
    """The symbol of the data column ``given`` names (weights or standard deviations), checked: a valid name,
    not a name in the model or the target (nor ``X``, ``eta`` or ``z`` over a data matrix), not on a Network."""
    if isinstance(model, Network):
        raise ModelError(f"{kind}= is not supported for a Network yet; fit a LinearModel() over the data matrix, "
                         f"or state the model by name (symopt.Model('a + b*x', ...)), to fit it weighted")
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
             weights: str | None = None, offset: str | None = None, exposure: str | None = None,
             l1: float = 0.0) -> Objective:
    """Binary log loss on the logit ``f``, labels 0/1: ``softplus(f) - y*f``.

    Equal to ``-(y*log(sigmoid(f)) + (1-y)*log(1-sigmoid(f)))`` but stable for
    any ``f``: softplus is evaluated as ``max(f,0) + log1p(exp(-|f|))``.

    ``weights="w"`` names a data column of weights ``w >= 0``: per sample ``w*(softplus(f) - y*f)``, the
    negative log-likelihood of a binomial GLM with ``var_weights=w`` (statsmodels) or logistic regression with
    ``sample_weight=w`` (scikit-learn); an integer weight counts its row that many times, a weight of 0 drops
    it. On a model by name and on a ``LinearModel()`` over a data matrix; not on a ``Network``.

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
    w = None if weights is None else _weight_column(model, y, "weights", weights)
    o = _offset_column(model, y, "log_loss", offset, exposure, None if w is None else w.name)
    f = f if o is None else f + o
    objective = Objective._from_model((1 if w is None else w) * (softplus(f) - y * f), model, y, "log", l2,
                                      reduction, l1)
    if w is not None:
        objective.weight_column, objective.weight_kind = w.name, "weights"
    objective.offset_column = None if o is None else o.name
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

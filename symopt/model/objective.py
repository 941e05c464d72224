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
from ..symbolic.parse import show
from .models import SHOWN, LinearModel, _as_param_symbols, as_expression, sorted_symbols
from .kinds import MulticlassForm, NetworkForm, WideForm, form_of
from . import penalties
from .held import role_of
from .layers import Network

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
        held = getattr(self, "held_columns", None) or {}
        if self.weight_column is not None and self.weight_column not in held:
            text += f" ({'weights' if self.weight_kind == 'weights' else 'standard deviations'} {self.weight_column})"
        if held:  # arrays given to the objective, named in the expression by their reserved names
            text += f" ({', '.join(f'{name}: the {role_of(name)}= array' for name in held)})"
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

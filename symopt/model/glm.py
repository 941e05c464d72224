"""Generalized linear models as objectives: ``glm(model, family, link)`` is an :class:`~.objective.Objective`
like ``squared_loss`` and ``log_loss``, so the model, the objective and the optimizer stay three things and
everything that takes an objective (``solve``, ``Problem``, ``derive``, ``verify``, the command line) takes a
GLM. Why an objective and not a model class of its own: a family is a statement about the response given the
mean, which is what an objective judges; the model (any symopt model: an expression, a ``LinearModel`` over
named columns or over a matrix) only gives the linear predictor.

Per row the objective is ``w * d(y, mu) / 2`` with ``mu = g^-1(eta + offset + log(exposure))`` (the terms of
the unit deviance free of ``mu`` left out: they change no estimate), averaged over rows: scikit-learn's and
glum's convention, so ``PoissonRegressor(alpha)`` is ``glm(..., "poisson", l2=alpha/2)``. Its statistics
(deviance, Pearson chi2, scale, null deviance, log-likelihood, standard errors scaled by the dispersion) are
statsmodels' GLM's: :mod:`symopt.stats.glm`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import sympy as sp
from sympy.codegen.cfunctions import expm1

from ..errors import DataError, ModelError
from ..symbolic.functions import log_ndtr, ndtr, softplus
from ..symbolic.parse import check_name
from .families import ETA, MU, Y, Family, Link, as_family, as_link
from .kinds.base import prediction
from .layers import Network
from .models import LinearModel, Model
from .losses import _target, held_array
from .objective import Objective


@dataclass(frozen=True)
class GLMSpec:
    """What a GLM objective adds to its per-row loss: the family and link, the linear predictor ``eta`` as the
    model gives it, the mean ``mu`` as an expression (of ``eta``'s symbols and the offset columns), and the
    names of the columns it reads besides the model's (None where not given)."""

    family: Family
    link: Link
    eta: sp.Expr
    mean: sp.Expr
    offset: str | None = None
    exposure: str | None = None
    weights: str | None = None
    trials: str | None = None

    def start(self, objective, dataset, start: np.ndarray) -> np.ndarray:
        """``start`` with the model's intercept (where it has one) at ``g(mean response) - mean offset``, so the
        first mean is the data's, inside every link's domain (all zeros would be ``eta = 0``: no mean at all for
        the inverse links)."""
        model = objective.model
        if not isinstance(model, LinearModel) or not model.intercept:
            return start
        at = 0 if model.is_wide else [p.name for p in objective.params].index(model.intercept_name) \
            if model.intercept_name in objective.param_names else None
        if at is None:
            return start
        y = np.asarray(dataset[objective.target.name], dtype=float)
        weights = np.ones_like(y) if self.weights is None else dataset[self.weights]
        if self.trials:
            y, weights = y / dataset[self.trials], weights * dataset[self.trials]
        mean = float(np.sum(weights * y) / np.sum(weights))
        mean = min(max(mean, 1e-3), 1 - 1e-3) if self.family.trials else max(mean, 1e-3 * max(abs(mean), 1.0))
        shift = 0.0
        if self.offset:
            shift += float(np.mean(dataset[self.offset]))
        if self.exposure:
            shift += float(np.mean(np.log(dataset[self.exposure])))
        value = float(self.link.link.subs(MU, mean)) - shift
        if math.isfinite(value):
            start = start.copy()
            start[at] = value
        return start

    def check(self, objective, arrays: dict) -> None:
        """Refuse data the family cannot have produced (a negative count, a proportion above 1, a Gamma response
        of 0), trials below 1 or below the successes, negative weights, and exposures not above 0."""
        y = arrays[objective.target.name]
        where = f" (data {objective.target.name!r})"
        if self.trials:
            trials = arrays[self.trials]
            bad = (trials <= 0) | (y < 0) | (y > trials)
            if np.any(bad):
                row = int(np.argmax(bad))
                raise DataError(f"a binomial with trials={self.trials!r} needs 0 <= {objective.target.name} <= "
                                f"{self.trials} and {self.trials} > 0 in every row; row {row} has "
                                f"{objective.target.name} = {float(y[row])!r}, {self.trials} = {float(trials[row])!r}")
        else:
            why = self.family.valid(y)
            if why:
                raise DataError(why + where)
        for role, name in (("weights", self.weights), ("exposure", self.exposure)):
            if name is None:
                continue
            bad = arrays[name] < 0 if role == "weights" else arrays[name] <= 0
            if np.any(bad):
                row = int(np.argmax(bad))
                need = ">= 0" if role == "weights" else "> 0 (its log is added to eta)"
                raise DataError(f"the {role} column {name!r} must be {need}; row {row} has "
                                f"{float(arrays[name][row])!r}")

    def columns(self) -> dict:
        """``{role: column name}`` for the columns given."""
        return {role: name for role, name in (("offset", self.offset), ("exposure", self.exposure),
                                                ("weights", self.weights), ("trials", self.trials)) if name}


def glm(model, family="gaussian", link=None, target: str = "y", offset: str | np.ndarray | None = None,
        exposure: str | np.ndarray | None = None, weights: str | np.ndarray | None = None,
        trials: str | np.ndarray | None = None, l2: float = 0.0, reduction: str = "mean", l1: float = 0.0,
        **family_options) -> Objective:
    """A generalized linear model's objective: the mean unit deviance / 2 of ``family`` with mean
    ``mu = g^-1(eta)``, ``eta`` the model's prediction (plus ``offset``, plus ``log(exposure)``).

    ``family``: ``"gaussian"``, ``"binomial"``, ``"poisson"``, ``"gamma"``, ``"inverse_gaussian"``,
    ``"negative_binomial"`` (``alpha=`` fixed, 1 by default), ``"tweedie"`` (``power=``, 1.5 by default), or a
    :class:`symopt.Family`. ``link``: the family's default when None (its canonical link; log for the negative
    binomial and Tweedie, as statsmodels), else ``"identity"``, ``"log"``, ``"logit"``, ``"inverse"``,
    ``"inverse_squared"``, ``"sqrt"`` or ``("power", p)``.

    ``offset``, ``exposure``, ``weights`` and ``trials`` name data columns: an offset added to ``eta``, an
    exposure whose log is (``eta + log(exposure)``: a rate model), weights multiplying each row's deviance
    (statsmodels' ``var_weights``), and for a binomial the number of trials per row, the target then being
    the number of successes (statsmodels' two-column ``(successes, failures)`` response). Each takes a
    column's name or the values themselves, one per row (an array, as statsmodels' ``GLM(..., offset=o,
    exposure=t)``): the objective keeps an array and joins it to the data at each solve
    (:mod:`symopt.model.held`).

    ``l2`` and ``l1``: ridge and lasso penalties on the coefficients (not the intercept), a number or a mapping
    by name or block (:mod:`symopt.model.penalties`); scikit-learn's ``PoissonRegressor(alpha)`` is
    ``l2 = alpha/2``, glum's ``alpha, l1_ratio=r`` is ``l1 = alpha*r``, ``l2 = alpha*(1 - r)/2``.

    >>> import symopt
    >>> objective = symopt.glm(symopt.LinearModel(), "poisson")  # log link: per row exp(eta) - y*eta
    """
    fam = as_family(family, **family_options)
    lk = as_link(fam.link if link is None else link)
    if isinstance(model, Network):
        raise ModelError("glm takes a symopt.Model or a symopt.LinearModel (the linear predictor); a Network's "
                         "output is not one: use squared_loss, log_loss or cross_entropy for networks")
    if not isinstance(model, (Model, LinearModel)):
        raise ModelError(f"glm takes a symopt.Model or a symopt.LinearModel, got {type(model).__name__}")
    y = _target(model, target)
    eta = prediction(model)
    columns, held = {}, {}
    taken = {s.name for s in eta.free_symbols} | {y.name}
    for role, name in (("offset", offset), ("exposure", exposure), ("weights", weights), ("trials", trials)):
        if name is None:
            continue
        name, array = held_array(role, name)
        if array is not None:
            held[name] = array
        else:
            name = check_name(name, f"the {role} column name")
        if name in taken:
            raise ModelError(f"the {role} column {name!r} is already a name in the model, the target or another "
                             f"column; name it something else")
        taken.add(name)
        columns[role] = sp.Symbol(name, positive=role != "offset", real=True)
    if "trials" in columns and not fam.trials:
        raise ModelError(f"trials= is for the binomial family (the number of trials per row); the {fam.name} "
                         "family has none")
    full = eta + columns.get("offset", 0) + (sp.log(columns["exposure"]) if "exposure" in columns else 0)
    mean = lk.inverse.subs(ETA, full)
    per_sample = _loss(fam, lk, full, y, columns.get("trials"))
    if "weights" in columns:
        per_sample = columns["weights"] * per_sample
    objective = Objective._from_model(per_sample, model, y, "glm", l2, reduction, l1)
    objective.likelihood = True
    objective.glm = GLMSpec(fam, lk, eta, mean, **{role: s.name for role, s in columns.items()})
    objective.held_columns = held
    return objective


def _stable_logs(expr: sp.Expr) -> sp.Expr:
    """``log(c + exp(u))`` (``c > 0`` a number) as ``log(c) + softplus(u - log(c))``, which does not overflow for
    large ``u`` (the negative binomial with the log link has ``log(1/alpha + exp(eta))``), and ``log(1 - exp(u))``
    as ``log(-expm1(u))`` (the complementary log-log link's ``log(mu)``, which loses every digit as mu -> 0), and
    ``log(ndtr(u))``, ``log(1 - ndtr(u))`` as ``log_ndtr(u)``, ``log_ndtr(-u)`` (the probit link's)."""

    def stable(arg):
        c, rest = arg.as_coeff_Add()
        if c.is_number and c > 0 and isinstance(rest, sp.exp):
            return sp.log(c) + softplus(rest.args[0] - sp.log(c))
        if c == 1 and isinstance(-rest, sp.exp):  # log(1 - exp(u)): log(-expm1(u)), accurate for u near 0
            return sp.log(-expm1((-rest).args[0]))
        if isinstance(arg, ndtr):  # the probit link's log(mu) and log(1 - mu): log_ndtr, finite in both tails
            return log_ndtr(arg.args[0])
        if c == 1 and isinstance(-rest, ndtr):
            return log_ndtr(-(-rest).args[0])
        return sp.log(arg)

    return expr.replace(lambda e: isinstance(e, sp.log), lambda e: stable(e.args[0]))


def _loss(family: Family, link: Link, eta: sp.Expr, y: sp.Symbol, trials: sp.Symbol | None) -> sp.Expr:
    """The per-row loss in ``eta``: the family's ``loss`` at ``mu = g^-1(eta)``, in stable forms where the pair
    has one (binomial with the logit link: ``softplus(eta) - y eta``), with ``log(exp(eta))`` and the like
    collapsed. With ``trials`` the response ``y`` counts successes: ``n * loss(y / n)``."""
    response = y if trials is None else y / trials
    if family.trials and link.name == "logit":
        loss = softplus(eta) - response * eta
    else:
        loss = family.loss().subs(MU, link.inverse.subs(ETA, eta))
        loss = _stable_logs(sp.powdenest(sp.expand_log(loss, force=True), force=True)).subs(Y, response)
    return sp.expand(trials * loss) if trials is not None else loss


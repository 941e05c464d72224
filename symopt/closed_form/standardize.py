"""``solve(..., standardize=True)``: fit on centred and scaled features, and map the parameters back.

Where every feature enters the model linearly, each with a coefficient that is a parameter of its own
(times a number), and an intercept can absorb the centre, writing ``x_j = m_j + s_j * x'_j`` turns

    f = k0*c + sum_j k_j*b_j*x_j + g(the other parameters)

into the same model in ``x'`` with ``b'_j = s_j*b_j`` and ``c' = c + sum_j k_j*b_j*m_j / k0``. The map is
one-to-one and leaves F unchanged, so the optimum on ``x'`` is the optimum on ``x``, mapped: the same
estimator on better-conditioned data. ``m_j`` is the feature's mean (0 where the model has no intercept:
the features are then only scaled), ``s_j`` its standard deviation rounded to a power of two (so the
scaling itself rounds nothing; 1 for a constant feature).

A ridge penalty (``l2``) is not invariant under the map (it would penalise ``s_j*b_j`` instead of ``b_j``:
another estimator), so it is refused, as are models where a feature does not enter linearly, losses on
networks (their training path depends on the inputs' scale: initialisation, step sizes) and custom
objectives (which data are features is not known).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import sympy as sp

from ..errors import ModelError, PrecisionError
from ..model import softmax
from ..model.models import SHOWN
from ..model.kinds.base import prediction
from ..symbolic.parse import show
from .expression_size import EXPAND_LIMIT, expansion_size


@dataclass(frozen=True)
class Plan:
    """Which parameters carry which features, worked out from the objective's structure.

    Expression models: ``features`` are data names, ``coefficients[j]`` the flat index of feature j's
    coefficient and ``factors[j]`` its number ``k_j``; ``intercept`` the flat index of ``c`` (None: scale
    only) and ``intercept_factor`` its ``k0``. A data matrix: ``features == ("X",)``, every column of ``X``
    is a feature, and the coefficients are laid out as the form lays them out."""

    features: tuple
    coefficients: tuple = ()
    factors: tuple = ()
    intercept: int | None = None
    intercept_factor: float = 1.0


def plan_for(objective) -> Plan:
    """The :class:`Plan` for ``objective``, or :class:`~symopt.errors.ModelError` saying why it has none."""
    why = refusal(objective)
    if why:
        raise ModelError(f"standardize=True does not apply: {why}")
    return _plan(objective)


def refusal(objective) -> str:
    """Why ``standardize=True`` does not apply to ``objective`` ("" where it does)."""
    if objective.form.no_standardize:
        return objective.form.no_standardize
    if objective.kind not in ("squared", "log", "cross_entropy"):
        return ("it needs a model in a loss (squared_loss, log_loss or cross_entropy), where the features are "
                "known; in a custom objective which data are features is not")
    if objective.fixed_params:
        return ("with fixed parameters (fixed=) the model's other symbols are not all features; standardize the "
                "features yourself")
    if objective.l1:
        return (f"with l1 = {objective.l1:g} the penalty on the coefficients would change with their scale (it "
                "would penalise |s_j*b_j| for the feature's scale s_j), which is another estimator (glmnet's "
                "standardize=TRUE); standardize the features yourself if that is the estimator you want")
    if objective.l2:
        return (f"with l2 = {objective.l2:g} the penalty on the coefficients would change with their scale (it "
                "would penalise s_j*b_j for the feature's scale s_j), which is another estimator; standardize the "
                "features yourself if that is the estimator you want")
    if objective.form.matrix_data:
        return ""
    plan = _plan(objective)
    return plan if isinstance(plan, str) else ""


def _plan(objective):
    """The plan, or the reason there is none (a str), for an objective :func:`refusal` did not rule out."""
    if objective.form.matrix_data:  # network excluded by refusal()
        return Plan(features=("X",), intercept=0 if objective.model.intercept else None)
    f = prediction(objective.model)  # the model's value (its logit for log_loss)
    if expansion_size(f) > EXPAND_LIMIT:
        return "the model is too large to expand and check that its features enter linearly"
    f = sp.expand(f)
    params = list(objective.params)
    features = [s for s in sorted(f.free_symbols - set(params), key=lambda s: s.name) if s != objective.target]
    if not features:
        return "the model reads no feature to standardize"
    coefficients, factors = [], []
    for x in features:
        slope = sp.diff(f, x)
        k, p = slope.as_coeff_Mul()
        if slope.free_symbols & set(features) or p not in params or not k.is_number or k == 0:
            return (f"the feature {x} does not enter the model linearly with a coefficient of its own (df/d{x} = "
                    f"{show(slope, SHOWN)}), so centring and scaling it is not a change of parameters")
        if p in [params[i] for i in coefficients] or (f - slope * x).has(p):
            return (f"the coefficient {p} of {x} appears elsewhere in the model, so it cannot absorb {x}'s scale "
                    "alone")
        coefficients.append(params.index(p))
        factors.append(float(k))
    intercept, k0 = None, 1.0
    for i, c in enumerate(params):
        if i in coefficients:
            continue
        k, rest = sp.diff(f, c).as_coeff_Mul()
        if rest == 1 and k != 0 and not (f - k * c).has(c):
            intercept, k0 = i, float(k)
            break
    return Plan(tuple(x.name for x in features), tuple(coefficients), tuple(factors), intercept, k0)


def _power_of_two(sd: np.ndarray) -> np.ndarray:
    sd = np.where(np.isfinite(sd) & (sd > 0), sd, 1.0)
    return np.ldexp(1.0, np.round(np.log2(sd)).astype(int))


@dataclass(frozen=True)
class Scaling:
    """The centres and scales of the features on one data set, and the parameter map they give."""

    objective: object
    plan: Plan
    centre: np.ndarray  # per feature (per column of X for a data matrix)
    scale: np.ndarray

    def data(self, dataset):
        """``dataset`` with its features centred and scaled."""
        arrays = dict(dataset.arrays)
        if self.plan.features == ("X",):
            arrays["X"] = np.ascontiguousarray((dataset["X"] - self.centre) / self.scale)
        else:
            for name, m, s in zip(self.plan.features, self.centre, self.scale):
                arrays[name] = np.ascontiguousarray((dataset[name] - m) / s)
        return replace(dataset, arrays=arrays)

    def forward(self, theta: np.ndarray, dataset) -> np.ndarray:
        """The parameters on the standardized features that give the same model as ``theta``."""
        return self._map(np.array(theta, dtype=float), dataset, forward=True)

    def back(self, theta: np.ndarray, dataset) -> np.ndarray:
        """The parameters on the original features that give the same model as ``theta``."""
        return self._map(np.array(theta, dtype=float), dataset, forward=False)

    def _map(self, theta, dataset, forward: bool):
        plan, m, s = self.plan, self.centre, self.scale
        if plan.features == ("X",):
            return self._map_matrix(theta, dataset, forward)
        coef = np.array(plan.coefficients, dtype=np.int64)
        k = np.array(plan.factors)
        if forward:
            shift = float(np.sum(k * theta[coef] * m))
            theta[coef] = theta[coef] * s
        else:
            theta[coef] = theta[coef] / s
            shift = -float(np.sum(k * theta[coef] * m))
        if plan.intercept is not None:
            theta[plan.intercept] += shift / plan.intercept_factor
        return theta

    def _map_matrix(self, theta, dataset, forward: bool):
        """``[intercept, coef]`` rows (one per class for a multinomial model) mapped row by row."""
        objective, m, s = self.objective, self.centre, self.scale
        if objective.multiclass:
            K, width = dataset.n_classes, dataset["X"].shape[1]
            B = softmax.full(objective, K, width, theta)
        else:
            B = (np.r_[theta[0], theta[1:]] if objective.model.intercept else np.r_[0.0, theta])[None, :]
        if forward:
            B[:, 0] += B[:, 1:] @ m
            B[:, 1:] *= s
        else:
            B[:, 1:] /= s
            B[:, 0] -= B[:, 1:] @ m
        if objective.multiclass:
            return B.ravel()[softmax.positions(objective, K, width)]
        return B[0] if objective.model.intercept else B[0, 1:]

    def describe(self) -> str:
        """In words, for :attr:`symopt.Result.why`."""
        if self.plan.features == ("X",):
            what = f"the {self.scale.size} columns of X"
        else:
            what = ", ".join(f"{n} = {m:.6g} + {s:g}*{n}'" for n, m, s in zip(self.plan.features, self.centre, self.scale))
        how = "centred and scaled" if self.plan.intercept is not None else "scaled (no intercept to absorb a centre)"
        return f"fitted on {how} features ({what}; scales rounded to powers of two), the parameters mapped back"


def scaling_for(objective, plan: Plan, dataset, precision: str) -> Scaling:
    """The :class:`Scaling` of ``dataset``'s features under ``plan``."""
    if precision == "high":
        raise PrecisionError("standardize=True is for precision='double': precision='high' solves in 50 digits or "
                             "more, where the conditioning costs nothing that matters, and mapping back would "
                             "round to double")
    if plan.features == ("X",):
        X = dataset["X"]
        centre = X.mean(axis=0) if plan.intercept is not None else np.zeros(X.shape[1])
        scale = _power_of_two(X.std(axis=0))
    else:
        columns = [dataset[name] for name in plan.features]
        centre = np.array([c.mean() if plan.intercept is not None else 0.0 for c in columns])
        scale = _power_of_two(np.array([c.std() for c in columns]))
    return Scaling(objective, plan, centre, scale)

"""scikit-learn estimators over symopt: :class:`SymoptRegressor` and :class:`SymoptClassifier`.

Each takes a model (``symopt.LinearModel()`` over the columns of ``X`` by default, or a ``symopt.Model`` or
``symopt.LinearModel(basis=...)`` in named features, which the columns of ``X`` give), a loss, an optimizer and
symopt's options, and follows scikit-learn's rules: ``__init__`` stores its arguments, ``fit`` validates the
data with scikit-learn's own helpers and returns ``self``, and what was learned ends in ``_``. A fit builds a
:class:`symopt.Problem` and solves it; problems of one structure share their derivation, analysis and compiled
module (the penalty is a run-time number, not structure), so a grid search over ``C`` or ``l2`` compiles once,
and a worker process loads the compiled module from the cache folder. Needs ``pip install 'symopt[sklearn]'``.

It is one module past 400 lines because a third of it is the numpydoc docstrings scikit-learn users read
(each estimator's parameters, attributes, notes and examples), and ``symopt/`` keeps only the public surfaces at
its top (tests/system/test_import_layers.py): the shared base in a module of its own would be one more top-level
name for one class.
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from .errors import DataError, ModelError
from .model.kinds.base import prediction
from .model.kinds.expression import named_eta
from .model.models import LinearModel, Model
from .model.losses import cross_entropy, log_loss, squared_loss
from .model.objective import Objective
from .problem import BACKENDS, METHODS, Problem

#: The losses by scikit-learn's names (its ``loss=`` words): the regressor's and the classifier's.
REGRESSION_LOSSES = {"squared_error": squared_loss}
CLASSIFICATION_LOSSES = ("log_loss",)


class _SymoptEstimator(BaseEstimator):
    """What both estimators share: the model's features, the problem built and solved, the learned attributes."""

    def __init__(self, model, loss, optimizer, l2, fixed, bounds, standardize, features, method, backend):
        # scikit-learn's rule: store the arguments as given, check them in fit
        self.model, self.loss, self.optimizer, self.l2 = model, loss, optimizer, l2
        self.fixed, self.bounds, self.standardize = fixed, bounds, standardize
        self.features, self.method, self.backend = features, method, backend

    def _model(self):
        model = LinearModel() if self.model is None else self.model
        if not isinstance(model, (Model, LinearModel)):
            raise ModelError(f"{type(self).__name__}(model=...) takes a symopt.Model or symopt.LinearModel "
                             f"(None: LinearModel() over the columns of X), got {type(model).__name__}")
        return model

    def _check_options(self) -> None:
        name = type(self).__name__
        if self.method not in METHODS:
            raise ModelError(f"{name}(method=...) must be one of {', '.join(METHODS)}; got {self.method!r}")
        if self.backend not in BACKENDS:
            raise ModelError(f"{name}(backend=...) must be one of {', '.join(BACKENDS)}; got {self.backend!r}")
        if not isinstance(self.standardize, (bool, np.bool_)):
            raise ModelError(f"{name}(standardize=...) must be True or False, got {self.standardize!r}")

    def _validate(self, X, y=None, reset: bool = True, y_numeric: bool = False):
        """``X`` (and ``y``, when fitting) checked and converted by scikit-learn: finite float64 arrays, 2-d
        ``X``; fitting records the number of features and their names, predicting checks them."""
        if not reset:
            return validate_data(self, X, reset=False, dtype=np.float64)
        return validate_data(self, X, y, dtype=np.float64, y_numeric=y_numeric)

    def _sample_weight(self, sample_weight, X) -> np.ndarray | None:
        """``sample_weight`` checked by scikit-learn (one finite number >= 0 per row of ``X``), and not all 0;
        None where none is given."""
        if sample_weight is None:
            return None
        weights = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        if not np.any(weights > 0):  # scikit-learn's own check says so first, where its version has one
            raise DataError(f"{type(self).__name__}.fit: sample_weight is zero for every sample, so no sample counts; "
                            "give at least one positive weight")
        return weights

    def _data(self, model, X, y=None, target: str = "y", weights=None, weight: str | None = None) -> dict:
        """The data a symopt problem reads: ``X`` itself for ``LinearModel()``, else one column per feature
        name (:meth:`_feature_names`); the target, and the sample weights as the column ``weight``."""
        if isinstance(model, LinearModel) and model.is_wide:
            data = {"X": X}
        else:
            data = {name: X[:, j] for j, name in enumerate(self._columns(model))}
        if y is not None:
            data[target] = y
        if weights is not None:
            data[weight] = weights
        return data

    def _columns(self, model) -> list:
        """The model's feature name of each column of ``X``: the DataFrame's column names, else ``features=``,
        else the model's features in alphabetical order."""
        needed = sorted(s.name for s in _features(model))
        names = getattr(self, "feature_names_in_", None)
        given = "X's column names"
        if names is None and self.features is not None:
            names, given = self.features, "features="
        if names is None:
            if self.n_features_in_ != len(needed):
                raise DataError(f"the model reads {len(needed)} features ({', '.join(needed)}) but X has "
                                f"{self.n_features_in_} columns; give X with one column per feature (in this "
                                f"order, or as a DataFrame with these column names, or name them: features=[...])")
            return needed
        names = [str(n) for n in names]
        if len(names) != self.n_features_in_:
            raise DataError(f"features= names {len(names)} columns but X has {self.n_features_in_}")
        missing, extra = sorted(set(needed) - set(names)), sorted(set(names) - set(needed))
        if missing or extra:
            raise DataError(f"{given} ({', '.join(names)}) must be the model's features ({', '.join(needed)}): "
                            + "; ".join(part for part in (missing and f"missing {', '.join(missing)}",
                                                          extra and f"not in the model: {', '.join(extra)}") if part))
        return names

    def _solve(self, objective: Objective, data: dict):
        problem = Problem(objective, self.optimizer, method=self.method, backend=self.backend, fixed=self.fixed,
                          bounds=self.bounds)
        result = problem.solve(data, progress=False, standardize=bool(self.standardize))
        if not result.success:
            warnings.warn(f"{type(self).__name__}: the fit did not converge ({result.message}); result_ says more",
                          ConvergenceWarning, stacklevel=3)
        return result

    def _learned(self, model, result) -> None:
        """``result_``, ``params_``, ``stderr_``, and ``coef_`` and ``intercept_`` for a linear model."""
        self.result_ = result
        self.params_ = dict(result.params)
        self.stderr_ = result.stderr
        if isinstance(model, LinearModel) and model.is_wide:
            self.coef_ = np.asarray(result.params["coef"], dtype=float)
            self.intercept_ = result.params.get("intercept", 0.0) if model.intercept else 0.0
        elif isinstance(model, LinearModel):
            names = [p.name for p in model.expression_model.params]
            slopes = [n for n in names if n != model.intercept_name]
            self.coef_ = np.array([result.params[n] for n in slopes])
            self.intercept_ = result.params[model.intercept_name] if model.intercept_name else 0.0

    def _scores(self, X) -> np.ndarray:
        """The fitted model on ``X``: ``X @ coef + intercept`` (per class for a multinomial model), or the
        expression on the named columns."""
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        model = self._model()
        if isinstance(model, LinearModel) and model.is_wide:
            return X @ self.result_.params["coef"].T + (self.result_.params.get("intercept", 0.0)
                                                        if model.intercept else 0.0)
        return named_eta(self.result_.objective, self.result_.params, self._data(model, X))


def _features(model) -> set:
    """The feature symbols of an expression model (every free symbol that is not a parameter)."""
    expr = prediction(model)
    params = model.params if isinstance(model, Model) else model.expression_model.params
    return expr.free_symbols - set(params)


def _free_name(model, name: str, taken=()) -> str:
    """``name``, or ``name`` with underscores added, so that no feature of ``model`` (nor a name in ``taken``)
    is called so."""
    taken = set(taken) | (set() if isinstance(model, LinearModel) and model.is_wide
                          else {s.name for s in _features(model)})
    while name in taken:
        name += "_"
    return name


def _target_name(model) -> str:
    """``"y"``, or a name that no feature of ``model`` takes."""
    return _free_name(model, "y")


def _weight_name(model, target: str) -> str:
    """The name of the sample weights' column: ``"w"``, or a name that neither a feature nor the target takes."""
    return _free_name(model, "w", {target})


class SymoptRegressor(RegressorMixin, _SymoptEstimator):
    """A regressor: ``loss`` of ``model`` minimised by symopt (least squares by default, a closed form where
    the model is linear in its parameters).

    Parameters
    ----------
    model : symopt.Model or symopt.LinearModel, default None
        None is ``symopt.LinearModel()``: ``intercept + X @ coef`` over the columns of ``X``. A model in named
        features reads the columns of ``X`` by name: a DataFrame's column names, else ``features``, else the
        model's features in alphabetical order.
    loss : "squared_error" or callable, default "squared_error"
        A callable is called as ``loss(model, target=name, l2=l2)`` (with ``sample_weight``, also
        ``weights=name``, the name of the weights' column) and returns a :class:`symopt.Objective`
        (``symopt.squared_loss`` and ``functools.partial`` of it, for example).
    optimizer : symopt optimizer, default None
        None lets symopt choose (``result_.why`` says which and why).
    l2 : float, default 0.0
        The ridge penalty on symopt's mean loss, ``mean((y - f)**2) + l2 * sum(coef**2)`` (the intercept
        unpenalised): scikit-learn's ``Ridge(alpha)`` is ``l2 = alpha / n_samples``, with ``sample_weight`` too
        (the weighted loss is ``sum(w * (y - f)**2) / n_samples``).
    fixed, bounds : dict, default None
        Parameters held at values, and bounds by parameter name (:func:`symopt.solve`).
    standardize : bool, default False
        Fit on centred and scaled features, mapped back (:func:`symopt.solve`; not with ``l2``).
    features : list of str, default None
        The feature name of each column of ``X`` (an array) for a model in named features.
    method, backend : str, default "auto"
        As for :func:`symopt.solve`.

    Attributes
    ----------
    result_ : symopt.Result
        The fit (its statistics, ``why``, ``summary()``); pickled, it keeps its statistics and drops the data.
    params_ : dict
        The fitted parameters by name.
    stderr_ : dict or None
        Their standard errors (None with a penalty, and for now with ``sample_weight`` on the default
        ``LinearModel()``: ``result_.stderr_reason`` says why).
    coef_, intercept_ : ndarray, float
        For a ``LinearModel``: the slopes (in the order of the columns or the basis) and the intercept.
    n_features_in_, feature_names_in_ : int, ndarray
        As scikit-learn sets them (the names from a DataFrame).

    Notes
    -----
    ``fit(X, y, sample_weight=w)`` fits the weighted loss ``w * (y - f)**2`` per row (``symopt.squared_loss(...,
    weights=...)``), as ``LinearRegression`` and ``Ridge`` weigh their rows: an integer weight counts a row that
    many times, a weight of 0 drops it.

    Examples
    --------
    >>> import numpy as np
    >>> from symopt.sklearn import SymoptRegressor
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> reg = SymoptRegressor().fit(X, 1 + 2 * X[:, 0])
    >>> round(float(reg.coef_[0]), 12), round(float(reg.intercept_), 12)
    (2.0, 1.0)
    """

    def __init__(self, model=None, *, loss="squared_error", optimizer=None, l2=0.0, fixed=None, bounds=None,
                 standardize=False, features=None, method="auto", backend="auto"):
        super().__init__(model, loss, optimizer, l2, fixed, bounds, standardize, features, method, backend)

    def fit(self, X, y, sample_weight=None):
        """Fit on ``X`` (rows x features, or a DataFrame) and ``y`` (one number per row), each row weighted by
        ``sample_weight`` (numbers >= 0, not all 0; None: every row weighs 1); returns ``self``."""
        self._check_options()
        model = self._model()
        X, y = self._validate(X, y, y_numeric=True)
        weights = self._sample_weight(sample_weight, X)
        target = _target_name(model)
        weight = None if weights is None else _weight_name(model, target)
        objective = self._objective(model, target, weight)
        self._learned(model, self._solve(objective, self._data(model, X, y, target, weights, weight)))
        return self

    def _objective(self, model, target: str, weight: str | None = None) -> Objective:
        loss = REGRESSION_LOSSES.get(self.loss, self.loss) if isinstance(self.loss, str) else self.loss
        if isinstance(loss, str) or not callable(loss):
            raise ModelError(f"SymoptRegressor(loss=...) takes {', '.join(map(repr, REGRESSION_LOSSES))} or a "
                             f"function loss(model, target=, l2=) giving a symopt.Objective (such as "
                             f"symopt.squared_loss); got {self.loss!r}")
        name = getattr(loss, "__name__", loss)
        if weight is None:
            objective = loss(model, target=target, l2=self.l2)
        elif not _takes_weights(loss):
            raise ModelError(f"SymoptRegressor's loss function {name!r} takes no weights= argument, so it cannot "
                             f"fit with sample_weight; give one that does (such as symopt.squared_loss), or fit "
                             f"without sample_weight")
        else:
            objective = loss(model, target=target, l2=self.l2, weights=weight)
        if not isinstance(objective, Objective):
            raise ModelError(f"SymoptRegressor's loss function must return a symopt.Objective; "
                             f"{name!r} returned {type(objective).__name__}")
        if weight is not None and objective.weight_column != weight:
            raise ModelError(f"SymoptRegressor's loss function {name!r} was given weights={weight!r} but returned an "
                             f"objective that does not read them ({objective.describe()}): its sample_weight would "
                             f"be ignored")
        return objective

    def predict(self, X) -> np.ndarray:
        """The fitted model on ``X``: one value per row."""
        return np.asarray(self._scores(X), dtype=float)


class SymoptClassifier(ClassifierMixin, _SymoptEstimator):
    """A classifier: logistic regression fitted by symopt (log loss for two classes, cross-entropy over a
    ``LinearModel()`` for more), penalised by default as scikit-learn's ``LogisticRegression``.

    Parameters
    ----------
    model : symopt.Model or symopt.LinearModel, default None
        The logit. None is ``symopt.LinearModel()`` over the columns of ``X`` (multinomial for more than two
        classes); a model in named features (two classes) reads the columns of ``X`` by name, as
        :class:`SymoptRegressor` does.
    loss : "log_loss", default "log_loss"
    optimizer : symopt optimizer, default None
    C : float, default 1.0
        Inverse penalty strength, as ``LogisticRegression``'s: symopt's mean log loss gets
        ``l2 = 1 / (2 * n_samples * C)``, the same optimum (``C=np.inf``: no penalty), with ``sample_weight``
        too (scikit-learn minimises ``C * sum(w * loss) + |coef|**2 / 2`` and symopt
        ``sum(w * loss) / n_samples + l2 * |coef|**2``: the same minimiser, the weights not normalised).
    l2 : float, default None
        The penalty on symopt's mean loss, given directly (then ``C`` stays at 1.0).
    fixed, bounds, standardize, features, method, backend
        As for :class:`SymoptRegressor`.

    Attributes
    ----------
    classes_ : ndarray
        The class labels.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
    intercept_ : ndarray of shape (1,) or (n_classes,)
        As ``LogisticRegression``'s for a ``LinearModel``; a multinomial model's intercepts are centred to sum
        to 0 (no probability changes; symopt fits class 0's at 0: ``params_`` has them as fitted).
    result_, params_, stderr_, n_features_in_, feature_names_in_
        As for :class:`SymoptRegressor`.

    Notes
    -----
    ``fit(X, y, sample_weight=w)`` fits the weighted log loss ``w * (softplus(f) - y*f)`` per row
    (``symopt.log_loss(..., weights=...)``), as ``LogisticRegression`` weighs its rows. It takes two classes
    only: the multinomial model (more than two classes) does not take per-row weights yet, and says so.

    Examples
    --------
    >>> import numpy as np
    >>> from symopt.sklearn import SymoptClassifier
    >>> X = np.array([[-2.0], [-1.0], [0.5], [-0.5], [1.0], [2.0]])
    >>> clf = SymoptClassifier().fit(X, ["no", "no", "no", "yes", "yes", "yes"])
    >>> clf.predict([[-3.0], [3.0]]).tolist()
    ['no', 'yes']
    """

    def __init__(self, model=None, *, loss="log_loss", optimizer=None, C=1.0, l2=None, fixed=None, bounds=None,
                 standardize=False, features=None, method="auto", backend="auto"):
        self.C = C
        super().__init__(model, loss, optimizer, l2, fixed, bounds, standardize, features, method, backend)

    def fit(self, X, y, sample_weight=None):
        """Fit on ``X`` (rows x features, or a DataFrame) and ``y`` (class labels), each row weighted by
        ``sample_weight`` (numbers >= 0, not all 0; two classes only); returns ``self``."""
        self._check_options()
        if self.loss not in CLASSIFICATION_LOSSES:
            raise ModelError(f"SymoptClassifier(loss=...) takes {', '.join(map(repr, CLASSIFICATION_LOSSES))}; "
                             f"got {self.loss!r}")
        model = self._model()
        X, y = self._validate(X, y)
        weights = self._sample_weight(sample_weight, X)
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        k = len(self.classes_)
        if k < 2:
            raise DataError(f"SymoptClassifier needs at least 2 classes in y; it has 1 class ({self.classes_[0]!r})")
        wide = isinstance(model, LinearModel) and model.is_wide
        if k > 2 and not wide:
            raise ModelError(f"y has {k} classes: a model in named features gives one logit (two classes); use "
                             f"model=None (LinearModel() over X: multinomial) for more")
        if k > 2 and weights is not None:
            raise ModelError(f"SymoptClassifier.fit takes sample_weight for two classes only; y has {k}, and the "
                             f"multinomial model (cross_entropy over a LinearModel()) does not take per-row weights "
                             f"yet: fit without sample_weight, or one class against the rest")
        target = _target_name(model)
        l2 = self._penalty(X.shape[0])
        if k > 2:
            objective, weight = cross_entropy(model, target=target, l2=l2), None
        else:
            weight = None if weights is None else _weight_name(model, target)
            objective = log_loss(model, target=target, l2=l2, weights=weight)
        labels = encoder.transform(y).astype(float)
        self._learned(model, self._solve(objective, self._data(model, X, labels, target, weights, weight)))
        if wide:
            self.coef_ = self.coef_.reshape(k if k > 2 else 1, -1)
            intercept = np.atleast_1d(np.asarray(self.intercept_, dtype=float))
            self.intercept_ = intercept - intercept.mean() if k > 2 else intercept.copy()
        elif isinstance(model, LinearModel):
            self.coef_, self.intercept_ = self.coef_.reshape(1, -1), np.atleast_1d(float(self.intercept_))
        return self

    def _penalty(self, n: int) -> float:
        """``l2`` where given, else ``1 / (2 n C)`` (0 for ``C=np.inf``)."""
        C = self.C
        if isinstance(C, (bool, np.bool_)) or not isinstance(C, numbers.Real) or not C > 0:
            raise ModelError(f"SymoptClassifier(C=...) must be a positive number (np.inf: no penalty); got {C!r}")
        if self.l2 is not None:
            if C != 1.0:
                raise ModelError(f"SymoptClassifier takes C= or l2=, not both (C={C!r}, l2={self.l2!r}): l2 is the "
                                 "penalty on the mean loss, 1/(2 n C)")
            return self.l2
        return 0.0 if math.isinf(C) else 1.0 / (2.0 * n * float(C))

    def decision_function(self, X) -> np.ndarray:
        """The logit of class 1 (two classes: one number per row), or each class's score (rows x classes)."""
        return np.asarray(self._scores(X), dtype=float)

    def predict_proba(self, X) -> np.ndarray:
        """The probability of each class (rows x classes, in the order of ``classes_``)."""
        scores = self.decision_function(X)
        if scores.ndim == 1:
            p = _sigmoid(scores)
            return np.column_stack([1.0 - p, p])
        scores = scores - scores.max(axis=1, keepdims=True)
        e = np.exp(scores)
        return e / e.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X) -> np.ndarray:
        """The log of :meth:`predict_proba`, formed stably."""
        scores = self.decision_function(X)
        if scores.ndim == 1:
            scores = np.column_stack([np.zeros_like(scores), scores])
        top = scores.max(axis=1, keepdims=True)
        return scores - top - np.log(np.exp(scores - top).sum(axis=1, keepdims=True))

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row (a logit above 0 is ``classes_[1]``)."""
        scores = self.decision_function(X)
        index = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[index]


def _takes_weights(loss) -> bool:
    """Whether the function ``loss`` takes a ``weights=`` keyword (by name, or through ``**kwargs``)."""
    import inspect

    try:
        parameters = inspect.signature(loss).parameters.values()
    except (TypeError, ValueError):  # no signature to read (a builtin): let the call say
        return True
    return any(p.name == "weights" or p.kind is p.VAR_KEYWORD for p in parameters)


def _sigmoid(t: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-t))`` without overflow for any ``t``."""
    out = np.empty_like(t)
    positive = t >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-t[positive]))
    e = np.exp(t[~positive])
    out[~positive] = e / (1.0 + e)
    return out

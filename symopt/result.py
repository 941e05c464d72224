"""The record ``solve`` returns (:class:`Result`): the solution, how it was found, and why; and the records it
is made of.

A way of solving (a closed form, one run, the best of many starts) gives a :class:`Outcome`, the flat record
the stages hand up; :class:`symopt.Problem` builds the :class:`Result` from it once, by keyword, with the
solve's bounds and fixed values and one reference to where it came from (its ``origin``: the problem, rebuilt
when needed, and the data). A Result is a plain immutable record: the core a SciPy or lmfit user expects as
fields, how it was found in :attr:`Result.provenance`, a network's trained parts in :attr:`Result.network`.
Its services (standard errors, intervals, summary, predict, profile, plot, verify, convexity) call the
modules below this one (:mod:`symopt.stats.inference`, :mod:`symopt.stats.profile`, :mod:`symopt.reporting.plots`,
:mod:`symopt.trust.verify`, :mod:`symopt.trust.convexity`), handing them the problem and the data from the origin;
what they work out is kept in the origin (as statsmodels' ``cache_readonly``), never set on the Result.
Pickled, a Result keeps its statistics and drops the data: verify, profile and plot then take ``data=``.

It is one module past 400 lines because it holds the record and the records it is made of (Provenance, Trained,
Layout), a read-only alias for each name users read before the grouping (a line each), and the services' entry
points (each a few lines handing the problem to a module of stats/, trust/ or reporting/).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .closed_form.records import ClosedForm, Outcome  # noqa: F401  (Outcome: symopt.result.Outcome, as before)
from .model.bounds import Box
from .model.ties import Ties
from .model.ties import wald as tied_wald
from .errors import ModelError
from .numerics.covariance import check_cov_type
from .reporting import plots
from .reporting.summary import Summary
from .stats import chunked
from .stats import glm as glm_stats
from .stats import profile
from .stats.baseline import worse_than_constant
from .stats.inference import Inference, Intervals, infer
from .stats.predict import predict as predict_rows
from .stats.predict import predict_with_band
from .symbolic.escape import html_escape, markdown_escape
from .symbolic.show import params_line
from .trust import convexity as convex, verify as verification

#: How many of the distinct optima ``print(result)`` lists.
SHOWN_OPTIMA = 5


@dataclass(frozen=True)
class Provenance:
    """How a :class:`Result` was found (``result.provenance``; each field is also readable on the Result).

    ``closed_form``: the closed-form analysis (:class:`ClosedForm`). ``objective``, ``derivation``,
    ``optimizer``: what was solved and how (the objective without its fixed parameters; the optimizer that
    ran, None for a closed form). ``precision``: "double" or "high". ``source``, ``source_path``: the
    generated module that ran, and where it is in the cache folder. ``history``: F per iteration.
    ``conditioning``: how well the solve's matrix is conditioned (:class:`symopt.closed_form.conditioning.Conditioning`:
    the design's condition number for linear least squares, the Jacobi-scaled Hessian's at the solution on
    the other paths), or None where it was not formed. ``x0``: the flat point an iterative run started from
    (:meth:`Result.plot` replays the path). ``standardized``: whether ``standardize=True`` fitted on centred
    and scaled features (mapped back). ``starts``, ``optima``: how many starts ran (``solve(...,
    starts=N)``), and the distinct optima the converged ones reached, best first (:class:`symopt.Optimum`).
    ``exact``, ``exact_x``: the high-precision solution (``precision="high"``) as text by name, and as mpmath
    numbers. ``kkt``: the KKT check at the bounds (:class:`symopt.model.bounds.BoundCheck`), None without bounds.
    ``separation``: where the classes are separated (status ``separated``), the
    :class:`symopt.stats.separation.Separation`. ``normal_factor``: a tall ``LinearModel()`` least-squares fit
    solved by the normal equations keeps their factor ``R`` (``R^T R = [1, X]^T [1, X]``), from which the
    covariance is formed with no copy of the data. ``tied``: the tied parameters (``ties=``,
    :class:`symopt.model.ties.Ties`), empty without ties.
    """

    closed_form: ClosedForm
    objective: object = None
    derivation: object = None
    optimizer: object = None
    precision: str = "double"
    source: str | None = None
    source_path: Path | None = None
    history: np.ndarray = field(default_factory=lambda: np.empty(0))
    conditioning: object = None
    x0: np.ndarray | None = None
    standardized: bool = False
    starts: int = 1
    optima: tuple = ()
    exact: dict = field(default_factory=dict)
    exact_x: tuple = field(default=(), repr=False, compare=False)
    kkt: object = None
    separation: object = None
    normal_factor: np.ndarray | None = field(default=None, repr=False, compare=False)
    #: The tied parameters (``ties=``, :class:`symopt.model.ties.Ties`: name -> expression text): in ``params``
    #: at their values, not in ``x``; their standard errors by the delta method in :attr:`Result.stderr`.
    tied: Ties = field(default_factory=Ties.empty)


@dataclass(frozen=True)
class Trained:
    """A network's trained parts (``result.network``; None for other problems; each field is also readable on
    the Result): ``predictor`` (inference with the trained weights), ``buffers`` (batch-norm running
    statistics by name), ``diagnostics`` (per-layer, per-epoch training diagnostics)."""

    predictor: object = None
    buffers: dict = field(default_factory=dict)
    diagnostics: object = None


@dataclass(frozen=True)
class Layout:
    """Where each entry of the flat vector ``x`` sits among the named parameters, known without the data (a
    pickled Result shapes its standard errors with it): ``names``, one per entry of ``x`` (``coef[j]`` for the
    entries of an array); ``places``, name -> the entry's position in ``x`` plus one (0 for an entry the
    layout fixes, such as a multinomial model's reference class), an int for a scalar parameter, an integer
    array for an array one."""

    names: tuple
    places: dict

    @classmethod
    def of(cls, form, dataset) -> "Layout":
        names = tuple(form.flat_names(dataset))
        shaped = form.unflatten(dataset, np.arange(1.0, len(names) + 1.0))
        return cls(names, {name: int(v) if np.ndim(v) == 0 and not isinstance(v, np.ndarray) else
                           np.asarray(v).astype(np.int64) for name, v in shaped.items()})

    def shaped(self, flat) -> dict:
        """``flat`` (one value per entry of ``x``) by name: floats for scalars, arrays in the parameters' shapes
        (0 where the layout fixes an entry)."""
        flat = np.asarray(flat, dtype=float)
        out = {}
        for name, place in self.places.items():
            if isinstance(place, int):
                out[name] = float(flat[place - 1])
            else:
                value = np.zeros(place.shape)
                kept = place > 0
                value[kept] = flat[place[kept] - 1]
                out[name] = value
        return out


def _provenance_alias(name: str) -> property:
    return property(lambda self: getattr(self.provenance, name),
                    doc=f"``result.provenance.{name}`` (:class:`Provenance`), read here too.")


def _trained_alias(name: str, default) -> property:
    return property(lambda self: default() if self.network is None else getattr(self.network, name),
                    doc=f"``result.network.{name}`` (:class:`Trained`; {default()!r} for a problem that is not a "
                        f"network), read here too.")


def _glm_alias(name: str, doc: str) -> property:
    """A statistic of a GLM's :meth:`Result.glm_fit` (None for other objectives)."""

    def get(self):
        fitted = self.glm_fit()
        return None if fitted is None else getattr(fitted, name)

    return property(get, doc=doc)


@dataclass(frozen=True)
class Result:
    """A solution with its provenance. ``print(result)`` gives a readable summary.

    The fields follow :class:`scipy.optimize.OptimizeResult` where they overlap: ``params`` (by name),
    ``x`` (the flat vector), ``fun``, ``success``, ``status``, ``message``, ``nit``, ``nfev``, ``njev``
    (evaluations of the objective or residuals, and of the gradient or Jacobian; 0 for a closed form; a fused
    pass that gives both counts once in each), ``grad_norm``; and ``method`` ("linear", "symbolic" or
    "iterative") with ``why`` it was chosen; ``backend`` (what ran: "numba", "python" (the interpreted
    twin), "python, then numba from iteration k", "numpy" (a closed form) or "mpmath" (one in high
    precision)); ``fixed`` (parameters held fixed, name -> value: in ``params``, not in ``x``); ``bounds``
    (a :class:`~symopt.records.Box`, read as name -> ``(lower, upper)`` with None on an open side: the bounds
    the solve kept, given or implied by ``positive=True``; empty without bounds); ``at_bound`` (parameters that ended on a bound, name -> "lower" or "upper": their
    standard error is None and the others are computed with them held there); ``cov_type`` (which covariance
    :attr:`cov` and :attr:`stderr` give: "nonrobust" or "HC0" to "HC3").

    How it was found is in :attr:`provenance` (:class:`Provenance`: the closed form, the derivation, the
    generated code, the history, the conditioning, the starts and optima...), a network's trained parts in
    :attr:`network` (:class:`Trained`); each of their fields is also readable here (``result.closed_form``,
    ``result.history``, ``result.predictor``...); a network trained by epochs records each epoch's training
    objective, learning rate and (with ``validation=``) validation loss and accuracy in :attr:`training`.
    ``origin`` is the one reference to the problem and the
    data the services use.

    After ``solve(..., starts=N)``, the result is the best run's (its ``nit``, ``nfev``, ``njev`` and
    ``history`` are that run's), ``starts`` says how many starts ran and ``optima`` lists the distinct
    optima the converged ones reached, best first.
    """

    params: dict
    x: np.ndarray
    fun: float
    success: bool
    status: str
    message: str
    method: str
    why: str
    provenance: Provenance
    nit: int = 0
    nfev: int = 0
    njev: int = 0
    grad_norm: float = float("nan")
    backend: str = "numba"
    fixed: dict = field(default_factory=dict)
    bounds: Box = field(default_factory=Box.empty)
    at_bound: dict = field(default_factory=dict)
    cov_type: str = "nonrobust"
    network: Trained | None = None
    #: Where the result came from (:class:`symopt.problem.Origin`): the problem (rebuilt when a service needs it)
    #: and the data (dropped when the result is pickled), with what the services have worked out.
    origin: object = field(default=None, repr=False, compare=False)

    closed_form = _provenance_alias("closed_form")
    objective = _provenance_alias("objective")
    derivation = _provenance_alias("derivation")
    optimizer = _provenance_alias("optimizer")
    precision = _provenance_alias("precision")
    source = _provenance_alias("source")
    source_path = _provenance_alias("source_path")
    history = _provenance_alias("history")
    conditioning = _provenance_alias("conditioning")
    x0 = _provenance_alias("x0")
    standardized = _provenance_alias("standardized")
    starts = _provenance_alias("starts")
    optima = _provenance_alias("optima")
    exact = _provenance_alias("exact")
    exact_x = _provenance_alias("exact_x")
    kkt = _provenance_alias("kkt")
    separation = _provenance_alias("separation")
    normal_factor = _provenance_alias("normal_factor")
    tied = _provenance_alias("tied")
    predictor = _trained_alias("predictor", lambda: None)
    buffers = _trained_alias("buffers", dict)
    diagnostics = _trained_alias("diagnostics", lambda: None)

    @property
    def training(self):
        """A network trained by epochs: per epoch, the running training loss (``loss``), the learning rate
        (``lr``), and with ``validation=`` the validation loss and accuracy (``val_loss``, ``val_accuracy``)
        and, with ``early_stopping=``, the epoch whose weights were returned (``best_epoch``): a
        :class:`symopt.run.validation.Training`; None for any other result (L-BFGS on all rows included)."""
        return getattr(self.diagnostics, "training", None)

    @property
    def dataset(self):
        """The prepared data the result was solved on (None after unpickling: a pickled result drops its data)."""
        return None if self.origin is None else self.origin.dataset

    def _memo(self) -> dict:
        """What the services have worked out for this result (kept in its origin: the Result is never changed)."""
        return {} if self.origin is None else self.origin.memo

    def _data(self, data, service: str):
        """The prepared data ``service`` runs on: ``data`` where given (prepared for this objective), else the
        data the result was solved on; a clear error where there is neither (an unpickled result)."""
        if self.origin is None:
            raise ModelError(f"this result does not carry its problem (it was not returned by solve), so {service} "
                             f"cannot run; call symopt.{service.split('.')[-1].rstrip('()')}(objective, data) instead")
        return self.origin.data_for(data, service)

    def predict(self, data, interval: str | None = None, level: float = 0.95):
        """The fitted model on new data, one prediction per row: class labels for ``cross_entropy`` and
        ``log_loss`` (a logit above 0 is class 1), the model's value for ``squared_loss``.

        ``data`` is what the model reads: ``X`` (rows x features) for a network or a ``LinearModel`` over a
        data matrix; otherwise a mapping of the model's feature names to arrays, or a DataFrame (the target
        is not needed). A network predicts in inference mode (no dropout; batch norm's running statistics).

        ``interval="confidence"`` (the band of the fitted mean) or ``"prediction"`` (of a new observation:
        the residual variance added) gives a :class:`symopt.stats.predict.Prediction` ``(value, low, high, se)`` at
        ``level``, by the delta method with the exact gradient of the model (a squared loss on a model with
        standard errors; statsmodels' ``get_prediction``, lmfit's ``eval_uncertainty``).
        """
        if interval is not None:
            return predict_with_band(self, data, interval, level)
        if self.predictor is not None:
            return self.predictor(data)
        if self.objective is None or not self.params:
            raise ModelError(f"this result has no fitted parameters to predict with (status {self.status!r})")
        return predict_rows(self.objective, self.params, data)

    def plot(self, kind: str = "history", path=None, data=None):
        """A matplotlib figure of this result (needs ``pip install 'symopt[plot]'``), drawn headless; written
        to ``path`` as a PNG when given. ``kind``: ``"history"`` (F per iteration, log scale, with the
        closed-form optimum as a reference line where there is one), ``"fit"`` and ``"residuals"`` (a
        squared loss on a model of one feature), ``"surface"`` (one or two parameters: the objective with
        the path taken), ``"training"`` (networks trained by epochs: loss and per-layer gradient size, the
        vanishing and exploding bands marked; with ``validation=``, the validation loss and accuracy too),
        ``"filters"`` (networks on images: the first layer's learned filters as pictures). See :mod:`symopt.reporting.plots`. ``data``: the data to draw with, in
        place of the data it was solved on (needed after unpickling: a pickled result drops its data)."""
        dataset = self._data(data, "result.plot()")
        return plots.plot(self, kind, path, self.origin.problem(), dataset)

    @property
    def multipliers(self) -> dict:
        """The KKT multiplier of each constraint (``constraints=``; :mod:`symopt.run.constrained`), by its text:
        0 where it is inactive; ``{}`` without constraints. ``result.kkt`` has the whole check."""
        return dict(getattr(self.kkt, "multipliers", {}))

    @property
    def condition_number(self) -> float | None:
        """The condition number in :attr:`conditioning` (None where there is none)."""
        return None if self.conditioning is None else self.conditioning.number

    # --- inference (symopt.stats.inference): worked out when first asked for, then kept ------------------------------

    def inference(self, cov_type: str | None = None, data=None):
        """The :class:`symopt.stats.inference.Inference` record at this solution: covariance (``cov_type``: the
        result's own, "nonrobust" unless ``solve(..., cov_type=...)`` said otherwise, or "HC0" to "HC3"),
        the reason where there is none, and the fit statistics. Worked out once per ``cov_type`` (a pickled
        result keeps its own ``cov_type``'s; another then needs ``data=``)."""
        cov_type = check_cov_type(self.cov_type if cov_type is None else cov_type)
        memo, key = self._memo(), ("inference", cov_type)
        if key not in memo:
            if self.origin is None:
                return Inference((), "none", cov_type, None, "this result does not carry its problem and data "
                                 "(it was not returned by solve)", 0, len(self.x))
            dataset = self._data(data, f"result.inference({cov_type!r})")
            # Dask input: from pieces each chunk gives (symopt.stats.chunked)
            memo[key] = (chunked.infer if getattr(dataset, "distributed", False) else infer)(self, cov_type, dataset)
        return memo[key]

    def _shaped(self, flat):
        return None if flat is None else self.origin.layout.shaped(flat)

    def _without_at_bound(self, shaped: dict) -> dict:
        """``shaped`` (by name) with the parameters at a bound left out: None for a scalar, NaN for an entry
        of an array (``coef[3]`` of a LinearModel over a data matrix)."""
        if not self.at_bound:
            return shaped
        held = self._shaped(np.array([1.0 if n in self.at_bound else 0.0 for n in self.x_names]))
        out = dict(shaped)
        for name, mask in held.items():
            if np.ndim(mask):
                out[name] = np.where(np.asarray(mask) == 1.0, np.nan, out[name])
            elif mask == 1.0:
                out[name] = None
        return out

    @property
    def x_names(self) -> tuple:
        """One name per entry of :attr:`x` (``coef[j]`` for the entries of an array): the labels of
        :attr:`cov` and :attr:`corr`."""
        return tuple(self.params) if self.origin is None else self.origin.layout.names

    @property
    def cov(self) -> np.ndarray | None:
        """The covariance of the estimates (rows and columns in the order of :attr:`x`, labelled by
        :attr:`x_names`), or None where none applies (:attr:`stderr_reason` says why)."""
        return self.inference().cov

    @property
    def corr(self) -> np.ndarray | None:
        """The correlations of the estimates (:attr:`cov` scaled to a unit diagonal), or None."""
        return self.inference().corr

    @property
    def stderr(self) -> dict | None:
        """Standard errors, shaped like :attr:`params` (an array for an array parameter), or None; None for a
        parameter at a bound (:attr:`at_bound`), NaN for an entry fixed by the model's layout (the reference
        class of a multinomial model)."""
        flat = self.inference().stderr
        shaped = self._shaped(flat)
        if shaped is not None:
            # entries the layout fixes (a multinomial model's reference class, at 0 by construction): NaN, not 0
            layout = self._shaped(np.ones_like(flat))
            for name, ones in layout.items():
                if np.ndim(ones) and not np.all(ones):
                    shaped[name] = np.where(ones == 1.0, shaped[name], np.nan)
            shaped = self._without_at_bound(shaped)
            if self.tied:  # the tied parameters' by the delta method (symopt.model.ties)
                shaped.update(self.tied.stderr(self.params, self.x_names, self.cov))
                shaped = {name: shaped[name] for name in self.params if name in shaped}
        return shaped

    @property
    def stderr_reason(self) -> str:
        """Why :attr:`stderr` and :attr:`cov` are None ("" where they are not)."""
        return self.inference().reason

    @property
    def rss(self) -> float | None:
        """The residual sum of squares (least squares), or None."""
        return self.inference().rss

    @property
    def dof(self) -> int:
        """Residual degrees of freedom: rows minus parameters."""
        return self.inference().dof

    @property
    def residual_sd(self) -> float | None:
        """The residual standard deviation ``sqrt(RSS / (n - p))`` (least squares), or None."""
        return self.inference().residual_sd

    @property
    def r2(self) -> float | None:
        """R^2 of a squared loss (centred when the model can fit a constant, else uncentred), or None."""
        return self.inference().r2

    @property
    def loglik(self) -> float | None:
        """The log-likelihood at the solution (least squares: the Gaussian one), or None."""
        return self.inference().loglik

    @property
    def aic(self) -> float | None:
        """``-2 loglik + 2 p``, or None."""
        return self.inference().aic

    @property
    def bic(self) -> float | None:
        """``-2 loglik + p log n``, or None."""
        return self.inference().bic

    # --- a GLM's statistics (symopt.glm; statsmodels' GLMResults names in brackets) --------------------------------

    def glm_fit(self, data=None):
        """The :class:`symopt.stats.glm.GLMFit` of a GLM (an objective made by :func:`symopt.glm`) at this
        solution: fitted means, deviance, Pearson's chi2, scale, null deviance, log-likelihood; None for any
        other objective. Worked out once (``data=``: after unpickling, the data it was solved on)."""
        if self.objective is None or getattr(self.objective, "glm", None) is None:
            return None
        memo = self._memo()
        if "glm" not in memo:
            dataset = self._data(data, "result.glm_fit()")
            # the parameters the data estimate as the inference counts them (bounds, active constraints)
            fit = chunked.glm_fit if getattr(dataset, "distributed", False) else glm_stats.fit  # (Dask input)
            memo["glm"] = fit(self.objective, dataset, np.asarray(self.x), self.inference(data=data).n_params)
        return memo["glm"]

    deviance = _glm_alias("deviance", "A GLM's deviance, ``sum w d(y, mu)`` [``deviance``], or None.")
    null_deviance = _glm_alias("null_deviance", "A GLM's deviance with a constant alone (offset kept) "
                                                "[``null_deviance``], or None.")
    pearson_chi2 = _glm_alias("pearson_chi2", "A GLM's Pearson chi2, ``sum w (y - mu)^2 / V(mu)`` [``pearson_chi2``], "
                                              "or None.")
    scale = _glm_alias("scale", "A GLM's dispersion [``scale``]: Pearson's chi2 / (n - p) for the families that "
                                "estimate it, else 1; None for other objectives.")

    def conf_int(self, level: float = 0.95, method: str = "wald", cov_type: str | None = None) -> dict | None:
        """Confidence intervals: name -> ``(low, high)`` (arrays for an array parameter), or None where there
        are no standard errors.

        ``method="wald"``: estimate -/+ quantile * standard error, the quantile Student's t with ``n - p``
        degrees of freedom for classical least squares, normal otherwise. ``method="profile"``: where the
        F statistic (least squares) or the likelihood-ratio statistic reaches its quantile, the other
        parameters re-fitted at every value (:meth:`profile`; an open side is ``-inf`` or ``inf``)."""
        if method == "profile":
            profiles = self.profile(level)
            # a note every parameter's profile carries (an exact fit's) once; the others by parameter
            everyone = set.intersection(*(set(p.notes) for p in profiles.values())) if len(profiles) > 1 else set()
            notes = dict.fromkeys(note if note in everyone else f"{name}: {note}"
                                  for name, p in profiles.items() for note in p.notes)
            return Intervals({name: (p.low, p.high) for name, p in profiles.items()}, notes)
        if method != "wald":
            raise ModelError(f"method must be 'wald' or 'profile'; got {method!r}")
        inference = self.inference(cov_type)
        bounds = inference.wald(level)
        if bounds is None:
            return None
        low, high = self._without_at_bound(self._shaped(bounds[0])), self._without_at_bound(self._shaped(bounds[1]))
        notes = [inference.exact_fit] if inference.exact_fit and inference.rss == 0.0 else []
        out = {name: None if low[name] is None else (low[name], high[name]) for name in low}
        if self.tied:  # the tied parameters' from their delta-method standard errors (symopt.model.ties)
            out.update(tied_wald(self.tied, self.params, self.x_names, inference.cov, inference.critical(level)))
            out = {name: out[name] for name in self.params if name in out}
        return Intervals(out, notes)

    def profile(self, level: float = 0.95, data=None) -> dict:
        """Profile-likelihood intervals in full (:mod:`symopt.stats.profile`): name -> :class:`symopt.stats.profile.Profile`
        (``low``, ``high``, the statistic at each, its quantile, the re-fits it took, notes); worked out
        once per level. ``data``: the data it was solved on, needed after unpickling (a pickled result
        drops its data)."""
        memo, key = self._memo(), ("profile", level)
        if key not in memo:
            dataset = self._data(data, "result.profile()")
            memo[key] = profile.intervals(self, level, self.origin.problem(), dataset)
        return memo[key]

    def summary(self):
        """The fit report (:class:`symopt.reporting.summary.Summary`): parameters with estimate, standard error, t or
        z, p-value and interval; the fit statistics; method and convergence; warnings. Prints as text,
        shows as HTML in Jupyter."""
        return Summary(self)

    @property
    def convexity(self):
        """The convexity verdict (:func:`symopt.convexity`) for this result's problem: the proof where there
        is one, else the numerical check on the data it was solved on, at the start, the solution and one
        draw around the start; worked out the first time it is read, then kept. None where the result does
        not carry its problem. A pickled result keeps the verdict (worked out before it travels)."""
        memo = self._memo()
        if "convexity" not in memo:
            if self.origin is None or self.objective is None:
                return None
            points = (self.x,) if self.x.size else ()
            memo["convexity"] = convex.verdict(self.origin.problem(), self._data(None, "result.convexity"),
                                               points=points)
        return memo["convexity"]

    def _worse_than_constant(self) -> str:
        """"" or the sentence that says this fit is worse than the constant model's (kept, as the verdict)."""
        memo = self._memo()
        if "worse" not in memo:
            memo["worse"] = worse_than_constant(self.objective, self._data(None, "print(result)"), self)
        return memo["worse"]

    def verify(self, x0=None, reference="auto", gradient: bool = True, seed: int = 0, starts: int | None = None,
               data=None):
        """:func:`symopt.verify` for this result, on the data it was solved on (or ``data``, needed after
        unpickling: a pickled result drops its data): this solution beside the other ways of solving the
        problem (a closed form, the iterative solver from other starts, a reference library) and the
        gradient check."""
        verification.check_arguments(gradient, seed)
        if self.origin is None:
            self._data(data, "verify()")  # the error that says so
        dataset = self.origin.data_in_memory(data, "verify()")  # (Dask input computed: the references read arrays)
        return verification.verify(self.origin.problem(), dataset, x0, reference, gradient, seed, result=self,
                                   starts=starts)

    def __getstate__(self):
        """A result travels (pickle, joblib, multiprocessing) with its statistics and without its data: what
        ``print(result)`` and ``summary()`` show is worked out first, so they read the same in the other
        process. Validation data given to a network's optimizer stay behind too (its ``validation`` keeps their
        description: :class:`symopt.optimizers.first_order.HeldOut`)."""
        if self.origin is not None and self.origin.dataset is not None:
            self.inference()
            if self.success and self.objective is not None:
                self.convexity
                self._worse_than_constant()
        state, optimizer = dict(self.__dict__), self.optimizer
        lean = optimizer.without_data() if hasattr(optimizer, "without_data") else optimizer
        if lean is not optimizer:
            state["provenance"] = replace(self.provenance, optimizer=lean)
        return state

    def _held_note(self, name: str) -> str:
        """"fixed", "at its lower bound", "3 entries at a bound" (an array's), or "" for parameter ``name``."""
        if name in self.fixed:
            return "fixed"
        if name in self.tied:
            return f"tied: {name} = {self.tied.exprs[name]}"
        if name in self.at_bound:
            return f"at its {self.at_bound[name]} bound"
        held = sum(1 for n in self.at_bound if n.startswith(f"{name}["))
        return f"{held} entries at a bound" if held else ""

    def to_markdown(self) -> str:
        """The result as Markdown: status, method and why, the parameters, F (what Jupyter shows)."""
        state = "success" if self.success else "FAILED"
        rows = [f"**symopt result: {state}** ({markdown_escape(self.status)}): {markdown_escape(self.message)}", "",
                f"- method: {markdown_escape(self.method)}: {markdown_escape(self.why)}",
                f"- backend: {markdown_escape(self.backend)}",
                f"- closed form: {markdown_escape(self.closed_form.status)}: {markdown_escape(self.closed_form.reason)}"]
        if self.conditioning is not None:
            rows.append(f"- conditioning: {markdown_escape(self.conditioning)}")
        notes = {name: self._held_note(name) for name in self.params}
        if any(notes.values()):
            rows += ["", "| parameter | value | |", "|---|---|---|"]
            rows += [f"| {markdown_escape(name)} | {markdown_escape(params_line({name: value}, 12).split(' = ', 1)[1])} "
                     f"| {markdown_escape(notes[name])} |" for name, value in self.params.items()]
        else:
            rows += ["", "| parameter | value |", "|---|---|"]
            rows += [f"| {markdown_escape(name)} | {markdown_escape(params_line({name: value}, 12).split(' = ', 1)[1])} |"
                     for name, value in self.params.items()]
        rows += ["", f"F = {self.fun!r}, max abs gradient {self.grad_norm:.3g}, {self.nit} iterations"]
        return "\n".join(rows) + "\n"

    _repr_markdown_ = to_markdown

    def _repr_html_(self) -> str:
        """What Jupyter shows: the fit report (:meth:`summary`) as HTML, with the derivation's LaTeX."""
        latex = self.derivation._repr_latex_() if self.derivation is not None else None
        return self.summary().to_html(html_escape(latex) if latex else None)

    def __str__(self) -> str:
        lines = [f"symopt result: {'success' if self.success else 'FAILED'} ({self.status}): {self.message}"]
        if self.objective is not None:
            lines.append(f"  objective: {self.objective.describe()}")
        lines.append(f"  method: {self.method}: {self.why}")
        lines.append(f"  backend: {self.backend}")
        cf = self.closed_form
        lines.append(f"  closed form: {cf.status}: {cf.reason}")
        if cf.formula:
            for f in cf.formula.splitlines():
                lines.append(f"    {f}")
        for c in cf.candidates:
            vals = ", ".join(f"{k} = {v:.6g}" for k, v in c.values.items())
            lines.append(f"    candidate ({vals}): {'accepted' if c.accepted else 'rejected'}: {c.why}")
        lines.append("  parameters:")
        for name, value in self.params.items():
            if np.ndim(value):
                arr = np.asarray(value)
                shown = np.array2string(arr.ravel()[:6], precision=6, separator=", ")
                shape = "x".join(map(str, arr.shape))
                note = self._held_note(name)
                lines.append(f"    {name} = array {shape}: {shown}{' ...' if arr.size > 6 else ''}"
                             + (f"   ({note})" if note else ""))
            elif self._held_note(name):
                lines.append(f"    {name} = {value!r}   ({self._held_note(name)})")
            else:
                exact = self.exact.get(name)
                lines.append(f"    {name} = {value!r}" + (f"   ({exact})" if exact else ""))
        lines.append(f"  objective value F = {self.fun!r}, max |gradient| = {self.grad_norm:.3g}, iterations = {self.nit}"
                     + (f", evaluations: {self.nfev} of F, {self.njev} of its gradient" if self.nfev or self.njev else ""))
        if self.conditioning is not None:
            lines.append(f"  conditioning: {self.conditioning}")
        if self.success and self.origin is not None and self.objective is not None:
            lines.append(f"  optimum: {self.convexity.optimum(self.objective.maximize, self.starts)}")
            worse = self._worse_than_constant()
            if worse:
                lines.append(f"  fit: {worse}")
        if self.starts > 1 and not self.optima:
            lines.append(f"  no optimum reached from {self.starts} starts")
        elif self.starts > 1:
            lines.append(f"  distinct optima from {self.starts} starts (best first):")
            lines += [f"    {optimum}" for optimum in self.optima[:SHOWN_OPTIMA]]
            if len(self.optima) > SHOWN_OPTIMA:
                lines.append(f"    ... {len(self.optima) - SHOWN_OPTIMA} more in result.optima")
        if self.training is not None and self.training.summary():
            lines.append(f"  validation: {self.training.summary()}")
        if self.diagnostics is not None:
            lines.append("  diagnostics (last epoch):")
            lines += [f"    {line}" for line in self.diagnostics.summary().splitlines()]
        if self.source_path is not None:
            lines.append(f"  generated code: {self.source_path}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<symopt.Result method={self.method!r} success={self.success} fun={self.fun!r} params={list(self.params)}>"

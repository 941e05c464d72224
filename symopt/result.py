"""The record ``solve`` returns: the solution, how it was found, and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .escape import html_escape, markdown_escape
from .show import params_line

#: How many of the distinct optima ``print(result)`` lists.
SHOWN_OPTIMA = 5


@dataclass(frozen=True)
class ClosedForm:
    """What the closed-form analysis found: ``status`` is "linear", "symbolic" or "none".

    ``formula`` is the solution in words or symbols. Where a linear closed form was found, the formula in
    statistics of the data (SymPy's solve in a child process, a second or so) is not waited for: it is
    worked out the first time ``formula`` is read (``print(result)`` reads it), then kept, in this process
    and in the cache folder for the next one.
    """

    status: str
    reason: str
    formula_text: str | None = None
    detail: str = ""
    candidates: tuple = ()  # symbolic: every candidate with accepted / why
    pending: object = field(default=None, repr=False, compare=False)  # gives the formula in statistics, or None

    @property
    def formula(self) -> str | None:
        if self.pending is not None:
            text = self.pending()
            object.__setattr__(self, "formula_text", text or self.formula_text)
            object.__setattr__(self, "pending", None)
        return self.formula_text


@dataclass(frozen=True)
class Result:
    """A solution with its provenance. ``print(result)`` gives a readable summary.

    Attributes follow :class:`scipy.optimize.OptimizeResult` where they
    overlap (``x``, ``fun``, ``nit``, ``success``, ``status``, ``message``).

    After ``solve(..., starts=N)``, the result is the best run's (its ``nit``, ``nfev``, ``njev`` and
    ``history`` are that run's), ``starts`` says how many starts ran and ``optima`` lists the distinct
    optima the converged ones reached (:class:`symopt.Optimum`: ``params``, ``x``, ``fun``, ``count``,
    ``starts``), best first.
    """

    params: dict
    x: np.ndarray
    fun: float
    method: str  # "linear", "symbolic" or "iterative"
    why: str  # why this method was chosen
    closed_form: ClosedForm
    success: bool
    status: str
    message: str
    nit: int = 0
    #: Evaluations of the objective (or the residuals) and of its gradient (or Jacobian), SciPy's names;
    #: 0 for a closed form. A fused pass that gives both counts once in each.
    nfev: int = 0
    njev: int = 0
    grad_norm: float = float("nan")
    history: np.ndarray = field(default_factory=lambda: np.empty(0))
    source: str | None = None
    source_path: Path | None = None
    objective: object = None
    derivation: object = None
    optimizer: object = None
    precision: str = "double"
    exact: dict = field(default_factory=dict)  # name -> high-precision value as text
    predictor: object = None  # networks: inference with the trained weights
    buffers: dict = field(default_factory=dict)  # networks: batch-norm running statistics
    diagnostics: object = None  # networks: per-layer, per-epoch training diagnostics
    #: The prepared data the result was solved on (for :meth:`verify`; not part of comparisons or repr).
    dataset: object = field(default=None, repr=False, compare=False)
    #: What :meth:`verify` calls (:func:`symopt.problem.verify_result`, set by ``solve``).
    verifier: object = field(default=None, repr=False, compare=False)
    #: What :attr:`convexity` calls the first time it is read (:func:`symopt.problem.convexity_of_result`).
    judge: object = field(default=None, repr=False, compare=False)
    #: What :meth:`plot` calls (:func:`symopt.problem.plot_result`, set by ``solve``).
    plotter: object = field(default=None, repr=False, compare=False)
    _convexity: object = field(default=None, repr=False, compare=False, init=False)
    #: What ran: "numba" (compiled generated code), "python" (its interpreted twin; see symopt.Problem),
    #: "python, then numba from iteration k", "numpy" (a closed form evaluated with NumPy) or "mpmath" (one
    #: evaluated in high precision).
    backend: str = "numba"
    #: How well the solve's matrix is conditioned (:class:`symopt.conditioning.Conditioning`: the design's
    #: condition number for linear least squares, the Jacobi-scaled Hessian's at the solution for the other
    #: paths), or None where it was not formed (a network, a multinomial model, data too big to form it).
    conditioning: object = None
    #: The flat point an iterative run started from (None for a closed form): :meth:`plot` replays the path.
    x0: np.ndarray | None = None
    #: Whether ``solve(..., standardize=True)`` fitted on centred and scaled features (mapped back here).
    standardized: bool = False
    #: How many starts the optimizer ran from (``solve(..., starts=N)``; 1 for a single run or a closed form).
    starts: int = 1
    #: The distinct optima the converged starts reached, best first (empty for a single run).
    optima: tuple = ()
    #: Parameters held fixed (``solve(..., fixed=...)``), name -> value: in :attr:`params`, not in :attr:`x`.
    fixed: dict = field(default_factory=dict)
    #: The bounds the solve kept (``solve(..., bounds=...)``, and what ``positive=True`` symbols imply),
    #: name -> ``(lower, upper)``, None on an open side (:mod:`symopt.bounds`).
    bounds: dict = field(default_factory=dict)
    #: The parameters that ended on a bound, name -> "lower" or "upper": their :attr:`stderr` is None and the
    #: other standard errors are computed with them held there.
    at_bound: dict = field(default_factory=dict)
    #: The KKT check at the bounds (:class:`symopt.bounds.BoundCheck`), None without bounds.
    kkt: object = None
    #: The high-precision solution as mpmath numbers (``precision="high"``; for the standard errors).
    exact_x: tuple = field(default=(), repr=False, compare=False)
    #: Which covariance :attr:`cov` and :attr:`stderr` give: "nonrobust" (classical) or "HC0" to "HC3".
    cov_type: str = "nonrobust"
    #: What :meth:`inference` calls (:func:`symopt.inference.infer`, set by ``solve``).
    inferrer: object = field(default=None, repr=False, compare=False)
    #: What :meth:`profile` calls (:func:`symopt.problem.profile_result`, set by ``solve``).
    profiler: object = field(default=None, repr=False, compare=False)
    #: Where the classes are separated (status ``separated``): the :class:`symopt.separation.Separation` (its
    #: kind, complete or quasi-complete, and the direction along which the loss falls); else None.
    separation: object = None
    #: A tall ``LinearModel()`` least-squares fit solved by the normal equations: their factor ``R`` (``p x p``,
    #: ``R^T R = [1, X]^T [1, X]``), from which :attr:`cov` is formed with no copy of the data; else None.
    normal_factor: np.ndarray | None = field(default=None, repr=False, compare=False)
    _inferences: dict = field(default_factory=dict, repr=False, compare=False, init=False)

    def predict(self, data, interval: str | None = None, level: float = 0.95):
        """The fitted model on new data, one prediction per row: class labels for ``cross_entropy`` and
        ``log_loss`` (a logit above 0 is class 1), the model's value for ``squared_loss``.

        ``data`` is what the model reads: ``X`` (rows x features) for a network or a ``LinearModel`` over a
        data matrix; otherwise a mapping of the model's feature names to arrays, or a DataFrame (the target
        is not needed). A network predicts in inference mode (no dropout; batch norm's running statistics).

        ``interval="confidence"`` (the band of the fitted mean) or ``"prediction"`` (of a new observation:
        the residual variance added) gives a :class:`symopt.predict.Prediction` ``(value, low, high, se)`` at
        ``level``, by the delta method with the exact gradient of the model (a squared loss on a model with
        standard errors; statsmodels' ``get_prediction``, lmfit's ``eval_uncertainty``).
        """
        if interval is not None:
            from .predict import predict_with_band

            return predict_with_band(self, data, interval, level)
        if self.predictor is not None:
            return self.predictor(data)
        from .errors import ModelError
        from .predict import predict

        if self.objective is None or not self.params:
            raise ModelError(f"this result has no fitted parameters to predict with (status {self.status!r})")
        return predict(self.objective, self.params, data)

    def plot(self, kind: str = "history", path=None):
        """A matplotlib figure of this result (needs ``pip install 'symopt[plot]'``), drawn headless; written
        to ``path`` as a PNG when given. ``kind``: ``"history"`` (F per iteration, log scale, with the
        closed-form optimum as a reference line where there is one), ``"fit"`` and ``"residuals"`` (a
        squared loss on a model of one feature), ``"surface"`` (one or two parameters: the objective with
        the path taken), ``"training"`` (networks trained by epochs: loss and per-layer gradient size, the
        vanishing and exploding bands marked). See :mod:`symopt.plots`."""
        if self.plotter is None:
            from .errors import ModelError

            raise ModelError("this result does not carry its problem and data (it was not returned by solve)")
        return self.plotter(self, kind, path)

    @property
    def condition_number(self) -> float | None:
        """The condition number in :attr:`conditioning` (None where there is none)."""
        return None if self.conditioning is None else self.conditioning.number

    # --- inference (symopt.inference): worked out when first asked for, then kept ------------------------------

    def inference(self, cov_type: str | None = None):
        """The :class:`symopt.inference.Inference` record at this solution: covariance (``cov_type``: the
        result's own, "nonrobust" unless ``solve(..., cov_type=...)`` said otherwise, or "HC0" to "HC3"),
        the reason where there is none, and the fit statistics. Worked out once per ``cov_type``."""
        cov_type = self.cov_type if cov_type is None else cov_type
        if cov_type not in self._inferences:
            if self.inferrer is None:
                from .inference import Inference, check_cov_type

                check_cov_type(cov_type)
                record = Inference((), "none", cov_type, None, "this result does not carry its problem and data "
                                   "(it was not returned by solve)", 0, len(self.x))
            else:
                record = self.inferrer(self, cov_type)
            self._inferences[cov_type] = record
        return self._inferences[cov_type]

    def _shaped(self, flat):
        return None if flat is None else self.objective.form.unflatten(self.dataset, flat)

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
        if self.objective is None or self.dataset is None:
            return tuple(self.params)
        return tuple(self.objective.form.flat_names(self.dataset))

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

    def conf_int(self, level: float = 0.95, method: str = "wald", cov_type: str | None = None) -> dict | None:
        """Confidence intervals: name -> ``(low, high)`` (arrays for an array parameter), or None where there
        are no standard errors.

        ``method="wald"``: estimate -/+ quantile * standard error, the quantile Student's t with ``n - p``
        degrees of freedom for classical least squares, normal otherwise. ``method="profile"``: where the
        F statistic (least squares) or the likelihood-ratio statistic reaches its quantile, the other
        parameters re-fitted at every value (:meth:`profile`; an open side is ``-inf`` or ``inf``)."""
        from .inference import Intervals

        if method == "profile":
            profiles = self.profile(level)
            # a note every parameter's profile carries (an exact fit's) once; the others by parameter
            everyone = set.intersection(*(set(p.notes) for p in profiles.values())) if len(profiles) > 1 else set()
            notes = dict.fromkeys(note if note in everyone else f"{name}: {note}"
                                  for name, p in profiles.items() for note in p.notes)
            return Intervals({name: (p.low, p.high) for name, p in profiles.items()}, notes)
        if method != "wald":
            from .errors import ModelError

            raise ModelError(f"method must be 'wald' or 'profile'; got {method!r}")
        inference = self.inference(cov_type)
        bounds = inference.wald(level)
        if bounds is None:
            return None
        low, high = self._without_at_bound(self._shaped(bounds[0])), self._without_at_bound(self._shaped(bounds[1]))
        notes = [inference.exact_fit] if inference.exact_fit and inference.rss == 0.0 else []
        return Intervals({name: None if low[name] is None else (low[name], high[name]) for name in low}, notes)

    def profile(self, level: float = 0.95) -> dict:
        """Profile-likelihood intervals in full (:mod:`symopt.profile`): name -> :class:`symopt.profile.Profile`
        (``low``, ``high``, the statistic at each, its quantile, the re-fits it took, notes); worked out
        once per level."""
        key = ("profile", level)
        if key not in self._inferences:
            if self.profiler is None:
                from .errors import ModelError

                raise ModelError("this result does not carry its problem and data (it was not returned by solve)")
            self._inferences[key] = self.profiler(self, level)
        return self._inferences[key]

    def summary(self):
        """The fit report (:class:`symopt.summary.Summary`): parameters with estimate, standard error, t or
        z, p-value and interval; the fit statistics; method and convergence; warnings. Prints as text,
        shows as HTML in Jupyter."""
        from .summary import Summary

        return Summary(self)

    @property
    def convexity(self):
        """The convexity verdict (:func:`symopt.convexity`) for this result's problem: the proof where there
        is one, else the numerical check on the data it was solved on, at the start, the solution and one
        draw around the start; worked out the first time it is read, then kept. None where the result does
        not carry its problem."""
        if self._convexity is None and self.judge is not None and self.objective is not None:
            object.__setattr__(self, "_convexity", self.judge(self))
        return self._convexity

    def verify(self, x0=None, reference="auto", gradient: bool = True, seed: int = 0, starts: int | None = None):
        """:func:`symopt.verify` for this result, on the data it was solved on: this solution beside the
        other ways of solving the problem (a closed form, the iterative solver from other starts, a reference
        library) and the gradient check."""
        if self.verifier is None or self.dataset is None:
            from .errors import ModelError

            raise ModelError("this result does not carry its problem and data (it was not returned by solve); "
                             "call symopt.verify(objective, data) instead")
        return self.verifier(self, x0=x0, reference=reference, gradient=gradient, seed=seed, starts=starts)

    def _held_note(self, name: str) -> str:
        """"fixed", "at its lower bound", "3 entries at a bound" (an array's), or "" for parameter ``name``."""
        if name in self.fixed:
            return "fixed"
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
        if self.success and self.judge is not None and self.objective is not None:
            lines.append(f"  optimum: {self.convexity.optimum(self.objective.maximize, self.starts)}")
            from .baseline import worse_than_constant

            worse = worse_than_constant(self.objective, self.dataset, self)
            if worse:
                lines.append(f"  fit: {worse}")
        if self.starts > 1 and not self.optima:
            lines.append(f"  no optimum reached from {self.starts} starts")
        elif self.starts > 1:
            lines.append(f"  distinct optima from {self.starts} starts (best first):")
            lines += [f"    {optimum}" for optimum in self.optima[:SHOWN_OPTIMA]]
            if len(self.optima) > SHOWN_OPTIMA:
                lines.append(f"    ... {len(self.optima) - SHOWN_OPTIMA} more in result.optima")
        if self.diagnostics is not None:
            lines.append("  diagnostics (last epoch):")
            lines += [f"    {line}" for line in self.diagnostics.summary().splitlines()]
        if self.source_path is not None:
            lines.append(f"  generated code: {self.source_path}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<symopt.Result method={self.method!r} success={self.success} fun={self.fun!r} params={list(self.params)}>"

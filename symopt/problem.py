"""``Problem``: an objective built once (derived, analysed, its solver compiled on first need) and solved
many times.

Everything that does not depend on the data is done once per *structure* of objective (its expression,
parameters, sense, reduction and model shape; :meth:`symopt.Objective.structure`) and kept in this process,
in a least-recently-used table of :data:`symopt.run.shared.MAX_PROBLEMS` entries (:mod:`symopt.run.shared`): the
derivation, the closed-form analysis and the compiled solver modules. Numbers are run-time arguments, not structure: objectives that differ only in
``l2`` (or a network's ``init`` and ``seed``) share the derivation and the compiled code; only the symbolic
tier, whose formulas contain ``l2``, is redone per value. The analysis is also kept in the cache folder
beside the generated code, so a new process does not run SymPy's ``solve`` again.

It is one module past 400 lines because Problem conducts the pipeline (derive, analyse, the closed form or the
generated solver, the run, bounds and standardisation, in order) and holds the Origin through which a Result
reaches it again; the stages themselves live in the folders below it.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import replace

import numpy as np

from .closed_form.analysis import DEFAULT_BUDGET, Analysis, Attempt, SymbolicStage, assemble, check_budget, symbolic_wanted
from .closed_form.conditioning import Conditioning, scaled_condition, warn_if_ill
from .closed_form.lasso import lasso_result
from .closed_form.on_data import checked, linear_result, symbolic_result
from .closed_form.standardize import scaling_for
from .derivation.task import Task
from .derivation.totals import gradient as gradient_at_point
from .derivation.totals import objective_value
from .errors import ModelError, PrecisionError
from .model import bounds as bounds_module
from .model import fixing, penalties
from .model import constraints as constraints_module
from .model import ties as ties_module
from .model.data import Dataset, prepare
from .model.objective import Objective
from .numerics.sizes import ARRAY_OVERHEAD, FLOAT, check_count, check_seed, whole_number
from .optimizers import CoordinateDescent, Optimizer, ProjectedLevenbergMarquardt
from .result import ClosedForm, Layout, Outcome, Provenance, Result, Trained
from .run import constrained
from .run import kinked
from .run import proximal_newton
from .run.drivers import driver_for
from .run.loop import starting_point
from .run.options import SolveOptions
from .run.shared import shared_for
from .run.starts import USER_STOPS, best_of, run_starts, start_points
from .run.stationary import curvature_verdict, hessian_at
from .run.stops import Stops
from .stats import inference
from .distributed import is_dask
from .stats import chunked, separation
from .trust import convexity as convexity_module
from .trust import gradcheck
from .trust import verify as verification

METHODS = ("auto", "linear", "symbolic", "iterative")
PRECISIONS = ("double", "high")
BACKENDS = ("auto", "numba", "python")
#: With method="auto" and no linear form, the symbolic tier gets this many seconds before the iterative solver
#: starts beside it (the tier then goes on in the background, up to its budget). Measured with an empty cache:
#: the formulas SymPy finds (log-normal, exponential, Poisson MLEs) take 0.02 to 0.1 s once a sandbox worker
#: runs, and the first (Gaussian, which starts the worker) 0.6 to 1.1 s; a hopeless system (least squares of
#: a*x + b*x**2 + a*b*x**3 + b**2) held solve for the whole 10 s budget, and now for the head start. Three
#: seconds leave a loaded machine room (a tier that finds its formula after the head start is still used by
#: every later solve, but this one returns the iterative answer: the same optimum, not the formula).
SYMBOLIC_HEAD_START = 3.0


class _FormulaLater:
    """The formula in statistics for a problem with a linear closed form, worked out when first asked for.

    Pickled (a :class:`~symopt.Result` sent back from a joblib or multiprocessing worker) as what builds the
    problem again, not the problem itself (which holds compiled code and locks): unpickled, it works the
    formula out from a new :class:`Problem` of the same objective (from the cache folder where it is there)."""

    def __init__(self, problem: "Problem"):
        self.problem = problem

    def __call__(self) -> str | None:
        return "\n".join(self.problem.analysis.formulas()) or None

    def __reduce__(self):
        p = self.problem
        return _FormulaRebuilt, (p.full_objective, p.fixed or None, p.box or None, p.method, p.budget,
                                 p.ties or None)


class _FormulaRebuilt:
    """An unpickled :class:`_FormulaLater`: the problem is built again (by keyword) when the formula is asked for."""

    def __init__(self, objective, fixed, bounds, method, budget, ties=None):
        self.args = (objective, fixed, bounds, method, budget, ties)

    def __call__(self) -> str | None:
        objective, fixed, bounds, method, budget, ties = self.args
        problem = Problem(objective, method=method, budget=budget, fixed=fixed, bounds=bounds, ties=ties)
        return "\n".join(problem.analysis.formulas()) or None

    def __reduce__(self):
        return _FormulaRebuilt, self.args


class Problem:
    """An objective, built once and solved many times.

    ``Problem(objective, optimizer=None, method="auto", precision="double", budget=10.0, backend="auto")``
    derives and analyses the objective when it is built (the arguments mean what they mean for
    :func:`symopt.solve`); the solver code is generated on first need, then kept.

    ``backend`` says what runs the generated code: ``"numba"`` compiles it (seconds the first time, then
    kept in the cache folder); ``"python"`` runs its interpreted twin (the same module with ``njit`` a no-op:
    no compile wait, slower per row); ``"auto"`` loads the compiled module where the cache folder holds it
    (a fraction of a second, at the first solve), and otherwise takes the twin for data of at most
    :data:`symopt.run.drivers.PYTHON_MAX_WORK` rows x parameters, handing over to compiled code once this
    problem's interpreted runs have together taken as long as compiling would
    (:data:`symopt.run.shared.COMPILE_SECONDS`), even in the middle of a run. Compiled code runs serial kernels,
    or for large data kernels that split the rows across the threads the caller allows
    (:mod:`symopt.numerics.threads`). ``Result.backend`` says what ran. Networks are always compiled. ``problem.solve(data, x0=None,
    progress=True)`` gives a :class:`~symopt.Result`; ``problem.value_and_grad(data, params)`` the objective
    and its gradient (by name) through the code that runs.

    Problems of equal structure share their work: building a second one, or calling :func:`symopt.solve`
    again, costs microseconds, whatever ``l2`` is.

    >>> import symopt
    >>> problem = symopt.Problem(symopt.squared_loss(symopt.Model("a + b*x", "a b")))
    >>> round(problem.solve({"x": [0, 1, 2], "y": [1, 3, 5]}).params["b"], 12)
    2.0
    """

    def __init__(self, objective: Objective, optimizer: Optimizer | None = None, method: str = "auto",
                 precision: str = "double", budget: float = DEFAULT_BUDGET, backend: str = "auto", fixed=None,
                 bounds=None, ties=None, constraints=None, *, _deadline: float | None = None):
        if not isinstance(objective, Objective):
            raise ModelError(f"solve() (and symopt.Problem) takes a symopt.Objective first (for example "
                             f"symopt.squared_loss(model)), got {type(objective).__name__}")
        #: The objective as stated (``self.objective`` is the one solved: without the fixed parameters).
        self.full_objective = objective
        #: The tied parameters (:mod:`symopt.model.ties`): structure, substituted before the derivation.
        self.ties = ties_module.check_ties(objective, ties, fixed)
        ties_module.check_not_bounded(self.ties, bounds)
        objective = self._untied = self.ties.apply(objective)  # the tie's new parameters in it too
        #: The fixed parameters' values (:mod:`symopt.model.fixing`); which are fixed is this problem's structure.
        self.fixed = fixing.check_fixed(objective, fixed)
        #: Linear inequalities between the parameters (:mod:`symopt.model.constraints`), solved by
        #: :mod:`symopt.run.constrained`.
        self.constraints = constraints_module.check_constraints(objective, constraints, self.ties)
        #: The bounds on the free parameters (:mod:`symopt.model.bounds`); which are bounded is structure.
        self.box = bounds_module.check_bounds(objective, bounds, self.fixed)
        if self.fixed:
            objective = objective.fixing(self.fixed)
        if method not in METHODS:
            raise ModelError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
        if precision not in PRECISIONS:
            raise ModelError(f"precision must be 'double' or 'high'; got {precision!r}")
        if optimizer is not None and not isinstance(optimizer, Optimizer):
            raise ModelError(f"optimizer must be a symopt optimizer such as symopt.LBFGS(), got {optimizer!r}")
        if backend not in BACKENDS:
            raise ModelError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
        driver = driver_for(objective)
        driver.check_backend(backend)
        if precision == "high" and method == "iterative":
            raise PrecisionError("precision='high' applies to closed forms; the iterative solver runs in double")
        check_budget(budget)
        # symopt.solve(..., max_time=) counts the analysis too: the symbolic tier's head start ends by then
        self._deadline = _deadline
        self.objective, self.optimizer, self.method = objective, optimizer, method
        self.precision, self.budget, self.backend = precision, float(budget), backend
        self._shared = shared_for(objective)
        self.derivation = self._shared.derivation_for(objective)
        self._driver = driver(self)  # how an iterative solve runs (symopt.run.drivers)
        self._symbolic_later = None  # a Future of the symbolic stage, while it is worked out in the background
        self._settle_analysis()

    def _settle_analysis(self) -> None:
        """Set the analysis ``solve`` uses: from the memo of this structure, or worked out now. While the
        symbolic tier runs in the background (``method="auto"``, no linear form), a provisional analysis says
        so, and this is called again when it is done."""
        objective, method = self.objective, self.method
        key = (objective.l2, method)
        memo = self._shared.prepared.get(key)
        stage = memo[3] if memo else None
        if memo is None or (stage is not None and stage.timed_out and self.budget > stage.budget):
            analysis, deferred, stage, later = self._first_analysis()
            memo = (analysis, deferred, "\n".join(analysis.formulas()) or None, stage)
            self._symbolic_later = later
            if later is None:  # a provisional analysis is not kept
                self._shared.prepared[key] = memo
        analysis, self._deferred, formula, _ = memo
        if analysis.objective is not objective:
            analysis = replace(analysis, objective=objective, derivation=self.derivation)
        self._analysis = analysis
        self._full_analysis = None if self._deferred else analysis
        pending = _FormulaLater(self) if self._deferred else None
        self._closed_form = ClosedForm(analysis.status, analysis.reason, formula, pending=pending)

    # --- analysis ----------------------------------------------------------------------------------------------

    def _first_analysis(self) -> tuple:
        """``(analysis, deferred, symbolic stage or None, Future or None)``: the analysis ``solve`` needs. With a
        linear form, the symbolic tier is deferred (it only gives the formula). With ``method="auto"`` and no
        linear form, a symbolic tier that is not known yet is worked out in the background: the analysis is
        then provisional, and the Future says when the tier is done."""
        objective, d = self.objective, self.derivation
        deferred = False
        fixed = self._driver.analysis()
        if fixed is not None:
            return fixed, False, None, None
        form, why = self._shared.linear_stage(objective, d)
        symbolic = {"symbolic": True, "iterative": False, "linear": False}.get(self.method)
        wanted = symbolic_wanted(objective, form, symbolic)
        if wanted is True and form is not None and symbolic is None:
            deferred = True  # a linear solve does not wait for SymPy's solve
            wanted = symbolic_wanted(objective, form, False)
            wanted = replace(wanted, attempt=replace(
                wanted.attempt, outcome="deferred",
                detail="a linear closed form was found: the formula in statistics is worked out when asked for "
                       "(problem.analysis, result.closed_form.formula, print(result))"))
        later = None
        if wanted is not True:
            stage = wanted
        elif self.method == "auto":
            stage = self._shared.symbolic_stage_soon(objective, d, self.budget)
            if isinstance(stage, Future):
                wait = SYMBOLIC_HEAD_START if self.budget > SYMBOLIC_HEAD_START else None
                if self._deadline is not None:  # within max_time, whatever the budget
                    wait = max(0.0, min(self.budget if wait is None else wait, self._deadline - time.perf_counter()))
                try:  # a head start (most formulas SymPy finds at all, it finds in well under a second); a
                    # budget within the head start is waited for to its end
                    stage = stage.result(timeout=wait)
                except FutureTimeout:
                    stage, later = None, stage
        else:
            stage = self._shared.symbolic_stage(objective, d, self.budget)
        if later is not None:
            stage = SymbolicStage(Attempt("symbolic", "running", (
                f"SymPy's solve is working on the stationarity equations in the background (budget "
                f"{self.budget:g} s): the iterative solver does not wait for it, and later solves of this "
                f"problem use what it finds")), budget=self.budget)
        return assemble(objective, d, form, why, stage), deferred, stage, later

    @property
    def analysis(self) -> Analysis:
        """The closed-form analysis, the symbolic tier included (worked out now if it was deferred)."""
        if self._symbolic_later is not None:  # worked out in the background: wait for it
            self._symbolic_later.result()
            self._settle_analysis()
        if self._full_analysis is None:
            objective, d = self.objective, self.derivation
            form, why = self._shared.linear_stage(objective, d)
            stage = self._shared.symbolic_stage(objective, d, self.budget)
            self._full_analysis = assemble(objective, d, form, why, stage)
        return self._full_analysis

    # --- the solver code ---------------------------------------------------------------------------------------

    def _compiled(self, optimizer, backend: str = "numba"):
        """``(rendered, module, path)`` of the generated module for ``optimizer`` on ``backend``."""
        return self._driver.compiled(optimizer, backend)

    @property
    def source(self) -> str:
        """The generated (Numba) solver module an iterative run of this problem uses, generated now if it
        was not yet (the interpreted backend runs its twin, which differs only in its import lines; with
        bounds, the module that keeps them, their values run-time arguments)."""
        optimizer, _ = self._driver.optimizer(len(self.objective.params) or 1)
        return self._driver.source(optimizer)

    @property
    def runs_closed_form(self) -> bool:
        """Whether ``solve`` evaluates a closed form (rather than running generated code)."""
        a, method = self._analysis, self.method
        return (method in ("auto", "linear") and a.linear is not None) or \
            (method in ("auto", "symbolic") and bool(a.solutions))

    # --- solving -----------------------------------------------------------------------------------------------

    def solve(self, data=None, *, x0=None, progress: bool = True, max_time: float | None = None,
              callback=None, starts: int = 1, seed: int | None = 0, standardize: bool = False,
              cov_type: str = "nonrobust", fixed=None, bounds=None) -> Result:
        """Solve on ``data`` (a mapping of column names to arrays, or a DataFrame; None for an objective that
        reads no data); the options by keyword: ``x0``, ``progress``, ``max_time``, ``callback``, ``starts``,
        ``seed``, ``standardize`` and ``cov_type`` as in :func:`symopt.solve`. ``fixed`` gives new values to
        the parameters this problem holds fixed, ``bounds`` the bounds of this solve, in place of the
        problem's (a problem built with bounds takes any; one built without has no code that keeps them); no
        compiling."""
        options = SolveOptions(progress=progress, max_time=max_time, callback=callback, starts=starts, seed=seed,
                               standardize=standardize, cov_type=cov_type)
        return self.solve_with(data, options, x0=x0, fixed=fixed, bounds=bounds)

    def solve_with(self, data, options: SolveOptions, *, x0=None, fixed=None, bounds=None) -> Result:
        """:meth:`solve` with its options as one checked record (:class:`symopt.run.options.SolveOptions`, whose
        ``started`` is where ``max_time`` counts from: :func:`symopt.solve` gives the moment it was called,
        before it built this problem). ``x0``, ``fixed`` and ``bounds`` are read here, once, against the data:
        what runs the solve takes the flat start, the fixed values and the box."""
        values = self._fixed_values(fixed)
        box = self._box_for(bounds, values)
        distributed = is_dask(data)
        data = fixing.with_values(self.objective, data, values)
        dataset = prepare_dask(self.objective, data) if distributed else prepare(self.objective, data)
        flat = box.flat(self.objective.form, dataset) if box else None
        start = None
        if x0 is not None:  # a bad x0 is an error even where a closed form makes it moot
            start = self.objective.form.start(dataset, x0)
            outside = flat.violations(start) if flat else []
            if outside:
                raise ModelError(f"x0 is outside the bounds ({'; '.join(outside)}): start inside them")
        if distributed:  # Dask input (symopt.distributed): what it does not take is refused with the reason
            dask_solve().check(self, options, box, start, values)
        if self.constraints:  # linear inequalities between parameters (symopt.run.constrained)
            constrained.check_options(options)
            rows = self.constraints.rows(self.objective, dataset, values)
            result = constrained.solve(self, dataset, start, options, flat, self.constraints, rows)
        elif options.standardize:
            result = self._solve_standardized(dataset, start, options)
            outside = flat.violations(result.x) if flat and result.x.size else []
            if outside:
                raise ModelError(f"standardize=True with bounds: the standardized fit, which cannot carry the "
                                 f"bounds (standardizing mixes the parameters: an intercept takes the means of the "
                                 f"slopes), ends outside them ({'; '.join(outside)}); solve without standardize=True "
                                 f"to keep them")
        else:
            result = self._solve(dataset, start, options, box=flat)
        if flat and not self.constraints:  # the constrained solve checks the bounds with the constraints
            result = self._bounded_finish(result, dataset, flat)
        if self.objective.l1 and not (isinstance(result.optimizer, CoordinateDescent) and result.kkt is not None):
            result = self._l1_finish(result, dataset, flat)  # (coordinate descent checks it on its Gram matrix)
        if distributed:
            result = _dask_notes(result, dataset)
        else:  # separated classes: no optimum
            result = separation.mark(result, dataset, flat.arrays() if flat else None)
        params = result.params
        if values:
            params = {name: values[name] if name in values else result.params[name]
                      for name in self.full_objective.param_names if name in values or name in result.params}
        if self.ties:  # the tied parameters at their values (symopt.model.ties)
            params = self.ties.complete(self.full_objective.param_names, params)
        optimizer = result.optimizer if result.method == "iterative" else None
        return _result_of(result, params, values, options.cov_type,
                          Origin(self.objective, dataset, optimizer, box, self.constraints), box, self.ties)

    def _box_for(self, given, fixed_values) -> bounds_module.Box:
        """The bounds of this solve: the problem's, or ``given`` (any bounds, where the problem was built with
        bounds: its generated code keeps whatever values it is given)."""
        if given is None:
            return self.box
        box = bounds_module.check_bounds(self._untied, given, fixed_values)
        if box and not self.box:
            raise ModelError(f"this Problem was built without bounds, so its generated code does not keep them; "
                             f"build it with bounds= (symopt.Problem(objective, bounds={box.as_dict()!r})), "
                             f"then solve may give other values, or call symopt.solve")
        return box

    def _bounded_finish(self, result: Outcome, dataset, flat) -> Outcome:
        """``result`` (in the user's parameters) with the parameters on a bound put exactly on it, the KKT
        condition checked there (``flat``: the bounds along the flat vector,
        :class:`symopt.model.bounds.FlatBox`)."""
        if not result.x.size or not np.all(np.isfinite(result.x)):
            return result
        objective = self.objective
        if not result.at_bound and not flat.near(result.x):
            # every parameter well inside its bounds (the common case): nothing to put on a bound or to check
            return replace(result, kkt=bounds_module.BoundCheck({}, True, ""))
        _, grad = self.flat_value_and_grad(dataset, result.x, backend="numpy")
        scale = max(abs(result.fun), 1e-300) if math.isfinite(result.fun) else 1.0
        x, at = flat.snap(result.x, grad, scale)
        if result.at_bound:  # the active set of an exact bounded solve
            at = {**at, **result.at_bound}
            x = flat.put_on(result.x, at)
        if not np.array_equal(x, result.x):
            fun, grad = self.flat_value_and_grad(dataset, x, backend="numpy")
        else:
            fun = result.fun
        check = flat.kkt(x, grad, at, objective.maximize, scale)
        success, status, message = result.success, result.status, result.message
        if check.message:
            message = f"{message}; {check.message}" if message else check.message
        if success and not check.ok:
            success, status = False, "kkt_failed"
            message += ("; the solve stopped on a bound where the objective improves inside the bounds: not an "
                        "optimum (try another x0, or starts=)")
        params = objective.form.unflatten(dataset, x)
        return replace(result, x=x, params=params, fun=fun, success=success, status=status, message=message,
                       at_bound=at, kkt=check,
                       grad_norm=float(np.max(np.abs([g for n, g in zip(flat.names, grad) if n not in at]),
                                          initial=0.0)))

    def _l1_finish(self, result: Outcome, dataset, flat) -> Outcome:
        """``result`` with the subgradient optimality condition of its ``l1`` penalty checked at ``x``
        (:func:`symopt.model.penalties.l1_check`), in ``kkt`` beside the bounds' check where there is one."""
        if not result.x.size or not np.all(np.isfinite(result.x)):
            return result
        _, grad = self.flat_value_and_grad(dataset, result.x, backend="numpy")
        scale = max(abs(result.fun), 1e-300) if math.isfinite(result.fun) else 1.0
        lower, upper = flat.arrays() if flat else (None, None)
        check = penalties.l1_check(self.objective, dataset, result.x, grad, scale, lower, upper)
        if result.kkt is not None:  # the bounds' check first
            check = bounds_module.BoundCheck({**result.kkt.at_bound, **check.at_bound}, result.kkt.ok and check.ok,
                                             "; ".join(m for m in (result.kkt.message, check.message) if m))
        success, status, message = result.success, result.status, result.message
        if success and not check.ok:
            success, status = False, "kkt_failed"
            message = f"{message}; {check.message}: not an optimum of the penalised problem"
        return replace(result, kkt=check, success=success, status=status, message=message)

    def _fixed_values(self, given) -> dict:
        if given is None:
            return self.fixed
        values = fixing.check_fixed(self._untied, given)
        return fixing.check_same_names(self.fixed, values)

    def _solve_standardized(self, dataset, start, options: SolveOptions) -> Outcome:
        """The solve on centred and scaled features (:mod:`symopt.closed_form.standardize`), mapped back to ``dataset``'s
        (``start``: the flat start in the user's parameters, or None)."""
        form = self.objective.form
        scaling = scaling_for(self.objective, self._shared.standardize_plan(self.objective), dataset,
                              self.precision)
        work = scaling.data(dataset)
        if start is not None:
            start = scaling.forward(start, dataset)
        result = self._solve(work, start, options, scaling=lambda theta: scaling.back(theta, dataset))
        x = scaling.back(result.x, dataset)
        _, grad = self.flat_value_and_grad(dataset, x)
        optima = tuple(replace(o, x=scaling.back(o.x, dataset), params=form.unflatten(dataset, scaling.back(o.x, dataset)))
                       for o in result.optima)
        start = None if result.x0 is None else scaling.back(result.x0, dataset)
        # normal_factor is the standardized design's: the covariance is formed again on the user's features
        return replace(result, x=x, params=form.unflatten(dataset, x), optima=optima, x0=start, standardized=True,
                       normal_factor=None, grad_norm=float(np.max(np.abs(grad))) if grad.size else 0.0,
                       why=f"{result.why}; {scaling.describe()}")

    def _solve(self, dataset, start, options: SolveOptions, scaling=None, box=None) -> Outcome:
        """The solve on ``dataset`` from ``start`` (flat, or None for the default start); ``scaling`` (where
        ``dataset`` is the standardized data) maps a flat vector back to the user's parameters, for the
        callback and the advice; ``box``: the bounds along the flat vector (:class:`symopt.model.bounds.FlatBox`), or
        None."""
        objective, method, precision = self.objective, self.method, self.precision
        standardized = scaling is not None
        starts = options.starts
        unused = " and ".join(name for name, given in (("an optimizer", self.optimizer), ("x0", start),
                                                       (f"starts={starts}", starts > 1 or None))
                              if given is not None)
        if self._symbolic_later is not None and self._symbolic_later.done():
            self._settle_analysis()
        analysis, cf = self._analysis, self._closed_form
        linear = analysis.linear
        distributed = getattr(dataset, "distributed", False)
        # A quadratic objective that is not least squares: its linear solve needs all rows in one array, and the
        # exact bounded solve is for least squares; with bounds, or on Dask input, it is solved iteratively
        where = "with bounds" if box else "on Dask input" if distributed else None
        if distributed and box and linear is not None:  # the exact bounded solve reads the rows in one array
            cf = replace(cf, reason=f"{cf.reason} (with bounds on Dask input: solved iteratively, the exact "
                                    f"bounded solve reads the rows in one array)")
            linear = None
        if where and linear is not None and linear.kind != "least_squares":
            if method == "linear":
                raise ModelError(f"{where}, the linear closed form is for least squares, and this quadratic objective "
                                 f"is not a least-squares problem; use method='auto'")
            cf = replace(cf, reason=f"{cf.reason} ({where}: solved iteratively, the exact "
                                    f"{'bounded solve' if box else 'tall QR'} is for least squares)")
            linear = None
        if method in ("auto", "linear") and linear is not None:
            solution = dask_solve().least_squares_solution(self.objective, linear, dataset) if distributed else None
            return checked(linear_result(analysis, dataset, precision, cf, standardized, box, solution), unused)
        if method == "linear":
            raise ModelError(f"no linear closed form: {analysis.attempts[0].detail}")
        if method in ("auto", "symbolic") and analysis.solutions:
            sums = dask_solve().ChunkSums(self.objective, self.derivation, dataset) if distributed else None
            result = symbolic_result(analysis, dataset, precision, cf, box, sums)
            if result.success or method == "symbolic":
                return checked(result, unused)
            cf = result.closed_form  # keep the rejected candidates in the report
        elif method == "symbolic":
            raise ModelError(f"no symbolic closed form: {analysis.reason}")
        if precision == "high":
            raise PrecisionError(f"precision='high' needs a closed form, and there is none: {cf.reason}")
        # A kinked objective with an exact route of its own (symopt.run.kinked: quantile regression as an LP)
        routed = None if distributed else kinked.route(self, dataset, start, box, cf, unused)
        if routed is not None:
            return routed
        user = scaling or (lambda theta: theta)
        stops = None if options.max_time is None and options.callback is None else Stops(
            options.max_time, options.callback, lambda theta: objective.form.unflatten(dataset, user(theta)),
            options.started)
        if objective.l1 and starts == 1 and not standardized:
            lasso = self._coordinate_descent(dataset, start, cf, box, stops)
            if lasso is not None:
                return lasso
        if starts == 1:
            result = self._iterate(dataset, start, options.progress, cf, stops, standardized, box=box)
        else:
            result = self._iterate_from_many(dataset, start, options.progress, cf, stops, starts, options.seed,
                                             standardized, box)
        later = self._symbolic_later
        if later is None:
            return result
        # The symbolic tier was still running when the run began. A failed run waits for it (a closed form may
        # give what the run did not); a successful one takes it only if it is done by now.
        if not result.success:
            try:  # within max_time, when there is one
                later.result(timeout=None if stops is None or stops.max_time is None else max(stops.remaining(), 0.0))
            except FutureTimeout:
                pass
        if not later.done():
            return result
        self._settle_analysis()
        if self._analysis.solutions:
            sums = dask_solve().ChunkSums(self.objective, self.derivation, dataset) if distributed else None
            symbolic = symbolic_result(self._analysis, dataset, precision, self._closed_form, box, sums)
            if symbolic.success:
                return checked(symbolic, unused)
        return replace(result, closed_form=self._closed_form)

    def _coordinate_descent(self, dataset, start, cf, box, stops=None) -> Outcome | None:
        """An ``l1``-penalised least-squares fit by coordinate descent on the Gram matrix
        (:mod:`symopt.closed_form.lasso`), or an ``l1``-penalised loss over a data matrix by proximal Newton with
        coordinate descent (:mod:`symopt.run.proximal_newton`), or None where neither applies (then proximal
        gradient runs)."""
        given = self.optimizer
        if given is not None and not isinstance(given, CoordinateDescent):
            return None
        form, _ = self._shared.linear_stage(self.objective, self.derivation)
        outcome = None
        if form is not None and form.kind == "least_squares" and not self.objective.maximize:
            if stops is not None and stops.callback is not None:  # the Gram kernel runs to its end in one call
                if given is not None:
                    raise ModelError("CoordinateDescent on a least-squares Gram matrix runs in one call and takes no "
                                     "callback; drop callback= or use symopt.ProximalGradient()")
                return None  # proximal gradient calls it back
            outcome = lasso_result(self.objective, self.derivation, form, dataset, given or CoordinateDescent(),
                                   cf, start, box)
        elif proximal_newton.applies(self.objective, self.derivation):
            outcome = proximal_newton.proximal_newton_result(self.objective, self.derivation, dataset,
                                                             given or CoordinateDescent(), cf, start, box, stops)
        if outcome is None and given is not None:
            raise ModelError("CoordinateDescent is for an l1 penalty on a least-squares objective linear in its "
                             "parameters whose design is well enough conditioned for its Gram matrix, or on a "
                             "loss of the linear predictor over a data matrix (a GLM on a LinearModel()); this one "
                             "is neither: use symopt.ProximalGradient()")
        return outcome

    def _iterate(self, dataset, x0, progress, cf, stops, standardized: bool = False, warn: bool = True,
                 box=None) -> Outcome:
        """The iterative solve: the optimizer chosen (or given), the generated code run to a stop by the
        problem's driver (:mod:`symopt.run.drivers`), the curvature and the conditioning checked (and warned
        about where ``warn``). With bounds (``box``), the generated code keeps every iterate inside them
        (:mod:`symopt.model.bounds`)."""
        objective, driver = self.objective, self._driver
        task = Task(objective, self.derivation, dataset)
        n_params = sum(size for _, size in objective.form.blocks(dataset))
        distributed = getattr(dataset, "distributed", False)
        if distributed:
            optimizer, chosen = dask_solve().optimizer_for(self, n_params, dataset.n_rows)
        else:
            optimizer, chosen = driver.optimizer(n_params, dataset.n_rows)
        reason = driver.why(self.method, cf)
        bounds = None
        if box:
            x0 = box.inside(starting_point(task, x0), default=x0 is None)
            bounds = box.arrays()
            chosen = f"{chosen}; {bounds_module.describe(box, optimizer)}"
        if distributed:
            (run, code), extras = dask_solve().run(self, task, optimizer, x0, progress, stops, bounds), {}
        else:
            run, code, extras = driver.run(task, optimizer, x0, progress, stops, bounds)
        if isinstance(optimizer, ProjectedLevenbergMarquardt) and not run.success and \
                run.status not in (*USER_STOPS, "max_iter"):
            chosen = (f"{chosen}; the projected run stopped ({_projected_stop(run, objective.form.flat_names(dataset))}), "
                      f"so the full Levenberg-Marquardt ran from the same start")
            optimizer = optimizer.full()
            run, code, extras = driver.run(task, optimizer, x0, progress, stops, bounds)
        status, success, message = run.status, run.success, run.message
        conditioning = None
        if success or status == "line_search_failed":  # a failed search at a saddle or on a plateau: say so
            # On a bound the gradient is not zero: the curvature verdict (saddle, plateau) is for interior
            # points; the conditioning is of the free parameters' block.
            hess = dask_solve().hessian(task, run.x) if distributed else hessian_at(task, run.x)
            # with an l1 penalty the gradient is not zero at the optimum (its subgradient condition is checked
            # by _l1_finish): the interior curvature verdicts (saddle, plateau) are not for it
            verdict = None if run.held or objective.l1 else curvature_verdict(task, run.x, hess, start=run.x0)
            if verdict is not None:
                (status, message), success = verdict, False
            if hess is not None:
                keep = [j for j in range(run.x.size) if j not in run.held]
                conditioning = Conditioning(scaled_condition(hess[np.ix_(keep, keep)]), "hessian") if keep else None
                if success and warn and conditioning is not None:
                    warn_if_ill(conditioning, objective, standardized)
        return Outcome(params=objective.form.unflatten(dataset, run.x), x=run.x, fun=run.fun, method="iterative",
                      why=f"{reason}; {chosen}; {code}", closed_form=cf, success=success,
                      status=status, message=message, nit=run.nit, nfev=run.nfev, njev=run.njev,
                      grad_norm=run.grad_norm, history=run.history,
                      source=run.source, source_path=run.source_path, objective=objective,
                      derivation=self.derivation, optimizer=optimizer, precision="double", backend=run.backend,
                      conditioning=conditioning, x0=run.x0, **extras)

    def _iterate_from_many(self, dataset, x0, progress, cf, stops, starts, seed, standardized=False,
                           box=None) -> Outcome:
        """The iterative solve from ``starts`` points (:mod:`symopt.run.starts`, drawn as the runs need them), one
        compiled problem for all; ``max_time`` bounds the whole call."""
        objective = self.objective
        first = starting_point(Task(objective, self.derivation, dataset), x0)
        points = start_points(objective.form, dataset, first, starts, seed)
        if box:
            points = (box.inside(point, default=True) for point in points)
        deadline = None if stops is None or stops.max_time is None else stops.started + stops.max_time
        tally = run_starts(lambda point: self._iterate(dataset, point, False, cf, stops, standardized, False,
                                                       box=box), points, progress, starts, objective.maximize,
                           deadline)
        best = best_of(tally, seed, objective.maximize, planned=starts)
        if best.success:  # the conditioning of the optimum returned, not of every start's
            warn_if_ill(best.conditioning, objective, standardized)
        return best

    def value_and_grad(self, data, params) -> tuple[float, dict]:
        """``(F, gradient by name)``: the total objective (its reduction over all rows, plus the penalty) and
        its gradient at ``params`` (a mapping by name, or a flat vector), through the code that runs.

        That is the generated module's fused kernel where ``solve`` runs generated code (a network's
        backward pass; the objective-and-gradient kernel of the chosen optimizer's module, compiled or its
        interpreted twin, as the next ``solve`` would choose), and the NumPy
        evaluation of the derivation where it evaluates a closed form (as ``solve`` reports those).
        """
        objective = self.objective
        dataset = prepare(objective, fixing.with_values(objective, in_memory(objective, data, "value_and_grad"),
                                                        self.fixed))
        theta = objective.form.start(dataset, params, label="params")
        value, grad = self.flat_value_and_grad(dataset, theta)
        return value, objective.form.unflatten(dataset, grad)

    def initial_params(self, data) -> dict:
        """The starting parameters ``solve`` takes without ``x0``, by name: a network's seeded initial weights
        (its ``init`` and ``seed``; ``W1`` of shape (out, in), ``K1`` of shape (out, in, kh, kw), ...), the
        default start of any other model, on ``data``."""
        objective = self.objective
        dataset = prepare(objective, fixing.with_values(objective, in_memory(objective, data, "initial_params"),
                                                        self.fixed))
        return objective.form.unflatten(dataset, objective.form.default_start(dataset))

    def code_that_runs(self, dataset) -> str:
        """What evaluates this problem's objective on ``dataset`` (:attr:`symopt.Result.backend`'s words):
        "numpy" where ``solve`` evaluates a closed form, else "numba" or "python" (the interpreted twin)."""
        if self.runs_closed_form:
            return "numpy"
        return self._driver.next_backend(dataset, sum(size for _, size in self.objective.form.blocks(dataset)))

    def flat_value_and_grad(self, dataset, theta, backend: str | None = None) -> tuple[float, np.ndarray]:
        """``(F, flat gradient)`` at the flat vector ``theta`` on a prepared ``dataset`` (:func:`symopt.model.data.prepare`):
        through the code that runs (:meth:`code_that_runs`), or through ``backend``'s ("numpy": the NumPy
        evaluation of the derivation; "numba": the compiled module; "python": its interpreted twin)."""
        objective = self.objective
        if getattr(dataset, "distributed", False):  # Dask input: the NumPy evaluation summed over chunks
            return dask_solve().ChunkSums(objective, self.derivation, dataset).value_and_gradient(theta)
        backend = backend or self.code_that_runs(dataset)
        if backend == "numpy":
            return objective_value(objective, dataset, theta), gradient_at_point(Task(objective, self.derivation, dataset), theta)
        return self._driver.value_and_grad(dataset, theta, backend)

    # --- checking ----------------------------------------------------------------------------------------------

    def variant(self, method: str) -> "Problem":
        """The same problem (optimizer, precision, budget, backend) solved by ``method``; shares this one's
        derivation, analysis and compiled modules (they are kept per structure)."""
        return self.related(method=method)

    def related(self, **changes) -> "Problem":
        """This problem's objective built again with some options changed, by keyword (``optimizer``, ``method``,
        ``precision``, ``budget``, ``backend``, ``fixed``, ``bounds``; the others as this one's). What the
        services on a :class:`~symopt.Result` re-solve with (a profile holds one parameter fixed, a plot replays
        the run); problems of equal structure share their derivation, analysis and compiled modules."""
        options = dict(optimizer=self.optimizer, method=self.method, precision=self.precision, budget=self.budget,
                       backend=self.backend, fixed=self.fixed or None, bounds=self.box or None,
                       ties=self.ties or None, constraints=self.constraints or None)
        unknown = sorted(set(changes) - set(options))
        if unknown:
            raise TypeError(f"related() takes {', '.join(options)}; got {', '.join(unknown)}")
        options.update(changes)
        return Problem(self.full_objective, **options)

    def check_gradient(self, data=None, params=None, directions: int = 6, seed: int = 0,
                       tol: float = gradcheck.DEFAULT_TOL, compiled: bool = True) -> gradcheck.GradientCheck:
        """:func:`symopt.check_gradient` for this problem."""
        gradcheck.check_arguments(directions, seed, tol, compiled)  # before the data are read
        data = in_memory(self.objective, data, "check_gradient")
        return gradcheck.check_gradient(self, prepare(self.objective, data), params, directions, seed, tol, compiled)

    def convexity_proof(self) -> tuple:
        """``(Convexity, "")`` proved from the derivation (for all data), or ``(None, why not)``; worked out
        once per structure (:mod:`symopt.trust.convexity`)."""
        return self._shared.convexity_stage(self.objective, self.derivation)

    def convexity(self, data=None, samples: int = convexity_module.DEFAULT_SAMPLES, seed: int = 0):
        """:func:`symopt.convexity` for this problem."""
        objective = self.objective
        samples = whole_number("convexity", "samples", samples, 1, "points at which the Hessian is formed")
        check_seed("convexity", seed)
        data = in_memory(objective, data, "convexity")
        dataset = prepare(objective, data) if data is not None or not objective.data_names else None
        if dataset is not None:  # each sampled point is a vector of the parameters, drawn before any is checked
            p = sum(size for _, size in objective.form.blocks(dataset))
            check_count("convexity", "samples", samples, FLOAT * p + ARRAY_OVERHEAD)
        return convexity_module.verdict(self, dataset, samples, seed)

    def verify(self, data=None, x0=None, reference: str | None = "auto", gradient: bool = True,
               seed: int = 0, starts: int | None = None) -> verification.Verification:
        """:func:`symopt.verify` for this problem."""
        verification.check_arguments(gradient, seed)
        data = in_memory(self.objective, data, "verify")  # the reference libraries read arrays in memory
        return verification.verify(self, prepare(self.objective, data), x0, reference, gradient, seed,
                                   starts=starts)

    def __reduce__(self):
        # A problem holds this process's compiled modules, locks and background work: none of it travels. What
        # builds it again does (by keyword): unpickled, the structure key finds the derivation, analysis and
        # compiled modules in this process's table, or the analysis and compiled code in the cache folder.
        return _rebuilt, (dict(objective=self.full_objective, optimizer=self.optimizer, method=self.method,
                               precision=self.precision, budget=self.budget, backend=self.backend,
                               fixed=self.fixed or None, bounds=self.box or None, ties=self.ties or None,
                               constraints=self.constraints or None),)

    def __repr__(self) -> str:
        return f"<symopt.Problem {self.objective.describe()} method={self.method!r} closed form: {self._analysis.status}>"


def dask_solve():
    """:mod:`symopt.distributed.solve`, imported where Dask input is solved (symopt without Dask never imports it)."""
    from .distributed import solve

    return solve


def in_memory(objective, data, service: str):
    """``data`` with Dask collections computed into NumPy arrays, for ``service`` (which reads every row in one
    array: the reference libraries of ``verify``, the finite differences of ``check_gradient``); refused with
    the reason where they would not fit in memory (:func:`symopt.distributed.data.computed`)."""
    if not is_dask(data):
        return data
    from .distributed.data import computed

    return computed(objective, data, service)


def prepare_dask(objective, data):
    """:func:`symopt.distributed.data.prepare_dask` (imported only for Dask input)."""
    from .distributed.data import prepare_dask as prepare_chunks

    return prepare_chunks(objective, data)


def _dask_notes(result: Outcome, dataset) -> Outcome:
    """``result`` with what the Dask path did to the input (a rechunk) and did not check (separated classes)."""
    notes = list(dataset.notes)
    if result.objective is not None and separation.applies(result.objective) and result.x.size and \
            not chunked.not_separated(result.objective, dataset, result.x):
        notes.append("on Dask input the certificate that no direction separates the classes did not hold here, and "
                     "the linear programme that finds one reads all rows in one array: the classes may be "
                     "separated (parameters that ran off are the sign), so check on a sample that fits in memory "
                     "(symopt.verify)")
    if not notes:
        return result
    return replace(result, message="; ".join(m for m in (result.message, *notes) if m))


def _projected_stop(run, names) -> str:
    """Why a variable-projection run stopped, in words: its status, where (the parameters it reached) and what
    the driver found there, without the status's advice to the user (which is about data or models; here
    the full solver simply takes over from the start)."""
    from .optimizers.base import STATUS

    found = run.message.removeprefix(f"{run.status}: ")
    for _, _, advice in STATUS.values():
        found = found.replace(advice, "")
    found = found.strip(" ;")
    at = ", ".join(f"{name} = {value:.6g}" for name, value in zip(names, run.x))
    return f"{run.status} after {run.nit} iterations at {at}" + (f": {found}" if found else "")


def _rebuilt(options: dict) -> Problem:
    """An unpickled :class:`Problem`: built again, by keyword, from its objective and options."""
    return Problem(**options)


class Origin:
    """Where a :class:`~symopt.Result` came from: the one reference through which its services reach the
    problem and the data (:attr:`symopt.Result.origin`).

    It holds what builds the problem again (not the problem: a :class:`Problem` holds compiled code and
    locks), the prepared data, the layout of the flat vector (:class:`symopt.result.Layout`, so standard errors are shaped
    without the data) and ``memo``, what the services have worked out (statistics by covariance type, the
    convexity verdict, profiles), computed once and kept as statsmodels' ``cache_readonly`` does. The problem
    is built again from its options the first time a service needs it (in microseconds: problems of equal
    structure share their work), then kept. Pickled, it drops the data (a network optimizer's validation data
    too) and the problem and keeps the rest:
    services that need data then take ``data=``."""

    def __init__(self, objective, dataset, optimizer, bounds: dict, constraints=None):
        self.objective = objective  # the objective solved: the fixed parameters' values substituted
        self.optimizer = optimizer  # the optimizer that ran (None for a closed form)
        self.bounds = bounds or None
        self.constraints = constraints or None  # symopt.model.constraints.Constraints, kept by the re-solves
        self.dataset = dataset
        self.memo: dict = {}
        self._problem = None
        self._layout = None

    @property
    def layout(self) -> Layout:
        """The flat vector's layout (:class:`symopt.result.Layout`), worked out when first asked for (a
        network's has one name per weight: not worth forming on every solve), and before pickling."""
        if self._layout is None:
            self._layout = Layout.of(self.objective.form, self.dataset)
        return self._layout

    def problem(self) -> Problem:
        """The problem the services solve with: this objective (the fixed parameters held at their values), the
        optimizer that ran and the bounds the solve kept, the other options at their defaults (a verification
        tries every method; a profile re-fits in double precision); built once."""
        if self._problem is None:
            self._problem = Problem(self.objective, self.optimizer, bounds=self.bounds,
                                    constraints=getattr(self, "constraints", None))
        return self._problem

    def data_for(self, data, service: str):
        """The prepared data ``service`` runs on: ``data`` where given, else the data of the solve."""
        if data is not None:
            return prepare_dask(self.objective, data) if is_dask(data) else prepare(self.objective, data)
        if self.dataset is None:
            raise ModelError(f"{service} needs the data this result was solved on, and a pickled result does not "
                             f"carry its data: pass them, data=... (the same mapping or DataFrame given to solve)")
        return self.dataset

    def data_in_memory(self, data, service: str):
        """:meth:`data_for`, with Dask input computed into NumPy arrays (:func:`in_memory`) for a service that
        reads every row in one array (``verify``)."""
        dataset = self.data_for(data, service)
        if not getattr(dataset, "distributed", False):
            return dataset
        arrays = in_memory(self.objective, dict(dataset.arrays), service)  # checked when solved: not again
        return Dataset({name: np.ascontiguousarray(a, dtype=float) for name, a in arrays.items()}, dataset.n_rows,
                       dataset.n_classes)

    def __getstate__(self):
        self.layout  # the data are dropped: the layout is kept
        state = dict(self.__dict__)
        state["dataset"] = state["_problem"] = None
        if hasattr(self.optimizer, "without_data"):  # a network's validation data, given apart, are data too
            state["optimizer"] = self.optimizer.without_data()
        return state


def _result_of(outcome: Outcome, params: dict, fixed: dict, cov_type: str, origin: Origin,
               bounds: bounds_module.Box, tied: ties_module.Ties | None = None) -> Result:
    """The :class:`~symopt.Result` of a solve, built once, by keyword, from the :class:`~symopt.result.Outcome`
    its path gave (with the fixed parameters' values in ``params``) and the solve's ``bounds``, the one
    :class:`~symopt.model.bounds.Box` read where the solve came in."""
    s = outcome
    provenance = Provenance(
        closed_form=s.closed_form, objective=s.objective, derivation=s.derivation, optimizer=s.optimizer,
        precision=s.precision, source=s.source, source_path=s.source_path, history=s.history,
        conditioning=s.conditioning, x0=s.x0, standardized=s.standardized, starts=s.starts, optima=s.optima,
        exact=s.exact, exact_x=s.exact_x, kkt=s.kkt, separation=s.separation, normal_factor=s.normal_factor,
        tied=tied or ties_module.Ties.empty())
    network = Trained(predictor=s.predictor, buffers=s.buffers, diagnostics=s.diagnostics) \
        if origin.objective.network else None
    return Result(params=params, x=s.x, fun=s.fun, success=s.success, status=s.status, message=s.message,
                  method=s.method, why=s.why, provenance=provenance, nit=s.nit, nfev=s.nfev, njev=s.njev,
                  grad_norm=s.grad_norm, backend=s.backend, fixed=fixed, bounds=bounds, at_bound=s.at_bound,
                  cov_type=cov_type, network=network, origin=origin)

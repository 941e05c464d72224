"""The one-call front doors (``solve``, ``verify``, ``report``, ``gradient``, ``convexity``, ``check_gradient``),
each through a :class:`~symopt.problem.Problem` kept per structure.

Named ``front`` rather than ``solve``: a submodule ``symopt.solve``, once imported, would take the package
attribute ``symopt.solve`` from the function (the package's ``__init__`` imports its names lazily).
"""

from __future__ import annotations

from .closed_form.analysis import DEFAULT_BUDGET
from .errors import ModelError
from .model.objective import Objective
from .problem import Problem
from .result import Result
from .run.options import SolveOptions


def solve(objective: Objective, data=None, *, optimizer=None, method: str = "auto", precision: str = "double",
          x0=None, budget: float = DEFAULT_BUDGET, progress: bool = True, backend: str = "auto",
          max_time: float | None = None, callback=None, starts: int = 1, seed: int | None = 0,
          standardize: bool = False, cov_type: str = "nonrobust", fixed=None, bounds=None, ties=None,
          constraints=None) -> Result:
    """Find the optimum of ``objective`` on ``data``.

    The options are keyword-only (``solve(objective, data, optimizer=symopt.LBFGS())``), as scikit-learn's are.
    ``data`` maps the objective's data names to arrays (a DataFrame works), or is ``(X, y)`` for a
    ``LinearModel()`` over a data matrix or a network. An objective that reads no data (a function of its
    parameters alone, such as Rosenbrock's) takes none: ``solve(objective)`` minimises the function. Dask
    arrays (in a mapping, or ``(X, y)``) and a Dask DataFrame are solved chunk by chunk where the chunks lie
    (``pip install 'symopt[dask]'``; :mod:`symopt.distributed`, docs/concepts/dask.md).

    ``method="auto"`` takes a linear closed form if the gradient is affine in
    the parameters, else a symbolic stationary point in sufficient statistics
    if one exists and passes its checks, else generated code running
    ``optimizer``. By default symopt chooses the optimizer (Levenberg-Marquardt
    for sums of squares, Newton up to 50 parameters, else L-BFGS; for a
    network, Adam with lr=1e-3, batches of 64, 20 epochs) and says why in
    ``Result.why``. ``"linear"``,
    ``"symbolic"`` and ``"iterative"`` insist on one way and say why when it
    does not apply. ``precision="high"`` evaluates closed forms in 50-digit
    (or more) arithmetic. ``x0``: a mapping from parameter names to values,
    or a flat array, for the iterative solver. ``budget``: seconds SymPy may
    spend solving the stationarity equations. ``progress``: show a progress
    bar when an iterative run takes more than a second. ``backend``: what runs generated code,
    ``"numba"`` (compiled), ``"python"`` (its interpreted twin, no compile wait) or ``"auto"`` (the twin
    for small data until compiling pays; see :class:`symopt.Problem`); ``Result.backend`` says what ran.
    ``max_time``: wall-clock seconds from the call (the analysis and compiling included) after which an
    iterative run (or training) stops, between two chunks of iterations, with status ``max_time`` and the
    parameters reached; the symbolic tier's head start ends by then too. ``callback(iteration, objective, params)``: called after every
    iteration (every epoch, for a network) with the objective F and the parameters by name; returning
    True stops the run (status ``stopped_by_callback``). Ctrl-C stops it too (status ``interrupted``),
    returning the parameters after the last completed iteration instead of losing the run. A closed
    form ignores all three.

    ``starts=N`` (for a non-convex problem) runs the iterative solver from N starts: ``x0`` (or the default
    start) and N - 1 draws around it from a NumPy Generator seeded with ``seed`` (None: fresh randomness).
    A draw moves each parameter by a standard normal number times ``max(|its start|, 1)``; a parameter
    declared positive (``sympy.Symbol("s", positive=True)``) is multiplied by exp of one instead, so it
    stays positive; a network is initialised afresh under a drawn seed. The result is the best converged
    run; ``Result.optima`` lists the distinct optima found (parameters, objective value, how many starts
    reached each) and ``Result.starts`` how many starts ran. All starts share one compiled problem, and
    are drawn one at a time (N is at most 1,000,000); ``max_time`` bounds the whole call, and it, the
    callback and Ctrl-C stop the remaining starts too. A closed form ignores ``starts``.

    ``standardize=True`` fits on centred and scaled features (each feature minus its mean, over its standard
    deviation rounded to a power of two) and maps the parameters back: the same estimator, on
    better-conditioned data. It applies where every feature enters the model linearly with a coefficient
    of its own (a ``LinearModel``, ``a + b*x + c*z``, the logit of ``log_loss``), and is refused, with the
    reason, where one does not, with ``l2=`` (the penalty would change with the scale), for networks and
    for custom objectives. ``Result.conditioning`` reports the condition number of the solve's matrix (the
    column-scaled design for linear least squares, else the Jacobi-scaled Hessian at the solution); above
    1e8 the solve warns (:class:`symopt.IllConditionedWarning`) with advice.

    Uncertainty is worked out when first asked for (:mod:`symopt.stats.inference`): ``Result.cov``, ``corr``,
    ``stderr``, ``conf_int()``, ``rss``, ``residual_sd``, ``r2``, ``loglik``, ``aic``, ``bic`` and
    ``summary()``, for least squares (from the exact Jacobian of the residuals) and likelihoods (from the
    observed information); ``Result.stderr_reason`` says why where they do not apply. ``cov_type`` chooses
    the covariance those give: ``"nonrobust"`` (classical) or the sandwich ``"HC0"`` to ``"HC3"``.

    ``fixed={"c": 1.0}`` holds parameters at values: they are not fitted (``Result.params`` has them at their
    values, ``Result.fixed`` names them; ``x``, ``cov`` and ``stderr`` are the free parameters'). Which are
    fixed is structure, their values run-time: ``symopt.Problem(objective, fixed={"c": 1.0})`` solved with
    ``problem.solve(data, fixed={"c": 2.0})`` compiles once for every value.

    ``bounds={"a": (0, None), "b": (-1, 1)}`` keeps parameters in a range (None: an open side); a symbol
    declared ``positive=True`` or ``nonnegative=True`` is bounded below by 0 without it; a ``LinearModel()``
    over a data matrix takes ``{"coef": (0, None)}`` (every coefficient) or arrays of one bound each. Linear
    least squares is solved exactly with the bounds (an active-set method), symbolic candidates outside them
    are rejected, and the generated iterative solvers keep every iterate feasible by projected steps (a
    parameter on a bound with the gradient pointing out held there; :mod:`symopt.model.bounds`).
    ``Result.at_bound`` names the parameters that end on a bound, ``Result.kkt`` checks the gradient points
    out of the bounds there, and their standard errors are None (the others are computed with them held
    there). Whether there are bounds is structure, their values run-time.

    ``ties={"sigma_2": "sigma_1", "amp_2": "2*amp_1"}`` defines parameters as expressions of others (lmfit's
    ``expr``), substituted before the derivation: ``Result.params`` has them at their values, ``Result.tied``
    names them, ``Result.stderr`` gives their standard errors by the delta method; ``symopt.ties(..., new=...)``
    declares new parameters a tie reads. ``constraints=["a <= b", "x + y <= 1"]`` keeps linear inequalities
    between parameters (SLSQP on symopt's objective and gradient where the unconstrained optimum breaks one,
    then Newton steps on the active set); ``Result.multipliers`` gives their KKT multipliers and
    ``Result.kkt`` the check (:mod:`symopt.model.ties`, :mod:`symopt.model.constraints`,
    :mod:`symopt.run.constrained`). Both are structure.

    The same as ``symopt.Problem(objective, optimizer, method, precision, budget, backend, fixed,
    bounds, ties, constraints).solve(data, x0=x0, progress=progress, ...)`` with the remaining options by keyword:
    the derivation, analysis and compiled code are kept per structure of objective, so solving the same
    problem again (new data, another ``l2``) costs no SymPy and no compiling.
    """
    # max_time counts from here (the analysis and compiling too); the options are checked before any work
    options = SolveOptions(progress=progress, max_time=max_time, callback=callback, starts=starts, seed=seed,
                           standardize=standardize, cov_type=cov_type)
    deadline = None if max_time is None else options.started + max_time
    problem = Problem(objective, optimizer, method, precision, budget, backend, fixed, bounds, ties, constraints,
                      _deadline=deadline)
    return problem.solve_with(data, options, x0=x0)


def gradient(objective: Objective, data, params) -> dict:
    """The gradient of the total objective F (its reduction over all rows, plus the penalty) at ``params``, by name.

    ``params`` is a mapping from parameter names to values (``W1``, ``b1``, ... for a network)
    or a flat vector. It is ``symopt.Problem(objective).value_and_grad(data, params)[1]``: computed by the
    code ``solve`` runs (the generated module, or the NumPy evaluation of the derivation for a closed form).
    """
    if not isinstance(objective, Objective):
        raise ModelError(f"gradient() takes a symopt.Objective, got {type(objective).__name__}")
    return Problem(objective).value_and_grad(data, params)[1]


def check_gradient(objective, data=None, params=None, directions: int = 6, seed: int = 0, tol: float = 1e-6,
                   compiled: bool = True):
    """Check the gradient of the code that runs against the objective's own values.

    ``objective``: a :class:`symopt.Objective` or a :class:`symopt.Problem`. ``params``: the point (by name,
    or flat); by default the problem's default start moved by a seeded random step of 0.1 x ``max(1, |start|)``
    per entry (a point where nothing is zero by accident). ``directions`` seeded random unit directions
    (``seed``); ``tol`` bounds the central-difference error relative to the gradient's size. ``compiled``:
    also check the compiled module where the code that runs is another one. Returns a
    :class:`symopt.GradientCheck`; see :mod:`symopt.trust.gradcheck` for the two tests.
    """
    problem = objective if isinstance(objective, Problem) else Problem(objective)
    return problem.check_gradient(data, params, directions, seed, tol, compiled)


def verify(objective, data=None, x0=None, reference: str | None = "auto", gradient: bool = True, seed: int = 0,
           starts: int | None = None):
    """Solve the problem every way symopt and an installed reference library can, and compare.

    ``objective``: a :class:`symopt.Objective` or a :class:`symopt.Problem` (its optimizer and backend are
    used for the iterative runs). ``x0``: the first iterative start (the default start if None). ``starts``:
    the iterative solver's starts in all (None: 4): the first, the default start where ``x0`` is given, one
    drawn around the first, the rest spread over the plausible range (each parameter within
    ``+-max(10 |x|, 1)``) around the first start and the solution, drawn with ``seed``. ``reference``: "auto"
    picks the library fit for the problem's shape (:mod:`symopt.trust.references`), None skips it. ``gradient``:
    also run :func:`check_gradient` (at ``x0`` where given). Returns a :class:`symopt.Verification`; see
    :mod:`symopt.trust.verify`.
    """
    problem = objective if isinstance(objective, Problem) else Problem(objective)
    return problem.verify(data, x0, reference, gradient, seed, starts)


def convexity(objective, data=None, samples: int = 8, seed: int = 0):
    """Whether ``objective`` is convex, concave or neither: a :class:`symopt.Convexity` with ``kind``
    ("convex", "concave", "non-convex", "unknown"), ``certainty`` ("proved": from the derivation, for all
    data; "numerical": from Hessians at ``samples`` points on ``data``), the ``reason`` and, for non-convex,
    a ``witness`` (a point and a direction along which F curves the wrong way, checked on F itself).
    ``objective`` may be a :class:`symopt.Problem`. See :mod:`symopt.trust.convexity`."""
    problem = objective if isinstance(objective, Problem) else Problem(objective)
    return problem.convexity(data, samples, seed)


def report(objective, data=None, x0=None, verify: bool = True):
    """The derivation report (:class:`symopt.reporting.report.Report`: Markdown with LaTeX, shown as such in Jupyter;
    ``to_html()`` for a standalone page): the model, the objective, gradient and Hessian, the closed-form
    attempt (its formula, or why there is none), the convexity verdict, the method ``solve`` uses and an
    excerpt of the generated code. With ``data`` (or for an objective that reads none), also the result of
    solving it (from ``x0``) and, with ``verify=True``, its verification (:func:`verify`).

    ``objective``: a :class:`symopt.Objective` or a :class:`symopt.Problem`.
    """
    from .reporting import report as reporting
    from .model.data import prepare

    problem = objective if isinstance(objective, Problem) else Problem(objective)
    dataset = result = verification = None
    if data is not None or not problem.objective.data_names:
        dataset = prepare(problem.objective, data)
        result = problem.solve(dataset, x0=x0, progress=False)
        verification = result.verify(reference="auto") if verify else None
    return reporting.build(problem, dataset, result, verification)

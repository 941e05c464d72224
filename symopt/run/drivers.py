"""How a :class:`~symopt.problem.Problem`'s iterative solve runs, one driver per way of running it.

A problem evaluates a closed form where it has one (:mod:`symopt.closed_form.on_data`); otherwise its driver
answers, whatever kind of model it is:

- which optimizer the run uses and why (chosen for the problem, or the one given, checked);
- what runs the generated code (compiled, or its interpreted twin; :data:`PYTHON_MAX_WORK`);
- the run itself, through the one driver :func:`symopt.run.loop.run_iterative`, and what it adds to the
  :class:`~symopt.Result` (a network's batch-norm statistics, predictor and training diagnostics);
- the objective and gradient at a point through the code that runs (``problem.value_and_grad``).

:class:`GeneratedDriver` runs the solver module generated for an expression, a wide linear model or a
multinomial model; :class:`NetworkDriver` a network's generated backpropagation module. ``driver_for``
picks the one the kind of problem names (:attr:`symopt.model.kinds.base.Form.driver`).
"""

from __future__ import annotations

import abc
from dataclasses import fields, replace

import numpy as np

from ..closed_form.analysis import l1_analysis, network_analysis
from ..codegen import cache
from ..codegen.network_trainer import render_network
from ..codegen.render import render_key
from ..derivation.task import Task
from ..errors import ModelError
from ..numerics import threads
from ..optimizers import LevenbergMarquardt, ProjectedLevenbergMarquardt
from . import epochs as train
from . import validation
from .choose import check, choose
from .network_threads import parallel_wanted, pass_rows, threads_of
from .loop import InterpreterFault, kernel_value_and_grad, run_iterative

#: ``backend="auto"`` runs generated code in its interpreted twin (the same module with ``njit`` a no-op:
#: no compile wait, no Numba import) when the data have at most this many rows x parameters and the
#: compiled module is not loaded yet. Measured on 2 cores (Levenberg-Marquardt, ``a*exp(b*x)``): 100 rows
#: 13 ms, 1,000 rows 65 ms, 10,000 rows 0.8 s interpreted; compiling the module takes 5 to 8 s, loading it
#: compiled from the cache folder about 0.5 s plus 0.2 s to import Numba.
PYTHON_MAX_WORK = 20_000


class Driver(abc.ABC):
    """What every driver answers, for the problem it belongs to (its objective, derivation, optimizer,
    backend and shared work, :class:`symopt.run.shared.Shared`)."""

    def __init__(self, problem):
        self.problem = problem
        self.objective, self.derivation, self.shared = problem.objective, problem.derivation, problem._shared
        #: Whether the problem has bounds: its generated code then keeps them (:mod:`symopt.model.bounds`).
        self.bounded = bool(problem.box)

    def key(self, optimizer, parallel: bool = False) -> tuple:
        """What the generated module depends on besides the problem's structure (:func:`render_key`)."""
        return render_key(optimizer, self.bounded, parallel)

    def compiled(self, optimizer, backend: str = "numba", parallel: bool = False):
        """``(rendered, module, path)`` of the generated module for ``optimizer`` on ``backend`` (``parallel``:
        the compiled module whose kernels split the rows across threads, :mod:`symopt.numerics.threads`), loaded once
        per problem structure (:meth:`symopt.run.shared.Shared.module`)."""
        return self.shared.module((self.key(optimizer, parallel), backend),
                                  lambda: self.load(optimizer, backend, parallel))

    @abc.abstractmethod
    def load(self, optimizer, backend: str, parallel: bool = False):
        """Render, compile (or find in the cache folder) and import the module: ``(rendered, module, path)``."""

    @abc.abstractmethod
    def optimizer(self, n_params: int, n_rows: int = 0):
        """The optimizer the run uses: the problem's, checked, or one chosen for it."""

    @abc.abstractmethod
    def run(self, task, optimizer, x0, progress, stops=None, bounds=None):
        """``(run, words for what ran, extras for the Result)`` on ``task`` (:class:`~symopt.derivation.task.Task`); ``bounds``: the flat ``(lower, upper)`` arrays
        of a bounded problem."""

    @abc.abstractmethod
    def value_and_grad(self, dataset, theta, backend=None):
        """``(F, gradient of F)`` at ``theta`` through the code that runs, or through ``backend``'s."""

    def next_backend(self, dataset, n_params: int) -> str:
        """What the next iterative solve on ``dataset`` would run: "numba" or "python"."""
        optimizer, _ = self.optimizer(n_params, dataset.n_rows)
        return self.backend_for(optimizer, dataset.n_rows, n_params)

    def why(self, method: str, closed_form) -> str:
        """Why the solve is iterative, in words, for :attr:`symopt.Result.why`."""
        if method == "iterative":
            return "method='iterative' was requested"
        return f"no closed form: {closed_form.reason}"


class GeneratedDriver(Driver):
    """Runs the solver module generated for the problem and the chosen optimizer (an expression model, a
    linear model over a data matrix, a multinomial model): compiled, or its interpreted twin."""

    #: The words :attr:`symopt.Result.why` gives for what ran.
    code = "generated code"

    @staticmethod
    def check_backend(backend: str) -> None:
        """Any backend runs this driver's code."""

    def analysis(self):
        """None: the problem works out its closed-form analysis (a network's is fixed: :class:`NetworkDriver`;
        with an ``l1`` penalty there is none)."""
        return l1_analysis(self.objective, self.derivation) if self.objective.l1 else None

    def load(self, optimizer, backend, parallel=False):
        rendered = self.shared.rendered_for(self.objective, self.derivation, optimizer, self.bounded,
                                            parallel and backend == "numba")
        if backend == "numba":
            module, path = cache.load(rendered.source, rendered.stem)
        else:
            module, path = cache.load(rendered.python_source, f"{rendered.stem}_py")
        return rendered, module, path

    def optimizer(self, n_params: int, n_rows: int = 0):
        """``(optimizer, why in words)`` for an iterative run on ``n_rows`` rows of ``n_params`` parameters."""
        given = self.problem.optimizer
        if given is None:
            optimizer, chosen = choose(self.objective, self.derivation, n_params)
            return self._projected(optimizer, f"chose {type(optimizer).__name__}: {chosen}")
        if getattr(given, "by_epochs", False):
            raise ModelError(f"{type(given).__name__}: validation=, early_stopping= and schedule= are options of "
                             f"training a network by epochs (symopt.Network); this problem is not a network: drop "
                             f"them (max_iter=, tol= and ftol= stop this run)")
        check(self.objective, self.derivation, given, n_params)
        return self._projected(given, f"{type(given).__name__} as requested")

    def _projected(self, optimizer, why: str):
        """``LevenbergMarquardt(projection=True)`` as :class:`ProjectedLevenbergMarquardt` where the residuals
        are linear in some parameters and there is no penalty (:mod:`symopt.closed_form.projection`)."""
        if type(optimizer) is not LevenbergMarquardt or not optimizer.projection:
            return optimizer, why
        linear, _ = self.shared.projection_stage(self.objective)
        if not linear:
            return optimizer, why
        names = [p.name for p in self.objective.params]
        solved = ", ".join(names[j] for j in linear)
        if self.objective.l2:
            return optimizer, f"{why} (no variable projection of {solved}: it needs l2=0)"
        iterated = ", ".join(n for j, n in enumerate(names) if j not in linear)
        projected = ProjectedLevenbergMarquardt(**{f.name: getattr(optimizer, f.name) for f in fields(optimizer)},
                                                linear=linear)
        them = "it" if len(linear) == 1 else "them"
        return projected, (f"{why}; variable projection: {solved} (the residuals are linear in {them}) solved by "
                           f"linear least squares at every step, the iterations on {iterated} alone, without the "
                           f"geodesic step (LevenbergMarquardt(projection=False) iterates on all)")

    def backend_for(self, optimizer, n_rows: int, n_params: int) -> str:
        """What runs the next iterative solve: see :class:`symopt.Problem`. With ``backend="auto"``: compiled
        code where it is loaded already, where the cache folder holds it compiled (loading it takes a
        fraction of a second, less than the twin's first few solves), or for data past
        :data:`PYTHON_MAX_WORK`; else the interpreted twin until its runs have cost what compiling would
        (:data:`symopt.run.shared.COMPILE_SECONDS`)."""
        backend = self.problem.backend
        if backend != "auto":
            return backend
        shared, key = self.shared, self.key(optimizer)
        if (key, "numba") in shared.modules or n_rows * n_params > PYTHON_MAX_WORK:
            return "numba"
        handover = shared.handover_seconds(self.objective, self.derivation, optimizer, self.bounded)
        return "numba" if shared.interpreted.get(key, 0.0) >= handover else "python"

    def source(self, optimizer) -> str:
        """The generated (Numba) module's source (the interpreted twin differs only in its import lines)."""
        return self.shared.rendered_for(self.objective, self.derivation, optimizer, self.bounded).source

    def run(self, task, optimizer, x0, progress, stops=None, bounds=None):
        """``(Run, words for Result.why, Result fields this driver adds)``: the run on ``task`` (a
        :class:`~symopt.derivation.task.Task` of this driver's objective and derivation) on the backend
        :meth:`backend_for` picks (compiled: the serial module, or the parallel one for large data with more
        than one thread to use, :mod:`symopt.numerics.threads`), handed over to compiled code as
        :class:`symopt.Problem` says, or redone compiled where the interpreter faulted."""
        objective, derivation, dataset = task
        shared = self.shared
        n_params = sum(size for _, size in objective.form.blocks(dataset))
        backend = self.backend_for(optimizer, dataset.n_rows, n_params)
        parallel = backend == "numba" and threads.parallel_wanted(dataset.n_rows, n_params)
        code = self.code + (f", rows split across {threads.thread_budget()} threads" if parallel else "")
        switch = None
        if backend == "python" and self.problem.backend == "auto":
            left = shared.handover_seconds(objective, derivation, optimizer, self.bounded) - \
                shared.interpreted.get(self.key(optimizer), 0.0)
            switch = (max(left, 0.0), lambda: self.compiled(optimizer, "numba"))
        try:
            with threads.threads_for(parallel):
                run = run_iterative(task, optimizer, x0, progress, compiled=self.compiled(optimizer, backend, parallel),
                                    switch=switch, stops=stops, bounds=bounds)
        except InterpreterFault as fault:
            run = run_iterative(task, optimizer, x0, progress, compiled=self.compiled(optimizer, "numba"),
                                stops=stops, bounds=bounds)
            return run, f"{self.code} (compiled: the interpreted run met {fault} where compiled code gives " \
                        "inf or NaN)", {}
        if run.interpreted_seconds:
            key = self.key(optimizer)
            with shared.lock:
                shared.interpreted[key] = shared.interpreted.get(key, 0.0) + run.interpreted_seconds
        if run.backend == "python":  # Result.source_path names the file that holds Result.source
            rendered = shared.rendered_for(objective, derivation, optimizer, self.bounded)
            run = replace(run, source_path=cache.write(rendered.source, rendered.stem))
        return run, code, {}

    def value_and_grad(self, dataset, theta, backend=None):
        """``(F, flat gradient)`` through the objective-and-gradient kernel of the chosen optimizer's module,
        compiled (serial or parallel, as a solve on ``dataset`` runs it) or its interpreted twin, as the next
        ``solve`` would choose (``backend`` says which, if given)."""
        optimizer, _ = self.optimizer(theta.size)
        backend = backend or self.backend_for(optimizer, dataset.n_rows, theta.size)
        parallel = backend == "numba" and threads.parallel_wanted(dataset.n_rows, theta.size)
        try:
            rendered, module, _ = self.compiled(optimizer, backend, parallel)
            with threads.threads_for(parallel):
                fun, grad = kernel_value_and_grad(module, rendered, self.objective, dataset, theta)
        except InterpreterFault:
            rendered, module, _ = self.compiled(optimizer, "numba")
            fun, grad = kernel_value_and_grad(module, rendered, self.objective, dataset, theta)
        return self._with_l1(dataset, theta, fun, grad)

    def _with_l1(self, dataset, theta, fun, grad):
        """The kernels' ``(F, gradient)`` (the smooth part) with the ``l1`` term and the subgradient
        ``l1 w_j sign(theta_j)`` added, as the NumPy evaluation gives them (the proximal solvers handle the term
        apart from the kernels)."""
        o = self.objective
        if not o.l1:
            return fun, grad
        lam = (-1.0 if o.maximize else 1.0) * o.l1 * o.form.l1_mask(dataset)
        theta = np.asarray(theta, dtype=float)
        return fun + float(lam @ np.abs(theta)), grad + lam * np.sign(theta)


class NetworkDriver(Driver):
    """Trains a network through its generated forward and backward module: full-batch optimizers as any
    other problem, minibatch ones epoch by epoch through :class:`symopt.run.epochs.EpochLoop`. Always compiled."""

    @staticmethod
    def check_backend(backend: str) -> None:
        if backend == "python":
            raise ModelError("backend='python' is not available for networks: their trainer is always compiled "
                             "(use backend='auto' or 'numba')")

    def analysis(self):
        """A network's closed-form analysis: there is none, and why (:func:`symopt.closed_form.analysis.network_analysis`)."""
        return network_analysis(self.objective, self.derivation)

    def load(self, optimizer, backend, parallel=False):
        return train.load(self.objective, self.derivation, optimizer, parallel)

    def why(self, method: str, closed_form) -> str:
        return closed_form.reason  # a network has no closed form, whatever the method, and the reason says so

    def optimizer(self, n_params: int, n_rows: int = 0):
        net, given = self.objective.model, self.problem.optimizer
        if given is None:
            optimizer, chosen = train.default_optimizer(net, n_rows)
            return optimizer, f"chose {chosen}"
        train.check_optimizer(net, given)
        return given, f"{type(given).__name__} as requested"

    def backend_for(self, optimizer, n_rows: int, n_params: int) -> str:
        return "numba"

    def source(self, optimizer) -> str:
        return self.compiled(optimizer)[0].source

    def run(self, task, optimizer, x0, progress, stops=None, bounds=None):
        """The training run (a network has no bounds) on symopt's thread budget: the parallel module's
        convolutions on Numba's threads where they are large (:func:`symopt.run.network_threads.parallel_wanted`), the
        matrix products on BLAS's."""
        net = task.objective.model
        parallel = parallel_wanted(net, pass_rows(net, optimizer, task.dataset.n_rows))
        with threads_of(parallel) as budget:
            return self._train(task, optimizer, x0, progress, stops, budget if parallel else 0)

    def _train(self, task, optimizer, x0, progress, stops, parallel: int):
        """``(Run, words for Result.why, extras)``: full-batch optimizers as any other problem, minibatch ones by
        epochs with the held-out rows set apart; ``parallel``: the threads of the parallel module, 0 for the
        serial one."""
        objective, net, dataset = task.objective, task.objective.model, task.dataset
        rendered, module, path = self.compiled(optimizer, parallel=bool(parallel))
        code = "generated forward and backward code"
        if parallel:
            code += f", convolutions split across {parallel} threads"
        if train.full_batch(optimizer):
            loop, code = None, code + ", on all rows"
            run = run_iterative(task, optimizer, x0, progress, compiled=(rendered, module, path), stops=stops)
        else:
            # validation=: the held-out rows leave the training data (symopt.run.validation)
            training, held = validation.held_out(objective, optimizer, dataset)
            if held is not None:
                code = f"{code}; {held.words}"
                task = Task(objective, task.derivation, training)
            loop = train.EpochLoop(module, objective, optimizer, training.n_rows, held)
            run = run_iterative(task, optimizer, x0, progress, compiled=(rendered, loop, path), stops=stops)
            restored = loop.tracker.words()
            if restored and run.success:
                run = replace(run, message=restored if run.status == "stopped_early" else f"{run.message}; {restored}")
        stats = loop.stats if loop is not None else net.initial_buffers()
        extras = {"buffers": net.unflatten(stats.astype(np.float64), net.buffer_shapes()),
                  "predictor": train.Predictor(module, objective, run.x, stats, self._serial_key(optimizer, bool(parallel)))}
        if loop is not None:
            extras["diagnostics"] = train.diagnostics(net, loop.records, loop.tracker.record(run.nit))
        return run, code, extras

    def _serial_key(self, optimizer, parallel: bool):
        """The serial module's ``(source, stem)`` where the run's module is the parallel one (else None), which a
        pickled predictor names (rendered only, compiled where it is first loaded)."""
        if not parallel:
            return None
        rendered = render_network(self.objective, self.derivation, optimizer)
        return rendered.source, rendered.stem

    def value_and_grad(self, dataset, theta, backend=None):
        """``(F, flat gradient)`` through the generated backward pass (always compiled)."""
        optimizer, _ = self.optimizer(theta.size, dataset.n_rows)
        net = self.objective.model
        parallel = parallel_wanted(net, min(dataset.n_rows, net.pass_rows))
        with threads_of(parallel):
            module = self.compiled(optimizer, parallel=parallel)[1]
            return train.value_and_gradient_at(module, self.objective, dataset, theta)


#: The drivers, by the name a kind of problem gives (:attr:`symopt.model.kinds.base.Form.driver`).
DRIVERS = {"generated": GeneratedDriver, "network": NetworkDriver}


def driver_for(objective) -> type[Driver]:
    """The driver class for ``objective``'s form."""
    return DRIVERS[objective.form.driver]

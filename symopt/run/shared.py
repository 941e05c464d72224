"""What every problem of one structure shares, kept in this process: the derivation, the closed-form
analysis's stages (both also kept on disk beside the generated code, so a new process, a joblib worker
unpickling a problem, say, neither differentiates again nor runs SymPy's ``solve`` again) and the generated
solver modules.

The structure of an objective (:meth:`symopt.Objective.structure`) is everything but the numbers given at
run time; :func:`shared_for` finds or makes its :class:`Shared` in a least-recently-used table of
:data:`MAX_PROBLEMS` entries. :class:`symopt.Problem` is the one user of this module.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import replace

import sympy as sp

from .._version import __version__
from ..closed_form import standardize
from ..closed_form.analysis import symbolic_stage
from ..closed_form.convexity_proof import prove
from ..closed_form.linear import find_linear_form
from ..closed_form.projection import separable
from ..codegen import cache
from ..codegen.render import Rendered, render, render_fingerprint, render_key
from ..derivation.derive import Derivation, derive
from ..errors import ModelError
from ..model.objective import Objective

#: Where the cache folder does not hold the compiled module, a problem's interpreted runs (over all its
#: solves, or within one) go on until they have taken as long as compiling would (the ski-rental rule: never
#: more than twice the better choice in hindsight); then the compiled module takes over. Seconds compiling
#: costs (measured: 5 to 8 s for a module on 2 cores).
COMPILE_SECONDS = 5.0
#: Where the cache folder holds it compiled, the first solve loads it: 0.4 s (measured, Numba's import
#: included), about what the twin takes for 40 small solves, which then answer 10 times slower each.
LOAD_SECONDS = 0.0
#: Problem structures kept in this process (least recently used first out). Each holds a derivation, an
#: analysis and its compiled modules: a few hundred kB to a few MB.
MAX_PROBLEMS = 128
#: Bumped when what the analysis records hold changes meaning, so records of another layout are not read.
RECORD_VERSION = "4"  # 2: LinearForm moved to symopt.closed_form.records; 3: Convexity to symopt.closed_form.convexity; 4: the stage folders (issue 27): records under new class paths


class StageFuture(Future):
    """A :class:`~concurrent.futures.Future` of a symbolic stage that a forked child can still wait for.

    A fork copies the Future but not the thread that would complete it (nor the sandbox worker that thread
    waits on), so in the child it would stay pending forever: ``Problem.analysis`` would hang. After a fork
    (:func:`_after_fork_in_child`), a pending one is *orphaned*; the first ``result()`` in the child asks
    for the stage again (from memory, the disk records, or a new worker of the child's), and completes
    with that. Nothing is recomputed in a child that never asks (a joblib worker that only solves).
    """

    def __init__(self, ask_again):
        super().__init__()
        self._ask_again = ask_again  # () -> the stage, or a Future of it, as Shared.symbolic_stage_soon gives
        self._orphaned = False
        self._adopting = threading.Lock()

    def result(self, timeout=None):
        self._adopt()
        return super().result(timeout)

    def exception(self, timeout=None):
        self._adopt()
        return super().exception(timeout)

    def _orphan(self) -> None:
        """In a forked child: the parent's thread may have held these locks at the fork; nobody will release
        them here. (``_condition`` is the one concurrent.futures.Future waits on.)"""
        self._condition = threading.Condition()
        self._adopting = threading.Lock()
        self._orphaned = not self.done()

    def _adopt(self) -> None:
        if not self._orphaned:
            return
        with self._adopting:
            if not self._orphaned:
                return
            self._orphaned = False
            try:
                found = self._ask_again()
            except BaseException as exc:  # the caller who waits sees it
                self.set_exception(exc)
                return
        if isinstance(found, Future):
            found.add_done_callback(self._take)
        else:
            self.set_result(found)

    def _take(self, other: Future) -> None:
        failure = other.exception()
        if failure is not None:
            self.set_exception(failure)
        else:
            self.set_result(other.result())


class Shared:
    """What all objectives of one structure share: derivation, analysis stages and compiled modules."""

    def __init__(self, objective: Objective):
        self._text = None
        self.derivation = self._derivation(objective)
        self.lock = threading.RLock()
        self.linear = None  # (LinearForm or None, why not)
        self.convexity: dict = {}  # l2 > 0 -> (proved Convexity or None, why not)
        self.symbolic: dict = {}  # l2 -> SymbolicStage
        self.symbolic_running: dict = {}  # l2 -> (budget, Future of the SymbolicStage being worked out)
        self.rendered: dict = {}  # render key (with bounds or not) -> Rendered (both backends' sources)
        self.modules: dict = {}  # (render key, backend) -> (rendered, module, path)
        self.interpreted: dict = {}  # render key -> seconds spent in the interpreted twin, all solves together
        self.handover: dict = {}  # render key -> interpreted seconds before compiled code takes over (COMPILE or LOAD_SECONDS)
        self.prepared: dict = {}  # (l2, method) -> (analysis, deferred, formula text, symbolic stage or None)
        self.standardize: dict = {}  # l2 > 0 -> the standardize.Plan, or why there is none
        self.projection = None  # (indices of the parameters variable projection solves for, why not)
        _EVERY.add(self)  # so that a forked child can make its state usable (_after_fork_in_child)

    def _derivation(self, objective: Objective) -> Derivation:
        """The structure's derivation, from the disk records where a process derived it before (loading it
        takes about a millisecond where deriving takes 20-110 ms: measured on a wide logistic model, a
        Gaussian likelihood and a three-parameter curve), else derived and kept there."""
        key = f"derivation|{RECORD_VERSION}|{__version__}|{self.text(objective)}"
        found = cache.load_record(key)
        if not isinstance(found, Derivation):
            found = derive(objective)
            cache.store_record(key, found)
        return found

    def derivation_for(self, objective: Objective) -> Derivation:
        d = self.derivation
        return d if d.objective is objective else replace(d, objective=objective)

    def text(self, objective: Objective) -> str:
        """The structure as text (for the names of the records on disk)."""
        if self._text is None:
            self._text = "|".join(sp.srepr(part) if isinstance(part, sp.Basic) else repr(part)
                                  for part in _srepr_parts(objective.structure()))
        return self._text

    def linear_stage(self, objective: Objective, derivation: Derivation):
        with self.lock:
            if self.linear is None:
                key = f"linear|{RECORD_VERSION}|{__version__}|{self.text(objective)}"
                found = cache.load_record(key)
                if found is None:
                    found = find_linear_form(objective, derivation)
                    cache.store_record(key, found)
                self.linear = found
            return self.linear

    def projection_stage(self, objective: Objective) -> tuple:
        """:func:`symopt.closed_form.projection.separable`, worked out once per structure."""
        with self.lock:
            if self.projection is None:
                self.projection = separable(objective)
            return self.projection

    def standardize_plan(self, objective: Objective):
        """:func:`symopt.closed_form.standardize.plan_for` (the Plan, or its ModelError), worked out once per structure and
        penalty (a penalty rules it out)."""
        key = objective.l2 > 0
        with self.lock:
            if key not in self.standardize:
                try:
                    self.standardize[key] = standardize.plan_for(objective)
                except ModelError as refused:
                    self.standardize[key] = refused
            found = self.standardize[key]
        if isinstance(found, ModelError):
            raise ModelError(str(found))
        return found

    def convexity_stage(self, objective: Objective, derivation: Derivation):
        """``(proved Convexity or None, why not)``, proved once per structure and penalty sign (the proof in a
        SymPy child process; kept on disk beside the analysis)."""
        key_l2 = bool(objective.l2)
        with self.lock:
            hit = self.convexity.get(key_l2)
            if hit is None:
                key = f"convexity|{RECORD_VERSION}|{__version__}|{self.text(objective)}|l2>0={key_l2}"
                hit = cache.load_record(key)
                if hit is None:
                    hit = prove(objective, derivation)
                    cache.store_record(key, hit)
                self.convexity[key_l2] = hit
            return hit

    def _known_stage(self, objective: Objective, budget: float):
        """The symbolic stage from memory or the disk records, if one is known that ``budget`` would not
        improve on; else None. Called with the lock held."""
        stage = self.symbolic.get(objective.l2)
        if stage is None:
            stage = cache.load_record(self._stage_key(objective))
            if stage is not None:
                self.symbolic[objective.l2] = stage
        if stage is not None and not (stage.timed_out and budget > stage.budget):
            return stage
        return None

    def _stage_key(self, objective: Objective) -> str:
        return f"symbolic|{RECORD_VERSION}|{__version__}|{self.text(objective)}|l2={objective.l2!r}"

    def _keep_stage(self, objective: Objective, stage) -> None:
        with self.lock:
            self.symbolic[objective.l2] = stage
            cache.store_record(self._stage_key(objective), stage)

    def symbolic_stage(self, objective: Objective, derivation: Derivation, budget: float):
        """The symbolic stage, worked out now (waiting for one already being worked out in the background)."""
        found = self.symbolic_stage_soon(objective, derivation, budget)
        return found.result() if isinstance(found, Future) else found

    def symbolic_stage_soon(self, objective: Objective, derivation: Derivation, budget: float):
        """The symbolic stage if it is known, else a :class:`~concurrent.futures.Future` of it, worked out by a
        background thread (SymPy runs in a sandbox worker process, so the thread only waits on a pipe and the
        caller can run the iterative solver meanwhile). One computation per stage, whoever asks."""
        with self.lock:
            stage = self._known_stage(objective, budget)
            if stage is not None:
                return stage
            running = self.symbolic_running.get(objective.l2)
            if running is not None and running[0] >= budget:
                return running[1]
            future = StageFuture(lambda: self.symbolic_stage_soon(objective, derivation, budget))
            self.symbolic_running[objective.l2] = (budget, future)

        def work() -> None:
            try:
                stage = symbolic_stage(objective, derivation, budget)
                self._keep_stage(objective, stage)
                future.set_result(stage)
            except BaseException as exc:  # the caller who waits sees it
                future.set_exception(exc)
            finally:
                with self.lock:
                    if self.symbolic_running.get(objective.l2, (0, None))[1] is future:
                        del self.symbolic_running[objective.l2]

        # A daemon thread: a process that ends meanwhile does not wait for SymPy (its worker dies with it).
        threading.Thread(target=work, name="symopt-symbolic-tier", daemon=True).start()
        return future

    def rendered_for(self, objective: Objective, derivation: Derivation, optimizer, bounded: bool = False,
                     parallel: bool = False):
        """The generated module's sources for ``optimizer`` (``parallel``: the module whose kernels split the
        rows across threads): kept in this process, and on disk beside the compiled code under the
        structure, the render key and :func:`render_fingerprint` (the templates' contents and the versions
        the header names), so a new process neither prints nor renders again."""
        key = render_key(optimizer, bounded, parallel)
        with self.lock:
            hit = self.rendered.get(key)
            if hit is None:
                record = f"rendered|{RECORD_VERSION}|{render_fingerprint()}|{self.text(objective)}|{key!r}"
                hit = cache.load_record(record)
                if not isinstance(hit, Rendered):
                    hit = render(objective, derivation, optimizer, bounded, parallel)
                    cache.store_record(record, hit)
                self.rendered[key] = hit
            return hit

    def module(self, key, build):
        """The generated module kept under ``key`` (``(render key, backend)``), made by ``build()`` on first
        need: what each driver loads and how is the driver's (:mod:`symopt.run.drivers`)."""
        with self.lock:
            hit = self.modules.get(key)
            if hit is None:
                hit = self.modules[key] = build()
            return hit

    def handover_seconds(self, objective: Objective, derivation: Derivation, optimizer,
                         bounded: bool = False) -> float:
        """How long the interpreted twin runs before the (serial) compiled module takes over, in seconds:
        :data:`LOAD_SECONDS` if the cache folder holds its compiled code, else :data:`COMPILE_SECONDS` (looked
        at once per module)."""
        key = render_key(optimizer, bounded)
        with self.lock:
            if key not in self.handover:
                rendered = self.rendered_for(objective, derivation, optimizer, bounded)
                warm = cache.has_compiled_code(rendered.source, rendered.stem)
                self.handover[key] = LOAD_SECONDS if warm else COMPILE_SECONDS
            return self.handover[key]


def _srepr_parts(structure):
    for part in structure:
        if isinstance(part, tuple):
            yield "("
            yield from _srepr_parts(part)
            yield ")"
        else:
            yield part


_SHARED: OrderedDict = OrderedDict()
_SHARED_LOCK = threading.Lock()


def shared_for(objective: Objective) -> Shared:
    key = objective.structure()
    with _SHARED_LOCK:
        hit = _SHARED.get(key)
        if hit is not None:
            _SHARED.move_to_end(key)
            return hit
    made = Shared(objective)  # outside the lock: deriving may take a while
    with _SHARED_LOCK:
        hit = _SHARED.setdefault(key, made)
        _SHARED.move_to_end(key)
        while len(_SHARED) > MAX_PROBLEMS:
            _SHARED.popitem(last=False)
    return hit


def clear_problems() -> None:
    """Forget every problem kept in this process (the disk cache is :func:`symopt.clear_cache`)."""
    with _SHARED_LOCK:
        _SHARED.clear()


def kept_problems() -> int:
    """How many problem structures this process keeps (at most :data:`MAX_PROBLEMS`)."""
    return len(_SHARED)


_EVERY: weakref.WeakSet = weakref.WeakSet()  # every Shared alive, kept or not (a Problem holds its own)


def _after_fork_in_child() -> None:
    """Make this module's state usable in a forked child: threads of the parent (the symbolic tier's) may
    have held its locks at the fork, and the stages they were working out will not be finished here."""
    global _SHARED_LOCK
    _SHARED_LOCK = threading.Lock()
    for shared in list(_EVERY):
        shared.lock = threading.RLock()
        for _, future in shared.symbolic_running.values():
            future._orphan()
        shared.symbolic_running.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)

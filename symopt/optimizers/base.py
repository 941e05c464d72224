"""What every optimizer is: hyperparameters, a state schema, a template and
a NumPy reference.

The generated module of every optimizer defines two functions with one
signature, so the Python driver (``symopt.run.loop``) treats them alike::

    start(theta, grad, fs, fw, iw, <data>, mask, l2, sign, hyper) -> status
    run(theta, grad, fs, fw, iw, <data>, mask, l2, sign, hyper,
        budget, tol, ftol, history, k0) -> (status, iterations)

``theta`` and ``grad`` are updated in place; ``fs`` holds scalars
(``fs[0]`` the current value of ``sign * F``; ``fs[1]``: Levenberg-Marquardt's
starting value, or the non-finite value that ended a fixed-step run with status 3,
so the driver can tell a run off to ``-inf`` from an overflow); ``fw`` (float) and ``iw``
(int) hold the optimizer's own state, laid out as its ``state_size`` says.
``run`` does at most ``budget`` iterations and returns ``RUNNING`` if it has
not stopped, so the driver can show progress between calls and the state
carries over exactly.
"""

from __future__ import annotations

import enum
import functools
import inspect
import math
from dataclasses import dataclass, fields
from typing import ClassVar

import numpy as np

from ..errors import SUGGESTED_STARTS, ModelError

class Status(enum.IntEnum):
    """Why a run stopped: one code shared by the Python drivers and the generated modules, which define
    these names as constants (``common.py.jinja`` writes them from this class) and return them."""

    RUNNING = -1  # not stopped yet: run(...) did its budget of iterations
    CONVERGED = 0
    CONVERGED_FTOL = 1
    MAX_ITER = 2
    DIVERGED = 3  # a fixed step met a non-finite objective
    LINE_SEARCH_FAILED = 4
    NONFINITE_START = 5
    CONVERGED_XTOL = 6
    CONVERGED_PRECISION = 7
    COMPLETED = 8  # a network's epochs, or a stochastic run's max_iter: done, no convergence test
    DIVERGED_LOSS = 9  # the drivers' rule (diverged), never generated code
    UNBOUNDED = 10
    NONFINITE_GRADIENT = 11
    INTERRUPTED = 12  # the drivers' stops from here on: Ctrl-C,
    OUT_OF_TIME = 13  # max_time,
    CALLBACK_STOP = 14  # the callback,
    STALLED = 15  # a small-step stop that symopt.run.stationary finds is no stationary point
    SEPARATED = 16  # log loss or cross entropy on separated classes: no optimum exists (symopt.stats.separation)
    STOPPED_EARLY = 17  # a network's early stopping (symopt.run.validation): the best epoch's weights restored


RUNNING = Status.RUNNING
#: The codes generated modules return (the rest are the drivers'): each module defines them as constants.
GENERATED_STATUSES = (Status.RUNNING, Status.CONVERGED, Status.CONVERGED_FTOL, Status.DIVERGED,
                      Status.LINE_SEARCH_FAILED, Status.NONFINITE_START, Status.CONVERGED_XTOL,
                      Status.CONVERGED_PRECISION, Status.UNBOUNDED, Status.NONFINITE_GRADIENT)
#: status code -> (name, success, advice)
STATUS = {
    Status.CONVERGED: ("converged", True, "the largest gradient component is below tol"),
    Status.CONVERGED_FTOL: ("converged_ftol", True, "the relative change of the objective is below ftol"),
    Status.MAX_ITER: ("max_iter", False, "stopped after max_iter iterations before a convergence test was met; "
                           "raise max_iter, loosen tol, or scale the data"),
    Status.DIVERGED: ("diverged", False, "the objective became non-finite: the step is too large; use a smaller lr, "
                           "a line search, or scale the data (the last finite parameters are returned)"),
    Status.LINE_SEARCH_FAILED: ("line_search_failed", False, "no step along the search direction reduced the objective, though the "
                                     "gradient is well above the rounding of its terms: the gradient may be "
                                     "inaccurate (a kink in the objective?) or the problem badly scaled; "
                                     "scale the data, start elsewhere with x0=, or try another optimizer"),
    Status.NONFINITE_START: ("nonfinite_start", False, "the objective or its gradient is not finite at the starting point; "
                                  "give x0= inside the model's domain"),
    Status.CONVERGED_XTOL: ("converged_xtol", True, "the step is below xtol relative to the parameters"),
    Status.CONVERGED_PRECISION: ("converged_precision", True, "no step reduces the objective any further: converged to "
                                     "floating-point precision"),
    Status.COMPLETED: ("completed", True, "ran the requested number of epochs"),
    Status.DIVERGED_LOSS: ("diverged", False, "the objective ended far above its start (it rose by more than its starting size: "
                           "for a loss, to more than twice its starting value; see result.history): the steps "
                           "overshoot; lower lr (try 10x smaller) or scale the inputs"),
    Status.UNBOUNDED: ("unbounded", False, "the objective has no finite minimum (maximum, when maximising): it decreases "
                             "(increases) without bound; check maximize= and the model's sign, or add l2= to bound "
                             "it"),
    Status.NONFINITE_GRADIENT: ("nonfinite", False, "the objective is finite here but its gradient (Jacobian) overflows double precision: "
                             "the data are too large for the model at these parameters; scale the data or check the "
                             "row named (an outlier, or a missing-value code?)"),
    Status.INTERRUPTED: ("interrupted", False, "stopped by Ctrl-C (KeyboardInterrupt): the parameters after the last completed "
                               "iteration are returned; solve again with x0=result.params to go on"),
    Status.OUT_OF_TIME: ("max_time", False, "stopped after max_time seconds before a convergence test was met: the parameters "
                            "reached are returned; raise max_time, or go on with x0=result.params"),
    Status.CALLBACK_STOP: ("stopped_by_callback", False, "the callback returned True: the parameters at that iteration are "
                                       "returned"),
    Status.STALLED: ("stalled", False, "the steps became too small to go on, but the gradient is not small on the problem's "
                           f"own scale: no stationary point; start elsewhere with x0=, or from many starts "
                           f"(starts={SUGGESTED_STARTS})"),
    Status.SEPARATED: ("separated", False, "the classes are separated: the loss falls toward its infimum along a "
                                           "direction of the parameters, so the maximum-likelihood estimate does "
                                           "not exist; add l2=, bound the parameters, or drop what separates them"),
    Status.STOPPED_EARLY: ("stopped_early", True, "stopped early: the validation loss stopped improving "
                                                  "(early_stopping=), and the weights of its best epoch are returned"),
}
#: Stops the driver makes (never generated code): Ctrl-C, the time limit, the callback; and a stop on a
#: small step that is no stationary point (symopt.run.stationary).
INTERRUPTED, OUT_OF_TIME, CALLBACK_STOP, STALLED = (Status.INTERRUPTED, Status.OUT_OF_TIME, Status.CALLBACK_STOP,
                                                   Status.STALLED)
#: Stops on a small step (xtol, the precision floor): a success only at a point the driver verifies to be
#: stationary. (A stop on ftol, a small relative change of F that the user asked for, is taken at its word.)
STEP_STOPS = (Status.CONVERGED_XTOL, Status.CONVERGED_PRECISION)
#: A run whose objective ended far above its start (set by the drivers, ``symopt.run.loop`` and ``symopt.run.epochs``,
#: by :func:`diverged`; not by generated code).
DIVERGED_LOSS = Status.DIVERGED_LOSS
#: The objective decreases without bound: a ray test in the generated code, or the driver's depth test.
UNBOUNDED = Status.UNBOUNDED
#: The objective is finite but its gradient or Jacobian is not.
NONFINITE_GRADIENT = Status.NONFINITE_GRADIENT
#: A run has diverged when its objective (the minimised ``sign * F``) rose by more than ``DIVERGED_FACTOR - 1``
#: times its starting size: for a loss >= 0 (every network loss), when it ended above twice its start. Healthy
#: noisy SGD stays well below: fine-tuning a trained net at its own learning rate ends within about 1.2x of its
#: start, a fresh start ends below it; a run that ends above twice its start has made the model clearly worse,
#: whatever the noise. Descent methods with a line search never raise the objective, so only fixed steps trip it.
DIVERGED_FACTOR = 2.0


def falls_without_bound(fun, theta, d, f: float, gd: float) -> float:
    """The ray test for an unbounded objective: the farthest step of ``t = 2, 4, ..., 2**40`` along
    ``theta + t d`` if the minimised objective falls without bound along the ray, else 0.

    ``fun(theta) -> (f, g)`` in the minimised sense; ``f`` and ``gd = g . d < 0`` at ``theta``. The objective
    falls without bound when it reaches -inf (the last finite step is returned), or when at every doubling it
    keeps the Armijo decrease with the slope no less steep than at ``t = 0`` (to 1e-9): over a range of 2**40
    in the step no curvature shows that could stop it, where any function bounded below must flatten. The
    generated Newton and L-BFGS code apply the same test (``_ray``, and in ``_wolfe``); so does ``symopt.run.loop``
    from where a run stopped.
    """
    t = 1.0
    for _ in range(40):
        t *= 2.0
        ft, gt = fun(theta + t * d)
        if ft == -math.inf:
            return t / 2.0
        if not (math.isfinite(ft) and ft <= f + 1e-4 * t * gd and float(np.dot(gt, d)) <= gd * (1.0 - 1e-9)):
            return 0.0
    return t


def held_on_bounds(theta, grad, lower, upper) -> np.ndarray:
    """Which parameters sit on a bound with the gradient (of the minimised ``sign * F``) pointing out of the
    box ``lower <= theta <= upper``: a bounded run holds them there for the step, and its stopping rules read
    the others' gradient (the generated ``_free``; :mod:`symopt.model.bounds`)."""
    with np.errstate(invalid="ignore"):
        return ((theta <= lower) & (grad > 0.0)) | ((theta >= upper) & (grad < 0.0))


def box_of(p: int, lower, upper) -> tuple[np.ndarray, np.ndarray]:
    """``(lower, upper)`` as float arrays of ``p`` entries, open (``-inf`` / ``inf``) where None."""
    lo = np.full(p, -math.inf) if lower is None else np.asarray(lower, dtype=float)
    hi = np.full(p, math.inf) if upper is None else np.asarray(upper, dtype=float)
    return lo, hi


def diverged(start: float, end: float) -> bool:
    """Whether a run whose minimised objective went from ``start`` to ``end`` has diverged (see
    :data:`DIVERGED_FACTOR`); a non-finite ``end`` has."""
    return not end - start <= (DIVERGED_FACTOR - 1.0) * abs(start)


def plain_number(value):
    """NumPy integer, float and bool scalars as the Python ``int``, ``float`` and ``bool`` they stand for;
    anything else unchanged (so the checks below still see, and reject, strings and the like)."""
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _positive(owner: str, name: str, value, *, allow_zero: bool = False, integer: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value >= 0 if allow_zero else value > 0)
    if integer:
        ok = ok and isinstance(value, int)
    if not ok:
        kind = "an integer" if integer else "a number"
        raise ModelError(f"{owner}: {name} must be {kind} {'>= 0' if allow_zero else '> 0'}, got {value!r}")


def _fraction(owner: str, name: str, value) -> None:
    if not (isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1):
        raise ModelError(f"{owner}: {name} must be in [0, 1), got {value!r}")


def _flag(owner: str, name: str, value) -> None:
    if not isinstance(value, bool):
        raise ModelError(f"{owner}: {name} must be True or False, got {value!r}")


@dataclass(frozen=True)
class Optimizer:
    """Base of every optimizer: stopping rules shared by all.

    ``max_iter``: iterations (epochs when ``batch_size`` is set); ``tol``:
    stop when the largest gradient component is at most ``tol``; ``ftol``:
    stop when the objective changes by less than ``ftol`` relative (0: off).
    """

    name: ClassVar[str] = ""
    template: ClassVar[str] = ""
    needs: ClassVar[str] = "gradient"  # "gradient", "hessian" or "residuals"
    hyper_names: ClassVar[tuple] = ()

    def __new__(cls, *args, **options):
        # An option this optimizer does not take is a ModelError that says which optimizers take it, where the
        # dataclass's __init__ would raise Python's bare TypeError ("unexpected keyword argument").
        taken = keyword_options(cls)
        unknown = [name for name in options if taken is not None and name not in taken]
        if unknown:
            raise ModelError(_not_taken(cls, unknown[0], taken))
        return super().__new__(cls)

    def _check(self) -> None:
        owner = type(self).__name__
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "max_iter":
                _positive(owner, "max_iter", value, integer=True)
            elif f.name in ("tol", "ftol", "xtol"):
                _positive(owner, f.name, value, allow_zero=True)

    def __post_init__(self):
        for f in fields(self):  # np.int64(10) is as good as 10; store the plain Python value
            value = getattr(self, f.name)
            if plain_number(value) is not value:
                object.__setattr__(self, f.name, plain_number(value))
        self._check()

    def hyper(self) -> np.ndarray:
        """Hyperparameters as the float array the generated ``run`` reads (see ``hyper_names``)."""
        return np.array([float(getattr(self, n)) for n in self.hyper_names], dtype=float)

    def state_size(self, p: int, n: int) -> tuple[int, int]:
        """Lengths of the float and int state arrays for ``p`` parameters and ``n`` rows."""
        return (1, 1)

    def work_size(self, p: int, n: int) -> int:
        """Floats the generated loop allocates beside its state for ``p`` parameters and ``n`` rows (its work
        vectors and matrices: what :func:`symopt.numerics.sizes.check_run` counts before a run); a few vectors here."""
        return 4 * p

    def without_data(self) -> "Optimizer":
        """This optimizer as a pickled result keeps it (which drops data): itself, unless it holds data (the
        first-order optimizers' validation data)."""
        return self

    @property
    def stochastic(self) -> bool:
        return getattr(self, "batch_size", None) is not None

    def describe(self) -> str:
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self))
        return f"{type(self).__name__}({shown})"


@functools.lru_cache(maxsize=None)
def keyword_options(cls) -> tuple[str, ...] | None:
    """The options ``cls`` takes by keyword, in order (None where its ``__init__`` takes any: ``**kwargs``)."""
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return tuple(p.name for p in params if p.kind is not inspect.Parameter.POSITIONAL_ONLY)


def _optimizers(root=Optimizer) -> list[type]:
    """symopt's public optimizer classes below ``root``, in the order they are defined."""
    out = []
    for sub in root.__subclasses__():
        if sub.__module__.startswith("symopt.") and not sub.__name__.startswith("_"):
            out.append(sub)
        out += [k for k in _optimizers(sub) if k not in out]
    return out


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _not_taken(cls, name: str, taken: tuple[str, ...]) -> str:
    """Why ``cls(name=...)`` is refused: which of symopt's optimizers take ``name``, or the options ``cls`` takes."""
    owner = cls.__name__
    takers = [k for k in _optimizers() if name in (keyword_options(k) or ())]
    if not takers:
        return f"{owner} takes no option {name}=; its options are {', '.join(f'{t}=' for t in taken)}"
    epochs = getattr(takers[0], "epoch_options", ())
    if name in epochs:  # validation=, early_stopping=, schedule=: the first-order optimizers' network training
        example = next((k for k in takers if k.__name__ == "Adam"), takers[0])
        return (f"{owner} takes no {name}=: {_listed([f'{n}=' for n in epochs])} are options of training a network "
                f"by epochs (minibatches, with the validation loss after each epoch), which "
                f"{_listed([k.__name__ for k in takers])} do; {owner} trains on all rows at once. Give one of "
                f"those, such as symopt.{example.__name__}({name}=..., batch_size=32, epochs=20)")
    return (f"{owner} takes no {name}=: it is an option of {_listed([k.__name__ for k in takers])}; {owner}'s "
            f"options are {', '.join(f'{t}=' for t in taken)}")

"""Stops a user asks for while a run goes on: a time limit, a callback that may end it, and Ctrl-C.

Both drivers (``symopt.run.loop`` for generated optimizer loops, ``symopt.run.epochs`` for networks) check them
between calls into generated code, so what a run returns is always the state after a completed
iteration (an epoch, for a network).
"""

from __future__ import annotations

import inspect
import math
import numbers
import time

from ..errors import ModelError
from ..optimizers.base import CALLBACK_STOP, OUT_OF_TIME
from ..symbolic.parse import clip


def check_limits(max_time, callback) -> None:
    """Refuse a ``max_time`` that is not a positive number of seconds, or a ``callback`` that is not callable."""
    if max_time is not None:
        if isinstance(max_time, bool) or not isinstance(max_time, numbers.Real) or not (
                math.isfinite(max_time) and max_time > 0):
            raise ModelError(f"max_time must be a positive number of seconds (or None), got {max_time!r}")
    if callback is not None and not callable(callback):
        raise ModelError(f"callback must be a function callback(iteration, objective, params) -> True to stop, "
                         f"got {callback!r}")
    if callback is not None:
        _check_signature(callback)


def _check_signature(callback) -> None:
    """Refuse, before the run, a callback that cannot be called with the three arguments it is given
    (``iteration, objective, params``), where its signature can be read (a builtin's may not)."""
    try:
        signature = inspect.signature(callback)
    except (TypeError, ValueError):  # no signature to read: its first call will tell
        return
    try:
        signature.bind(0, 0.0, {})
    except TypeError as exc:
        raise ModelError(f"callback must take three arguments, callback(iteration, objective, params) (return True "
                         f"to stop); {_name(callback)}{signature} cannot be called so: {exc}") from None


def _name(callback) -> str:
    return getattr(callback, "__qualname__", None) or type(callback).__name__


class Stops:
    """``max_time`` (seconds from ``started``, a ``time.perf_counter()`` reading: the call to ``solve``, so
    analysis and compiling count) and ``callback(iteration, objective, params)``; ``params`` is
    ``params_of(theta)`` (by name). ``check`` says which stop applies, or None."""

    def __init__(self, max_time=None, callback=None, params_of=None, started: float | None = None):
        check_limits(max_time, callback)
        self.max_time, self.callback, self.params_of = max_time, callback, params_of
        self.started = time.perf_counter() if started is None else started

    def remaining(self) -> float:
        """Seconds left before ``max_time`` (inf without one; may be negative once it has passed)."""
        if self.max_time is None:
            return math.inf
        return self.max_time - (time.perf_counter() - self.started)

    @property
    def every_iteration(self) -> bool:
        """A callback watches every iteration (so the driver calls generated code one iteration at a time)."""
        return self.callback is not None

    def check(self, iteration: int, objective: float, theta) -> int | None:
        if self.callback is not None and self._called_back(iteration, objective, theta):
            return CALLBACK_STOP
        if self.remaining() <= 0.0:
            return OUT_OF_TIME
        return None

    def _called_back(self, iteration: int, objective: float, theta) -> bool:
        """The callback's answer at ``iteration``: True (or anything truthy) stops. A callback that raises, or
        answers with something that is neither true nor false (an array of several values), is a ModelError
        that says at which iteration and why (Ctrl-C inside it still interrupts the run)."""
        params = self.params_of(theta) if self.params_of is not None else theta.copy()
        where = f"the callback {_name(self.callback)} failed at iteration {iteration}"
        try:
            answer = self.callback(iteration, float(objective), params)
        except Exception as exc:
            raise ModelError(f"{where}: it raised {type(exc).__name__}: {clip(str(exc), 200)}") from exc
        try:
            return bool(answer)
        except Exception as exc:  # an array of several values, or an object whose truth is an error
            shape = f" of shape {answer.shape}" if hasattr(answer, "shape") else ""
            raise ModelError(f"{where}: it returned {type(answer).__name__}{shape}, which is neither true nor "
                             f"false ({exc}); return True to stop the run, False or None to go on") from None

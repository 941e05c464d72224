"""Stops a user asks for while a run goes on: a time limit, a callback that may end it, and Ctrl-C.

Both drivers (``symopt.run`` for generated optimizer loops, ``symopt.train`` for networks) check them
between calls into generated code, so what a run returns is always the state after a completed
iteration (an epoch, for a network).
"""

from __future__ import annotations

import math
import numbers
import time

from .errors import ModelError
from .optimizers.base import CALLBACK_STOP, OUT_OF_TIME


def check_limits(max_time, callback) -> None:
    """Refuse a ``max_time`` that is not a positive number of seconds, or a ``callback`` that is not callable."""
    if max_time is not None:
        if isinstance(max_time, bool) or not isinstance(max_time, numbers.Real) or not (
                math.isfinite(max_time) and max_time > 0):
            raise ModelError(f"max_time must be a positive number of seconds (or None), got {max_time!r}")
    if callback is not None and not callable(callback):
        raise ModelError(f"callback must be a function callback(iteration, objective, params) -> True to stop, "
                         f"got {callback!r}")


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
        if self.callback is not None:
            params = self.params_of(theta) if self.params_of is not None else theta.copy()
            if self.callback(iteration, float(objective), params):  # True (or anything truthy) stops
                return CALLBACK_STOP
        if self.remaining() <= 0.0:
            return OUT_OF_TIME
        return None

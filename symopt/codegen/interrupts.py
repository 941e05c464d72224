"""A Ctrl-C during a Numba compile is never lost.

Python runs a signal's handler at the next bytecode of the main thread, wherever that is. During a compile
that is often inside code whose exceptions are printed and dropped: llvmlite's ctypes callbacks (the
execution engine's object-cache notifier) and the ``__del__`` of its LLVM objects. The ``KeyboardInterrupt``
raised there never reaches the caller, and the compile goes on to the end as though no key had been pressed
(about one Ctrl-C in four in a sweep over a small module's compile, issue 26's fault tests).

While a compile runs in the main thread, and only while Python's own SIGINT handler is in place, a handler
of ours records that the signal came before raising ``KeyboardInterrupt`` as Python's would. When a compile
ends (Numba's ``numba:compile`` event, at every depth) and a recorded interrupt did not come out of it,
``KeyboardInterrupt`` is raised there: before Numba saves what was compiled, so nothing compiled under an
interrupt reaches the cache. A handler other than Python's (a debugger's, a framework's) is left alone.
"""

from __future__ import annotations

import contextlib
import signal
import threading

_INSTALLED: list = []  # the listener, once registered with Numba (once per process)
_LOCK = threading.Lock()
_STATE = {"depth": 0, "pending": False, "previous": None}  # the main thread's compiles only


def install() -> None:
    """Register the listener with Numba's event system (once per process; thread-safe)."""
    with _LOCK:
        if _INSTALLED:
            return
        from numba.core import event

        class _Listener(event.Listener):
            def on_start(self, ev):
                enter()

            def on_end(self, ev):
                # Numba keeps the exception leaving the compile in a private field (its public is_failed
                # reads it upside down, Numba 0.68); without it a propagating interrupt is raised anew.
                details = getattr(ev, "_exc_details", None)
                leave(details[0] if details else None)

        listener = _Listener()
        event.register("numba:compile", listener)
        _INSTALLED.append(listener)


@contextlib.contextmanager
def guarded():
    """The same guard around work of symopt's next to a compile (Numba's cache reads and writes: its first
    read sets up Numba's runtime, which compiles too)."""
    enter()
    try:
        yield
    except BaseException as exc:
        leave(type(exc))
        raise
    leave(None)


def _record_and_raise(signum, frame):
    _STATE["pending"] = True  # kept until the guard is left (and raised again there if it was dropped)
    raise KeyboardInterrupt


def enter() -> None:
    """A compile starts (nested ones count): in the main thread, put our SIGINT handler in place of Python's."""
    if threading.current_thread() is not threading.main_thread():
        return  # signals reach the main thread only; another thread's compile is not ours to guard
    if _STATE["depth"] == 0:
        current = signal.getsignal(signal.SIGINT)
        if current is signal.default_int_handler:
            signal.signal(signal.SIGINT, _record_and_raise)
            _STATE["previous"] = current
    _STATE["depth"] += 1


def leave(raised: type | None) -> None:
    """A compile ends with ``raised`` leaving it (or None): give Python's handler back at the outermost, and
    raise ``KeyboardInterrupt`` if one came and was dropped on the way."""
    if threading.current_thread() is not threading.main_thread() or _STATE["depth"] == 0:
        return
    _STATE["depth"] -= 1
    if _STATE["depth"] == 0 and _STATE["previous"] is not None:
        if signal.getsignal(signal.SIGINT) is _record_and_raise:
            signal.signal(signal.SIGINT, _STATE["previous"])
        _STATE["previous"] = None
    if not _STATE["pending"]:
        return
    _STATE["pending"] = False
    if raised is not None and issubclass(raised, KeyboardInterrupt):
        return  # it came out by itself
    raise KeyboardInterrupt

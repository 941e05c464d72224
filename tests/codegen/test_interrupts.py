"""The guard that keeps a Ctrl-C during a compile from being lost (symopt/codegen/interrupts.py), in this
process: a SIGINT whose exception Python drops (here in a ``__del__``) is raised again where the guard is
left; a handler that is not Python's own is never replaced; other threads are not guarded."""

from __future__ import annotations

import signal
import threading

import pytest

from symopt.codegen import interrupts

# Python reports what it drops in a __del__ as "unraisable"; that drop is the subject here.
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


class _Dropper:
    """Its ``__del__`` receives a SIGINT; Python prints the KeyboardInterrupt raised there and drops it."""

    def __del__(self):
        signal.raise_signal(signal.SIGINT)
        sum(range(10))  # the handler runs at the next bytecodes, still inside __del__


@pytest.fixture
def python_handler():
    """Python's own SIGINT handler for the test (a pytest-xdist worker runs with SIGINT ignored)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def test_an_interrupt_dropped_inside_the_guard_is_raised_when_it_is_left(python_handler):
    with pytest.raises(KeyboardInterrupt):
        with interrupts.guarded():
            assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
            _Dropper()  # made and collected at once: its interrupt is dropped
            # still here: without the guard the process would go on as though no key had been pressed
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_nested_guards_raise_once_at_the_innermost_and_a_propagating_interrupt_is_not_raised_again(
        python_handler):
    with pytest.raises(KeyboardInterrupt) as caught:
        with interrupts.guarded():
            with interrupts.guarded():
                _Dropper()
    assert caught.value.__context__ is None  # one interrupt, not one raised while handling another
    left = []
    with interrupts.guarded():  # nothing pending after: this guard is entered and left without an interrupt
        left.append(signal.getsignal(signal.SIGINT))
    assert left[0] is not signal.default_int_handler  # the guard's handler was in place inside
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # and Python's is back after


def test_a_handler_that_is_not_pythons_is_left_alone():
    calls = []
    before = signal.signal(signal.SIGINT, lambda signum, frame: calls.append(signum))
    try:
        with interrupts.guarded():
            assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
            signal.raise_signal(signal.SIGINT)
            sum(range(10))
        assert calls == [signal.SIGINT]  # its own handler ran, and nothing was raised
    finally:
        signal.signal(signal.SIGINT, before)


def test_another_threads_compile_does_not_touch_the_handler(python_handler):
    seen = []

    def work():
        with interrupts.guarded():
            seen.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen == [signal.default_int_handler]

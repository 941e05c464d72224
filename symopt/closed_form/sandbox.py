"""Run a SymPy computation in a child process with a wall-clock budget.

``sympy.solve`` can run for minutes or forever on an innocent-looking
system. Running it in a separate process lets the caller stop waiting: after
the budget the child is killed and the caller gets a :class:`Timeout` it can
report as "timed out after N s".

The child is a fresh interpreter running ``python -m symopt.closed_form.sandbox``
(not ``multiprocessing``, whose "spawn" start would re-run the user's main
script). The function is named by module and attribute; arguments and the
result travel pickled through the pipes, between this package and itself.

The child never outlives its caller. The caller kills it on any exception,
``KeyboardInterrupt`` included (Jupyter's interrupt is a SIGINT to the kernel
alone, and the kernel lives on). Against a caller that dies outright (SIGTERM,
SIGKILL, a crash) the child has two guards of its own: its stdin is a
lifeline the caller holds open for the child's whole life, and on Linux it
asks the kernel for SIGKILL when its parent dies (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import ctypes
import importlib
import os
import pickle
import signal
import struct
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

# The request is length-prefixed so that the child knows where it ends without
# waiting for EOF: EOF on stdin is kept to mean "the caller is gone".
_HEADER = struct.Struct(">Q")
# Exit code of a child that finds its caller gone; nobody reads it but the tests.
_ORPHANED = 3
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


class Timeout(Exception):
    """The child did not finish within its budget."""

    def __init__(self, seconds: float):
        super().__init__(f"timed out after {seconds:g} s")
        self.seconds = seconds


class ChildFailed(Exception):
    """The child raised or died; the message carries its error text."""


def run_with_budget(func, args: tuple, seconds: float):
    """Call ``func(*args)`` in a child interpreter; return its result or raise.

    ``func`` must be a module-level function; ``args`` and its result picklable.
    Raises :class:`Timeout` after ``seconds`` and :class:`ChildFailed` if the
    child raised or died. The child is killed if this call is interrupted.
    """
    request = _request(func, args)
    # The child must import this very symopt, even when the caller put it on sys.path by hand.
    home = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [home, os.environ.get("PYTHONPATH")])))
    # Our own pipe rather than stdin=PIPE: communicate() closes proc.stdin, and
    # its write end is the child's lifeline, to stay open until the child is gone.
    child_end, lifeline = os.pipe()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "symopt.closed_form.sandbox", str(os.getpid())],
                                env=env, stdin=child_end, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except BaseException:
        os.close(lifeline)
        raise
    finally:
        os.close(child_end)
    # A thread writes the request while communicate() drains stdout and stderr:
    # a request larger than the pipe buffer must not block before the budget runs.
    feeder = threading.Thread(target=_feed, args=(lifeline, request), daemon=True)
    feeder.start()
    try:
        out, err = proc.communicate(timeout=seconds)
    except BaseException as exc:
        # TimeoutExpired, and also KeyboardInterrupt or anything else raised into this frame.
        proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
        if isinstance(exc, subprocess.TimeoutExpired):
            raise Timeout(seconds) from None
        raise
    finally:
        # The child is dead here, so the feeder is done or about to fail with EPIPE;
        # closing the descriptor under a running feeder could let it write into a reused one.
        feeder.join()
        os.close(lifeline)
    if proc.returncode != 0 or not out:
        text = err.decode(errors="replace").strip().splitlines()
        raise ChildFailed(text[-1] if text else f"the solver process exited with code {proc.returncode}")
    status, value = pickle.loads(out)
    if status == "error":
        raise ChildFailed(value)
    return value


def _request(func, args: tuple) -> bytes:
    """The bytes the child reads from its stdin: a length, then the pickled call."""
    payload = pickle.dumps((func.__module__, func.__qualname__, args))
    return _HEADER.pack(len(payload)) + payload


def _feed(fd: int, data: bytes) -> None:
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view):]
    except OSError:  # the child died before reading it all; communicate() reports why
        pass


def _main() -> int:
    parent = int(sys.argv[1]) if len(sys.argv) > 1 else None
    _die_with_parent(parent)
    # Raw reads on fd 0, not sys.stdin.buffer: the watcher thread below blocks in a
    # read for the child's whole life, and a daemon thread holding the buffered
    # reader's lock makes interpreter shutdown abort ("could not acquire lock").
    header = _read_exactly(0, _HEADER.size)
    payload = _read_exactly(0, _HEADER.unpack(header)[0]) if header else b""
    if not payload:
        return _ORPHANED  # the caller went away before it had sent the request
    threading.Thread(target=_exit_on_eof, args=(0,), daemon=True).start()
    module_name, qualname, args = pickle.loads(payload)
    if not module_name.startswith("symopt."):
        print("the sandbox runs symopt's own functions only", file=sys.stderr)
        return 2
    try:
        func = getattr(importlib.import_module(module_name), qualname)
        result = ("ok", func(*args))
    except Exception as exc:
        result = ("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}")
    sys.stdout.buffer.write(pickle.dumps(result))
    sys.stdout.buffer.flush()
    return 0


def _read_exactly(fd: int, size: int) -> bytes:
    """``size`` bytes from ``fd``, or ``b""`` if it reaches EOF first."""
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return b""
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _exit_on_eof(fd: int) -> None:
    """First guard, every platform: exit when the caller's end of stdin closes.

    The kernel closes that end whenever the caller dies, by any signal, SIGKILL
    included. It needs the GIL to act, which SymPy's pure-Python loops release
    every few milliseconds.
    """
    try:
        while os.read(fd, 4096):
            pass
    except OSError:
        pass
    os._exit(_ORPHANED)  # no cleanup: there is nobody left to report to


def _die_with_parent(parent: int | None) -> None:
    """Second guard, Linux only: the kernel sends SIGKILL when the parent dies.

    It needs no GIL, so it also ends a child stuck in a long C call. Elsewhere,
    or if ``prctl`` is unavailable, the stdin guard alone remains.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
            return
    except (OSError, AttributeError):
        return
    # The request only covers deaths from now on, and importing symopt took a
    # while: a parent that died meanwhile has already handed us to another.
    # (Checked only where prctl worked: elsewhere a launcher between the caller
    # and this interpreter, as in Windows venvs, would make a false alarm.)
    if parent is not None and os.getppid() != parent:
        os._exit(_ORPHANED)


def _echo_after_sleep(value, seconds: float = 0.0, ready_path: str | None = None):
    """Return ``value`` after ``seconds``; exists for tests/test_sandbox.py.

    If ``ready_path`` is given, first write this process's pid there, so a test
    knows the child is running the function and which process to watch.
    """
    if ready_path is not None:
        Path(ready_path + ".tmp").write_text(str(os.getpid()))
        os.replace(ready_path + ".tmp", ready_path)  # the reader never sees a partial pid
    time.sleep(seconds)
    return value


if __name__ == "__main__":
    sys.exit(_main())

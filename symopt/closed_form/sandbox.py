"""Run a SymPy computation in a child process with a wall-clock budget.

``sympy.solve`` can run for minutes or forever on an innocent-looking
system. Running it in a separate process lets the caller stop waiting: after
the budget the child is killed and the caller gets a :class:`Timeout` it can
report as "timed out after N s".

The children are reused: a call takes an idle worker (or starts one), and a
worker that answered goes back to the pool for the next call, so only the
first call pays for a new interpreter and SymPy's import (about a second).
Concurrent callers each get a worker of their own, so one call's timeout
kills only that call's worker. A worker is a fresh interpreter running
``python -m symopt.closed_form.sandbox`` (not ``multiprocessing``, whose
"spawn" start would re-run the user's main script). The function is named by
module and attribute; requests and results travel pickled and
length-prefixed through the pipes, between this package and itself.

A worker never outlives its caller. The caller kills it on any exception
during a call, ``KeyboardInterrupt`` included (Jupyter's interrupt is a SIGINT
to the kernel alone, and the kernel lives on). Against a caller that dies
outright (SIGTERM, SIGKILL, a crash) the worker has two guards of its own: its
stdin, which carries the requests, is a lifeline the caller holds open for
the worker's whole life (its end closing means the caller is gone, whatever
the worker is doing), and on Linux it asks the kernel for SIGKILL when its
parent dies (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import importlib
import os
import pickle
import queue
import select
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import weakref
from pathlib import Path

# Requests and results are length-prefixed, so that EOF on the worker's stdin
# keeps one meaning: "the caller is gone".
_HEADER = struct.Struct(">Q")
# Exit code of a worker that finds its caller gone; nobody reads it but the tests.
_ORPHANED = 3
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
#: Idle workers kept for the next call (more concurrent callers start more; the extra ones exit after).
MAX_IDLE = 2


class Timeout(Exception):
    """The child did not finish within its budget."""

    def __init__(self, seconds: float):
        super().__init__(f"timed out after {seconds:g} s")
        self.seconds = seconds


class ChildFailed(Exception):
    """The child raised or died; the message carries its error text."""


class _Worker:
    """One child interpreter: requests on its stdin, results on its stdout, errors to a private file."""

    def __init__(self):
        # The child must import this very symopt, even when the caller put it on sys.path by hand.
        home = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [home, os.environ.get("PYTHONPATH")])))
        self.errors = tempfile.TemporaryFile()
        # Our own pipe rather than stdin=PIPE: its write end is the child's lifeline, kept as a bare fd.
        child_end, self.lifeline = os.pipe()
        try:
            self.proc = subprocess.Popen([sys.executable, "-m", "symopt.closed_form.sandbox", str(os.getpid())],
                                         env=env, stdin=child_end, stdout=subprocess.PIPE, stderr=self.errors)
        except BaseException:
            os.close(self.lifeline)
            self.errors.close()
            raise
        finally:
            os.close(child_end)
        self.out = self.proc.stdout.fileno()
        self.feeder = None
        _EVERY.add(self)

    def release_in_child(self) -> None:
        """In a forked child: close this process's copies of the parent's worker's pipes. The lifeline above
        all: while a copy of it is open, the worker does not see its caller die (where the parent-death
        signal is missing, off Linux)."""
        with contextlib.suppress(OSError):
            os.close(self.lifeline)
        for handle in (self.proc.stdout, self.errors):
            with contextlib.suppress(OSError):
                handle.close()
        self.proc.returncode = 0  # not our child: Popen must not wait for it (nor warn that it still runs)

    def call(self, request: bytes, seconds: float):
        """Send ``request`` and wait at most ``seconds`` for the reply: ``(status, value)``."""
        deadline = time.monotonic() + seconds
        # A thread writes the request while this one waits for the reply: a request larger than the
        # pipe's buffer must not block before the budget runs (the worker reads as it arrives).
        self.feeder = threading.Thread(target=_feed, args=(self.lifeline, request), daemon=True)
        self.feeder.start()
        header = self._read(_HEADER.size, deadline, seconds)
        reply = self._read(_HEADER.unpack(header)[0], deadline, seconds)
        self.feeder.join()
        return pickle.loads(reply)

    def _read(self, size: int, deadline: float, seconds: float) -> bytes:
        chunks, left = [], size
        while left:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.out], [], [], remaining)[0]:
                raise Timeout(seconds)
            chunk = os.read(self.out, min(left, 1 << 20))
            if not chunk:
                raise ChildFailed(self._died())
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _died(self) -> str:
        code = self.proc.wait()
        self.errors.seek(0)
        text = self.errors.read().decode(errors="replace").strip().splitlines()
        return text[-1] if text else f"the solver process exited with code {code}"

    def close(self, kill: bool = False) -> None:
        """End the worker (closing its lifeline ends an idle one; ``kill`` ends a busy one) and reap it."""
        if kill:
            self.proc.kill()
            self.proc.wait()
        if self.feeder is not None:
            # The worker is dead or done reading, so the feeder has finished or is about to fail with EPIPE;
            # closing the descriptor under a running feeder could let it write into a reused one.
            self.feeder.join()
        with contextlib.suppress(OSError):  # closed already: nothing left to release
            os.close(self.lifeline)
        try:
            self.proc.wait(timeout=None if kill else 5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.errors.close()


class _Spawner:
    """Starts workers from one long-lived thread.

    Linux's parent-death signal fires when the *thread* that started a child ends, not the process: a
    worker started by a short-lived caller thread would be killed as soon as that thread finished, while
    idle in the pool. Started from this thread, which lives as long as the process, it dies with the
    process only.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.jobs: queue.Queue = queue.Queue()
        self.thread = None

    def spawn(self) -> _Worker:
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._serve, name="symopt-sandbox-spawner", daemon=True)
                self.thread.start()
        box: queue.Queue = queue.Queue(maxsize=1)
        self.jobs.put(box)
        try:
            made = box.get()
        except BaseException:  # interrupted while the worker starts: close it once it is there
            threading.Thread(target=lambda: _close_made(box.get()), daemon=True).start()
            raise
        if isinstance(made, BaseException):
            raise made
        return made

    def _serve(self) -> None:
        while True:
            box = self.jobs.get()
            try:
                box.put(_Worker())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller, who raises it
                box.put(exc)


def _close_made(made) -> None:
    if isinstance(made, _Worker):
        made.close()


class _Pool:
    """Idle workers, handed out one per call."""

    def __init__(self):
        self.lock = threading.Lock()
        self.idle: list[_Worker] = []
        self.spawner = _Spawner()

    def take(self) -> _Worker:
        with self.lock:
            while self.idle:
                worker = self.idle.pop()
                if worker.proc.poll() is None:
                    return worker
                worker.close()
        return self.spawner.spawn()

    def give_back(self, worker: _Worker) -> None:
        with self.lock:
            if len(self.idle) < MAX_IDLE:
                self.idle.append(worker)
                return
        worker.close()

    def close(self) -> None:
        with self.lock:
            workers, self.idle = self.idle, []
        for worker in workers:
            worker.close()

    def forget_in_child(self) -> None:
        # A forked child must not use (or close) its parent's workers, idle or busy, nor wait on its spawner
        # thread (threads do not survive a fork): it lets go of their pipes and starts its own.
        for worker in list(_EVERY):
            worker.release_in_child()
        self.lock = threading.Lock()
        self.idle = []
        self.spawner = _Spawner()


_EVERY: weakref.WeakSet = weakref.WeakSet()  # every worker this process started and has not let go of
_POOL = _Pool()
atexit.register(_POOL.close)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_POOL.forget_in_child)


def idle_workers() -> int:
    """How many worker processes wait for the next call."""
    return len(_POOL.idle)


def run_with_budget(func, args: tuple, seconds: float):
    """Call ``func(*args)`` in a child interpreter; return its result or raise.

    ``func`` must be a module-level function; ``args`` and its result picklable.
    Raises :class:`Timeout` after ``seconds`` and :class:`ChildFailed` if the
    child raised or died. The child is killed if this call is interrupted or
    runs out of time; otherwise it serves the next call.
    """
    request = _request(func, args)
    worker = _POOL.take()
    try:
        status, value = worker.call(request, seconds)
    except BaseException:  # Timeout, a dead child, KeyboardInterrupt or anything else raised into this frame
        worker.close(kill=True)
        raise
    _POOL.give_back(worker)
    if status == "error":
        raise ChildFailed(value)
    return value


def _request(func, args: tuple) -> bytes:
    """The bytes a worker reads from its stdin for one call: a length, then the pickled call."""
    payload = pickle.dumps((func.__module__, func.__qualname__, args))
    return _HEADER.pack(len(payload)) + payload


def _feed(fd: int, data: bytes) -> None:
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view):]
    except OSError:  # the worker died before reading it all; the reader reports why
        pass


def _main() -> int:
    parent = int(sys.argv[1]) if len(sys.argv) > 1 else None
    _die_with_parent(parent)
    # One thread reads stdin for the worker's whole life: it queues each request, and on EOF (the
    # caller gone, or done with this worker) ends the process at once, busy or not. Raw reads on
    # fd 0, not sys.stdin.buffer: a daemon thread holding the buffered reader's lock makes
    # interpreter shutdown abort ("could not acquire lock").
    requests: queue.Queue = queue.Queue()
    threading.Thread(target=_read_requests, args=(0, requests), daemon=True).start()
    out = sys.stdout.buffer
    while True:
        payload = requests.get()
        module_name, qualname, args = pickle.loads(payload)
        if not module_name.startswith("symopt."):
            result = ("error", "the sandbox runs symopt's own functions only")
        else:
            try:
                func = getattr(importlib.import_module(module_name), qualname)
                result = ("ok", func(*args))
            except Exception as exc:
                result = ("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}")
        data = pickle.dumps(result)
        out.write(_HEADER.pack(len(data)) + data)
        out.flush()


def _read_requests(fd: int, requests: queue.Queue) -> None:
    """First guard, every platform: exit when the caller's end of stdin closes.

    The kernel closes that end whenever the caller dies, by any signal, SIGKILL
    included. It needs the GIL to act, which SymPy's pure-Python loops release
    every few milliseconds.
    """
    with contextlib.suppress(OSError):  # a broken lifeline means the same as EOF: the caller is gone
        while True:
            header = _read_exactly(fd, _HEADER.size)
            payload = _read_exactly(fd, _HEADER.unpack(header)[0]) if header else b""
            if not payload:
                break
            requests.put(payload)
    os._exit(_ORPHANED)  # no cleanup: there is nobody left to report to


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
    """Return ``value`` after ``seconds``; exists for tests/closed_form/test_sandbox.py.

    If ``ready_path`` is given, first write this process's pid there, so a test
    knows the child is running the function and which process to watch.
    """
    if ready_path is not None:
        Path(ready_path + ".tmp").write_text(str(os.getpid()))
        os.replace(ready_path + ".tmp", ready_path)  # the reader never sees a partial pid
    time.sleep(seconds)
    return value


def _pid():
    """This process's id; exists for tests/closed_form/test_sandbox.py (which worker served a call)."""
    return os.getpid()


if __name__ == "__main__":
    sys.exit(_main())

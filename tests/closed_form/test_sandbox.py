"""The sandbox's child: it returns results, keeps its budget, and never outlives its caller.

A child of run_with_budget imports SymPy (about a second of CPU), so one
fixture starts all the death scenes at once and each test then plays its own:
send a signal, and check with ``ps`` that the child is gone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from symopt.closed_form import sandbox
from symopt.closed_form.sandbox import Timeout, _echo_after_sleep, run_with_budget

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and ps")

HOME = str(Path(sandbox.__file__).resolve().parents[2])
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [HOME, os.environ.get("PYTHONPATH")])))
CALLER_SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM, "SIGKILL": signal.SIGKILL}

# sandbox.py alone, under its own name: it needs only the standard library, and
# skipping the symopt package (SymPy, NumPy) saves a second of CPU per process.
LOAD_SANDBOX = f"""
import importlib.util, sys
spec = importlib.util.spec_from_file_location("symopt.closed_form.sandbox", {sandbox.__file__!r})
sandbox = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = sandbox
spec.loader.exec_module(sandbox)
"""

# A caller whose child (a real one, from run_with_budget) sleeps for a minute,
# writing its pid to argv[1] first.
CALLER = LOAD_SANDBOX + """
import signal, time
signal.signal(signal.SIGINT, signal.default_int_handler)  # a shell may have started us with SIGINT ignored
try:
    sandbox.run_with_budget(sandbox._echo_after_sleep, (None, 60, sys.argv[1]), 120)
except KeyboardInterrupt:
    print("KeyboardInterrupt", flush=True)
    time.sleep(60)  # live on after the interrupt, as a Jupyter kernel does
"""

# The child's own code, _main, started as run_with_budget starts it (argv[1] is the
# parent's pid) but without importing the symopt package first.
CHILD = LOAD_SANDBOX + "sys.exit(sandbox._main())"

# A parent that does not hold its child's stdin (the test does), so that when it
# dies only the kernel's parent-death signal can end the child.
MIDDLE = """
import os, subprocess, sys, time
subprocess.Popen([sys.executable, "-c", sys.argv[1], str(os.getpid())])
time.sleep(60)
"""


@dataclass
class Scene:
    ready: Path  # where the child writes its pid once it runs the function
    proc: subprocess.Popen  # the process the test starts: a caller, or the child itself
    fds: list = field(default_factory=list)  # pipe ends the test holds open

    def child(self, timeout: float = 30.0) -> int:
        deadline = time.monotonic() + timeout
        while not self.ready.exists():
            assert time.monotonic() < deadline, f"the child never started: {self.proc.args}"
            time.sleep(0.02)
        return int(self.ready.read_text())


def _state(pid: int) -> str:
    """``ps``'s state letters for ``pid`` ("S", "Z", ...), or "" if there is no such process."""
    ps = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True)
    return ps.stdout.strip()


def _wait_gone(pid: int, zombie_ok: bool, timeout: float = 5.0) -> str:
    """Poll ``ps`` until ``pid`` is gone; return its last state ("" if gone)."""
    deadline = time.monotonic() + timeout
    while (state := _state(pid)) and not (zombie_ok and state.startswith("Z")):
        if time.monotonic() > deadline:
            return state
        time.sleep(0.05)
    return ""


@pytest.fixture(scope="module", autouse=True)  # autouse: the scenes start while the first tests run
def scenes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sandbox")
    started = {}
    for name in CALLER_SIGNALS:
        ready = folder / name
        caller = subprocess.Popen([sys.executable, "-c", CALLER, str(ready)], env=ENV, stdout=subprocess.PIPE)
        started[name] = Scene(ready, caller)
    # The child alone, with the test as its living parent: closing stdin is the only event.
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(os.getpid())], env=ENV,
                             stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    child.stdin.write(sandbox._request(_echo_after_sleep, (None, 60, str(folder / "lifeline"))))
    child.stdin.flush()
    started["lifeline"] = Scene(folder / "lifeline", child)
    if sys.platform.startswith("linux"):
        read_end, write_end = os.pipe()
        middle = subprocess.Popen([sys.executable, "-c", MIDDLE, CHILD], env=ENV, stdin=read_end)
        os.close(read_end)
        os.write(write_end, sandbox._request(_echo_after_sleep, (None, 60, str(folder / "pdeathsig"))))
        started["pdeathsig"] = Scene(folder / "pdeathsig", middle, [write_end])
    yield started
    for scene in started.values():
        if scene.proc.poll() is None:
            scene.proc.kill()
        scene.proc.wait()
        for pipe in (scene.proc.stdin, scene.proc.stdout, scene.proc.stderr):
            if pipe is not None:
                pipe.close()
        for fd in scene.fds:
            os.close(fd)
        if scene.ready.exists():  # a child that survived a failed test
            try:
                os.kill(int(scene.ready.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_large_arguments_and_result_come_back():
    big = os.urandom(3 << 20)  # far beyond a pipe's buffer, both ways
    assert run_with_budget(_echo_after_sleep, (big,), 60) == big


def test_budget_raises_timeout():
    start = time.monotonic()
    with pytest.raises(Timeout, match=r"timed out after 0\.5 s"):
        run_with_budget(_echo_after_sleep, (None, 60), 0.5)
    assert time.monotonic() - start < 5


def test_sigint_kills_and_reaps_the_child_and_the_caller_lives_on(scenes):
    scene = scenes["SIGINT"]
    pid = scene.child()
    os.kill(scene.proc.pid, signal.SIGINT)  # the caller alone, as Jupyter's interrupt does
    # The caller is alive, so even a zombie would mean it did not reap its child.
    assert _wait_gone(pid, zombie_ok=False) == "", "the child outlived the interrupt"
    assert scene.proc.poll() is None
    scene.proc.kill()
    assert b"KeyboardInterrupt" in scene.proc.communicate()[0]


@pytest.mark.parametrize("name", ["SIGTERM", "SIGKILL"])
def test_child_dies_with_its_caller(scenes, name):
    scene = scenes[name]
    pid = scene.child()
    os.kill(scene.proc.pid, CALLER_SIGNALS[name])
    assert scene.proc.wait(timeout=5) == -CALLER_SIGNALS[name]
    # Once orphaned the child is reaped by whoever adopted it, so a zombie counts as gone.
    assert _wait_gone(pid, zombie_ok=True) == "", f"the child outlived its caller's {name}"


def test_child_exits_when_its_stdin_closes(scenes):
    scene = scenes["lifeline"]
    scene.child()
    scene.proc.stdin.close()
    assert scene.proc.wait(timeout=5) == sandbox._ORPHANED, scene.proc.stderr.read().decode()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_parent_death_signal_alone_ends_the_child(scenes):
    scene = scenes["pdeathsig"]
    pid = scene.child()
    scene.proc.kill()
    scene.proc.wait(timeout=5)
    assert _wait_gone(pid, zombie_ok=True) == "", "the child outlived its parent with its stdin still open"


# --- reused workers (issue 10, item 4) ------------------------------------------------------------------------


def test_a_worker_serves_the_next_call():
    """The second call reuses the first call's interpreter (no new process, no second SymPy import)."""
    first = run_with_budget(sandbox._pid, (), 60)
    t0 = time.monotonic()
    second = run_with_budget(sandbox._pid, (), 60)
    again = time.monotonic() - t0
    assert first == second and sandbox.idle_workers() >= 1
    assert again < 0.5, f"a reused worker answered in {again:.2f} s"  # a new one takes a second or more


def test_a_timeout_stops_only_its_own_call():
    """Two callers at once: one runs out of budget and its worker is killed; the other's call, running
    in a worker of its own, is untouched; and the next call still works."""
    import threading

    out = {}

    def slow():
        try:
            run_with_budget(_echo_after_sleep, ("slow", 60), 1.0)
        except Timeout as exc:
            out["slow"] = exc

    def steady():
        out["steady"] = run_with_budget(_echo_after_sleep, ("steady", 3.0), 60)

    threads = [threading.Thread(target=slow), threading.Thread(target=steady)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert isinstance(out["slow"], Timeout) and out["steady"] == "steady"
    assert run_with_budget(_echo_after_sleep, ("after",), 60) == "after"


def test_an_error_in_the_child_is_reported_and_the_worker_lives_on():
    with pytest.raises(sandbox.ChildFailed, match="TypeError"):
        run_with_budget(sandbox._echo_after_sleep, (None, "not a number"), 60)
    assert run_with_budget(_echo_after_sleep, (7,), 60) == 7

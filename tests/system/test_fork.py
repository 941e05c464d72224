"""A forked child (os.fork, multiprocessing, joblib) inherits a symbolic tier still working in the background,
but not the thread that would finish it: it must not hang waiting for it (issue 26, item 7).

Each case runs in its own interpreter with a deadline, and the forking parent kills a child that is stuck,
so a hang fails the test instead of blocking the run. The system solved is the hopeless one of
symopt/problem.py's SYMBOLIC_HEAD_START comment: SymPy works on it for the whole budget, so the tier is
still running when solve returns."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import symopt

SYMOPT_HOME = Path(symopt.__file__).resolve().parents[1]  # the tree under test, imported by the scripts too

PARENT = """
import os, sys, time, signal
import numpy as np
import symopt
from symopt.closed_form import sandbox

BUDGET = 5.0  # more than the 3 s head start, so solve returns with the tier still at work


def objective():
    return symopt.squared_loss(symopt.Model("a*x + b*x**2 + a*b*x**3 + b**2", "a b"))


def symbolic(analysis):
    attempt = next(a for a in analysis.attempts if a.tier == "symbolic")
    return "timed-out" if attempt.outcome == "failed" and "timed out" in attempt.detail else attempt.outcome


def analyses(problem):  # the symbolic tier's outcome for a problem made here, and for one made before a fork
    fresh = symopt.Problem(objective(), budget=BUDGET, backend="python").analysis
    old = problem.analysis if problem is not None else fresh
    return symbolic(fresh), symbolic(old)


def solved_problem():
    x = np.linspace(0, 1, 30)
    problem = symopt.Problem(objective(), budget=BUDGET, backend="python")
    problem.solve({"x": x, "y": 1 + 2 * x}, progress=False)
    later = problem._symbolic_later
    assert later is not None and not later.done(), "the symbolic tier finished before the fork: nothing to test"
    return problem
"""

OS_FORK = PARENT + """
problem = solved_problem()
lifelines = [w.lifeline for w in getattr(sandbox, "_EVERY", ())]  # the busy worker's, at least
pid = os.fork()
if pid == 0:
    open_copies = []
    for fd in lifelines:  # the child let go of its copies of the parent's worker pipes
        try:
            os.fstat(fd)
            open_copies.append(fd)
        except OSError:
            pass
    print("child:", *analyses(problem), len(lifelines), len(open_copies), flush=True)
    os._exit(0)
deadline = time.monotonic() + 150
while time.monotonic() < deadline:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        sys.exit(os.waitstatus_to_exitcode(status))
    time.sleep(0.1)
os.kill(pid, signal.SIGKILL)
os.waitpid(pid, 0)
print("the forked child hung")
sys.exit(1)
"""

POOL = PARENT + """
import multiprocessing

PROBLEM = None


def in_worker():
    return analyses(PROBLEM)  # a forked worker sees the parent's PROBLEM; a spawned one, None


if __name__ == "__main__":
    PROBLEM = solved_problem()
    context = multiprocessing.get_context(sys.argv[1])
    pool = context.Pool(1)
    try:
        print("worker:", *pool.apply_async(in_worker).get(timeout=150), flush=True)
    except multiprocessing.TimeoutError:
        print("the worker hung")
        pool.terminate()
        sys.exit(1)
    pool.close()
    pool.join()
"""


def run_script(tmp_path: Path, code: str, *args: str) -> subprocess.CompletedProcess:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(code))
    env = dict(os.environ, SYMOPT_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(SYMOPT_HOME))
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, env=env,
                          timeout=240, cwd=tmp_path)


def outcomes(out: subprocess.CompletedProcess, who: str) -> list:
    assert out.returncode == 0, out.stdout + out.stderr
    line = next(line for line in out.stdout.splitlines() if line.startswith(who))
    return line.split()[1:]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_an_os_fork_child_gets_the_analysis_the_parent_was_working_out(tmp_path):
    fresh, old, lifelines, still_open = outcomes(run_script(tmp_path, OS_FORK), "child:")
    # The hopeless system uses up its budget in the child too: an answer ("timed out"), not a hang.
    assert fresh == old == "timed-out"
    # The child closed its copies of the pipes to the parent's busy sandbox worker (whose lifeline would
    # otherwise stay open while the child lives, should the parent die).
    assert int(lifelines) >= 1 and still_open == "0"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the fork start method is POSIX only")
def test_a_multiprocessing_fork_worker_gets_the_analysis(tmp_path):
    assert outcomes(run_script(tmp_path, POOL, "fork"), "worker:") == ["timed-out", "timed-out"]


def test_a_multiprocessing_spawn_worker_gets_the_analysis(tmp_path):
    # A spawned worker starts afresh (nothing inherited): it works out the tier itself.
    assert outcomes(run_script(tmp_path, POOL, "spawn"), "worker:") == ["timed-out", "timed-out"]

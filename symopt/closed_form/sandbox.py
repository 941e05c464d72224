"""Run a SymPy computation in a child process with a wall-clock budget.

``sympy.solve`` can run for minutes or forever on an innocent-looking
system. Running it in a separate process lets the caller stop waiting: after
the budget the child is killed and the caller gets a :class:`Timeout` it can
report as "timed out after N s".

The child is a fresh interpreter running ``python -m symopt.closed_form.sandbox``
(not ``multiprocessing``, whose "spawn" start would re-run the user's main
script). The function is named by module and attribute; arguments and the
result travel pickled through the pipes, between this package and itself.
"""

from __future__ import annotations

import importlib
import os
import pickle
import subprocess
import sys
import traceback
from pathlib import Path


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
    child raised or died.
    """
    payload = pickle.dumps((func.__module__, func.__qualname__, args))
    # The child must import this very symopt, even when the caller put it on sys.path by hand.
    home = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [home, os.environ.get("PYTHONPATH")])))
    proc = subprocess.Popen([sys.executable, "-m", "symopt.closed_form.sandbox"], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(payload, timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise Timeout(seconds) from None
    if proc.returncode != 0 or not out:
        text = err.decode(errors="replace").strip().splitlines()
        raise ChildFailed(text[-1] if text else f"the solver process exited with code {proc.returncode}")
    status, value = pickle.loads(out)
    if status == "error":
        raise ChildFailed(value)
    return value


def _main() -> int:
    module_name, qualname, args = pickle.loads(sys.stdin.buffer.read())
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


if __name__ == "__main__":
    sys.exit(_main())

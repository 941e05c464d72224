"""The driver: chunked calls of the compiled loop, progress past one second."""

from __future__ import annotations

import time

import numpy as np

import symopt
from symopt.optimizers import RUNNING
from symopt.run.loop import _drive, _Driver


def drive(module, *args, **kwargs):
    """_drive on a stand-in module (no hand-over to compiled code)."""
    return _drive(_Driver(module, None, None), *args, **kwargs)


class SlowModule:
    """Stands in for a generated module: `run` takes `per_iteration` seconds an iteration."""

    def __init__(self, per_iteration: float, stop_after: int):
        self.per_iteration, self.stop_after, self.calls, self.done = per_iteration, stop_after, 0, 0

    def run(self, *args):
        budget, history, k0 = args[-5], args[-2], args[-1]
        self.calls += 1
        steps = min(budget, self.stop_after - self.done)
        time.sleep(self.per_iteration * steps)
        history[k0 + 1:k0 + steps + 1] = 1.0
        self.done += steps
        return (0 if self.done >= self.stop_after else RUNNING), steps


def test_long_runs_show_progress_and_short_ones_do_not(capsys):
    opt = symopt.GradientDescent(max_iter=1000)
    history = np.zeros(1001)
    code, done, _ = drive(SlowModule(0.004, 500), opt, (), history, progress=True)
    err = capsys.readouterr().err
    assert code == 0 and done == 500
    assert "GradientDescent" in err and "it" in err  # a tqdm bar was drawn
    code, done, _ = drive(SlowModule(0.0, 50), opt, (), np.zeros(1001), progress=True)
    assert code == 0 and capsys.readouterr().err == ""
    code, done, _ = drive(SlowModule(0.004, 500), opt, (), np.zeros(1001), progress=False)
    assert capsys.readouterr().err == ""


def test_chunks_grow_to_keep_calls_few():
    module = SlowModule(0.0, 5000)
    code, done, _ = drive(module, symopt.GradientDescent(max_iter=10_000), (), np.zeros(10_001), progress=False)
    assert code == 0 and done == 5000 and module.calls < 10


def test_history_grows_with_the_run_not_with_max_iter():
    """max_iter=10**12 must not allocate 8 TB up front; the history still holds every iterate."""
    module = SlowModule(0.0, 3000)
    code, done, history = drive(module, symopt.GradientDescent(max_iter=10**12), (), np.zeros(4), progress=False)
    assert code == 0 and done == 3000
    # at most one chunk (<= 1,000,000 iterations) beyond what was done
    assert 3001 <= history.size <= 3001 + 1_000_000 and np.all(history[1:3001] == 1.0)

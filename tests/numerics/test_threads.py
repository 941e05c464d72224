"""Sharing the machine (issue 26, items 10 and 11): small data never start Numba's thread pool, large data
use the threads the caller allows, and a warm cache is used from the first solve.

The process-level checks run in fresh subprocesses (this test session has long started Numba's threads).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import symopt
import symopt.numerics.threads as threads

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _python(parts, cache, timeout: float = 600, **env) -> str:
    """Run the code ``parts`` (each indented as it likes) in a new interpreter with the cache folder
    ``cache``; its standard output."""
    code = "\n".join(textwrap.dedent(part) for part in ([parts] if isinstance(parts, str) else parts))
    full = dict(os.environ, SYMOPT_CACHE_DIR=str(cache), PYTHONPATH=ROOT, **env)
    out = subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True,
                         timeout=timeout)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


POISSON = """
    import numpy as np, symopt
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, {n})
    y = rng.poisson(np.exp(0.5 + x)).astype(float)
    poisson = symopt.Objective("y*(a + b*x) - exp(a + b*x)", "a b", maximize=True)
    r = symopt.solve(poisson, {{"x": x, "y": y}}, method="iterative", backend="{backend}", progress=False)
    assert r.success, r.message
"""

LAYER = """
    import numba
    try:
        print("thread pool:", numba.threading_layer())
    except ValueError:
        print("thread pool: none")
"""


def test_a_small_compiled_solve_never_starts_numbas_thread_pool(tmp_path):
    """A 20-row Poisson fit and a 500 x 5 logistic regression, compiled: every kernel is serial, so Numba's
    threads are never started (they cost milliseconds per kernel call beside a busy core)."""
    logistic = """
        X = rng.normal(size=(500, 5))
        y2 = (X @ np.linspace(-1, 1, 5) + rng.logistic(size=500) > 0).astype(float)
        r2 = symopt.solve(symopt.log_loss(symopt.LinearModel()), (X, y2), backend="numba", progress=False)
        assert r2.success and r2.backend == "numba"
        print("why:", r.why, r2.why)
    """
    out = _python([POISSON.format(n=20, backend="numba"), logistic, LAYER], tmp_path)
    assert "thread pool: none" in out, out
    assert "split across" not in out


@pytest.fixture(scope="module")
def big_poisson():
    rng = np.random.default_rng(1)
    n = 350_000  # rows x (parameters + 1) = 1,050,000: past PARALLEL_MIN_WORK
    assert n * 3 >= threads.PARALLEL_MIN_WORK and n >= threads.PARALLEL_MIN_ROWS
    x = rng.uniform(0, 1, n)
    data = {"x": x, "y": rng.poisson(np.exp(0.5 + x)).astype(float)}
    return symopt.Objective("y*(a + b*x) - exp(a + b*x)", "a b", maximize=True), data


def test_large_data_take_the_thread_budget_the_caller_gives(big_poisson, tmp_path):
    """The parallel module runs large data with the threads allowed; NUMBA_NUM_THREADS=1 (what joblib sets in
    its workers) runs the serial module and starts no thread pool. Both give the same fit."""
    code = [POISSON.format(n=350_000, backend="numba"), 'print("why:", r.why)\nprint("x:", repr(list(r.x)))', LAYER]
    one = _python(code, tmp_path, NUMBA_NUM_THREADS="1")
    assert "thread pool: none" in one and "split across" not in one, one
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: no parallel module to compare with")
    forked = """
        import os
        pid = os.fork()
        if pid == 0:  # a child forked after the pool started: OpenMP would kill it, so it runs serial code
            child = symopt.solve(poisson, {"x": x, "y": y}, method="iterative", backend="numba", progress=False)
            os._exit(0 if child.success and "split across" not in child.why else 3)
        print("child:", os.waitpid(pid, 0)[1])
    """
    two = _python([*code, forked], tmp_path, NUMBA_NUM_THREADS="2")
    assert "rows split across 2 threads" in two and "thread pool: none" not in two, two
    assert "child: 0" in two, two
    xs = [np.array(eval(line.split(":", 1)[1])) for line in (one, two) for line in line.splitlines()  # noqa: S307
          if line.startswith("x:")]
    np.testing.assert_allclose(xs[0], xs[1], rtol=1e-12)


def test_serial_and_parallel_modules_give_the_same_numbers(big_poisson):
    """The two modules split the rows into the same blocks and add them in the same order."""
    from symopt.model.data import prepare
    from symopt.run.loop import kernel_value_and_grad

    objective, data = big_poisson
    problem = symopt.Problem(objective, backend="numba")
    optimizer, _ = problem._driver.optimizer(2)
    dataset = prepare(problem.objective, data)
    theta = np.array([0.4, 1.1])
    values = {}
    for parallel in (False, True):
        rendered, module, _ = problem._driver.compiled(optimizer, "numba", parallel)
        assert ("parallel=True" in rendered.source) == parallel
        values[parallel] = kernel_value_and_grad(module, rendered, problem.objective, dataset, theta)
    assert values[False][0] == pytest.approx(values[True][0], rel=1e-13)
    np.testing.assert_allclose(values[False][1], values[True][1], rtol=1e-12)


def test_a_threadpoolctl_limit_and_dask_tasks_get_one_thread():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with threadpoolctl.threadpool_limits(limits=1):
        assert threads.thread_budget() == 1
        assert not threads.parallel_wanted(10**7, 10)
    dask = pytest.importorskip("dask")
    seen = [dask.delayed(lambda: (threads.in_dask_worker(), threads.thread_budget()))().compute(scheduler="threads")
            for _ in range(3)]
    assert seen == [(True, 1)] * 3
    assert not threads.in_dask_worker()  # this (main) thread is no Dask task
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:  # a thread pool of the user's own is not Dask's
        assert pool.submit(threads.in_dask_worker).result() is False


def test_a_distributed_worker_task_gets_one_thread():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        assert client.submit(lambda: (threads.in_dask_worker(), threads.thread_budget())).result() == (True, 1)


def test_small_data_are_serial_whatever_the_threads():
    assert not threads.parallel_wanted(threads.PARALLEL_MIN_ROWS - 1, 1000)
    assert not threads.parallel_wanted(threads.PARALLEL_MIN_ROWS, 1)


def test_a_warm_cache_is_used_from_the_first_solve_and_a_cold_one_waits(tmp_path):
    """Item 11: where the cache folder holds the compiled module, a new process's first default solve runs it
    (loading takes a fraction of a second; the twin's solves are ten times slower each); with an empty cache
    the twin answers until compiling pays off."""
    curve = """
        import numpy as np, symopt
        x = np.linspace(0.0, 1.0, 100)
        y = 2.0 * np.exp(-1.5 * x) + 0.01 * np.random.default_rng(0).normal(size=100)
        r = symopt.solve(symopt.squared_loss(symopt.Model("a*exp(b*x)", "a b")), {{"x": x, "y": y}},
                         x0={{"a": 1.0, "b": -1.0}}, progress=False, backend="{backend}")
        assert r.success, r.message
        print("backend:", r.backend)
    """
    cold = _python(curve.format(backend="auto"), tmp_path / "cold")
    assert "backend: python" in cold
    _python(curve.format(backend="numba"), tmp_path / "warm")  # compiles into the folder
    warm = _python(curve.format(backend="auto"), tmp_path / "warm")
    assert "backend: numba" in warm, warm


def test_blas_limits_of_overlapping_threads_give_the_threads_back(monkeypatch):
    """Two threads' solves hold BLAS to one thread, overlapping: the first leaves while the second runs, the second
    leaves last. BLAS stays at one thread until the second leaves and has its threads back after; with a
    ``threadpool_limits`` per thread, the second restored the first's limit and the process kept one BLAS thread
    for good. What symopt asks of BLAS is recorded by a stand-in for ``threadpool_limits`` that keeps the count as
    OpenBLAS keeps it, one for the process (OpenBLAS 0.3.31 itself, once its count was set from the main thread,
    ignores counts set from other threads: measured, so the real library cannot show this here)."""
    import threading

    import threadpoolctl

    blas = {"threads": 2}

    class Limits:
        def __init__(self, limits=None, user_api=None):
            self.original = blas["threads"]
            blas["threads"] = limits

        def restore_original_limits(self):
            blas["threads"] = self.original

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.restore_original_limits()

    monkeypatch.setattr(threadpoolctl, "threadpool_limits", Limits)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    first_in, second_in, first_out, inside = threading.Event(), threading.Event(), threading.Event(), []

    def first():
        with threads.blas_threads(1):
            first_in.set()
            second_in.wait()
            inside.append(("first", blas["threads"]))
        first_out.set()

    def second():
        first_in.wait()
        with threads.blas_threads(1):
            second_in.set()
            first_out.wait()
            inside.append(("second, alone", blas["threads"]))

    workers = [threading.Thread(target=first), threading.Thread(target=second)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sorted(inside) == [("first", 1), ("second, alone", 1)]
    assert blas["threads"] == 2


def test_an_openmp_runtimes_own_setting_is_not_the_budget():
    """OpenMP runtimes' thread counts say what other libraries chose (PyTorch sets its runtime to the physical
    cores; one loaded under a Dask nanny's OMP_NUM_THREADS=1 reports 1) and Numba's threads do not follow them: the
    budget stays Numba's, while a limit on BLAS (``threadpool_limits(1)`` sets it too) lowers it."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import numba

    @numba.njit(parallel=True)
    def loads_numbas_openmp(n):
        total = 0.0
        for i in numba.prange(n):
            total += i
        return total

    loads_numbas_openmp(4)
    numbas = threads._numba_threads()
    if not any(info["user_api"] == "openmp" for info in threadpoolctl.threadpool_info()):
        pytest.skip("no OpenMP runtime in this process (Numba's threading layer is not OpenMP)")
    with threadpoolctl.threadpool_limits(1, user_api="openmp"):
        assert threads.thread_budget() == min(numbas, os.cpu_count() or 1)
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        assert threads.thread_budget() == 1

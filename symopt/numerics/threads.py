"""How many threads a solve may use, and whether its kernels split the rows across them.

symopt is one process among many: a notebook, joblib workers in a grid search, Dask worker threads, the
test suite. A parallel region costs 5 to 30 microseconds to start on a quiet machine, but milliseconds
when another process holds the other core (Numba's OpenMP threads wait for a time slice, then spin), so a
small problem that opened one per kernel call ran 40 to 100 times slower beside a second process. So:

- small data run the *serial* module, whose kernels never start Numba's thread pool
  (:data:`PARALLEL_MIN_WORK`);
- large data run the *parallel* module with the thread budget the caller gives: ``numba.set_num_threads``
  (or ``NUMBA_NUM_THREADS``, which joblib sets for its workers), a ``threadpoolctl`` limit in force, and
  one thread inside a Dask worker's task or in a child forked after the pool started (OpenMP cannot run
  there). A budget of one thread runs the serial module.

Both modules split the rows into the same blocks and add their sums in the same order, so which one ran
changes no result beyond the last bit of a fused multiply-add.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading

#: Rows x (parameters + 1) from which a kernel pass splits its rows across threads. Measured
#: (benchmarks/threads.py, 2 cores, mean ms per pass, serial / parallel): on a quiet machine the parallel module
#: gains 1.1-1.9x (Poisson 65,536 rows: 0.44 / 0.39; logistic 65,536 x 32: 1.82 / 1.16; 1,048,576 x 32:
#: 27.9 / 18.5), beside a process spinning on the other core it loses 1.2-4x (0.80 / 1.48; 2.31 / 5.13;
#: 34.7 / 41.5): one of its two equal halves waits for a shared core. Below a million, where a pass takes
#: 1 to 3 ms, the loss is the larger and the serial module runs; above it, the parallel module, as a user
#: of BLAS-backed peers expects of large data on an idle machine.
PARALLEL_MIN_WORK = 1_000_000
#: The least rows for which the parallel module has a second block of rows to give a second thread.
PARALLEL_MIN_ROWS = 4096


#: Set in a child forked from a process whose Numba thread pool had started: GNU OpenMP cannot run a
#: parallel region there ("fork() called from a process already using GNU OpenMP" kills the child), so
#: the child runs the serial module.
_FORKED_FROM_POOL = False


def _after_fork_in_child() -> None:
    global _FORKED_FROM_POOL
    _FORKED_FROM_POOL = _FORKED_FROM_POOL or _pool_started()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _pool_started() -> bool:
    """Whether Numba's thread pool is running in this process (asking Numba for its thread count starts it)."""
    parallel = sys.modules.get("numba.np.ufunc.parallel")
    return bool(parallel is not None and getattr(parallel, "_is_initialized", False))


def _numba_threads() -> int:
    """The threads Numba gives a parallel region started from this thread, without starting the pool for it:
    ``numba.get_num_threads()`` once the pool runs (it reflects ``numba.set_num_threads``), else the pool's
    size to be (``NUMBA_NUM_THREADS``, by default the number of cores)."""
    if _pool_started():
        import numba

        return int(numba.get_num_threads())
    from numba.core import config

    return int(config.NUMBA_NUM_THREADS)


def _threadpoolctl_limit() -> int | None:
    """The smallest thread count a ``threadpoolctl`` limit in force sets for BLAS (``threadpool_limits(n)``, or with
    ``user_api="blas"``), if threadpoolctl is in use in this process (it is not imported here otherwise).

    OpenMP runtimes are not read: Numba's threads do not follow their settings (measured: ``omp_set_num_threads(1)``
    on the libgomp Numba's pool runs on left a parallel loop on two threads), and their counts say what other
    libraries chose for themselves (PyTorch sets its runtime to the physical cores). Seen in this test suite: after
    a test on a Dask ``LocalCluster``, one of three OpenMP runtimes in the process reported one thread for the rest
    of the session, so every later network there took the serial path (and CI's tests of the parallel one failed)."""
    if "threadpoolctl" not in sys.modules:
        return None
    import threadpoolctl

    counts = [info.get("num_threads") for info in threadpoolctl.threadpool_info() if info.get("user_api") == "blas"]
    counts = [int(c) for c in counts if isinstance(c, int) and c > 0]
    return min(counts) if counts else None


def in_dask_worker() -> bool:
    """Whether this thread runs a task of a Dask worker (``distributed``) or of Dask's threaded scheduler:
    Dask runs as many such threads as there are cores, so each takes one."""
    distributed = sys.modules.get("distributed")
    if distributed is not None:
        try:
            distributed.get_worker()
            return True
        except (ValueError, AttributeError):
            pass
    threaded = sys.modules.get("dask.threaded")
    if threaded is None:
        return False
    pools = [getattr(threaded, "default_pool", None)]  # the main thread's pool, and those of other threads
    pools += [pool for by_size in dict(getattr(threaded, "pools", {})).values() for pool in dict(by_size).values()]
    # A pool's threads are named after its own prefix; membership of pool._threads would miss a task that
    # runs before the pool has added its new thread to that set.
    name = threading.current_thread().name
    return any(name.startswith(f"{pool._thread_name_prefix}_") for pool in pools
               if isinstance(getattr(pool, "_thread_name_prefix", None), str))


def thread_budget() -> int:
    """The threads a kernel may use in this call: 1 in a Dask task, else Numba's thread count for this thread
    (``numba.set_num_threads``, ``NUMBA_NUM_THREADS``), lowered to a ``threadpoolctl`` limit in force."""
    if _FORKED_FROM_POOL or in_dask_worker():
        return 1
    budget = _numba_threads()
    limit = _threadpoolctl_limit()
    if limit is not None:
        budget = min(budget, limit)
    return max(1, min(budget, os.cpu_count() or 1))


def parallel_wanted(n_rows: int, n_params: int) -> bool:
    """Whether a solve on ``n_rows`` rows of ``n_params`` parameters runs the parallel module: enough work
    (:data:`PARALLEL_MIN_WORK`, :data:`PARALLEL_MIN_ROWS`) and more than one thread to share it. The thread
    budget is looked at only for data that large, so small problems never import Numba's threading."""
    if n_rows < PARALLEL_MIN_ROWS or n_rows * (n_params + 1) < PARALLEL_MIN_WORK:
        return False
    return thread_budget() > 1


@contextlib.contextmanager
def threads_for(parallel: bool):
    """Run the enclosed parallel kernels with :func:`thread_budget` threads (``numba.set_num_threads`` for
    this thread, put back after); nothing for the serial module."""
    if not parallel:
        yield
        return
    import numba

    budget, before = thread_budget(), numba.get_num_threads()
    if budget >= before:
        yield
        return
    numba.set_num_threads(budget)
    try:
        yield
    finally:
        numba.set_num_threads(before)


@contextlib.contextmanager
def one_blas_thread(work: int):
    """Run the enclosed NumPy linear algebra on one BLAS thread where ``work`` (rows x columns) is large enough
    for OpenBLAS to use several (:data:`PARALLEL_MIN_WORK`): OpenBLAS's worker threads spin for a while after
    each call, waiting for more, and on a shared core they hold back the Numba threads of the next kernel
    pass. Measured on 200,000 x 64 logistic, 2 cores: the separation certificate's Gram products on two BLAS
    threads left the next solve's L-BFGS run at 0.09-0.12 s against 0.05 s, while on one thread the products
    take 45 ms against 40 (``threadpoolctl``; entering its limit costs 0.7 ms, so small data skip it)."""
    if work < PARALLEL_MIN_WORK:
        yield
        return
    with _blas_limit(1):
        yield


@contextlib.contextmanager
def blas_threads(budget: int):
    """Run the enclosed BLAS calls (a network's matrix products) on at most ``budget`` threads: the budget
    :func:`thread_budget` gives symopt's own kernels (1 in a Dask task, in a child forked after the pool started,
    under ``numba.set_num_threads(1)`` or a ``threadpoolctl`` limit), so OpenBLAS's spinning workers do not
    compete with the threads beside us for the cores. Nothing where the budget is every core (entering a
    ``threadpoolctl`` limit costs ~0.7 ms)."""
    if budget >= (os.cpu_count() or 1):
        yield
        return
    with _blas_limit(max(1, budget)):
        yield


#: The BLAS limits entered and not yet left, in every thread, and the ``threadpoolctl`` limiter that holds the
#: thread counts from before the first (restored when the last is left). OpenBLAS's thread count is one setting
#: for the whole process: two threads that each entered and left a ``threadpool_limits`` of their own, overlapping
#: (a Dask task's solve beside another's), left the process at one BLAS thread for good, since the second
#: restores what it found on entry, the first one's limit.
_BLAS_LIMITS: list[int] = []
_BLAS_ORIGINAL = None
_BLAS_LOCK = threading.Lock()


@contextlib.contextmanager
def _blas_limit(count: int):
    """Hold BLAS to at most ``count`` threads while the enclosed code runs, however limits of other threads
    overlap it: the tightest limit in force applies, and the thread counts from before the first come back when
    the last is left."""
    global _BLAS_ORIGINAL
    from threadpoolctl import threadpool_limits

    # Numba's np.dot calls SciPy's OpenBLAS, a library apart from NumPy's that is loaded at the first compiled
    # product: a limit reaches only the libraries loaded when it is entered (measured: a parallel network module
    # run 24 ms a step with SciPy's OpenBLAS left at two threads, 10 ms with it held to one).
    with contextlib.suppress(ImportError):
        import scipy.linalg.cython_blas  # noqa: F401

    with _BLAS_LOCK:
        if not _BLAS_LIMITS:
            _BLAS_ORIGINAL = threadpool_limits(count, user_api="blas")
        elif count < min(_BLAS_LIMITS):
            threadpool_limits(count, user_api="blas")
        _BLAS_LIMITS.append(count)
    try:
        yield
    finally:
        with _BLAS_LOCK:
            _BLAS_LIMITS.remove(count)
            if not _BLAS_LIMITS:
                _BLAS_ORIGINAL.restore_original_limits()
                _BLAS_ORIGINAL = None
            elif count < min(_BLAS_LIMITS):
                threadpool_limits(min(_BLAS_LIMITS), user_api="blas")

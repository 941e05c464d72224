"""Dask input (issue 30): logistic regression on a 2-worker ``LocalCluster`` against dask-ml, and out of core.

Run by hand (dask-ml is in the ``bench`` extra, Zarr in ``dask``: ``pip install ".[dask,bench]"``):

    python benchmarks/dask_logistic.py [rows] [rounds] [contenders]   # in worker memory (10,000,000 x 64)
    python benchmarks/dask_logistic.py zarr [rows]           # from a Zarr store, workers limited to 600 MB

In memory: ``rows`` x 64 float64 features drawn on the workers (``da.random``, seeded, chunks of 250,000 rows)
and labels from a logistic model (not separable), persisted in the workers' memory before the clock starts.
Each contender runs in its own process, the contenders alternating over ``rounds`` (``contenders``: some of them,
comma-separated, by the names below):

* ``symopt``: ``symopt.solve(log_loss(LinearModel()), (X, y))`` (its default optimizer; one Dask pass of the
  compiled kernel per evaluation), time to solution; and the time of one evaluation (objective and gradient);
* ``numpy``: one evaluation of the same kernel on the same data as one NumPy array, in a process without Dask
  (the parallel kernel on the 2 cores), the baseline the Dask pass is compared with;
* ``dask-ml lbfgs``: ``LogisticRegression(solver="lbfgs", penalty=None, tol=..., max_iter=1000)``, unpenalised;
* ``dask-ml admm``: its default solver with ``C=1e12`` (a penalty of 1e-12 on the summed loss: unpenalised in
  effect), to its own stopping rule (reltol 1e-2), its remaining objective gap reported.

Every fit's objective is the mean log loss computed by one Dask expression, and its relative gap to the best is
printed. ``zarr``: the same problem written to a Zarr store (``rows`` x 64, 2,000,000 by default: 1 GB), solved
by a cluster whose 2 workers have ``memory_limit="600MB"``, each worker's memory sampled every 2 ms through the
solve (the peak over its memory before, and the peak in all).

Re-runs itself without ``OPENBLAS_CORETYPE``/``OPENBLAS_L2_SIZE`` (``fair.py``) and prints the BLAS kernel.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fair import blas_kernel, unthrottled  # noqa: E402

unthrottled()

import numpy as np  # noqa: E402

WIDTH = 64
CHUNK = 250_000
BETA_SEED = 1


def truth() -> tuple[float, np.ndarray]:
    rng = np.random.default_rng(BETA_SEED)
    return 0.2, rng.normal(scale=1.0 / np.sqrt(WIDTH), size=WIDTH)


def dask_data(rows: int, chunk: int = CHUNK):
    """``(X, y)`` as Dask arrays drawn chunk by chunk from a seeded generator (the same in every process)."""
    import dask.array as da

    intercept, beta = truth()
    X = da.random.RandomState(0).standard_normal((rows, WIDTH), chunks=(chunk, WIDTH))
    eta = intercept + X @ beta
    u = da.random.RandomState(1).random_sample(rows, chunks=chunk)
    y = (u < 1.0 / (1.0 + da.exp(-eta))).astype(float)
    return X, y


def mean_log_loss(X, y, intercept: float, coef: np.ndarray) -> float:
    """The mean log loss, one formula for every contender (a Dask expression: a pass over the data)."""
    import dask.array as da

    eta = X @ coef + intercept
    return float(da.mean(da.logaddexp(0.0, eta) - y * eta).compute())


def cluster(memory_limit="auto"):
    import distributed

    local = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                     memory_limit=memory_limit)
    return local, distributed.Client(local)


def run_symopt(rows: int) -> dict:
    import distributed

    import symopt
    from symopt.distributed import solve as dask_solve
    from symopt.distributed.data import prepare_dask

    local, client = cluster()
    X, y = dask_data(rows)
    X, y = client.persist([X, y])
    distributed.wait([X, y])
    objective = symopt.log_loss(symopt.LinearModel())
    t = time.perf_counter()
    result = symopt.solve(objective, (X, y), progress=False)
    seconds = time.perf_counter() - t
    # one evaluation, timed alone: the optimizer's Dask pass (the data held as the solve held them)
    problem = symopt.Problem(objective, optimizer=result.optimizer)
    dataset = prepare_dask(problem.objective, (X, y))
    _, _, _, kernels = dask_solve.dask_module(problem, result.optimizer, dataset)
    grad, theta = np.zeros(WIDTH + 1), np.asarray(result.x, dtype=float)
    times = []
    for _ in range(10):
        t = time.perf_counter()
        kernels.objective_and_gradient(theta, None, None, np.zeros(theta.size), 0.0, grad)
        times.append(time.perf_counter() - t)
    out = dict(seconds=seconds, loss=mean_log_loss(X, y, result.params["intercept"], result.params["coef"]),
               evaluation=min(times), status=result.status, nfev=result.nfev, optimizer=type(result.optimizer).__name__)
    client.close()
    local.close()
    return out


def run_numpy(rows: int) -> dict:
    import symopt
    from symopt.model.data import prepare

    rng = np.random.default_rng(0)
    X = rng.standard_normal((rows, WIDTH))
    intercept, beta = truth()
    y = (rng.random(rows) < 1.0 / (1.0 + np.exp(-(intercept + X @ beta)))).astype(float)
    problem = symopt.Problem(symopt.log_loss(symopt.LinearModel()), optimizer=symopt.LBFGS(), backend="numba")
    dataset = prepare(problem.objective, (X, y))
    theta = np.r_[intercept, beta]
    problem.flat_value_and_grad(dataset, theta)  # compiled and warm
    times = []
    for _ in range(10):
        t = time.perf_counter()
        problem.flat_value_and_grad(dataset, theta)
        times.append(time.perf_counter() - t)
    return dict(evaluation=min(times))


def run_daskml(rows: int, solver: str) -> dict:
    import distributed
    from dask_ml.linear_model import LogisticRegression

    local, client = cluster()
    X, y = dask_data(rows)
    X, y = client.persist([X, y])
    distributed.wait([X, y])
    if solver == "lbfgs":
        model = LogisticRegression(solver="lbfgs", penalty=None, tol=1e-8, max_iter=1000)
    else:
        model = LogisticRegression(C=1e12)  # admm, its defaults otherwise
    t = time.perf_counter()
    model.fit(X, y)
    seconds = time.perf_counter() - t
    out = dict(seconds=seconds, loss=mean_log_loss(X, y, float(model.intercept_), np.asarray(model.coef_)))
    client.close()
    local.close()
    return out


def run_zarr(rows: int) -> dict:
    import shutil
    import tempfile

    import dask.array as da

    import symopt

    folder = Path(tempfile.mkdtemp(prefix="symopt-zarr-"))
    try:
        X, y = dask_data(rows, 100_000)
        da.to_zarr(X, str(folder / "X.zarr"))
        da.to_zarr(y, str(folder / "y.zarr"))
        size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        local, client = cluster("600MB")
        objective = symopt.log_loss(symopt.LinearModel())
        stored = (da.from_zarr(str(folder / "X.zarr")), da.from_zarr(str(folder / "y.zarr")))
        symopt.solve(objective, (stored[0][:200_000], stored[1][:200_000]), progress=False)  # kernels loaded

        def start(dask_worker):
            import threading

            import psutil

            process = psutil.Process()
            state = {"base": process.memory_info().rss, "peak": 0, "run": True}

            def sample():
                while state["run"]:
                    state["peak"] = max(state["peak"], process.memory_info().rss)
                    time.sleep(0.002)

            threading.Thread(target=sample, daemon=True).start()
            dask_worker.symopt_memory = state

        def stop(dask_worker):
            state = dask_worker.symopt_memory
            state["run"] = False
            return state["base"], state["peak"]

        client.run(start)
        t = time.perf_counter()
        result = symopt.solve(objective, stored, progress=False)
        seconds = time.perf_counter() - t
        memory = client.run(stop)
        client.close()
        local.close()
        return dict(seconds=seconds, status=result.status, nfev=result.nfev, store_bytes=size,
                    workers={k: dict(before=v[0], peak=v[1]) for k, v in memory.items()})
    finally:
        shutil.rmtree(folder, ignore_errors=True)


CONTENDERS = ("symopt", "numpy", "dask-ml lbfgs", "dask-ml admm")


def child(name: str, rows: int) -> dict:
    """Run contender ``name`` in its own process; its result as a dict."""
    out = subprocess.run([sys.executable, __file__, "--run", name, str(rows)], capture_output=True, text=True)
    if out.returncode:
        return dict(error=out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv) -> None:
    if argv[:1] == ["--run"]:
        name, rows = argv[1], int(argv[2])
        runs = {"symopt": run_symopt, "numpy": run_numpy, "dask-ml lbfgs": lambda r: run_daskml(r, "lbfgs"),
                "dask-ml admm": lambda r: run_daskml(r, "admm"), "zarr": run_zarr}
        import warnings

        warnings.simplefilter("ignore")
        print(json.dumps(runs[name](rows)))
        return
    print(blas_kernel(), f"| cores {os.cpu_count()}")
    if argv[:1] == ["zarr"]:
        rows = int(argv[1]) if len(argv) > 1 else 2_000_000
        print(f"zarr: {rows:,} x {WIDTH}")
        print(json.dumps(child("zarr", rows), indent=1))
        return
    rows = int(argv[0]) if argv else 10_000_000
    rounds = int(argv[1]) if len(argv) > 1 else 2
    contenders = argv[2].split(",") if len(argv) > 2 else CONTENDERS
    print(f"logistic regression, {rows:,} x {WIDTH} float64 ({rows * WIDTH * 8 / 1e9:.2f} GB), 2-worker LocalCluster, "
          f"{rounds} rounds, contenders alternating, each in its own process")
    results = {name: [] for name in contenders}
    for k in range(rounds):
        for name in contenders:
            out = child(name, rows)
            results[name].append(out)
            print(f"  round {k + 1} {name}: {out}", flush=True)
    best = min(o["loss"] for runs in results.values() for o in runs if "loss" in o)
    print("\ncontender         median s   per eval s   rel. gap")
    for name, runs in results.items():
        ok = [o for o in runs if "error" not in o]
        if not ok:
            print(f"{name:16s}  failed: {runs[0]['error']}")
            continue
        seconds = statistics.median(o["seconds"] for o in ok) if "seconds" in ok[0] else float("nan")
        evaluation = statistics.median(o["evaluation"] for o in ok) if "evaluation" in ok[0] else float("nan")
        gap = max((o["loss"] - best) / best for o in ok) if "loss" in ok[0] else float("nan")
        print(f"{name:16s}  {seconds:9.2f}   {evaluation:9.3f}   {gap:9.2e}")
    med = {name: statistics.median(o["seconds"] for o in runs if "seconds" in o)
           for name, runs in results.items() if any("seconds" in o for o in runs)}
    if "symopt" in med:
        for name in ("dask-ml lbfgs", "dask-ml admm"):
            if name in med:
                print(f"symopt / {name}: {med['symopt'] / med[name]:.3f}x")
    evals = {name: statistics.median(o["evaluation"] for o in runs if "evaluation" in o)
             for name, runs in results.items() if any("evaluation" in o for o in runs)}
    if "symopt" in evals and "numpy" in evals:
        print(f"per evaluation, Dask pass / NumPy kernel: {evals['symopt'] / evals['numpy']:.3f}x")


if __name__ == "__main__":
    main(sys.argv[1:])

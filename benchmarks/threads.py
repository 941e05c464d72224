"""When should a kernel pass split its rows across threads? One pass of the serial and of the parallel module,
on a quiet machine and beside a busy process (issue 26, item 10; symopt/numerics/threads.py's PARALLEL_MIN_WORK).

    python benchmarks/threads.py

For each problem and row count: the mean time of one objective-and-gradient pass (mean, not median: the
cost of a parallel region beside a busy core is in the tail), serial module against parallel module (2
threads), alone and while another process spins on a core. Work is rows x (parameters + 1), the measure
symopt/numerics/threads.py compares with PARALLEL_MIN_WORK.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fair import blas_kernel, unthrottled  # noqa: E402

unthrottled()

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import symopt  # noqa: E402
from symopt.model.data import prepare  # noqa: E402
from symopt.run.loop import kernel_value_and_grad  # noqa: E402


def _problems(rng, n):
    x = rng.uniform(0, 1, n)
    poisson = symopt.Objective("y*(a + b*x) - exp(a + b*x)", "a b", maximize=True)
    yield "Poisson a + b*x (2 params)", poisson, {"x": x, "y": rng.poisson(np.exp(0.5 + x)).astype(float)}, 2
    for m in (8, 32):
        X = rng.normal(size=(n, m))
        y = (X @ np.linspace(-1, 1, m) + rng.logistic(size=n) > 0).astype(float)
        yield f"logistic {m} columns", symopt.log_loss(symopt.LinearModel()), {"X": X, "y": y}, m + 1


def _pass_time(module, rendered, objective, dataset, theta, seconds: float = 0.4) -> float:
    kernel_value_and_grad(module, rendered, objective, dataset, theta)
    times, start = [], time.perf_counter()
    while time.perf_counter() - start < seconds or len(times) < 5:
        t0 = time.perf_counter()
        kernel_value_and_grad(module, rendered, objective, dataset, theta)
        times.append(time.perf_counter() - t0)
    return float(np.mean(times))


def main() -> None:
    import numba

    print(f"numpy {np.__version__}, numba {numba.__version__} ({numba.config.NUMBA_NUM_THREADS} threads), "
          f"{blas_kernel()}")
    print(f"{'problem':28s} {'rows':>9s} {'work':>10s} | {'quiet: serial':>14s} {'parallel':>9s} | "
          f"{'busy: serial':>13s} {'parallel':>9s}  (mean ms per pass)")
    rng = np.random.default_rng(0)
    for n in (4096, 16_384, 65_536, 262_144, 1_048_576):
        for title, objective, data, p in _problems(rng, n):
            problem = symopt.Problem(objective, backend="numba")
            optimizer, _ = problem._driver.optimizer(p)
            dataset = prepare(problem.objective, data)
            theta = np.full(p, 0.1)
            modules = {par: problem._driver.compiled(optimizer, "numba", par)[:2] for par in (False, True)}
            figures = {}
            for load in ("quiet", "busy"):
                spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if load == "busy" else None
                try:
                    time.sleep(0.2 if spinner else 0.0)
                    for par in (False, True):
                        rendered, module = modules[par]
                        figures[load, par] = _pass_time(module, rendered, problem.objective, dataset, theta)
                finally:
                    if spinner:
                        spinner.kill()
                        spinner.wait()
            print(f"{title:28s} {n:9,d} {n * (p + 1):10,d} | {figures['quiet', False] * 1e3:14.3f} "
                  f"{figures['quiet', True] * 1e3:9.3f} | {figures['busy', False] * 1e3:13.3f} "
                  f"{figures['busy', True] * 1e3:9.3f}", flush=True)


if __name__ == "__main__":
    main()

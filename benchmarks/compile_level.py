"""What compiling costs a user and what it buys: the first solve (compile) and a warm solve at LLVM -O3 (Numba's
default) and -O2 (``NUMBA_OPT=2``).

Run by hand:  python benchmarks/compile_level.py [rounds] [cases]      (cases: "cnn,lenet,dense,curve,logistic")

Each case runs in a fresh process with an empty ``SYMOPT_CACHE_DIR`` (so its first solve compiles everything), the
levels interleaved in rounds:

- ``first``: the first ``solve`` of the process, wall seconds (what a user waits for the first time);
- ``warm``: the median of several solves after it (what every later solve costs, the code in memory).

-O3 adds non-trivial loop unswitching, which copies a loop nest once per outcome of each loop-invariant branch
in it; in the convolution kernels that multiplies the code LLVM generates (and again in every function Numba
links it into). This script measured whether symopt should compile at -O2: see benchmarks/README.md (sixth
session) for why it does not.

Cases: ``cnn`` (8 x 8 images: Conv2D(8, 3) - MaxPool2D - Conv2D(16, 3) - MaxPool2D - Dense(32) - Dense(10), Adam,
2,000 images, 3 epochs), ``lenet`` (the LeNet-5-like network of ``lenet.py`` on 1,280 images, batch 64, 2 epochs),
``dense`` (20,000 x 64 -> 512 tanh -> 64 relu -> 10, SGD batch 256, 3 epochs, float32), ``curve`` (``a*exp(b*x)``
to 100 points) and ``logistic`` (500 x 5), the last two ``latency.py``'s cases on the compiled path
(``backend="numba"``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fair import blas_kernel, unthrottled  # noqa: E402

unthrottled()

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CASES = ("cnn", "lenet", "dense", "curve", "logistic")
LEVELS = ("O3 (default)", "O2 (NUMBA_OPT=2)")


def case(name: str):
    """(a function running one solve, how many warm solves to time)."""
    import symopt

    rng = np.random.default_rng(0)
    if name == "cnn":
        X, y = rng.normal(size=(2000, 1, 8, 8)), rng.integers(0, 10, 2000).astype(float)
        net = symopt.Network((1, 8, 8), [symopt.Conv2D(8, 3, padding="same"), symopt.MaxPool2D(2),
                                         symopt.Conv2D(16, 3, padding="same"), symopt.MaxPool2D(2), symopt.Flatten(),
                                         symopt.Dense(32, "relu"), symopt.Dense(10)], seed=0)
        opt = symopt.Adam(epochs=3, batch_size=32)
        return lambda: symopt.solve(symopt.cross_entropy(net), (X, y), optimizer=opt, progress=False), 3
    if name == "lenet":
        X = np.clip(rng.normal(0.1, 0.3, size=(1280, 1, 28, 28)), 0.0, 1.0)
        y = rng.integers(0, 10, 1280).astype(float)
        net = symopt.Network((1, 28, 28), [symopt.Conv2D(6, 5, padding="same", activation="relu"),
                                           symopt.MaxPool2D(2), symopt.Conv2D(16, 5, activation="relu"),
                                           symopt.MaxPool2D(2), symopt.Flatten(), symopt.Dense(120, "relu"),
                                           symopt.Dense(84, "relu"), symopt.Dense(10)], seed=0, dtype="float32")
        opt = symopt.GradientDescent(lr=0.01, line_search=False, batch_size=64, epochs=2)
        return lambda: symopt.solve(symopt.cross_entropy(net), (X, y), optimizer=opt, progress=False), 3
    if name == "dense":
        X = rng.normal(size=(20_000, 64))
        y = np.argmax(X[:, :10] + 0.5 * rng.normal(size=(20_000, 10)), axis=1).astype(float)
        net = symopt.Network(64, [symopt.Dense(512, "tanh"), symopt.Dense(64, "relu"), symopt.Dense(10)], seed=0,
                             dtype="float32")
        opt = symopt.GradientDescent(lr=0.05, line_search=False, batch_size=256, epochs=3)
        return lambda: symopt.solve(symopt.cross_entropy(net), (X, y), optimizer=opt, progress=False), 3
    if name == "curve":
        a, b = symopt.params("a b")
        x = np.linspace(0.0, 1.0, 100)
        data = {"x": x, "y": 2.0 * np.exp(-1.5 * x) + 0.01 * rng.normal(size=100)}
        problem = symopt.squared_loss(symopt.Model("a*exp(b*x)", [a, b]))
        return lambda: symopt.solve(problem, data, x0={"a": 1.0, "b": -1.0}, progress=False, backend="numba"), 200
    if name == "logistic":
        X = rng.normal(size=(500, 5))
        data = {"X": X, "y": (X @ np.linspace(-1.0, 1.0, 5) + rng.logistic(size=500) > 0).astype(float)}
        problem = symopt.log_loss(symopt.LinearModel())
        return lambda: symopt.solve(problem, data, progress=False, backend="numba"), 200
    raise SystemExit(f"unknown case {name!r}: choose from {', '.join(CASES)}")


def one(name: str) -> None:
    """Child process: the first solve (compiles), then the warm ones; prints seconds."""
    run, warm = case(name)
    start = time.perf_counter()
    run()
    first = time.perf_counter() - start
    times = []
    for _ in range(warm):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    print(json.dumps({"first": first, "warm": float(np.median(times))}))


def rounds(count: int, cases) -> None:
    print(blas_kernel())
    print(f"first solve (fresh cache) and warm solve (median), seconds; each in its own process, {count} round(s)")
    got = {(c, level): [] for c in cases for level in LEVELS}
    for r in range(count):
        for i, name in enumerate(cases):
            order = LEVELS if (r + i) % 2 == 0 else LEVELS[::-1]
            for level in order:
                env = {k: v for k, v in os.environ.items() if k != "NUMBA_OPT"}
                if level.startswith("O2"):
                    env["NUMBA_OPT"] = "2"
                env["SYMOPT_CACHE_DIR"] = tempfile.mkdtemp(prefix="symopt-level-")
                out = subprocess.run([sys.executable, __file__, "--one", name], capture_output=True, text=True,
                                     env=env)
                if out.returncode:
                    raise SystemExit(f"{name} at {level} failed:\n{out.stderr[-3000:]}")
                got[name, level].append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"  round {r + 1} done", flush=True)
    print(f"{'case':10s}" + "".join(f"{level + ' first':>24}{'warm':>12}" for level in LEVELS)
          + "   first O2/O3   warm O2/O3")
    for name in cases:
        cells, med = "", {}
        for level in LEVELS:
            rows = got[name, level]
            med[level] = (np.median([r["first"] for r in rows]), np.median([r["warm"] for r in rows]))
            cells += f"{med[level][0]:24.2f}{med[level][1] * 1e3:10.2f}ms"
        o3, o2 = med[LEVELS[0]], med[LEVELS[1]]
        print(f"{name:10s}{cells}   {o2[0] / o3[0]:11.2f}x  {o2[1] / o3[1]:10.2f}x")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        one(sys.argv[2])
    else:
        rounds(int(sys.argv[1]) if len(sys.argv) > 1 else 2,
               [c for c in (sys.argv[2] if len(sys.argv) > 2 else ",".join(CASES)).split(",")])

"""Where the log-loss gradient pass spends its time: per-row cost of its parts, one thread.

    python benchmarks/pass_anatomy.py

Run by hand, not a test. Each part is a small Numba loop over the rows of X (64 features,
float64), timed in two regimes on one thread:
  cached     32 rows (16 KB, in L1), swept many times: the arithmetic and L1 traffic alone;
  streaming  100,000 rows (51 MB, more than L3): the same loop reading X from memory.
The parts:
  read        sum of X, streaming only: the memory-read floor for one thread
  dot         eta_i = x_i . c, one row at a time
  axpy        g += r_i x_i, one row at a time
  dot+axpy    both, fused per row (the structure of the generated pass)
  dot4, axpy4, dot4+axpy4   the same over groups of 4 rows, sharing the loads of c and g
  generated   the generated log-loss kernel itself, restricted to one thread
The figures explain the remaining gap to the read floor (issue 3): the fused per-row loop is
bound by L1 loads and stores (coefficients and gradient sums go through memory every row), and
the 4-row groups that cut those loads read memory out of order and stream at half speed.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SYMOPT_CACHE_DIR", tempfile.mkdtemp(prefix="symopt-bench-"))

import numba  # noqa: E402
from numba import njit  # noqa: E402

import symopt  # noqa: E402
from symopt.codegen import cache  # noqa: E402
from symopt.codegen.render import render  # noqa: E402

FASTMATH = {"reassoc", "contract", "nsz", "arcp"}


@njit(fastmath=FASTMATH)
def read(X, c, reps):
    n, m = X.shape
    total = 0.0
    for _ in range(reps):
        for i in range(n):
            for j in range(m):
                total += X[i, j]
    return total


@njit(fastmath=FASTMATH)
def dot(X, c, reps):
    n, m = X.shape
    total = 0.0
    for _ in range(reps):
        for i in range(n):
            row = X[i]
            eta = 0.0
            for j in range(m):
                eta += row[j] * c[j]
            total += eta
    return total


@njit(fastmath=FASTMATH)
def axpy(X, c, reps):
    n, m = X.shape
    sums = np.zeros(m)
    for _ in range(reps):
        for i in range(n):
            row = X[i]
            r = row[0]
            for j in range(m):
                sums[j] += r * row[j]
    return sums.sum()


@njit(fastmath=FASTMATH)
def dot_axpy(X, c, reps):
    n, m = X.shape
    sums = np.zeros(m)
    for _ in range(reps):
        for i in range(n):
            row = X[i]
            eta = 0.0
            for j in range(m):
                eta += row[j] * c[j]
            r = eta * 1e-3
            for j in range(m):
                sums[j] += r * row[j]
    return sums.sum()


@njit(fastmath=FASTMATH)
def _group_dot(x0, x1, x2, x3, c):
    e0 = e1 = e2 = e3 = 0.0
    for j in range(c.shape[0]):
        cj = c[j]
        e0 += x0[j] * cj
        e1 += x1[j] * cj
        e2 += x2[j] * cj
        e3 += x3[j] * cj
    return e0, e1, e2, e3


@njit(fastmath=FASTMATH)
def _group_axpy(sums, x0, x1, x2, x3, r0, r1, r2, r3):
    for j in range(sums.shape[0]):
        sums[j] += (r0 * x0[j] + r1 * x1[j]) + (r2 * x2[j] + r3 * x3[j])


@njit(fastmath=FASTMATH)
def dot4(X, c, reps):
    total = 0.0
    for _ in range(reps):
        for i in range(0, X.shape[0], 4):
            e0, e1, e2, e3 = _group_dot(X[i], X[i + 1], X[i + 2], X[i + 3], c)
            total += (e0 + e1) + (e2 + e3)
    return total


@njit(fastmath=FASTMATH)
def axpy4(X, c, reps):
    sums = np.zeros(X.shape[1])
    for _ in range(reps):
        for i in range(0, X.shape[0], 4):
            _group_axpy(sums, X[i], X[i + 1], X[i + 2], X[i + 3], X[i, 0], X[i + 1, 0], X[i + 2, 0], X[i + 3, 0])
    return sums.sum()


@njit(fastmath=FASTMATH)
def dot4_axpy4(X, c, reps):
    sums = np.zeros(X.shape[1])
    for _ in range(reps):
        for i in range(0, X.shape[0], 4):
            x0, x1, x2, x3 = X[i], X[i + 1], X[i + 2], X[i + 3]
            e0, e1, e2, e3 = _group_dot(x0, x1, x2, x3, c)
            _group_axpy(sums, x0, x1, x2, x3, e0 * 1e-3, e1 * 1e-3, e2 * 1e-3, e3 * 1e-3)
    return sums.sum()


def generated_kernel(m):
    objective = symopt.log_loss(symopt.LinearModel())
    rendered = render(objective, symopt.derive(objective), symopt.LBFGS())
    module, _ = cache.load(rendered.source, rendered.stem)
    theta = np.random.default_rng(1).normal(size=m + 1) * 0.01
    grad = np.empty(m + 1)
    mask = np.r_[0.0, np.ones(m)]

    def generated(X, y, reps):
        for _ in range(reps):
            module.objective_and_gradient(theta, X, y, mask, 0.0, grad)

    return generated


def ns_per_row(fn, args, rows, reps, repeats=7):
    fn(*args, reps)
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args, reps)
        best = min(best, time.perf_counter() - start)
    return best / (rows * reps) * 1e9


def main(m=64):
    numba.set_num_threads(1)
    rng = np.random.default_rng(0)
    c = rng.normal(size=m) * 0.1
    parts = [read, dot, axpy, dot_axpy, dot4, axpy4, dot4_axpy4]
    generated = generated_kernel(m)
    regimes = {"cached (32 rows, L1)": (32, 20_000), "streaming (100,000 rows, 51 MB)": (100_000, 3)}
    table = {}
    for label, (rows, reps) in regimes.items():
        X = rng.normal(size=(rows, m))
        y = (rng.random(rows) > 0.5).astype(float)
        for part in parts:
            if part is read and rows < 4096:
                continue  # a read floor means memory: only in the streaming regime
            table[part.__name__, label] = ns_per_row(part, (X, c), rows, reps)
        # The generated pass splits rows into blocks of 2048: the cached regime is one short
        # block per call, so its per-call overhead counts; it is shown for the streaming regime.
        if rows >= 4096:
            table["generated", label] = ns_per_row(generated, (X, y), rows, reps)
    names = [p.__name__ for p in parts] + ["generated"]
    print(f"ns per row, one thread, {m} float64 features (best of 7)")
    print(f"{'part':12s}" + "".join(f"{label:>34s}" for label in regimes))
    for name in names:
        cells = [table.get((name, label)) for label in regimes]
        print(f"{name:12s}" + "".join(f"{'-' if v is None else f'{v:.1f}':>34s}" for v in cells))
    cached, streaming = regimes
    floor = table["read", streaming]
    print(f"generated pass / read floor, one thread: {table['generated', streaming] / floor:.2f}x; "
          f"dot+axpy alone from L1: {table['dot_axpy', cached] / floor:.2f}x the streaming read; "
          f"4-row groups: {table['dot4_axpy4', cached]:.1f} ns from L1 but "
          f"{table['dot4_axpy4', streaming]:.1f} ns streaming (1-row: {table['dot_axpy', streaming]:.1f})")


if __name__ == "__main__":
    main()

"""Time per gradient-descent iteration: generated logistic-regression kernel vs NumPy.

Run by hand (not a test):  python benchmarks/logistic_gd.py [rows] [features]

Both sides do the same work per iteration on the same float64 data: the
mean log loss and its gradient at the current weights, then a fixed-step
update. NumPy reads X twice (X @ w, then X.T @ r); the generated kernel
fuses both into one pass over the rows. Times are medians of repeats, both
measured in this one run, and printed as a ratio.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
os.environ.setdefault("SYMOPT_CACHE_DIR", tempfile.mkdtemp(prefix="symopt-bench-"))

import symopt  # noqa: E402
from symopt.codegen import cache  # noqa: E402
from symopt.codegen.render import render  # noqa: E402


def numpy_iteration(X, y, w, lr):
    eta = X @ w[1:] + w[0]
    loss = np.mean(np.logaddexp(0.0, eta) - y * eta)
    r = 0.5 * (1.0 + np.tanh(0.5 * eta)) - y  # stable sigmoid
    grad = np.empty_like(w)
    grad[0] = r.mean()
    grad[1:] = X.T @ r / X.shape[0]
    return w - lr * grad, loss


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(n=200_000, m=64, iterations=20, repeats=5):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, m))
    y = (X @ rng.normal(size=m) * 0.3 + rng.normal(size=n) > 0).astype(float)
    objective = symopt.log_loss(symopt.LinearModel())
    rendered = render(objective, symopt.derive(objective), symopt.GradientDescent(lr=0.1, line_search=False))
    module, path = cache.load(rendered.source, rendered.stem)
    w0 = np.zeros(m + 1)
    mask = np.r_[0.0, np.ones(m)]
    history = np.empty(iterations + 1)
    # Warm up (compile) both sides, then time `iterations` fixed-step iterations.
    module.minimise(w0, X, y, mask, 0.0, 1.0, 0.1, False, 1, 0.0, 0.0, np.empty(2))

    def generated():
        module.minimise(w0, X, y, mask, 0.0, 1.0, 0.1, False, iterations, 0.0, 0.0, history)

    def numpy_loop():
        w = w0
        for _ in range(iterations):
            w, _ = numpy_iteration(X, y, w, 0.1)

    numpy_loop()
    t_gen = median_time(generated, repeats) / iterations
    t_np = median_time(numpy_loop, repeats) / iterations
    theta, *_ = module.minimise(w0, X, y, mask, 0.0, 1.0, 0.1, False, iterations, 0.0, 0.0, history)
    w = w0
    for _ in range(iterations):
        w, _ = numpy_iteration(X, y, w, 0.1)
    agree = np.max(np.abs(theta - w)) / np.max(np.abs(w))
    print(f"data: {n:,} x {m} float64 ({X.nbytes / 1e6:.0f} MB); {iterations} fixed-step iterations, median of {repeats}")
    print(f"generated kernel ({path.name}): {t_gen * 1e3:8.2f} ms per iteration")
    print(f"NumPy X@w, X.T@r:                     {t_np * 1e3:8.2f} ms per iteration")
    print(f"ratio generated / NumPy: {t_gen / t_np:.2f}  (NumPy / generated: {t_np / t_gen:.2f}x)")
    print(f"iterates agree to {agree:.1e} relative")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    main(*args)

"""Solver benchmarks: ratios measured side by side in one run (by hand, not a test).

    python benchmarks/solvers.py            # all three
    python benchmarks/solvers.py logistic   # or: lstsq, warm

logistic  200,000 x 64 float64 log loss. (a) Time per gradient pass of the
          generated fused kernel against the memory-read floor (bytes of X
          over the best read bandwidth measured here: NumPy's sum and a
          parallel Numba sum) and against NumPy's X@w then X.T@r. (b) Time to
          solution (mean log loss within 1e-8 relative of the optimum, which
          scikit-learn finds with tol=1e-10) against scikit-learn's
          LogisticRegression(solver="lbfgs"), unpenalised, at its default tol
          and at tol=1e-10.
lstsq     1,000,000 x 32 least squares against scikit-learn's LinearRegression and a
          plain X.T @ X + Cholesky solve (the machine's limit for this shape): time
          and the largest relative difference of the coefficients.
warm      a second process solving the same problem: its time, and whether
          anything was compiled (Numba cache misses).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fair import blas_kernel, unthrottled  # noqa: E402

unthrottled()  # the peers (NumPy's BLAS, scikit-learn) run without these machines' OpenBLAS throttles

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SYMOPT_CACHE_DIR", tempfile.mkdtemp(prefix="symopt-bench-"))

import numba  # noqa: E402

import symopt  # noqa: E402
from symopt.codegen import cache  # noqa: E402
from symopt.codegen.render import render  # noqa: E402


def best_time(fn, repeats=15):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.min(times)), float(np.median(times))


@numba.njit(parallel=True, fastmath={"reassoc", "contract", "nsz", "arcp"})
def _parallel_sum(X):
    n = X.shape[0]
    blocks = 64
    out = np.zeros(blocks)
    for b in numba.prange(blocks):
        s = 0.0
        for i in range(b * n // blocks, (b + 1) * n // blocks):
            for j in range(X.shape[1]):
                s += X[i, j]
        out[b] = s
    return out.sum()


def logistic(n=200_000, m=64, rounds=7):
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss

    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, m))
    y = (X @ rng.normal(size=m) * 0.3 + rng.normal(size=n) > 0).astype(float)
    objective = symopt.log_loss(symopt.LinearModel())
    # the parallel module: what solve runs at this size with more than one thread (symopt.numerics.threads)
    rendered = render(objective, symopt.derive(objective), symopt.LBFGS(), parallel=True)
    module, _ = cache.load(rendered.source, rendered.stem)
    w = rng.normal(size=m + 1) * 0.01
    grad = np.empty(m + 1)
    mask = np.r_[0.0, np.ones(m)]

    def numpy_pass():
        eta = X @ w[1:] + w[0]
        r = 0.5 * (1.0 + np.tanh(0.5 * eta)) - y
        return np.mean(np.logaddexp(0.0, eta) - y * eta), X.T @ r / n

    # Interleaved rounds: the floor and the kernel see the same machine state; the best of
    # all rounds is each one's figure, and the per-round ratios show the spread.
    floors, kernels, ratios = [], [], []
    for _ in range(rounds):
        floor = min(best_time(lambda: X.sum())[0], best_time(lambda: _parallel_sum(X))[0])
        kernel = best_time(lambda: module.objective_and_gradient(w, X, y, mask, 0.0, grad))[0]
        floors.append(floor)
        kernels.append(kernel)
        ratios.append(kernel / floor)
    floor, kernel = min(floors), min(kernels)
    numpy = best_time(numpy_pass)[0]
    print(f"logistic {n:,} x {m}: X is {X.nbytes / 1e6:.0f} MB; read floor {floor * 1e3:.2f} ms "
          f"({X.nbytes / floor / 1e9:.1f} GB/s)")
    print(f"  gradient pass (loss and gradient): generated {kernel * 1e3:.2f} ms = {kernel / floor:.2f}x the floor "
          f"(best of {rounds} rounds; per round {min(ratios):.2f} to {max(ratios):.2f}x, "
          f"median {float(np.median(ratios)):.2f}x); "
          f"NumPy {numpy * 1e3:.2f} ms; NumPy / generated = {numpy / kernel:.2f}x")

    def sklearn(**kw):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            model = LogisticRegression(C=np.inf, **kw).fit(X, y)
            seconds = time.perf_counter() - start
        return seconds, log_loss(y, model.predict_proba(X)[:, 1]), model.n_iter_[0]

    t_default, loss_default, it_default = sklearn()
    t_tight, loss_tight, it_tight = sklearn(tol=1e-10, max_iter=10_000)
    symopt.solve(objective, (X, y), progress=False)  # compile once
    start = time.perf_counter()
    result = symopt.solve(objective, (X, y), progress=False)
    t_symopt = time.perf_counter() - start
    print(f"  time to solution: symopt {t_symopt:.3f} s ({result.nit} L-BFGS iterations, {result.nfev} passes: "
          f"{result.nfev / max(result.nit, 1):.2f} per iteration; mean log loss "
          f"{abs(result.fun - loss_tight) / loss_tight:.1e} relative from the optimum)")
    print(f"    scikit-learn lbfgs, default tol: {t_default:.3f} s ({it_default} iterations, "
          f"{abs(loss_default - loss_tight) / loss_tight:.1e} from the optimum): ratio {t_symopt / t_default:.2f}")
    print(f"    scikit-learn lbfgs, tol=1e-10:   {t_tight:.3f} s ({it_tight} iterations): "
          f"ratio {t_symopt / t_tight:.2f}")


def lstsq(n=1_000_000, m=32, rounds=5):
    import scipy.linalg
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(1)
    X = rng.normal(size=(n, m))
    y = X @ rng.normal(size=m) + 3.0 + rng.normal(size=n)
    objective = symopt.squared_loss(symopt.LinearModel())
    symopt.solve(objective, (X[:1000], y[:1000]))

    def plain():
        """The least a user could write: X.T @ X, the column sums and X.T @ y (no copy of X), bordered with
        the intercept's row and column, and a Cholesky solve."""
        G = np.empty((m + 1, m + 1))
        G[0, 0] = n
        G[0, 1:] = G[1:, 0] = X.sum(axis=0)
        G[1:, 1:] = X.T @ X
        L = np.linalg.cholesky(G)
        return scipy.linalg.cho_solve((L, True), np.r_[y.sum(), X.T @ y])

    contenders = {"symopt": lambda: symopt.solve(objective, (X, y)), "plain": plain,
                  "sklearn": lambda: LinearRegression().fit(X, y)}
    times = {name: [] for name in contenders}
    for _ in range(rounds):  # interleaved: the machine's slow spells hit every contender alike
        for name, fn in contenders.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    med = {name: float(np.median(t)) for name, t in times.items()}
    ratios = np.array(times["symopt"]) / np.array(times["plain"])
    r = symopt.solve(objective, (X, y))
    ref = LinearRegression().fit(X, y)
    diff = max(np.max(np.abs(r.params["coef"] - ref.coef_) / np.abs(ref.coef_)),
               abs(r.params["intercept"] - ref.intercept_) / abs(ref.intercept_))
    print(f"least squares {n:,} x {m} (medians of {rounds} interleaved rounds): symopt {med['symopt']:.3f} s, "
          f"scikit-learn LinearRegression {med['sklearn']:.3f} s: ratio {med['symopt'] / med['sklearn']:.2f}; "
          f"coefficients agree to {diff:.1e} relative")
    print(f"  plain X.T @ X + Cholesky: {med['plain']:.3f} s; symopt / plain per round "
          f"{', '.join(f'{v:.2f}' for v in ratios)}: median {float(np.median(ratios)):.2f} (target <= 1.5)")
    print(f"  {r.closed_form.detail}")


WARM = """
import json, sys, time
start = time.perf_counter()
import numpy as np
import symopt
rng = np.random.default_rng(3)
x = rng.uniform(0, 2, 5000)
y = 2 * np.exp(0.7 * x) + rng.normal(0, 0.05, 5000)
r = symopt.solve(symopt.squared_loss(symopt.Model("a*exp(b*x)", "a b")), {"x": x, "y": y},
                 x0={"a": 1.0, "b": 0.1}, progress=False, backend="numba")  # compiled code is what is timed
module = sys.modules[r.source_path.stem]
stats = [f.stats for f in vars(module).values() if hasattr(f, "stats") and hasattr(f, "py_func")]
print(json.dumps({"seconds": time.perf_counter() - start, "success": r.success,
                  "misses": sum(sum(s.cache_misses.values()) for s in stats),
                  "hits": sum(sum(s.cache_hits.values()) for s in stats)}))
"""


def warm():
    folder = tempfile.mkdtemp(prefix="symopt-warm-")
    env = dict(os.environ, SYMOPT_CACHE_DIR=folder, PYTHONPATH=str(ROOT))
    runs = []
    for _ in range(2):
        out = subprocess.run([sys.executable, "-c", WARM], capture_output=True, text=True, env=env, check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    cold, hot = runs
    print(f"warm start: first process {cold['seconds']:.2f} s ({cold['misses']} compiled), second process "
          f"{hot['seconds']:.2f} s ({hot['misses']} compiled, {hot['hits']} loaded from the cache)")


if __name__ == "__main__":
    chosen = sys.argv[1:] or ["logistic", "lstsq", "warm"]
    print(f"numba threads: {numba.get_num_threads()}, numpy {np.__version__}, numba {numba.__version__}, "
          f"{blas_kernel()}")
    for name in chosen:
        {"logistic": logistic, "lstsq": lstsq, "warm": warm}[name]()

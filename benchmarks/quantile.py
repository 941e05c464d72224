"""Quantile regression (issue 29, item 3): symopt's exact LP (``quantile_loss`` on a ``LinearModel()`` over a data
matrix, solved by SciPy's HiGHS) against statsmodels' ``QuantReg`` (IRLS), time and peak memory, and the objective
each reaches.

Run by hand:  python benchmarks/quantile.py [rows] [q]

Synthetic data, ``rows`` x 20 standard normal features (100,000 by default), heavy-tailed noise (Student t, 3
degrees of freedom). Each contender runs in a child process of its own (one fit, after a warm-up fit on 1,000 rows
so that imports and compiles are not timed), which reports its wall time and its peak resident memory
(``ru_maxrss``: the process's whole peak, the data included, which both hold), and its CPU time (all its threads:
on a shared machine the wall time varies with the load, the CPU time less).
"""

from __future__ import annotations

import json
import subprocess
import sys

FEATURES = 20

CHILD = r"""
import json, resource, sys, time, warnings
import numpy as np
which, rows, q = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
rng = np.random.default_rng(0)
X = rng.standard_normal((rows, 20))
y = 1.0 + X @ rng.normal(size=20) + rng.standard_t(3, size=rows)

def fit(X, y):
    if which == "symopt":
        import symopt
        r = symopt.solve(symopt.quantile_loss(symopt.LinearModel(), q=q), {"X": X, "y": y})
        return np.r_[r.params["intercept"], r.params["coef"]]
    import statsmodels.api as sm
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(sm.QuantReg(y, sm.add_constant(X)).fit(q=q, max_iter=5000).params)

fit(X[:1000], y[:1000])
start, cpu = time.perf_counter(), time.process_time()
theta = fit(X, y)
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
u = y - theta[0] - X @ theta[1:]
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "objective": float(np.mean(np.maximum(q * u, (q - 1) * u)))}))
"""


def main(argv) -> int:
    rows = int(argv[1]) if len(argv) > 1 else 100_000
    q = float(argv[2]) if len(argv) > 2 else 0.5
    print(f"quantile regression, q = {q}, {rows:,} x {FEATURES}")
    results = {}
    for which in ("symopt", "statsmodels"):
        out = subprocess.run([sys.executable, "-c", CHILD, which, str(rows), str(q)], capture_output=True, text=True,
                             check=True)
        results[which] = json.loads(out.stdout.strip().splitlines()[-1])
        r = results[which]
        print(f"  {which:12s} {r['seconds']:8.2f} s (CPU {r['cpu_seconds']:7.2f} s)  peak {r['peak_mib']:8.0f} MiB  objective {r['objective']:.12g}")
    gap = results["statsmodels"]["objective"] / results["symopt"]["objective"] - 1
    print(f"  statsmodels' objective above the LP's by {gap:.2g} (relative)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

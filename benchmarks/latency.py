"""What one call costs, as a user gets it: small problems solved again and again on the default path, alone and
with a second process beside us, and the first solve in a new process.

    python benchmarks/latency.py            # everything (about five minutes)
    python benchmarks/latency.py repeated   # the default path, warm cache, against the peers
    python benchmarks/latency.py loaded     # two processes at once against one alone
    python benchmarks/latency.py loaded numba   # ... with backend="numba" (as code before issue 26 ran it)
    python benchmarks/latency.py fresh      # a new process's import and first solve

Every figure is measured in new processes, as a user meets it: a script or a worker that imports symopt and
solves. The cache folder is warm (it holds the compiled modules: one run with ``backend="numba"`` fills it
first), and symopt runs with its defaults (``backend="auto"``).

``repeated``: each worker makes 2 warm-up calls, then 30 timed calls, each on new random data; the figure is
the mean of those 30 (solves 3 to 32). symopt and its peer alternate, worker by worker, over several rounds;
the ratio is of the medians over rounds. Targets (issue 26): curve fit <= 10x ``curve_fit``, logistic <= 2x
scikit-learn, the closed forms <= 3x.

``loaded``: what a second process beside us costs, as joblib's ``n_jobs=2`` runs two workers on this 2-core
machine (here without the thread limits joblib sets, the harder case): the mean time per solve of one worker
alone against the mean over two workers started together; goal <= 2x. The mean, not the median: a parallel
region beside a busy core costs milliseconds now and then, so the cost is in the tail.

``fresh``: a whole ``python -c`` (interpreter start, imports, first solve), symopt with an empty cache
folder, then with that folder warm, against SciPy importing and running ``curve_fit``, interleaved in rounds.
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

ROOT = Path(__file__).resolve().parents[1]

#: case -> (title, symopt's target ratio to the peer, the peer's name)
CASES = {
    "line": ("a + b*x least squares, 200 rows", 3.0, "scikit-learn LinearRegression().fit"),
    "gauss": ("Gaussian maximum likelihood, 200 rows", 3.0, "scikit-learn LinearRegression().fit"),
    "curve": ("a*exp(b*x) curve fit, 100 points", 10.0, "scipy curve_fit"),
    "poisson": ("Poisson regression a + b*x, 20 rows", None, "scipy minimize (BFGS)"),
    "logistic": ("logistic regression 500 x 5", 2.0, "scikit-learn LogisticRegression(C=inf)"),
}

WORKER = r'''
import json, sys, time, warnings
import numpy as np
case, who, calls, warm = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
backend = sys.argv[5] if len(sys.argv) > 5 else "auto"
rng = np.random.default_rng(int(time.time_ns() % 2**32))
warnings.simplefilter("ignore")
if who == "symopt":
    import symopt
    a, b = symopt.params("a b")
    if case == "line":
        problem = symopt.squared_loss(symopt.Model("a + b*x", [a, b]))
    elif case == "gauss":
        mu, sigma = symopt.params("mu"), symopt.params("sigma", positive=True)
        problem = symopt.Objective("-log(sigma) - (x - mu)**2/(2*sigma**2)", [mu, sigma], maximize=True)
    elif case == "curve":
        problem = symopt.squared_loss(symopt.Model("a*exp(b*x)", [a, b]))
    elif case == "poisson":
        problem = symopt.Objective("y*(a + b*x) - exp(a + b*x)", [a, b], maximize=True)
    else:
        problem = symopt.log_loss(symopt.LinearModel())
    x0 = {"a": 1.0, "b": -1.0} if case == "curve" else None
    def call(data):
        r = symopt.solve(problem, data, x0=x0, progress=False, backend=backend)
        return r.backend.split(",")[0] if "then" not in r.backend else "python->numba"
else:
    import scipy.optimize, sklearn.linear_model
    def call(data):
        if case in ("line", "gauss"):
            sklearn.linear_model.LinearRegression().fit(data["x"][:, None], data["y"])
        elif case == "curve":
            scipy.optimize.curve_fit(lambda x, a, b: a * np.exp(b * x), data["x"], data["y"], p0=(1.0, -1.0))
        elif case == "poisson":
            x, y = data["x"], data["y"]
            def f(t):
                eta = t[0] + t[1] * x
                mu = np.exp(eta)
                return -np.mean(y * eta - mu), -np.array([np.mean(y - mu), np.mean((y - mu) * x)])
            scipy.optimize.minimize(f, np.zeros(2), jac=True, method="BFGS")
        else:
            sklearn.linear_model.LogisticRegression(C=np.inf).fit(data["X"], data["y"])
        return "peer"
def data():
    if case in ("line", "gauss"):
        x = rng.normal(size=200)
        return {"x": x, "y": 1.0 + 2.0 * x + rng.normal(size=200)}
    if case == "curve":
        x = np.linspace(0.0, 1.0, 100)
        return {"x": x, "y": 2.0 * np.exp(-1.5 * x) + 0.01 * rng.normal(size=100)}
    if case == "poisson":
        x = rng.uniform(0, 1, 20)
        return {"x": x, "y": rng.poisson(np.exp(0.5 + x)).astype(float)}
    X = rng.normal(size=(500, 5))
    return {"X": X, "y": (X @ np.linspace(-1.0, 1.0, 5) + rng.logistic(size=500) > 0).astype(float)}
times, backends = [], []
for k in range(warm + calls):
    d = data()
    t0 = time.perf_counter()
    backends.append(call(d))
    times.append(time.perf_counter() - t0)
print(json.dumps({"times": times[warm:], "backends": backends[warm:], "first": backends[0]}))
'''


def _env(cache: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), SYMOPT_CACHE_DIR=cache)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # bytecode as an installed package has it
    return env


def _start(case: str, who: str, calls: int, warm: int, cache: str, backend: str = "auto") -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WORKER, case, who, str(calls), str(warm), backend],
                            env=_env(cache), cwd=ROOT, stdout=subprocess.PIPE, text=True)


def _result(process: subprocess.Popen) -> dict:
    out, _ = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"a worker failed (rc {process.returncode})")
    return json.loads(out.strip().splitlines()[-1])


def _warm_cache(cache: str) -> None:
    """Fill ``cache`` with every case's compiled modules (one solve each with backend="numba")."""
    for case in CASES:
        _result(_start(case, "symopt", 1, 0, cache, backend="numba"))


def repeated(rounds: int = 5, calls: int = 30) -> None:
    print(f"\nrepeated: {calls} calls after 2 warm-ups in a new process, warm cache, default backend; mean of "
          f"solves 3-{calls + 2}; median over {rounds} rounds, contenders alternating")
    print(f"{'case':42s} {'symopt':>10s} {'peer':>10s} {'ratio':>7s}  target  backends (symopt)")
    with tempfile.TemporaryDirectory() as cache:
        _warm_cache(cache)
        for case, (title, target, peer) in CASES.items():
            ours, theirs, backends = [], [], {}
            for _ in range(rounds):
                got = _result(_start(case, "symopt", calls, 2, cache))
                ours.append(np.mean(got["times"]))
                for b in [got["first"], *got["backends"]]:
                    backends[b] = backends.get(b, 0) + 1
                theirs.append(np.mean(_result(_start(case, "peer", calls, 2, cache))["times"]))
            m_ours, m_theirs = float(np.median(ours)), float(np.median(theirs))
            ratio = m_ours / m_theirs
            verdict = "" if target is None else f"<= {target:g}x {'met' if ratio <= target else 'NOT met'}"
            print(f"{title:42s} {m_ours * 1e3:7.3f} ms {m_theirs * 1e3:7.3f} ms {ratio:6.2f}x  {verdict:15s} "
                  f"{', '.join(f'{k} x{v}' for k, v in backends.items())}  [peer: {peer}]", flush=True)


def loaded(rounds: int = 3, calls: int = 200, backend: str = "auto") -> None:
    print(f"\nloaded: mean time per solve of one worker alone ({calls} solves after 2 warm-ups) against two "
          f"workers started together; median over {rounds} rounds; symopt's backend={backend!r}; goal <= 2x")
    print(f"{'case':42s} {'alone':>10s} {'two at once':>12s} {'ratio':>7s}   peer alone, two, ratio")
    with tempfile.TemporaryDirectory() as cache:
        _warm_cache(cache)
        for case, (title, _, peer) in CASES.items():
            figures = {}
            for who in ("symopt", "peer"):
                alone, pair = [], []
                for _ in range(rounds):
                    alone.append(np.mean(_result(_start(case, who, calls, 2, cache, backend))["times"]))
                    both = [_start(case, who, calls, 2, cache, backend) for _ in range(2)]
                    pair.append(np.mean([t for p in both for t in _result(p)["times"]]))
                figures[who] = float(np.median(alone)), float(np.median(pair))
            (a, p), (pa, pp) = figures["symopt"], figures["peer"]
            print(f"{title:42s} {a * 1e3:7.3f} ms {p * 1e3:9.3f} ms {p / a:6.2f}x {'met' if p / a <= 2 else 'NOT met':8s}"
                  f" {pa * 1e3:.3f} ms, {pp * 1e3:.3f} ms, {pp / pa:.2f}x [{peer}]", flush=True)


SYMOPT_FIRST = """
import numpy as np, symopt
x = np.linspace(0.0, 1.0, 100)
y = 2.0 * np.exp(-1.5 * x) + 0.01 * np.random.default_rng(0).normal(size=100)
a, b = symopt.params("a b")
r = symopt.solve(symopt.squared_loss(symopt.Model("a*exp(b*x)", [a, b])), {"x": x, "y": y},
                 x0={"a": 1.0, "b": -1.0}, progress=False)
assert r.success, r.status
"""

SCIPY_FIRST = """
import numpy as np
from scipy.optimize import curve_fit
x = np.linspace(0.0, 1.0, 100)
y = 2.0 * np.exp(-1.5 * x) + 0.01 * np.random.default_rng(0).normal(size=100)
p, _ = curve_fit(lambda x, a, b: a * np.exp(b * x), x, y, p0=(1.0, -1.0))
"""


def _wall(code: str, env: dict) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=ROOT)
    return time.perf_counter() - t0


def fresh(rounds: int = 5) -> None:
    with tempfile.TemporaryDirectory() as folder:  # one untimed run of each writes the bytecode
        env = _env(folder)
        _wall(SYMOPT_FIRST, env)
        _wall(SCIPY_FIRST, env)
    cold, warm, scipy_times = [], [], []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as folder:
            env = _env(folder)
            cold.append(_wall(SYMOPT_FIRST, env))
            scipy_times.append(_wall(SCIPY_FIRST, env))
            warm.append(_wall(SYMOPT_FIRST, env))
    s = float(np.median(scipy_times))
    print()
    for title, times, target in (("empty cache", cold, 3.0), ("warm cache", warm, 2.0)):
        m = float(np.median(times))
        print(f"new process, import + first a*exp(b*x) fit, {title:11s}: {m:6.2f} s (runs "
              f"{', '.join(f'{t:.2f}' for t in times)}) vs SciPy {s:.2f} s: {m / s:5.2f}x (target <= {target:g}x: "
              f"{'met' if m / s <= target else 'NOT met'})", flush=True)


if __name__ == "__main__":
    import numba

    print(f"numpy {np.__version__}, numba {numba.__version__}, {blas_kernel()}")
    which = sys.argv[1] if len(sys.argv) > 1 else "all"
    if which in ("all", "repeated"):
        repeated()
    if which in ("all", "loaded"):
        loaded(backend=sys.argv[2] if len(sys.argv) > 2 else "auto")
    if which in ("all", "fresh"):
        fresh()

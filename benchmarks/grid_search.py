"""A grid search as a scikit-learn user runs it (issue 28, item 4): symopt's classifier against
scikit-learn's ``LogisticRegression``.

Run by hand:  python benchmarks/grid_search.py [rounds]

Breast cancer (569 x 30), ``make_pipeline(StandardScaler(), estimator)``, ``GridSearchCV`` over 50 values of
``C`` (1e-4 to 1e4) with 5 folds and the refit: 251 fits each. Both estimators as a user gets them by default
(``LogisticRegression()``: lbfgs, tol 1e-4; ``SymoptClassifier()``: ``backend="auto"``, the same penalty).
Goal: symopt within 1.5x scikit-learn.

* ``first``: one grid search in a new process (its imports not counted), symopt on an empty cache folder (the
  compile included) and on the warm one (the compiled module loaded at the first fit), scikit-learn beside it;
* ``rounds``: in one process, the contenders alternating (the order rotating each round): serial, serial with
  one BLAS thread, and with ``n_jobs=2`` (the cache folder warm, as the parent's first grid search leaves it);
  the ratio is of the medians.

Re-runs itself without ``OPENBLAS_CORETYPE``/``OPENBLAS_L2_SIZE`` (``fair.py``) and prints the BLAS kernel.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fair import blas_kernel, unthrottled  # noqa: E402

unthrottled()

GRID = 50
FOLDS = 5

FIRST = """
import sys, time
sys.path.insert(0, {here!r})
from grid_search import contenders, search
name = {name!r}
make = dict(contenders())[name]
started = time.perf_counter()
best = search(make, 1)
print(time.perf_counter() - started, best)
"""


def contenders() -> list:
    """``(name, estimator maker)`` of each contender, as a user builds it."""
    from sklearn.linear_model import LogisticRegression

    from symopt.sklearn import SymoptClassifier

    return [("scikit-learn", LogisticRegression), ("symopt", SymoptClassifier)]


def search(make, n_jobs: int):
    """One grid search with ``make()``'s estimator; returns ``(best C, best mean accuracy, fits that warned of
    no convergence in this process)``."""
    import numpy as np
    from sklearn.datasets import load_breast_cancer
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    pipeline = Pipeline([("scale", StandardScaler()), ("fit", make())])
    with warnings.catch_warnings(record=True) as caught:  # lbfgs stops at max_iter=100 for the largest C
        warnings.simplefilter("always", ConvergenceWarning)
        grid = GridSearchCV(pipeline, {"fit__C": np.logspace(-4, 4, GRID)}, cv=FOLDS, n_jobs=n_jobs).fit(X, y)
    unconverged = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
    return round(float(grid.best_params_["fit__C"]), 6), round(float(grid.best_score_), 6), unconverged


def first() -> None:
    """Each contender's first grid search in a new process; symopt on an empty and on a warm cache folder."""
    print("first grid search in a new process (imports not counted), seconds:")
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, SYMOPT_CACHE_DIR=cache)
        for name, label in (("scikit-learn", "scikit-learn"), ("symopt", "symopt, empty cache folder"),
                            ("symopt", "symopt, warm cache folder")):
            code = FIRST.format(here=str(Path(__file__).resolve().parent), name=name)
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
            seconds, best = out.stdout.strip().split(" ", 1)
            print(f"  {label:<28} {float(seconds):8.2f}   best C, accuracy, unconverged fits {best}", flush=True)


def rounds(count: int) -> None:
    """The contenders alternating in one process: serial with BLAS's threads as they come, serial with one
    BLAS thread (threadpoolctl: small matrix products on two busy cores otherwise wait on each other), and
    with n_jobs=2; medians and their ratio."""
    from threadpoolctl import threadpool_limits

    makers = contenders()
    for name, make in makers:  # the first search of each (symopt's compile or load) is the ``first`` figure
        print(f"  warm-up {name}: best C, accuracy, unconverged fits {search(make, 1)}")
    for n_jobs, blas in ((1, None), (1, 1), (2, None)):
        times = {name: [] for name, _ in makers}
        for r in range(count):
            order = makers if r % 2 == 0 else makers[::-1]
            for name, make in order:
                with threadpool_limits(limits=blas, user_api="blas"):
                    started = time.perf_counter()
                    search(make, n_jobs)
                    times[name].append(time.perf_counter() - started)
        medians = {name: statistics.median(t) for name, t in times.items()}
        shown = ", ".join(f"{name} {medians[name]:.2f} s ({' '.join(f'{t:.2f}' for t in times[name])})"
                          for name in medians)
        threads = "BLAS threads as they come" if blas is None else f"{blas} BLAS thread"
        print(f"n_jobs={n_jobs}, {threads}, median of {count} rounds: {shown}; symopt / scikit-learn = "
              f"{medians['symopt'] / medians['scikit-learn']:.2f}x", flush=True)


def main(argv: list) -> None:
    count = int(argv[0]) if argv else 5
    print(f"GridSearchCV, breast cancer 569 x 30, StandardScaler, {GRID} values of C, {FOLDS} folds + refit")
    print(blas_kernel())
    import numba
    import sklearn

    import symopt

    print(f"symopt {symopt.__version__}, scikit-learn {sklearn.__version__}, numba {numba.__version__}, "
          f"{os.cpu_count()} cores")
    first()
    rounds(count)


if __name__ == "__main__":
    main(sys.argv[1:])

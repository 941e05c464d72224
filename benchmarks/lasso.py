"""Regularisation paths (issue 29, item 2): symopt's ``path`` against glum and skglm at equal objective.

Run by hand (glum and skglm are the ``bench`` extra: ``pip install ".[bench]"``):

    python benchmarks/lasso.py lasso [rounds] [rows]     # 100-value lasso path, rows x 100 (100,000 by default)
    python benchmarks/lasso.py poisson [rounds] [rows]   # Poisson elastic net, rows x 300 one-hot (3 x 100 levels)
    python benchmarks/lasso.py poisson-dense [rounds] [rows]   # the same on rows x 300 Gaussian features

``lasso``: Gaussian features with 10 non-zero true coefficients, the path of 100 strengths from the one that
zeroes every coefficient down to a thousandth of it (each contender's own automatic grid, checked equal to
symopt's). Contenders, each as a user gets it by default, alternating in one process:

* ``symopt``: ``symopt.path(squared_loss(LinearModel(), l1=1.0), (X, y), l1=100)`` (coordinate descent on the
  Gram matrix, warm starts);
* ``glum``: ``GeneralizedLinearRegressor(family="normal", alpha_search=True, n_alphas=100, l1_ratio=1,
  min_alpha_ratio=1e-3, gradient_tol=1e-10)``;
* ``skglm``: ``skglm.Lasso(alpha, tol=1e-10, warm_start=True)`` over the same grid.

``poisson``: the one-hot design of three categorical columns of 100 levels (100,000 x 300, dense), a Poisson
GLM with elastic net (l1_ratio 0.5), 20 strengths: symopt (proximal Newton with coordinate descent, warm starts) against
glum (its IRLS with coordinate descent) and skglm (``GeneralizedLinearEstimator(Poisson(), L1_plus_L2(alpha, 0.5),
ProxNewton(tol=1e-10, fit_intercept=True, warm_start=True))`` over the same grid).

Each path's objective at every strength is computed in one formula (symopt's convention: the mean squared
error, or the mean half deviance, plus its penalties) and its relative gap to the best of the contenders is
printed: a faster path that stopped early shows it. Re-runs itself without ``OPENBLAS_CORETYPE``/
``OPENBLAS_L2_SIZE`` (``fair.py``) and prints the BLAS kernel.
"""

from __future__ import annotations

import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fair import blas_kernel, unthrottled  # noqa: E402

unthrottled()

import numpy as np  # noqa: E402


def lasso_data(rows: int, features: int = 100, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, features))
    beta = np.zeros(features)
    beta[:10] = rng.normal(scale=2.0, size=10)
    return X, 1.0 + X @ beta + rng.normal(size=rows)


def lasso_objective(X, y, intercept, coef, l1) -> float:
    r = y - intercept - X @ coef
    return float(r @ r / y.size + l1 * np.abs(coef).sum())


def run_lasso(rounds: int, rows: int) -> None:
    import skglm
    from glum import GeneralizedLinearRegressor

    import symopt

    X, y = lasso_data(rows)
    objective = symopt.squared_loss(symopt.LinearModel(), l1=1.0)
    symopt.path(objective, (X[:2000], y[:2000]), l1=3)  # compiled before timing

    def with_symopt():
        p = symopt.path(objective, (X, y), l1=100)
        return p.values, p.x[:, 0], p.x[:, 1:]

    def with_glum():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = GeneralizedLinearRegressor(family="normal", alpha_search=True, n_alphas=100, l1_ratio=1.0,
                                           min_alpha_ratio=1e-3, gradient_tol=1e-10).fit(X, y)
        return 2.0 * np.asarray(m._alphas), np.asarray(m.intercept_path_), np.asarray(m.coef_path_)

    grid = with_symopt()[0]

    def with_skglm():
        model = skglm.Lasso(alpha=grid[0] / 2.0, tol=1e-10, warm_start=True, fit_intercept=True)
        intercepts, coefs = [], []
        for value in grid:
            model.alpha = value / 2.0
            model.fit(X, y)
            intercepts.append(model.intercept_)
            coefs.append(model.coef_.copy())
        return grid, np.array(intercepts), np.array(coefs)

    contenders = [("symopt path (coordinate descent)", with_symopt), ("glum", with_glum), ("skglm", with_skglm)]
    compare(contenders, rounds, lambda values, b0, B: np.array(
        [lasso_objective(X, y, b0[k], B[k], values[k]) for k in range(len(values))]))


def onehot_data(rows: int, columns: int = 3, levels: int = 100, seed: int = 1):
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, levels, size=(rows, columns))
    X = np.zeros((rows, columns * levels))
    for c in range(columns):
        X[np.arange(rows), c * levels + codes[:, c]] = 1.0
    beta = rng.normal(scale=0.3, size=columns * levels) * (rng.random(columns * levels) < 0.3)
    return X, rng.poisson(np.exp(0.2 + X @ beta)).astype(float)


def poisson_objective(X, y, intercept, coef, l1, l2) -> float:
    eta = intercept + X @ coef
    return float(np.mean(np.exp(eta) - y * eta) + l1 * np.abs(coef).sum() + l2 * coef @ coef)


def dense_poisson_data(rows: int, features: int = 300, seed: int = 2):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, features)) / np.sqrt(features)
    beta = rng.normal(scale=1.0, size=features) * (rng.random(features) < 0.3)
    return X, rng.poisson(np.exp(0.2 + X @ beta)).astype(float)


def run_poisson(rounds: int, rows: int, count: int = 20, dense: bool = False) -> None:
    from glum import GeneralizedLinearRegressor

    import symopt

    X, y = dense_poisson_data(rows) if dense else onehot_data(rows)
    ratio = 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        probe = GeneralizedLinearRegressor(family="poisson", alpha_search=True, n_alphas=count, l1_ratio=ratio,
                                           min_alpha_ratio=1e-2, gradient_tol=1e-8).fit(X, y)
    alphas = np.asarray(probe._alphas)
    # glum: mean half deviance + alpha (r |b|_1 + (1 - r)/2 |b|^2); symopt's glm is the mean half deviance
    objective = symopt.glm(symopt.LinearModel(), "poisson", l1=1.0, l2=alphas[0] * (1 - ratio) / 2)
    symopt.solve(objective, (X[:2000], y[:2000]), progress=False)  # compiled before timing

    def with_symopt():
        b0, B = [], []
        start = None
        for a in alphas:
            r = symopt.solve(objective.with_strength(l1=a * ratio, l2=a * (1 - ratio) / 2), (X, y), x0=start,
                             progress=False)
            start = r.x
            b0.append(r.params["intercept"])
            B.append(r.params["coef"])
        return alphas, np.array(b0), np.array(B)

    def with_glum(matrix=X):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = GeneralizedLinearRegressor(family="poisson", alpha_search=True, alphas=alphas, l1_ratio=ratio,
                                           gradient_tol=1e-8).fit(matrix, y)
        return alphas, np.asarray(m.intercept_path_), np.asarray(m.coef_path_)

    import scipy.sparse

    sparse = scipy.sparse.csc_matrix(X)  # what a glum user with one-hot columns would pass

    import skglm
    from skglm.datafits import Poisson
    from skglm.penalties import L1_plus_L2
    from skglm.solvers import ProxNewton

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # compiled before timing, as symopt's is
        skglm.GeneralizedLinearEstimator(Poisson(), L1_plus_L2(alphas[0], ratio),
                                         ProxNewton(tol=1e-10, fit_intercept=True)).fit(X[:2000], y[:2000])

    def with_skglm():
        model = skglm.GeneralizedLinearEstimator(Poisson(), L1_plus_L2(alphas[0], ratio),
                                                 ProxNewton(tol=1e-10, fit_intercept=True, warm_start=True))
        b0, B = [], []
        for a in alphas:
            model.penalty.alpha = a
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # its convergence warnings: the objective gap shows how close
                model.fit(X, y)
            b0.append(model.intercept_)
            B.append(model.coef_.copy())
        return alphas, np.array(b0), np.array(B)

    contenders = [("symopt (proximal Newton, CD)", with_symopt), ("glum", with_glum),
                  ("glum, sparse X", lambda: with_glum(sparse)), ("skglm (ProxNewton)", with_skglm)]
    if dense:
        contenders = [c for c in contenders if c[0] != "glum, sparse X"]
    compare(contenders, rounds,
            lambda values, b0, B: np.array([poisson_objective(X, y, b0[k], B[k], values[k] * ratio,
                                                              values[k] * (1 - ratio) / 2)
                                            for k in range(len(values))]))


def compare(contenders, rounds: int, objective_of) -> None:
    times = {c: [] for c, _ in contenders}
    seen = {}
    for k in range(rounds):
        for c, run in contenders[k % len(contenders):] + contenders[:k % len(contenders)]:
            started = time.perf_counter()
            seen[c] = run()
            times[c].append(time.perf_counter() - started)
    values = {c: objective_of(*seen[c]) for c, _ in contenders}
    best = np.min(np.array(list(values.values())), axis=0)
    grids = {c: seen[c][0] for c, _ in contenders}
    first = contenders[0][0]
    base = statistics.median(times[first])
    for c, _ in contenders:
        med = statistics.median(times[c])
        gap = np.max((values[c] - best) / np.abs(best))
        same = np.allclose(grids[c], grids[first], rtol=1e-6)
        print(f"  {c:34s} {med:8.3f} s  {med / base:6.2f}x symopt  largest relative gap to the best objective "
              f"{gap:.1e}  (grid {'equal' if same else 'DIFFERENT'})  runs: "
              + " ".join(f"{t:.3f}" for t in times[c]))


def main(case: str = "lasso", rounds: int = 3, rows: int = 100_000) -> None:
    print(blas_kernel())
    print(f"{case}: {rows:,} rows, {rounds} rounds, the contenders alternating")
    if case == "lasso":
        run_lasso(rounds, rows)
    else:
        run_poisson(rounds, rows, dense=case == "poisson-dense")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "lasso", *(int(a) for a in sys.argv[2:4]))

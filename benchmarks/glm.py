"""GLMs over a data matrix (issue 29, item 1): symopt's ``glm`` against statsmodels' GLM (IRLS) and scikit-learn's
regressors, and which of symopt's solvers converges fastest on the wide kernels.

Run by hand:  python benchmarks/glm.py [rounds] [rows]

Synthetic data, ``rows`` x 20 standard normal features (100,000 by default), coefficients drawn once: a Poisson
(log link, canonical), a Gamma with the log link (not canonical: there Newton with the observed Hessian and
IRLS, which is Fisher scoring, differ), and a Tweedie with power 1.5 (log link, not canonical).

Contenders, each as a user gets it by default, in one process, alternating (the order rotating each round),
the ratio of the medians:

* ``symopt Newton``: ``symopt.Problem(glm(...))`` solved (compiled once before timing; ``backend="auto"``);
* ``symopt LBFGS``: the same with ``optimizer=symopt.LBFGS()``;
* ``statsmodels IRLS``: ``sm.GLM(y, add_constant(X), family).fit()`` (its default tol 1e-8 on the deviance);
* ``scikit-learn``: ``PoissonRegressor``/``GammaRegressor``/``TweedieRegressor`` with ``alpha=0`` and
  ``solver="newton-cholesky"`` (its fastest for few features), ``tol=1e-8``.

Each fit's iterations, its objective (the mean half deviance) and its largest parameter difference from
statsmodels' at tol=1e-13 are printed beside the time, so a faster fit that stopped early shows it.

Re-runs itself without ``OPENBLAS_CORETYPE``/``OPENBLAS_L2_SIZE`` (``fair.py``) and prints the BLAS kernel.
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

FEATURES = 20


def problems(rows: int, seed: int = 0) -> list:
    """``(name, family, link, statsmodels family, scikit-learn regressor and options, X, y)``."""
    import statsmodels.api as sm

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, FEATURES))
    beta = rng.normal(scale=0.1, size=FEATURES)
    mu = np.exp(0.5 + X @ beta)
    counts = rng.poisson(mu)
    tweedie = np.array([rng.gamma(2.0, 0.5, size=k).sum() for k in rng.poisson(mu)])
    log = sm.families.links.Log()
    return [
        ("poisson", "poisson", None, sm.families.Poisson(), ("PoissonRegressor", {}), X, counts.astype(float)),
        ("gamma, log link", "gamma", "log", sm.families.Gamma(log), ("GammaRegressor", {}), X,
         rng.gamma(3.0, mu / 3.0)),
        ("tweedie 1.5", "tweedie", None, sm.families.Tweedie(var_power=1.5, link=log),
         ("TweedieRegressor", {"power": 1.5, "link": "log"}), X, tweedie),
    ]


def half_deviance(family, X, y, params) -> float:
    """The mean half deviance at ``params`` (intercept first): what symopt and scikit-learn minimise."""
    mu = family.link.inverse(params[0] + X @ params[1:])
    return float(family.deviance(y, mu) / (2 * y.size))


def main(rounds: int = 5, rows: int = 100_000) -> None:
    import statsmodels.api as sm
    from sklearn import linear_model

    import symopt

    print(blas_kernel())
    print(f"{rows:,} x {FEATURES}, {rounds} rounds, the contenders alternating")
    for name, family, link, sm_family, (regressor, options), X, y in problems(rows):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exact = sm.GLM(y, sm.add_constant(X), family=sm_family).fit(tol=1e-13, maxiter=1000).params
        objective = symopt.glm(symopt.LinearModel(), family, link, **({"power": 1.5} if family == "tweedie" else {}))
        newton = symopt.Problem(objective)
        lbfgs = symopt.Problem(objective, symopt.LBFGS())
        newton.solve((X, y), progress=False)  # compiled (or loaded) before timing
        lbfgs.solve((X, y), progress=False)

        def flat(r):
            return np.r_[r.params["intercept"], r.params["coef"]], r.nit

        def sk():
            fit = getattr(linear_model, regressor)(alpha=0.0, solver="newton-cholesky", tol=1e-8, max_iter=1000,
                                                   **options).fit(X, y)
            return np.r_[fit.intercept_, fit.coef_], fit.n_iter_

        def irls():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = sm.GLM(y, sm.add_constant(X), family=sm_family).fit()
            return np.asarray(fit.params), fit.fit_history["iteration"]

        contenders = [("symopt Newton", lambda: flat(newton.solve((X, y), progress=False))),
                      ("symopt LBFGS", lambda: flat(lbfgs.solve((X, y), progress=False))),
                      ("statsmodels IRLS", irls), ("scikit-learn newton-cholesky", sk)]
        times = {c: [] for c, _ in contenders}
        seen = {}
        for k in range(rounds):
            for c, run in contenders[k % len(contenders):] + contenders[:k % len(contenders)]:
                started = time.perf_counter()
                params, nit = run()
                times[c].append(time.perf_counter() - started)
                seen[c] = (params, nit)
        base = statistics.median(times["statsmodels IRLS"])
        print(f"\n{name}")
        for c, _ in contenders:
            params, nit = seen[c]
            med = statistics.median(times[c])
            print(f"  {c:30s} {med * 1e3:9.1f} ms  {med / base:5.2f}x IRLS  iterations {nit:4d}  "
                  f"objective {half_deviance(sm_family, X, y, params):.12f}  "
                  f"max |params - exact| {np.max(np.abs(params - exact)):.1e}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))

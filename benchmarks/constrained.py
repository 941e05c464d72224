"""SLSQP against trust-constr for symopt's constrained solve (symopt.run.constrained): both driven by symopt's own
objective and exact gradient from the unconstrained optimum, on the acceptance problems. Prints, for each, the
iterations, evaluations, and how far F and the parameters end from the polished optimum symopt returns.

    SYMOPT_CACHE_DIR=... PYTHONPATH=. python benchmarks/constrained.py
"""

import time

import numpy as np
import scipy.optimize

import symopt
from symopt.model.data import prepare


def lineshapes(split_max: float):
    """lmfit's fit_with_inequality data (a Gaussian and a Lorentzian), the split held to at most ``split_max``."""
    rng = np.random.RandomState(0)
    x = np.linspace(0, 20.0, 601)
    s2pi = np.sqrt(2 * np.pi)
    y = (21 / (s2pi * 1.2) * np.exp(-(x - 6.1) ** 2 / (2 * 1.2 ** 2)) + 10 / (np.pi * 1.3 * (1 + ((x - 9.6) / 1.3) ** 2))
         + rng.normal(scale=0.1, size=x.size))
    model = symopt.Model("amp_g/(sqrt(2*pi)*wid_g)*exp(-(x-cen_g)**2/(2*wid_g**2)) + "
                         "amp_l/(pi*wid_l*(1+((x-cen_l)/wid_l)**2))", "amp_g amp_l cen_g cen_l wid_g wid_l")
    return (symopt.squared_loss(model), {"x": x, "y": y}, dict(ties={"wid_l": "wid_g"},
            constraints=["cen_g <= cen_l", f"cen_l - cen_g <= {split_max}"]),
            {"amp_g": 10, "amp_l": 10, "cen_g": 5, "cen_l": 7.5, "wid_g": 1})


def quadratic():
    """Least squares of a plane with a + c <= 1 and a - b <= 0.5 (both active)."""
    rng = np.random.default_rng(1)
    u, v = rng.normal(size=200), rng.normal(size=200)
    y = 1.5 + 0.8 * u - 0.7 * v + rng.normal(scale=0.3, size=200)
    model = symopt.Model("c + a*u + b*v", "a b c")
    return symopt.squared_loss(model), {"u": u, "v": v, "y": y}, dict(constraints=["a + c <= 1", "a - b <= 0.5"]), None


def main() -> None:
    for name, (objective, data, kw, x0) in {"lineshapes, split <= 3": lineshapes(3.0),
                                            "plane, two active": quadratic()}.items():
        result = symopt.solve(objective, data, x0=x0, **kw)
        problem = symopt.Problem(objective, **kw)
        dataset = prepare(problem.objective, data)
        free = symopt.solve(objective, data, x0=x0, ties=kw.get("ties"))
        A, b = problem.constraints.rows(problem.objective, dataset)

        def f(t):
            return problem.flat_value_and_grad(dataset, t, backend="numpy")

        print(f"{name}: symopt F = {result.fun!r}, multipliers {result.multipliers}")
        for method in ("SLSQP", "trust-constr"):
            cons = ({"type": "ineq", "fun": lambda t: b - A @ t, "jac": lambda t: -A} if method == "SLSQP" else
                    scipy.optimize.LinearConstraint(A, -np.inf, b))
            opts = {"ftol": 1e-15, "maxiter": 2000} if method == "SLSQP" else {"gtol": 1e-12, "xtol": 1e-15,
                                                                               "maxiter": 5000}
            t0 = time.perf_counter()
            run = scipy.optimize.minimize(f, free.x, jac=True, method=method, constraints=cons, options=opts)
            took = time.perf_counter() - t0
            gap = (run.fun - result.fun) / abs(result.fun)
            err = np.max(np.abs(run.x - result.x) / np.maximum(1.0, np.abs(result.x)))
            print(f"  {method:12s} nit {run.nit:5d}  nfev {run.nfev:5d}  {took:6.3f} s  F gap {gap:+.2e}  "
                  f"max param error {err:.2e}  ({run.message})")


if __name__ == "__main__":
    main()

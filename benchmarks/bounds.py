"""Bounds that do not bind cost nothing: the NIST StRD nonlinear sets, and likelihoods fitted by L-BFGS and
Newton, with and without bounds.

Run by hand:  python benchmarks/bounds.py [nist folder]

1. Each NIST set (tests/nist_models.py) from both NIST starts, solved by symopt's default iterative solver
   (Levenberg-Marquardt, with variable projection where the residuals are linear in some parameters) three
   ways: unbounded; every parameter in a two-sided box and, separately, bounded on one side (each holding
   both starts and the certified value with room to spare, so no bound is active at the optimum; a step on
   the way may still reach one).
2. Three likelihoods (Poisson and logistic regression, a gamma distribution's MLE) fitted by L-BFGS and by
   Newton from symopt's default start, unbounded and in a box of +-10 around the optimum.

The generated code keeps the bounds by projection (symopt/model/bounds.py): where no step reaches a bound it takes
exactly the unbounded steps, so those runs show the same iterations and the same parameters to the last bit
("same"). Columns: the fewest correct digits over the certified parameters (LRE, capped at 15) and the
iterations. The interpreted backend runs the generated code (the same algorithm as the compiled module;
iterations do not depend on the backend).
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))

import symopt  # noqa: E402
from nist_models import NONLINEAR_MODELS  # noqa: E402
from symopt.trust.nist import lre  # noqa: E402
from test_nist_nonlinear import nist_problem  # noqa: E402


def boxes(problem, names) -> tuple[dict, dict]:
    two, one = {}, {}
    for n in names:
        values = [problem.starts[0][n], problem.starts[1][n], problem.certified[n]]
        lo, hi = min(values), max(values)
        room = max(hi - lo, abs(lo), abs(hi), 1e-3)
        two[n] = (lo - room, hi + room)
        one[n] = (lo - room, None)
    return two, one


def nist(folder: Path) -> None:
    print("| set | start | unbounded: digits, iterations | two-sided box | one-sided |")
    print("|---|---|---|---|---|")
    runs = 0
    same = {"two": 0, "one": 0}
    right = {"none": 0, "two": 0, "one": 0}
    ratios = []
    for name in NONLINEAR_MODELS:
        problem, names, objective, data = nist_problem(folder, name)
        two, one = boxes(problem, names)
        for start in (0, 1):
            x0 = {n: problem.starts[start][n] for n in names}
            cells = []
            for key, bounds in (("none", None), ("two", two), ("one", one)):
                r = symopt.solve(objective, data, x0=x0, bounds=bounds, method="iterative", backend="python",
                                 progress=False)
                digits = min(lre(r.params[n], problem.certified[n]) for n in names) if r.success else 0.0
                right[key] += digits >= 6
                cells.append((r, digits))
            (free, fd), *bounded = cells
            runs += 1
            words = []
            for key, (r, d) in zip(("two", "one"), bounded):
                identical = r.nit == free.nit and np.array_equal(r.x, free.x)
                same[key] += identical
                if free.success and r.success:
                    ratios.append(r.nit / max(free.nit, 1))
                words.append("same" if identical else f"{d:.1f}, {r.nit}{'' if r.success else ' (failed)'}"
                             f"{' at ' + str(r.at_bound) if r.at_bound else ''}")
            print(f"| {name if start == 0 else ''} | {start + 1} | {fd:.1f}, {free.nit} | " + " | ".join(words) + " |")
    ratios.sort()
    print(f"\n{runs} runs. The same steps as unbounded: two-sided {same['two']}, one-sided {same['one']}. "
          f">= 6 certified digits: unbounded {right['none']}, two-sided {right['two']}, one-sided {right['one']}. "
          f"Iterations bounded / unbounded where both converged: median {ratios[len(ratios) // 2]:.2f}, "
          f"largest {ratios[-1]:.2f}.")


def likelihoods():
    rng = np.random.default_rng(0)
    n = 2000
    x1, x2 = rng.normal(size=n), rng.uniform(-1, 1, n)
    poisson = (symopt.Objective("exp(a + b*x1 + c*x2) - k*(a + b*x1 + c*x2)", "a b c", likelihood=True),
               {"x1": x1, "x2": x2, "k": rng.poisson(np.exp(0.5 + 0.3 * x1 - 0.8 * x2)).astype(float)})
    eta = -0.2 + 1.1 * x1 + 0.7 * x2
    logistic = (symopt.log_loss(symopt.Model("a + b*x1 + c*x2", "a b c")),
                {"x1": x1, "x2": x2, "y": (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(float)})
    gamma = (symopt.Objective("(k - 1)*log(x) - x/s - loggamma(k) - k*log(s)", "k s", maximize=True,
                              likelihood=True), {"x": rng.gamma(2.5, 1.5, n)})
    print("\n| likelihood | optimizer | unbounded: iterations, evaluations | box of +-10 around the optimum |")
    print("|---|---|---|---|")
    for name, (objective, data) in (("Poisson regression", poisson), ("logistic regression", logistic),
                                     ("gamma MLE", gamma)):
        best = symopt.solve(objective, data, optimizer=symopt.Newton(tol=1e-12), method="iterative",
                            progress=False)
        box = {p: (v - 10.0, v + 10.0) for p, v in best.params.items()}
        for optimizer in (symopt.LBFGS(), symopt.Newton()):
            free = symopt.solve(objective, data, optimizer=optimizer, method="iterative", backend="python",
                                progress=False)
            bounded = symopt.solve(objective, data, optimizer=optimizer, method="iterative", bounds=box,
                                   backend="python", progress=False)
            identical = bounded.nit == free.nit and np.array_equal(bounded.x, free.x)
            print(f"| {name} | {type(optimizer).__name__} | {free.nit}, {free.nfev} | "
                  f"{'same' if identical else f'{bounded.nit}, {bounded.nfev} (differs)'} |")


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    default = os.environ.get("SYMOPT_NIST_DIR", HERE.parent.parent / "shared" / "nist")
    nist(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(default))
    likelihoods()

"""Variable projection against the full Levenberg-Marquardt on the NIST StRD nonlinear sets where it applies.

Run by hand:  python benchmarks/projection.py [nist folder]
Each set (tests/nist_models.py) from both NIST starts, with LevenbergMarquardt() (variable projection where
the residuals are linear in some parameters) and LevenbergMarquardt(projection=False): correct digits (the
fewest over the certified parameters, LRE capped at 15), iterations, evaluations of the residuals (each with
its Jacobian, for projection) and the time of a solve with compiled code (the median of 5, after a first
solve that compiles). A projected run that fails is redone by the full solver; the table shows the projected
run itself ("failed" and its status) and counts the fallback's cost in the time.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))

import symopt  # noqa: E402
from nist_models import NONLINEAR_MODELS  # noqa: E402
from symopt.closed_form.projection import separable  # noqa: E402
from symopt.trust.nist import lre  # noqa: E402
from test_nist_nonlinear import nist_problem  # noqa: E402


def timed(objective, data, x0, optimizer, repeats: int = 5):
    problem = symopt.Problem(objective, optimizer, method="iterative", backend="numba")
    result = problem.solve(data, x0=x0, progress=False)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        problem.solve(data, x0=x0, progress=False)
        times.append(time.perf_counter() - t0)
    return result, statistics.median(times)


def main(folder: Path) -> None:
    warnings.simplefilter("ignore")
    print("| set (projected) | start | full LM: digits, iterations, evaluations, ms | projected: digits, "
          "iterations, evaluations, ms |")
    print("|---|---|---|---|")
    fewer = runs = good = 0
    full_total = projected_total = 0.0
    for name in NONLINEAR_MODELS:
        problem, names, objective, data = nist_problem(folder, name)
        linear, _ = separable(objective)
        if not linear:
            continue
        for start in (0, 1):
            x0 = {n: problem.starts[start][n] for n in names}
            cells = []
            for optimizer in (symopt.LevenbergMarquardt(projection=False), symopt.LevenbergMarquardt()):
                result, seconds = timed(objective, data, x0, optimizer)
                digits = min(lre(result.params[n], problem.certified[n]) for n in names)
                cells.append((result, digits, seconds))
            (full, fd, ft), (proj, pd, pt) = cells
            runs += 1
            good += pd >= 6.0
            fewer += proj.nit < full.nit
            full_total += ft
            projected_total += pt
            label = f"{name} ({', '.join(names[j] for j in linear)})" if start == 0 else ""
            note = "" if proj.success else f" ({proj.status})"
            print(f"| {label} | {start + 1} | {fd:.1f}, {full.nit}, {full.nfev}, {1e3 * ft:.2f} | "
                  f"{pd:.1f}{note}, {proj.nit}, {proj.nfev}, {1e3 * pt:.2f} |")
    print(f"\n{runs} runs: projection reaches 6 digits on {good}, with fewer iterations on {fewer}; time in all "
          f"{1e3 * projected_total:.1f} ms against {1e3 * full_total:.1f} ms for the full solver")


if __name__ == "__main__":
    default = os.environ.get("SYMOPT_NIST_DIR", HERE.parent.parent / "shared" / "nist")
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(default))

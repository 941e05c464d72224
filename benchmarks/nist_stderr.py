"""NIST StRD certified standard deviations (issue 12): correct significant digits (LRE) of the standard errors
of the estimates and of the residual standard deviation, for every linear set (double and high precision) and
every nonlinear set (both starts), as Markdown tables.

Run by hand:  python benchmarks/nist_stderr.py [nist folder]

LRE is NIST's measure, -log10 of the relative error, capped at 15 (where a certified value is exactly 0, as
in Wampler1 and Wampler2, -log10 of the absolute value). "est" is the fewest digits of the estimates, "sd" the
fewest of the standard errors, "rsd" those of the residual standard deviation; the time is what reading
``Result.stderr`` costs after the solve (the covariance is worked out when first asked for).
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))

import symopt  # noqa: E402
from nist_models import NONLINEAR_MODELS  # noqa: E402
from symopt.trust.nist import lre, read  # noqa: E402
from test_nist_linear import LINEAR_SETS, nist_model  # noqa: E402
from test_nist_nonlinear import nist_problem  # noqa: E402


def _digits(result, problem) -> tuple[float, float, float, float]:
    start = time.perf_counter()
    se = result.stderr
    spent = time.perf_counter() - start
    est = min(lre(result.params[n], c) for n, c in problem.certified.items())
    sd = min(lre(se[n], c) for n, c in problem.certified_sd.items())
    return est, sd, lre(result.residual_sd, problem.residual_sd), spent


def linear(folder: Path) -> None:
    print("| set | rows x parameters | sd double | rsd double | sd high | rsd high | stderr time double / high |")
    print("|---|---|---|---|---|---|---|")
    for name in LINEAR_SETS:
        problem = read(folder / f"{name}.dat")
        objective = symopt.squared_loss(nist_model(problem))
        row = [name, f"{len(problem.columns['y'])} x {len(problem.certified)}"]
        times = []
        for precision in ("double", "high"):
            result = symopt.solve(objective, problem.columns, method="linear", precision=precision)
            _, sd, rsd, spent = _digits(result, problem)
            row += [f"{sd:.1f}", f"{rsd:.1f}"]
            times.append(spent)
        row.append(" / ".join(f"{t * 1e3:.1f} ms" for t in times))
        print("| " + " | ".join(row) + " |")


def nonlinear(folder: Path) -> None:
    print("| set | start 1: est / sd / rsd | start 2: est / sd / rsd | stderr time |")
    print("|---|---|---|---|")
    fewest = []
    for name in NONLINEAR_MODELS:
        problem, _, objective, data = nist_problem(folder, name)
        row, times = [name], []
        for start in (0, 1):
            result = symopt.solve(objective, data, x0=problem.starts[start], progress=False)
            est, sd, rsd, spent = _digits(result, problem)
            row.append(f"{est:.1f} / {sd:.1f} / {rsd:.1f}")
            times.append(spent)
            fewest.append(min(sd, rsd))
        row.append(f"{max(times) * 1e3:.1f} ms")
        print("| " + " | ".join(row) + " |")
    print(f"\nfewest digits of a standard error or residual SD over all {len(fewest)} runs: {min(fewest):.1f}")


if __name__ == "__main__":
    warnings.simplefilter("ignore", symopt.errors.IllConditionedWarning)
    default = os.environ.get("SYMOPT_NIST_DIR", HERE.parent.parent / "shared" / "nist")
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(default)
    linear(folder)
    print()
    nonlinear(folder)

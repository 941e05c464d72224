"""Bounds that do not bind cost (almost) nothing: the NIST StRD nonlinear sets with and without bounds.

Run by hand:  python benchmarks/bounds.py [nist folder]
Each set (tests/nist_models.py) from both NIST starts, solved by symopt's default iterative solver three
ways: unbounded; every parameter in a two-sided box and, separately, bounded on one side (each holding both
starts and the certified value with room to spare, so no bound is active at the optimum). The iterative
solvers then run on the change of variables of symopt.bounds. Columns: the fewest correct digits over the
certified parameters (LRE, capped at 15) and the iterations. The interpreted backend runs the generated code
(the same algorithm as the compiled module; iterations do not depend on the backend).
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))

import symopt  # noqa: E402
from nist_models import NONLINEAR_MODELS  # noqa: E402
from symopt.reference.nist import lre  # noqa: E402
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


def main(folder: Path) -> None:
    warnings.simplefilter("ignore")
    print("| set | start | unbounded: digits, iterations | two-sided box | one-sided |")
    print("|---|---|---|---|---|")
    runs = slower = 0
    worst = {"two": 15.0, "one": 15.0}
    ratios = []
    for name in NONLINEAR_MODELS:
        problem, names, objective, data = nist_problem(folder, name)
        two, one = boxes(problem, names)
        for start in (0, 1):
            x0 = {n: problem.starts[start][n] for n in names}
            cells = []
            for bounds in (None, two, one):
                r = symopt.solve(objective, data, x0=x0, bounds=bounds, method="iterative", backend="python",
                                 progress=False)
                digits = min(lre(r.params[n], problem.certified[n]) for n in names) if r.success else 0.0
                cells.append((digits, r.nit, r.success, r.at_bound))
            (fd, fn, fs, _), *bounded = cells
            runs += 1
            for key, (d, nit, ok, at) in zip(("two", "one"), bounded):
                if fs:
                    worst[key] = min(worst[key], d)
                    ratios.append(nit / max(fn, 1))
                    slower += nit > 2 * fn + 5
            print(f"| {name if start == 0 else ''} | {start + 1} | {fd:.1f}, {fn} | "
                  + " | ".join(f"{d:.1f}, {nit}{'' if ok else ' (failed)'}{' at ' + str(at) if at else ''}"
                               for d, nit, ok, at in bounded) + " |")
    ratios.sort()
    print(f"\n{runs} runs; where the unbounded run converged, the fewest digits with bounds: two-sided "
          f"{worst['two']:.1f}, one-sided {worst['one']:.1f}; iterations bounded/unbounded: median "
          f"{ratios[len(ratios) // 2]:.2f}, largest {ratios[-1]:.2f}; more than twice (+5) on {slower} runs")


if __name__ == "__main__":
    default = os.environ.get("SYMOPT_NIST_DIR", HERE.parent.parent / "shared" / "nist")
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(default))

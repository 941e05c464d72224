"""NIST StRD nonlinear suite: correct significant digits (LRE) per set and start, as a table.

Run by hand:  python benchmarks/nist_nonlinear.py [nist folder]
Each set is stated as a symopt.Model expression (tests/nist_models.py) and
solved from both NIST starting points with method="auto"; the figure is the
minimum LRE over the certified parameters (capped at 15).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))

import symopt  # noqa: E402
from nist_models import NONLINEAR_MODELS  # noqa: E402
from symopt.trust.nist import lre  # noqa: E402
from test_nist_nonlinear import nist_problem  # noqa: E402


def main(folder: Path) -> None:
    print("| set | start 1: LRE | iterations | start 2: LRE | iterations |")
    print("|---|---|---|---|---|")
    worst, count, started = 15.0, 0, time.perf_counter()
    for name in NONLINEAR_MODELS:
        problem, names, objective, data = nist_problem(folder, name)
        row = [name]
        for start in (0, 1):
            x0 = {n: problem.starts[start][n] for n in names}
            result = symopt.solve(objective, data, x0=x0, progress=False)
            digits = min(lre(result.params[n], problem.certified[n]) for n in names)
            worst = min(worst, digits)
            count += digits >= 6.0
            row += [f"{digits:.1f}", str(result.nit)]
        print("| " + " | ".join(row) + " |")
    print(f"\n{count} of {2 * len(NONLINEAR_MODELS)} runs reach 6 digits; the fewest digits: {worst:.1f}; "
          f"{time.perf_counter() - started:.0f} s in all (compiling included)")


if __name__ == "__main__":
    default = os.environ.get("SYMOPT_NIST_DIR", HERE.parent.parent / "shared" / "nist")
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(default))

"""NIST StRD linear suite: correct significant digits (LRE) per set, as a table.

Run by hand:  python benchmarks/nist_linear.py [nist folder]
Prints the Markdown table shown in docs/validation.md (minimum LRE over each set's
certified coefficients, capped at 15), for precision="double" and "high".
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
from symopt.trust.nist import lre, read  # noqa: E402
from test_nist_linear import LINEAR_SETS, nist_model  # noqa: E402


def main(folder: Path) -> None:
    print("| set | parameters | rows | LRE double | LRE high | time double | time high |")
    print("|---|---|---|---|---|---|---|")
    for name in LINEAR_SETS:
        problem = read(folder / f"{name}.dat")
        objective = symopt.squared_loss(nist_model(problem))
        row = [name, str(len(problem.certified)), str(len(problem.columns["y"]))]
        times = []
        for precision in ("double", "high"):
            start = time.perf_counter()
            result = symopt.solve(objective, problem.columns, method="linear", precision=precision)
            times.append(time.perf_counter() - start)
            row.append(f"{min(lre(result.params[n], c) for n, c in problem.certified.items()):.1f}")
        row += [f"{t * 1e3:.0f} ms" for t in times]
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    default = os.environ.get("SYMOPT_NIST_DIR", HERE.parent.parent / "shared" / "nist")
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(default))

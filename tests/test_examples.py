"""Every script in examples/ runs, and the quick start shows all three methods."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(script):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env,
                         timeout=600, cwd=str(ROOT))
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Traceback" not in out.stderr
    if script.name == "digits.py":
        assert "test accuracy" in out.stdout and "diagnostics (last epoch)" in out.stdout
    if script.name == "quickstart.py":
        for part in ("method: symbolic", "method: linear", "method: iterative", "-- derivation",
                     "lam = S_1/n", "half-life"):
            assert part in out.stdout, part

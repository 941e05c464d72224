"""The README's worked example prints what the README shows. Text is compared exactly, line by line; numbers
loosely (to 1e-6 relative, and any two below 1e-12 in size as equal: a gradient at the rounding level differs
between machines)."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def example() -> tuple[str, str]:
    """The first ``python`` block after ``## Example`` and the ``text`` block after it (what it prints)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Example\n", 1)[1]
    code = re.search(r"```python\n(.*?)\n```", section, flags=re.S).group(1)
    printed = re.search(r"```text\n(.*?)\n```", section, flags=re.S).group(1)
    return code, printed


def same(expected: str, got: str) -> bool:
    if NUMBER.sub("#", expected) != NUMBER.sub("#", got):
        return False
    for a, b in zip(map(float, NUMBER.findall(expected)), map(float, NUMBER.findall(got))):
        if not (math.isclose(a, b, rel_tol=1e-6, abs_tol=0.0) or max(abs(a), abs(b)) < 1e-12):
            return False
    return True


def test_the_readme_example_prints_what_the_readme_shows():
    code, printed = example()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600,
                         cwd=str(ROOT))
    assert out.returncode == 0, out.stderr[-3000:]
    expected, got = printed.splitlines(), out.stdout.rstrip("\n").splitlines()
    assert len(expected) == len(got), out.stdout
    differ = [(e, g) for e, g in zip(expected, got) if not same(e, g)]
    assert not differ, differ

"""Packaging: the wheel ships the templates; the README's Quick start is two
commands and .ci/run runs the second one."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_contains_templates(tmp_path):
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                          "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    wheel = next(tmp_path.glob("symopt-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    templates = sorted(p.relative_to(ROOT / "templates").as_posix() for p in (ROOT / "templates").rglob("*.jinja"))
    assert templates and all(f"symopt/templates/{t}" in names for t in templates)
    assert "symopt/closed_form/sandbox.py" in names and "symopt/reference/nist.py" in names


def quick_start_lines() -> list[str]:
    text = (ROOT / "README.md").read_text()
    match = re.search(r"^## Quick start\s*\n+```[a-z]*\n(.*?)\n```", text, flags=re.S | re.M)
    assert match, "README.md needs a '## Quick start' heading followed by one fenced code block"
    return match.group(1).splitlines()


def test_readme_opens_with_two_command_quick_start():
    text = (ROOT / "README.md").read_text()
    headings = re.findall(r"^## .*$", text, flags=re.M)
    assert headings[0] == "## Quick start"
    lines = quick_start_lines()
    assert len(lines) == 2 and all(line.strip() and not line.startswith("#") for line in lines)
    assert "examples/quickstart.py" in lines[0] and "pytest" in lines[1]


def test_ci_runs_the_second_command():
    script = (ROOT / ".ci" / "run").read_text()
    assert "sed -n 2p" in script and "Quick start" in script

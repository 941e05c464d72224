"""Packaging: the wheel ships the templates; the README's Quick start is two
commands and .ci/run runs the second one."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_contains_templates(tmp_path):
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                          "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    wheel = next(tmp_path.glob("symopt-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    folder = ROOT / "symopt" / "codegen" / "templates"
    templates = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.jinja"))
    assert templates and all(f"symopt/codegen/templates/{t}" in names for t in templates)
    modules = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "symopt").rglob("*.py"))
    assert "symopt/closed_form/sandbox.py" in modules and "symopt/trust/nist.py" in modules
    assert [m for m in modules if m not in names] == []  # every stage folder's modules ship


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


FRESH_FITS = """
import sys
import numpy as np
import symopt
rng = np.random.default_rng(0)
X = rng.normal(size=(200, 3))
y = (X @ np.array([1.0, -1.0, 0.5]) + rng.logistic(size=200) > 0).astype(float)
logistic = symopt.solve(symopt.log_loss(symopt.LinearModel()), (X, y), backend="numba", progress=False)
assert logistic.success and logistic.backend == "numba", logistic.message
net = symopt.Network(3, [symopt.Dense(4, activation="tanh"), symopt.Dense(1, activation="identity")])
fit = symopt.solve(symopt.squared_loss(net), (X, X[:, 0] - X[:, 1]), progress=False,
                   optimizer=symopt.Adam(lr=0.01, epochs=2, batch_size=50))
assert np.isfinite(fit.fun), fit.message
print("extras:", sorted(m for m in ("sklearn", "statsmodels", "matplotlib", "pandas") if m in sys.modules))
"""


def test_a_fresh_install_without_extras_runs_a_network_and_a_logistic_fit(tmp_path):
    """The core dependencies are enough for generated code (Numba's np.dot in a network needs SciPy, which is
    therefore a core dependency): a fresh virtual environment, `pip install .` without extras, and a
    compiled logistic fit and a network's training run in it."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    out = subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(ROOT)], capture_output=True,
                         text=True, timeout=1200)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "SYMOPT_CACHE_DIR": str(tmp_path / "cache")}
    out = subprocess.run([str(python), "-c", FRESH_FITS], capture_output=True, text=True, timeout=900,
                         cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    assert "extras: []" in out.stdout

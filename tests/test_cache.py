"""The code cache: a second process loads compiled code instead of compiling;
an unusable cache folder degrades to a temporary one with a warning."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import symopt
from symopt.errors import CacheWarning

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = """
import json, sys
import numpy as np
import symopt
x = np.linspace(0, 1, 50)
obj = symopt.squared_loss(symopt.Model("a*exp(b*x)", "a b"))
r = symopt.solve(obj, {"x": x, "y": 2 * np.exp(0.5 * x)}, x0={"a": 1.0, "b": 0.0}, progress=False)
module = sys.modules[r.source_path.stem]
stats = [f.stats for f in vars(module).values() if hasattr(f, "stats") and hasattr(f, "py_func")]
print(json.dumps({"path": str(r.source_path), "success": r.success,
                  "hits": sum(sum(s.cache_hits.values()) for s in stats),
                  "misses": sum(sum(s.cache_misses.values()) for s in stats)}))
"""


def run_solver(cache_dir: Path) -> dict:
    env = dict(os.environ, SYMOPT_CACHE_DIR=str(cache_dir), PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_second_process_loads_from_cache(tmp_path):
    first = run_solver(tmp_path)
    second = run_solver(tmp_path)
    assert first["success"] and second["success"]
    assert first["path"] == second["path"] and Path(first["path"]).parent == tmp_path
    assert first["misses"] > 0  # the first process compiled
    assert second["misses"] == 0 and second["hits"] > 0  # the second only loaded
    assert list((tmp_path / "__pycache__").glob("*.nbi"))


def test_unusable_cache_folder_warns_and_still_solves(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("SYMOPT_CACHE_DIR", str(blocker / "cache"))
    obj = symopt.squared_loss(symopt.Model("a*exp(b*x)", "a b"))
    x = np.linspace(0, 1, 20)
    with pytest.warns(CacheWarning, match="not writable"):
        r = symopt.solve(obj, {"x": x, "y": np.exp(x)}, method="iterative")
    assert r.success and not str(r.source_path).startswith(str(blocker))


def test_cache_dir_default_and_override(monkeypatch, tmp_path):
    from symopt.codegen.cache import cache_dir

    monkeypatch.setenv("SYMOPT_CACHE_DIR", str(tmp_path / "x"))
    assert cache_dir() == tmp_path / "x"
    monkeypatch.delenv("SYMOPT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert cache_dir() == tmp_path / "xdg" / "symopt"

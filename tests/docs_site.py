"""Build the documentation site once per test run, for tests/system/test_docs.py and tests/system/test_examples.py.

The html build runs the gallery (every script in examples/, the digits one about 50 s), so both test files read
the one build: a session fixture builds it under a lock in the folder pytest-xdist's workers share, and a worker
that finds it built reads the record. Each build works on its own copy of docs/ and examples/ in that folder
(sphinx-gallery writes its pages into the source folder), so the source tree is never written to."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GENERATED = shutil.ignore_patterns("_build", "auto_examples", "sg_execution_times.rst", "__pycache__")


def _sources(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(ROOT / "docs", folder / "docs", ignore=GENERATED)
    shutil.copytree(ROOT / "examples", folder / "examples", ignore=GENERATED)
    return folder / "docs"


def _sphinx(builder: str, source: Path, out: Path, *extra: str) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
               MPLBACKEND="Agg")
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", builder, *extra,
                          str(source), str(out)], capture_output=True, text=True, env=env, timeout=1800)
    return {"returncode": run.returncode, "output": (run.stdout + run.stderr)[-6000:],
            "seconds": round(time.perf_counter() - start, 1), "source": str(source), "out": str(out)}


def build(shared: Path) -> dict:
    """The html site (gallery executed) and the doctest run of the pages, built once in ``shared``."""
    record = shared / "docs-site.json"
    with open(shared / "docs-site.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not record.is_file():
            work = shared / "docs-site"
            html = _sphinx("html", _sources(work / "html-src"), work / "html")
            doctest = _sphinx("doctest", _sources(work / "doctest-src"), work / "doctest", "-D", "plot_gallery=0")
            record.write_text(json.dumps({"html": html, "doctest": doctest}))
        return json.loads(record.read_text())

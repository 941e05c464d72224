"""Shared test setup: one temporary code cache per session, so generated
solvers compile once per run and never touch the user's cache. With pytest-xdist
the workers share the controller's folder (the cache is safe for several
processes at once), so what one worker compiled the others load."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


_SESSION_CACHE: list[str] = []


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite the golden files under tests/golden/ from the code as it is now (then review the "
                          "diff with git and commit it)")


@pytest.fixture
def golden(request):
    """``golden(path, text)``: ``text`` compared with the golden file at ``path`` (under tests/golden/), or, with
    ``pytest --update-golden``, written there (SymForce's ``compare_or_update_directory``)."""
    update = request.config.getoption("--update-golden")

    def compare_or_update(path: Path, text: str) -> None:
        path = Path(path)
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
            return
        assert path.is_file(), f"no golden file {path}: run pytest --update-golden, review it, commit it"
        assert text == path.read_text(encoding="utf-8"), \
            f"generated code differs from {path}: review the change, then pytest --update-golden"

    return compare_or_update


def pytest_configure(config):
    if "SYMOPT_TEST_KEEP_CACHE" in os.environ:
        return
    if os.environ.get("PYTEST_XDIST_WORKER") and os.environ.get("SYMOPT_TEST_SESSION_CACHE"):
        os.environ["SYMOPT_CACHE_DIR"] = os.environ["SYMOPT_TEST_SESSION_CACHE"]  # the controller's, removed by it
        return
    folder = tempfile.mkdtemp(prefix="symopt-test-cache-")
    os.environ["SYMOPT_CACHE_DIR"] = os.environ["SYMOPT_TEST_SESSION_CACHE"] = folder
    _SESSION_CACHE.append(folder)


def pytest_unconfigure(config):
    for folder in _SESSION_CACHE:  # the session's compiled code is not left behind in /tmp
        shutil.rmtree(folder, ignore_errors=True)


def nist_dir() -> Path:
    return Path(os.environ.get("SYMOPT_NIST_DIR", ROOT.parent / "shared" / "nist"))


@pytest.fixture(scope="session")
def nist():
    folder = nist_dir()
    if not (folder / "Norris.dat").is_file():
        pytest.skip(f"NIST StRD files not found in {folder} (set SYMOPT_NIST_DIR to their folder)")
    return folder


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def patient(monkeypatch):
    """solve(method="auto") waits for the symbolic tier to the end of its budget: a test that expects a formula
    must not depend on SymPy finding it within the 3 s head start (CI shares the machine: under load the
    Gaussian's formula took 4 s from a cold worker)."""
    import symopt.problem

    monkeypatch.setattr(symopt.problem, "SYMBOLIC_HEAD_START", 1e9)


@pytest.fixture(scope="session")
def docs_site(tmp_path_factory):
    """The documentation site, built once per test run (shared by pytest-xdist's workers): see tests/docs_site.py."""
    from docs_site import build

    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent
    return build(shared)

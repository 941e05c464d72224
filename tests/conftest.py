"""Shared test setup: one temporary code cache per session, so generated
solvers compile once per run and never touch the user's cache."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config):
    if "SYMOPT_TEST_KEEP_CACHE" not in os.environ:
        os.environ["SYMOPT_CACHE_DIR"] = tempfile.mkdtemp(prefix="symopt-test-cache-")


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

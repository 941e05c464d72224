"""Helpers for the command line's tests: a spec and its data written to a temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_specs import LINE_CSV

@pytest.fixture
def write_spec(tmp_path):
    """``write_spec(text, csv=LINE_CSV, name="spec.toml")``: the spec's path, with ``line.csv`` beside it."""

    def write(text: str, csv: str = LINE_CSV, name: str = "spec.toml") -> Path:
        (tmp_path / "line.csv").write_text(csv, encoding="utf-8")
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write

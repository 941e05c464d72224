"""Every script in examples/ runs, and the quick start shows all three methods.

The scripts run once per test run, in the documentation's gallery (tests/docs_site.py builds the site, sharing the
build with tests/system/test_docs.py); this file checks what each printed, from the page the gallery wrote for it."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


def printed(docs_site, script: Path) -> str:
    """What ``script`` printed when the gallery ran it (the page's captured output), or a failure saying why not."""
    html = docs_site["html"]
    page = Path(html["source"]) / "auto_examples" / f"{script.stem}.rst"
    assert page.is_file(), f"the gallery wrote no page for {script.name}:\n{html['output']}"
    text = page.read_text(encoding="utf-8")
    assert "Traceback" not in text and "sphx-glr-script-out" in text, text[-3000:]
    assert html["returncode"] == 0, html["output"]
    return text


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(docs_site, script):
    out = printed(docs_site, script)
    if script.name == "digits.py":
        assert "test accuracy" in out and "diagnostics (last epoch)" in out
    if script.name == "quickstart.py":
        for part in ("method: symbolic", "method: linear", "method: iterative", "-- derivation",
                     "lam = S_1/n", "half-life"):
            assert part in out, part

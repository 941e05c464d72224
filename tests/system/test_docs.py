"""The documentation site (issue 27 item 7): it builds from the source tree with warnings as errors, the gallery
running every example, and the examples on its pages (doctest blocks) give what the pages say they give. The
build itself is shared with tests/system/test_examples.py (tests/docs_site.py), so each example runs once per test run."""

from __future__ import annotations

import re
from pathlib import Path

import symopt
import symopt.errors
import symopt.records

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted((ROOT / "docs").rglob("*.md"))


def test_the_site_builds_with_warnings_as_errors(docs_site):
    html = docs_site["html"]
    assert html["returncode"] == 0, html["output"]
    out = Path(html["out"])
    for page in ["index", "api", "validation", "architecture", "auto_examples/index",
                 *(f"concepts/{p.stem}" for p in (ROOT / "docs" / "concepts").glob("*.md"))]:
        assert (out / f"{page}.html").is_file(), page


def test_the_examples_on_the_pages_pass_as_doctests(docs_site):
    doctest = docs_site["doctest"]
    assert doctest["returncode"] == 0, doctest["output"]
    report = (Path(doctest["out"]) / "output.txt").read_text()
    summary = report.split("Doctest summary", 1)[1]
    tests = int(re.search(r"^\s*(\d+) tests$", summary, flags=re.M).group(1))
    assert tests >= 50 and re.search(r"^\s*0 failures in tests$", summary, flags=re.M), report[-3000:]


def test_every_public_name_has_an_entry_in_the_built_reference(docs_site):
    api = (Path(docs_site["html"]["out"]) / "api.html").read_text(encoding="utf-8")
    errors = {name for name, value in vars(symopt.errors).items()
              if isinstance(value, type) and value.__module__ == "symopt.errors"}
    expected = [f"symopt.errors.{name}" if name in errors else f"symopt.{name}" for name in symopt.__all__]
    expected += [f"symopt.records.{name}" for name in symopt.records.__all__]
    expected += [f"symopt.errors.{name}" for name in errors]
    missing = [name for name in expected if f'id="{name}"' not in api]
    assert not missing, missing


def test_code_on_the_pages_is_executed_and_module_paths_stay_on_the_architecture_page():
    """Python on a page is a doctest block (run above) or a gallery script; only the architecture page names the
    package's modules, so that moving them touches one page."""
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        assert "```python" not in text, f"{page}: write Python as a {{doctest}} block, so that it runs"
        if page.name != "architecture.md":
            paths = re.findall(r"symopt/\w|templates/\w|tests/\w|symopt\.(?!errors\b|records\b)[a-z_]+\.[A-Za-z_]", text)
            assert not paths, (page.name, paths)

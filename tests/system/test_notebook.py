"""examples/tour.ipynb runs from top to bottom in a fresh kernel (nbclient), and says what the tour says."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the notebook test needs nbformat, nbclient and ipykernel")
nbclient = pytest.importorskip("nbclient", reason="the notebook test needs nbformat, nbclient and ipykernel")
pytest.importorskip("ipykernel", reason="the notebook test needs nbformat, nbclient and ipykernel")

ROOT = Path(__file__).resolve().parents[2]
TOUR = ROOT / "examples" / "tour.ipynb"


@pytest.fixture(scope="module")
def tour():
    notebook = nbformat.read(TOUR, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(ROOT / "examples")}})
    client.execute()  # the kernel inherits this session's SYMOPT_CACHE_DIR
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def _text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def _data(cell) -> dict:
    out = {}
    for o in cell.outputs:
        out.update(o.get("data", {}))
    return out


def test_the_tour_runs_without_an_error(tour):
    errors = [o for cell in tour for o in cell.outputs if o.output_type == "error"]
    assert not errors, errors[0]["evalue"] if errors else ""


def test_the_tour_tells_its_story(tour):
    text = "\n".join(_text(cell) for cell in tour)
    assert "linear {'a': 1.3646" in text and "iterative {'a': 1.3646" in text
    assert "and statsmodels OLS agree to" in text
    assert "the minimum found is global: the objective is convex (proved)" in text
    assert "symbolic lam = n/S_1" in text
    assert "try many starts: solve(..., starts=20)" in text
    assert "reached by" in text and "training accuracy" in text
    assert "Traceback" not in text


def test_the_tour_displays_latex_a_figure_and_the_report(tour):
    shown = [_data(cell) for cell in tour]
    assert any(r"\frac{\partial \ell}{\partial a}" in d.get("text/latex", "") for d in shown)
    assert any("image/png" in d for d in shown)
    report = next(d["text/markdown"] for d in shown if "text/markdown" in d)
    assert "## Gradient and Hessian" in report and "## Verification" in report
    assert "the factor exp(-b\\*x) mixes parameters and data" in report  # the reason there is no closed form

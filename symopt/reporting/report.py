"""``symopt.report``: the derivation report, in Markdown with LaTeX (and as a standalone HTML page).

The model, the objective, its gradient and Hessian, the closed-form attempt (the formula, or why there is
none), the convexity verdict, the method ``solve`` would use and an excerpt of the generated code; with
data, the result and its verification. A report is a list of blocks (text, math, code), rendered per
format with that format's escaping function (:mod:`symopt.symbolic.escape`): whatever came from a user (names,
expressions printed as text, messages) shows as itself and is never read as markup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..model.kinds.base import prediction
from ..symbolic.escape import html_escape, latex, latex_escape, markdown_escape
from ..symbolic.show import params_line

#: Lines of generated code the report shows.
CODE_LINES = 40


@dataclass(frozen=True)
class Block:
    """One piece of a section: ``kind`` "text" (prose, escaped per format), "math" (LaTeX built by symopt
    from SymPy; user text in it is escaped by :func:`~symopt.symbolic.escape.latex_escape`) or "code" (shown as is)."""

    kind: str
    body: str


@dataclass(frozen=True)
class Report:
    """Sections of ``(title, blocks)``. ``markdown()`` (also what Jupyter shows), ``to_html()``, ``str()``."""

    title: str
    sections: tuple

    def markdown(self) -> str:
        out = [f"# {markdown_escape(self.title)}", ""]
        for title, blocks in self.sections:
            out += [f"## {markdown_escape(title)}", ""]
            for block in blocks:
                if block.kind == "text":
                    out += [markdown_escape(block.body), ""]
                elif block.kind == "math":
                    out += ["$$", block.body, "$$", ""]
                else:
                    fence = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", block.body)), default=0))
                    out += [f"{fence}python", block.body, fence, ""]
        return "\n".join(out)

    _repr_markdown_ = markdown

    def __str__(self) -> str:
        return self.markdown()

    def to_html(self) -> str:
        """A standalone HTML page (math as ``\\[ ... \\]`` for MathJax or KaTeX to typeset, where loaded)."""
        out = ["<!DOCTYPE html>", '<html><head><meta charset="utf-8">', f"<title>{html_escape(self.title)}</title>",
               "</head><body>", f"<h1>{html_escape(self.title)}</h1>"]
        for title, blocks in self.sections:
            out.append(f"<h2>{html_escape(title)}</h2>")
            for block in blocks:
                if block.kind == "text":
                    out.append(f"<p>{html_escape(block.body)}</p>")
                elif block.kind == "math":
                    out.append(f"<div>\\[{html_escape(block.body)}\\]</div>")
                else:
                    out.append(f"<pre><code>{html_escape(block.body)}</code></pre>")
        return "\n".join(out + ["</body></html>"]) + "\n"


def _text(*lines) -> list:
    return [Block("text", line) for line in lines if line]


def _model(objective) -> list:
    model = objective.model
    if model is None:
        return _text("A custom objective: the per-sample expression below is the whole model.")
    if objective.network:
        return _text(f"A network: {model!r}.")
    f = prediction(model)
    what = {"squared": "the model's value", "log": "the logit (log-odds) of class 1",
            "cross_entropy": "the class scores"}.get(objective.kind, "the model's value")
    blocks = _text(f"{type(model).__name__}: {what}, in the parameters {', '.join(objective.param_names) or 'coef'}.")
    if objective.wide:
        blocks.append(Block("math", r"\eta = \text{intercept} + X\,\text{coef}" if model.intercept else r"\eta = X\,\text{coef}"))
    else:
        blocks.append(Block("math", f"f = {latex(f)}"))
    return blocks


def _objective(objective) -> list:
    blocks = _text(f"{objective.sense.capitalize()} the {objective.reduction} over rows of the per-sample "
                   f"objective (plus the penalty, if any): {objective.describe()}.")
    blocks.append(Block("math", r"\ell = " + latex(objective.per_sample)))
    return blocks


def _derivatives(derivation) -> list:
    blocks = [Block("math", derivation.latex("aligned"))]
    blocks += _text(*(f"Note: {note}" for note in derivation.notes))
    if derivation.hessian is None and derivation.hessian_note:
        blocks += _text(f"Hessian: {derivation.hessian_note}")
    return blocks


def _closed_form(problem) -> list:
    analysis = problem.analysis
    blocks = _text(f"Status: {analysis.status}: {analysis.reason}.")
    for attempt in analysis.attempts:
        blocks += _text(f"{attempt.tier}: {attempt.outcome}: {attempt.detail}")
    if analysis.solutions:
        blocks.append(Block("math", analysis.latex()))
        blocks += _text(f"where n is the number of rows and {analysis.statistics.table()}")
    elif analysis.linear is not None:
        blocks += _text(analysis.linear.describe(problem.objective.params))
    return blocks


def _method(problem, dataset) -> list:
    objective = problem.objective
    if problem.runs_closed_form:
        return _text("solve evaluates the closed form above (no iterations, no generated code).")
    n_params = sum(size for _, size in objective.form.blocks(dataset)) if dataset is not None else \
        (len(objective.params) or 1)
    optimizer, why = problem._driver.optimizer(n_params, dataset.n_rows if dataset is not None else 0)
    return _text(f"solve runs generated code: {why}.")


def _code(problem) -> list:
    if problem.runs_closed_form:
        return []
    lines = problem.source.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("def ") or line.startswith("@njit")), 0)
    header = [line for line in lines[:12] if line.startswith("#")]
    excerpt = header + ["..."] + lines[start:start + CODE_LINES] + ["..."]
    return _text(f"An excerpt of the generated module ({len(lines)} lines; problem.source has all of it):") + \
        [Block("code", "\n".join(excerpt))]


def _result(result) -> list:
    blocks = _text(f"{'Success' if result.success else 'FAILED'} ({result.status}): {result.message}",
                   f"Method: {result.method}: {result.why}", f"Backend: {result.backend}")
    rows = [r"\begin{array}{ll}"]
    for name, value in result.params.items():
        shown = params_line({name: value}, 12).split(" = ", 1)[1]
        rows.append(f"{latex_escape(name)} & {latex_escape(shown)} \\\\")
    rows.append(r"F & " + latex_escape(f"{result.fun:.15g}") + r" \end{array}")
    blocks.append(Block("math", "\n".join(rows)))
    if result.conditioning is not None:
        blocks += _text(f"Conditioning: {result.conditioning}")
    return blocks


def build(problem, dataset=None, result=None, verification=None) -> Report:
    """The report of ``problem`` (a :class:`symopt.Problem`), with ``result`` and ``verification`` where given."""
    objective = problem.objective
    sections = [("Model", _model(objective)), ("Objective", _objective(objective)),
                ("Gradient and Hessian", _derivatives(problem.derivation)),
                ("Closed form", _closed_form(problem)),
                ("Convexity", _text(str(problem.convexity(dataset)))),
                ("Method", _method(problem, dataset))]
    code = _code(problem)
    if code:
        sections.append(("Generated code", code))
    if result is not None:
        sections.append(("Result", _result(result)))
    if verification is not None:
        sections.append(("Verification", _text(verification.verdict, f"Reference: {verification.reference}")))
    return Report(f"symopt report: {objective.describe()}", tuple(sections))

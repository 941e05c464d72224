"""Nothing a user writes runs as code.

Text from the user reaches generated modules only as descriptions in comments
and docstrings, and every such substitution goes through one escape
(``symopt.codegen.text.doc_text``, the templates' ``doc`` filter). These tests
check that rule on the templates themselves, render every template family with
hostile text in every descriptive field, import the result with a sentinel
file that must not appear, and run the issue's end-to-end reproducer.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
from pathlib import Path

import pytest
import sympy as sp

import symopt
from symopt.codegen import cache
from symopt.codegen import network_trainer as network_codegen
from symopt.codegen import render as render_module
from symopt.codegen.render import render, template_dir
from symopt.codegen.text import doc_text
from symopt.errors import SymoptError
from hostile import HOSTILE

EXPR = re.compile(r"\{\{(.*?)\}\}")
#: A substitution that only chooses between two literals the template itself wrote.
LITERAL_CHOICE = re.compile(r'^"[^"{}]*" if [\w.]+ else "[^"{}]*"$')


def text_substitutions(source: str) -> list[tuple[int, str]]:
    """``(line, expression)`` of every ``{{ }}`` inside a ``#`` comment or a docstring of a template."""
    found, in_doc = [], False
    for number, line in enumerate(source.splitlines(), start=1):
        exprs = EXPR.findall(line)
        masked = EXPR.sub("\x00", line)
        k, i, in_comment = 0, 0, False
        while i < len(masked):
            if masked.startswith('"""', i) and not in_comment:
                in_doc = not in_doc
                i += 3
                continue
            if masked[i] == "#" and not in_doc:
                in_comment = True
            elif masked[i] == "\x00":
                if in_doc or in_comment:
                    found.append((number, exprs[k].strip()))
                k += 1
            i += 1
    return found


def templates() -> list[Path]:
    return sorted(template_dir().rglob("*.jinja"))


def test_every_description_in_every_template_goes_through_the_escape():
    assert len(templates()) >= 8
    seen = 0
    for path in templates():
        for line, expr in text_substitutions(path.read_text()):
            seen += 1
            assert re.search(r"\|\s*doc$", expr) or LITERAL_CHOICE.match(expr), (
                f"{path.relative_to(template_dir())}:{line}: '{{{{ {expr} }}}}' is inside a comment or docstring "
                f"but not escaped: write '{{{{ {expr} | doc }}}}'")
    assert seen > 30  # the scan found the headers and docstrings


def test_the_scan_finds_an_unescaped_substitution():
    source = '# Problem: {{ problem }}\n"""Doc {{ a.b }}\nmore {{ c | doc }}\n"""\nx = {{ code }}  # {{ note }}\n'
    assert text_substitutions(source) == [(1, "problem"), (2, "a.b"), (3, "c | doc"), (5, "note")]




@pytest.mark.parametrize("text", [HOSTILE, '"""', '\\', "a\rb", "\x00", "\u00e9\u2028", "x" * 5000])
def test_doc_text_is_inert_in_a_docstring_and_a_comment(text):
    escaped = doc_text(text)
    assert escaped.isascii() and escaped.isprintable()
    assert len(escaped) <= 400
    module = ast.parse(f'"""{escaped}"""\n# {escaped}\nx = 1\n')
    assert len(module.body) == 2  # the docstring and x = 1: nothing else
    if len(text) < 400:
        assert ast.get_docstring(module, clean=False) == text  # and it reads back as the very text


def _problems():
    """One problem per template family (kernel x optimizer), with the optimizer each uses."""
    x = sp.Symbol("x", real=True)
    expr_model = symopt.Model("a*exp(b*x) + 0.5", "a b")
    return {
        "expression-first-order": (symopt.squared_loss(expr_model), symopt.GradientDescent()),
        "expression-minibatch": (symopt.squared_loss(expr_model), symopt.Adam(batch_size=4, epochs=2)),
        "expression-newton": (symopt.squared_loss(expr_model), symopt.Newton()),
        "expression-lbfgs": (symopt.squared_loss(expr_model), symopt.LBFGS()),
        "expression-lm": (symopt.squared_loss(expr_model), symopt.LevenbergMarquardt()),
        "linear-first-order": (symopt.log_loss(symopt.LinearModel(), l2=0.1), symopt.Momentum()),
        "linear-newton": (symopt.log_loss(symopt.LinearModel()), symopt.Newton()),
        "linear-minibatch": (symopt.log_loss(symopt.LinearModel()), symopt.RMSProp(batch_size=4, epochs=2)),
        "network": (symopt.squared_loss(symopt.Network(2, [symopt.Dense(3, activation=x * sp.tanh(x)),
                                                            symopt.Dense(2, "relu", batch_norm=True),
                                                            symopt.Dense(1)])),
                    symopt.Adam(batch_size=4, epochs=1)),
    }


def _captured_context(monkeypatch, objective, optimizer):
    """The template name and context render() builds for this problem, caught on their way in."""
    caught = {}
    real = render_module.render_checked

    def capture(template, context):
        caught.update(template=template, context=context)
        return real(template, context)

    monkeypatch.setattr(render_module, "render_checked", capture)
    monkeypatch.setattr(network_codegen, "render_checked", capture)
    derivation = symopt.derive(objective)
    if objective.network:
        network_codegen.render_network(objective, derivation, optimizer)
    else:
        render(objective, derivation, optimizer)
    return caught["template"], caught["context"]


def _text_fields() -> set[str]:
    """The last name of every expression the templates substitute into text (``act.expr`` -> ``expr``)."""
    names = set()
    for path in templates():
        for _, expr in text_substitutions(path.read_text()):
            head = expr.split("|")[0].strip()
            if re.fullmatch(r"[\w.]+", head):
                names.add(head.split(".")[-1])
    return names


def _poison(value, fields: set[str], payload: str):
    """A copy of the context with every string under a descriptive key replaced by ``payload``."""
    if isinstance(value, dict):
        return {k: (payload if k in fields and isinstance(v, str) else _poison(v, fields, payload))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_poison(v, fields, payload) for v in value]
    return value


def _code_only(source: str) -> str:
    """The module's syntax tree without its docstrings: what it does, not what it says."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            body[0] = ast.Pass()
    return ast.dump(tree)


def _import(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return module


@pytest.mark.parametrize("family", list(_problems()))
def test_hostile_descriptions_change_no_code_in_any_template_family(family, monkeypatch, tmp_path):
    objective, optimizer = _problems()[family]
    template, context = _captured_context(monkeypatch, objective, optimizer)
    # The template file names are symopt's own choice and also name the files to include.
    fields = _text_fields() - {"kernel_template", "optimizer_template"}
    assert {"problem", "param_summary", "optimizer_title", "per_sample"} <= fields
    sentinel = tmp_path / "pwned"
    payload = HOSTILE.replace("SENTINEL", repr(str(sentinel)))
    benign = render_module.render_checked(template, context)
    hostile = render_module.render_checked(template, _poison(context, fields, payload))
    assert hostile != benign  # the payload did reach the module's text
    assert _code_only(hostile) == _code_only(benign)  # and changed nothing but text
    path = tmp_path / f"hostile_{family.replace('-', '_')}.py"
    path.write_text(hostile, encoding="utf-8")
    module = _import(path, path.stem)
    assert not sentinel.exists()
    assert doc_text(payload)[:40] in hostile
    assert "pwned" in module.__doc__  # the payload is inert text in the docstring


@pytest.fixture
def sentinel(tmp_path):
    path = tmp_path / "pwned"
    yield path
    assert not path.exists(), "user text ran as code"


def test_activation_text_cannot_run_code(sentinel, rng):
    """The issue's reproducer: text that closes the generated module's docstring."""
    act = f'2*x #"""; open({str(sentinel)!r}, "w").write("pwned"); """'
    net = symopt.Network(2, [symopt.Dense(3, activation=act), symopt.Dense(1)])
    assert net.activations[0].name == "2*z"  # the name is printed from the parsed expression
    X = rng.normal(size=(20, 2))
    result = symopt.solve(symopt.squared_loss(net), (X, X[:, 0]),
                          optimizer=symopt.Adam(lr=1e-2, batch_size=10, epochs=1), progress=False)
    assert '"""; open(' not in result.source
    assert "2*x #" not in result.objective.describe()


@pytest.mark.parametrize("spec", [
    sp.Symbol('z"""; import os; os.system("true"); """'),
    sp.Symbol("z\nimport os"),
    sp.Function('f"""')(sp.Symbol("z")),
    '2*z; __import__("os")',
    'open("x", "w")',
    '__import__("os").system("true")',
])
def test_hostile_activations_are_refused(spec):
    with pytest.raises(SymoptError):
        symopt.Network(2, [symopt.Dense(3, activation=spec), symopt.Dense(1)])


@pytest.mark.parametrize("text", [
    'a*x + __import__("os").system("true")',
    "a*x\n\"\"\"\nimport os\n",
    "(lambda: 1)() * a * x",
    "a*x.__class__",
    "a*x if 1 else 0",
])
def test_hostile_model_text_is_refused(text):
    with pytest.raises(SymoptError):
        symopt.Model(text, "a")


def test_a_comment_in_model_text_is_dropped_by_the_parser():
    """Python's parser drops a comment; only the parsed expression is kept, never the text."""
    model = symopt.Model('a*x #"""; open("pwned", "w")', "a")
    assert str(model.expr) == "a*x"


def test_a_planted_module_under_the_expected_name_is_never_imported(sentinel, monkeypatch, tmp_path):
    """A file at the cache path that is not the source symopt renders (an older, unsafe version, or
    someone else's) is moved aside with a warning and replaced, not imported: only the exact rendered
    source runs."""
    monkeypatch.setenv("SYMOPT_CACHE_DIR", str(tmp_path / "cache"))
    objective = symopt.squared_loss(symopt.Model("a*exp(b*x) + 0.25", "a b"))
    rendered = render(objective, symopt.derive(objective), symopt.LevenbergMarquardt())
    path = cache.module_path(rendered.source, rendered.stem)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.write_text(f"open({str(sentinel)!r}, 'w').write('pwned')\n" + rendered.source, encoding="utf-8")
    with pytest.warns(symopt.errors.CacheWarning, match="moved aside"):
        module, loaded = cache.load(rendered.source, rendered.stem)
    assert loaded == path and hasattr(module, "run")
    assert path.read_text(encoding="utf-8") == rendered.source


def test_the_template_version_names_the_escape():
    """Modules written before every description was escaped (template version 7 and older) are never reused:
    the version is in the header, so in the source hash and the file name."""
    assert int(render_module.TEMPLATE_VERSION) >= 8
    objective = symopt.squared_loss(symopt.Model("a*x", "a"))
    rendered = render(objective, symopt.derive(objective), symopt.LBFGS())
    assert f"(template version {render_module.TEMPLATE_VERSION})" in rendered.source.splitlines()[1]


# --- hostile names in what Jupyter shows: LaTeX and Markdown (issue 26, item 18) --------------------------------

#: Names a user could give a function or a symbol made in SymPy: HTML, math that closes its group and
#: starts a link, display-math delimiters, and the template payload above. symopt refuses undefined
#: functions and such symbol names when a model is built (tests/model/test_models.py); each renderer still escapes
#: whatever names reach it, tested here by giving them to it directly.
HOSTILE_NAMES = ["<img src=x onerror=alert(1)>", "}\\href{javascript:alert(1)}{x", "$$<script>alert(1)</script>$$",
                 "a}\\\\ \\end{aligned} x", HOSTILE]


def _hostile_derivation(name):
    """A derivation whose parameter, data symbol and function all carry ``name``, made by giving a built
    objective that per-sample expression and parameter (which the checks at construction would refuse)."""
    b = sp.Symbol("b", real=True)
    theta, feature, f = sp.Symbol(name, real=True), sp.Symbol(name + "x", real=True), _function(name)
    objective = symopt.squared_loss(symopt.Model("a*x + b", "a b"))
    objective.model.expr = f(feature) * theta + b
    objective.per_sample = (objective.target - objective.model.expr) ** 2
    objective.params = (theta, b)
    return objective, symopt.derive(objective)


def _function(name):
    """An undefined function named ``name`` (Python allows no NUL in a class name: that character is dropped)."""
    return sp.Function(name.replace("\x00", ""))


def _markdown_markup(markdown: str) -> list[str]:
    """:func:`_unescaped_markup` of each display-math block of ``markdown``, and HTML tags anywhere in it."""
    blocks = re.findall(r"^\$\$\n(.*?)\n\$\$$", markdown, flags=re.M | re.S)
    assert blocks, "no display math found"
    problems = [p for block in blocks for p in _unescaped_markup(block)]
    if re.search(r"<[A-Za-z/!?]", markdown):
        problems.append("an HTML tag")
    return problems


def _unescaped_markup(text: str) -> list[str]:
    """What in ``text`` could act as markup: an HTML tag, a LaTeX link, an unbalanced brace."""
    problems = []
    if re.search(r"<[A-Za-z/!?]", text):
        problems.append("an HTML tag")
    if re.search(r"(?<!backslash )\\href", text):
        problems.append("a \\href")
    depth = 0
    for match in re.finditer(r"\\[{}]|[{}]", text):  # escaped braces print; the others must balance
        token = match.group()
        depth += {"{": 1, "}": -1}.get(token, 0)
        if depth < 0:
            problems.append("a '}' closing a group symopt opened")
            break
    if depth > 0:
        problems.append("an unclosed '{'")
    return problems


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=range(len(HOSTILE_NAMES)))
def test_hostile_names_show_as_themselves_in_the_derivation_latex(name):
    from symopt.symbolic.escape import latex_escape

    _, derivation = _hostile_derivation(name)
    for shown in (derivation.latex(), derivation._repr_latex_()):
        assert not _unescaped_markup(shown), _unescaped_markup(shown)
        assert latex_escape(name) in shown  # the function's and the parameter's name, as themselves
        assert latex_escape(name + "x") in shown
    assert derivation._repr_latex_().count("$") - derivation._repr_latex_().count("\\$") == 4  # $$ ... $$ only


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=range(len(HOSTILE_NAMES)))
def test_hostile_names_show_as_themselves_in_the_report_and_the_analysis(name):
    from dataclasses import replace

    from symopt.reporting import report as reporting
    from symopt.symbolic.escape import latex_escape

    objective, derivation = _hostile_derivation(name)
    analysis = symopt.analyse(symopt.Objective("log(lam) - lam*x", "lam", maximize=True))
    (statistic,) = analysis.statistics.symbols
    theta = objective.params[0]
    analysis = replace(analysis, solutions=({theta: _function(name)(statistic) / sp.Symbol(name)},))
    markdown = analysis.to_markdown()
    assert not _markdown_markup(markdown) and latex_escape(name) in markdown
    report = reporting.Report("report", (("Model", tuple(reporting._model(objective))),
                                         ("Objective", tuple(reporting._objective(objective))),
                                         ("Gradient and Hessian", tuple(reporting._derivatives(derivation))),
                                         ("Closed form", (reporting.Block("math", analysis.latex()),))))
    markdown = report.markdown()
    assert not _markdown_markup(markdown), _markdown_markup(markdown)
    assert markdown.count("$$") == 2 * 4 and latex_escape(name) in markdown
    assert "<img" not in report.to_html() and "<script" not in report.to_html()


@pytest.mark.parametrize("name", ["alpha", "x_1", "a__b", "lambda_", "xhat", "x_", "b2_3__4"])
def test_plain_names_keep_sympy_s_notation_and_stay_balanced(name):
    """Names symopt accepts are letters, digits and '_': SymPy writes them with Greek letters, subscripts and
    accents, as before, and what it writes is balanced."""
    from symopt.symbolic.escape import latex

    symbol = sp.Symbol(name, real=True)
    assert latex(symbol ** 2 + sp.Function(name)(symbol)) == sp.latex(symbol ** 2 + sp.Function(name)(symbol))
    assert not _unescaped_markup(latex(symbol ** 2 + sp.Function(name)(symbol)))

"""The package's imports point one way (issue 27): read from the source (function-local imports included),
the modules of ``symopt/`` form no circle, nothing imports the package root, the top level holds only the
public surfaces, and the layers the docs' architecture page names hold: every import between stage folders
points down the order below, so ``problem`` sits above ``result`` above the insight folders, which never
reach ``Problem`` or ``Result`` by import (they are handed the problem)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "symopt"

#: The insight services a Result's methods call; they take the problem as an argument.
INSIGHT = {"stats.inference", "stats.profile", "stats.predict", "reporting.plots", "trust.verify",
           "trust.convexity", "reporting.summary", "stats.baseline"}
ABOVE_INSIGHT = {"problem", "front", "paths", "result", "records", "__init__"}

#: The layers, top first (docs/architecture.md): a module imports only from its own layer's folders (without a
#: circle) or from the layers below it.
LAYERS = [
    {"__main__"},
    {"cli"},
    {"__init__", "front", "paths", "records", "sklearn", "standalone"},
    {"problem"},
    {"result"},
    {"stats", "trust", "reporting"},
    {"distributed"},
    {"run"},
    {"closed_form", "codegen"},
    {"derivation"},
    {"model"},
    {"optimizers"},
    {"symbolic", "numerics"},
    {"errors", "_version"},
]
#: What may sit at the top of ``symopt/`` as a module: the public surfaces and the two records everything uses.
TOP_LEVEL = {"__init__", "front", "paths", "problem", "result", "records", "errors", "_version", "__main__",
             "sklearn"}


def _modules() -> dict:
    """dotted name (``symopt.x.y``, ``symopt.x`` for a package's ``__init__``) -> file."""
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, modules: dict) -> set:
    """The modules of this package that ``name`` imports anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "symopt"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.split(".")[0] == "symopt":
                target = node.module
            else:
                continue
            subs = {f"{target}.{alias.name}" for alias in node.names if f"{target}.{alias.name}" in modules}
            found |= subs if subs and len(subs) == len(node.names) else subs | {target}
    return {m for m in found if m in modules and m != name}


def _graph() -> dict:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def test_no_circle_between_modules():
    graph = _graph()
    state, stack, circles = {}, [], []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                circles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not circles, circles


def test_nothing_imports_the_package_root_and_the_insight_services_sit_below_problem_and_result():
    graph = _graph()
    assert not [m for m, deps in graph.items() if "symopt" in deps and m != "symopt"]
    short = {m: {d.removeprefix("symopt.") for d in deps} for m, deps in graph.items()}
    climbing = {m: sorted(short[f"symopt.{m}"] & ABOVE_INSIGHT) for m in INSIGHT if short[f"symopt.{m}"] & ABOVE_INSIGHT}
    assert not climbing, climbing
    assert not short["symopt.result"] & {"problem", "front", "records"}
    assert "problem" in short["symopt.front"] and "result" in short["symopt.problem"]
    assert INSIGHT - {"summary", "baseline", "predict"} <= short["symopt.result"] | short["symopt.problem"]


def _room(module: str) -> str:
    """The stage folder a module is in, or its own name for a top-level module."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_the_top_level_holds_only_the_public_surfaces_and_every_folder_is_a_layer():
    top = {p.stem for p in PACKAGE.glob("*.py")}
    assert top <= TOP_LEVEL, sorted(top - TOP_LEVEL)
    folders = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    rooms = set().union(*LAYERS)
    assert folders | top == rooms, sorted((folders | top) ^ rooms)
    for folder in folders:
        doc = ast.get_docstring(ast.parse((PACKAGE / folder / "__init__.py").read_text(encoding="utf-8")))
        assert doc and "Takes" in doc and "gives" in doc, f"symopt/{folder}/__init__.py: say what the stage takes and gives"


def test_imports_between_stage_folders_point_down_the_layers_without_a_circle():
    layer = {room: depth for depth, rooms in enumerate(LAYERS) for room in rooms}
    graph = _graph()
    climbing, between = [], {}
    for module, deps in graph.items():
        for dep in deps:
            a, b = _room(module), _room(dep)
            if a == b:
                continue
            between.setdefault(a, set()).add(b)
            if layer[b] < layer[a]:
                climbing.append(f"{module} -> {dep}")
    assert not climbing, climbing
    for start in between:  # folders of one layer may import each other one way only
        seen, todo = set(), [start]
        while todo:
            for nxt in between.get(todo.pop(), ()):
                assert nxt != start, f"a circle between stage folders through {start}"
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)


def test_a_module_past_400_lines_says_why_at_its_top():
    long = {}
    for path in PACKAGE.rglob("*.py"):
        lines = path.read_text(encoding="utf-8").count("\n")
        if lines > 400:
            doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
            if "past 400 lines" not in doc:
                long[str(path.relative_to(PACKAGE))] = lines
    assert not long, f"split these, or say at the top why each is one module: {long}"

"""The package's imports point one way (issue 27): read from the source (function-local imports included),
the modules of ``symopt/`` form no circle, nothing imports the package root, and the layers the docs'
architecture page names hold: ``problem`` above ``result`` above the insight services, which never reach
``Problem`` or ``Result`` by import (they are handed the problem)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "symopt"

#: The insight services a Result's methods call; they take the problem as an argument.
INSIGHT = {"inference", "profile", "predict", "plots", "verification", "convex", "summary", "baseline"}
ABOVE_INSIGHT = {"problem", "solve", "result", "records", "__init__"}


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
    assert not short["symopt.result"] & {"problem", "solve", "records"}
    assert "problem" in short["symopt.solve"] and "result" in short["symopt.problem"]
    assert INSIGHT - {"summary", "baseline", "predict"} <= short["symopt.result"] | short["symopt.problem"]

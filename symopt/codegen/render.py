"""Jinja rendering: one strict environment, a context of plain data.

The context holds strings, numbers and lists only (never callables): the
templates lay out files and loops; the printer has already printed the
mathematics; Python here only decides names.
"""

from __future__ import annotations

import functools
import platform
from dataclasses import dataclass
from pathlib import Path

import jinja2
import numba
import numpy as np

from .. import __version__
from ..errors import CodegenError
from ..objective import ETA
from .printer import print_block

#: Bumped whenever a template changes meaning, so cached modules are not reused.
TEMPLATE_VERSION = "2"


def template_dir() -> Path:
    """Where the templates are: inside the installed package, or the source tree's ``templates/``."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "templates", package.parent / "templates"):
        if (candidate / "module.py.jinja").is_file():
            return candidate
    raise CodegenError(f"symopt's templates are missing (looked in {package / 'templates'} and "
                       f"{package.parent / 'templates'}); reinstall symopt")


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir())),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


@dataclass(frozen=True)
class Rendered:
    """Generated source and what the runner needs to call it."""

    source: str
    stem: str  # a readable part of the module name
    data_names: tuple  # user names of the data arrays, in argument order


def _code_name(prefix: str, name: str) -> str:
    return f"{prefix}_{name}"


def render(objective, derivation, optimizer) -> Rendered:
    """Render the solver module for ``objective`` and ``optimizer``."""
    if objective.wide:
        kernel_template = "kernels/linear.py.jinja"
        context = _linear_context(objective, derivation)
        data_names = ("X", objective.target.name)
    else:
        kernel_template = "kernels/expression.py.jinja"
        context = _expression_context(objective, derivation)
        data_names = tuple(s.name for s in objective.data_symbols)
    context.update(
        symopt_version=__version__,
        template_version=TEMPLATE_VERSION,
        kernel_template=kernel_template,
        optimizer_template=optimizer.template,
        optimizer_title=type(optimizer).__name__,
        problem=objective.describe(),
        numba_version=numba.__version__,
        numpy_version=np.__version__,
        python_version=platform.python_version(),
        maximize=objective.maximize,
        mean=objective.reduction == "mean",
        per_sample=str(objective.per_sample),
    )
    try:
        source = environment().get_template("module.py.jinja").render(**context)
    except jinja2.TemplateError as exc:
        raise CodegenError(f"rendering the solver failed: {exc}") from exc
    try:
        compile(source, "<symopt generated>", "exec")
    except SyntaxError as exc:  # a bug in symopt, reported with the line
        raise CodegenError(f"generated code does not compile: {exc.msg} at line {exc.lineno}: {exc.text!r}") from exc
    stem = "linear" if objective.wide else "expr"
    return Rendered(source, f"{stem}_{optimizer.name}", data_names)


def _expression_context(objective, derivation) -> dict:
    names = {}
    params = []
    for p in objective.params:
        names[p] = _code_name("p", p.name)
        params.append({"name": p.name, "code": names[p]})
    data = []
    for s in objective.data_symbols:
        names[s] = _code_name("d", s.name)
        data.append({"name": s.name, "local": names[s], "array": _code_name("data", s.name)})
    temps, printed = print_block([objective.per_sample, *derivation.gradient], names)
    return {
        "params": params,
        "data": data,
        "data_args": [d["array"] for d in data],
        "temps": temps,
        "loss": printed[0],
        "grads": printed[1:],
        "param_summary": ", ".join(p.name for p in objective.params),
        "data_summary": ", ".join(f"{d['name']} -> {d['array']}" for d in data),
    }


def _linear_context(objective, derivation) -> dict:
    target = objective.target
    names = {ETA: "eta", target: _code_name("d", target.name)}
    temps, printed = print_block([objective.per_sample, derivation.gradient[0]], names)
    intercept = objective.model.intercept
    return {
        "intercept": intercept,
        "target_array": _code_name("data", target.name),
        "target_local": names[target],
        "data_args": ["X", _code_name("data", target.name)],
        "temps": temps,
        "loss": printed[0],
        "dloss": printed[1],
        "param_summary": ("theta[0] = intercept, theta[1:] = coef" if intercept else "theta = coef"),
        "data_summary": f"X (rows x features), {target.name} -> {_code_name('data', target.name)}",
    }

"""Jinja rendering: one strict environment, a context of plain data.

The context holds strings, numbers and lists only (never callables): the
templates lay out files and loops; the printer has already printed the
mathematics; Python here only decides names.
"""

from __future__ import annotations

import functools
import hashlib
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import sympy as sp

from .._version import __version__
from ..errors import CodegenError
from ..model.data import NO_DATA
from ..model.objective import ETA
from ..optimizers.base import GENERATED_STATUSES
from ..symbolic.functions import exp_neg_abs
from ..symbolic.printer import print_block, split_log1p_terms
from .cache import numba_version
from .text import doc_text, names_in

if TYPE_CHECKING:
    import jinja2

#: Bumped whenever a template changes meaning, so cached modules are not reused.
TEMPLATE_VERSION = "18"


def template_dir() -> Path:
    """Where the templates are: ``symopt/codegen/templates/``, shipped inside the package."""
    folder = Path(__file__).resolve().parent / "templates"
    if not (folder / "module.py.jinja").is_file():
        raise CodegenError(f"symopt's templates are missing (looked in {folder}); reinstall symopt")
    return folder


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The one Jinja environment. ``doc`` (:func:`~symopt.codegen.text.doc_text`) is the filter every
    substitution inside a comment or docstring goes through (tests/system/test_security.py checks that). Jinja is
    imported here, on first need: a process whose rendered modules are on disk
    (:meth:`symopt.run.shared.Shared.rendered_for`) never needs it."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir())),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["doc"] = doc_text
    return env


#: What the header of each backend's copy of a module says it is.
BACKEND_TITLES = {
    "numba": "numba, serial (compiled to machine code on first use, kept in the cache folder)",
    "numba-parallel": "numba, parallel (rows split across threads, for large data; compiled on first use, kept in "
                      "the cache folder)",
    "python": "python (the compiled module's twin, run by the interpreter: no compile wait)",
}


@dataclass(frozen=True)
class Rendered:
    """Generated source and what the runner needs to call it.

    ``source`` is the module Numba compiles; ``python_source``, where there is one, the same module with
    ``njit`` a no-op and ``prange`` the built-in ``range``, for the Python interpreter (the small-problem
    backend). The two differ only in those lines and the header's backend line.
    """

    source: str
    stem: str  # a readable part of the module name
    data_names: tuple  # user names of the data arrays, in argument order
    python_source: str | None = None


def _code_name(prefix: str, name: str) -> str:
    return f"{prefix}_{name}"


def render(objective, derivation, optimizer, bounded: bool = False, parallel: bool = False) -> Rendered:
    """Render the solver module for ``objective`` and ``optimizer``; ``bounded``: the optimizer keeps every
    iterate inside the box its ``lower`` and ``upper`` arguments give (:mod:`symopt.model.bounds`), else those
    arguments are not read. ``parallel``: the kernels split the rows across Numba's threads (``prange``),
    for large data; else they are serial and never start Numba's thread pool, and the module has an
    interpreted twin (``python_source``)."""
    flags = {
        "with_hessian": optimizer.needs == "hessian",
        "with_residuals": optimizer.needs == "residuals",
        "stochastic": optimizer.stochastic,
    }
    if objective.form.name not in KERNELS:
        raise CodegenError(f"a {objective.form.name} problem has no kernel module here (networks: codegen.network)")
    kernel_template, context_of, stem = KERNELS[objective.form.name]
    context = context_of(objective, derivation, flags)
    data_names = objective.data_names or (NO_DATA,)
    context.update(flags)
    context.update(optimizer_context(objective, optimizer, bounded))
    context["special"] = special_functions(context)
    context.update(
        symopt_version=__version__,
        template_version=TEMPLATE_VERSION,
        kernel_template=kernel_template,
        optimizer_template=optimizer.template,
        optimizer_title=type(optimizer).__name__,
        problem=objective.describe(l2="l2"),
        numba_version=numba_version(),
        numpy_version=np.__version__,
        python_version=platform.python_version(),
        maximize=objective.maximize,
        mean=objective.reduction == "mean",
        per_sample=str(objective.per_sample),
    )
    compiled = "numba-parallel" if parallel else "numba"
    source = render_checked("module.py.jinja", dict(context, backend="numba", backend_title=BACKEND_TITLES[compiled],
                                                    **loops(parallel)))
    python_source = None if parallel else render_checked(
        "module.py.jinja", dict(context, backend="python", backend_title=BACKEND_TITLES["python"], **loops(False)))
    variant = ("_minibatch" if optimizer.stochastic else "") + ("_bounded" if bounded else "") + \
        ("_parallel" if parallel else "")
    return Rendered(source, f"{stem}_{optimizer.name}{variant}", data_names, python_source)


def loops(parallel: bool) -> dict:
    """How a module's kernels loop over the rows: the decorator of a kernel that may split them across
    threads, and the loop over row blocks (``codegen/templates/kernels/parallel.jinja`` has the per-row loop)."""
    flags = "cache=True, error_model=\"numpy\"" + (", parallel=True" if parallel else "") + ", fastmath=FASTMATH"
    return {"parallel": parallel, "kernel_jit": f"njit({flags})", "block_range": "prange" if parallel else "range"}


#: The special functions generated code may call, defined by codegen/templates/kernels/special.py.jinja where used.
SPECIAL_FUNCTIONS = ("digamma", "trigamma")


def special_functions(context: dict) -> list[str]:
    """Which of :data:`SPECIAL_FUNCTIONS` the printed code in ``context`` calls (``_digamma(...)``)."""
    text = repr(context)
    return [name for name in SPECIAL_FUNCTIONS if f"_{name}(" in text]


def render_checked(template: str, context: dict) -> str:
    """Render ``template`` and check that the result compiles as Python (a failure is symopt's bug)."""
    import jinja2

    try:
        source = environment().get_template(template).render(**context)
    except jinja2.TemplateError as exc:
        raise CodegenError(f"rendering {template} failed: {exc}") from exc
    try:
        compile(source, "<symopt generated>", "exec")
    except SyntaxError as exc:
        raise CodegenError(f"code generated from {template} does not compile: {exc.msg} at line {exc.lineno}: "
                           f"{exc.text!r}") from exc
    return source


@functools.lru_cache(maxsize=1)
def render_fingerprint() -> str:
    """What rendered code depends on besides the problem and the optimizer: symopt's and the template
    version, the templates' contents (so a template edited without a new version is not served stale) and
    the versions of numba, numpy and Python that the header names."""
    digest = hashlib.sha256()
    for path in sorted(template_dir().rglob("*.jinja")):
        digest.update(path.relative_to(template_dir()).as_posix().encode())
        digest.update(path.read_bytes())
    return (f"{__version__}|{TEMPLATE_VERSION}|{digest.hexdigest()[:24]}|{numba_version()}|{np.__version__}|"
            f"{platform.python_version()}")


def render_key(optimizer, bounded: bool = False, parallel: bool = False) -> tuple:
    """What of ``optimizer`` the generated code depends on (the fields :func:`render` and
    :func:`~symopt.codegen.network_trainer.render_network` read from it), whether it keeps bounds and whether its
    kernels run in parallel: optimizers with equal keys share one module for one problem; every other
    setting (and the bounds' values) is a run-time argument."""
    return (type(optimizer).__name__, optimizer.name, optimizer.template, optimizer.needs, optimizer.stochastic,
            tuple(optimizer.hyper_names), bool(getattr(optimizer, "line_search", False)),
            getattr(optimizer, "batch_size", None) or 0, getattr(optimizer, "memory", 0),
            tuple(getattr(optimizer, "linear", ())), bool(bounded), bool(parallel))


def optimizer_context(objective, optimizer, bounded: bool = False) -> dict:
    context = {
        "bounded": bool(bounded),
        "update": optimizer.name,
        "hyper_names": list(optimizer.hyper_names),
        "searching": bool(getattr(optimizer, "line_search", False)),
        "batch_size": getattr(optimizer, "batch_size", None) or 0,
        "memory": getattr(optimizer, "memory", 0),
        "statuses": [(status.name, int(status)) for status in GENERATED_STATUSES],
    }
    if optimizer.needs == "residuals":
        u, weight = objective.sum_of_squares()
        context.update(residual_expr=str(u), residual_weight=float(weight))  # a number: code, not text
    linear = tuple(getattr(optimizer, "linear", ()))
    if linear:  # variable projection: which parameters are solved for, which iterated on
        names = [p.name for p in objective.params]
        nonlinear = [j for j in range(len(names)) if j not in linear]
        context.update(linear=list(linear), nonlinear=nonlinear,
                       linear_names=", ".join(names[j] for j in linear),
                       nonlinear_names=", ".join(names[j] for j in nonlinear))
    return context


def _expression_context(objective, derivation, flags) -> dict:
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
    context = {
        "params": params,
        "data": data,
        # An objective of its parameters alone reads no data: one stand-in array gives the row count (1).
        "data_args": [d["array"] for d in data] or ["one_row"],
        "temps": temps,
        "loss": printed[0],
        "grads": printed[1:],
        "param_summary": ", ".join(p.name for p in objective.params),
        "data_summary": ", ".join(f"{d['name']} -> {d['array']}" for d in data) or
                        "none (a function of the parameters alone; one_row stands in for one row)",
    }
    p = len(objective.params)
    if flags["with_hessian"]:
        pairs = [(i, j) for i in range(p) for j in range(i, p)]
        h_temps, h_printed = print_block(
            [objective.per_sample, *derivation.gradient, *(derivation.hessian[i, j] for i, j in pairs)], names)
        context["hessian"] = {
            "temps": h_temps, "loss": h_printed[0], "grads": h_printed[1:p + 1],
            "entries": [{"i": i, "j": j, "code": c} for (i, j), c in zip(pairs, h_printed[p + 1:])],
        }
    if flags["stochastic"]:
        b_temps, b_printed = print_block(derivation.gradient, names)
        context["batch"] = {"temps": b_temps, "grads": b_printed}
    if flags["with_residuals"]:
        context["residuals"] = _residual_context(objective, names)
    return context


def _residual_context(objective, names) -> dict:
    u, _ = objective.sum_of_squares()
    params = objective.params
    jac = [sp.diff(u, q) for q in params]
    temps, printed = print_block([u, *jac], names)
    value_temps, value = print_block([u], names, temp_prefix="w")
    v = [sp.Symbol(f"v_{j}", real=True) for j in range(len(params))]
    local = {**names, **{s: s.name for s in v}}
    curvature = sp.Add(*[sp.diff(jac[j], params[k]) * v[j] * v[k]
                         for j in range(len(params)) for k in range(len(params))])
    c_temps, c_printed = print_block([curvature], local, temp_prefix="c")
    return {
        "expr": str(u), "temps": temps, "value": printed[0], "jacobian": printed[1:],
        "value_temps": value_temps, "value_only": value[0],
        "curvature_temps": c_temps, "curvature": c_printed[0],
        "curvature_uses": sorted(names_in(c_printed[0], *c_temps)),
    }


def _row_sums(per_sample, derivatives, names) -> dict:
    """Print a linear kernel's per-row code: the loss (log1p terms apart, see
    :func:`split_log1p_terms`) and its derivatives in eta, sharing one ``cse``."""
    rest, log1p_terms = split_log1p_terms(per_sample)
    temps, printed = print_block([rest, *derivatives, *(u for _, u in log1p_terms)], names)
    k = 1 + len(derivatives)
    return {
        "temps": temps,
        "loss": printed[0],
        "derivatives": printed[1:k],
        "log1p_terms": [{"times": "" if c == 1 else f"{float(c)!r} * ", "arg": code, "expr": str(u),
                         "at_most_one": isinstance(u, exp_neg_abs)}
                        for (c, u), code in zip(log1p_terms, printed[k:])],
    }


def _softmax_context(objective, derivation, flags) -> dict:
    """Multinomial logistic regression: the kernel is written out in the template (the loss and its
    derivatives are the softmax's, not printed from SymPy); which entries are free is compiled in."""
    from ..model.softmax import reference_row

    target = objective.target
    intercept, reference = objective.model.intercept, reference_row(objective)
    free = "classes 1..K-1" if reference else "every class"
    return {
        "intercept": intercept,
        "reference": reference,
        "target_array": _code_name("data", target.name),
        "data_args": ["X", _code_name("data", target.name)],
        "param_summary": (("theta = the intercepts of classes 1..K-1, then " if intercept else "theta = ")
                          + f"the rows of coef (K x m) of {free}, row by row (class 0's fixed entries are 0)"),
        "data_summary": f"X (rows x features), {target.name} (class labels 0 .. K-1) -> {_code_name('data', target.name)}",
    }


def _linear_context(objective, derivation, flags) -> dict:
    target = objective.target
    names = {ETA: "eta", target: _code_name("d", target.name)}
    rows = _row_sums(objective.per_sample, [derivation.gradient[0]], names)
    intercept = objective.model.intercept
    context = {
        "intercept": intercept,
        "target_array": _code_name("data", target.name),
        "target_local": names[target],
        "data_args": ["X", _code_name("data", target.name)],
        "temps": rows["temps"],
        "loss": rows["loss"],
        "dloss": rows["derivatives"][0],
        "log1p_terms": rows["log1p_terms"],
        "param_summary": ("theta[0] = intercept, theta[1:] = coef" if intercept else "theta = coef"),
        "data_summary": f"X (rows x features), {target.name} -> {_code_name('data', target.name)}",
    }
    if flags["with_hessian"]:
        h = _row_sums(objective.per_sample, [derivation.gradient[0], derivation.hessian[0, 0]], names)
        context["hessian"] = {"temps": h["temps"], "loss": h["loss"], "dloss": h["derivatives"][0],
                              "d2loss": h["derivatives"][1], "log1p_terms": h["log1p_terms"]}
    if flags["stochastic"]:
        b_temps, b_printed = print_block([derivation.gradient[0]], names)
        context["batch"] = {"temps": b_temps, "dloss": b_printed[0]}
    return context


#: The kernel family of each form (:mod:`symopt.model.forms`): its template, the function that fills its context and
#: the stem of the module's file name. Networks have a module of their own (:mod:`symopt.codegen.network_trainer`).
KERNELS = {
    "expression": ("kernels/expression.py.jinja", _expression_context, "expr"),
    "wide": ("kernels/linear.py.jinja", _linear_context, "linear"),
    "multiclass": ("kernels/softmax.py.jinja", _softmax_context, "softmax"),
}

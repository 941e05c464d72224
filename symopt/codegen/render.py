"""Jinja rendering: one strict environment, a context of plain data.

The context holds strings, numbers and lists only (never callables): the
templates lay out files and loops; the printer has already printed the
mathematics; Python here only decides names.
"""

from __future__ import annotations

import functools
import hashlib
import platform
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .._version import __version__
from ..errors import CodegenError
from ..model.data import NO_DATA
from ..optimizers.base import GENERATED_STATUSES
from .cache import numba_version
from .text import doc_text

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
    form = objective.form
    if form.kernel_template is None:
        raise CodegenError(f"a {form.name} problem has no kernel module here (networks: codegen.network_trainer)")
    kernel_template, stem = form.kernel_template, form.module_stem
    context = form.kernel_context(derivation, flags)
    data_names = objective.data_names or (NO_DATA,)
    context.update(flags)
    context.update(optimizer_context(objective, optimizer, bounded))
    context.update(special_functions(context))
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
    # nogil: a kernel touches no Python object, so it lets go of the GIL, and Dask's threaded scheduler (or any
    # thread pool a user runs solves in) runs kernels on several chunks at once (symopt.distributed)
    flags = "cache=True, error_model=\"numpy\", nogil=True" + (", parallel=True" if parallel else "") + \
        ", fastmath=FASTMATH"
    return {"parallel": parallel, "kernel_jit": f"njit({flags})", "block_range": "prange" if parallel else "range"}


#: The special functions generated code may call, defined by codegen/templates/kernels/special.py.jinja where used,
#: each with the helpers it calls (emitted with it).
SPECIAL_FUNCTIONS = {
    "digamma": (), "trigamma": (),
    "ive": ("chebyshev",),
    "ndtr": (),
    "log_ndtr": ("mills_tail",),
    "inv_mills": ("inv_mills_gap", "chebyshev", "mills_tail"),
    "inv_mills_gap": ("chebyshev", "mills_tail"),
}
#: The tables of Chebyshev coefficients (:mod:`symopt.symbolic.special`) each helper sums.
SPECIAL_TABLES = {"ive": ("BESSEL_I0_TAIL", "BESSEL_I1_TAIL"), "inv_mills_gap": ("MILLS_GAP_MIDDLE",)}


def special_functions(context: dict) -> dict:
    """``special``: which of :data:`SPECIAL_FUNCTIONS` the printed code in ``context`` calls (``_digamma(...)``),
    with the helpers they call; ``special_tables``: the coefficient tables those need, as code text."""
    from ..symbolic.special import tables

    text = repr(context)
    called = [name for name in SPECIAL_FUNCTIONS if re.search(rf"(?<![A-Za-z0-9_])_{name}\(", text)]
    needed = set(called)
    for name in called:
        needed.update(SPECIAL_FUNCTIONS[name])
    ordered = [name for name in SPECIAL_FUNCTIONS if name in needed]
    ordered += sorted(needed - set(ordered))
    values = tables()
    return {"special": ordered,
            "special_tables": {table: table_text(values[table]) for name in ordered
                               for table in SPECIAL_TABLES.get(name, ())}}


def table_text(values) -> str:
    """A tuple of floats as code, four to a line (each exactly as ``repr`` gives it, so read back unchanged)."""
    items = [repr(float(v)) for v in values]
    lines = [", ".join(items[i:i + 4]) + "," for i in range(0, len(items), 4)]
    return "(\n" + "".join(f"    {line}\n" for line in lines) + ")"


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

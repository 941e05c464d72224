"""``symopt.export(problem, path)``: one readable module that fits ``problem`` where symopt is not installed.

The module embeds, unchanged, the solver module symopt generates for the problem and its optimizer (the same
kernels and optimizer loop, so from the same start it makes the same iterates as :func:`symopt.solve`), and
around it a driver rendered from ``templates/standalone.py.jinja``: symopt's start point, the chunk-free run of
the generated ``start`` and ``run``, the status words and the verdicts of symopt's driver that it carries
(the module's docstring lists them, and what it does not carry), the classical standard errors, ``fit``,
``value_and_grad``, ``predict`` and a command line. The mathematics the driver adds (per-row sums of the loss
and gradient, the Hessian, the residuals' Jacobian, the prediction) is printed from the derivation by
symopt's printer, as the generated kernels are; the template holds plain data.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import os
import re
import platform
from pathlib import Path

import numpy as np

from .._version import __version__
from ..codegen.cache import numba_version, write_atomically
from ..codegen.render import environment
from ..errors import SUGGESTED_STARTS, CodegenError, ModelError
from ..model.bounds import AT_BOUND, KKT_TOLERANCE, NARROW_SHARE
from ..model.data import prepare
from ..model.kinds.wide import ETA
from ..numerics.covariance import RANK_TOLERANCE
from ..optimizers import ProjectedLevenbergMarquardt
from ..optimizers.base import DIVERGED_FACTOR, STATUS, Status, falls_without_bound
from ..codegen.network_trainer import render_network
from ..run import loop, stationary
from ..run.epochs import full_batch
from ..stats.inference import kind_of
from ..symbolic.printer import code_name, names_in, print_block

#: The kinds of problem the exported driver knows (by :attr:`symopt.model.kinds.base.Form.kernel_template`;
#: a network by its driver, :attr:`symopt.model.kinds.base.Form.driver`).
KERNELS = {"kernels/expression.py.jinja": "expression", "kernels/linear.py.jinja": "wide"}
#: Stands in for the module's cache name until its content, and so the hash in the name, is known.
CACHE_NAME_MARK = "__symopt_cache_name__"
#: Where the standalone templates are.
TEMPLATES = Path(__file__).resolve().parent / "templates"


def export(problem, path, *, data=None, optimizer=None) -> Path:
    """Write one module to ``path`` that fits ``problem`` (a :class:`symopt.Problem`) with NumPy, Numba and
    SciPy only, and return its path.

    ``optimizer``: the optimizer the module runs (one symopt runs for this problem: a full-batch one);
    None takes the problem's, or the one symopt would choose, for ``data`` where given (a wide model's
    parameter count, and so the choice, is the data's width). The module's ``fit(data, x0=None,
    bounds=None)`` gives what :func:`symopt.solve` gives with that optimizer from the same start (to
    rounding: the same generated code runs), its docstring says which of symopt's checks it carries.
    """
    objective = getattr(problem, "objective", None)
    derivation = getattr(problem, "derivation", None)
    if objective is None or derivation is None or not hasattr(problem, "_driver"):
        raise ModelError(f"export() takes a symopt.Problem (symopt.Problem(objective)), got {type(problem).__name__}")
    form = objective.form
    kind = "network" if form.driver == "network" else KERNELS.get(form.kernel_template)
    if kind is None:
        raise ModelError(f"export() does not write {form.noun} yet: it exports expression models, linear "
                         f"models over a data matrix and networks")
    if problem.box and kind != "expression":
        raise ModelError(f"export() of {form.noun} with bounds= is not supported yet (expression models take them)")
    if objective.l1:
        raise ModelError("export() of an objective with an l1 penalty is not supported yet (its solvers, proximal "
                         "gradient and coordinate descent, are not in the standalone module): solve it with symopt")
    if getattr(problem, "ties", None) or getattr(problem, "constraints", None):
        raise ModelError("export() of a problem with ties= or constraints= is not supported: the exported module "
                         "fits the free parameters without them; write the tie into the model to export it")
    if problem.fixed:
        raise ModelError("export() of a problem with fixed= parameters is not supported: build the problem with "
                         "those parameters written into the model as numbers")
    if not objective.data_names:
        raise ModelError("export() needs an objective that reads data (this one is a function of its "
                         "parameters alone: solve it with symopt)")
    if kind in ("wide", "network") and data is None and optimizer is None and problem.optimizer is None:
        raise ModelError(f"export() of {form.noun} needs data= (or optimizer=, or a Problem built with an "
                         f"optimizer): the optimizer symopt chooses depends on the data's size")
    optimizer = _optimizer(problem, objective, data, optimizer)
    bounded = bool(problem.box)
    if kind == "network":
        rendered = render_network(objective, derivation, optimizer)
    else:
        rendered = problem._shared.rendered_for(objective, derivation, optimizer, bounded)
    path = Path(path)
    context = _context(problem, objective, derivation, optimizer, rendered, kind, bounded, path)
    template = environment().overlay(loader=_loader()).get_template("standalone.py.jinja")
    # the name the module registers itself under for Numba's cache: its file's stem and its content's hash
    source = template.render(**context, cache_name=CACHE_NAME_MARK)
    digest = hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]
    source = source.replace(CACHE_NAME_MARK, f"_symopt_export_{_identifier(path.stem)}_{digest}")
    _check(source, rendered.source)
    _write(path, source)
    return path


def _identifier(stem: str) -> str:
    """``stem`` as a Python identifier's part (what is not a letter, digit or underscore becomes ``_``)."""
    return re.sub(r"\W", "_", stem, flags=re.ASCII)


def _loader():
    import jinja2

    return jinja2.FileSystemLoader(str(TEMPLATES))


def _optimizer(problem, objective, data, optimizer):
    """The optimizer to export: ``optimizer`` checked, or symopt's choice for the problem (and data)."""
    if optimizer is not None:
        from ..optimizers import Optimizer

        if not isinstance(optimizer, Optimizer):
            raise ModelError(f"optimizer must be a symopt optimizer such as symopt.LBFGS(), got {optimizer!r}")
        problem = problem.related(optimizer=optimizer)
    n_params, n_rows = len(objective.params), 0
    if data is not None:
        dataset = prepare(objective, data)
        n_params, n_rows = sum(size for _, size in objective.form.blocks(dataset)), dataset.n_rows
    chosen, _ = problem._driver.optimizer(n_params, n_rows)
    if chosen.stochastic or (objective.form.driver == "network" and not full_batch(chosen)):
        raise ModelError(f"export() runs full-batch optimizers; {type(chosen).__name__} here trains by "
                         f"{'minibatches' if chosen.stochastic else 'epochs'} (export with optimizer=symopt.LBFGS(), "
                         f"say)")
    return chosen


def _state_coefficients(optimizer) -> tuple:
    """``((a, b, c, d) floats, (a, b, c, d) ints)`` with state size ``a + b p + c p^2 + d n``, fitted to the
    optimizer's ``state_size`` and checked at other sizes (a size of another shape is refused)."""
    out = []
    for k in (0, 1):
        f = lambda p, n: optimizer.state_size(p, n)[k]  # noqa: E731
        a = f(0, 0)
        d = f(0, 1) - a
        c2 = f(2, 0) - 2 * f(1, 0) + a  # twice the coefficient of p^2
        if c2 % 2:
            raise CodegenError(f"{type(optimizer).__name__}'s state size has no whole coefficients: export() cannot "
                               f"size it")
        c = c2 // 2
        b = f(1, 0) - a - c
        for p, n in ((3, 5), (7, 2), (50, 1000)):
            if f(p, n) != a + b * p + c * p * p + d * n:
                raise CodegenError(f"{type(optimizer).__name__}'s state size is not quadratic in the parameters "
                                   f"and linear in the rows: export() cannot size it")
        out.append((int(a), int(b), int(c), int(d)))
    return tuple(out)


def _block(exprs, names) -> dict:
    """``exprs`` printed (stable forms, ``cse``): the temporaries, the expressions, and the names they read (a
    kernel loads only those)."""
    temps, printed = print_block(list(exprs), names)
    return {"temps": temps, "exprs": printed, "uses": sorted(names_in(*printed, *temps))}


def _context(problem, objective, derivation, optimizer, rendered, kind, bounded, path) -> dict:
    form, wide, network = objective.form, kind == "wide", kind == "network"
    target = objective.target
    names = {}
    params, data, features, columns = [], [], [], []
    if network:
        kernel_args, data_names = "X, y", ["X", target.name]
    elif wide:  # the target and the loss's per-row columns (a weight), each read by name
        names = {ETA: "eta"}
        for s in objective.data_symbols:
            names[s] = code_name("d", s.name)
            columns.append({"name": s.name, "local": names[s], "array": code_name("data", s.name)})
        kernel_args = ", ".join(["X", *(c["array"] for c in columns)])
        data_names = ["X", *(c["name"] for c in columns)]
    else:
        for p in objective.params:
            names[p] = code_name("p", p.name)
            params.append({"name": p.name, "code": names[p]})
        by_name = {s.name: s for s in objective.data_symbols}
        for name in rendered.data_names:
            names[by_name[name]] = code_name("d", name)
            entry = {"name": name, "local": code_name("d", name), "array": code_name("data", name)}
            data.append(entry)
            if objective.model is not None and by_name[name] in objective.model.expr.free_symbols:
                features.append(entry)
        kernel_args = ", ".join(d["array"] for d in data)
        data_names = list(rendered.data_names)
    cov_kind, cov_reason = kind_of(objective)
    if getattr(objective, "glm", None) is not None:
        cov_kind, cov_reason = "none", ("a GLM's standard errors (the expected information, scaled by the estimated "
                                        "dispersion) are not carried by the exported module: symopt.solve gives them")
    elif cov_kind != "none" and objective.l2:
        cov_kind, cov_reason = "none", (f"a ridge penalty (l2={objective.l2!r}) biases the estimates, so the classical "
                                        f"standard errors do not apply (fit with l2=0 for them)")
    residual = None
    if cov_kind == "least squares" and objective.residual_weight is not None:
        cov_kind, cov_reason = "none", ("weighted least squares: the exported module does not carry the weights' "
                                        "covariance (symopt.solve gives it)")
    elif cov_kind == "least squares" and wide and objective.offset_column is not None:
        cov_kind, cov_reason = "none", ("least squares with an offset: the exported module's residuals are y - eta, "
                                        "without it, so it does not carry the covariance (symopt.solve gives it)")
    elif cov_kind == "least squares" and not wide:
        u, _ = objective.sum_of_squares()
        residual = _block([u, *(u.diff(q) for q in objective.params)], names)
    hessian = wide_hessian = None
    if kind == "expression" and derivation.hessian is not None:
        p = len(objective.params)
        pairs = [(i, j) for i in range(p) for j in range(i, p)]
        block = _block([derivation.hessian[i, j] for i, j in pairs], names)
        hessian = {"temps": block["temps"], "uses": block["uses"],
                   "entries": [{"i": i, "j": j, "code": c} for (i, j), c in zip(pairs, block["exprs"])]}
    if wide and derivation.hessian is not None:
        wide_hessian = _block([derivation.hessian[0, 0]], names)
    kink = _kinks(objective, names) if kind == "expression" else None
    if cov_kind == "likelihood" and hessian is None and wide_hessian is None:
        cov_kind, cov_reason = "none", "the Hessian of the objective was not derived, so there is no observed information"
    sign = -1.0 if objective.maximize else 1.0
    statuses = sorted((int(code), word, success, advice) for code, (word, success, advice) in STATUS.items())
    default_start = [] if wide else [float(v) for v in form.default_start(None)]
    net = objective.model if network else None
    module_name = path.stem
    if network:
        example = "(X, y)"
        param_summary = ", ".join(f"{name} {tuple(shape)}" for name, shape in net.shapes())
        inputs = (f"X images of shape (rows, {', '.join(map(str, net.input_shape))}) (or rows of {net.n_inputs} "
                  f"values, each image flattened in C order)" if net.images else f"X rows x {net.n_inputs} inputs")
        data_summary = (f"(X, y) or {{'X': X, {target.name!r}: y}}: {inputs}, "
                        f"y {'rows x outputs' if _y_matrix(objective) else 'one value per row'}")
    elif wide:
        mapping = "{" + ", ".join(f"{n!r}: {n if n != target.name else 'y'}" for n in data_names) + "}"
        example = "(X, y)" if len(columns) == 1 else mapping
        param_summary = ("intercept, coef[0..m-1]" if objective.model.intercept else "coef[0..m-1]") + \
            " (m: the columns of X)"
        data_summary = (f"(X, y) or {mapping}: X rows x features" if len(columns) == 1 else
                        f"{mapping}: X rows x features, each other array one value per row")
    else:
        example = "{" + ", ".join(f"{n!r}: ..." for n in data_names) + "}"
        param_summary = ", ".join(p.name for p in objective.params)
        data_summary = "a mapping of column name -> array: " + ", ".join(data_names)
    held = getattr(objective, "held_columns", None) or {}
    if held:  # arrays given to the objective (offset=, weights=...) are columns of the exported module's data
        from ..model.held import role_of

        data_summary += "; " + "; ".join(f"{name!r}: the {role_of(name)}= values (given to the objective as an "
                                         f"array, passed here under this name)" for name in held)
    floats, ints = _state_coefficients(optimizer)
    return dict(
        symopt_version=__version__, numba_version=numba_version(), numpy_version=np.__version__,
        python_version=platform.python_version(), solver_stem=rendered.stem, solver_source=rendered.source,
        problem=objective.describe(), optimizer_repr=repr(optimizer), optimizer_title=type(optimizer).__name__, module_name=module_name,
        data_example=example, param_summary=param_summary, data_summary=data_summary,
        derivation_lines=str(derivation).splitlines(),
        start_words=("zeros" if wide else "the network's seeded initialisation, as symopt draws it" if network else
                     "zeros (ones for positive parameters), else ones, else halves, the first where F is finite and "
                     "its gradient not zero" if form.retries_start else "symopt's default"),
        wide=wide, network=network, matrix=wide or network, kind=kind, kind_name=objective.kind, cross_entropy=objective.kind == "cross_entropy",
        target_ndim=2 if _y_matrix(objective) else 1,
        n_inputs=net.n_inputs if network else 0, n_outputs=net.n_outputs if network else 0,
        images=bool(network and net.images), input_shape=repr(tuple(net.input_shapes()[0]) if network else ()),
        shapes=repr([(name, tuple(int(k) for k in shape)) for name, shape in net.shapes()]) if network else "[]",
        buffers=repr([float(v) for v in net.initial_buffers()]) if network else "[]", intercept=bool(wide and objective.model.intercept), params=params, data=data,
        features=features, feature_args=", ".join(d["array"] for d in features) or "_none",
        weight_column=objective.weight_column or "", weight_kind=objective.weight_kind or "",
        kernel_args=kernel_args, columns=columns, row_columns=repr([c["name"] for c in columns[1:]]),
        param_names=repr([] if wide else form.flat_names(None) if network else [p.name for p in objective.params]),
        data_names=repr(data_names), target=repr(target.name if target is not None else None),
        mask=repr([] if wide else [float(v) for v in form.penalty_mask(None)]),
        l2=repr(float(objective.l2)), sign=repr(sign), mean=repr(objective.reduction == "mean"),
        hyper=repr([float(v) for v in optimizer.hyper()]), hyper_names=list(optimizer.hyper_names),
        max_iter=repr(int(optimizer.max_iter)), tol=repr(float(optimizer.tol)), ftol=repr(float(optimizer.ftol)),
        state_float=repr(floats), state_int=repr(ints), default_start=repr(default_start),
        retries_start=form.retries_start, statuses=statuses,
        code_max_iter=int(Status.MAX_ITER), code_diverged_loss=int(Status.DIVERGED_LOSS),
        code_stalled=int(Status.STALLED),
        unbounded_depth=repr(loop.UNBOUNDED_DEPTH), diverged_factor=repr(DIVERGED_FACTOR), runaway=repr(loop.RUNAWAY),
        stationary_tol=repr(stationary.STATIONARY_TOL), runoff=repr(stationary.RUNOFF),
        runoff_tol=repr(stationary.RUNOFF_TOL), exact_fit=repr(stationary.EXACT_FIT),
        rounding_ulps=repr(stationary.ROUNDING_ULPS), rounding_probes=repr(stationary.ROUNDING_PROBES),
        rounding_factor=repr(stationary.ROUNDING_FACTOR), flat_eigenvalue=repr(stationary.FLAT_EIGENVALUE),
        plateau_tol=repr(stationary.PLATEAU_TOL), at_bound=repr(AT_BOUND), narrow_share=repr(NARROW_SHARE),
        kkt_tolerance=repr(KKT_TOLERANCE), rank_tolerance=repr(RANK_TOLERANCE),
        cov_kind=cov_kind, cov_reason=cov_reason, cov_words=_cov_words(cov_kind, cov_reason),
        residual_scale=repr(1.0 if objective.scale == "absolute" else None),
        sum_of_squares=objective.sum_of_squares() is not None,
        rows=None if network else _block([objective.per_sample, *derivation.gradient], names), hessian=hessian,
        wide_hessian=wide_hessian, residual=residual,
        prediction=_block([objective.model.expr], names) if kind == "expression" and objective.model else None,
        has_hessian=hessian is not None and form.per_parameter, kink=kink,
        curvature=kind == "expression" and form.per_parameter and (hessian is not None or kink is not None),
        precision_floor=repr(loop.PRECISION_FLOOR), still_iterations=repr(loop.STILL_ITERATIONS),
        ridge_runoff=repr(stationary.RIDGE_RUNOFF), at_kink=repr(stationary.AT_KINK),
        smooth_advice=stationary.SMOOTH_ADVICE, suggested_starts=repr(SUGGESTED_STARTS),
        curvature_check_max_work=repr(stationary.CURVATURE_CHECK_MAX_WORK),
        ray_test=inspect.getsource(falls_without_bound), log_labels=objective.kind == "log",
        bounded=bounded, default_bounds=repr({name: tuple(problem.box[name]) for name in problem.box}),
        projected=isinstance(optimizer, ProjectedLevenbergMarquardt),
    )


def _kinks(objective, names) -> dict | None:
    """The kinks of an expression model's objective (symopt's :func:`~symopt.run.stationary.kink_arguments`), for
    the exported kink verdict: their arguments printed as a per-row kernel, and per argument its text, the
    indices of the parameters it reads and whether it reads data; with the words symopt's messages name them
    by. None where the objective has none."""
    kinks = stationary.kink_arguments(objective)
    if not kinks or not objective.form.per_parameter:
        return None
    params = list(objective.params)
    block = _block([k.argument for k in kinks], names)
    args = [(str(k.argument), sorted(params.index(q) for q in k.argument.free_symbols & set(params)),
             bool(k.argument.free_symbols - set(params))) for k in kinks]
    return {**block, "args": repr(args),
            # as symopt.run.stationary.kink_verdict and symopt.run.loop._verdict word them
            "words": ", ".join(str(k.argument) for k in kinks[:3]) + (", ..." if len(kinks) > 3 else ""),
            "calls": ", ".join(sorted({k.name for k in kinks})),
            "listed": ", ".join(str(k.call) for k in kinks[:3])}


def _y_matrix(objective) -> bool:
    """Whether the target is a matrix (a network's squared loss on several outputs)."""
    return objective.form.driver == "network" and objective.kind == "squared" and objective.model.n_outputs > 1


def _cov_words(kind: str, reason: str) -> str:
    if kind == "least squares":
        return ("least squares, s^2 (J^T J)^-1 with J the residuals' Jacobian and s^2 = RSS / (n - p), by QR, as "
                "symopt's classical covariance")
    if kind == "likelihood":
        return "the inverse of the observed information (the Hessian of the negative log-likelihood), as symopt's"
    return f"none: {reason}"


def _check(source: str, solver_source: str) -> None:
    """The module compiles, and its driver's top-level names do not shadow the embedded solver's."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise CodegenError(f"the exported module does not compile: {exc.msg} at line {exc.lineno}: "
                           f"{exc.text!r}") from exc
    solver = _top_names(ast.parse(solver_source))
    counts: dict = {}
    for name in _top_names(tree, unique=False):
        counts[name] = counts.get(name, 0) + 1
    clash = sorted(name for name, k in counts.items() if k > 1 and name in solver and name not in {"math", "np", "njit"})
    if clash:
        raise CodegenError(f"the exported driver redefines the generated solver's {', '.join(clash)}: symopt's bug")


def _top_names(tree, unique: bool = True):
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                names += [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]
    return set(names) if unique else names


def _write(path: Path, source: str) -> None:
    """Write ``source`` to ``path`` atomically, readable by all (a module to share) and writable by its owner."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ModelError(f"cannot write {path}: the folder {folder} does not exist")
    write_atomically(path, source.encode("utf-8"))
    os.chmod(path, 0o644)

"""A checked spec into what the library takes: the objective, the data and the options of :func:`symopt.solve`.

Every function here imports the library (and with it SymPy, NumPy and Numba) inside itself, so that
``symopt --help`` and ``symopt check`` never pay for them. The objective is built through the public
constructors only (:class:`symopt.Model`, :class:`symopt.LinearModel`, :class:`symopt.Network`, the losses,
:class:`symopt.Objective`), so expression text goes through the whitelist parser and nowhere else.
"""

from __future__ import annotations

import math
import warnings

from ..errors import DataError, ModelError, ParseError
from . import lazy
from .checks import OWN_EXPRESSION, Checked, check_width, wide
from .spec import Source, Spec

#: The key a problem's objective is stated at, by kind: where an error building it is located.
STATED_AT = {"expression": ("model", "expr"), "linear": ("model",), "network": ("network",),
             "likelihood": ("objective", "expr"), "custom": ("objective", "expr")}

#: The optimizer class for each name of ``[optimizer] name``.
OPTIMIZER_CLASSES = {"lbfgs": "LBFGS", "newton": "Newton", "lm": "LevenbergMarquardt", "gd": "GradientDescent",
                     "momentum": "Momentum", "nesterov": "Nesterov", "adam": "Adam", "rmsprop": "RMSProp",
                     "proximal": "ProximalGradient"}


def located(source: Source, checked: Checked, make, key: tuple | None = None):
    """``make()``, with a ModelError or ParseError of the library (a constant no double holds, an activation
    it cannot differentiate, an optimizer's options that disagree) located at ``key`` (default: where the
    objective is stated) as a :class:`~symopt.cli.spec.SpecError`."""
    try:
        return make()
    except (ModelError, ParseError) as exc:
        if getattr(exc, "key", None) is not None:  # already located
            raise
        raise source.error(key or STATED_AT[checked.kind], str(exc)) from None


def read_arrays(spec: Spec, checked: Checked) -> dict:
    """The data file's columns (a CSV's, an .npy matrix's by ``data.columns``) or arrays (an .npz's) by name;
    for data Dask reads (:mod:`.lazy`), the columns the problem reads, as Dask arrays."""
    import numpy as np

    path = checked.data_path
    if path is None:
        return {}
    if lazy.kind(path, spec) is not None:
        return lazy.read(path, spec, checked.needed)
    suffix = path.suffix.lower()
    try:
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                return {name: archive[name] for name in archive.files}
        if suffix == ".npy":
            matrix = np.load(path, allow_pickle=False)
        else:
            with warnings.catch_warnings():  # "input contained no data": said below, as a DataError
                warnings.simplefilter("ignore", UserWarning)
                matrix = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2, dtype=float, encoding="utf-8-sig")
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"{path.name}: cannot read the data: {str(exc)[:200]}") from None
    if matrix.size == 0:
        raise DataError(f"{path.name}: no rows of data")
    matrix = matrix.reshape(len(matrix), -1) if matrix.ndim != 2 else matrix
    if matrix.shape[1] != len(checked.columns):
        raise DataError(f"{path.name}: {matrix.shape[1]} columns of numbers under a header of "
                        f"{len(checked.columns)} names")
    return {name: matrix[:, k] for k, name in enumerate(checked.columns)}


def data(spec: Spec, checked: Checked, arrays: dict):
    """What :func:`symopt.solve` takes as data: arrays by name, or ``{"X": ..., target: ...}`` for a linear
    model over columns or a matrix and for a network; None where the problem reads no data."""
    if checked.data_path is None:
        return None
    table = spec.network if checked.kind == "network" else spec.model
    target = spec.objective.target
    if checked.kind in ("network", "linear") and (table.columns is not None or table.matrix is not None):
        X = arrays[table.matrix] if table.matrix is not None else \
            lazy.column_stack([arrays[c] for c in table.columns])
        o = spec.objective
        weighting = [name for name in (o.weights, o.sigma, o.offset, o.exposure, o.trials) if name is not None]
        return {"X": X, target: arrays[target], **{name: arrays[name] for name in weighting}}
    return {name: arrays[name] for name in checked.needed}


def objective(spec: Spec, checked: Checked, arrays: dict):
    """The :class:`symopt.Objective` the spec states (``arrays``: the data, for a network's input width)."""
    from ..model.losses import cross_entropy, log_loss, squared_loss
    from ..model.objective import Objective

    o = spec.objective
    if checked.kind in OWN_EXPRESSION:
        return Objective(o.expr, _symbols(o.params, o.positive), maximize=o.maximize, l2=o.l2,
                         reduction=o.reduction, likelihood=checked.kind == "likelihood", l1=o.l1,
                         penalize=o.penalize)
    model = _model(spec, checked, arrays)
    if o.loss == "squared":
        return squared_loss(model, target=o.target, l2=o.l2, reduction=o.reduction, weights=o.weights,
                            sigma=o.sigma, scale=o.scale, l1=o.l1, offset=o.offset, exposure=o.exposure)
    if o.loss == "glm":
        from ..model.glm import glm

        options = {k: v for k, v in (("power", o.power), ("alpha", o.alpha)) if v is not None}
        return glm(model, o.family, o.link, target=o.target, offset=o.offset, exposure=o.exposure,
                   weights=o.weights, trials=o.trials, l2=o.l2, l1=o.l1, reduction=o.reduction, **options)
    if o.loss == "log_loss":
        return log_loss(model, target=o.target, l2=o.l2, reduction=o.reduction, weights=o.weights, l1=o.l1,
                        offset=o.offset, exposure=o.exposure)
    return cross_entropy(model, target=o.target, l2=o.l2, reduction=o.reduction, l1=o.l1)


def _symbols(names, positive) -> list:
    from ..model.models import params

    return [params(name, positive=name in positive) for name in names]


def _model(spec: Spec, checked: Checked, arrays: dict):
    from ..model.layers import Dense, Network
    from ..model.models import LinearModel, Model

    if checked.kind == "expression":
        return Model(spec.model.expr, _symbols(spec.model.params, spec.model.positive))
    if checked.kind == "linear":
        m = spec.model
        if m.basis is not None:
            return LinearModel(basis=list(m.basis), intercept=m.intercept)
        return LinearModel(n_features=len(m.columns) if m.columns else None, intercept=m.intercept)
    n = spec.network
    if n.columns is not None:
        n_inputs = len(n.columns)
    elif n.matrix in arrays:
        shape = arrays[n.matrix].shape
        n_inputs = shape[1] if len(shape) == 2 else 1
    else:
        raise DataError(f"the network's input matrix {n.matrix!r} is not in the data")
    layers = [Dense(layer.units, layer.activation, layer.dropout, layer.batch_norm) for layer in n.layers]
    return Network(n_inputs, layers, init=n.init, seed=n.seed, dtype=n.dtype)


def check_parameters(spec: Spec, checked: Checked, source: Source, objective, data) -> None:
    """[ties], [fixed], [bounds] and ``constraints`` read as :func:`symopt.solve` reads them
    (:func:`symopt.model.ties.check_ties`, :func:`symopt.model.fixing.check_fixed`,
    :func:`symopt.model.bounds.check_bounds`, :func:`symopt.model.constraints.check_constraints`), each refusal
    located at its key, and the ``coef`` lists of
    [start] and [bounds] against the data matrix's width where ``check`` could not tell it (an .npy matrix)."""
    from ..model.bounds import check_bounds
    from ..model.fixing import check_fixed
    from ..model.ties import check_not_bounded

    options = solve_options(spec, with_optimizer=False)
    record, objective = _check_ties(spec, checked, source, objective, options)
    fixed = options["fixed"] or {}
    for name, value in fixed.items():
        located(source, checked, lambda: check_fixed(objective, {name: value}), ("fixed", name))
    fixed = located(source, checked, lambda: check_fixed(objective, fixed), ("fixed",))
    for name, pair in (options["bounds"] or {}).items():
        located(source, checked, lambda: check_not_bounded(record, {name: pair}), ("bounds", name))
        located(source, checked, lambda: check_bounds(objective, {name: pair}, fixed), ("bounds", name))
    if spec.constraints:
        from ..model.constraints import check_constraints

        for k, text in enumerate(spec.constraints):
            located(source, checked, lambda: check_constraints(objective, [text], record), ("constraints", k))
    if checked.width is None and wide(spec, checked.kind) and spec.objective.loss != "cross_entropy" and data:
        X = data["X"]
        check_width(spec, source, X.shape[1] if X.ndim == 2 else 1, "the data's X")


def _check_ties(spec: Spec, checked: Checked, source: Source, objective, options: dict) -> tuple:
    """[ties] read as :func:`symopt.solve` reads them (:func:`symopt.model.ties.check_ties`): each tie at its key
    (with the new parameters it reads), then all together (a cycle) at ``ties``. ``(the Ties record, the
    objective with them substituted)``: what [fixed], [bounds] and ``constraints`` are read against."""
    from ..model.ties import Ties, check_ties, ties

    if not spec.ties:
        return Ties.empty(), objective
    from ..symbolic.syntax import check_syntax

    fixed = options["fixed"] or {}
    new = tuple(spec.new_params or ())
    for name, text in spec.ties.items():
        reads = [n for n in new if n in check_syntax(text)]
        located(source, checked, lambda: check_ties(objective, ties({name: text}, new=reads), fixed), ("ties", name))
    record = located(source, checked, lambda: check_ties(objective, options["ties"], fixed), ("ties",))
    return record, located(source, checked, lambda: record.apply(objective), ("ties",))


def optimizer(spec: Spec):
    """The optimizer ``[optimizer]`` names, with the options it sets (the rest the optimizer's defaults), or
    None (symopt chooses)."""
    if spec.optimizer is None:
        return None
    from .. import optimizers

    options = {name: getattr(spec.optimizer, name) for name in spec.optimizer.model_fields_set if name != "name"}
    return getattr(optimizers, OPTIMIZER_CLASSES[spec.optimizer.name])(**options)


def solve_options(spec: Spec, with_optimizer: bool = True) -> dict:
    """The keyword options of :func:`symopt.solve` the spec states (``[solve]``, ``[start]``, ``[fixed]``,
    ``[bounds]``, ``[ties]`` with ``new_params``, ``constraints``, the optimizer unless not ``with_optimizer``); an infinite bound given as one number is an
    open side (None), a list of one bound per entry is passed as it is (``-inf`` / ``inf`` where open, as
    ``bounds=`` takes it)."""
    options = spec.solve.model_dump()
    options["optimizer"] = optimizer(spec) if with_optimizer else None
    options["x0"] = dict(spec.start) or None
    options["fixed"] = dict(spec.fixed) or None
    options["bounds"] = {name: tuple(v if isinstance(v, list) else None if math.isinf(v) else v for v in pair)
                         for name, pair in spec.bounds.items()} or None
    options["ties"] = dict(spec.ties) or None
    if options["ties"] and spec.new_params:
        from ..model.ties import ties

        options["ties"] = ties(options["ties"], new=spec.new_params)
    options["constraints"] = list(spec.constraints) or None
    return options

"""What ``symopt check`` proves of a spec before SymPy is imported: the tables agree with one another, every
expression passes the whitelist's syntax, the data file is where the spec may name one and holds every column
the problem reads. Each refusal is a :class:`~symopt.cli.spec.SpecError` at the key that caused it.

The result, :class:`Checked`, is what the later stages build from: the kind of problem, the parameter names
where the spec states them, and the data file with its columns.
"""

from __future__ import annotations

import csv
import difflib
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import ParseError
from ..symbolic.syntax import check_syntax
from . import lazy
from .datapath import data_file
from .spec import Source, Spec, SpecError

COMPARISON = re.compile(r"<=|>=|==|!=|<|>")
#: The losses that state their own per-sample expression in [objective] (no [model]): a likelihood (its
#: standard errors from the observed information) and any other objective (``Objective(likelihood=False)``).
OWN_EXPRESSION = ("likelihood", "custom")
#: The data files a spec may name, by suffix.
#: The activations a layer may name (:data:`symopt.model.layers.BUILTIN_ACTIVATIONS`, which imports SymPy);
#: any other activation is an expression, checked for syntax.
ACTIVATIONS = ("identity", "relu", "leaky_relu", "tanh", "sigmoid", "softplus", "gelu", "swish")


@dataclass(frozen=True)
class Checked:
    """A spec that passed the checks: ``kind`` ("expression", "linear", "network", "likelihood" or "custom"), the
    parameter names where the spec states them (empty for a linear model over columns or a matrix, and for a
    network: the library names those), the data file (None where the problem reads no data), its columns
    (its arrays, for .npz), the columns the problem reads, each with the key that names it, and the width of a
    linear model over columns or a matrix (its ``coef``'s entries) where the spec or the data's header tells it
    (None elsewhere)."""

    kind: str
    params: tuple
    data_path: Path | None
    columns: tuple
    needed: dict
    width: int | None = None


def check(spec: Spec, source: Source, data_override: str | None = None) -> Checked:
    """Check ``spec`` as the module's docstring says; ``data_override``: the ``--data`` option's path."""
    kind = _kind(spec, source)
    needed, params = _names(spec, source, kind)
    _check_parameter_tables(spec, source, params, kind)
    _check_ties_and_constraints(spec, source, params, kind)
    path = data_file(spec, source, data_override)
    if path is None:
        if needed:
            raise source.error(("data",), f"the problem reads data ({', '.join(list(needed)[:10])}): add a [data] "
                                          "table with its path, or give --data")
        return Checked(kind, params, None, (), needed)
    lazily = lazy.kind(path, spec) in ("parquet", "zarr")
    columns = (lazy.columns if lazily else data_columns)(path, spec, source)
    for name, key in needed.items():
        if name not in columns:
            close = difflib.get_close_matches(name, columns, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            shown = ", ".join(columns[:20]) + (", ..." if len(columns) > 20 else "")
            raise source.error(key, f"the data file {path.name} has no column {name!r}{hint} (it has: {shown})")
    width = _width(spec, kind, path)
    if width is not None:
        check_width(spec, source, width, path.name)
    return Checked(kind, params, path, tuple(columns), needed, width)


def _kind(spec: Spec, source: Source) -> str:
    objective = spec.objective
    _check_glm(objective, source)
    if objective.loss in OWN_EXPRESSION:
        what = "a likelihood" if objective.loss == "likelihood" else "a custom objective"
        for table in ("model", "network"):
            if getattr(spec, table) is not None:
                raise source.error((table,), f'{what} states its own expr and params in [objective]; '
                                             f'remove [{table}]')
        for field in ("expr", "params"):
            if getattr(objective, field) is None:
                raise source.error(("objective", "loss"), f'loss = "{objective.loss}" needs objective.{field}')
        for field in ("weights", "sigma", "offset", "exposure"):
            if getattr(objective, field) is not None:
                raise source.error(("objective", field), f"{field} applies to a loss on a [model] (loss = "
                                                         f"\"squared\" or \"log_loss\") only")
        return objective.loss
    for field in ("expr", "params", "positive", "penalize"):
        if getattr(objective, field):
            raise source.error(("objective", field), f'objective.{field} is for loss = "likelihood" or '
                                                     f'"custom"; the model\'s go in [model]')
    if objective.maximize:
        raise source.error(("objective", "maximize"), f'maximize applies to loss = "likelihood" or "custom"; a '
                                                      f'{objective.loss} loss is minimised')
    if objective.loss != "squared" and objective.sigma is not None:
        raise source.error(("objective", "sigma"), 'sigma applies to loss = "squared" only')
    for field in ("weights", "offset", "exposure"):
        if objective.loss not in ("squared", "log_loss", "glm") and getattr(objective, field) is not None:
            raise source.error(("objective", field), f'{field} applies to loss = "squared", "log_loss" or "glm" '
                                                     f'only')
    if spec.model is not None and spec.network is not None:
        raise source.error(("network",), "give a [model] or a [network], not both")
    if spec.network is not None:
        _one_of(spec.network, ("columns", "matrix"), ("network",), source)
        for field in ("weights", "sigma", "offset", "exposure"):
            if getattr(objective, field) is not None:
                raise source.error(("objective", field), f"{field} is not supported on a network yet (a [model] "
                                                         f"takes it)")
        return "network"
    if spec.model is None:
        raise source.error((), 'the spec needs a [model], a [network], or loss = "likelihood" with its expr in '
                               '[objective]')
    model = spec.model
    if model.kind == "linear":
        for field in ("expr", "params", "positive"):
            if getattr(model, field):
                raise source.error(("model", field), f'model.{field} is for kind = "expression"; a linear model '
                                                     'names its columns, matrix or basis')
        _one_of(model, ("columns", "matrix", "basis"), ("model",), source)
        return "linear"
    for field in ("columns", "matrix", "basis"):
        if getattr(model, field) is not None:
            raise source.error(("model", field), f'model.{field} is for kind = "linear"')
    if "intercept" in model.model_fields_set:
        raise source.error(("model", "intercept"), 'model.intercept is for kind = "linear"')
    for field in ("expr", "params"):
        if getattr(model, field) is None:
            raise source.error(("model",), f"an expression model needs model.{field}")
    if objective.loss == "cross_entropy":
        raise source.error(("objective", "loss"), 'cross_entropy needs a [network] or a linear model over '
                                                  'columns or a matrix; for two classes use log_loss')
    return "expression"


def _one_of(table, fields: tuple, key: tuple, source: Source) -> None:
    given = [field for field in fields if getattr(table, field) is not None]
    if len(given) != 1:
        what = " and ".join(given) if given else "none"
        raise source.error(key + ((given[-1],) if given else ()),
                           f"give exactly one of {', '.join(fields)} (given: {what})")


def _check_glm(objective, source: Source) -> None:
    """``family`` and its options with ``loss = "glm"`` (and only there)."""
    glm = objective.loss == "glm"
    if glm and objective.family is None:
        raise source.error(("objective", "family"), 'loss = "glm" needs objective.family ("poisson", "gamma", ...)')
    for field in ("family", "link", "trials", "power", "alpha"):
        if not glm and getattr(objective, field) is not None:
            raise source.error(("objective", field), f'{field} applies to loss = "glm" only')
    if objective.power is not None and objective.family != "tweedie":
        raise source.error(("objective", "power"), 'power applies to family = "tweedie" only')
    if objective.alpha is not None and objective.family != "negative_binomial":
        raise source.error(("objective", "alpha"), 'alpha applies to family = "negative_binomial" only')
    if objective.trials is not None and objective.family != "binomial":
        raise source.error(("objective", "trials"), 'trials applies to family = "binomial" only')


def _names(spec: Spec, source: Source, kind: str) -> tuple[dict, tuple]:
    """The data columns the problem reads (name -> the key naming it) and its parameter names (if stated)."""
    objective, needed = spec.objective, {}
    if kind in OWN_EXPRESSION:
        params, positive = tuple(objective.params), objective.positive
        texts = {("objective", "expr"): objective.expr}
        where = ("objective",)
    else:
        needed[objective.target] = ("objective", "target")
        for field in ("weights", "sigma", "offset", "exposure", "trials"):
            if getattr(objective, field) is not None:
                needed[getattr(objective, field)] = ("objective", field)
        params, positive, texts, where = (), (), {}, ("model",)
        if kind == "expression":
            params, positive = tuple(spec.model.params), spec.model.positive
            texts = {("model", "expr"): spec.model.expr}
        elif kind == "linear" and spec.model.basis is not None:
            texts = {("model", "basis", k): text for k, text in enumerate(spec.model.basis)}
        table = spec.network if kind == "network" else spec.model
        for k, column in enumerate(getattr(table, "columns", None) or ()):
            needed.setdefault(column, (where[0] if kind != "network" else "network", "columns", k))
        if getattr(table, "matrix", None) is not None:
            needed.setdefault(table.matrix, ("network" if kind == "network" else "model", "matrix"))
        if kind == "network":
            for k, layer in enumerate(spec.network.layers):
                if layer.activation is not None and layer.activation.strip() not in ACTIVATIONS:
                    _syntax(layer.activation, ("network", "layers", k, "activation"), source)
    if len(set(params)) != len(params):
        raise source.error(where + ("params",), "a parameter is named twice")
    for name in positive:
        if name not in params:
            raise source.error(where + ("positive",), f"{name!r} is not a parameter ({', '.join(params)})")
    for key, text in texts.items():
        for name in sorted(_syntax(text, key, source) - set(params)):
            needed.setdefault(name, key)
    return needed, params


def _syntax(text: str, key: tuple, source: Source) -> frozenset:
    try:
        return check_syntax(text, "expression")
    except ParseError as exc:
        raise source.error(key, str(exc).removeprefix("expression: ")) from None


def wide(spec: Spec, kind: str) -> bool:
    """Whether the problem is a linear model over data columns or a matrix (parameters ``intercept`` and the
    array ``coef``)."""
    return kind == "linear" and spec.model.basis is None


def _check_parameter_tables(spec: Spec, source: Source, params: tuple, kind: str) -> None:
    """Names in [start], [fixed] and [bounds] are parameters (where the spec states them, or a linear model over
    columns or a matrix has them: ``intercept`` and ``coef``); [fixed] and [bounds] only where ``symopt.solve``
    takes them; a list (one value per entry) only for an array parameter; a bound is ordered, entry by entry."""
    arrays = ()
    if wide(spec, kind):
        params = ("intercept", "coef") if spec.model.intercept else ("coef",)
        arrays = params if spec.objective.loss == "cross_entropy" else ("coef",)  # K intercepts, K rows of coef
    for name in spec.fixed:
        if kind == "network":
            raise source.error(("fixed", name), "symopt.solve's fixed= holds named parameters, and a network has "
                                                "none (its weights are arrays the library names)")
        if wide(spec, kind):
            raise source.error(("fixed", name), f"symopt.solve's fixed= holds named parameters, and a linear model "
                                                f"over columns or a matrix has none ({name!r} is not one): bound it "
                                                f"to a narrow range in [bounds], or state the model by basis names "
                                                f"(basis = [...]), each coefficient a named parameter")
    for name in spec.bounds:
        if kind == "network" or (wide(spec, kind) and spec.objective.loss == "cross_entropy"):
            which = "a network's weights" if kind == "network" else "a multinomial model (cross_entropy over " \
                                                                    "a linear model)"
            raise source.error(("bounds", name), f"bounds are not supported on {which}; they apply to the named "
                                                 f"parameters of an expression model and to intercept and coef "
                                                 f"of a linear model over columns or a matrix")
    params = (*params, *(spec.new_params or ())) if params else params  # a tie's new parameters are fitted too
    for table in ("start", "fixed", "bounds"):
        for name in getattr(spec, table):
            if params and name not in params:
                close = difflib.get_close_matches(name, params, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise source.error((table, name), f"{name!r} is not a parameter ({', '.join(params)}){hint}")
    scalar = [name for name in params if name not in arrays]  # empty where the library names the parameters
    for name, value in spec.start.items():
        if name in scalar and isinstance(value, list):
            raise source.error(("start", name), f"{name!r} is one number: a list is for an array parameter "
                                                f"(coef of a linear model over columns or a matrix)")
    for name, pair in spec.bounds.items():
        for side, value in enumerate(pair):
            if name in scalar and isinstance(value, list):
                raise source.error(("bounds", name, side), f"{name!r} is one number, so its bounds are numbers: "
                                                           f"a list of one bound per entry is for an array "
                                                           f"parameter (coef of a linear model over columns or "
                                                           f"a matrix)")
        low, high = pair
        if isinstance(low, list) and isinstance(high, list) and len(low) != len(high):
            raise source.error(("bounds", name), f"{len(low)} lower bounds and {len(high)} upper bounds: give one "
                                                 f"of each per entry (or one number for every entry)")
        lows = low if isinstance(low, list) else [low] * (len(high) if isinstance(high, list) else 1)
        highs = high if isinstance(high, list) else [high] * len(lows)
        for entry, (lo, hi) in enumerate(zip(lows, highs)):
            if lo > hi:
                at = f" at entry {entry}" if isinstance(low, list) or isinstance(high, list) else ""
                raise source.error(("bounds", name), f"the lower bound {lo!r} is above the upper bound "
                                                     f"{hi!r}{at}")


def _check_ties_and_constraints(spec: Spec, source: Source, params: tuple, kind: str) -> None:
    """[ties], ``new_params``, ``constraints`` only where parameters are named, each text's syntax, its names
    parameters or new ones; what they mean (a cycle, a nonlinear constraint) the library says (cli.build)."""
    if not (spec.ties or spec.constraints or spec.new_params):
        return
    if kind == "network" or wide(spec, kind):
        raise source.error(("ties",) if spec.ties else ("constraints",) if spec.constraints else ("new_params",),
                           "ties and constraints relate named parameters: an expression model, a likelihood or "
                           "custom objective, or a linear model by basis (a network's weights and a linear model's "
                           "coef array have no names to relate; bound coef in [bounds])")
    new = tuple(spec.new_params or ())
    if new and not spec.ties:
        raise source.error(("new_params",), "new_params declares the new parameters a tie reads; there is no [ties]")
    if set(new) & set(params):
        raise source.error(("new_params",), f"{sorted(set(new) & set(params))[0]!r} is already a parameter: a new "
                                            f"parameter needs a new name")
    known = set(params) | set(new)

    def names(text: str, key: tuple, what: str) -> None:
        if unknown := sorted(_syntax(text, key, source) - known) if params else []:
            close = difflib.get_close_matches(unknown[0], sorted(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise source.error(key, f"{what} names {unknown[0]!r}, which is not a parameter ({', '.join(params)})"
                                    f"{hint}; declare a new parameter a tie reads in new_params")

    for name, text in spec.ties.items():
        if params and name not in params:
            raise source.error(("ties", name), f"{name!r} is not a parameter ({', '.join(params)}): a tie's key "
                                               f"is the parameter it defines")
        names(text, ("ties", name), f"the tie of {name!r}")
    for k, text in enumerate(spec.constraints):
        found = COMPARISON.findall(text)
        if len(found) != 1:
            raise source.error(("constraints", k), f"a constraint holds exactly one comparison, <= or >= (such as "
                                                   f"'a <= b'; for a <= b <= c give two); {text[:60]!r} has "
                                                   f"{len(found)}")
        if found[0] not in ("<=", ">="):
            raise source.error(("constraints", k), f"{text[:60]!r} is an equality: say it as a tie in [ties] (b = "
                                                   f"\"a + 1\" for 'b == a + 1')" if found[0] == "==" else
                               f"{text[:60]!r}: a constraint is <= or >= (a strict inequality's optimum on its edge "
                               f"would not be attained)")
        for side in text.split(found[0]):
            names(side, ("constraints", k), f"the constraint {text[:60]!r}")


def check_width(spec: Spec, source: Source, width: int, where: str) -> None:
    """The lists for ``coef`` in [start] and [bounds] have one entry per column of the data matrix, ``width``
    (``where``: what tells it, for the message)."""
    sides = {("start", "coef"): spec.start.get("coef")}
    for side, value in enumerate(spec.bounds.get("coef", ())):
        sides[("bounds", "coef", side)] = value
    for key, value in sides.items():
        if isinstance(value, list) and len(value) != width:
            raise source.error(key, f"{len(value)} entries for coef, which has {width} here (one per column of "
                                    f"the data matrix, {where}): give {width}"
                                    f"{', or one number for every entry' if key[0] == 'bounds' else ''}")


def _width(spec: Spec, kind: str, path: Path) -> int | None:
    """The width of a linear model's data matrix, where the spec or the data's header tells it: its columns, or
    the shape in an .npz member's header (None for a multinomial model, whose coef is a matrix)."""
    if not wide(spec, kind) or spec.objective.loss == "cross_entropy":
        return None
    if spec.model.columns is not None:
        return len(spec.model.columns)
    if path.suffix.lower() != ".npz":
        return None
    import numpy as np

    try:
        with zipfile.ZipFile(path) as archive, archive.open(f"{spec.model.matrix}.npy") as member:
            read = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
            shape = read[np.lib.format.read_magic(member)](member)[0]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None  # said when the data is read
    return shape[1] if len(shape) == 2 else (1 if len(shape) == 1 else None)


def data_columns(path: Path, spec: Spec, source: Source) -> list:
    """The column names of a CSV's header, an .npz file's arrays, or an .npy matrix's ``data.columns``."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            with open(path, newline="", encoding="utf-8-sig") as handle:
                header = next(csv.reader(handle), [])
            columns = [name.strip() for name in header]
            if not columns or any(not name for name in columns):
                raise SpecError(f"{path.name}: the first line must be a header naming every column", str(path), 1)
            return columns
        import numpy as np

        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                return list(archive.files)
        if spec.data is None or spec.data.columns is None:
            raise source.error(("data",), "an .npy file has no column names: give data.columns")
        array = np.load(path, mmap_mode="r", allow_pickle=False)
        width = array.shape[1] if array.ndim == 2 else 1
        if width != len(spec.data.columns):
            raise source.error(("data", "columns"), f"{path.name} has {width} column(s); data.columns names "
                                                    f"{len(spec.data.columns)}")
        return list(spec.data.columns)
    except (OSError, ValueError, EOFError, csv.Error, zipfile.BadZipFile) as exc:
        if isinstance(exc, SpecError):
            raise
        raise SpecError(f"cannot read the data file: {str(exc)[:200]}", str(path)) from None

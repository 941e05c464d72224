"""What ``symopt check`` proves of a spec before SymPy is imported: the tables agree with one another, every
expression passes the whitelist's syntax, the data file is where the spec may name one and holds every column
the problem reads. Each refusal is a :class:`~symopt.cli.spec.SpecError` at the key that caused it.

The result, :class:`Checked`, is what the later stages build from: the kind of problem, the parameter names
where the spec states them, and the data file with its columns.
"""

from __future__ import annotations

import csv
import difflib
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import ParseError
from ..symbolic.syntax import check_syntax
from .spec import Source, Spec, SpecError

#: The data files a spec may name, by suffix.
DATA_SUFFIXES = (".csv", ".npz", ".npy")
#: The activations a layer may name (:data:`symopt.model.layers.BUILTIN_ACTIVATIONS`, which imports SymPy);
#: any other activation is an expression, checked for syntax.
ACTIVATIONS = ("identity", "relu", "leaky_relu", "tanh", "sigmoid", "softplus", "gelu", "swish")


@dataclass(frozen=True)
class Checked:
    """A spec that passed the checks: ``kind`` ("expression", "linear", "network" or "likelihood"), the
    parameter names where the spec states them (empty for a linear model over columns or a matrix, and for a
    network: the library names those), the data file (None where the problem reads no data), its columns
    (its arrays, for .npz) and the columns the problem reads, each with the key that names it."""

    kind: str
    params: tuple
    data_path: Path | None
    columns: tuple
    needed: dict


def check(spec: Spec, source: Source, data_override: str | None = None) -> Checked:
    """Check ``spec`` as the module's docstring says; ``data_override``: the ``--data`` option's path."""
    kind = _kind(spec, source)
    needed, params = _names(spec, source, kind)
    _check_parameter_tables(spec, source, params)
    path = data_file(spec, source, data_override)
    if path is None:
        if needed:
            raise source.error(("data",), f"the problem reads data ({', '.join(list(needed)[:10])}): add a [data] "
                                          "table with its path, or give --data")
        return Checked(kind, params, None, (), needed)
    columns = data_columns(path, spec, source)
    for name, key in needed.items():
        if name not in columns:
            close = difflib.get_close_matches(name, columns, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            shown = ", ".join(columns[:20]) + (", ..." if len(columns) > 20 else "")
            raise source.error(key, f"the data file {path.name} has no column {name!r}{hint} (it has: {shown})")
    return Checked(kind, params, path, tuple(columns), needed)


def _kind(spec: Spec, source: Source) -> str:
    objective = spec.objective
    if objective.loss == "likelihood":
        for table in ("model", "network"):
            if getattr(spec, table) is not None:
                raise source.error((table,), f'a likelihood states its own expr and params in [objective]; '
                                             f'remove [{table}]')
        for field in ("expr", "params"):
            if getattr(objective, field) is None:
                raise source.error(("objective", "loss"), f'loss = "likelihood" needs objective.{field}')
        for field in ("weights", "sigma"):
            if getattr(objective, field) is not None:
                raise source.error(("objective", field), f"{field} applies to loss = \"squared\" only")
        return "likelihood"
    for field in ("expr", "params", "positive"):
        if getattr(objective, field):
            raise source.error(("objective", field), f'objective.{field} is for loss = "likelihood"; the model\'s '
                                                     'go in [model]')
    if objective.maximize:
        raise source.error(("objective", "maximize"), f'maximize applies to loss = "likelihood"; a '
                                                      f'{objective.loss} loss is minimised')
    if objective.loss != "squared":
        for field in ("weights", "sigma"):
            if getattr(objective, field) is not None:
                raise source.error(("objective", field), f'{field} applies to loss = "squared" only')
    if spec.model is not None and spec.network is not None:
        raise source.error(("network",), "give a [model] or a [network], not both")
    if spec.network is not None:
        _one_of(spec.network, ("columns", "matrix"), ("network",), source)
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


def _names(spec: Spec, source: Source, kind: str) -> tuple[dict, tuple]:
    """The data columns the problem reads (name -> the key naming it) and its parameter names (if stated)."""
    objective, needed = spec.objective, {}
    if kind == "likelihood":
        params, positive = tuple(objective.params), objective.positive
        texts = {("objective", "expr"): objective.expr}
        where = ("objective",)
    else:
        needed[objective.target] = ("objective", "target")
        for field in ("weights", "sigma"):
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


def _check_parameter_tables(spec: Spec, source: Source, params: tuple) -> None:
    """Names in [start], [fixed] and [bounds] are parameters (where the spec states them); a bound is ordered."""
    for table in ("start", "fixed", "bounds"):
        for name in getattr(spec, table):
            if params and name not in params:
                close = difflib.get_close_matches(name, params, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise source.error((table, name), f"{name!r} is not a parameter ({', '.join(params)}){hint}")
    for name, (low, high) in spec.bounds.items():
        if low > high:
            raise source.error(("bounds", name), f"the lower bound {low!r} is above the upper bound {high!r}")


def data_file(spec: Spec, source: Source, override: str | None = None) -> Path | None:
    """The data file: ``--data`` (any path the user names) or the spec's ``data.path``, which must lead to a
    file inside the spec's own folder (no absolute path, no way out by ``..`` or a link)."""
    if override is not None:
        path, key = Path(override), None
    elif spec.data is not None:
        key, text = ("data", "path"), spec.data.path
        given = Path(text)
        if given.is_absolute() or "\x00" in text:
            raise source.error(key, "the data path must be relative to the spec's folder")
        path = (source.folder / given).resolve()
        if not path.is_relative_to(source.folder):
            raise source.error(key, f"the data path {text[:80]!r} leads outside the spec's folder "
                                    f"({source.folder}); move the data beside the spec or give --data")
    else:
        return None
    if path.suffix.lower() not in DATA_SUFFIXES:
        message = f"the data file must be .csv (with a header), .npz or .npy; got {path.name[:80]!r}"
        raise source.error(key, message) if key else SpecError(message, "--data")
    if not path.is_file():
        message = f"no data file {str(path)[:200]!r}"
        raise source.error(key, message) if key else SpecError(message, "--data")
    return path


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

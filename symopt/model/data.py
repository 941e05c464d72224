"""Data validation: every array checked and named before any arithmetic.

Missing names, non-numeric values, wrong shapes, zero rows, mismatched
lengths, NaN and inf each raise a :class:`~symopt.errors.DataError` that
names the array (and the first bad position). Nothing is silently dropped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import sympy as sp

from ..errors import DataError, ModelError
from ..symbolic.numeric import evaluate
from ..symbolic.parse import show
from .held import join


@dataclass(frozen=True)
class Dataset:
    """Validated data: float64 C-contiguous arrays by name, the row count, and for multinomial logistic
    regression the number of classes (the largest label + 1; 0 otherwise)."""

    arrays: dict
    n_rows: int
    n_classes: int = 0

    def __post_init__(self):
        object.__setattr__(self, "arrays", {name: read_only(a) for name, a in self.arrays.items()})

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]


def read_only(array: np.ndarray) -> np.ndarray:
    """``array`` seen read-only (a view: nothing is copied). Numba compiles one specialisation per argument type,
    writability included: data reach the kernels only through here, so a read-only input (a memory-mapped file,
    scikit-learn's ``readonly_memmap`` checks) and a writable one call the same compiled code, and neither marks
    the other's cache generation incomplete (the next process would compile afresh)."""
    if not array.flags.writeable:
        return array
    view = array.view()
    view.flags.writeable = False
    return view


def _short(value, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters for an error message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _as_float_array(name: str, value, ndim: int, want: str | None = None) -> np.ndarray:
    """``value`` as a float64 array of ``ndim`` dimensions; ``want`` words the shape in errors."""
    if isinstance(value, (str, bytes)):
        raise DataError(f"data {name!r} is text ({_short(value[:20])}); give numbers")
    if np.ma.isMaskedArray(value) and np.ma.getmaskarray(value).any():
        first = np.argwhere(np.ma.getmaskarray(value))[0]
        raise DataError(f"data {name!r} is a masked array with {int(np.ma.count_masked(value))} masked value(s), "
                        f"the first at {tuple(int(i) for i in first)}; drop those rows or fill them "
                        f"(symopt does not skip masked values)")
    try:
        raw = np.asarray(value)
    except Exception as exc:  # ragged lists, integers too big for any dtype, and the like
        raise DataError(f"data {name!r} cannot be read as an array: {_short(str(exc), 120)}") from None
    kind = raw.dtype.kind
    if kind == "c":
        raise DataError(f"data {name!r} is complex; symopt needs real numbers")
    if kind in "USMm" or (kind == "O" and any(isinstance(v, (str, bytes)) for v in raw.ravel())):
        what = {"M": "dates (datetime64)", "m": "time spans (timedelta64)"}.get(kind, "text")
        raise DataError(f"data {name!r} holds {what}, not numbers; convert it to numbers first "
                        f"(symopt does not guess a conversion)")
    if kind not in "biuf":
        try:
            raw = raw.astype(float)
        except (TypeError, ValueError, OverflowError):
            flat = list(raw.ravel())
            index, sample = next(((i, v) for i, v in enumerate(flat) if not is_number(v)), (None, None))
            if _too_large(sample):
                where = f" at row {index}" if raw.ndim == 1 else f" (item {index} in row-major order)"
                raise DataError(f"data {name!r} holds a number too large for double precision{where} "
                                f"(about {_magnitude(sample)}; the largest double is about 1.8e+308): rescale it") from None
            raise DataError(
                f"data {name!r} is not numeric (dtype {raw.dtype}); first non-numeric value: {_short(sample)}"
            ) from None
    if raw.ndim == 0:
        raise DataError(f"data {name!r} is a single number; give one value per row (a 1-D array)")
    if raw.ndim != ndim:
        want = want or ("1-D (one value per row)" if ndim == 1 else "2-D (rows x features)")
        raise DataError(f"data {name!r} has shape {raw.shape}; it must be {want}")
    arr = np.ascontiguousarray(raw, dtype=np.float64)
    if arr.shape[0] == 0:
        raise DataError(f"data {name!r} has zero rows")
    # One read without a mask in the common case: a finite sum means every value is finite (NaN and inf
    # carry through a sum; a sum that overflows from finite values falls through to the full check).
    with np.errstate(over="ignore", invalid="ignore"):
        if math.isfinite(float(np.sum(arr))):
            return arr
    bad = ~np.isfinite(arr)
    if bad.any():
        pos = np.argwhere(bad)[0]
        where = int(pos[0]) if ndim == 1 else (int(pos[0]), int(pos[1]))
        kind = repr(float(arr[tuple(pos)]))  # 'nan', 'inf' or '-inf'
        kind = "NaN" if kind == "nan" else kind
        raise DataError(
            f"data {name!r} has {int(bad.sum())} non-finite value(s); the first is {kind} at "
            f"{'row' if ndim == 1 else '(row, column)'} {where}. Remove or impute them: symopt drops nothing silently"
        )
    return arr


def _too_large(v) -> bool:
    """An integer (or other number) that ``float`` refuses for its size alone (10**400)."""
    try:
        float(v)
    except OverflowError:
        return True
    except (TypeError, ValueError):
        return False
    return False


def _magnitude(v) -> str:
    digits = len(str(abs(int(v)))) if isinstance(v, int) else None
    return f"1e+{digits - 1}" if digits else _short(v, 30)


def is_number(v) -> bool:
    """Whether ``float(v)`` works."""
    try:
        float(v)
        return True
    except (TypeError, ValueError, OverflowError):
        return False


#: The one-row stand-in array of an objective that reads no data (a function of its parameters alone, such as
#: Rosenbrock's): generated kernels take their row count from it; not a name a user can give.
NO_DATA = "(one row)"


def prepare(objective, data) -> Dataset:
    """Check ``data`` against what ``objective`` needs and return a :class:`Dataset`.

    An objective that reads no data (every symbol a parameter) takes ``data=None`` (or an empty mapping)
    and is the function itself: one row, stood in for by :data:`NO_DATA`. A :class:`Dataset` (prepared
    before for this objective: ``Result.dataset`` of a result in this process) is returned as it is."""
    if isinstance(data, Dataset):
        return data
    data = join(objective, data)  # the arrays given as offset=, weights=, ... (symopt.model.held)
    form = objective.form
    if not objective.data_names:
        if data is None or (hasattr(data, "keys") and not list(data.keys())):
            return Dataset({NO_DATA: np.zeros(1)}, 1)
        raise DataError(f"the objective reads no data (every symbol in it is a parameter: "
                        f"{', '.join(objective.param_names)}), so it takes no data: solve(objective) minimises "
                        f"the function itself; got data with {', '.join(_short(str(k), 30) for k in data.keys()) if hasattr(data, 'keys') else type(data).__name__}")
    if data is None:
        raise DataError(f"this objective needs data: {', '.join(objective.data_names)} "
                        f"(solve(objective, data) with data a mapping from those names to arrays"
                        f"{', or (X, y)' if form.matrix_data else ''})")
    arrays, n_rows = read_checked(objective, data)
    return Dataset(arrays, n_rows, form.check_rows(arrays, n_rows))


def read_checked(objective, data) -> tuple[dict, int]:
    """``(arrays, n_rows)``: ``data`` read by the objective's form and checked row by row (lengths, labels,
    weights, a GLM family's range); the checks of all rows together (:meth:`Form.check_rows`) are left to the
    caller (a chunk of a Dask array is checked here, its classes counted over every chunk)."""
    arrays = objective.form.read(data)
    lengths = {name: a.shape[0] for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        desc = ", ".join(f"{k}: {v}" for k, v in lengths.items())
        raise DataError(f"data arrays have different numbers of rows ({desc}); every array needs one value per row")
    _check_labels(objective, arrays)
    _check_weights(objective, arrays)
    if getattr(objective, "glm", None) is not None:
        objective.glm.check(objective, arrays)
    return arrays, next(iter(lengths.values()))


def _check_weights(objective, arrays: dict) -> None:
    """A weighted squared loss's weights must be >= 0 (and not all 0), its standard deviations > 0."""
    name = getattr(objective, "weight_column", None)
    if name is None:
        return
    values = arrays[name]
    if objective.weight_kind == "weights":
        bad = np.flatnonzero(values < 0)
        if bad.size:
            raise DataError(f"weights {name!r} must be >= 0 (w = 1/sigma**2; 0 drops a row): row {int(bad[0])} is "
                            f"{values[bad[0]]!r} ({bad.size} negative in all)")
        if not np.any(values > 0):
            raise DataError(f"weights {name!r} are all 0: no row counts")
    else:
        bad = np.flatnonzero(~(values > 0))
        if bad.size:
            raise DataError(f"standard deviations {name!r} must be > 0: row {int(bad[0])} is {values[bad[0]]!r} "
                            f"({bad.size} such rows in all); give weights= (0 drops a row) to leave rows out")


def _check_indexes(given: dict) -> None:
    """pandas objects are matched by position, so their indexes must be equal: refuse them otherwise.

    Aligning on the index (as pandas arithmetic does) would turn rows present in one array and not
    the other into NaN; matching by position when the indexes differ would pair the wrong rows.
    """
    indexed = [(name, value.index) for name, value in given.items() if _pandas_index(value) is not None]
    for (first, index), (name, other) in zip(indexed, indexed[1:]):
        if not index.equals(other):
            raise DataError(
                f"data {first!r} and {name!r} are pandas objects with different indexes (for example "
                f"{_index_example(index, other)}); symopt pairs rows by position, so it refuses to guess: "
                f"align them first (df.loc[common], or .reset_index(drop=True) on both if the order is right)")


def _pandas_index(value):
    index = getattr(value, "index", None)
    return index if type(index).__module__.startswith("pandas") else None


def _index_example(a, b) -> str:
    if len(a) != len(b):
        return f"{len(a)} vs {len(b)} labels"
    for i, (u, v) in enumerate(zip(a, b)):
        if u != v:
            return f"row {i} is labelled {_short(u, 20)} in one and {_short(v, 20)} in the other"
    return "their index types differ"


def check_data_terms(objective, arrays: dict, n_rows: int) -> None:
    """A per-sample term with no parameter in it (``lgamma(y + 1)`` in a Poisson likelihood) must be
    finite on every row: where it is not, the data are outside the objective's domain, and no choice
    of parameters can help. Said here, naming the term and the row, before any solver runs."""
    params = set(objective.params)
    for term in sp.Add.make_args(objective.per_sample):
        symbols = term.free_symbols
        if not symbols or symbols & params:
            continue
        try:
            values = np.broadcast_to(evaluate(term, {s: arrays[s.name] for s in symbols}), (n_rows,))
        except Exception:  # a function the evaluator lacks: the solver paths report it
            continue
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            row = int(bad[0])
            at = ", ".join(f"{s.name} = {float(arrays[s.name][row])!r}" for s in sorted(symbols, key=str))
            hint = " (negative counts in a Poisson likelihood?)" if term.has(sp.loggamma) else ""
            raise DataError(f"the objective's term {show(term, 60)}, which has no parameter in it, is "
                            f"{float(values[row])!r} at row {row} ({at}; {bad.size} row(s) in all): the data are "
                            f"outside the objective's domain{hint}; fix or drop those rows")


def read_named(objective, data) -> dict:
    if isinstance(data, tuple):
        raise DataError(
            "a (X, y) pair is for a LinearModel over a data matrix; this objective needs arrays by name: "
            + "{" + ", ".join(f"'{n}': ..." for n in objective.data_names) + "}")
    if not hasattr(data, "__getitem__") or not hasattr(data, "keys"):
        raise DataError(f"data must be a mapping from names to arrays, got {type(data).__name__}")
    needed = objective.data_names
    keys = list(data.keys())
    odd = [k for k in keys if not isinstance(k, str)]
    if odd:
        raise DataError(f"data keys must be names (strings); got {_short(odd[0])} of type {type(odd[0]).__name__}. "
                        f"Use {str(odd[0])!r}")
    params = sorted(set(keys) & {p.name for p in objective.params})
    if params:
        raise DataError(f"data {params[0]!r} has the name of a parameter of the objective, so it would be "
                        f"ignored (a parameter is fitted, not read from data); rename the parameter or the "
                        f"data column")
    missing = [n for n in needed if n not in keys]
    if missing:
        near = [k for k in keys if k.strip() == missing[0]]
        hint = f" (data has {near[0]!r}, with spaces)" if near else ""
        raise DataError(
            f"data has no array named {missing[0]!r}{hint}; the objective needs {', '.join(needed)} "
            f"and data has {', '.join(_short(k, 30) for k in keys) or 'nothing'}")
    _check_indexes({n: data[n] for n in needed})
    return {n: _as_float_array(n, data[n], 1) for n in needed}


def read_matrix(objective, data) -> dict:
    """The data matrix ``X``, the target and the loss's per-row columns (a weight, an offset: each a 1-D array
    by name, so data with columns come as a mapping, not as ``(X, y)``)."""
    target = objective.target.name
    columns = [s.name for s in objective.data_symbols if s.name != target]
    if columns and isinstance(data, tuple):
        wanted = "{" + ", ".join(f"{n!r}: ..." for n in ("X", target, *columns)) + "}"
        raise DataError(f"the loss reads the per-row column{'s' if len(columns) > 1 else ''} "
                        f"{', '.join(map(repr, columns))} besides X and {target!r}, so data must be a mapping "
                        f"{wanted}, not (X, {target})")
    X, y = _pair(data, target, "a LinearModel")
    X = _as_float_array("X", X, 2)
    n_features = objective.model.n_features
    if n_features is not None and X.shape[1] != n_features:
        raise DataError(f"data 'X' has {X.shape[1]} columns but the LinearModel has n_features={n_features}")
    arrays = {"X": X, target: _as_float_array(target, y, 1)}
    if not columns:
        return arrays
    missing = [name for name in columns if name not in data]
    if missing:
        raise DataError(f"data has no array named {missing[0]!r}; the loss reads {', '.join(map(repr, columns))} "
                        f"besides 'X' and {target!r} (data: {{'X': ..., {target!r}: ..., "
                        + ", ".join(f"{n!r}: ..." for n in columns) + "})")
    _check_indexes({"X": data["X"], **{name: data[name] for name in columns}})
    arrays.update((name, _as_float_array(name, data[name], 1)) for name in columns)
    return arrays


def read_network(objective, data) -> dict:
    net = objective.model
    target = objective.target.name
    X, y = _pair(data, target, "a Network")
    if net.images:  # (rows, channels, height, width), held as rows of channels*height*width values
        want = f"(rows, {', '.join(map(str, net.input_shape))}): rows of (channels, height, width) images"
        X = _as_float_array("X", X, 4, want=want + _reshape_hint(np.shape(X), net.input_shape))
        if X.shape[1:] != net.input_shape:
            raise DataError(f"data 'X' has images of shape {X.shape[1:]} but the network has input_shape="
                            f"{net.input_shape}" + _reshape_hint(X.shape[:1] + (math.prod(X.shape[1:]),),
                                                                  net.input_shape))
        X = X.reshape(X.shape[0], -1)
    else:
        X = _as_float_array("X", X, 2)
        if X.shape[1] != net.n_inputs:
            raise DataError(f"data 'X' has {X.shape[1]} columns but the network has n_inputs={net.n_inputs}")
    if objective.kind == "squared" and net.n_outputs > 1:
        y = _as_float_array(target, y, 2, want=f"(rows, {net.n_outputs}): one column per output of the network")
        if y.shape[1] != net.n_outputs:
            raise DataError(f"data {target!r} has {y.shape[1]} columns; the network has {net.n_outputs} outputs")
    else:
        y = _as_float_array(target, y, 1)
    if objective.kind == "cross_entropy":
        bad = np.flatnonzero((y != np.round(y)) | (y < 0) | (y >= net.n_outputs))
        if bad.size:
            raise DataError(f"cross_entropy needs integer class labels 0 .. {net.n_outputs - 1}; data {target!r} "
                            f"has {float(y[bad[0]])!r} at row {int(bad[0])}")
    return {"X": X, target: y}


def _reshape_hint(shape: tuple, image: tuple) -> str:
    """Where rows of ``shape`` hold as many values as one ``image``: how to reshape them."""
    if len(shape) == 2 and shape[1] == math.prod(image):
        return f"; rows of {shape[1]} values reshape with X.reshape(-1, {', '.join(map(str, image))})"
    return ""


def _pair(data, target: str, what: str):
    if isinstance(data, tuple):
        if len(data) != 2:
            raise DataError(f"data for {what} is (X, {target}); got a tuple of {len(data)} items")
        X, y = data
    elif isinstance(data, Mapping):
        missing = [n for n in ("X", target) if n not in data]
        if missing:
            raise DataError(f"data has no array named {missing[0]!r}; {what} needs 'X' and {target!r}")
        X, y = data["X"], data[target]
    else:
        raise DataError(f"data for {what} is (X, {target}) or a mapping with 'X' and {target!r}")
    _check_indexes({"X": X, target: y})
    return X, y


def _check_labels(objective, arrays: dict) -> None:
    """Binary log loss takes labels 0/1 only; anything else is an error."""
    if objective.kind != "log":
        return
    labels = arrays[objective.target.name]
    bad = np.flatnonzero((labels != 0) & (labels != 1))
    if bad.size:
        raise DataError(
            f"log_loss needs labels 0 or 1; data {objective.target.name!r} has {float(labels[bad[0]])!r} at row {int(bad[0])}")


#: How many of the rows with non-finite scores an error names.
SHOWN_ROWS = 5


def check_scores(scores: np.ndarray, what: str = "the model's scores") -> np.ndarray:
    """``scores`` (one per row, or rows x classes), refused where any is NaN or infinite: a class label from a
    non-finite score would be a guess (``NaN > 0`` is False, ``argmax`` of NaN is 0), so the rows are named."""
    scores = np.asarray(scores, dtype=float)
    bad = ~np.isfinite(scores)
    if bad.ndim > 1:
        bad = bad.any(axis=tuple(range(1, bad.ndim)))
    if bad.any():
        rows = np.flatnonzero(bad)
        shown = ", ".join(str(int(i)) for i in rows[:SHOWN_ROWS])
        more = f" and {rows.size - SHOWN_ROWS} more" if rows.size > SHOWN_ROWS else ""
        raise ModelError(f"predict: {what} are not finite (NaN or inf) on {rows.size} of {bad.size} rows (row"
                         f"{'s' if rows.size > 1 else ''} {shown}{more}), so no class can be given there: the model "
                         f"is undefined at the fitted parameters on those rows (check the data there, and "
                         f"result.status: a fit that did not start or diverged has no usable parameters)")
    return scores

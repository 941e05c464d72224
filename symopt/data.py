"""Data validation: every array checked and named before any arithmetic.

Missing names, non-numeric values, wrong shapes, zero rows, mismatched
lengths, NaN and inf each raise a :class:`~symopt.errors.DataError` that
names the array (and the first bad position). Nothing is silently dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .errors import DataError


@dataclass(frozen=True)
class Dataset:
    """Validated data: float64 C-contiguous arrays by name, and the row count."""

    arrays: dict
    n_rows: int

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]


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
            sample = next((v for v in raw.ravel() if not is_number(v)), None)
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
    bad = ~np.isfinite(arr)
    if bad.any():
        pos = np.argwhere(bad)[0]
        where = int(pos[0]) if ndim == 1 else (int(pos[0]), int(pos[1]))
        kind = "NaN" if np.isnan(arr[tuple(pos)]) else "inf"
        raise DataError(
            f"data {name!r} has {int(bad.sum())} non-finite value(s); the first is {kind} at "
            f"{'row' if ndim == 1 else '(row, column)'} {where}. Remove or impute them: symopt drops nothing silently"
        )
    return arr


def is_number(v) -> bool:
    """Whether ``float(v)`` works."""
    try:
        float(v)
        return True
    except (TypeError, ValueError, OverflowError):
        return False


def prepare(objective, data) -> Dataset:
    """Check ``data`` against what ``objective`` needs and return a :class:`Dataset`."""
    if objective.network:
        arrays = _network(objective, data)
    elif objective.wide:
        arrays = _wide(objective, data)
    else:
        arrays = _named(objective, data)
    lengths = {name: a.shape[0] for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        desc = ", ".join(f"{k}: {v}" for k, v in lengths.items())
        raise DataError(f"data arrays have different numbers of rows ({desc}); every array needs one value per row")
    n_rows = next(iter(lengths.values()))
    _check_labels(objective, arrays)
    return Dataset(arrays, n_rows)


def _named(objective, data) -> dict:
    if isinstance(data, tuple):
        raise DataError(
            "a (X, y) pair is for a LinearModel over a data matrix; this objective needs arrays by name: "
            + "{" + ", ".join(f"'{n}': ..." for n in objective.data_names) + "}")
    if not hasattr(data, "__getitem__") or not hasattr(data, "keys"):
        raise DataError(f"data must be a mapping from names to arrays, got {type(data).__name__}")
    needed = objective.data_names
    if not needed:
        raise DataError("the objective uses no data symbols: every symbol in it is a parameter")
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
    return {n: _as_float_array(n, data[n], 1) for n in needed}


def _wide(objective, data) -> dict:
    target = objective.target.name
    X, y = _pair(data, target, "a LinearModel")
    X = _as_float_array("X", X, 2)
    n_features = objective.model.n_features
    if n_features is not None and X.shape[1] != n_features:
        raise DataError(f"data 'X' has {X.shape[1]} columns but the LinearModel has n_features={n_features}")
    return {"X": X, target: _as_float_array(target, y, 1)}


def _network(objective, data) -> dict:
    net = objective.model
    target = objective.target.name
    X, y = _pair(data, target, "a Network")
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


def _pair(data, target: str, what: str):
    if isinstance(data, tuple):
        if len(data) != 2:
            raise DataError(f"data for {what} is (X, {target}); got a tuple of {len(data)} items")
        return data
    if isinstance(data, Mapping):
        missing = [n for n in ("X", target) if n not in data]
        if missing:
            raise DataError(f"data has no array named {missing[0]!r}; {what} needs 'X' and {target!r}")
        return data["X"], data[target]
    raise DataError(f"data for {what} is (X, {target}) or a mapping with 'X' and {target!r}")


def _check_labels(objective, arrays: dict) -> None:
    """Binary log loss takes labels 0/1 only; anything else is an error."""
    if objective.kind != "log":
        return
    labels = arrays[objective.target.name]
    bad = np.flatnonzero((labels != 0) & (labels != 1))
    if bad.size:
        raise DataError(
            f"log_loss needs labels 0 or 1; data {objective.target.name!r} has {float(labels[bad[0]])!r} at row {int(bad[0])}")

"""Where each parameter sits in the flat vector ``x`` that generated code works on, for every kind of model.

Expression models have one scalar per symbol; a ``LinearModel`` over a data matrix has ``intercept`` and the
array ``coef`` (its length from the data), or under ``cross_entropy`` one of each per class, less the entries
fixed at 0 (:mod:`symopt.softmax`); a network has its weight matrices and bias vectors. One set of
functions serves all three: the blocks (name and size), a name per entry, the mapping back to named
parameters, the start point (``x0`` by name or flat, checked), and the penalty mask.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from . import softmax
from .errors import ModelError


def layout(objective, dataset) -> list[tuple[str, int]]:
    """Parameter names and sizes in the order of the flat vector ``x``."""
    if objective.network:
        return [(name, int(np.prod(shape))) for name, shape in objective.model.shapes()]
    if objective.multiclass:
        return softmax.blocks(objective, dataset.n_classes, dataset["X"].shape[1])
    if objective.wide:
        m = dataset["X"].shape[1]
        return ([("intercept", 1)] if objective.model.intercept else []) + [("coef", m)]
    return [(p.name, 1) for p in objective.params]


def _is_array(objective, name: str) -> bool:
    """Whether parameter ``name`` is an array even where it has one entry (``coef`` of one feature)."""
    return objective.network or (objective.wide and name == "coef")


def flat_names(objective, dataset) -> list[str]:
    """One name per entry of the flat vector ``x``: ``coef[j]``, ``W1[i, j]`` for the entries of an array."""
    if objective.network:
        return [f"{name}[{', '.join(map(str, index))}]" for name, shape in objective.model.shapes()
                for index in np.ndindex(*shape)]
    if objective.multiclass:
        return softmax.flat_names(objective, dataset.n_classes, dataset["X"].shape[1])
    return [name if size == 1 and not _is_array(objective, name) else f"{name}[{j}]"
            for name, size in layout(objective, dataset) for j in range(size)]


def unflatten(objective, dataset, x) -> dict:
    """The flat vector ``x`` as named parameters: floats for scalars, arrays (a network's in their shapes)."""
    if objective.network:
        return objective.model.unflatten(x)
    if objective.multiclass:
        return softmax.unflatten(objective, dataset.n_classes, dataset["X"].shape[1], x)
    out, k = {}, 0
    for name, size in layout(objective, dataset):
        out[name] = float(x[k]) if size == 1 and not _is_array(objective, name) else np.array(x[k:k + size])
        k += size
    return out


def penalty_mask(objective, dataset) -> np.ndarray:
    """1 for each entry of ``x`` the ``l2`` penalty applies to, else 0 (intercepts and biases are free)."""
    if objective.network:
        return np.concatenate([np.full(int(np.prod(shape)), 1.0 if name.startswith("W") else 0.0)
                               for name, shape in objective.model.shapes()])
    if objective.multiclass:
        return softmax.penalty_mask(objective, dataset.n_classes, dataset["X"].shape[1])
    if objective.wide:
        m = dataset["X"].shape[1]
        return np.r_[0.0, np.ones(m)] if objective.model.intercept else np.ones(m)
    return np.array([1.0 if p else 0.0 for p in objective.penalised])


def _numbers(label: str, value) -> np.ndarray:
    """``value`` as a flat float array, or a ModelError that says what in ``label`` is not a number."""
    try:
        raw = np.asarray(value)
        if raw.dtype.kind in "USOc" or raw.dtype == bool:
            raise TypeError
        return np.atleast_1d(raw.astype(float)).ravel()
    except (TypeError, ValueError, OverflowError):
        text = repr(value)
        raise ModelError(f"{label} must hold real numbers; got {text if len(text) <= 60 else text[:57] + '...'}") from None


def start_point(objective, dataset, x0, label: str = "x0") -> np.ndarray:
    """``x0`` as a flat vector (from a mapping by name or a flat array), or the default start.

    Anything with ``keys()`` (a dict, a ``pandas.Series``...) is read by name, never by position.
    ``label`` names the argument in error messages. The default start is zeros (ones for positive
    parameters) for models, and the network's seeded initialisation for a network.
    """
    if objective.network:
        return network_start(objective.model, x0)
    spec = layout(objective, dataset)
    size = sum(s for _, s in spec)
    if x0 is None:
        return np.array([1.0 if getattr(p, "is_positive", False) else 0.0 for p in objective.params]) \
            if not objective.wide else np.zeros(size)
    if isinstance(x0, Mapping) or hasattr(x0, "keys"):
        x0 = {str(k): x0[k] for k in x0.keys()}
        unknown = sorted(set(x0) - {n for n, _ in spec})
        if unknown:
            raise ModelError(f"{label} names unknown parameter(s) {', '.join(unknown)}; parameters: "
                             f"{', '.join(n for n, _ in spec)}")
        missing = [name for name, _ in spec if name not in x0]
        if missing:
            raise ModelError(f"{label} gives no value for parameter {missing[0]!r}")
        if objective.multiclass:  # full shapes by name: (K,) and (K, m)
            for name, _ in spec:
                _numbers(f"{label}[{name!r}]", x0[name])
            flat = softmax.start_from(objective, dataset.n_classes, dataset["X"].shape[1], x0, label)
            if not np.all(np.isfinite(flat)):
                raise ModelError(f"{label} contains NaN or inf")
            return flat
        parts = []
        for name, s in spec:
            if name not in x0:
                raise ModelError(f"{label} gives no value for parameter {name!r}")
            v = _numbers(f"{label}[{name!r}]", x0[name])
            if v.size != s:
                raise ModelError(f"{label}[{name!r}] has {v.size} value(s); {name} has {s}")
            parts.append(v)
        flat = np.concatenate(parts)
    else:
        flat = _numbers(label, x0)
        if flat.size != size:
            raise ModelError(f"{label} has {flat.size} values; the problem has {size} parameters")
    if not np.all(np.isfinite(flat)):
        raise ModelError(f"{label} contains NaN or inf")
    return flat.copy()


def network_start(net, x0) -> np.ndarray:
    """A network's parameters (``x0`` of solve, ``params`` of gradient) by name or as a flat vector, checked
    to be finite; the seeded initialisation where ``x0`` is None."""
    if x0 is None:
        return net.initial()
    if hasattr(x0, "keys"):  # a dict, a pandas Series, any mapping: read by name, never by position
        x0 = {str(k): x0[k] for k in x0.keys()}
        unknown = sorted(set(x0) - {n for n, _ in net.shapes()}, key=str)
        if unknown:
            raise ModelError(f"x0 names unknown parameter(s) {', '.join(map(str, unknown))}; the network has "
                             f"{', '.join(n for n, _ in net.shapes())}")
        flat = net.flatten(x0)
    else:
        try:
            raw = np.asarray(x0)
            if raw.dtype.kind not in "biufO":  # text, complex, dates: no silent conversion
                raise TypeError
            flat = raw.astype(float).ravel()
        except (TypeError, ValueError, OverflowError):
            raise ModelError(f"x0 must be a mapping from parameter names to arrays or a flat array of "
                             f"{net.size()} real numbers, got {repr(x0)[:40]}") from None
        if flat.size != net.size():
            raise ModelError(f"x0 has {flat.size} values; the network has {net.size()} parameters")
    bad = np.flatnonzero(~np.isfinite(flat))
    if bad.size:
        name, index = _locate(net, int(bad[0]))
        kind = "NaN" if np.isnan(flat[bad[0]]) else "inf"
        raise ModelError(f"parameter {name} has {kind} at index {index} ({bad.size} non-finite value(s) in all); "
                         "parameter values must be finite")
    return flat


def _locate(net, k: int) -> tuple:
    """Name and index within that parameter of entry ``k`` of the flat vector."""
    for name, shape in net.shapes():
        size = int(np.prod(shape))
        if k < size:
            return name, tuple(int(i) for i in np.unravel_index(k, shape))
        k -= size
    raise IndexError(k)

"""Class labels of multinomial logistic regression: the integers 0 .. K-1, every class on some row.

Counted per array (:func:`label_counts`) and judged over all rows (:func:`classes_from`), so the chunks of a
Dask array are counted where they are and judged together (:mod:`symopt.distributed.data`)."""

from __future__ import annotations

import numpy as np

from ..errors import DataError


def class_count(objective, arrays: dict) -> int:
    """The number of classes K of multinomial logistic regression: labels must be the integers 0 .. K-1,
    each on at least one row (a class with no rows has no finite optimum: its scores run off to -inf)."""
    labels = arrays[objective.target.name]
    return classes_from(objective, label_counts(objective, labels), labels.size)


def label_counts(objective, labels: np.ndarray) -> np.ndarray:
    """The rows of each class label (``np.bincount``), the labels checked to be integers >= 0."""
    bad = np.flatnonzero((labels != np.round(labels)) | (labels < 0))
    if bad.size:
        raise DataError(f"cross_entropy needs integer class labels 0, 1, 2, ...; data {objective.target.name!r} "
                        f"has {float(labels[bad[0]])!r} at row {int(bad[0])}")
    top = float(labels.max()) if labels.size else 0.0
    if top >= max(labels.size, 2 ** 20):  # a label past the rows of this array and a million: bincount too big
        raise DataError(f"data {objective.target.name!r} has labels up to {top:.0f} on {labels.size} rows, so some "
                        f"class has no row: labels must be 0 .. K-1 with every class present (renumber them, "
                        f"for example with numpy.unique(y, return_inverse=True)[1])")
    return np.bincount(labels.astype(np.int64))


def classes_from(objective, counts: np.ndarray, n_rows: int) -> int:
    """K from the rows of each label over all rows (:func:`label_counts`): every class 0 .. K-1 present."""
    target = objective.target.name
    if counts.size > n_rows:  # more classes than rows: one has no rows
        raise DataError(f"data {target!r} has labels up to {counts.size - 1} on {n_rows} rows, so some class has no "
                        f"row: labels must be 0 .. K-1 with every class present (renumber them, for example with "
                        f"numpy.unique(y, return_inverse=True)[1])")
    if counts.size < 2:
        raise DataError(f"cross_entropy needs at least 2 classes; data {target!r} has only class 0 "
                        f"(for one class there is nothing to fit)")
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        raise DataError(f"data {target!r} has labels up to {counts.size - 1} but no row of class "
                        f"{int(empty[0])}: labels must be 0 .. K-1 with every class present (renumber them, "
                        f"for example with numpy.unique(y, return_inverse=True)[1])")
    return int(counts.size)

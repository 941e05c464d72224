"""Arrays given to an objective in place of a column name: ``offset=``, ``exposure=``, ``weights=``, ``sigma=``
and ``trials=`` take a data column's name or the values themselves (one per row), as statsmodels'
``GLM(..., offset=array)`` does.

An array is kept by the objective (:attr:`symopt.Objective.held_columns`) under a reserved name, ``_offset``,
``_exposure``, ... (a user's name cannot start with ``_``: :func:`symopt.symbolic.parse.check_name`), and joined
to the data when the data are prepared (:func:`join`), so the derivation, the generated code and the statistics
read it as any column. The reserved name is the objective's structure, not the values: objectives that differ
only in the array share one derivation and one compiled module. An array whose length is not the data's number
of rows is a :class:`~symopt.errors.DataError` naming the argument. The values are checked where they are given
(:func:`symopt.model.losses.held_array`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..errors import DataError

#: The roles a column may be given for, as arrays.
ROLES = ("offset", "exposure", "weights", "sigma", "trials")


def reserved(role: str) -> str:
    """The name an array given as ``role=`` is kept under (``"_offset"``)."""
    return f"_{role}"


def role_of(name: str) -> str | None:
    """The role whose reserved name ``name`` is, or None for a user's column name."""
    return name[1:] if name.startswith("_") and name[1:] in ROLES else None


def join(objective, data):
    """``data`` with the arrays ``objective`` holds joined as columns (a read-only mapping view: nothing is
    copied); ``data`` itself where it holds none. ``(X, y)`` becomes the mapping ``{"X": X, target: y}``."""
    held = getattr(objective, "held_columns", None)
    if not held:
        return data
    if isinstance(data, tuple) and len(data) == 2 and objective.form.matrix_data:
        data = {"X": data[0], objective.target.name: data[1]}
    if data is None or not hasattr(data, "keys") or not hasattr(data, "__getitem__"):
        return data  # the form's reader says what data it needs
    clash = [name for name in held if name in data]
    if clash:
        raise DataError(f"data has a column named {clash[0]!r}, the name symopt keeps for the {role_of(clash[0])}= "
                        f"array the objective was given; rename that column (names starting with '_' are symopt's)")
    target = objective.target.name
    shape = np.shape(data[target]) if target in data else ()
    for column, values in held.items():  # one value per row (a missing or odd target: the reader says so)
        if shape and values.shape[0] != shape[0]:
            raise DataError(f"the {role_of(column)}= array has {values.shape[0]} values and the data {shape[0]} rows "
                            f"({target!r} has {shape[0]}); give one value per row, in the data's order")
    return _Joined(data, held)


class _Joined(Mapping):
    """``data`` (a mapping or a DataFrame) seen with the held arrays as further columns."""

    def __init__(self, data, held: dict):
        self.data, self.held = data, held

    def __getitem__(self, name):
        return self.held[name] if name in self.held else self.data[name]

    def __contains__(self, name) -> bool:
        return name in self.held or name in self.data

    def keys(self):
        return [*self.data.keys(), *self.held]

    def __iter__(self):
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

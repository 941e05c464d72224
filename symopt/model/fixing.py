"""``fixed=``: parameters held at given values. Which parameters are fixed is structure (the problem is
derived, analysed and compiled once for it); their values are run-time data, one constant column each, so a
grid over a fixed value, or a profile interval, solves again without compiling.

The solved objective is :meth:`symopt.Objective.fixing`'s: the free parameters only, the fixed ones read as
data. The result speaks in the whole model: ``Result.params`` has every parameter (the fixed ones at their
values), ``Result.fixed`` says which were fixed; ``Result.x``, ``cov`` and ``stderr`` are the free ones'.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..errors import DataError, ModelError


def check_fixed(objective, fixed) -> dict:
    """``fixed`` (a mapping of parameter names to numbers) checked against ``objective``: name -> float."""
    if fixed is None:
        return {}
    if not hasattr(fixed, "items"):
        raise ModelError(f"fixed must be a mapping from parameter names to values, such as {{'c': 1.0}}; got "
                         f"{type(fixed).__name__}")
    names = objective.param_names
    out = {}
    for name, value in fixed.items():
        if name not in names:
            what = "a LinearModel over a data matrix or a network" if not objective.form.per_parameter else ""
            raise ModelError(f"fixed names {name!r}, which is not a parameter of the objective "
                             f"({', '.join(names) if names else what}: fixed= applies to named parameters)")
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise ModelError(f"fixed value of {name!r} must be a finite number, got {value!r}")
        out[name] = float(value)
    if out and len(out) == len(names):
        raise ModelError(f"every parameter is fixed ({', '.join(names)}): nothing is left to fit; evaluate "
                         "the objective instead (symopt.Problem(objective).value_and_grad(data, params))")
    return out


def with_values(objective, data, values: dict):
    """``data`` with one constant column per fixed parameter (``objective`` is the fixing one)."""
    if not values:
        return data
    if data is not None and (not hasattr(data, "keys") or isinstance(data, tuple)):
        raise DataError(f"data must be a mapping from names to arrays with fixed parameters, got {type(data).__name__}")
    given = {} if data is None else {k: data[k] for k in data.keys()}
    clash = sorted(set(given) & set(values))
    if clash:
        raise DataError(f"data has a column named {clash[0]!r}, which is a fixed parameter; rename one of them")
    others = [name for name in objective.data_names if name not in values and name in given]
    n = np.shape(given[others[0]])[0] if others else 1  # (a Dask array's length, without computing it)
    return {**given, **{name: np.full(n, value) for name, value in values.items()}}


def check_same_names(problem_fixed: dict, given: dict) -> dict:
    """The values for a solve of a problem built with ``problem_fixed``: ``given`` (checked) may change the
    values but not which parameters are fixed (that is the problem's structure)."""
    if set(given) != set(problem_fixed):
        raise ModelError(f"this Problem was built with {sorted(problem_fixed) or 'no'} parameters fixed; solve may "
                         f"change their values, not which are fixed (got {sorted(given)}): build another "
                         "Problem (or call symopt.solve) for another set")
    return given

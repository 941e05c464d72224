"""Formulas: ``symopt.formula("y ~ x1 + np.log(x2) + C(group)", df)`` gives a ``LinearModel()`` over the
formula's design matrix, its columns named as statsmodels names them, and the data to solve it on.

Built on formulaic (``pip install 'symopt[formula]'``), imported when a formula is first read. Categorical
columns (text, pandas categoricals, booleans, or any column inside ``C(...)``) are expanded here, and only here,
the way statsmodels expands them: treatment coding against the first level (in sorted order), one column per
other level, named ``C(group)[T.b]`` (``group[T.b]`` for a text column written bare); a formula without an
intercept (``- 1``, ``+ 0``) keeps every level of its first categorical term. Everywhere else in symopt a text
column is a :class:`~symopt.errors.DataError`: a conversion to numbers is a modelling decision, made here by
the formula's words. Rows with a missing value are refused, not dropped (formulaic and statsmodels drop them
by default; symopt drops nothing silently).

The Python inside a formula's terms runs through formulaic's ``eval``, so it is read first against a
whitelist (:mod:`symopt.model.formula_code`): data columns, ``np.<elementwise function>``, ``log``, ``exp``,
``sqrt``, ``C``, ``I``, ``center``, ``scale``, ``poly``, splines, contrasts and arithmetic; anything else is
refused before any of it runs.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from ..errors import DataError, ModelError
from .data import _as_float_array
from .formula_code import check_code
from .models import LinearModel

#: The longest formula read (a formula is a line of text: this only bounds what is parsed).
MAX_LENGTH = 2000
#: The data names the design takes: the matrix, and the response (the default target of every objective).
TAKEN = ("X", "y")


def _formulaic():
    try:
        import formulaic
    except ImportError as exc:
        raise ModelError("symopt.formula needs formulaic: pip install 'symopt[formula]' (or pip install "
                         "formulaic)") from exc
    return formulaic


@dataclass(frozen=True)
class Design:
    """What :func:`symopt.formula` gives; unpacks as ``model, data``.

    ``model``: a ``LinearModel()`` over the design matrix, its intercept the formula's (``Intercept``) and its
    columns named as the design names them. ``data``: ``{"X": design matrix without the intercept column,
    "y": the response}`` plus the ``columns=`` carried, float arrays, ready for ``solve``. ``response``: the
    formula's left side as written (``np.log(price)``); its values are ``data["y"]``. ``names``: every
    coefficient's name, the intercept's first: ``Result.x_names`` of a fit of ``model``. ``spec``: formulaic's
    model spec, which :meth:`matrix` reuses.
    """

    model: LinearModel
    data: dict = field(repr=False)
    response: str
    names: tuple
    spec: object = field(repr=False, compare=False)

    def __iter__(self) -> Iterator:
        return iter((self.model, self.data))

    def __repr__(self) -> str:
        return (f"Design({self.response} ~ {' + '.join(self.names)}: {self.data['X'].shape[0]} rows, "
                f"data {', '.join(self.data)})")

    def matrix(self, data) -> np.ndarray:
        """The design matrix ``X`` of new rows (a DataFrame or mapping with the formula's columns) as fitted:
        the same columns, levels and stateful transforms (the centring of ``center(x)`` is the fitted data's),
        for ``result.predict(design.matrix(new))``. A level not seen in the fit is refused."""
        frame = _frame(data, "new data")
        try:
            with _strict(_formulaic()):
                X = self.spec.get_model_matrix(frame, context=_context(), na_action="raise")
        except Exception as exc:  # formulaic's own errors (a missing column, an unseen level, a missing value)
            raise DataError(f"the design of {self.spec.formula} cannot be built on the new data: {_plain(exc)}") from None
        X = X.drop(columns=[self.names[0]]) if self.model.intercept else X
        return _as_float_array("X", np.asarray(X, dtype=float), 2)


def formula(formula: str, data, columns: Sequence[str] = ()) -> Design:
    """A ``LinearModel()`` over the design matrix of ``formula`` on ``data`` (a pandas DataFrame, or a mapping
    of column names to 1-D arrays), and the data to fit it on, as a :class:`Design` that unpacks as
    ``model, data``.

    ``formula`` is Wilkinson's notation as statsmodels takes it (formulaic's grammar): ``y ~ x1 + x2``,
    interactions ``x1:x2`` and ``x1*x2``, ``C(group)`` (or a text column written bare) for a categorical column
    in treatment coding against its first level (``C(group, Treatment("b"))`` chooses the reference),
    ``np.log(x2)``, ``I(x**2)``, ``center(x)``, ``- 1`` to drop the intercept. Each Python term may read data
    columns and call only the functions :mod:`symopt.model.formula_code` lists; anything else is refused
    before it runs. Rows with missing values are refused (nothing is dropped).

    The model's coefficients keep symopt's layout (``Result.params`` holds ``intercept`` and the array
    ``coef``, one entry per design column) and take the design's names as labels: ``Result.x_names``, the
    rows of ``summary()``, ``cov`` and ``corr`` read ``Intercept``, ``x1``, ``np.log(x2)``, ``C(group)[T.b]``
    (statsmodels' ``params.index``, in the formula's order where statsmodels' patsy engine lists categorical
    terms first: compare by name); ``dict(zip(result.x_names, result.x))`` are the estimates by name. The
    intercept is the model's own, so ``l2=`` leaves it unpenalised as in every ``LinearModel``.

    ``data`` of the :class:`Design` is ``{"X": ..., "y": ...}``: ``y`` is the response whatever the formula
    calls it (every objective's default target), and ``columns=["w", "t"]`` carries those data columns along
    under their own names, as numbers, for an objective's ``weights=``, ``offset=``, ``exposure=`` or
    ``trials=``. Any objective over a ``LinearModel()`` takes the model: ``squared_loss`` (statsmodels'
    ``ols``), ``log_loss`` (``logit``), ``glm`` (``glm``).

    >>> import pandas as pd, symopt
    >>> df = pd.DataFrame({"y": [1.0, 2.2, 2.9, 4.1, 5.2, 5.8], "x": [1, 2, 3, 4, 5, 6],
    ...                    "g": ["a", "b", "a", "b", "a", "b"]})
    >>> model, data = symopt.formula("y ~ x + C(g)", df)
    >>> model.names
    ('x', 'C(g)[T.b]')
    """
    if not isinstance(formula, str):
        raise ModelError(f"a formula is text such as 'y ~ x1 + C(group)', got {type(formula).__name__}")
    if len(formula) > MAX_LENGTH:
        raise ModelError(f"the formula is {len(formula)} characters long; symopt reads formulas of up to "
                         f"{MAX_LENGTH} (for many columns give a LinearModel() the data matrix itself)")
    carried = _carried(columns)
    frame = _frame(data, "data")
    formulaic = _formulaic()
    parsed = _parse(formulaic, formula)
    _check_terms(parsed, [str(c) for c in frame.columns], formula)
    try:
        with _strict(formulaic):
            built = formulaic.model_matrix(parsed, frame, context=_context(), na_action="raise",
                                           ensure_full_rank=True, output="pandas")
    except Exception as exc:  # formulaic's errors: a column missing, a value missing, a term of the wrong kind
        raise DataError(f"the design of the formula {formula!r} cannot be built: {_plain(exc)}") from None
    lhs, rhs = built.lhs, built.rhs
    if lhs.shape[1] != 1:
        raise DataError(f"the response of {formula!r} gives {lhs.shape[1]} columns ({', '.join(lhs.columns)}); "
                        f"it must be one numeric column (a text response is expanded into its levels: code "
                        f"it as numbers first, 0/1 for log_loss)")
    intercept = next((s.columns[0] for s in rhs.model_spec.structure if str(s.term) == "1"), None)
    names = [str(c) for c in rhs.columns if c != intercept]
    if not names:
        raise ModelError(f"the formula {formula!r} has no term besides the intercept, and a LinearModel() over a "
                         f"data matrix needs at least one column; for a constant alone fit "
                         f"symopt.Model('c', 'c') (its estimate is the mean of y under squared_loss)")
    model = LinearModel(names=names, intercept=intercept is not None,
                        intercept_label=str(intercept) if intercept is not None else "intercept")
    X = _as_float_array("X", np.asarray(rhs[names], dtype=float), 2)
    arrays = {"X": X, "y": _as_float_array(str(lhs.columns[0]), np.asarray(lhs.iloc[:, 0], dtype=float), 1)}
    for name in carried:
        if name not in frame.columns:
            raise DataError(f"columns= names {name!r}, which the data do not have")
        arrays[name] = _as_float_array(name, frame[name].to_numpy(), 1)
    labels = ((str(intercept),) if intercept is not None else ()) + tuple(names)
    return Design(model, arrays, str(lhs.columns[0]), labels, rhs.model_spec)


def _carried(columns) -> tuple:
    if isinstance(columns, str) or not isinstance(columns, Sequence):
        raise ModelError(f"columns must be a list of data column names, got {columns!r}")
    for name in columns:
        if not isinstance(name, str) or name in TAKEN:
            raise ModelError(f"columns= carries data columns by name, other than 'X' and 'y' (the design's); "
                             f"got {name!r}")
    return tuple(columns)


def _frame(data, what: str):
    """``data`` as a pandas DataFrame: as given, or built from a mapping of names to 1-D arrays."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        frame = data
    elif isinstance(data, Mapping):
        odd = next((k for k in data if not isinstance(k, str)), None)
        if odd is not None:
            raise DataError(f"{what} keys must be column names (strings); got {odd!r}")
        try:
            frame = pd.DataFrame({k: np.asarray(v) if not isinstance(v, pd.Series) else v for k, v in data.items()})
        except ValueError as exc:
            raise DataError(f"{what} cannot be read as columns of one table: {exc}") from None
    else:
        raise DataError(f"a formula reads a pandas DataFrame or a mapping of column names to 1-D arrays; "
                        f"{what} is {type(data).__name__}")
    if frame.shape[0] == 0:
        raise DataError(f"{what} has zero rows")
    return frame


def _parse(formulaic, text: str):
    """``text`` as a formulaic formula with a left and a right side, one part each."""
    try:
        parsed = formulaic.Formula(text)
    except Exception as exc:  # formulaic's syntax errors
        raise ModelError(f"the formula {text!r} cannot be read: {_plain(exc)}") from None
    if not hasattr(parsed, "lhs") or not hasattr(parsed, "rhs"):
        raise ModelError(f"the formula {text!r} has no response: write it as 'y ~ x1 + x2'")
    if not all(hasattr(part, "__iter__") and not hasattr(part, "lhs") for part in (parsed.lhs, parsed.rhs)) \
            or type(parsed.rhs).__name__ != "SimpleFormula" or type(parsed.lhs).__name__ != "SimpleFormula":
        raise ModelError(f"the formula {text!r} has several parts ('|' or a second '~'); symopt.formula reads "
                         f"one response and one right side")
    return parsed


def _check_terms(parsed, columns: list, text: str) -> None:
    """Every factor of ``parsed`` checked before anything is evaluated: Python ones against the whitelist, names
    against the data's columns."""
    for side in (parsed.lhs, parsed.rhs):
        for term in side:
            for factor in term.factors:
                method = factor.eval_method.value
                if method == "python":
                    check_code(factor.expr, columns, text)
                elif method == "lookup" and factor.expr not in columns:
                    raise DataError(f"the formula {text!r} reads {factor.expr!r}, which is not a column of the data "
                                    f"(it has {', '.join(map(repr, columns[:20]))}"
                                    f"{', ...' if len(columns) > 20 else ''})")


@contextmanager
def _strict(formulaic):
    """formulaic's data-mismatch warnings as errors: a level the fit did not see (or not among ``levels=``) would
    be coded as the reference level's zeros, a silent wrong design."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", formulaic.errors.DataMismatchWarning)
        yield


def _context() -> dict:
    """The names a formula's Python may call besides formulaic's own transforms (the whitelist decides which
    of either it may use): the elementwise functions formulaic does not offer by bare name."""
    return {"log1p": np.log1p, "expm1": np.expm1, "sqrt": np.sqrt, "abs": np.abs}


def _plain(exc: Exception) -> str:
    """formulaic's message without its terminal colours and pointer marks, on one line."""
    text = re.sub(r"\x1b\[[0-9;]*m|[\u29da\u29db]", "", str(exc))
    return " ".join(text.split())

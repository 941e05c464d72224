"""The TOML problem spec: its schema (pydantic v2, strict, unknown keys refused), reading it with its limits and
the command line's overrides, and every refusal as one :class:`SpecError` located as ``file:line`` and key path.

A spec states data, never code: expressions are text for the whitelist parser (checked here without SymPy by
:func:`symopt.symbolic.syntax.check_syntax`), names are plain identifiers, and the one path it holds is its data
file's, relative to the spec's own folder and refused where it leads outside that folder. Numbers are TOML
numbers (strings for numbers are refused: the schema is strict); ``inf`` may open a bound, and NaN and infinite
values are refused everywhere else.

The module is past 400 lines because the schema and the sentences its refusals become belong together: each
sentence reads the schema's tables (the keys a table allows, for a did-you-mean; a field's choices; where a
value's shape tag sits in an error's location).
"""

from __future__ import annotations

import difflib
import tomllib
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError

from ..errors import ParseError
from ..symbolic.syntax import MAX_LENGTH
from .locate import dotted, key_lines

#: The largest spec file read, in bytes; a larger one is refused before it is parsed.
MAX_SPEC_BYTES = 1_000_000
#: At most this many names in a list (parameters, columns) and layers in a network.
MAX_NAMES = 10_000
MAX_LAYERS = 100


class SpecError(ParseError):
    """A spec (or an option overriding it) that cannot be used: ``file``, ``line`` (None where unknown) and the
    ``key`` path (``"optimizer.max_iter"``, ``""`` for the whole file) say where; ``str()`` is the one line the
    command line prints."""

    def __init__(self, message: str, file: str = "", line: int | None = None, key: str = ""):
        self.file, self.line, self.key, self.reason = file, line, key, message
        where = f"{file}:{line}" if file and line else file
        super().__init__(": ".join(part for part in (where, key, message) if part))


def _no_nan(value: float) -> float:
    if value != value:
        raise ValueError("NaN is not a bound; use inf or -inf for an open side")
    return value


Finite = Annotated[float, Field(allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Fraction = Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=1, le=1_000_000_000)]
Seed = Annotated[int, Field(ge=0, le=2**63 - 1)]
Name = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$", max_length=100)]
Names = Annotated[list[Name], Field(min_length=1, max_length=MAX_NAMES)]
Expression = Annotated[str, Field(min_length=1, max_length=MAX_LENGTH)]
Bound = Annotated[float, AfterValidator(_no_nan)]


def _shape(value) -> str:
    return "array" if isinstance(value, list) else "number"


def number_or_array(item):
    """``item`` or a list of them (an array parameter's value, one per entry); pydantic's location of an error
    inside holds the member's tag ("number" or "array"), which :func:`_schema_key` leaves out of the key path."""
    array = Annotated[list[item], Field(min_length=1, max_length=MAX_NAMES)]
    return Annotated[Union[Annotated[item, Tag("number")], Annotated[array, Tag("array")]], Discriminator(_shape)]


#: The tags :func:`number_or_array` puts in an error's location.
SHAPE_TAGS = ("number", "array")


class Table(BaseModel):
    """A table of the spec: unknown keys refused, types strict (no string for a number), frozen."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ModelSpec(Table):
    """``[model]``: an expression model (``expr``, ``params``, ``positive``) or, with ``kind = "linear"``, a
    linear model over data columns (``columns``), a data matrix (``matrix``, an array of an .npz file) or
    basis expressions (``basis``), with an ``intercept``."""

    kind: Literal["expression", "linear"] = "expression"
    expr: Expression | None = None
    params: Names | None = None
    positive: list[Name] = []
    columns: Names | None = None
    matrix: Name | None = None
    basis: Annotated[list[Expression], Field(min_length=1, max_length=MAX_NAMES)] | None = None
    intercept: bool = True


class LayerSpec(Table):
    """One ``[[network.layers]]``: ``units``, ``activation`` (a built-in name or an expression in one symbol;
    default tanh for hidden layers, identity for the last), ``dropout`` and ``batch_norm``."""

    units: Annotated[int, Field(ge=1, le=1_000_000)]
    activation: Expression | None = None
    dropout: Fraction = 0.0
    batch_norm: bool = False


class NetworkSpec(Table):
    """``[network]``: the inputs (data ``columns`` or a ``matrix``), the ``layers``, ``init``, ``seed`` and
    ``dtype``."""

    columns: Names | None = None
    matrix: Name | None = None
    layers: Annotated[list[LayerSpec], Field(min_length=1, max_length=MAX_LAYERS)]
    init: Literal["he", "he_uniform", "glorot", "glorot_uniform", "normal"] = "he"
    seed: Seed = 0
    dtype: Literal["float64", "float32"] = "float64"


class ObjectiveSpec(Table):
    """``[objective]``: the ``loss`` on the model's prediction of ``target`` (``weights`` or ``sigma`` columns
    and ``scale`` for squared loss, ``weights`` for log loss: on an expression model or a linear model over
    columns or a matrix; not on a network), or ``loss = "likelihood"`` (a log-likelihood, or a negative one, per
    sample: ``Objective(likelihood=True)``) or ``"custom"`` (any other per-sample objective,
    ``Objective(likelihood=False)``) with its own ``expr``, ``params`` and ``maximize`` (and ``penalize``, the
    parameters ``l2`` and ``l1`` weigh); ``l2``, ``l1`` and ``reduction`` for all; ``offset`` (a column added to
    the prediction) for squared and log loss (``exposure`` is refused there, with the reason); for ``loss = "glm"``
    (:func:`symopt.glm`) the ``family`` (``power`` for the Tweedie, ``alpha`` for the negative binomial), its
    ``link`` (the family's own by default), and the ``offset``, ``exposure``, ``weights`` and ``trials`` columns."""

    loss: Literal["squared", "log_loss", "cross_entropy", "glm", "likelihood", "custom"] = "squared"
    family: Literal["gaussian", "binomial", "poisson", "gamma", "inverse_gaussian", "negative_binomial",
                    "tweedie"] | None = None
    link: Annotated[str, Field(pattern=r"^(identity|log|logit|probit|cloglog|inverse|inverse_squared|sqrt|"
                                       r"power\([0-9.eE+-]{1,24}\))$")] | None = None
    trials: Name | None = None
    power: Annotated[float, Field(allow_inf_nan=False)] | None = None
    alpha: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    target: Name = "y"
    weights: Name | None = None
    sigma: Name | None = None
    scale: Literal["residual", "absolute"] = "residual"
    l2: NonNegative = 0.0
    l1: NonNegative = 0.0
    penalize: Names | None = None
    offset: Name | None = None
    exposure: Name | None = None
    reduction: Literal["mean", "sum"] = "mean"
    expr: Expression | None = None
    params: Names | None = None
    positive: list[Name] = []
    maximize: bool = False


class DataSpec(Table):
    """``[data]``: ``path`` (CSV with a header, .npz or .npy, relative to the spec's folder; or data Dask reads a
    chunk at a time: Parquet files, a glob or folder of them, a Zarr store) and, for an .npy matrix or a single
    Zarr array, the names of its ``columns``; ``chunks``, the rows per chunk of a Zarr store or an .npy matrix
    read with Dask."""

    path: Annotated[str, Field(min_length=1, max_length=4096)]
    columns: Names | None = None
    chunks: Count | None = None


class _OptimizerSpec(Table):
    """Options left out take the optimizer's own defaults (None here)."""

    max_iter: Count | None = None
    tol: NonNegative | None = None
    ftol: NonNegative | None = None


class LBFGSSpec(_OptimizerSpec):
    name: Literal["lbfgs"]
    memory: Annotated[int, Field(ge=1, le=1000)] | None = None
    c1: Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)] | None = None
    c2: Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)] | None = None


class NewtonSpec(_OptimizerSpec):
    name: Literal["newton"]


class LevenbergMarquardtSpec(_OptimizerSpec):
    name: Literal["lm"]
    xtol: NonNegative | None = None
    geodesic: bool | None = None
    alpha: Positive | None = None
    tau: Positive | None = None
    projection: bool | None = None


class ProximalGradientSpec(_OptimizerSpec):
    name: Literal["proximal"]
    step: Positive | None = None
    growth: Annotated[float, Field(ge=1, le=4, allow_inf_nan=False)] | None = None


class _FirstOrderSpec(_OptimizerSpec):
    """Training a network by epochs also takes ``validation`` (a fraction of the rows held out), ``early_stopping``
    (the patience, in epochs) and ``schedule`` (``"step"``, ``"cosine"`` or ``"plateau"``)."""

    batch_size: Count | None = None
    seed: Seed | None = None
    epochs: Count | None = None
    lr: Positive | None = None
    validation: Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)] | None = None
    early_stopping: Count | None = None
    schedule: Literal["step", "cosine", "plateau"] | None = None


class GradientDescentSpec(_FirstOrderSpec):
    name: Literal["gd"]
    line_search: bool | None = None


class MomentumSpec(_FirstOrderSpec):
    name: Literal["momentum", "nesterov"]
    momentum: Fraction | None = None


class AdamSpec(_FirstOrderSpec):
    name: Literal["adam"]
    beta1: Fraction | None = None
    beta2: Fraction | None = None
    eps: Positive | None = None


class RMSPropSpec(_FirstOrderSpec):
    name: Literal["rmsprop"]
    alpha: Fraction | None = None
    eps: Positive | None = None


#: Each optimizer's spec by its name (the library's ``Optimizer.name``).
OPTIMIZERS = {"lbfgs": LBFGSSpec, "newton": NewtonSpec, "lm": LevenbergMarquardtSpec, "gd": GradientDescentSpec,
              "momentum": MomentumSpec, "nesterov": MomentumSpec, "adam": AdamSpec, "rmsprop": RMSPropSpec,
              "proximal": ProximalGradientSpec}
OptimizerSpec = Annotated[Union[LBFGSSpec, NewtonSpec, LevenbergMarquardtSpec, GradientDescentSpec, MomentumSpec,
                                AdamSpec, RMSPropSpec, ProximalGradientSpec], Field(discriminator="name")]


class SolveSpec(Table):
    """``[solve]``: the options of :func:`symopt.solve` a spec may set (the defaults are the function's)."""

    method: Literal["auto", "linear", "symbolic", "iterative"] = "auto"
    precision: Literal["double", "high"] = "double"
    backend: Literal["auto", "numba", "python"] = "auto"
    budget: Positive = 10.0
    max_time: Positive | None = None
    starts: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    seed: Seed = 0
    standardize: bool = False
    cov_type: Literal["nonrobust", "HC0", "HC1", "HC2", "HC3"] = "nonrobust"


class Spec(Table):
    """A whole spec: the tables above, and ``[start]`` (x0: a number per parameter, a list for an array parameter
    such as a linear model's ``coef``), ``[fixed]`` (a number per parameter: ``fixed=`` holds named parameters
    only) and ``[bounds]`` by parameter name: ``[lower, upper]``, each side a number (``inf`` / ``-inf``
    open) or, for an array parameter, a list of one bound per entry (``bounds=``'s pair of arrays).

    ``[ties]`` (``ties=``: a parameter's name = the expression of others it is tied to, as text, ``sigma_2 =
    "sigma_1"``), with ``new_params``, the new parameters a tie reads (``symopt.ties(..., new=...)``), and
    ``constraints`` (``constraints=``: a list of linear inequalities as text, ``["a <= b"]``); ``constraints`` and
    ``new_params`` are top-level keys, so they stand before the first table."""

    model: ModelSpec | None = None
    network: NetworkSpec | None = None
    objective: ObjectiveSpec = ObjectiveSpec()
    data: DataSpec | None = None
    optimizer: OptimizerSpec | None = None
    solve: SolveSpec = SolveSpec()
    start: dict[Name, number_or_array(Finite)] = {}
    fixed: dict[Name, Finite] = {}
    bounds: dict[Name, Annotated[list[number_or_array(Bound)], Field(min_length=2, max_length=2)]] = {}
    ties: Annotated[dict[Name, Expression], Field(max_length=MAX_NAMES)] = {}
    new_params: Names | None = None
    constraints: Annotated[list[Expression], Field(max_length=MAX_NAMES)] = []


#: The spec's keys that are not tables (a key written after a table's header belongs to that table).
TOP_LEVEL = ("constraints", "new_params")


class Source:
    """Where a spec came from: its file name (as given), its folder, its text's key lines and the key paths the
    command line's ``--set`` options gave; :meth:`error` locates a refusal."""

    def __init__(self, file: str, text: str, overridden: dict | None = None):
        self.file, self.folder = file, Path(file).resolve().parent
        self.lines = key_lines(text)
        self.overridden = overridden or {}

    def error(self, key: tuple, message: str) -> SpecError:
        """A SpecError at ``key`` (a path of names and indexes): the line of its longest prefix found in the
        text, or the ``--set`` option that gave it (or gave a key inside it, for a table the text does not
        state)."""
        for n in range(len(key), 0, -1):
            if key[:n] in self.overridden:
                return SpecError(message, self.overridden[key[:n]], None, dotted(key))
        if key and key not in self.lines:
            inside = [label for given, label in self.overridden.items() if given[:len(key)] == key]
            if inside:
                return SpecError(message, inside[0], None, dotted(key))
        for n in range(len(key), -1, -1):
            if key[:n] in self.lines:
                return SpecError(message, self.file, self.lines[key[:n]], dotted(key))
        return SpecError(message, self.file, None, dotted(key))


def read(path, sets=()) -> tuple[Spec, Source]:
    """Read and validate the spec at ``path`` with ``sets`` applied: ``(option, "key.path=value")`` pairs, the
    option (``"--set optimizer.max_iter=100"``, ``"--method iterative"``) naming where an error came from."""
    file = str(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise SpecError(f"cannot read the spec: {exc.strerror or exc}", file) from None
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError(f"the spec is larger than {MAX_SPEC_BYTES:,} bytes, the limit for a spec file", file)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SpecError("the spec is not UTF-8 text", file, line) from None
    return parse(text, file, sets)


def parse(text: str, file: str = "<spec>", sets=()) -> tuple[Spec, Source]:
    """Validate spec ``text`` (named ``file`` in errors) with ``sets`` applied (as :func:`read`)."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None) or _line_in_message(str(exc))
        raise SpecError(f"not valid TOML: {str(exc).split(' (at ')[0]}", file, line) from None
    except RecursionError:
        raise SpecError("not valid TOML: nested too deeply", file) from None
    overridden = {}
    for label, option in sets:
        overridden[apply_set(document, option, label)] = label[:100]
    source = Source(file, text, overridden)
    try:
        return Spec.model_validate(document), source
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        first = errors[0]
        key = _schema_key(first["loc"])
        if first["type"] in ("union_tag_invalid", "union_tag_not_found"):  # the optimizer's name
            key += ("name",)
        message = describe(first, key)
        if len(errors) > 1:
            message += f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''})"
        raise source.error(key, message) from None


def apply_set(document: dict, option: str, label: str) -> tuple:
    """Set ``key.path=value`` (a TOML value; a bare word is a string) in ``document``; its key path. ``label``:
    the option, for errors."""
    label = label[:100]
    if "=" not in option:
        raise SpecError("expected key.path=value, for example optimizer.max_iter=100", label)
    name, value_text = option.split("=", 1)
    key = tuple(part.strip() for part in name.split("."))
    if not all(part.isidentifier() for part in key):
        raise SpecError(f"{name.strip()[:80]!r} is not a key path (names joined by '.')", label)
    try:
        value = tomllib.loads(f"v = {value_text}")["v"]
    except (tomllib.TOMLDecodeError, RecursionError):
        value = value_text.strip()
    table = document
    for part in key[:-1]:
        table = table.setdefault(part, {})
        if not isinstance(table, dict):
            raise SpecError(f"{part[:60]!r} is not a table", label, None, name.strip()[:100])
    table[key[-1]] = value
    return key


def describe(error: dict, key: tuple) -> str:
    """A pydantic error as a sentence: the value given and the rule it broke, with a did-you-mean for an
    unknown key or a choice."""
    kind, message = error["type"], error["msg"]
    if len(key) == 2 and key[-1] in TOP_LEVEL:
        return (f"{key[-1]!r} is a top-level key: write it before the first [table] (in TOML a key written after "
                f"[{key[0]}] belongs to that table)")
    if kind == "extra_forbidden":
        known = fields_at(tuple(error["loc"])[:-1])
        close = difflib.get_close_matches(str(key[-1]), known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown key {str(key[-1])[:60]!r}{hint} (known here: {', '.join(known)})"
    if kind == "missing":
        return "this key is required"
    given = error.get("input")
    if key[:1] == ("bounds",) and len(key) == 2 and kind in ("too_long", "too_short"):
        return (f"bounds are a pair [lower, upper] (got {_show(given)}); for an array parameter each side may "
                f"be a list of one bound per entry: coef = [[lower of each entry], [upper of each entry]]")
    if key[:1] == ("fixed",) and len(key) == 2 and isinstance(given, list):
        return (f"a fixed value is a number ({_show(given)} is a list): symopt.solve's fixed= holds named "
                f"parameters only, not an array such as coef; bound it to a narrow range in [bounds] instead, or "
                f"state the model by basis names (kind = \"linear\", basis = [...]), each coefficient a named "
                f"parameter")
    if kind == "union_tag_invalid":
        given = (error.get("ctx") or {}).get("tag")
    if kind in ("literal_error", "union_tag_invalid"):
        choices = sorted(OPTIMIZERS) if kind == "union_tag_invalid" else _choices(error)
        close = difflib.get_close_matches(str(given)[:60], choices, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"{_show(given)} is not one of {', '.join(repr(c) for c in choices)}{hint}"
    if kind == "union_tag_not_found":
        return f"the optimizer needs a name: one of {', '.join(sorted(OPTIMIZERS))}"
    return f"{message[:200]} (got {_show(given)})" if "input" in error else message[:200]


def fields_at(loc: tuple) -> list[str]:
    """The keys the schema allows in the table at pydantic's location ``loc`` (sorted; inside ``[optimizer]``
    the location holds the optimizer's name)."""
    tables = {"model": ModelSpec, "network": NetworkSpec, "objective": ObjectiveSpec, "data": DataSpec,
              "solve": SolveSpec, "layers": LayerSpec}
    table = Spec
    for part in loc:
        if isinstance(part, int):
            continue
        if table is None:  # inside [optimizer]: the named optimizer's table
            table = OPTIMIZERS.get(part, LBFGSSpec)
        elif table is Spec and part == "optimizer":
            table = None
        else:
            table = tables.get(part, table)
    if table is None:
        return ["name"]
    return sorted(table.model_fields)


def _schema_key(loc: tuple) -> tuple:
    """pydantic's location as the spec's key path: the optimizer's tag (its name) is not a key."""
    key = tuple(loc)
    if len(key) > 1 and key[0] == "optimizer" and key[1] in OPTIMIZERS:
        key = key[:1] + key[2:]
    tag = {"start": 2, "bounds": 3}.get(key[0] if key else None)  # start.coef[.tag], bounds.coef[0][.tag]
    if tag is not None and len(key) > tag and key[tag] in SHAPE_TAGS:
        key = key[:tag] + key[tag + 1:]
    return key


def _choices(error: dict) -> list[str]:
    expected = (error.get("ctx") or {}).get("expected", "")
    return [part.strip(" '") for part in expected.replace(" or ", ",").split(",") if part.strip(" '")]


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _line_in_message(message: str) -> int | None:
    marker = "(at line "
    if marker in message:
        digits = message.split(marker, 1)[1].split(",")[0]
        return int(digits) if digits.isdigit() else None
    return None

"""What the command line prints: human text, or with ``--json`` one JSON document (the schema is on the docs'
command-line page; :data:`JSON_VERSION` changes when a key changes meaning or goes away).

Every document carries the resolved spec, every key with its value, and ``defaults``, the key paths that took
a default rather than a value from the spec or an option (as CmdStan marks defaults in its output). Numbers are
JSON numbers, written with ``repr``'s shortest round-tripping digits (so a script reads exactly the doubles
the library returned); arrays are nested lists; a NaN or infinite number is written as null.
"""

from __future__ import annotations

import json
import math

from pydantic import BaseModel

from .locate import dotted

#: The version of the ``--json`` documents' layout.
JSON_VERSION = 1


def resolved(spec: BaseModel, key: tuple = ()) -> tuple[dict, list]:
    """``(values, defaults)``: the spec's values (tables as dicts, None for an option left to the library or the
    optimizer) and the dotted key paths that took their default."""
    values, defaults = {}, []
    for name in type(spec).model_fields:
        value = getattr(spec, name)
        path = key + (name,)
        if isinstance(value, BaseModel):
            values[name], inner = resolved(value, path)
            defaults += inner
        elif isinstance(value, list) and value and isinstance(value[0], BaseModel):
            values[name] = []
            for k, item in enumerate(value):
                item_values, inner = resolved(item, path + (k,))
                values[name].append(item_values)
                defaults += inner
        else:
            values[name] = value
            if name not in spec.model_fields_set:
                defaults.append(dotted(path))
    return values, defaults


def plain(value):
    """``value`` as JSON-ready plain data: NumPy arrays and scalars as lists and numbers, non-finite numbers as
    None, tuples as lists, mappings with string keys."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


def document(command: str, spec: BaseModel, **fields) -> str:
    """The ``--json`` document of ``command``: its fields, then the resolved spec and its defaults."""
    from .._version import __version__

    values, defaults = resolved(spec)
    body = {"symopt": __version__, "json_version": JSON_VERSION, "command": command}
    body.update({name: plain(value) for name, value in fields.items()})
    body["spec"], body["defaults"] = plain(values), defaults
    return json.dumps(body, indent=2, allow_nan=False)


def spec_text(spec: BaseModel) -> str:
    """The resolved spec as TOML-like text, each key that took its default marked ``# default``; options left
    to the library (None) are left out."""
    values, defaults = resolved(spec)
    marked = set(defaults)
    lines = []

    def table(name: str, body: dict, path: tuple) -> None:
        scalars = {k: v for k, v in body.items() if not isinstance(v, dict) and not _tables(v)}
        if scalars:
            lines.append(f"[{name}]")
        for k, v in scalars.items():
            if v is not None:
                note = "   # default" if dotted(path + (k,)) in marked else ""
                lines.append(f"{_key(k)} = {_toml(v)}{note}")
        for k, v in body.items():
            if isinstance(v, dict):
                table(f"{name}.{_key(k)}", v, path + (k,))
            elif _tables(v):
                for index, item in enumerate(v):
                    lines.append(f"[[{name}.{k}]]")
                    for ik, iv in item.items():
                        if iv is not None:
                            note = "   # default" if dotted(path + (k, index, ik)) in marked else ""
                            lines.append(f"{_key(ik)} = {_toml(iv)}{note}")

    for name, body in values.items():  # top-level keys (constraints, new_params) first, where given
        if not isinstance(body, dict) and body is not None and name not in marked:
            lines.append(f"{_key(name)} = {_toml(body)}")
    for name, body in values.items():
        if isinstance(body, dict):
            table(name, body, (name,))
    return "\n".join(lines)


def _tables(value) -> bool:
    return isinstance(value, list) and bool(value) and isinstance(value[0], dict)


def _key(name: str) -> str:
    return name if name.replace("_", "").isalnum() and name.isascii() else json.dumps(name)


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value) if isinstance(value, str) else str(value)

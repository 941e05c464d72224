"""Where the data of a spec are: ``--data``, or the spec's ``data.path`` inside the spec's own folder; a file
symopt reads whole (CSV, .npz, .npy) or data Dask reads a chunk at a time (:mod:`.lazy`)."""

from __future__ import annotations

from pathlib import Path

from . import lazy
from .spec import Source, Spec, SpecError

DATA_SUFFIXES = (".csv", ".npz", ".npy")


def data_file(spec: Spec, source: Source, override: str | None = None) -> Path | None:
    """The data file: ``--data`` (any path the user names) or the spec's ``data.path``, which must lead to a
    file inside the spec's own folder (no absolute path, no way out by ``..`` or a link); or data Dask reads a
    chunk at a time (:mod:`.lazy`: Parquet files, a Zarr store, an .npy matrix with ``data.chunks``)."""
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
    if lazy.check_path(path, spec, source, key):
        return path
    if path.suffix.lower() not in DATA_SUFFIXES:
        raise _at(source, key, f"the data file must be .csv (with a header), .npz or .npy, or Parquet (a file, a glob "
                               f"such as big/*.parquet, a folder) or a Zarr store (.zarr); got {path.name[:80]!r}")
    if not path.is_file():
        raise _at(source, key, f"no data file {str(path)[:200]!r}")
    return path


def _at(source: Source, key, message: str) -> SpecError:
    """The error at the spec's ``data.path`` (``key``), or at ``--data`` where the path came from there."""
    return source.error(key, message) if key else SpecError(message, "--data")

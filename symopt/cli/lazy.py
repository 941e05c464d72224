"""Data a spec names that Dask reads a chunk at a time: Parquet (a file, a glob such as ``big/*.parquet``, or a
folder of ``.parquet`` files) through :func:`dask.dataframe.read_parquet`, a Zarr store (a ``.zarr`` folder: a
group of named arrays, or one array with ``data.columns``) through :func:`dask.array.from_zarr`, and an .npy
matrix given ``data.chunks``, memory-mapped and cut into that many rows per chunk.

``symopt check`` opens such data for its column names only (the Parquet schema, the Zarr metadata); a solve gets
Dask arrays by name, so :func:`symopt.solve` takes its Dask path and runs chunk by chunk, never holding the whole
file. Dask, pyarrow and zarr are imported here, and only for such a path (``symopt`` on a CSV never imports
them); a missing one is refused at ``data.path`` with the extra to install, as the library says for matplotlib
and formulaic.
"""

from __future__ import annotations

import glob
import importlib
from pathlib import Path

from ..errors import DataError
from .spec import Source, Spec, SpecError

#: What each lazily read kind of data needs imported, and the packages a user without the ``dask`` extra installs.
NEEDS = {"parquet": (("dask.dataframe", "pyarrow"), "'dask[dataframe]' pyarrow"),
         "zarr": (("dask.array", "zarr"), "'dask[array]' zarr"),
         "npy": (("dask.array",), "'dask[array]'")}
WHAT = {"parquet": "Parquet data", "zarr": "a Zarr store", "npy": "an .npy matrix in chunks (data.chunks)"}


def kind(path: Path, spec: Spec) -> str | None:
    """"parquet", "zarr", "npy" (an .npy matrix with ``data.chunks``) or None (a file :mod:`.build` reads whole)."""
    suffix = path.suffix.lower()
    if suffix == ".zarr":
        return "zarr"
    if suffix == ".parquet" or (path.is_dir() and suffix not in (".csv", ".npz", ".npy")):
        return "parquet"
    if suffix == ".npy" and _chunks(spec) is not None:
        return "npy"
    return None


def _chunks(spec: Spec) -> int | None:
    return spec.data.chunks if spec.data is not None else None


def _error(source: Source, key: tuple | None, message: str) -> SpecError:
    """Located at ``key`` in the spec, or at ``--data`` (``key`` None) where that option named the path."""
    return source.error(key, message) if key else SpecError(message, "--data")


def check_path(path: Path, spec: Spec, source: Source, key: tuple | None) -> bool:
    """Whether ``path`` is read lazily; if it is, that it exists (a glob or folder holding Parquet files, each
    inside the spec's folder when the spec names it), that ``data.chunks`` applies to it, and that what reads it
    is installed. ``data.chunks`` on data read otherwise (a CSV or .npz read whole, Parquet in its files'
    partitions) is refused here too."""
    which = kind(path, spec)
    if _chunks(spec) is not None and which not in ("zarr", "npy"):
        how = "in its files' partitions (row groups)" if which else "whole"
        raise source.error(("data", "chunks"), f"data.chunks sets the rows per chunk of a Zarr store or an .npy "
                                               f"matrix; {path.name[:80]!r} is read {how}: remove it")
    if which is None:
        return False
    if which == "parquet":
        files = parquet_files(path)
        if not files:
            where = f"the folder {path.name[:80]!r} holds" if path.is_dir() else f"{path.name[:80]!r} matches"
            raise _error(source, key, f"{where} no .parquet file")
        outside = [f for f in files if key and not f.resolve().is_relative_to(source.folder)]
        if outside:
            raise _error(source, key, f"{outside[0].name[:80]!r} leads outside the spec's folder "
                                      f"({source.folder}); move the data beside the spec or give --data")
    elif which == "zarr" and not path.is_dir():
        raise _error(source, key, f"no Zarr store (a folder) {str(path)[:200]!r}")
    elif which == "npy" and not path.is_file():
        raise _error(source, key, f"no data file {str(path)[:200]!r}")
    _import(which, source, key)
    return True


def parquet_files(path: Path) -> list[Path]:
    """The Parquet files ``path`` names, in name order: the file, a folder's ``.parquet`` files, a glob's
    matches."""
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.glob("*.parquet") if p.is_file())
    return sorted(Path(p) for p in glob.glob(str(path)) if Path(p).is_file())


def _import(which: str, source: Source, key: tuple | None) -> list:
    modules, packages = NEEDS[which]
    try:
        return [importlib.import_module(name) for name in modules]
    except ImportError as exc:
        missing = (exc.name or modules[0]).split(".")[0]
        raise _error(source, key, f"reading {WHAT[which]} needs {missing}, which is not installed: pip install "
                                  f"'symopt[dask]' (or pip install {packages})") from None


def columns(path: Path, spec: Spec, source: Source) -> list:
    """The column names of Parquet data or a Zarr store, from the Parquet schema or the Zarr metadata (no rows
    are read): the Parquet columns, a Zarr group's arrays, or a Zarr array's ``data.columns``."""
    given = spec.data.columns if spec.data is not None else None
    try:
        if kind(path, spec) == "parquet":
            names = [str(c) for c in _frame(path).columns]
        else:
            import zarr

            store = zarr.open(str(path), mode="r")
            names = list(store.array_keys()) if hasattr(store, "array_keys") else None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SpecError(f"cannot read the data: {str(exc)[:200]}", str(path)) from None
    if names is not None:
        if given is not None:
            raise source.error(("data", "columns"), f"data.columns names the columns of an .npy matrix or a "
                                                    f"single Zarr array; {path.name[:80]!r} names its own: remove it")
        return names
    if given is None:
        raise source.error(("data",), "a Zarr array has no column names: give data.columns (or store the columns "
                                      "as the named arrays of a Zarr group)")
    width = store.shape[1] if len(store.shape) == 2 else 1
    if len(store.shape) > 2 or width != len(given):
        raise source.error(("data", "columns"), f"{path.name} holds an array of shape {tuple(store.shape)}; "
                                                f"data.columns names {len(given)} column(s)")
    return list(given)


def _frame(path: Path):
    import dask.dataframe as dd

    return dd.read_parquet([str(p) for p in parquet_files(path)])


def read(path: Path, spec: Spec, names) -> dict:
    """The columns ``names`` of lazily read data as Dask arrays of one value (or row) per row, aligned by rows.

    Parquet: the columns are read together as one matrix (one pass counts its blocks' rows, so every column
    gets the same chunks); a Zarr group: its arrays (``data.chunks`` rows per chunk, else the store's
    chunks); a Zarr array or an .npy matrix: its columns, in ``data.chunks`` rows (else the store's chunks)."""
    import dask.array as da

    which, names, rows = kind(path, spec), list(names), _chunks(spec)
    if which == "parquet":
        frame = _frame(path)[names]
        wrong = [(n, frame.dtypes[n]) for n in names if frame.dtypes[n].kind not in "biuf"]
        if wrong:
            raise DataError(f"{path.name}: the column {wrong[0][0]!r} holds {wrong[0][1]}, not numbers; give "
                            f"numbers")
        # Not to_dask_array(lengths=True): dask-expr may merge the partitions of its counting pass and not those
        # of the values (2 counts for 4 blocks when 2 of 8 columns are read from 4 files: a ValueError), so the
        # rows are counted on the array's own blocks, one pass before the solve.
        matrix = frame.to_dask_array().compute_chunk_sizes()
        matrix = matrix if matrix.dtype == float else matrix.astype(float)
        return {name: matrix[:, k] for k, name in enumerate(names)}
    if which == "zarr":
        import zarr

        store = zarr.open(str(path), mode="r")
        if hasattr(store, "array_keys"):
            return {name: _from_zarr(da, path, store[name].shape, rows, name) for name in names}
        matrix = _from_zarr(da, path, store.shape, rows)
    else:
        import numpy as np

        mapped = np.load(path, mmap_mode="r", allow_pickle=False)
        matrix = da.from_array(mapped, chunks=(rows,) + (-1,) * (mapped.ndim - 1))
    if matrix.ndim == 1:
        return {spec.data.columns[0]: matrix}
    return {name: matrix[:, k] for k, name in enumerate(spec.data.columns)}


def _from_zarr(da, path: Path, shape: tuple, rows: int | None, component: str | None = None):
    """A Zarr array as a Dask array: in the store's chunks, or ``rows`` rows (and whole rows) per chunk."""
    if rows is None:
        return da.from_zarr(str(path), component=component)
    return da.from_zarr(str(path), component=component, chunks=(rows,) + (-1,) * (len(shape) - 1))


def column_stack(columns: list):
    """The columns side by side, as :func:`numpy.column_stack` does, and lazily where they are Dask arrays
    (NumPy's would compute them): in one column chunk, as the Dask path's kernels read whole rows (else it
    rechunks the matrix, with a note about what the command line did)."""
    from ..distributed import _is_collection

    if columns and _is_collection(columns[0]):
        import dask.array as da

        return da.stack(columns, axis=1).rechunk({1: -1})
    import numpy as np

    return np.column_stack(columns)

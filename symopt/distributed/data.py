"""Dask input read and checked: arrays by name with aligned row chunks, every chunk checked where it lies.

The NumPy path's checks (:func:`symopt.model.data.read_checked`) run on each chunk as it is computed, in one
pass; an error names the chunk's rows in the whole data. Class labels are counted per chunk and judged over all
rows. Nothing is loaded whole: a chunk at a time, on the worker that holds it.
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError, ModelError
from ..model.data import Dataset, read_checked, read_only
from ..model.held import join
from ..model.labels import classes_from, label_counts
from . import _is_collection


class DaskDataset:
    """Checked Dask input: ``arrays`` (Dask arrays by name, float64, their rows in the same chunks, a matrix in
    one column chunk), ``n_rows``, ``n_classes`` (as :class:`~symopt.model.data.Dataset`'s) and ``notes`` (what
    was done to the input: a rechunk, in words). Indexing by name gives the Dask array; the chunks reach the
    kernels as NumPy :class:`~symopt.model.data.Dataset` objects (:meth:`chunk_blocks`, :func:`chunk_dataset`)."""

    distributed = True

    def __init__(self, arrays: dict, n_rows: int, n_classes: int, notes: tuple = ()):
        self.arrays, self.n_rows, self.n_classes, self.notes = arrays, n_rows, n_classes, notes
        self.names = tuple(arrays)
        first = next(iter(arrays.values()))
        self.row_chunks = tuple(int(c) for c in first.chunks[0])
        self.bundles = None  # each chunk's arrays as one persisted tuple (:meth:`hold`)
        self.placement = None  # (worker address, the bundles' indexes in chunk order) per task of a pass
        self.futures = None  # the bundles' futures, which the tasks of a pass take

    def __getitem__(self, name: str):
        return self.arrays[name]

    def chunk_blocks(self) -> list:
        """Per row chunk, what a pass's task takes: one delayed tuple of the chunk's arrays (all of them, in
        :attr:`names`' order) where they are held together on one worker (:meth:`hold`), else the delayed
        blocks themselves."""
        if self.bundles is not None:
            return [(bundle,) for bundle in self.bundles]
        return list(zip(*[self.arrays[name].to_delayed().ravel() for name in self.names]))

    def hold(self) -> str:
        """Where the arrays are persisted on a ``dask.distributed`` cluster (every chunk of every array a future
        there: ``X.persist()``) and that client runs the passes, put each chunk's arrays together on one worker
        once (a tuple per chunk, persisted: the worker holding the chunk of ``X`` keeps its own array and takes a
        copy of the others' once), so no pass moves data between workers. Data not persisted are left as they
        are: each pass reads them from their source (out of core). Returns what was done, in words ("" for
        nothing)."""
        import sys

        distributed = sys.modules.get("distributed")
        if distributed is None or self.bundles is not None:
            return ""
        try:
            client = distributed.default_client()
        except ValueError:
            return ""
        import dask

        if dask.base.get_scheduler() != client.get:
            return ""
        if not all(len(distributed.futures_of(a)) >= a.npartitions for a in self.arrays.values()):
            return ""
        tuples = [dask.delayed(tuple, pure=True)(list(blocks)) for blocks in self.chunk_blocks()]
        self.bundles = client.persist(tuples)
        distributed.wait(self.bundles)
        self.futures = [distributed.futures_of(bundle)[0] for bundle in self.bundles]
        moved = _balance(client, self.futures)
        self.placement = _placement(client, self.futures)
        return (f"each chunk's {', '.join(map(repr, self.names))} held together on one worker ({len(tuples)} "
                f"chunks{f', {moved} copied to even the workers out' if moved else ''}), so the passes move no "
                f"data; a pass is one task per worker thread, over its chunks")

    def __repr__(self) -> str:
        return f"<DaskDataset {', '.join(self.names)}: {self.n_rows:,} rows in {len(self.row_chunks)} chunks>"


def _same(value):
    return value


def _balance(client, futures) -> int:
    """Move chunks (their tuples, in place in ``futures``) from workers holding more than their share (by their
    threads) to those holding fewer, so a pass's tasks take equal time; returns how many moved. A moved chunk
    is a copy: the worker that held it keeps the user's persisted arrays."""
    holders = client.who_has(futures)
    threads = {worker: max(1, int(n)) for worker, n in client.nthreads().items()}
    if len(threads) < 2 or any(not holders.get(f.key) for f in futures):
        return 0
    workers = sorted(threads)
    total = sum(threads.values())
    share = {w: len(futures) * threads[w] // total for w in workers}
    for w in workers[: len(futures) - sum(share.values())]:
        share[w] += 1
    held = {w: [] for w in workers}
    for index, future in enumerate(futures):
        held.setdefault(sorted(holders[future.key])[0], []).append(index)
    spare = [i for w in workers for i in held[w][share[w]:]]
    moved = 0
    for w in workers:
        for _ in range(share[w] - len(held[w])):
            index = spare.pop()
            futures[index] = client.submit(_same, futures[index], workers=[w], allow_other_workers=False, pure=False)
            moved += 1
    if moved:
        import distributed

        distributed.wait(futures)
    return moved


def _placement(client, futures) -> list | None:
    """The tasks of a pass over the persisted bundles ``futures``: per worker thread, ``(worker address,
    indexes)``, each worker's chunks (in chunk order) split evenly among its threads; None where a bundle's place
    is unknown."""
    holders = client.who_has(futures)
    threads = client.nthreads()
    by_worker: dict = {}
    for index, future in enumerate(futures):
        where = holders.get(future.key) or ()
        if not where:
            return None
        by_worker.setdefault(sorted(where)[0], []).append(index)
    tasks = []
    for worker in sorted(by_worker):
        indexes, n = by_worker[worker], max(1, int(threads.get(worker, 1)))
        tasks += [(worker, indexes[k::n]) for k in range(min(n, len(indexes)))]
    return tasks


def chunk_dataset(names, n_classes: int, blocks, wanted=None) -> Dataset:
    """The NumPy :class:`~symopt.model.data.Dataset` of one chunk (``blocks``: its arrays, in ``names``' order, or
    one tuple of them), of the arrays ``wanted`` (all by default), float64 and C-contiguous (no copy where they
    are already), read-only as the kernels take data."""
    if len(blocks) == 1 and isinstance(blocks[0], tuple):
        blocks = blocks[0]
    by_name = dict(zip(names, blocks))
    arrays = {name: read_only(np.ascontiguousarray(by_name[name], dtype=float)) for name in (wanted or names)}
    return Dataset(arrays, next(iter(arrays.values())).shape[0], n_classes)


def needed(objective) -> list:
    """The arrays the objective's form reads, by name."""
    if objective.form.matrix_data:
        target = objective.target.name
        return ["X", target] + [s.name for s in objective.data_symbols if s.name != target]
    return list(objective.data_names)


def _mapping(objective, data) -> dict:
    """``data`` as a mapping of names to values (``(X, y)`` and a Dask DataFrame's columns included)."""
    if isinstance(data, tuple):
        if not objective.form.matrix_data or len(data) != 2:
            raise DataError("a (X, y) pair is for a LinearModel over a data matrix; this objective needs arrays by "
                            "name: {" + ", ".join(f"'{n}': ..." for n in objective.data_names) + "}")
        return {"X": data[0], objective.target.name: data[1]}
    if _is_collection(data) and hasattr(data, "columns"):  # a Dask DataFrame: its columns by name
        return {str(c): data[c] for c in data.columns}
    if not hasattr(data, "keys"):
        raise DataError(f"data must be a mapping from names to arrays, got {type(data).__name__}")
    return data


def _as_dask_array(name: str, value, rows):
    """``value`` as a Dask array of float64: a Dask array as it is, a Dask Series (or one-column DataFrame) by
    its partitions, anything else (a NumPy array held by ``offset=``, say) cut into the chunks ``rows``."""
    import dask.array as da

    if _is_collection(value):
        if hasattr(value, "to_dask_array"):  # (lengths=True miscounts a Parquet frame's merged partitions in
            value = value.to_dask_array()    # dask 2026.8: the chunk sizes are computed below instead)
        if not hasattr(value, "chunks"):
            raise DataError(f"data {name!r} is a {type(value).__name__}; give a Dask array, Series or DataFrame")
    else:
        values = np.asarray(value)
        if values.dtype.kind not in "biuf":
            raise DataError(f"data {name!r} is not numbers (dtype {values.dtype}); give numbers")
        value = da.from_array(values, chunks=(rows,) + values.shape[1:] if rows is not None else "auto")
    if value.dtype.kind not in "biuf":
        raise DataError(f"data {name!r} is not numbers (dtype {value.dtype}); give numbers")
    if any(np.isnan(c) for c in value.chunks[0]):
        value = value.compute_chunk_sizes()
    return value.astype(float) if value.dtype != np.float64 else value


def prepare_dask(objective, data) -> DaskDataset:
    """Check Dask ``data`` against what ``objective`` needs (as :func:`symopt.model.data.prepare` checks NumPy
    data), in one pass over the chunks, and return a :class:`DaskDataset`."""
    import dask

    if objective.form.no_dask:
        raise ModelError(f"Dask input is not taken for {objective.form.noun}: {objective.form.no_dask}")
    data = _mapping(objective, join(objective, _mapping(objective, data)))
    names = needed(objective)
    missing = [name for name in names if name not in data]
    if missing:
        raise DataError(f"data has no array named {missing[0]!r}; the objective needs {', '.join(names)}")
    first = next((name for name in names if _is_collection(data[name])), None)
    reference = _as_dask_array(first, data[first], None)
    rows = reference.chunks[0]
    notes, arrays = [], {}
    for name in names:
        array = reference if name == first else _as_dask_array(name, data[name], rows)
        if array.ndim == 0 or array.shape[0] != reference.shape[0]:
            raise DataError(f"data arrays have different numbers of rows ({first}: {reference.shape[0]}, {name}: "
                            f"{array.shape[0] if array.ndim else 'a number'}); every array needs one value per row")
        if array.chunks[0] != rows:
            array = array.rechunk({0: rows})
            notes.append(f"{name!r} rechunked to the row chunks of {first!r} ({len(rows)} chunks), once, so each "
                         f"chunk's rows are together")
        if array.ndim == 2 and len(array.chunks[1]) > 1:
            array = array.rechunk({1: -1})
            notes.append(f"{name!r} rechunked to one column chunk ({len(rows)} row chunks): a chunk's kernel reads "
                         f"whole rows")
        arrays[name] = array
    checks = []
    lo = 0
    for blocks, size in zip(zip(*[arrays[name].to_delayed().ravel() for name in names]), rows):
        checks.append(dask.delayed(_check_chunk, pure=True)(objective, tuple(names), lo, lo + size, *blocks))
        lo += size
    results = dask.compute(*checks)
    n_rows = int(sum(r[0] for r in results))
    n_classes = 0
    if objective.form.class_labels:
        width = max(r[1].size for r in results)
        counts = sum(np.pad(r[1], (0, width - r[1].size)) for r in results)
        n_classes = classes_from(objective, counts, n_rows)
    dataset = DaskDataset(arrays, n_rows, n_classes, tuple(notes))
    held = dataset.hold()
    if held:
        dataset.notes += (held,)
    return dataset


def _check_chunk(objective, names, lo: int, hi: int, *blocks):
    """``(rows, label counts or None)`` of one chunk, checked as the NumPy path checks all rows; an error
    names the chunk's rows in the whole data."""
    try:
        arrays, n = read_checked(objective, dict(zip(names, blocks)))
        if objective.form.class_labels:
            return n, label_counts(objective, arrays[objective.target.name])
        objective.form.check_rows(arrays, n)
        return n, None
    except DataError as exc:
        raise DataError(f"{exc} (in the chunk of rows {lo} to {hi - 1} of the Dask input: row numbers are within "
                        f"the chunk)") from None


#: Dask input is computed into memory for a service that reads every row in one array only up to this share of
#: the memory available (``psutil``, which ``distributed`` brings).
MEMORY_SHARE = 0.5


def computed(objective, data, service: str) -> dict:
    """``data`` read as for a solve, each array computed into NumPy, for ``service``; a :class:`DataError` where
    they take more than :data:`MEMORY_SHARE` of the memory available (say what to do instead)."""
    import dask

    data = _mapping(objective, data)
    names = [name for name in data.keys()]
    arrays = {name: data[name] for name in names}
    size = sum(int(np.prod(getattr(a, "shape", (0,)))) * 8 for a in arrays.values() if _is_collection(a))
    try:
        import psutil

        available = psutil.virtual_memory().available
    except ImportError:  # without psutil, no limit is known: computed as asked
        available = None
    if available is not None and size > MEMORY_SHARE * available:
        raise DataError(f"{service} reads every row in one array, and the Dask input is {size / 2**30:.1f} GiB "
                        f"against {available / 2**30:.1f} GiB of memory available; pass a sample that fits "
                        f"(X[:100_000]) or the computed arrays")
    lazy = [name for name in names if _is_collection(arrays[name])]
    values = dask.compute(*[_column(arrays[name]) for name in lazy])
    arrays.update(zip(lazy, values))
    return arrays


def _column(value):
    """A Dask Series as its array, anything else as it is (Dask computes it)."""
    return value.to_dask_array() if hasattr(value, "to_dask_array") else value

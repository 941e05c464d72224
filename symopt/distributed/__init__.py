"""Dask input: the same generated kernels, run once per chunk where the chunk is, the partial sums added by Dask.

Takes a problem and Dask collections (arrays, a mapping of them, ``(X, y)``, a Dask DataFrame); gives the
problem's stages what they give on NumPy data (a checked dataset, closed forms, iterative runs), each pass over
the data a Dask pass. Every data-dependent quantity symopt computes is a sum over rows, so chunks compose:

- :mod:`.data` reads Dask arrays (a mapping of them, ``(X, y)``, or a Dask DataFrame), aligns their row chunks
  (rechunking once, with a note) and checks every chunk where it lies, in one pass;
- :mod:`.passes` runs a function on every chunk as a NumPy :class:`~symopt.model.data.Dataset` and adds the
  results in a tree (the objective, gradient and Hessian through the compiled kernels; J^T J; statistics);
- :mod:`.solve` solves: the linear closed form from a tall QR, the symbolic one from summed statistics, and the
  iterative optimizers on the client with one Dask pass per evaluation;
- :mod:`.inference` forms standard errors from summed per-chunk pieces.

Nothing here is imported unless the data are Dask collections (:func:`is_dask` looks at type names only), so
symopt without the ``dask`` extra neither needs nor imports Dask.
"""

from __future__ import annotations


def _is_collection(value) -> bool:
    """Whether ``value`` is a Dask collection (array, DataFrame or Series), judged without importing Dask."""
    module = type(value).__module__ or ""
    return module.split(".")[0] in ("dask", "dask_expr") and hasattr(value, "__dask_graph__")


def is_dask(data) -> bool:
    """Whether ``data`` (what ``solve`` was given) is, or holds, a Dask collection."""
    if data is None:
        return False
    if _is_collection(data):
        return True
    if isinstance(data, tuple):
        return any(_is_collection(v) for v in data)
    if type(data).__module__.startswith("pandas"):
        return False
    keys = getattr(data, "keys", None)
    if keys is None or not hasattr(data, "__getitem__"):
        return False
    try:
        return any(_is_collection(data[k]) for k in keys())
    except Exception:  # noqa: BLE001 - an odd mapping: the NumPy reader says what is wrong with it
        return False

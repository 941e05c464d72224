"""One Dask pass: a function run on every chunk where it lies, its results added in a tree.

A chunk reaches the function as a NumPy :class:`~symopt.model.data.Dataset`, so the NumPy path's code (the
compiled kernels, the NumPy evaluation of the derivation, the closed forms' statistics) runs on it unchanged.
Kernels travel as :class:`Kernel` (the generated module's source and name: a worker loads the module from its
cache folder once, compiling it there if needed) and run serially inside a task: Dask's threads or workers are
the parallelism, so no Numba thread pool competes with them (:func:`symopt.numerics.threads.thread_budget` is 1
in a Dask task).

Totals: each chunk gives its objective's value (its reduction over its own rows, the penalty included) and
derivatives. Over chunks of ``n_c`` rows, ``F = sum_c w_c F_c - (sum_c w_c - 1) P`` with ``w_c = n_c / n`` for
a mean (whose weights add to 1: the penalty needs no correction) and ``w_c = 1`` for a sum, ``P`` the penalty.
"""

from __future__ import annotations

import numpy as np

from ..codegen import cache
from .data import chunk_dataset

class Kernel:
    """A function of a generated module, picklable: what travels is the module's source, stem and the
    function's name; a process loads the module once (:func:`symopt.codegen.cache.load` keeps it by the
    source's hash)."""

    def __init__(self, source: str, stem: str, name: str):
        self.source, self.stem, self.name = source, stem, name

    def __call__(self, *args):
        module, _ = cache.load(self.source, self.stem)
        return getattr(module, self.name)(*args)

    def __reduce__(self):
        return Kernel, (self.source, self.stem, self.name)


def _add(a, b):
    if isinstance(a, tuple):
        return tuple(_add(u, v) for u, v in zip(a, b))
    if isinstance(a, dict):
        return {key: _COMBINE.get(key, _add)(a[key], b[key]) for key in a}
    return a + b


def _stacked_triangle(a, b):
    """The triangle of two stacked triangles (a tall QR's step: ``R`` with ``R^T R = A^T A + B^T B``)."""
    return np.linalg.qr(np.vstack([a, b]), mode="r")


def _moments(a, b):
    """Weighted count, mean and centred sum of squares of two parts, combined (Chan, Golub and LeVeque 1979):
    the centred sum stays accurate where the mean is large against the spread."""
    wa, ma, sa = a
    wb, mb, sb = b
    w = wa + wb
    if w == 0:
        return a
    delta = mb - ma
    return w, ma + delta * wb / w, sa + sb + delta * delta * wa * wb / w


#: How a piece of a dict a chunk returns is combined, by its key (the others are added): a triangle is stacked
#: and factored again, moments combined, extremes kept, the first chunk's row kept.
_COMBINE = {"R": _stacked_triangle, "moments": _moments, "low": np.minimum, "high": np.maximum,
            "first": lambda a, b: a}


#: How many parts one task of the tree combines: a wide tree has fewer tasks, and a task of the scheduler costs
#: more than adding a few vectors (measured on a 2-worker LocalCluster, 20 chunks: about 2 ms a task).
FAN_IN = 8


def _add_all(*parts):
    total = parts[0]
    for part in parts[1:]:
        total = _add(total, part)
    return total


def tree_sum(parts: list):
    """The delayed total of the delayed ``parts`` (arrays, numbers, or tuples or dicts of them: a dict's pieces
    combined by their keys, :data:`_COMBINE`), combined :data:`FAN_IN` at a time in a tree, in chunk order."""
    import dask

    add = dask.delayed(_add_all, pure=True)
    while len(parts) > 1:
        parts = [add(*parts[i:i + FAN_IN]) if len(parts[i:i + FAN_IN]) > 1 else parts[i]
                 for i in range(0, len(parts), FAN_IN)]
    return parts[0]


def chunk_sum(dataset, fn, *args, names=None):
    """``fn(chunk, *args)`` over every chunk (a NumPy Dataset of the arrays ``names``, all by default), combined
    (:func:`tree_sum`), computed by Dask's scheduler in force (a ``distributed`` client where one is set)."""
    import dask

    wanted = None if names is None else tuple(names)
    if dataset.placement is not None:  # held on the workers: one task per worker thread, over its own chunks
        return _on_workers(dataset, fn, wanted, args)
    call = dask.delayed(_on_chunk, pure=False)
    parts = [call(fn, dataset.names, wanted, dataset.n_classes, args, *blocks) for blocks in dataset.chunk_blocks()]
    (total,) = dask.compute(tree_sum(parts))
    return total


def _on_chunk(fn, names, wanted, n_classes, args, *blocks):
    return fn(chunk_dataset(names, n_classes, blocks, wanted), *args)


def _on_chunks(fn, names, wanted, n_classes, args, *bundles):
    """``fn`` over several chunks in one task (each a tuple of its arrays), the results combined in order."""
    return _add_all(*[fn(chunk_dataset(names, n_classes, (bundle,), wanted), *args) for bundle in bundles])


def _on_workers(dataset, fn, wanted, args):
    """:func:`chunk_sum` over chunks held on the workers (:meth:`DaskDataset.hold`): a task per worker thread,
    pinned to the worker that holds its chunks, the few results combined here in a fixed order."""
    import distributed

    client = distributed.default_client()
    futures = [client.submit(_on_chunks, fn, dataset.names, wanted, dataset.n_classes, args,
                             *[dataset.futures[i] for i in indexes], workers=[worker], allow_other_workers=True,
                             pure=False)
               for worker, indexes in dataset.placement]
    return _add_all(*client.gather(futures))


def weight(objective, chunk, n_rows: int) -> float:
    """``w_c`` of the module's note: the chunk's share of the rows for a mean, 1 for a sum."""
    return chunk.n_rows / n_rows if objective.reduction == "mean" else 1.0


def penalty(objective, mask: np.ndarray, theta: np.ndarray):
    """``(P, its gradient, its Hessian's diagonal)``: the ridge penalty as the objective adds it (subtracted
    where it is maximised)."""
    sign = -1.0 if objective.maximize else 1.0
    l2 = float(objective.l2)
    return sign * l2 * float(np.sum(mask * theta * theta)), sign * 2.0 * l2 * mask * theta, sign * 2.0 * l2 * mask


def excess(objective, dataset) -> float:
    """``sum_c w_c - 1``: how many times the chunks' totals count the penalty beyond once."""
    return 0.0 if objective.reduction == "mean" else len(dataset.row_chunks) - 1.0


# --- the kernels' passes ------------------------------------------------------------------------------------------

def _kernel_value_grad(chunk, kernel, data_names, theta, scale):
    """A chunk's data term and its gradient through the generated kernel (no penalty), as sums over its rows."""
    grad = np.zeros(theta.size)
    with np.errstate(all="ignore"):
        value = kernel(theta, *[chunk[name] for name in data_names], np.zeros(theta.size), 0.0, grad)
    w = chunk.n_rows if scale else 1.0
    out = np.empty(theta.size + 1)
    out[0], out[1:] = value * w, grad * w
    return out


def _kernel_value_grad_hess(chunk, kernel, data_names, theta, scale):
    p = theta.size
    grad, hess = np.zeros(p), np.zeros((p, p))
    with np.errstate(all="ignore"):
        value = kernel(theta, *[chunk[name] for name in data_names], np.zeros(p), 0.0, grad, hess)
    w = chunk.n_rows if scale else 1.0
    return np.float64(value * w), grad * w, hess * w


class KernelPasses:
    """The generated module's objective kernels over Dask chunks: what the optimizer loop on the client calls in
    place of the module's own (:func:`symopt.distributed.solve.dask_module`), with the module's signatures."""

    def __init__(self, objective, dataset, rendered):
        self.objective, self.dataset = objective, dataset
        self.data_names = tuple(rendered.data_names)
        self.mean = objective.reduction == "mean"
        self.value_grad = Kernel(rendered.source, rendered.stem, "objective_and_gradient")
        self.value_grad_hess = Kernel(rendered.source, rendered.stem, "objective_gradient_hessian")
        self.passes = 0

    def _scale(self) -> float:
        return 1.0 / self.dataset.n_rows if self.mean else 1.0

    def objective_and_gradient(self, theta, *args):
        mask, l2, grad = args[-3:]
        self.passes += 1
        total = chunk_sum(self.dataset, _kernel_value_grad, self.value_grad, self.data_names,
                          np.array(theta, dtype=float), self.mean, names=self.data_names)
        sign = -1.0 if self.objective.maximize else 1.0
        s = self._scale()
        grad[:] = total[1:] * s + sign * 2.0 * l2 * mask * theta
        return total[0] * s + sign * l2 * float(np.sum(mask * theta * theta))

    def objective_gradient_hessian(self, theta, *args):
        mask, l2, grad, hess = args[-4:]
        self.passes += 1
        value, g, h = chunk_sum(self.dataset, _kernel_value_grad_hess, self.value_grad_hess, self.data_names,
                                np.array(theta, dtype=float), self.mean, names=self.data_names)
        sign = -1.0 if self.objective.maximize else 1.0
        s = self._scale()
        grad[:] = g * s + sign * 2.0 * l2 * mask * theta
        hess[:, :] = h * s
        hess[np.diag_indices_from(hess)] += sign * 2.0 * l2 * mask
        return float(value) * s + sign * l2 * float(np.sum(mask * theta * theta))

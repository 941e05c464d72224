"""Which of a network's two generated modules its passes run, and on how many threads.

A network with convolutions has a serial module and a parallel twin (``render_network(..., parallel=True)``) whose
convolutions, pooling and activations deal their blocks to Numba's threads; both deal the same blocks in the same
order, so they give the same results, bit for bit. The serial module is the default: it never starts Numba's
thread pool (which breaks fork-based workers: :mod:`symopt.numerics.threads`) and it is the faster one for small
convolutions and on a loaded machine.
"""

from __future__ import annotations

import contextlib

import numpy as np

from ..model.layer_specs import Conv2D
from ..numerics import threads
from ..optimizers.first_order import _FirstOrder

#: Multiply-adds of a network's convolutions per pass (a minibatch, or a chunk of ``pass_rows`` rows) from which it
#: trains with the parallel module, whose convolutions, pooling and activations split their blocks across Numba's
#: threads. Measured (LeNet-5 on 28 x 28 inputs, float32, ms per forward and backward pass, 2 cores): quiet, serial
#: / parallel 5.4 / 3.3-3.9 at batch 64 (23 million multiply-adds) and 17.5 / 10.0 at batch 256 (92 million); with a
#: second process spinning on the other core 4.6 / 7.3 and 17.8 / 22.0 (one of the two halves waits for a shared
#: core). The digits CNN of the tests at batch 8 (2.5 million) ran 0.54-0.73 / 0.71-0.78. So below this the
#: serial module runs: it gains little quiet and loses most under load.
PARALLEL_MIN_CONV_WORK = 32_000_000


def conv_work(net) -> int:
    """Multiply-adds of ``net``'s convolutions per row (input), forward."""
    work = 0
    for layer, shape_in, shape_out in zip(net.layers, net.input_shapes(), net.layer_shapes):
        if isinstance(layer, Conv2D):
            work += int(np.prod(shape_out)) * shape_in[0] * int(np.prod(layer.kernel_size))
    return work


def parallel_wanted(net, rows: int) -> bool:
    """Whether passes of ``rows`` rows through ``net`` run the parallel module: convolutions of at least
    :data:`PARALLEL_MIN_CONV_WORK` multiply-adds, and more than one thread in symopt's budget
    (:func:`symopt.numerics.threads.thread_budget`: 1 in a Dask task, in a child forked after Numba's pool
    started, under ``numba.set_num_threads(1)`` or a ``threadpoolctl`` limit)."""
    if conv_work(net) * rows < PARALLEL_MIN_CONV_WORK:
        return False
    return threads.thread_budget() > 1


def pass_rows(net, optimizer, n_rows: int) -> int:
    """The rows of one forward and backward pass when ``optimizer`` trains ``net`` on ``n_rows`` rows."""
    if not isinstance(optimizer, _FirstOrder):  # L-BFGS: passes over all rows in chunks
        return min(n_rows, net.pass_rows)
    return min(n_rows, optimizer.batch_size or n_rows)


@contextlib.contextmanager
def threads_of(parallel: bool):
    """The threads a network's passes run on, given as the ``with`` target: with the parallel module, symopt's
    thread budget for Numba's threads and one for BLAS (OpenBLAS's own threads, called from each Numba thread at
    once, would oversubscribe the cores); with the serial module, the budget for BLAS. The budget is read
    before BLAS is limited (inside, :func:`symopt.numerics.threads.thread_budget` reads that limit)."""
    budget = threads.thread_budget()
    if not parallel:
        with threads.blas_threads(budget):
            yield budget
        return
    with threads.threads_for(True), threads.blas_threads(1):
        yield budget

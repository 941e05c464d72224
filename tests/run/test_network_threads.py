"""The parallel twin of a network's module (convolutions, pooling and activations split across Numba's threads):
the serial module's loss, gradients, outputs and trained parameters bit for bit; blocks of output rows that split
one image; chosen only for large convolutions with more than one thread to use. Each module compiles once per
test module (module-scoped fixtures)."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import symopt
from symopt.codegen.network_trainer import render_network
from symopt.model.data import prepare
from symopt.numerics import threads
from symopt.run import epochs, network_threads

ROWS = 13


def _problem():
    """Every layer type a parallel module splits: a batch-normed "same" convolution, max pooling, a convolution of
    stride 2 with zero padding, average pooling, then flatten, dropout and a dense layer."""
    shape = (2, 9, 8)
    layers = [symopt.Conv2D(3, 3, padding="same", batch_norm=True), symopt.MaxPool2D(2),
              symopt.Conv2D(4, 3, stride=2, padding=1, activation="tanh"), symopt.AvgPool2D(2, stride=1),
              symopt.Flatten(), symopt.Dropout(0.3), symopt.Dense(3)]
    net = symopt.Network(shape, layers, init="glorot", seed=3)
    rng = np.random.default_rng(7)
    X = rng.normal(size=(ROWS, *shape))
    y = rng.integers(0, 3, ROWS).astype(float)
    objective = symopt.cross_entropy(net, l2=0.01)
    optimizer = symopt.Adam(lr=0.01, batch_size=5, epochs=3, seed=0)
    return objective, optimizer, (X, y)


@pytest.fixture(scope="module")
def twins():
    objective, optimizer, data = _problem()
    derivation = symopt.derive(objective)
    serial = epochs.load(objective, derivation, optimizer)[1]
    parallel = epochs.load(objective, derivation, optimizer, parallel=True)[1]
    return objective, optimizer, data, serial, parallel


def test_the_parallel_module_is_the_twin_of_the_serial_one(twins):
    objective, _, _, serial, parallel = twins
    assert "prange" in open(parallel.__file__).read() and "prange" not in open(serial.__file__).read()
    assert parallel.__file__ != serial.__file__


def test_loss_gradient_and_outputs_are_the_serial_modules_bit_for_bit(twins):
    objective, _, (X, y), serial, parallel = twins
    net = objective.model
    dataset = prepare(objective, (X, y))
    theta = net.initial() + np.random.default_rng(1).normal(0.0, 0.1, net.size())
    f_s, g_s = epochs.value_and_gradient_at(serial, objective, dataset, theta)
    f_p, g_p = epochs.value_and_gradient_at(parallel, objective, dataset, theta)
    assert np.isfinite(f_s) and np.all(np.isfinite(g_s)) and np.any(g_s != 0.0)
    assert f_p == f_s
    np.testing.assert_array_equal(g_p, g_s)
    stats = net.initial_buffers()
    for rows in (dataset["X"], dataset["X"][:1]):  # all rows, and one image alone
        np.testing.assert_array_equal(parallel.outputs(theta, stats, rows), serial.outputs(theta, stats, rows))


def _reference_conv(A, K, pad):
    """Cross-correlation by shifted slices (NumPy): the definition, for a few images."""
    P = np.pad(A, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    O, C, kh, kw = K.shape
    Ho, Wo = P.shape[2] - kh + 1, P.shape[3] - kw + 1
    Z = np.zeros((A.shape[0], O, Ho, Wo))
    for u in range(kh):
        for v in range(kw):
            Z += np.einsum("oc,bcij->boij", K[:, :, u, v], P[:, :, u:u + Ho, v:v + Wo])
    return Z


def test_blocks_of_output_rows_split_an_image_and_lanes_add_the_kernel_gradient(twins):
    """4 x 40 x 40 images, 3 x 3 kernels: a forward block holds 23 of an image's 40 output rows, so blocks split
    images (and one image alone is split across lanes); the backward pass deals one image per block, each lane
    summing its part of dK. Both modules against the definition, by the functions of the generated module."""
    _, _, _, serial, parallel = twins
    rng = np.random.default_rng(5)
    K = rng.normal(size=(6, 4, 3, 3))
    for images in (1, 3):
        A = rng.normal(size=(images, 4, 40, 40))
        G = rng.normal(size=(images, 6, 40, 40))
        expected = _reference_conv(A, K, 1)
        # dF/dK and dF/dA of F = sum(G * conv(A, K)), by the definition
        P = np.pad(A, ((0, 0), (0, 0), (1, 1), (1, 1)))
        dK_expected = np.array([[[[np.sum(G[:, o] * P[:, c, u:u + 40, v:v + 40]) for v in range(3)] for u in range(3)]
                                 for c in range(4)] for o in range(6)])
        dP = np.zeros_like(P)
        for u in range(3):
            for v in range(3):
                dP[:, :, u:u + 40, v:v + 40] += np.einsum("oc,boij->bcij", K[:, :, u, v], G)
        dA_expected = dP[:, :, 1:41, 1:41]
        for module in (serial, parallel):
            Z = np.empty((images, 6, 40, 40))
            module._conv_forward(A, K, Z, 1, 1, 1, 1)
            np.testing.assert_allclose(Z, expected, rtol=1e-12, atol=1e-12)
            dK, dA = np.empty_like(K), np.empty_like(A)
            module._conv_backward(A, K, G, dK, dA, 1, 1, 1, 1, True)
            np.testing.assert_allclose(dK, dK_expected, rtol=1e-11, atol=1e-10)
            np.testing.assert_allclose(dA, dA_expected, rtol=1e-12, atol=1e-12)


def test_the_parallel_module_is_chosen_for_large_convolutions_on_more_than_one_thread():
    objective, optimizer, _ = _problem()
    net = objective.model
    lenet_like = symopt.Network((1, 28, 28), [symopt.Conv2D(6, 5, padding="same"), symopt.MaxPool2D(2),
                                              symopt.Conv2D(16, 5), symopt.Flatten(), symopt.Dense(10)])
    dense = symopt.Network(784, [symopt.Dense(512, "relu"), symopt.Dense(10)])
    # 28 * 28 * 6 * 25 + 10 * 10 * 16 * 150 multiply-adds a row: 357,600
    assert network_threads.conv_work(lenet_like) == 28 * 28 * 6 * 25 + 10 * 10 * 16 * 150
    assert network_threads.conv_work(dense) == 0
    assert not network_threads.parallel_wanted(net, 256)  # small convolutions: the serial module
    assert not network_threads.parallel_wanted(dense, 100_000)
    assert not network_threads.parallel_wanted(lenet_like, 64)
    with threadpool_limits(1):  # a thread budget of one: the serial module, whatever the work
        assert not network_threads.parallel_wanted(lenet_like, 256)
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: the parallel module is never wanted")
    assert network_threads.parallel_wanted(lenet_like, 256)
    assert network_threads.pass_rows(net, optimizer, 1000) == 5
    assert network_threads.pass_rows(net, symopt.LBFGS(), 10**6) == net.pass_rows


def test_a_solve_with_the_parallel_module_trains_the_same_weights(twins, monkeypatch):
    """Forced on at this size (the threshold set to zero): the result names the threads, its parameters are the
    serial solve's bit for bit, and a pickled result names the serial module (the one a worker can always run)."""
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: the parallel module is never chosen")
    objective, optimizer, data, _, _ = twins
    serial = symopt.Problem(objective, optimizer).solve(data, progress=False)
    monkeypatch.setattr(network_threads, "PARALLEL_MIN_CONV_WORK", 0)
    parallel = symopt.Problem(objective, optimizer).solve(data, progress=False)
    assert "convolutions split across" in parallel.why and "convolutions split" not in serial.why, parallel.why
    assert serial.success and parallel.success
    np.testing.assert_array_equal(parallel.x, serial.x)
    np.testing.assert_array_equal(parallel.predict(data[0]), serial.predict(data[0]))
    again = pickle.loads(pickle.dumps(parallel))
    assert "_parallel" not in again.predictor._key[1]
    np.testing.assert_array_equal(again.predict(data[0]), serial.predict(data[0]))


def test_a_predictor_on_one_thread_runs_the_serial_module(twins, monkeypatch):
    """Where the thread budget is one thread (a child forked after Numba's pool started, a Dask task), the
    twin's OpenMP threads cannot run: the predictor loads the serial module named by its key and predicts the
    same."""
    objective, optimizer, (X, _), serial, parallel = twins
    net = objective.model
    rendered = render_network(objective, symopt.derive(objective), optimizer)
    theta, stats = net.initial(), net.initial_buffers()
    predictor = epochs.Predictor(parallel, objective, theta, stats, (rendered.source, rendered.stem))
    expected = epochs.Predictor(serial, objective, theta, stats).outputs(X)
    np.testing.assert_array_equal(predictor.outputs(X), expected)  # the twin, on the budget's threads
    assert predictor.module is parallel
    monkeypatch.setattr(threads, "thread_budget", lambda: 1)
    np.testing.assert_array_equal(predictor.outputs(X), expected)
    assert predictor.module is not parallel and "prange" not in open(predictor.module.__file__).read()

"""Sizes are checked for size, not only for sign (issue 26, item 21): a request that would need more memory than
the machine has available is refused with a SymoptError that says what it would need, before anything of that
size is allocated.

The requests of 10**12 of something need terabytes on any machine and are checked against the real available
memory. Those that fit a large machine (a network of ten Dense(4096) layers with L-BFGS: 36 GiB) are checked
against a machine of a given size (``available_bytes`` replaced), so the test never allocates them anywhere.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import symopt
from symopt.numerics import sizes

#: A test that a refusal came before the allocation: the peak of Python's traced allocations stays below this.
SMALL_PEAK = 64 * 2 ** 20


@pytest.fixture(scope="module")
def decay():
    x = np.linspace(0.1, 2.0, 20)
    objective = symopt.squared_loss(symopt.Model("a*exp(-b*x) + c", "a b c"))
    return objective, {"x": x, "y": 2.0 * np.exp(-0.5 * x) + 0.1}


def machine_of(monkeypatch, nbytes):
    """Run as on a machine with ``nbytes`` available."""
    monkeypatch.setattr(sizes, "available_bytes", lambda: nbytes)


def refused_without_allocating(call, *patterns):
    """``call()`` raises a ModelError whose message matches every pattern, with little memory traced meanwhile."""
    tracemalloc.start()
    try:
        with pytest.raises(symopt.ModelError) as info:
            call()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(info.value)
    for pattern in ("would need at least", "available", *patterns):
        assert pattern in message, message
    assert peak < SMALL_PEAK, f"{peak / 2**20:.0f} MiB traced before the refusal"
    return message


def test_the_available_memory_is_read(monkeypatch):
    have = sizes.available_bytes()
    assert have is None or have > 0
    if have is not None:
        assert sizes.shown_bytes(have).endswith(("MiB", "GiB", "TiB"))
    assert [sizes.shown_bytes(n) for n in (512, 1536, 22.5 * 2 ** 30, 14.6 * 2 ** 40)] == \
        ["512 bytes", "1.5 KiB", "22.5 GiB", "14.6 TiB"]
    machine_of(monkeypatch, None)  # unknown: only what no machine symopt runs on has is refused
    sizes.check_fits(sizes.UNKNOWN_AVAILABLE, "a request")
    with pytest.raises(symopt.ModelError, match="where it cannot read the memory available"):
        sizes.check_fits(sizes.UNKNOWN_AVAILABLE + 1, "a request")


def test_check_gradient_refuses_directions_that_cannot_fit(decay):
    objective, data = decay
    problem = symopt.Problem(objective, backend="python")
    refused_without_allocating(
        lambda: symopt.check_gradient(problem, data, directions=10 ** 12, compiled=False),
        "check_gradient with directions=1,000,000,000,000", "TiB", "fit")


def test_lbfgs_refuses_a_memory_that_cannot_fit_even_one_parameter():
    refused_without_allocating(lambda: symopt.LBFGS(memory=10 ** 12), "LBFGS with memory=1,000,000,000,000", "TiB")


def test_lbfgs_memory_of_the_issue_on_a_16_gib_machine(monkeypatch, decay):
    """LBFGS(memory=10**9) keeps 24 GB of pairs for one parameter: refused on a 16 GiB machine when built; one
    that fits a parameter but not the problem's three is refused when the run is sized, before its state."""
    machine_of(monkeypatch, 16 * 2 ** 30)
    refused_without_allocating(lambda: symopt.LBFGS(memory=10 ** 9), "LBFGS with memory=1,000,000,000")
    machine_of(monkeypatch, 2 ** 30)
    optimizer = symopt.LBFGS(memory=2 * 10 ** 7)  # 480 MB for one parameter: fits 1 GiB
    objective, data = decay
    refused_without_allocating(
        lambda: symopt.solve(objective, data, optimizer=optimizer, backend="python", progress=False),
        "LBFGS on 3 parameters and 20 rows", "lower LBFGS(memory=...)")


def test_a_run_that_fits_is_not_refused(monkeypatch, decay):
    machine_of(monkeypatch, 2 ** 30)
    objective, data = decay
    r = symopt.solve(objective, data, optimizer=symopt.LBFGS(memory=10 ** 5), backend="python", progress=False)
    assert r.success


def test_small_requests_do_not_read_the_memory_available(monkeypatch, decay):
    """Reading it costs as much as a small solve: below CHECKED_FROM it is not read at all."""
    def unread():
        raise AssertionError("the memory available was read for a small request")

    monkeypatch.setattr(sizes, "available_bytes", unread)
    objective, data = decay
    assert symopt.solve(objective, data, optimizer=symopt.LBFGS(), backend="python", progress=False).success
    symopt.Network(3, [symopt.Dense(8), symopt.Dense(1)])


def test_newton_and_levenberg_marquardt_count_their_matrices(monkeypatch):
    """The estimate grows with what each optimizer forms: Newton's p x p systems, LM's (rows + p) x p Jacobian."""
    p, n = 1000, 10 ** 5
    newton = sizes.run_bytes(symopt.Newton(), p, n)
    lm = sizes.run_bytes(symopt.LevenbergMarquardt(), p, n)
    lbfgs = sizes.run_bytes(symopt.LBFGS(), p, n)
    assert newton >= 4 * p * p * sizes.FLOAT > lbfgs
    assert lm >= 4 * n * p * sizes.FLOAT > newton
    machine_of(monkeypatch, 2 ** 30)
    with pytest.raises(symopt.ModelError, match=r"Levenberg-Marquardt forms the \(rows \+ p\) x p Jacobian"):
        sizes.check_run(symopt.LevenbergMarquardt(), p, n)


def test_a_layer_too_wide_for_any_machine_is_refused_when_stated():
    refused_without_allocating(lambda: symopt.Dense(10 ** 12), "Dense(1,000,000,000,000)", "units fit")


def test_a_network_too_large_for_the_machine_is_refused_when_stated(monkeypatch):
    machine_of(monkeypatch, 2 ** 30)
    refused_without_allocating(
        lambda: symopt.Network(3, [symopt.Dense(10 ** 5), symopt.Dense(10 ** 4), symopt.Dense(1)]),
        "a network of 1,000,420,001 parameters (3 -> 100000 -> 10000 -> 1)", "narrower layers")


def test_ten_dense_4096_layers_with_lbfgs_are_refused_before_compiling(monkeypatch):
    """The issue's network (151 million parameters; L-BFGS keeps 22.5 GiB of pairs for them) on 20 rows: on a
    16 GiB machine it is stated (its parameters take 2.3 GiB) and refused when its module would be compiled."""
    machine_of(monkeypatch, 16 * 2 ** 30)
    net = symopt.Network(3, [symopt.Dense(4096) for _ in range(10)] + [symopt.Dense(1)])
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 3)), rng.standard_normal(20)
    refused_without_allocating(
        lambda: symopt.solve(symopt.squared_loss(net), (X, y), optimizer=symopt.LBFGS(), progress=False),
        "training a network of 151,052,289 parameters", "with LBFGS", "GiB", "16 GiB")


def test_convexity_refuses_samples_that_cannot_fit(decay):
    """samples=10**12 ran four minutes into a MemoryError."""
    objective, data = decay
    problem = symopt.Problem(objective, backend="python")
    refused_without_allocating(lambda: symopt.convexity(problem, data, samples=10 ** 12),
                               "convexity with samples=1,000,000,000,000", "TiB")

"""solve(..., starts=N, seed=0): many starts for a non-convex problem, one compiled problem for all."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import sympy as sp

import symopt
from symopt.run import shared as shared_module
from symopt.codegen import cache as cache_module
from symopt.model.data import prepare
from symopt.run.starts import SAME_OPTIMUM, distinct_optima, start_points


@pytest.fixture(scope="module")
def frequency_fit():
    """y = 2 sin(2x) on [0, 6]: from the default start (a = b = 1, as the gradient is zero at 0) the
    fit of the frequency lands in a local optimum near b = 0.74; the global one is a = b = 2 with F = 0."""
    x = np.linspace(0.0, 6.0, 60)
    return symopt.squared_loss(symopt.Model("a*sin(b*x)", "a b")), {"x": x, "y": 2.0 * np.sin(2.0 * x)}


def test_many_starts_find_the_global_optimum_of_a_frequency_fit_the_default_start_misses(frequency_fit):
    objective, data = frequency_fit
    single = symopt.solve(objective, data, progress=False)
    assert single.success and abs(single.params["b"] - 2.0) > 0.5 and single.fun > 1.0  # a local optimum
    assert single.convexity.kind == "non-convex"
    assert "starts=20" in str(single)  # the non-convex verdict suggests many starts

    best = symopt.solve(objective, data, starts=20, seed=0, progress=False)
    assert best.success and best.starts == 20
    assert abs(abs(best.params["a"]) - 2.0) < 1e-8 and abs(abs(best.params["b"]) - 2.0) < 1e-8
    assert best.fun < 1e-20
    optima = best.optima
    assert len(optima) >= 2 and optima[0].fun == best.fun
    assert all(o.fun <= p.fun for o, p in zip(optima, optima[1:]))  # best first
    assert sum(o.count for o in optima) <= 20
    starts = [i for o in optima for i in o.starts]
    assert len(starts) == len(set(starts))  # each start reached one optimum
    assert any(o.fun == pytest.approx(single.fun, rel=1e-9) for o in optima)  # the default start's, among them
    assert 0 in next(o for o in optima if o.fun == pytest.approx(single.fun, rel=1e-9)).starts
    text = str(best)
    assert "the best of 20 starts (seed 0)" in best.message
    assert "distinct optima from 20 starts" in text and "the best minimum of 20 starts" in text


def test_the_same_seed_gives_the_same_optima_and_another_seed_other_draws(frequency_fit):
    objective, data = frequency_fit
    one = symopt.solve(objective, data, starts=4, seed=3, progress=False)
    two = symopt.solve(objective, data, starts=4, seed=3, progress=False)
    assert [(o.fun, o.starts) for o in one.optima] == [(o.fun, o.starts) for o in two.optima]
    dataset = prepare(objective, data)
    first = np.array([1.0, 1.0])
    a = list(start_points(objective.form, dataset, first, 4, seed=3))
    b = list(start_points(objective.form, dataset, first, 4, seed=4))
    assert np.array_equal(a[0], first) and np.array_equal(b[0], first)
    assert not np.allclose(a[1], b[1])


def test_all_starts_share_one_rendered_and_loaded_module(frequency_fit, tmp_path, monkeypatch):
    monkeypatch.setenv("SYMOPT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(shared_module, "_SHARED", OrderedDict())
    renders, loads = [], []
    for module, name, calls in ((shared_module, "render", renders), (cache_module, "load", loads)):
        original = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, _o=original, _c=calls, **k: (_c.append(a), _o(*a, **k))[1])
    objective, data = frequency_fit
    r = symopt.solve(objective, data, starts=6, backend="python", progress=False)
    assert r.starts == 6 and r.backend == "python"
    assert len(renders) == 1 and len(loads) == 1


def test_a_positive_parameter_stays_positive_in_every_draw():
    s = sp.Symbol("s", positive=True)
    mu = sp.Symbol("mu")
    objective = symopt.Objective("log(s) + (x - mu)**2 / (2*s**2)", [mu, s])
    dataset = prepare(objective, {"x": [0.1, 0.5, 0.9]})
    points = list(start_points(objective.form, dataset, np.array([0.0, 1.0]), 200, seed=0))
    drawn = np.array(points[1:])
    assert np.all(drawn[:, 1] > 0) and np.std(np.log(drawn[:, 1])) == pytest.approx(1.0, rel=0.2)
    assert np.std(drawn[:, 0]) == pytest.approx(1.0, rel=0.2)  # max(|0|, 1) = 1


def test_a_callback_that_stops_the_run_stops_the_remaining_starts(frequency_fit):
    objective, data = frequency_fit
    r = symopt.solve(objective, data, starts=10, callback=lambda k, f, p: True, progress=False)
    assert r.status == "stopped_by_callback" and r.starts == 1 and not r.success


def test_a_closed_form_says_starts_were_not_needed():
    r = symopt.solve(symopt.squared_loss(symopt.Model("a + b*x", "a b")), {"x": [0, 1, 2], "y": [1, 3, 5]},
                     starts=5)
    assert r.method == "linear" and r.starts == 1 and "starts=5 given, not needed" in r.why


@pytest.mark.parametrize("starts, seed, words", [
    (0, 0, "starts must be a whole number >= 1"),
    (2.5, 0, "starts must be a whole number >= 1"),
    (True, 0, "starts must be a whole number >= 1"),
    (3, -1, "seed must be a whole number >= 0"),
    (3, "x", "seed must be a whole number >= 0"),
])
def test_bad_starts_and_seeds_are_refused(frequency_fit, starts, seed, words):
    objective, data = frequency_fit
    with pytest.raises(symopt.ModelError, match=words):
        symopt.solve(objective, data, starts=starts, seed=seed)


def test_runs_within_the_tolerance_are_one_optimum_and_none_converged_is_a_failure():
    from symopt.result import ClosedForm, Outcome

    def result(x, fun, success=True):
        return Outcome(params={"a": x[0]}, x=np.array(x), fun=fun, method="iterative", why="", success=success,
                      closed_form=ClosedForm("none", ""), status="converged" if success else "max_iter",
                      message="")

    runs = [result([1.0], 0.5), result([1.0 + 0.5 * SAME_OPTIMUM], 0.5), result([3.0], 0.1),
            result([7.0], 0.0, success=False)]
    optima = distinct_optima(runs, maximize=False)
    assert [(o.fun, o.starts) for o in optima] == [(0.1, (2,)), (0.5, (0, 1))]
    from symopt.run.starts import best_of

    best = best_of(runs, 0, maximize=False)
    assert best.fun == 0.1 and best.success and best.optima == optima
    failed = best_of([result([7.0], 0.2, success=False), result([8.0], 0.1, success=False)], 0, maximize=False)
    assert not failed.success and failed.fun == 0.1 and "none of 2 starts (seed 0) converged" in failed.message

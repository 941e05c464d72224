"""Bad arguments are refused up front with a SymoptError that names the argument, what it got and what it takes,
never a raw NumPy, pathlib or PIL exception (issue 26, item 22); and a box narrower than the at-bound tolerance
puts the answer on the bound it reached (item 25)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import symopt


@pytest.fixture(scope="module")
def decay():
    """An exponential decay and its data (the interpreted twin runs it: no compiling)."""
    x = np.linspace(0.1, 2.0, 20)
    objective = symopt.squared_loss(symopt.Model("a*exp(-b*x)", "a b"))
    return objective, {"x": x, "y": 2.0 * np.exp(-0.5 * x)}


@pytest.fixture(scope="module")
def decay_problem(decay):
    return symopt.Problem(decay[0], backend="python")


# --- seeds and sample counts -------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", ["a", -1, 2.5, math.nan, True])
def test_check_gradient_refuses_a_seed_numpy_cannot_take(decay_problem, decay, seed):
    with pytest.raises(symopt.ModelError, match=r"check_gradient: seed must be a whole number >= 0") as info:
        symopt.check_gradient(decay_problem, decay[1], seed=seed, compiled=False)
    assert repr(seed) in str(info.value)


@pytest.mark.parametrize("seed", [math.nan, -1, "0"])
def test_verify_refuses_a_bad_seed_before_solving(decay_problem, decay, seed):
    with pytest.raises(symopt.ModelError, match=r"verify: seed must be a whole number >= 0") as info:
        symopt.verify(decay_problem, decay[1], seed=seed, reference=None, gradient=False)
    assert repr(seed) in str(info.value)
    result = decay_problem.solve(decay[1], progress=False)
    with pytest.raises(symopt.ModelError, match=r"verify: seed must be a whole number >= 0"):
        result.verify(seed=seed, reference=None, gradient=False)


def test_verify_refuses_a_gradient_flag_that_is_not_a_bool(decay_problem, decay):
    with pytest.raises(symopt.ModelError, match=r"verify: gradient must be True or False .*got 'yes'"):
        symopt.verify(decay_problem, decay[1], gradient="yes", reference=None)


@pytest.mark.parametrize("samples", [2.5, 0, -1, "8", True])
def test_convexity_refuses_samples_that_are_not_a_positive_whole_number(decay_problem, decay, samples):
    """samples=0 and -1 gave a verdict from no draws; 2.5 escaped from range()."""
    with pytest.raises(symopt.ModelError, match=r"convexity: samples must be a whole number >= 1") as info:
        symopt.convexity(decay_problem, decay[1], samples=samples)
    assert repr(samples) in str(info.value)


def test_convexity_refuses_a_negative_seed(decay_problem, decay):
    with pytest.raises(symopt.ModelError, match=r"convexity: seed must be a whole number >= 0 .*got -1"):
        symopt.convexity(decay_problem, decay[1], seed=-1)


def test_numpy_integers_are_whole_numbers(decay_problem, decay):
    found = symopt.convexity(decay_problem, decay[1], samples=np.int64(2), seed=np.uint8(3))
    assert found.kind in ("convex", "non-convex", "unknown")
    check = symopt.check_gradient(decay_problem, decay[1], directions=np.int32(2), seed=np.int64(1), compiled=False)
    assert check.ok and len(check.checks[0].errors) == 2


# --- the callback ------------------------------------------------------------------------------------------


def test_a_callback_that_takes_no_arguments_is_refused_before_the_run(decay):
    objective, data = decay
    with pytest.raises(symopt.ModelError, match=r"callback must take three arguments") as info:
        symopt.solve(objective, data, callback=lambda: False, backend="python", progress=False)
    assert isinstance(info.value.__cause__, (type(None), TypeError))
    with pytest.raises(symopt.ModelError, match=r"callback must take three arguments"):
        symopt.solve(objective, data, callback=lambda k, f, p, extra: False, backend="python", progress=False)


def test_a_callback_that_returns_an_array_fails_with_the_iteration(decay):
    objective, data = decay
    with pytest.raises(symopt.ModelError, match=r"failed at iteration 1: it returned ndarray of shape \(2,\), "
                                                r"which is neither true nor false") as info:
        symopt.solve(objective, data, callback=lambda k, f, p: np.array([f, f]), backend="python", progress=False,
                     x0={"a": 1.0, "b": 0.0})
    assert "return True to stop the run, False or None to go on" in str(info.value)


def test_a_callback_that_raises_fails_with_the_iteration_and_its_error(decay):
    objective, data = decay

    def watch(k, f, params):
        if k == 2:
            return params["c"]  # no such parameter
        return False

    with pytest.raises(symopt.ModelError, match=r"failed at iteration 2: it raised KeyError: 'c'") as info:
        symopt.solve(objective, data, callback=watch, backend="python", progress=False, x0={"a": 1.0, "b": 0.0})
    assert isinstance(info.value.__cause__, KeyError)


def test_callbacks_that_answer_properly_still_work(decay):
    """Flexible signatures and NumPy booleans are fine: a *args callback, a default argument, np.True_."""
    objective, data = decay
    seen = []
    r = symopt.solve(objective, data, callback=lambda *args: seen.append(args[0]), backend="python",
                     progress=False, x0={"a": 1.0, "b": 0.0})
    assert r.success and seen[:3] == [1, 2, 3]
    r = symopt.solve(objective, data, callback=lambda k, f, p, scale=1.0: np.bool_(k >= 2), backend="python",
                     progress=False, x0={"a": 1.0, "b": 0.0})
    assert r.status == "stopped_by_callback" and r.nit == 2


# --- plot paths --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def solved(decay_problem, decay):
    pytest.importorskip("matplotlib", reason="plots need matplotlib (pip install 'symopt[plot]')")
    return decay_problem.solve(decay[1], progress=False)


def test_plot_refuses_a_path_in_a_missing_folder(solved, tmp_path):
    missing = tmp_path / "no such folder" / "fit.png"
    with pytest.raises(symopt.ModelError, match=r"which does not exist; create it first") as info:
        solved.plot(path=missing)
    assert str(missing) in str(info.value)


@pytest.mark.parametrize("path", [3, b"fit.png", ["fit.png"]])
def test_plot_refuses_a_path_that_is_not_a_path(solved, path):
    with pytest.raises(symopt.ModelError, match=r"path must be a file path \(a str or pathlib.Path\)") as info:
        solved.plot(path=path)
    assert repr(path) in str(info.value)


def test_plot_refuses_a_folder_and_a_file_as_folder(solved, tmp_path):
    with pytest.raises(symopt.ModelError, match=r"is a folder; give a file name in it"):
        solved.plot(path=tmp_path)
    (tmp_path / "file").write_text("")
    with pytest.raises(symopt.ModelError, match=r"which is not a folder"):
        solved.plot(path=tmp_path / "file" / "fit.png")


def test_plot_writes_to_a_good_path(solved, tmp_path):
    solved.plot(path=str(tmp_path / "fit.png"))
    assert (tmp_path / "fit.png").read_bytes()[:4] == b"\x89PNG"


# --- x0 ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("x0", [[[1.0, -1.0]], np.array([[1.0], [-1.0]])])
def test_a_nested_x0_is_refused_not_flattened(decay, x0):
    objective, data = decay
    with pytest.raises(symopt.ModelError, match=r"x0 must be a flat array .* got an array of shape \((1, 2|2, 1)\)"):
        symopt.solve(objective, data, x0=x0, backend="python", progress=False)


def test_a_nested_value_by_name_is_refused(decay):
    objective, data = decay
    with pytest.raises(symopt.ModelError, match=r"x0\['a'\] must be a flat array .* shape \(1, 1\)"):
        symopt.solve(objective, data, x0={"a": [[1.0]], "b": 0.5}, backend="python", progress=False)
    # a flat array, a scalar per name and a one-entry array per name are all still read
    for x0 in ([1.0, 0.2], np.array([1.0, 0.2]), {"a": 1.0, "b": 0.2}, {"a": [1.0], "b": np.array([0.2])}):
        r = symopt.solve(objective, data, x0=x0, backend="python", progress=False, method="iterative")
        assert r.success and np.array_equal(r.x0, [1.0, 0.2])


def test_a_network_refuses_a_matrix_as_its_flat_x0():
    net = symopt.Network(2, [symopt.Dense(1)])
    objective = symopt.squared_loss(net)
    X, y = np.ones((4, 2)), np.ones(4)
    with pytest.raises(symopt.ModelError, match=r"got an array of shape \(1, 3\) \(give the weights by name"):
        symopt.solve(objective, (X, y), x0=np.zeros((1, 3)), progress=False)


# --- item 25: a box narrower than the at-bound tolerance ---------------------------------------------------


X = np.linspace(0.1, 2.0, 20)


@pytest.mark.parametrize("width", [1e-15, 1e-9])
@pytest.mark.parametrize("method", ["auto", "iterative"])
def test_least_squares_in_a_narrow_box_ends_on_its_upper_bound(width, method):
    """a*x on y = 3x in [1, 1 + width]: the optimum is the upper bound. The iterative run reached it and was
    put on the lower bound (it was within the 1e-7 tolerance of both), then failed its own KKT check. The
    linear closed form (bounded least squares) was already right; it is checked beside it."""
    upper = 1 + width
    r = symopt.solve(symopt.squared_loss(symopt.Model("a*x", "a")), {"x": X, "y": 3 * X},
                     bounds={"a": (1, upper)}, method=method, backend="python", progress=False)
    assert r.method == ("linear" if method == "auto" else "iterative")
    assert r.success, r.message
    assert r.params["a"] == upper and r.at_bound == {"a": "upper"} and r.kkt.ok
    assert f"upper bound {upper!r}" in r.message  # not "upper bound 1": the digits that tell it from the lower


@pytest.mark.parametrize("width", [1e-15, 1e-9])
def test_an_iterative_fit_in_a_narrow_box_ends_on_the_bound_it_reached(width):
    """exp(a*x): the optimum above the box (y = exp(1.5 x)) ends on the upper bound, below it (y = exp(0.5 x))
    on the lower one, each with the KKT condition met."""
    objective = symopt.squared_loss(symopt.Model("exp(a*x)", "a"))
    for y, box, side in ((np.exp(1.5 * X), (1.0, 1.0 + width), "upper"),
                         (np.exp(0.5 * X), (1.0 - width, 1.0), "lower")):
        r = symopt.solve(objective, {"x": X, "y": y}, bounds={"a": box}, backend="python", progress=False)
        assert r.method == "iterative" and r.success, r.message
        assert r.params["a"] == box[side == "upper"] and r.at_bound == {"a": side} and r.kkt.ok


def test_a_point_inside_a_narrow_box_is_near_one_bound_at_most():
    """The at-bound bands are a third of the box's width at most: a point in the middle third is near neither
    bound, and a point on a bound is put on that one (the gradient pointing out of the box, or into it)."""
    objective = symopt.squared_loss(symopt.Model("a*x", "a"))
    flat = symopt.Problem(objective, bounds={"a": (1.0, 1.0 + 3e-9)}).box.flat(objective.form, None)
    assert not flat.near(np.array([1.0 + 1.5e-9]))
    for grad in (-1.0, 1.0):
        for x, side in ((1.0 + 3e-9, "upper"), (1.0, "lower"), (1.0 + 0.5e-9, "lower"), (1.0 + 2.5e-9, "upper")):
            at_x, at = flat.snap(np.array([x]), np.array([grad]), 1.0)
            assert at == {"a": side} and at_x[0] == (1.0 if side == "lower" else 1.0 + 3e-9)


def test_solve_options_are_keyword_only_and_x0_is_read_once(monkeypatch):
    """Issue 27 item 4: the options by keyword, one checked record passed down, x0 read by name once."""
    x = np.linspace(0.0, 2.0, 40)
    data = {"x": x, "y": 1.5 * np.exp(0.7 * x)}
    objective = symopt.squared_loss(symopt.Model("a*exp(b*x)", "a b"))
    with pytest.raises(TypeError):
        symopt.solve(objective, data, symopt.LBFGS())
    problem = symopt.Problem(objective)
    with pytest.raises(TypeError):
        problem.solve(data, {"a": 1.0, "b": 0.5})
    form = type(problem.objective.form)
    start = form.start
    by_name = []

    def counted(self, dataset, x0, label="x0"):
        if hasattr(x0, "keys"):
            by_name.append(dict(x0))
        return start(self, dataset, x0, label)

    monkeypatch.setattr(form, "start", counted)
    r = problem.solve(data, x0={"a": 1.0, "b": 0.5}, progress=False)
    assert r.success and by_name == [{"a": 1.0, "b": 0.5}]
    r = problem.solve(data, x0={"a": 1.0, "b": 0.5}, progress=False, starts=3)
    assert r.success and len(by_name) == 2

"""Result.plot: each kind drawn headless and written as a PNG; the kinds that do not apply say why."""

from __future__ import annotations

import struct

import numpy as np
import pytest

import symopt

matplotlib = pytest.importorskip("matplotlib", reason="plots need matplotlib (pip install 'symopt[plot]')")


def _png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", "not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def decay():
    x = np.linspace(0.0, 3.0, 40)
    y = 2.5 * np.exp(-1.3 * x) + 0.01 * np.random.default_rng(0).normal(size=40)
    objective = symopt.squared_loss(symopt.Model("a*exp(-b*x)", "a b"))
    return symopt.solve(objective, {"x": x, "y": y}, x0={"a": 1.0, "b": 0.2}, backend="python", progress=False)


@pytest.mark.parametrize("kind", ["history", "fit", "residuals", "surface"])
def test_each_kind_is_written_as_a_png(decay, kind, tmp_path):
    path = tmp_path / f"{kind}.png"
    figure = decay.plot(kind, path=path)
    assert isinstance(figure, matplotlib.figure.Figure)
    assert _png_size(path) == (640, 440) and path.stat().st_size > 5000
    axes = figure.get_axes()
    assert axes and all(ax.has_data() for ax in axes[:1])


def test_the_surface_shows_the_path_the_solver_took(decay):
    figure = decay.plot("surface")
    ax = figure.get_axes()[0]
    path = next(line for line in ax.get_lines() if line.get_label() == "path")
    xs, ys = path.get_data()
    assert (xs[0], ys[0]) == (1.0, 0.2)  # from the start
    assert xs[-1] == pytest.approx(decay.params["a"], rel=1e-9) and ys[-1] == pytest.approx(decay.params["b"], rel=1e-9)
    assert 3 <= len(xs) <= decay.nit + 1 and len(set(xs)) >= 3  # one point per iteration, several moves


def test_history_draws_the_closed_form_optimum_for_an_iterative_solve(tmp_path):
    x = np.linspace(0.0, 1.0, 30)
    data = {"x": x, "y": 1.0 + 2.0 * x + 0.1 * np.sin(7 * x)}
    objective = symopt.squared_loss(symopt.Model("a + b*x", "a b"))
    closed = symopt.solve(objective, data)
    r = symopt.solve(objective, data, method="iterative", backend="python", progress=False)
    ax = r.plot("history", path=tmp_path / "h.png").get_axes()[0]
    line = next(line for line in ax.get_lines() if line.get_label().startswith("closed-form optimum"))
    assert line.get_ydata()[0] == pytest.approx(closed.fun, rel=1e-12)
    assert ax.get_yscale() == "log"


def test_a_network_trained_by_epochs_draws_its_training(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    net = symopt.Network(3, [symopt.Dense(6, activation="tanh"), symopt.Dense(2)])
    r = symopt.solve(symopt.cross_entropy(net), (X, (X[:, 0] > 0).astype(int)),
                     optimizer=symopt.Adam(lr=1e-2, batch_size=32, epochs=4), progress=False)
    figure = r.plot("training", path=tmp_path / "t.png")
    loss, grads = figure.get_axes()
    assert len([line for line in grads.get_lines() if line.get_label().startswith("layer")]) == 2
    assert _png_size(tmp_path / "t.png") == (640, 440)


def test_a_network_on_images_draws_its_first_layer_filters(tmp_path):
    """A convolution's filters, one tile each, the pixels its weights (K1[f, 0]); a dense layer after Flatten
    shows each unit's weights as an image of the input's shape; a network on flat features has no pictures."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 1, 6, 6))
    y = (X[:, 0, :3].sum(axis=(1, 2)) > 0).astype(float)
    adam = symopt.Adam(lr=1e-2, batch_size=20, epochs=1)
    cnn = symopt.Network((1, 6, 6), [symopt.Conv2D(5, 3), symopt.Flatten(), symopt.Dense(2)], seed=0)
    r = symopt.solve(symopt.cross_entropy(cnn), (X, y), optimizer=adam, progress=False)
    figure = r.plot("filters", path=tmp_path / "f.png")
    images = [ax.get_images()[0] for ax in figure.get_axes() if ax.get_images()]
    assert len(images) == 5 and _png_size(tmp_path / "f.png") == (640, 440)
    for f, image in enumerate(images):
        np.testing.assert_array_equal(image.get_array(), r.params["K1"][f, 0])
    assert image.get_clim() == (-np.max(np.abs(r.params["K1"])), np.max(np.abs(r.params["K1"])))
    assert "K1: 5 filters of 3x3" in figure.get_suptitle()
    dense = symopt.Network((1, 6, 6), [symopt.Flatten(), symopt.Dense(3, "tanh"), symopt.Dense(2)], seed=0)
    r = symopt.solve(symopt.cross_entropy(dense), (X, y), optimizer=adam, progress=False)
    figure = r.plot("filters")
    images = [ax.get_images()[0] for ax in figure.get_axes() if ax.get_images()]
    assert len(images) == 3
    np.testing.assert_array_equal(images[1].get_array(), r.params["W2"][1].reshape(6, 6))
    flat = symopt.Network(36, [symopt.Dense(2)])
    r = symopt.solve(symopt.cross_entropy(flat), (X.reshape(40, 36), y), optimizer=adam, progress=False)
    with pytest.raises(symopt.ModelError, match="is for networks on images"):
        r.plot("filters")


@pytest.mark.parametrize("kind, words", [
    ("surface", "for one- or two-parameter problems; this one has 3"),
    ("fit", "needs a model of one feature; this one reads 2: x, z"),
    ("training", "is for networks"),
    ("contour", "kind must be one of history, fit, residuals, surface, training, filters"),
])
def test_a_kind_that_does_not_apply_says_why(kind, words):
    x = np.linspace(0.0, 1.0, 20)
    data = {"x": x, "z": x ** 2, "y": 1.0 + x - x ** 2}
    r = symopt.solve(symopt.squared_loss(symopt.Model("a + b*x + c*z", "a b c")), data)
    with pytest.raises(symopt.ModelError, match=words):
        r.plot(kind)


def test_the_surface_of_a_bounded_run_replays_it_with_its_bounds():
    x = np.linspace(0, 4, 40)
    data = {"x": x, "y": 3.0 * np.exp(-0.7 * x) + 0.02 * np.sin(5 * x)}
    r = symopt.solve(symopt.squared_loss(symopt.Model("a*exp(-b*x)", "a b")), data, x0={"a": 1.0, "b": 2.0},
                     bounds={"b": (1.0, None)}, optimizer=symopt.LevenbergMarquardt(projection=False),
                     backend="python", progress=False)
    assert r.at_bound == {"b": "lower"}
    path = next(line for line in r.plot("surface").get_axes()[0].get_lines() if line.get_label() == "path")
    xs, ys = path.get_data()
    assert (xs[0], ys[0]) == (1.0, 2.0) and np.min(ys) == 1.0 and ys[-1] == 1.0  # every iterate inside b >= 1
    assert xs[-1] == pytest.approx(r.params["a"], rel=1e-12)


def test_with_an_offset_the_fit_and_residuals_compare_y_with_the_model_plus_the_offset():
    rng = np.random.default_rng(3)
    x = np.linspace(0.0, 3.0, 30)
    o = rng.normal(size=30)
    y = 1.0 + 2.0 * x + o + 0.05 * rng.normal(size=30)
    result = symopt.solve(symopt.squared_loss(symopt.Model("a + b*x", "a b"), offset=o), {"x": x, "y": y},
                          backend="python", progress=False)
    fitted = result.params["a"] + result.params["b"] * x + o
    data_line, fitted_line = result.plot("fit").get_axes()[0].get_lines()
    order = np.argsort(x, kind="stable")
    np.testing.assert_allclose(fitted_line.get_xdata(), x[order])
    np.testing.assert_allclose(fitted_line.get_ydata(), fitted[order], rtol=1e-12)
    np.testing.assert_allclose(data_line.get_ydata(), y)
    residuals = result.plot("residuals").get_axes()[0].get_lines()[-1]
    np.testing.assert_allclose(residuals.get_ydata(), y - fitted, atol=1e-12)
    assert np.sqrt(np.mean((y - fitted) ** 2)) < 0.1  # the model alone would be off by the offset's spread


def test_a_weighted_fit_of_one_feature_is_drawn():
    x = np.linspace(0.0, 3.0, 30)
    y = 1.0 + 2.0 * x + 0.05 * np.random.default_rng(4).normal(size=30)
    result = symopt.solve(symopt.squared_loss(symopt.Model("a + b*x", "a b"), weights=np.linspace(1, 2, 30)),
                          {"x": x, "y": y}, backend="python", progress=False)
    line = result.plot("fit").get_axes()[0].get_lines()[1]
    np.testing.assert_allclose(line.get_ydata()[[0, -1]], result.params["a"] + result.params["b"] * np.array([0, 3]))

"""symopt.export of a convolutional network (Conv2D, MaxPool2D, Flatten, Dense on 1 x 6 x 6 images): the exported
module, run in ``python -I`` with symopt, SymPy and mpmath blocked, takes the images as symopt does (rows,
channels, height, width), or flattened into rows as a CSV gives them, and gives symopt.solve's weights,
objective and predictions. Issue 31: it read X as a matrix only, so images were refused."""

from __future__ import annotations

import numpy as np
import pytest

import symopt
from symopt.problem import Problem
from symopt.standalone.export import export

from standalone.test_export import _load, relative, run_exported

ROWS, SHAPE = 30, (1, 6, 6)


@pytest.fixture(scope="module")
def conv(tmp_path_factory):
    folder = tmp_path_factory.mktemp("exported_conv")
    rng = np.random.default_rng(4)
    X = rng.normal(size=(ROWS, *SHAPE))
    y = (X[:, 0, :3].mean(axis=(1, 2)) > X[:, 0, 3:].mean(axis=(1, 2))).astype(float)  # brighter on top
    net = symopt.Network(SHAPE, [symopt.Conv2D(2, 3, activation="tanh"), symopt.MaxPool2D(2), symopt.Flatten(),
                                 symopt.Dense(2)], seed=1)
    problem = Problem(symopt.cross_entropy(net), optimizer=symopt.LBFGS(max_iter=15), backend="numba")
    path = export(problem, folder / "conv.py", data=(X, y))
    with pytest.warns(symopt.ConvergenceWarning):
        mine = problem.solve((X, y))
    images = run_exported(path, {"X": X, "y": y}, {"default": {}}, folder)["default"]
    rows = run_exported(path, {"X": X.reshape(ROWS, -1), "y": y}, {"default": {}}, folder)["default"]
    return X, y, path, mine, images, rows


def test_an_exported_conv_net_gives_symopts_weights_objective_and_predictions(conv):
    X, y, path, mine, images, rows = conv
    assert images["status"] == mine.status == "max_iter" and images["nit"] == mine.nit == 15
    assert images["warnings"] == ["ConvergenceWarning"]
    assert set(images["params"]) == {"K1", "b1", "W4", "b4"}  # named as symopt names them
    assert relative(images["params"], mine.params) <= 1e-12
    assert images["fun"] == pytest.approx(mine.fun, rel=1e-12)
    assert images["value"] == pytest.approx(mine.fun, rel=1e-12)  # value_and_grad at the weights found
    np.testing.assert_array_equal(images["predict"], mine.predict(X))
    assert 0.5 < np.mean(mine.predict(X) == y)  # it learned something: the comparison is not of a constant
    # the same images flattened into rows (C order): the same run
    assert rows["params"] == images["params"] and rows["predict"] == images["predict"]
    assert "X images of shape (rows, 1, 6, 6) (or rows of 36 values" in path.read_text(encoding="utf-8")


def test_the_exported_conv_net_refuses_images_of_another_shape_with_the_shape_it_needs(conv):
    X, y, path, *_ = conv
    module = _load(path)  # the shape is checked before any compiled code runs
    with pytest.raises(module.FitError, match=r"data 'X' must be images of shape \(rows, 1, 6, 6\), or rows of 36 "
                                              r"values \(each image flattened in C order\); got an array of shape "
                                              r"\(30, 1, 6, 5\)"):
        module.fit((X[..., :5], y))
    with pytest.raises(module.FitError, match=r"got an array of shape \(30, 35\)"):
        module.predict({}, X.reshape(ROWS, -1)[:, :35])

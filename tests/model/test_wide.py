"""The wide kind's per-row data columns (symopt.model.kinds.wide): a LinearModel() over a data matrix whose loss
reads, besides eta and the target, further named columns (a weight, an offset). Each is read and checked as the
target is, reaches the NumPy evaluation (block by block in the per-row terms) and the generated kernels (after
the target, by name), and changes the problem's structure."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import symopt
from symopt.derivation.derive import derive
from symopt.errors import DataError, ModelError
from symopt.model.data import prepare
from symopt.model.kinds import ETA
from symopt.model.objective import Objective

Y, W, O = sp.symbols("y w o", real=True)


def _objective(per_sample, kind="custom", intercept=True, l2=0.0, reduction="mean"):
    return Objective._from_model(per_sample, symopt.LinearModel(intercept=intercept), Y, kind, l2, reduction)


@pytest.fixture(scope="module")
def rows():
    rng = np.random.default_rng(5)
    n = 90
    X = rng.normal(size=(n, 3))
    return {"X": X, "y": 0.5 + X @ [1.0, -2.0, 0.5] + rng.normal(size=n), "w": rng.uniform(0.2, 3.0, n),
            "o": rng.normal(size=n)}


def test_the_columns_are_read_by_name_after_x_and_the_target(rows):
    objective = _objective(W * (Y - O - ETA) ** 2)
    assert objective.data_names == ("X", "y", "o", "w")  # the target, then the columns by name
    assert [s.name for s in objective.data_symbols] == ["y", "o", "w"]
    dataset = prepare(objective, rows)
    assert set(dataset.arrays) == {"X", "y", "o", "w"}
    np.testing.assert_array_equal(dataset["w"], rows["w"])
    plain = symopt.squared_loss(symopt.LinearModel())
    assert plain.data_names == ("X", "y") and prepare(plain, (rows["X"], rows["y"])).arrays.keys() == {"X", "y"}


def test_a_missing_or_bad_column_is_named(rows):
    objective = _objective(W * (Y - O - ETA) ** 2)
    with pytest.raises(DataError, match=r"reads the per-row columns 'o', 'w' besides X and 'y', so data must be a "
                                        r"mapping \{'X': \.\.\., 'y': \.\.\., 'o': \.\.\., 'w': \.\.\.\}, not \(X, y\)"):
        prepare(objective, (rows["X"], rows["y"]))
    with pytest.raises(DataError, match="data has no array named 'w'"):
        prepare(objective, {k: rows[k] for k in ("X", "y", "o")})
    with pytest.raises(DataError, match=r"different numbers of rows \(X: 90, y: 90, o: 89, w: 90\)"):
        prepare(objective, {**rows, "o": rows["o"][1:]})
    with pytest.raises(DataError, match="data 'w' has 1 non-finite value.*NaN at row 7"):
        prepare(objective, {**rows, "w": np.where(np.arange(90) == 7, np.nan, rows["w"])})
    with pytest.raises(DataError, match="data 'o' has shape"):
        prepare(objective, {**rows, "o": np.ones((90, 2))})


def test_column_names_that_are_taken_are_refused():
    with pytest.raises(ModelError, match="'X' is taken"):
        _objective(sp.Symbol("X", real=True) * (Y - ETA) ** 2)
    with pytest.raises(ModelError, match="a symbol named 'y' other than the target"):
        _objective(sp.Symbol("y") * (Y - ETA) ** 2)  # a y without real=True is not the target
    with pytest.raises(ModelError, match="two different symbols are named 'w'"):
        _objective(W * sp.Symbol("w", positive=True) * (Y - ETA) ** 2)


def test_a_multinomial_model_refuses_columns():
    per_sample = W * (sp.Function("logsumexp")(ETA) - sp.Symbol("eta[y]", real=True))
    with pytest.raises(ModelError, match="reads no per-row data columns besides the labels; this loss reads w"):
        _objective(per_sample, kind="cross_entropy")


def test_the_structure_differs_with_the_columns():
    structures = {_objective(W * (Y - ETA) ** 2).structure(), _objective(O * (Y - ETA) ** 2).structure(),
                  _objective((Y - ETA) ** 2).structure(), _objective(W * (Y - O - ETA) ** 2).structure()}
    assert len(structures) == 4
    weighted = symopt.squared_loss(symopt.LinearModel(), weights="w")
    assert weighted.structure() != symopt.squared_loss(symopt.LinearModel(), weights="v").structure()
    assert weighted.structure() != symopt.squared_loss(symopt.LinearModel()).structure()
    assert weighted.structure() == symopt.squared_loss(symopt.LinearModel(), weights="w").structure()


@pytest.mark.parametrize("intercept", [True, False])
def test_the_numpy_evaluation_reads_the_columns(rows, intercept):
    """F, its gradient, its Hessian and the per-row terms (in blocks smaller than the data) against the formulas
    of w * (y - o - eta)**2 written out in NumPy."""
    objective = _objective(W * (Y - O - ETA) ** 2, intercept=intercept, l2=0.1)
    dataset, derivation, form = prepare(objective, rows), derive(objective), objective.form
    X, y, w, o = rows["X"], rows["y"], rows["w"], rows["o"]
    Phi = np.column_stack([np.ones(90), X]) if intercept else X
    theta = np.linspace(-0.5, 0.7, Phi.shape[1])
    mask = form.penalty_mask(dataset)
    r = y - o - Phi @ theta
    F = np.mean(w * r ** 2) + 0.1 * np.sum(mask * theta ** 2)
    G = -2.0 * Phi.T @ (w * r) / 90 + 0.2 * mask * theta
    H = 2.0 * Phi.T @ (w[:, None] * Phi) / 90 + np.diag(0.2 * mask)
    assert form.sums(dataset, theta)[0] == pytest.approx(F, rel=1e-13)
    fun, grad = form.value_and_gradient(derivation, dataset, theta)
    assert fun == pytest.approx(F, rel=1e-13)
    np.testing.assert_allclose(grad, G, rtol=1e-12)
    np.testing.assert_allclose(form.hessian(derivation, dataset, theta), H, rtol=1e-12)
    blocks = list(form.row_gradients(derivation, dataset, theta, block=16))
    assert [lo for lo, _ in blocks] == list(range(0, 90, 16))
    terms = np.vstack([t for _, t in blocks])
    np.testing.assert_allclose(terms, -2.0 * (w * r)[:, None] * Phi, rtol=1e-12)


def _kernel_arrays(objective, rendered, rows):
    dataset = prepare(objective, rows)
    return dataset, [dataset[name] for name in rendered.data_names]


@pytest.mark.parametrize("backend", ["source", "python_source"])
def test_the_generated_kernels_take_the_columns_after_the_target(rows, backend, tmp_path):
    """objective_and_gradient, objective_gradient_hessian and the minibatch batch_gradient of the generated
    module (compiled, and its interpreted twin) against NumPy, with the columns passed by name after X and y."""
    from symopt.codegen import cache
    from symopt.codegen.render import render

    objective = _objective(W * (Y - O - ETA) ** 2, l2=0.1)
    derivation = derive(objective)
    newton = render(objective, derivation, symopt.Newton())
    adam = render(objective, derivation, symopt.Adam(batch_size=16))
    assert newton.data_names == ("X", "y", "o", "w")
    assert "def objective_and_gradient(theta, X, data_y, data_o, data_w, mask, l2, grad):" in newton.source
    assert "def batch_gradient(theta, X, data_y, data_o, data_w, order, lo, hi, mask, l2, grad):" in adam.source
    assert "X (rows x features), y -> data_y, o -> data_o, w -> data_w" in newton.source
    dataset, arrays = _kernel_arrays(objective, newton, rows)
    form = objective.form
    theta = np.array([0.3, -0.2, 0.4, 0.1])
    mask = form.penalty_mask(dataset)
    F, G = form.value_and_gradient(derivation, dataset, theta)
    H = form.hessian(derivation, dataset, theta)
    if backend == "source":
        module = cache.load(newton.source, newton.stem)[0]
        batch = cache.load(adam.source, adam.stem)[0]
    else:
        module = _interpreted(newton.python_source, tmp_path / "newton_twin.py")
        batch = _interpreted(adam.python_source, tmp_path / "adam_twin.py")
    grad = np.empty(4)
    assert module.objective_and_gradient(theta, *arrays, mask, 0.1, grad) == pytest.approx(F, rel=1e-12)
    np.testing.assert_allclose(grad, G, rtol=1e-11)
    grad, hess = np.empty(4), np.empty((4, 4))
    assert module.objective_gradient_hessian(theta, *arrays, mask, 0.1, grad, hess) == pytest.approx(F, rel=1e-12)
    np.testing.assert_allclose(hess, H, rtol=1e-11)
    order = np.arange(90, dtype=np.int64)[::-1].copy()
    grad = np.empty(4)
    batch.batch_gradient(theta, *arrays, order, 10, 40, mask, 0.1, grad)
    picked = order[10:40]
    X, y, w, o = (rows[k][picked] for k in ("X", "y", "w", "o"))
    Phi = np.column_stack([np.ones(30), X])
    expected = -2.0 * Phi.T @ (w * (y - o - Phi @ theta)) / 30 + 0.2 * mask * theta
    np.testing.assert_allclose(grad, expected, rtol=1e-11)


def _interpreted(source: str, path):
    import importlib.util

    path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_column_dl_deta_does_not_read_is_not_loaded_by_the_minibatch_kernel():
    """The loss (y - eta)**2 + log(w) reads w, its derivative in eta does not: the batch kernel loads y only."""
    from symopt.codegen.render import render

    objective = _objective((Y - ETA) ** 2 + sp.log(W))
    source = render(objective, derive(objective), symopt.Adam(batch_size=8)).source
    batch = source[source.index("def batch_gradient"):]
    assert "d_y = data_y[i]" in batch and "d_w" not in batch
    assert "d_w = data_w[i]" in source[:source.index("def batch_gradient")]


@pytest.mark.parametrize("backend", ["numba", "python"])
def test_an_offset_is_fitted_iteratively_to_weighted_least_squares_on_y_minus_the_offset(rows, backend):
    """A loss called squared that reads an offset is not squared_loss's, so the matrix closed form (which knows
    (y - eta)**2, weighted or not) declines it, saying why, and the iterative solvers fit it."""
    objective = _objective(W * (Y - O - ETA) ** 2, kind="squared")
    result = symopt.solve(objective, rows, backend=backend, progress=False)
    assert result.method == "iterative" and result.success
    assert "not squared_loss's" in result.closed_form.reason
    Phi = np.column_stack([np.ones(90), rows["X"]])
    root = np.sqrt(rows["w"])
    expected = np.linalg.lstsq(Phi * root[:, None], (rows["y"] - rows["o"]) * root, rcond=None)[0]
    np.testing.assert_allclose(result.x, expected, rtol=1e-9)

"""Multinomial logistic regression: cross_entropy over a LinearModel() with integer labels, against
scikit-learn (with l2) and statsmodels' MNLogit (unpenalised, class 0 the reference)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import symopt
from symopt.model import softmax
from symopt.model.data import prepare


@pytest.fixture(scope="module")
def iris():
    sklearn_datasets = pytest.importorskip("sklearn.datasets", reason="iris comes with scikit-learn")
    X, y = sklearn_datasets.load_iris(return_X_y=True)
    return X, y.astype(float)


@pytest.fixture(scope="module")
def three_classes():
    """400 rows drawn from a 3-class softmax model (not separable, so the unpenalised optimum exists)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3))
    B = np.array([[0.0, 0, 0, 0], [0.5, 1, -1, 0.3], [-0.5, 0.2, 0.8, -1.0]])
    Z = B[:, 0] + X @ B[:, 1:].T
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    y = np.array([rng.choice(3, p=p) for p in P], dtype=float)
    return X, y


def test_iris_with_l2_matches_scikit_learn(iris):
    """Equal penalty (scikit-learn's C = 1 / (2 n l2)): the same coefficients and, centred (softmax ignores
    a common shift, and the penalty does not see intercepts), the same intercepts. The default is Newton."""
    from sklearn.linear_model import LogisticRegression

    X, y = iris
    n, l2 = X.shape[0], 1e-3
    objective = symopt.cross_entropy(symopt.LinearModel(), l2=l2)
    r = symopt.solve(objective, (X, y), progress=False)
    assert r.success and r.status == "converged" and isinstance(r.optimizer, symopt.Newton)
    assert r.params["coef"].shape == (3, 4) and r.params["intercept"].shape == (3,) and r.x.size == 14
    assert r.params["intercept"][0] == 0.0
    # newton-cg reaches the optimum to a gradient of 1.5e-15 here; lbfgs stops about 5e-6 short in coef.
    ref = LogisticRegression(C=1.0 / (2 * n * l2), solver="newton-cg", tol=1e-12, max_iter=10_000).fit(X, y)
    np.testing.assert_allclose(r.params["coef"], ref.coef_, atol=1e-6 * np.max(np.abs(ref.coef_)))
    b = r.params["intercept"]
    np.testing.assert_allclose(b - b.mean(), ref.intercept_ - ref.intercept_.mean(), atol=1e-6)
    assert np.array_equal(r.predict(X), ref.predict(X).astype(int))
    assert "intercept[0] = 0" in r.objective.describe()
    names = softmax.flat_names(objective, 3, 4)
    assert names[:2] == ["intercept[1]", "intercept[2]"] and names[2] == "coef[0, 0]" and names[-1] == "coef[2, 3]"


def test_unpenalised_class_zero_is_the_reference_as_statsmodels_mnlogit(three_classes):
    sm = pytest.importorskip("statsmodels.api", reason="statsmodels is the unpenalised reference")
    X, y = three_classes
    r = symopt.solve(symopt.cross_entropy(symopt.LinearModel()), (X, y), progress=False)
    assert r.success and r.x.size == 2 * 4
    assert np.all(r.params["coef"][0] == 0.0) and r.params["intercept"][0] == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sm.MNLogit(y, sm.add_constant(X)).fit(method="newton", tol=1e-14, maxiter=100, disp=0)
    params = np.asarray(ref.params)  # (1 + m, K - 1): the constant's row first, one column per class 1..K-1
    np.testing.assert_allclose(r.params["intercept"][1:], params[0], atol=1e-8)
    np.testing.assert_allclose(r.params["coef"][1:], params[1:].T, atol=1e-8)
    lbfgs = symopt.solve(symopt.cross_entropy(symopt.LinearModel()), (X, y), optimizer=symopt.LBFGS(), progress=False)
    assert lbfgs.success and np.max(np.abs(lbfgs.x - r.x)) < 1e-5


def test_the_kernel_gradient_and_hessian_match_differences(three_classes):
    """The generated kernel's F, gradient and Hessian (the module Newton runs) against NumPy's F and central
    differences; Problem.value_and_grad through the same kernel."""
    X, y = three_classes
    objective = symopt.cross_entropy(symopt.LinearModel(), l2=0.05, reduction="sum")
    problem = symopt.Problem(objective, optimizer=symopt.Newton())
    dataset = prepare(objective, (X, y))
    rng = np.random.default_rng(1)
    x = rng.normal(size=2 + 3 * 3)  # intercepts of classes 1, 2 and all three rows of coef
    assert x.size == sum(size for _, size in softmax.blocks(objective, 3, 3))

    rendered, module, _ = problem._compiled(symopt.Newton(), "numba")
    grad, hess = np.zeros(x.size), np.zeros((x.size, x.size))
    mask = objective.form.penalty_mask(dataset)
    f = module.objective_gradient_hessian(x, X, y, mask, 0.05, grad, hess)
    f_np, g_np = softmax.value_and_gradient(objective, dataset, x)
    assert f == pytest.approx(f_np, rel=1e-12) and softmax.value(objective, dataset, x) == f_np
    np.testing.assert_allclose(grad, g_np, rtol=1e-10, atol=1e-10)
    h = 1e-5
    columns = []
    for e in np.eye(x.size):
        columns.append((softmax.value_and_gradient(objective, dataset, x + h * e)[1]
                        - softmax.value_and_gradient(objective, dataset, x - h * e)[1]) / (2 * h))
    np.testing.assert_allclose(hess, np.array(columns).T, rtol=1e-6, atol=1e-6 * np.max(np.abs(hess)))
    params = softmax.unflatten(objective, 3, 3, x)
    value, by_name = problem.value_and_grad((X, y), params)
    assert value == pytest.approx(f_np, rel=1e-12) and by_name["coef"].shape == (3, 3)
    np.testing.assert_allclose(softmax.start_from(objective, 3, 3, by_name, "g"), g_np, rtol=1e-10, atol=1e-10)


def test_both_backends_and_every_positive_l2_share_one_module(three_classes):
    X, y = three_classes
    fits = [symopt.solve(symopt.cross_entropy(symopt.LinearModel(), l2=0.1), (X, y), backend=b, progress=False)
            for b in ("python", "numba")]
    assert [f.backend for f in fits] == ["python", "numba"]
    np.testing.assert_allclose(fits[0].x, fits[1].x, rtol=1e-10, atol=1e-12)
    sources = {symopt.Problem(symopt.cross_entropy(symopt.LinearModel(), l2=l2)).source for l2 in (0.1, 0.2, 3.0)}
    assert len(sources) == 1  # l2 is a run-time number; only l2 = 0 (the reference row) is another module
    assert symopt.Problem(symopt.cross_entropy(symopt.LinearModel())).source not in sources


def test_x0_by_name_in_full_shapes(three_classes):
    X, y = three_classes
    objective = symopt.cross_entropy(symopt.LinearModel())
    start = {"intercept": np.zeros(3), "coef": np.zeros((3, 3))}
    start["coef"][1, 2] = 0.5
    r = symopt.solve(objective, (X, y), x0=start, optimizer=symopt.LBFGS(), progress=False)
    assert r.success
    start["coef"][0, 1] = 1.0
    with pytest.raises(symopt.ModelError, match="class 0 is the reference, fixed at 0"):
        symopt.solve(objective, (X, y), x0=start, progress=False)
    with pytest.raises(symopt.ModelError, match=r"x0\['coef'\] has shape \(3,\); coef has shape \(3, 3\)"):
        symopt.solve(objective, (X, y), x0={"intercept": np.zeros(3), "coef": np.zeros(3)}, progress=False)


def test_labels_and_models_are_checked(three_classes):
    X, y = three_classes
    objective = symopt.cross_entropy(symopt.LinearModel())
    with pytest.raises(symopt.DataError, match="integer class labels 0, 1, 2, ...; data 'y' has 0.5 at row 3"):
        symopt.solve(objective, (X, np.where(np.arange(400) == 3, 0.5, y)))
    with pytest.raises(symopt.DataError, match="no row of class 1: labels must be 0 .. K-1"):
        symopt.solve(objective, (X, np.where(y == 1, 2.0, y)))
    with pytest.raises(symopt.DataError, match="at least 2 classes"):
        symopt.solve(objective, (X, np.zeros(400)))
    with pytest.raises(symopt.DataError, match="labels up to 1000000 on 400 rows"):
        symopt.solve(objective, (X, np.where(np.arange(400) == 0, 1e6, y)))
    with pytest.raises(symopt.ModelError, match="needs the data-matrix form LinearModel()"):
        symopt.cross_entropy(symopt.LinearModel(basis=["a", "b"]))
    text = str(symopt.derive(objective))
    assert "softmax(eta)" in text and "class 0 the reference: intercept[0] = 0 and coef[0] = 0" in text

"""Networks trained on all rows at once by L-BFGS: the generated module's full-batch objective driven by
symopt.run.loop like any other problem, the default for small networks without dropout or batch norm, and the
refusals where a full-batch optimizer has no meaning."""

from __future__ import annotations

import numpy as np
import pytest

import symopt

sklearn = pytest.importorskip("sklearn", reason="scikit-learn is the reference for the softmax regression")


@pytest.fixture(scope="module")
def iris():
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    return X, y.astype(float)


def test_a_softmax_net_by_lbfgs_matches_scikit_learn_on_iris(iris):
    """``Network(4, [Dense(3)])`` under cross-entropy is multinomial logistic regression, with the penalty on
    the weights and not the biases, as scikit-learn's: the same optimum at equal penalty. The default
    optimizer is L-BFGS on all rows, which reached 98.7% training accuracy where Adam's 20 epochs of
    minibatches (the old default) reached 66.7%."""
    from sklearn.linear_model import LogisticRegression

    X, y = iris
    n, l2 = X.shape[0], 1e-3
    objective = symopt.cross_entropy(symopt.Network(4, [symopt.Dense(3)]), l2=l2)
    r = symopt.solve(objective, (X, y), optimizer=symopt.LBFGS(tol=1e-10, max_iter=5000), progress=False)
    assert r.success and r.status == "converged" and r.backend == "numba"
    assert "on all rows" in r.why
    # newton-cg reaches the optimum (gradient 1.5e-15 here); scikit-learn's lbfgs stops 4.7e-6 short of it
    # in the weights at any tol (gradient 7.6e-8), where symopt's L-BFGS ends at 7e-11.
    ref = LogisticRegression(C=1.0 / (2 * n * l2), solver="newton-cg", tol=1e-12, max_iter=10_000).fit(X, y)
    # The weights are identified (the penalty picks the solution whose columns sum to 0); the biases only up
    # to a common shift (softmax ignores it and the penalty does not see biases): compare them centred.
    np.testing.assert_allclose(r.params["W1"], ref.coef_, atol=1e-6 * np.max(np.abs(ref.coef_)))
    b = r.params["b1"]
    np.testing.assert_allclose(b - b.mean(), ref.intercept_ - ref.intercept_.mean(), atol=1e-6)
    assert np.mean(r.predict(X) == y) == pytest.approx(ref.score(X, y))
    default = symopt.solve(symopt.cross_entropy(symopt.Network(4, [symopt.Dense(3)])), (X, y), progress=False)
    assert "L-BFGS on all rows" in default.why and isinstance(default.optimizer, symopt.LBFGS)
    assert default.success and np.mean(default.predict(X) == y) >= 0.97


def test_full_batch_training_reads_x0_by_name_stops_on_request_and_reports_its_gradient(iris):
    X, y = iris
    net = symopt.Network(4, [symopt.Dense(5, "tanh"), symopt.Dense(3)], seed=1)
    objective = symopt.cross_entropy(net, l2=1e-3)
    start = net.unflatten(net.initial())
    seen = []

    def watch(iteration, fun, params):
        seen.append((iteration, fun, params["W1"].shape))
        return iteration >= 3

    r = symopt.solve(objective, (X, y), x0=start, optimizer=symopt.LBFGS(), callback=watch, progress=False)
    assert r.status == "stopped_by_callback" and r.nit == 3 and not r.success
    assert [s[0] for s in seen] == [1, 2, 3] and seen[-1][2] == (5, 4)
    assert seen[-1][1] == pytest.approx(r.fun) and r.fun < r.history[0]
    assert set(r.params) == {"W1", "b1", "W2", "b2"} and r.nfev >= 4
    problem = symopt.Problem(objective, optimizer=symopt.LBFGS())
    value, grad = problem.value_and_grad((X, y), r.params)
    assert value == pytest.approx(r.fun, rel=1e-12)
    direct = symopt.gradient(objective, (X, y), r.params)
    for name in grad:
        np.testing.assert_allclose(grad[name], direct[name], rtol=1e-12, atol=1e-15)


def test_full_batch_optimizers_are_refused_where_they_have_no_meaning(iris):
    X, y = iris
    dropped = symopt.cross_entropy(symopt.Network(4, [symopt.Dense(5, "tanh", dropout=0.2), symopt.Dense(3)]))
    with pytest.raises(symopt.ModelError, match=r"layer\(s\) 1 use dropout or batch norm, which are defined on minibatches"):
        symopt.solve(dropped, (X, y), optimizer=symopt.LBFGS(), progress=False)
    with pytest.raises(symopt.ModelError, match="Newton cannot train a network.*second derivatives"):
        symopt.solve(dropped, (X, y), optimizer=symopt.Newton(), progress=False)
    from symopt.run.epochs import FULL_BATCH_MAX_WORK, default_optimizer

    chosen, why = default_optimizer(dropped.model, X.shape[0])  # what solve gives it without an optimizer
    assert isinstance(chosen, symopt.Adam) and "dropout or batch norm" in why
    plain = symopt.Network(4, [symopt.Dense(3)])
    chosen, why = default_optimizer(plain, FULL_BATCH_MAX_WORK // plain.size() + 1)
    assert isinstance(chosen, symopt.Adam) and "above" in why


def test_the_analysis_says_why_each_network_has_no_closed_form():
    """Only hidden layers make a network's objective non-convex: a softmax net without one is multinomial
    logistic regression (convex, but not affine), and a linear one under squared loss is least squares."""
    def reason(objective):
        return symopt.analyse(objective).reason

    assert "not convex" not in reason(symopt.cross_entropy(symopt.Network(4, [symopt.Dense(3)])))
    assert "not affine in the weights" in reason(symopt.cross_entropy(symopt.Network(4, [symopt.Dense(3)])))
    assert "with 2 hidden layers its objective is not convex" in reason(
        symopt.log_loss(symopt.Network(4, [symopt.Dense(5), symopt.Dense(5), symopt.Dense(1)])))
    assert "squared_loss(LinearModel())" in reason(symopt.squared_loss(symopt.Network(4, [symopt.Dense(1)])))
    # Pooling, Flatten and Dropout have no weights: they are not hidden layers
    images = symopt.Network((1, 4, 4), [symopt.Conv2D(2, 3), symopt.MaxPool2D(2), symopt.Flatten(),
                                        symopt.Dropout(0.1), symopt.Dense(3)])
    assert "with 1 hidden layer its objective is not convex" in reason(symopt.cross_entropy(images))
    pixels = symopt.Network((1, 4, 4), [symopt.Flatten(), symopt.Dropout(0.1), symopt.Dense(3)])
    assert "not convex" not in reason(symopt.cross_entropy(pixels))
    rng = np.random.default_rng(0)
    images_data = (rng.normal(size=(12, 1, 4, 4)), rng.integers(0, 3, 12).astype(float))
    proof = symopt.convexity(symopt.cross_entropy(pixels), images_data)
    assert proof.kind == "convex" and proof.certainty == "proved"


def _blas_threads() -> int:
    import threadpoolctl

    return max(info["num_threads"] for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas")


@pytest.mark.parametrize("optimizer", [symopt.Adam(lr=0.01, batch_size=50, epochs=2), symopt.LBFGS(max_iter=2)],
                         ids=["epochs", "full batch"])
def test_training_runs_its_matrix_products_on_the_thread_budget(iris, monkeypatch, optimizer):
    """A budget of one thread (a Dask task, numba.set_num_threads(1), a forked child) holds BLAS to one thread while
    the network trains, and gives the threads back after."""
    X, y = iris
    objective = symopt.cross_entropy(symopt.Network(4, [symopt.Dense(5, "tanh"), symopt.Dense(3)], seed=1))
    symopt.solve(objective, (X, y), optimizer=optimizer, progress=False)  # compiled before the budget changes
    before = _blas_threads()
    if before < 2:
        pytest.skip("BLAS runs one thread here already: nothing to hold back")
    from symopt.numerics import threads

    monkeypatch.setattr(threads, "thread_budget", lambda: 1)
    seen = []
    symopt.solve(objective, (X, y), optimizer=optimizer, progress=False,
                 callback=lambda iteration, fun, params: seen.append(_blas_threads()))
    assert seen and set(seen) == {1}
    assert _blas_threads() == before
    monkeypatch.undo()
    seen.clear()
    symopt.solve(objective, (X, y), optimizer=optimizer, progress=False,
                 callback=lambda iteration, fun, params: seen.append(_blas_threads()))
    assert set(seen) == {before}

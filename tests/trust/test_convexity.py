"""Convexity verdicts on a zoo of model-objective pairs with known answers: the kind is right, a proof is
never wrong, and every non-convex verdict carries a witness checked on F itself."""

from __future__ import annotations

import numpy as np
import pytest

import symopt
from symopt.closed_form import convexity_proof

a, b = symopt.params("a b")
u, v = symopt.params("u v")
lam = symopt.params("lam", positive=True)
sigma = symopt.params("sigma", positive=True)
mu = symopt.params("mu")


def _data(rng, n=60):
    x = rng.normal(size=n)
    return x, 1.0 + 0.5 * x + 0.2 * rng.normal(size=n)


def _zoo(rng):
    x, y = _data(rng)
    X = rng.normal(size=(80, 3))
    labels = (X @ np.array([1.0, -1.0, 0.5]) + rng.logistic(size=80) > 0).astype(float)
    classes = np.argmax(X @ rng.normal(size=(3, 3)) + rng.gumbel(size=(80, 3)), axis=1).astype(float)
    counts = rng.poisson(np.exp(0.3 + 0.4 * x)).astype(float)
    positive = rng.exponential(2.0, size=60)
    line = {"x": x, "y": y}
    net = symopt.Network(3, [symopt.Dense(4, "tanh"), symopt.Dense(1)], seed=3)
    return [
        # (name, objective, data, expected kind, a proof expected)
        ("least squares line", symopt.squared_loss(symopt.Model("a + b*x", [a, b])), line, "convex", True),
        ("ridge on a data matrix", symopt.squared_loss(symopt.LinearModel(), l2=0.1), (X, X[:, 0]), "convex", True),
        ("logistic regression", symopt.log_loss(symopt.LinearModel()), (X, labels), "convex", True),
        ("ridge logistic regression", symopt.log_loss(symopt.LinearModel(), l2=0.01), (X, labels), "convex", True),
        ("multinomial logistic", symopt.cross_entropy(symopt.LinearModel()), (X, classes), "convex", True),
        ("softmax net without hidden layers", symopt.cross_entropy(symopt.Network(3, [symopt.Dense(3)])),
         (X, classes), "convex", True),
        ("Poisson negative log-likelihood", symopt.Objective("exp(a + b*x) - y*(a + b*x)", [a, b]),
         {"x": x, "y": counts}, "convex", True),
        ("Poisson log-likelihood maximised", symopt.Objective("y*(a + b*x) - exp(a + b*x)", [a, b], maximize=True),
         {"x": x, "y": counts}, "concave", True),
        ("exponential log-likelihood in its rate", symopt.Objective("log(lam) - lam*x", [lam], maximize=True),
         {"x": positive}, "concave", True),
        ("Gaussian log-likelihood in its mean", symopt.Objective("-(x - mu)**2/2", [mu], maximize=True),
         {"x": x}, "concave", True),
        ("pseudo-Huber loss", symopt.Objective("sqrt(1 + (y - a - b*x)**2) - 1", [a, b]), line, "convex", None),
        ("logistic loss as an expression", symopt.Objective("softplus(a*x) - y*a*x", [a]),
         {"x": x, "y": (y > 1).astype(float)}, "convex", None),
        ("squared loss maximised", symopt.Objective("(y - a)**2", [a], maximize=True), line, "convex", True),
        ("an affine objective", symopt.Objective("a*x + b", [a, b]), {"x": x}, "convex", True),
        ("absolute loss (kinks)", symopt.Objective("abs(y - a)", [a]), line, "convex", False),
        ("a*exp(b*x) least squares", symopt.squared_loss(symopt.Model("a*exp(b*x)", [a, b])),
         {"x": x, "y": np.exp(0.3 * x)}, "non-convex", False),
        ("Rosenbrock", symopt.Objective("(1 - a)**2 + 100*(b - a**2)**2", [a, b]), None, "non-convex", False),
        ("a saddle a*b", symopt.Objective("a*b", [a, b]), None, "non-convex", False),
        ("matrix factorisation (y - u*v)**2", symopt.Objective("(y - u*v)**2", [u, v]), line, "non-convex", False),
        ("Gaussian likelihood in mean and scale", symopt.Objective("log(sigma) + (x - mu)**2/(2*sigma**2)",
                                                                   [mu, sigma]),
         {"x": 0.1 * x}, "non-convex", False),
        ("a 2-layer tanh network", symopt.squared_loss(net), (X, y[:80] if y.size >= 80 else X[:, 0]),
         "non-convex", False),
        ("double well", symopt.Objective("(a**2 - 1)**2 + 0.3*a", [a]), None, "non-convex", False),
    ]


def test_the_zoo_gets_the_right_verdicts_and_no_wrong_proof(monkeypatch):
    # Every proof here takes SymPy 0.01 to 2 s on a quiet machine; under load the 5 s budget ran out (the
    # affine objective's, on fa7e8b8). A budget no proof here needs keeps the verdicts about the mathematics.
    monkeypatch.setattr(convexity_proof, "PROOF_BUDGET", 120.0)
    rng = np.random.default_rng(11)
    zoo = _zoo(rng)
    assert len(zoo) >= 20
    wrong = []
    for name, objective, data, kind, proof in zoo:
        c = symopt.convexity(objective, data)
        if c.kind != kind:
            wrong.append(f"{name}: {c}")
            continue
        if proof is True and c.certainty != "proved":
            wrong.append(f"{name}: expected a proof, got {c}")
        if proof is False and c.certainty == "proved":
            wrong.append(f"{name}: nothing to prove here, got {c}")
        if kind == "non-convex":
            w = c.witness
            assert w is not None and w.curvature < 0, name
            # the witness is a fact: F's second difference along d at x is negative
            problem = symopt.Problem(objective)
            from symopt.model.data import prepare

            dataset = prepare(objective, data)
            f = lambda t: problem.flat_value_and_grad(dataset, t)[0]  # noqa: E731
            sign = -1.0 if objective.maximize else 1.0
            assert sign * (f(w.x + w.step * w.d) + f(w.x - w.step * w.d) - 2 * f(w.x)) < 0, name
    assert not wrong, "\n".join(wrong)


def test_kinks_are_never_proved_and_say_why():
    proof, why = symopt.Problem(symopt.Objective("-abs(a) + a**2", [a])).convexity_proof()
    assert proof is None and "kinks" in why


def test_a_penalty_against_the_sense_leaves_the_sum_unproved(rng):
    """A convex loss maximised with a ridge penalty (subtracted when maximising) is neither proved."""
    x, y = _data(rng)
    objective = symopt.Objective("(y - a)**2", [a], maximize=True, l2=0.5)
    proof, why = symopt.Problem(objective).convexity_proof()
    assert proof is None and "the l2 penalty is concave" in why


def test_without_data_and_without_a_proof_the_verdict_is_unknown_with_the_reason():
    c = symopt.convexity(symopt.squared_loss(symopt.Model("a*exp(b*x)", [a, b])))
    assert c.kind == "unknown" and c.certainty == "" and "no data for a numerical check" in c.reason


def test_a_result_says_whether_its_optimum_is_global(rng):
    x, y = _data(rng)
    line = symopt.solve(symopt.squared_loss(symopt.Model("a + b*x", [a, b])), {"x": x, "y": y}, progress=False)
    assert line.convexity.kind == "convex" and line.convexity.certainty == "proved"
    assert "the minimum found is global" in str(line)
    well = symopt.solve(symopt.Objective("(a**2 - 1)**2 + 0.3*a", [a]), x0={"a": 1.0}, method="iterative",
                        progress=False)
    # the local minimum near a = 0.96: the check samples the double well's other side, lower (near a = -1.04)
    assert well.convexity.kind == "non-convex" and "the minimum found is not global" in str(well)
    assert well.convexity.lower.fun < well.fun and well.convexity.lower.x[0] < 0


def test_above_the_dense_size_the_first_confirmed_negative_curvature_ends_the_check(rng, monkeypatch):
    """A network of more than MAX_DENSE_PARAMS weights: each point's curvature is a power iteration of 120
    gradients on all rows, so the check stops at the first point whose negative curvature F confirms, instead of
    forming it at all 8 (a pickled network result works its verdict out first: 10-11 s for a small CNN before)."""
    from symopt.trust import convexity

    net = symopt.Network(6, [symopt.Dense(24, "tanh"), symopt.Dense(3)], seed=0)
    assert net.size() > convexity.MAX_DENSE_PARAMS
    X = rng.normal(size=(60, 6))
    y = rng.integers(0, 3, 60).astype(float)
    problem = symopt.Problem(symopt.cross_entropy(net))
    calls = []
    gradient = type(problem).flat_value_and_grad
    monkeypatch.setattr(type(problem), "flat_value_and_grad",
                        lambda self, *args, **kw: calls.append(1) or gradient(self, *args, **kw))
    verdict = problem.convexity((X, y))
    assert verdict.kind == "non-convex" and verdict.certainty == "numerical", verdict
    assert "curves down" in verdict.reason, verdict.reason
    # 8 points, 28 chords, one power iteration (120) and its confirmation; all 8 power iterations would be 960+
    assert len(calls) < 300, len(calls)

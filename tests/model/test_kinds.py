"""The four kinds of problem behind one interface (symopt.model.kinds): layout, start point, data, NumPy evaluation.

NumPy only: nothing here compiles generated code."""

from __future__ import annotations

import numpy as np
import pytest

import symopt
from symopt.model.data import prepare
from symopt.derivation.derive import derive
from symopt.model.kinds import EvaluableForm, ExpressionForm, Form, MulticlassForm, NetworkForm, WideForm


def _cases():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 3))
    x = np.linspace(0.0, 2.0, 40)
    curve = symopt.squared_loss(symopt.Model("a*exp(-b*x) + c", "a b c"), l2=0.1)
    yield "expression", ExpressionForm, curve, {"x": x, "y": 2.0 * np.exp(-x) + 0.1 * rng.normal(size=40)}
    logistic = symopt.log_loss(symopt.LinearModel(), l2=0.05)
    yield "wide", WideForm, logistic, (X, (X[:, 0] + 0.3 * rng.normal(size=40) > 0).astype(float))
    labels = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)
    yield "multiclass", MulticlassForm, symopt.cross_entropy(symopt.LinearModel()), (X, labels)
    net = symopt.Network(3, [symopt.Dense(4, "tanh"), symopt.Dense(1)])
    yield "network", NetworkForm, symopt.squared_loss(net, l2=0.01), (X, X[:, 0] ** 2)


CASES = list(_cases())


@pytest.mark.parametrize("name, cls, objective, data", CASES, ids=[c[0] for c in CASES])
def test_each_form_round_trips_its_parameters_by_name_and_flat(name, cls, objective, data):
    form = objective.form
    assert isinstance(form, cls) and form.name == name
    dataset = prepare(objective, data)
    size = sum(s for _, s in form.blocks(dataset))
    x = np.random.default_rng(0).normal(size=size)
    names = form.flat_names(dataset)
    assert len(names) == size == len(set(names))
    by_name = form.unflatten(dataset, x)
    np.testing.assert_array_equal(form.start(dataset, by_name), x)  # x0 by name, never by position
    np.testing.assert_array_equal(form.start(dataset, dict(reversed(list(by_name.items())))), x)
    np.testing.assert_array_equal(form.start(dataset, list(x)), x)
    mask = form.penalty_mask(dataset)
    assert mask.shape == (size,) and set(np.unique(mask)) <= {0.0, 1.0}
    unpenalised = {n.split("[")[0] for n, m in zip(names, mask) if m == 0.0}
    assert unpenalised == {"expression": set(), "wide": {"intercept"}, "multiclass": {"intercept"},
                           "network": {"b1", "b2"}}[name]
    with pytest.raises(symopt.ModelError, match="x0 has"):
        form.start(dataset, np.zeros(size + 1))
    with pytest.raises(symopt.ModelError, match="unknown parameter"):
        form.start(dataset, {**by_name, "nope": 1.0})


@pytest.mark.parametrize("name, cls, objective, data", CASES[:3], ids=[c[0] for c in CASES[:3]])
def test_each_evaluable_form_has_a_gradient_that_central_differences_confirm(name, cls, objective, data):
    form, dataset, derivation = objective.form, prepare(objective, data), derive(objective)
    size = sum(s for _, s in form.blocks(dataset))
    x = 0.3 * np.random.default_rng(1).normal(size=size)
    fun, grad = form.value_and_gradient(derivation, dataset, x)
    assert fun == pytest.approx(form.sums(dataset, x)[0], rel=1e-13)
    h = 1e-6
    numeric = [(form.sums(dataset, x + h * e)[0] - form.sums(dataset, x - h * e)[0]) / (2 * h) for e in np.eye(size)]
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)
    # the per-row terms add up to the gradient of the data term (the penalty is not per row)
    rows = sum(terms.sum(axis=0) for _, terms in form.row_gradients(derivation, dataset, x))
    scale = 1.0 / dataset.n_rows if objective.reduction == "mean" else 1.0
    penalty = 2.0 * objective.l2 * form.penalty_mask(dataset) * x
    np.testing.assert_allclose(scale * rows + penalty, grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name, cls, objective, data", CASES[:3], ids=[c[0] for c in CASES[:3]])
def test_the_numpy_hessian_is_the_jacobian_of_the_gradient(name, cls, objective, data):
    form, dataset, derivation = objective.form, prepare(objective, data), derive(objective)
    size = sum(s for _, s in form.blocks(dataset))
    x = 0.3 * np.random.default_rng(2).normal(size=size)
    hess = form.hessian(derivation, dataset, x)
    h = 1e-5
    numeric = np.column_stack([(form.value_and_gradient(derivation, dataset, x + h * e)[1]
                                - form.value_and_gradient(derivation, dataset, x - h * e)[1]) / (2 * h)
                               for e in np.eye(size)])
    np.testing.assert_allclose(hess, numeric, rtol=1e-6, atol=1e-8)
    assert np.allclose(hess, hess.T)


def test_forms_without_a_numpy_hessian_say_none():
    for _, _, objective, data in CASES[3:]:
        dataset = prepare(objective, data)
        size = sum(s for _, s in objective.form.blocks(dataset))
        assert objective.form.hessian(derive(objective), dataset, np.zeros(size)) is None


def test_a_network_form_is_evaluated_by_its_generated_code_only():
    _, _, objective, data = CASES[3]
    assert not objective.form.evaluable
    from symopt.derivation.totals import objective_value

    with pytest.raises(symopt.ModelError, match="network objective is evaluated by its generated code"):
        objective_value(objective, prepare(objective, data), objective.model.initial())


def test_a_form_that_leaves_out_part_of_the_interface_cannot_be_built():
    """Form and EvaluableForm are abstract: a new form must give the layout, the data reader and, to be
    evaluable, the value, gradient and per-row terms, or building it fails at once (not mid-solve)."""
    objective = symopt.squared_loss(symopt.Model("a*x", "a"))

    class LayoutOnly(Form):
        name = "layout-only"

        def read(self, data):
            return {}

        def blocks(self, dataset):
            return [("a", 1)]

    class NoRowTerms(LayoutOnly, EvaluableForm):
        def penalty_mask(self, dataset):
            return np.zeros(1)

        def sums(self, dataset, theta):
            return 0.0, 0.0

        def value_and_gradient(self, derivation, dataset, theta):
            return 0.0, np.zeros(1)

    with pytest.raises(TypeError, match="penalty_mask"):
        LayoutOnly(objective)
    with pytest.raises(TypeError, match="row_gradients"):
        NoRowTerms(objective)
    for _, cls, objective, _ in CASES:  # the trait says exactly what the class is
        assert objective.form.evaluable == isinstance(objective.form, EvaluableForm)


def test_a_drawn_start_is_seeded_and_keeps_positive_parameters_positive():
    mu = symopt.params("mu")
    sigma = symopt.params("sigma", positive=True)
    objective = symopt.Objective("log(sigma) + (x - mu)**2/(2*sigma**2)", [mu, sigma])
    dataset = prepare(objective, {"x": np.arange(5.0)})
    around = np.array([3.0, 0.5])
    draws = np.array([objective.form.draw_start(dataset, around, np.random.default_rng(k)) for k in range(200)])
    assert np.all(draws[:, 1] > 0) and np.any(draws[:, 0] < 0)  # mu spread by max(|3|, 1) = 3: some below 0
    assert np.std(draws[:, 0]) == pytest.approx(3.0, rel=0.2)
    again = objective.form.draw_start(dataset, around, np.random.default_rng(0))
    np.testing.assert_array_equal(again, draws[0])
    net = symopt.Network(3, [symopt.Dense(4, "tanh"), symopt.Dense(1)], seed=5)
    net_objective = symopt.squared_loss(net)
    net_data = prepare(net_objective, (np.zeros((4, 3)), np.zeros(4)))
    fresh = net_objective.form.draw_start(net_data, net.initial(), np.random.default_rng(1))
    assert fresh.shape == net.initial().shape and not np.allclose(fresh, net.initial())
    assert np.max(np.abs(fresh)) < 3.0  # a new initialisation at the scheme's scale, not moved by max(|w|, 1)


def test_each_kind_declares_what_the_stages_above_it_read():
    """A kind says in its own module which kernel template, driver and linear shape it has; the stages keep one
    implementation per template, driver and shape, never a table keyed on a kind's name."""
    from symopt.closed_form.design import DESIGNS
    from symopt.closed_form.linear import FINDERS
    from symopt.codegen.render import template_dir
    from symopt.run.drivers import DRIVERS

    for name, cls, objective, _ in CASES:
        form = objective.form
        assert type(form) is cls and form.name == name
        assert form.noun.startswith(("a ", "an ")), form.noun  # read in messages: "no reference library states ..."
        assert form.driver in DRIVERS
        if form.kernel_template is None:
            assert name == "network"  # its trainer is a module of its own
        else:
            assert (template_dir() / form.kernel_template).is_file() and form.module_stem
        if form.linear_shape is None:
            assert form.no_linear_form  # says why there is no closed form
        else:
            assert form.linear_shape in FINDERS and form.linear_shape in DESIGNS
        assert bool(form.unidentified) == (name == "network")


def test_no_stage_outside_the_kinds_switches_on_a_kinds_name():
    """``objective.form.name`` may be printed in a message, never compared or used as a key outside
    ``symopt/model/kinds/``. One table remains, listed here so that the list can only shrink: the reference
    libraries by kind and loss (trust/references.py: which other library states each problem the same way)."""
    import re
    from pathlib import Path

    package = Path(symopt.__file__).resolve().parent
    found = set()
    for path in package.rglob("*.py"):
        if "kinds" in path.relative_to(package).parts:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if re.search(r"form\.name\b(?!\})", line):  # not an f-string's {form.name}
                found.add(path.relative_to(package).as_posix())
    assert found == {"trust/references.py"}, sorted(found)

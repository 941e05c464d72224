"""Limits on expressions given as SymPy objects, and analysis whose work grows with the size of the model.

Text is limited (characters, syntax nodes, nesting: tests/symbolic/test_parse.py); the same expression built in SymPy
met no limit, and ended in a MemoryError or a RecursionError minutes later. The size of the analysis is
checked by counting the Python function calls it makes (SymPy's work), never by the clock.
"""

from __future__ import annotations

import sys

import pytest
import sympy as sp

import symopt
from symopt.errors import ModelError
from symopt.symbolic.parse import MAX_DEPTH, MAX_LENGTH, MAX_NODES

a = sp.Symbol("a", real=True)
x = sp.Symbol("x", real=True)


def _sum_of_sines(terms: int, coefficient: sp.Expr | None = a, variable: sp.Symbol = x) -> sp.Expr:
    """``sum_k a*sin(k*x)`` (``sum_k sin(k*x)`` without a coefficient), built without SymPy's evaluation
    (which takes seconds per thousand terms)."""
    sines = [sp.sin(sp.Mul(k, variable, evaluate=False), evaluate=False) for k in range(1, terms + 1)]
    if coefficient is not None:
        sines = [sp.Mul(coefficient, s, evaluate=False) for s in sines]
    return sp.Add(*sines, evaluate=False)


@pytest.fixture(scope="module")
def many_terms():
    return _sum_of_sines(1_000)  # 6,001 nodes


def test_a_sum_of_many_terms_is_refused_naming_the_node_limit(many_terms):
    """The issue's sum of 10,000 a*sin(k*x) ran 81 s into a MemoryError."""
    message = rf"has more than {MAX_NODES:,} nodes .* the limit for an expression, as for expression text"
    with pytest.raises(ModelError, match="the model " + message + ".*LinearModel()"):
        symopt.Model(many_terms, "a")
    with pytest.raises(ModelError, match="the objective " + message):
        symopt.Objective((sp.Symbol("y", real=True) - many_terms) ** 2, "a")
    with pytest.raises(ModelError, match="the basis expression " + message):
        symopt.LinearModel(basis=[_sum_of_sines(1_300, None)])  # 5,201 nodes
    with pytest.raises(ModelError, match="the activation " + message):
        symopt.Network(1, [symopt.Dense(2, _sum_of_sines(1_300, None, sp.Symbol("z", real=True))),
                           symopt.Dense(1)])


def test_counting_nodes_stops_at_the_limit(many_terms):
    """Refusing a huge expression costs the count of one node more than the limit, however big it is."""
    from symopt.symbolic.parse import count_nodes

    assert count_nodes(many_terms) == MAX_NODES + 1
    assert count_nodes(many_terms, limit=10) == 11
    assert count_nodes(a * sp.sin(2 * x)) == 6  # Mul(a, sin(Mul(2, x)))


def test_many_parameters_are_refused_naming_the_length_limit():
    """The issue's 1,000 parameters, sum((p_i - i)**2), ran 24 s into a RecursionError. Its SymPy tree has
    4,999 nodes; its text, 18,770 characters, is past the limit text has."""
    ps = sp.symbols("p0:1000", real=True)
    expr = sp.Add(*[(p - i) ** 2 for i, p in enumerate(ps)])
    assert len(list(sp.preorder_traversal(expr))) <= MAX_NODES
    with pytest.raises(ModelError, match=rf"the objective is [\d,]+ characters long as text, past the limit of "
                                         rf"{MAX_LENGTH:,} for an expression, as for expression text"):
        symopt.Objective(expr, ps)


def test_a_large_basis_is_refused_with_the_data_matrix_form_as_the_way_out():
    """Each basis expression is small; the model they make is not (a 5,000-term basis spent minutes in
    Model.__init__). 700 columns of a DataFrame: intercept + coef_x0*x0 + ... is 12,000 characters."""
    basis = [sp.Symbol(f"x{k}") for k in range(700)]
    with pytest.raises(ModelError, match=r"the model made of 700 basis expressions is [\d,]+ characters long as "
                                         r"text, past the limit of 10,000.*LinearModel\(\) over a data matrix X "
                                         r"whose columns are the basis evaluated on the data"):
        symopt.LinearModel(basis=basis)


@pytest.mark.parametrize("build, e", [(lambda e: symopt.Model(e, "a"), a * x),
                                      (lambda e: symopt.Objective(e, "a"), a * x),
                                      (lambda e: symopt.LinearModel(basis=[e]), 2 * x)],
                         ids=["model", "objective", "basis"])
def test_deep_nesting_is_refused_naming_the_limit(build, e):
    """sin nested 1,000 deep (built unevaluated: SymPy itself overflows the stack evaluating it, or changing
    it in any way)."""
    for _ in range(1_000):
        e = sp.sin(e, evaluate=False)
    with pytest.raises(ModelError, match=f"nested deeper than {MAX_DEPTH} levels, the limit for expressions"):
        build(e)


def test_expressions_within_the_limits_are_accepted():
    ps = sp.symbols("p0:300", real=True)
    objective = symopt.Objective(sp.Add(*[(p - i) ** 2 for i, p in enumerate(ps)]), ps)
    assert len(objective.params) == 300
    assert len(symopt.Model(_sum_of_sines(500), "a").expr.args) == 500


# --- the analysis of a large basis: work linear in its terms ------------------------------------------------------

class _Budget(Exception):
    pass


def _calls(work, budget: int | None = None) -> int:
    """Python function calls ``work()`` makes (SymPy's and symopt's), SymPy's cache cleared first so that each
    count starts alike; past ``budget`` calls the work is stopped (``_Budget``)."""
    from sympy.core.cache import clear_cache

    clear_cache()
    count = 0

    def profile(frame, event, arg):
        nonlocal count
        if event == "call":
            count += 1
            if budget is not None and count > budget:
                raise _Budget

    sys.setprofile(profile)
    try:
        work()
    finally:
        sys.setprofile(None)
    return count


def _analyse_basis(terms: int):
    basis = [sp.cos(k * x) for k in range(1, terms + 1)]

    def work():
        symopt.analyse(symopt.squared_loss(symopt.LinearModel(basis=basis)))

    return work


def test_the_analysis_of_a_basis_grows_linearly_with_its_terms():
    """LinearModel(basis=[cos(i*x) ...]): building it, deriving the gradient and finding the linear form took
    5.5 s at 100 terms, 35 s at 200 and minutes at 500 (free_symbols once per parameter, SymPy's diff once per
    parameter, and a dense polynomial in every parameter). Four times the terms must cost about four times
    the calls (a quadratic algorithm costs sixteen); the larger run is stopped past eight times, so a
    quadratic one fails here in seconds rather than running for minutes. Both sizes are past the Hessian's
    limit (50 parameters), which is quadratic by nature."""
    small = _calls(_analyse_basis(60))
    try:
        large = _calls(_analyse_basis(240), budget=8 * small)
    except _Budget:
        pytest.fail(f"analysing 240 basis terms took more than {8 * small:,} calls, 8 times the {small:,} of 60 terms")
    assert large < 6 * small, (small, large)


def test_a_quadratic_in_more_parameters_than_the_hessian_limit_is_solved_in_closed_form():
    """Past 50 parameters the derivation forms no Hessian, and the quadratic form read it from there: a
    TypeError. It is read off the gradient, affine in the parameters, instead."""
    import numpy as np

    ps = sp.symbols("p0:60", real=True)
    w = sp.Symbol("w", real=True)
    objective = symopt.Objective(sp.Add(*[w * (p - i) ** 2 for i, p in enumerate(ps)]), ps)
    analysis = symopt.analyse(objective)
    assert analysis.status == "linear" and analysis.linear.kind == "quadratic"
    result = symopt.solve(objective, {"w": np.array([1.0, 2.0, 3.0])})
    assert result.method == "linear" and np.allclose(result.x, np.arange(60), rtol=0, atol=1e-12)


def test_the_one_walk_gradient_agrees_with_sympy():
    """symopt.symbolic.partials, the gradient a derivation takes past 50 parameters, against sp.diff term by term."""
    from symopt.symbolic.functions import sigmoid, softplus
    from symopt.symbolic.partials import partials

    b, y = sp.symbols("b y", real=True)
    for expr in [(y - a * sp.exp(-b * x)) ** 2, softplus(a + b * x) - y * (a + b * x), sp.Abs(y - a * x),
                 a ** b * x, sp.log(a) * b + sigmoid(b * x), sp.loggamma(a * x) + sp.polygamma(0, a) * b,
                 (a * b - 1) ** 3 / (a + x), sp.sqrt(a ** 2 + b ** 2) * sp.atan(b / x)]:
        for got, want in zip(partials(expr, [a, b]), (sp.diff(expr, a), sp.diff(expr, b))):
            assert sp.simplify(got - want) == 0, (expr, got, want)
    # abs by the chain rule on the real line, where SymPy goes through re and im of log(a)
    assert partials(sp.Abs(sp.log(a)) * x, [a]) == (x * sp.sign(sp.log(a)) / a,)

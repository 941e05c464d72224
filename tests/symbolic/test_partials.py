"""Every function the expression parser accepts (symopt.symbolic.parse.FUNCTIONS), differentiated twice through the
generated code (issue 12, item 6): the module renders and runs, and its objective, its gradient
(problem.value_and_grad) and the Hessian the Newton module computes (objective_gradient_hessian) match SymPy's
derivatives evaluated to 40 digits, at points across each function's domain (tiny and huge arguments,
saturation, near singularities), on the interpreted twin, the compiled module and the NumPy evaluation.

A new whitelist entry is tested as soon as it is added; it needs its points in :data:`POINTS`, and until it has
them its test fails and says so. A function of an order (``besseli(nu, x)``) is checked at each order text may
write, as ``besseli(0, u)`` and ``besseli(1, u)``, each with points of its own; ``max`` and ``min`` as
``max(1/3, u)``, on both sides of their kink, and ``where`` as ``where(u > 1/3, u**2, 2*u - 1/9)``.

Each point is a one-row dataset, so every point is checked on its own (a mean over rows would hide a wrong
value at one of them). The per-sample objective is ``f(a*x + b)`` at ``a = 1/2``, ``b = 1/4``, with
``x = 2 (u - 1/4)``, so the argument the code forms is the double ``u`` at which the reference is taken.
The compiled backend checks one module that sums every function, each weighted by a data column: a row weighs
one function 1 and the others 0 (at points in their domains), so one compile covers them all.
"""

from __future__ import annotations

import functools
import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p

import symopt
from symopt.model.data import prepare
from symopt.symbolic.functions import log_ndtr, ndtr, sigmoid, softplus
from symopt.symbolic.parse import FUNCTIONS
from symopt.symbolic.syntax import ORDERS, VARIADIC

def _where(z):
    """What ``where(u > 1/3, u**2, 2*u - 1/9)`` parses to: a Piecewise with a step at 1/3."""
    return sp.Piecewise((z ** 2, z > sp.Rational(1, 3)), (2 * z - sp.Rational(1, 9), True))


#: Arguments u at which each function is checked, all in its domain (aliases share an entry).
POINTS: dict = {
    sp.exp: (-30.0, -2.0, 1e-3, 0.7, 3.0, 30.0),
    sp.log: (1e-3, 0.5, 0.999, 1.001, 3.0, 1e3),
    log1p: (-0.9, -1e-3, 1e-8, 0.5, 10.0, 1e6),
    expm1: (-30.0, -2.0, -1e-6, 1e-6, 0.7, 30.0),
    sp.sqrt: (1e-6, 0.5, 2.0, 100.0, 1e8),
    sp.Abs: (-3.0, -0.5, 1e-3, 0.5, 2.0),
    sp.sin: (-3.0, -1.0, 1e-5, 0.3, 2.0, 5.0),
    sp.cos: (-3.0, -1.0, 1e-5, 0.3, 1.57, 5.0),
    sp.tan: (-1.5, -0.5, 1e-5, 0.2, 1.0, 1.55),
    sp.asin: (-0.9999, -0.5, 1e-6, 0.1, 0.9, 0.999),
    sp.acos: (-0.9999, -0.5, 1e-6, 0.1, 0.9, 0.999),
    sp.atan: (-100.0, -1.0, 1e-6, 0.1, 3.0, 1e4),
    sp.sinh: (-20.0, -0.5, 1e-6, 0.3, 4.0, 20.0),
    sp.cosh: (-20.0, -0.5, 1e-6, 0.3, 4.0, 20.0),
    # tanh' = 1 - tanh**2 rounds to 0 for |u| > 19 unless it is computed as sech**2
    sp.tanh: (-30.0, -3.0, -1e-4, 1e-8, 0.1, 0.5, 5.0, 19.0, 30.0),
    sp.erf: (-5.0, -0.5, 1e-6, 0.2, 1.5, 5.0),
    # erfc keeps relative accuracy in its right tail, where 1 - erf(u) would be 0
    sp.erfc: (-5.0, -0.5, 1e-6, 0.2, 1.5, 5.0, 26.0),
    # besseli through its exponentially scaled form: the series up to 8, the Chebyshev tail beyond
    (sp.besseli, 0): (0.5, -5.0, 1e-6, 3.0, 8.0, 8.5, 30.0, 600.0),
    (sp.besseli, 1): (0.5, -3.0, 1e-6, 7.9, 9.0, 50.0, 600.0),
    # Phi down to -37 (below, it is subnormal), and log Phi in both tails: its derivatives are the inverse Mills
    # ratio (0/0 written out below -38) and inv_mills * inv_mills_gap (a sum that cancels for u < 0)
    ndtr: (-5.0, -37.0, -10.0, -1.0, 1e-6, 0.5, 3.0, 10.0),
    log_ndtr: (-5.0, -1000.0, -40.0, -20.0, -5.5, -4.5, -1.0, 1e-6, 0.5, 3.0, 10.0, 30.0),
    # lgamma is log|Gamma|, below 0 too (its derivatives digamma and trigamma are real there)
    sp.loggamma: (1e-3, 0.5, 1.5, 3.0, 20.0, 200.0, -2.5),
    # sigmoid' = sigmoid*(1 - sigmoid) rounds to 0 for u > 37 unless the complement is sigmoid(-u)
    sigmoid: (-40.0, -5.0, -0.3, 1e-6, 0.2, 3.0, 40.0),
    softplus: (-40.0, -5.0, -0.3, 1e-6, 0.2, 3.0, 40.0),
    # max and min of the argument and 1/3, on both sides of the kink at 1/3 (at it, symopt.symbolic.kinks)
    (sp.Max, sp.Rational(1, 3)): (-3.0, 1e-6, 0.3, 0.34, 2.0, 1e6),
    (sp.Min, sp.Rational(1, 3)): (-3.0, 1e-6, 0.3, 0.34, 2.0, 1e6),
    # a step: 0 and 1 on either side of 0, its derivatives 0 there (DiracDelta, taken as 0)
    sp.Heaviside: (-2.0, -1e-6, 1e-6, 3.0),
    # where(u > 1/3, u**2, 2*u - 1/9), on both sides of its step at 1/3
    _where: (-2.0, 0.0, 0.3, 0.34, 5.0),
}

A, B = 0.5, 0.25
THETA = np.array([A, B])
#: The check is mixed forward-backward: the computed value must be the exact value at an argument within
#: RTOL (relative) or ARG_ABS (absolute, a few ulp of 1) of u, to RTOL relative. That forgives what the argument's
#: own rounding would do (near a pole, say) and the absolute rounding of forms like (1 - e)/(1 + e) near 0, and
#: catches every digit lost to cancellation (a derivative that rounds to 0 at 1e-17 relative scale fails).
RTOL = 1e-12
ARG_ABS = 2e-15
Z = sp.Symbol("z", real=True)


def _calls(name: str) -> list:
    """``(key, text)`` for each call of the whitelisted ``name`` checked: the key of :data:`POINTS` (the
    function, or ``(function, order)``) and the call as text, with ``{}`` for the argument."""
    f = FUNCTIONS[name]
    if name in ORDERS:
        calls = [((f, n), f"{name}({n}, {{}})") for n in ORDERS[name]]
    elif name in VARIADIC:  # max(1/3, u): a function of u with a kink at 1/3
        calls = [((f, sp.Rational(1, 3)), f"{name}(1/3, {{}})")]
    elif name == "where":
        calls = [(_where, "where({0} > 1/3, ({0})**2, 2*({0}) - 1/9)")]
    else:
        calls = [(f, f"{name}({{}})")]
    for key, _ in calls:
        if key not in POINTS:
            pytest.fail(f"the whitelisted function {name!r} ({key}) has no test points: add its domain to "
                        f"POINTS in {__name__}")
    return calls


def _of_one_argument(key):
    """The SymPy function of one argument a key of :data:`POINTS` stands for."""
    if isinstance(key, tuple):
        f, order = key
        return lambda z: f(order, z)
    return key


def _argument(u: float) -> tuple[float, float]:
    """``(x, u')``: the data value for the argument u, and the argument the code forms from it (a double)."""
    x = 2.0 * (u - B)
    return x, A * x + B


@functools.lru_cache(maxsize=None)
def _derivatives(key, u: float) -> tuple[float, ...]:
    """f(u), f'(u), f''(u), f'''(u) to 40 digits, from SymPy (DiracDelta, from abs, taken as 0; the real part,
    as lgamma is log|Gamma| where SymPy's loggamma is complex; ndtr, log_ndtr and the inverse Mills ratio in
    their derivatives by mpmath, through their evalf)."""
    expr = _of_one_argument(key)(Z)
    out = []
    for k in range(4):
        d = sp.diff(expr, Z, k) if k else expr
        d = d.xreplace({delta: sp.Integer(0) for delta in d.atoms(sp.DiracDelta)})
        d = d.replace(sigmoid, lambda w: 1 / (1 + sp.exp(-w))).replace(softplus, lambda w: sp.log(1 + sp.exp(w)))
        value = sp.re(sp.N(d.subs(Z, sp.Float(u, 40)), 40))
        out.append(mpmath.mpf(str(value)))
    return tuple(out)


def _reference(key, u: float):
    """``(values, tolerances)`` for [F, dF/da, dF/db, d2F/da2, d2F/dadb, d2F/db2] at the point u."""
    x, u = _argument(u)
    d = _derivatives(key, u)
    X = mpmath.mpf(x)
    factors = [(0, 1), (1, X), (1, 1), (2, X * X), (2, X), (2, 1)]
    values, tolerances = [], []
    for k, m in factors:
        values.append(float(m * d[k]))
        tolerances.append(float(abs(m) * (RTOL * (abs(d[k]) + abs(u * d[k + 1])) + ARG_ABS * abs(d[k + 1]))))
    return values, tolerances


def _check(key, text: str, u: float, got, backend: str):
    values, tolerances = _reference(key, u)
    labels = ["F", "dF/da", "dF/db", "d2F/da2", "d2F/dadb", "d2F/db2"]
    bad = [f"{label} = {g!r}, expected {v!r} (off by {abs(g - v):.3g}, allowed {t:.3g})"
           for label, g, v, t in zip(labels, got, values, tolerances) if not abs(g - v) <= t]
    assert not bad, f"{text.format('u')} at u = {u!r} on {backend}: " + "; ".join(bad)


def _flat(value, grad, hess) -> list[float]:
    return [float(value), float(grad[0]), float(grad[1]), float(hess[0, 0]), float(hess[0, 1]), float(hess[1, 1])]


def _kernel_hessian(rendered, module, objective, dataset):
    """F, gradient and Hessian from the Newton module's fused kernel (what its start and run call)."""
    grad, hess = np.zeros(2), np.zeros((2, 2))
    arrays = [dataset[name] for name in rendered.data_names]
    value = module.objective_gradient_hessian(THETA.copy(), *arrays, objective.form.penalty_mask(dataset), 0.0,
                                              grad, hess)
    assert hess[0, 1] == hess[1, 0]
    return value, grad, hess


def _problem(objective, backend: str):
    return symopt.Problem(objective, optimizer=symopt.Newton(), method="iterative", backend=backend)


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_every_whitelisted_function_has_test_points(name):
    for key, _ in _calls(name):
        points = POINTS[key]
        assert points and all(math.isfinite(float(v)) for v in _derivatives(key, _argument(points[0])[1]))


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_derivatives_through_the_interpreted_twin_and_numpy(name):
    """f(a*x + b) alone: its own module (as a user's objective would print), run by the interpreter, and the
    NumPy evaluation of the derivation (which the curvature and conditioning checks use)."""
    for key, text in _calls(name):
        objective = symopt.Objective(text.format("a*x + b"), "a b")
        problem = _problem(objective, "python")
        rendered, module, _ = problem._compiled(symopt.Newton(), "python")
        for u in POINTS[key]:
            x, _ = _argument(u)
            data = {"x": np.array([x])}
            dataset = prepare(objective, data)
            assert problem.code_that_runs(dataset) == "python"
            value, grad = problem.value_and_grad(data, {"a": A, "b": B})
            k_value, k_grad, hess = _kernel_hessian(rendered, module, objective, dataset)
            assert (k_value, list(k_grad)) == (value, [grad["a"], grad["b"]])
            _check(key, text, u, _flat(value, [grad["a"], grad["b"]], hess), "python")
            n_value, n_grad = problem.flat_value_and_grad(dataset, THETA, backend="numpy")
            n_hess = objective.form.hessian(problem.derivation, dataset, THETA)
            _check(key, text, u, _flat(n_value, n_grad, n_hess), "numpy")


@pytest.fixture(scope="module")
def every_function():
    """One objective summing every distinct whitelisted function, each weighed by a data column:
    ``w0*exp(a*x0 + b) + w1*log(a*x1 + b) + ...``; each weight 0 with its function at a point in its domain
    unless it is the one being checked. Its Newton module, compiled (and its twin)."""
    first = {}
    for name in FUNCTIONS:
        for key, text in _calls(name):
            first.setdefault(key, text)
    text = " + ".join(f"w{i}*{call.format(f'a*x{i} + b')}" for i, call in enumerate(first.values()))
    objective = symopt.Objective(text, "a b")
    return objective, list(first)


@pytest.mark.parametrize("backend", ["numba", "python"])
@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_derivatives_through_the_compiled_module(every_function, name, backend):
    objective, functions = every_function
    problem = _problem(objective, backend)
    rendered, module, _ = problem._compiled(symopt.Newton(), backend)
    for key, text in _calls(name):
        which = functions.index(key)
        for u in POINTS[key]:
            data = {}
            for i, g in enumerate(functions):
                data[f"x{i}"] = np.array([_argument(u if i == which else POINTS[g][0])[0]])
                data[f"w{i}"] = np.array([1.0 if i == which else 0.0])
            dataset = prepare(objective, data)
            assert problem.code_that_runs(dataset) == backend
            value, grad = problem.value_and_grad(data, {"a": A, "b": B})
            k_value, k_grad, hess = _kernel_hessian(rendered, module, objective, dataset)
            np.testing.assert_allclose([k_value, *k_grad], [value, grad["a"], grad["b"]], rtol=1e-15, atol=0)
            _check(key, text, u, _flat(value, [grad["a"], grad["b"]], hess), backend)


def test_newton_iterations_on_a_mix_of_functions():
    """The Newton module's own iterations (start and run, on the interpreted twin: the compiled module is the
    same code): a mix of saturating and special functions reaches the point where the gradient, from the
    derivation by NumPy, is 0."""
    rng = np.random.default_rng(3)
    x = rng.uniform(0.5, 3.0, 200)
    objective = symopt.Objective("softplus(a*x - 30) + softplus(-a*x) + loggamma(a + 2) + cosh(b - 1) + "
                                 "sigmoid(b)*erf(b) + tanh(a + b)**2", "a b")
    fit = symopt.solve(objective, {"x": x}, optimizer=symopt.Newton(), method="iterative", backend="python",
                       progress=False)
    assert fit.success and fit.backend == "python", fit.message
    _, grad = _problem(objective, "python").flat_value_and_grad(prepare(objective, {"x": x}), fit.x, backend="numpy")
    assert np.max(np.abs(grad)) < 1e-10

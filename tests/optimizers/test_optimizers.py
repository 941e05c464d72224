"""The optimizer family: generated code against each optimizer's NumPy
reference, iterate by iterate (first 5 iterates to 1e-12 relative), compiled
and in its interpreted twin alike, plus stopping rules, minibatches and the
automatic choice."""

from __future__ import annotations

import numpy as np
import pytest

import symopt
from symopt.codegen import cache
from symopt.codegen.render import render
from symopt.model.data import prepare
from symopt.derivation.task import Task
from symopt.derivation.totals import objective_terms
from symopt.symbolic.numeric import evaluate
from symopt.optimizers import RUNNING


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 1, 64)
    data = {"x": x, "y": 1.5 * np.exp(-0.8 * x) + rng.normal(0, 0.02, 64)}
    return data


def objective(maximize=False, l2=0.0):
    if maximize:
        return symopt.Objective("-(y - a*exp(-b*x))**2", "a b", maximize=True, l2=l2)
    return symopt.squared_loss(symopt.Model("a*exp(-b*x)", "a b"), l2=l2)


BACKENDS = ["numba", "python"]


class Stepper:
    """Drives a generated module one iteration per call of `run`: the compiled one (backend "numba") or
    its interpreted twin ("python"). ``extra``: arguments the module takes after the bounds (a proximal
    module's l1 weights)."""

    def __init__(self, obj, optimizer, data, theta0, backend="numba", bounds=None, extra=()):
        rendered = render(obj, symopt.derive(obj), optimizer, bounded=bounds is not None)
        if backend == "numba":
            self.module, _ = cache.load(rendered.source, rendered.stem)
        else:
            self.module, _ = cache.load(rendered.python_source, f"{rendered.stem}_py")
        self.ds = prepare(obj, data)
        n, p = self.ds.n_rows, len(theta0)
        fsize, isize = optimizer.state_size(p, n)
        self.theta, self.grad, self.fs = np.array(theta0, float), np.zeros(p), np.zeros(4)
        self.fw, self.iw = np.zeros(fsize), np.zeros(isize, dtype=np.int64)
        if hasattr(optimizer, "init_state"):
            optimizer.init_state(self.fw, self.iw, n)
        sign = -1.0 if obj.maximize else 1.0
        lower, upper = bounds if bounds is not None else (np.full(p, -np.inf), np.full(p, np.inf))
        self.args = ([self.ds[name] for name in rendered.data_names],
                     (obj.form.penalty_mask(self.ds), obj.l2, sign, optimizer.hyper(), np.asarray(lower, float),
                      np.asarray(upper, float), *extra))
        arrays, fixed = self.args
        assert self.module.start(self.theta, self.grad, self.fs, self.fw, self.iw, *arrays, *fixed) == RUNNING
        self.history = np.full(10_000, np.nan)
        self.k = 0

    def step(self):
        arrays, fixed = self.args
        with np.errstate(all="ignore"):
            status, done = self.module.run(self.theta, self.grad, self.fs, self.fw, self.iw, *arrays, *fixed,
                                           1, 0.0, 0.0, self.history, self.k)
        self.k += done
        return status


def reference_functions(obj, data):
    ds = prepare(obj, data)
    derivation = symopt.derive(obj)
    sign = -1.0 if obj.maximize else 1.0

    def fun(theta):
        F, G, _, _ = objective_terms(Task(obj, derivation, ds), theta)
        return sign * F, sign * G

    def hess(theta):
        return sign * objective_terms(Task(obj, derivation, ds), theta)[3]

    def batch_grad(theta, rows):
        sub = {k: v[rows] for k, v in ds.arrays.items()}
        _, G, _, _ = objective_terms(Task(obj, derivation, prepare(obj, sub)), theta)
        return sign * G

    return fun, hess, batch_grad, ds


FIRST_ORDER = [
    symopt.GradientDescent(),
    symopt.GradientDescent(lr=0.05, line_search=False),
    symopt.Momentum(lr=0.02, momentum=0.9),
    symopt.Nesterov(lr=0.02, momentum=0.8),
    symopt.Adam(lr=0.05),
    symopt.RMSProp(lr=0.01),
    symopt.Adam(lr=0.05, batch_size=10, seed=7),
    symopt.Momentum(lr=0.02, batch_size=16, seed=3),
]


@pytest.mark.parametrize("optimizer", FIRST_ORDER, ids=lambda o: o.describe()[:60])
@pytest.mark.parametrize("maximize", [False, True], ids=["min", "max"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_first_order_matches_reference(problem, optimizer, maximize, backend):
    obj = objective(maximize, l2=0.01)
    fun, _, batch_grad, ds = reference_functions(obj, problem)
    theta0 = [1.0, 0.3]
    expected = optimizer.reference(fun, theta0, 5, batch_grad=batch_grad, n=ds.n_rows)
    stepper = Stepper(obj, optimizer, problem, theta0, backend)
    for k in range(1, 6):
        assert stepper.step() == RUNNING
        np.testing.assert_allclose(stepper.theta, expected[k], rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_newton_matches_reference(problem, backend):
    obj = objective(l2=0.01)
    fun, hess, _, _ = reference_functions(obj, problem)
    expected = symopt.Newton().reference(fun, hess, [1.0, 0.3], 5)
    stepper = Stepper(obj, symopt.Newton(tol=0.0), problem, [1.0, 0.3], backend)
    for k in range(1, 6):
        stepper.step()
        np.testing.assert_allclose(stepper.theta, expected[k], rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_lbfgs_matches_reference(problem, backend):
    obj = objective(maximize=True)
    fun, _, _, _ = reference_functions(obj, problem)
    opt = symopt.LBFGS(memory=3, tol=0.0)
    expected = opt.reference(fun, [1.0, 0.3], 5)
    stepper = Stepper(obj, opt, problem, [1.0, 0.3], backend)
    for k in range(1, 6):
        stepper.step()
        np.testing.assert_allclose(stepper.theta, expected[k], rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_levenberg_marquardt_matches_reference(problem, backend):
    obj = objective(l2=0.01)
    ds = prepare(obj, problem)
    a, b = obj.params
    u, _ = obj.sum_of_squares()
    jac = [u.diff(a), u.diff(b)]
    values = {s: ds[s.name] for s in obj.data_symbols}
    n = ds.n_rows
    c = np.sqrt(1.0 / n)
    w = np.sqrt(0.01)

    def residuals(theta):
        v = {**values, a: theta[0], b: theta[1]}
        r = np.r_[c * evaluate(u, v), w * theta]
        J = np.vstack([c * np.column_stack([np.broadcast_to(evaluate(e, v), (n,)) for e in jac]), w * np.eye(2)])
        return r, J

    def curvature(theta, direction):
        v = {**values, a: theta[0], b: theta[1]}
        second = sum(evaluate(jac[j].diff(obj.params[k]), v) * direction[j] * direction[k]
                     for j in range(2) for k in range(2))
        return np.r_[c * np.broadcast_to(second, (n,)), 0.0, 0.0]

    opt = symopt.LevenbergMarquardt()
    expected = opt.reference(residuals, curvature, [1.0, 0.3], 5)
    stepper = Stepper(obj, opt, problem, [1.0, 0.3], backend)
    accepted = [stepper.theta.copy()]
    while len(accepted) < 6:
        assert stepper.step() == RUNNING
        if not np.array_equal(stepper.theta, accepted[-1]):
            accepted.append(stepper.theta.copy())
    for k in range(1, 6):
        np.testing.assert_allclose(accepted[k], expected[k], rtol=1e-12)


@pytest.mark.parametrize("optimizer, expr, params", [
    (symopt.Newton(tol=0.0), "a*x + b**2", "a b"), (symopt.Newton(tol=0.0), "-exp(a)*x + b**2", "a b"),
    (symopt.LBFGS(tol=0.0), "a*x", "a"), (symopt.LBFGS(tol=0.0), "-exp(a)*x + b**2", "a b")],
    ids=["newton-linear", "newton-exp", "lbfgs-linear", "lbfgs-exp"])
def test_unbounded_stop_matches_reference(problem, optimizer, expr, params):
    """The ray test ends the run at the farthest finite point, in the generated code and the reference alike."""
    obj = symopt.Objective(expr, params)
    fun, hess, _, _ = reference_functions(obj, problem)
    theta0 = [0.5, 0.3][: len(obj.params)]
    if isinstance(optimizer, symopt.Newton):
        expected = optimizer.reference(fun, hess, theta0, 10)
    else:
        expected = optimizer.reference(fun, theta0, 10)
    stepper = Stepper(obj, optimizer, problem, theta0)
    status = RUNNING
    for k in range(1, len(expected)):
        assert status == RUNNING
        status = stepper.step()
        # Relative to the size of the whole vector: a runs off to -1e21 while b's step is a small difference
        # of sums dominated by a, so b carries rounding of size eps * |a| (the serial and parallel kernels
        # vectorise the sums differently, so that rounding differs between them)
        scale = max(1.0, float(np.max(np.abs(expected[k]))))
        assert np.max(np.abs(stepper.theta - expected[k])) <= 1e-12 * scale, (k, stepper.theta, expected[k])
    assert status == 10 and len(expected) < 11  # unbounded, well before 10 iterations


@pytest.mark.parametrize("optimizer", [None, symopt.LBFGS(), symopt.Newton(), symopt.GradientDescent(),
                                       symopt.Adam(lr=0.05, max_iter=20_000)],
                         ids=["auto", "lbfgs", "newton", "gd", "adam"])
def test_every_optimizer_reaches_the_optimum(problem, optimizer):
    obj = objective(l2=0.01)
    ref = symopt.solve(obj, problem, optimizer=symopt.Newton(tol=1e-12), x0=[1.0, 0.3], progress=False)
    r = symopt.solve(obj, problem, optimizer=optimizer, x0=[1.0, 0.3], progress=False)
    assert r.success, r.message
    np.testing.assert_allclose(r.x, ref.x, rtol=1e-4)


def test_auto_choice_says_which_and_why(problem):
    lm = symopt.solve(objective(), problem, x0=[1.0, 0.3], progress=False)
    assert "chose LevenbergMarquardt: the objective is a sum of squares" in lm.why
    newton = symopt.solve(symopt.Objective("log(lam) - lam*x", "lam", maximize=True), problem, progress=False,
                          method="iterative")
    assert "chose Newton" in newton.why and newton.success
    X = np.random.default_rng(0).normal(size=(50, 3))
    wide = symopt.solve(symopt.log_loss(symopt.LinearModel(), l2=0.1), (X, (X[:, 0] > 0).astype(float)),
                        progress=False)
    assert "chose Newton: a small smooth problem (4 parameters)" in wide.why and wide.success
    X = np.random.default_rng(0).normal(size=(60, 50))
    wider = symopt.solve(symopt.log_loss(symopt.LinearModel(), l2=0.1), (X, (X[:, 0] > 0).astype(float)),
                         progress=False)
    assert "chose LBFGS: a wide linear model (51 parameters)" in wider.why and wider.success


def test_a_small_linear_model_gets_newton_and_matches_statsmodels_logit(rng):
    """The same Newton an equal expression model gets: L-BFGS agreed with statsmodels to 1.8e-7 here."""
    sm = pytest.importorskip("statsmodels.api")
    X = rng.normal(size=(400, 3))
    y = (X @ np.array([1.0, -0.5, 0.25]) + 0.2 + rng.logistic(size=400) > 0).astype(float)
    fit = symopt.solve(symopt.log_loss(symopt.LinearModel()), (X, y), progress=False)
    assert isinstance(fit.optimizer, symopt.Newton) and fit.success
    ref = sm.Logit(y, sm.add_constant(X)).fit(disp=0, method="newton", tol=1e-14, maxiter=100)
    np.testing.assert_allclose(fit.x, ref.params, rtol=1e-10, atol=1e-12)


def test_optimizer_objective_mismatch_is_refused(problem):
    with pytest.raises(symopt.ModelError, match="LevenbergMarquardt needs a sum of squares"):
        symopt.solve(symopt.Objective("log(lam) - lam*x", "lam", maximize=True), problem,
                     optimizer=symopt.LevenbergMarquardt(), method="iterative")
    with pytest.raises(symopt.ModelError, match="line search needs the full batch"):
        symopt.GradientDescent(batch_size=8)
    with pytest.raises(symopt.ModelError, match="beta1"):
        symopt.Adam(beta1=1.0)
    with pytest.raises(symopt.ModelError, match="c1 < c2"):
        symopt.LBFGS(c1=0.5, c2=0.1)


def test_ftol_rule_is_reported(problem):
    r = symopt.solve(objective(), problem, optimizer=symopt.GradientDescent(tol=0.0, ftol=1e-6), x0=[1.0, 0.3],
                     progress=False)
    assert r.status == "converged_ftol" and r.success and "ftol" in r.message


def test_minibatch_is_reproducible_and_completes(problem):
    opt = symopt.Adam(lr=0.02, batch_size=8, seed=11, max_iter=40)
    r1 = symopt.solve(objective(), problem, optimizer=opt, x0=[1.0, 0.3], progress=False)
    r2 = symopt.solve(objective(), problem, optimizer=opt, x0=[1.0, 0.3], progress=False)
    assert r1.status == "completed" and r1.success and r1.nit == 40
    np.testing.assert_array_equal(r1.x, r2.x)
    r3 = symopt.solve(objective(), problem, optimizer=symopt.Adam(lr=0.02, batch_size=8, seed=12, max_iter=40),
                      x0=[1.0, 0.3], progress=False)
    assert not np.array_equal(r1.x, r3.x)
    assert len(r1.history) == 41 and r1.history[-1] < r1.history[0]
    zero, one = (symopt.solve(objective(), problem, x0=[1.0, 0.3], progress=False,
                              optimizer=symopt.Adam(lr=0.02, batch_size=8, seed=seed, max_iter=40)) for seed in (0, 1))
    assert not np.array_equal(zero.x, one.x)  # seeds 0 and 1 once shared a shuffle


def test_wide_minibatch_sgd(problem):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(500, 20))
    y = (X @ rng.normal(size=20) + rng.normal(size=500) > 0).astype(float)
    r = symopt.solve(symopt.log_loss(symopt.LinearModel()), (X, y),
                     optimizer=symopt.GradientDescent(lr=0.5, line_search=False, batch_size=50, max_iter=300),
                     progress=False)
    full = symopt.solve(symopt.log_loss(symopt.LinearModel()), (X, y), progress=False)
    assert r.status == "completed" and r.nit == 300
    assert r.fun < full.fun + 0.02 and r.history[-1] < 0.5 * r.history[0]


def test_momentum_must_be_below_one():
    for cls in (symopt.Momentum, symopt.Nesterov):
        for bad in (1.0, 1.5, 5, -0.1, "0.9", True):
            with pytest.raises(symopt.ModelError, match=r"momentum must be in \[0, 1\)"):
                cls(momentum=bad)
        assert cls(momentum=0).momentum == 0 and cls(momentum=0.99).momentum == 0.99


def test_epochs_and_max_iter_must_agree():
    from dataclasses import replace

    with pytest.raises(symopt.ModelError, match="epochs=5 and max_iter=100 disagree"):
        symopt.Adam(epochs=5, max_iter=100)
    with pytest.raises(symopt.ModelError, match="epochs=5 and max_iter=10000 disagree"):
        symopt.Adam(epochs=5, max_iter=10_000)  # an explicit max_iter counts even at the default's value
    assert symopt.Adam(epochs=5).max_iter == 5 and symopt.Adam(epochs=5, max_iter=5).max_iter == 5
    assert symopt.Adam().max_iter == 10_000 and symopt.RMSProp(max_iter=7).max_iter == 7
    assert replace(symopt.Adam(epochs=5), epochs=8).max_iter == 8  # the copied count is not "given"
    assert replace(symopt.Adam(), epochs=3).max_iter == 3
    assert symopt.Adam(epochs=3) == symopt.Adam(epochs=3, max_iter=3)


def test_numpy_scalars_are_accepted_as_plain_numbers():
    adam = symopt.Adam(lr=np.float32(0.5), max_iter=np.int64(10), batch_size=np.int32(8), seed=np.uint8(3))
    assert (adam.lr, adam.max_iter, adam.batch_size, adam.seed) == (0.5, 10, 8, 3)
    assert type(adam.lr) is float and type(adam.max_iter) is int and type(adam.seed) is int
    assert "np." not in adam.describe()
    assert symopt.Adam(epochs=np.int64(4)).max_iter == 4
    lm = symopt.LevenbergMarquardt(geodesic=np.bool_(False), tau=np.float64(1e-2))
    assert lm.geodesic is False and type(lm.tau) is float
    assert type(symopt.LBFGS(memory=np.int16(5)).memory) is int
    for bad in (dict(lr=True), dict(lr="0.1"), dict(max_iter=True), dict(max_iter="10"), dict(max_iter=10.0),
                dict(seed=True), dict(eps=np.nan)):
        with pytest.raises(symopt.ModelError, match=next(iter(bad))):
            symopt.Adam(**bad)


def test_switches_must_be_true_or_false():
    for bad in ("no", 0, 1, None):
        with pytest.raises(symopt.ModelError, match="line_search must be True or False"):
            symopt.GradientDescent(line_search=bad, lr=1e-9)
        with pytest.raises(symopt.ModelError, match="geodesic must be True or False"):
            symopt.LevenbergMarquardt(geodesic=bad)
    assert symopt.GradientDescent(line_search=False, lr=0.1).searching is False
    with pytest.raises(symopt.ModelError, match="c1 must be a number"):
        symopt.LBFGS(c1="1e-4")


@pytest.mark.parametrize("option, value", [("validation", 0.1), ("early_stopping", 3), ("schedule", "cosine")])
@pytest.mark.parametrize("cls", [symopt.LBFGS, symopt.Newton, symopt.LevenbergMarquardt, symopt.ProximalGradient,
                                 symopt.CoordinateDescent])
def test_a_network_training_option_on_an_optimizer_without_it_names_the_optimizers_that_take_it(cls, option, value):
    """Issue 31: LBFGS(validation=0.1) was Python's bare TypeError ("unexpected keyword argument")."""
    with pytest.raises(symopt.ModelError) as info:
        cls(**{option: value})
    message = str(info.value)
    assert message.startswith(f"{cls.__name__} takes no {option}=: validation=, early_stopping= and schedule= are "
                              f"options of training a network by epochs")
    assert "GradientDescent, Momentum, Nesterov, Adam and RMSProp do" in message
    assert f"symopt.Adam({option}=..., batch_size=32, epochs=20)" in message
    assert getattr(symopt.Adam(**{option: value}), option) is not None  # the optimizers named do take it


def test_an_option_an_optimizer_does_not_take_is_a_model_error_listing_its_options():
    import copy
    import pickle
    from dataclasses import replace

    with pytest.raises(symopt.ModelError, match=r"LBFGS takes no lr=: it is an option of GradientDescent, Momentum, "
                                                r"Nesterov, Adam and RMSProp; LBFGS's options are memory=, max_iter="):
        symopt.LBFGS(lr=0.1)
    with pytest.raises(symopt.ModelError, match=r"Adam takes no option momentun=; its options are lr=, beta1="):
        symopt.Adam(momentun=0.9)  # a misspelling: no optimizer takes it
    # what builds an optimizer again without its keywords is untouched: copies, pickles, replace, positional use
    adam = symopt.Adam(lr=0.01, validation=0.2, early_stopping=2, epochs=4)
    assert copy.deepcopy(adam) == adam == pickle.loads(pickle.dumps(adam))
    assert replace(adam, lr=0.5).lr == 0.5 and symopt.LBFGS(7).memory == 7

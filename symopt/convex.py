"""Convexity verdicts: is the objective convex (so a minimum found is the global one), concave, or not?

Two kinds of answer, labelled as such:

- **proved** (from the derivation alone, true for all data): for a loss in a linear predictor (a
  ``LinearModel()`` over a data matrix, a network without hidden layers and with an identity output), the
  one-variable condition ``d2l/deta2 >= 0`` for every real ``eta``; softmax cross-entropy is log-sum-exp of
  affine scores, convex by its Hessian ``diag(p) - p p^T``; for an expression model of up to
  :data:`MAX_MINOR_PARAMS` parameters, every principal minor of the per-sample Hessian ``>= 0`` for all
  real parameters and data (positive semidefinite: convex), or of its negative (concave). SymPy decides
  each sign by its assumptions after simplifying (also rewritten in ``exp``), in a child process within
  a time budget; what it cannot decide is not proved. An objective with kinks (``|x|``, ``max``: their
  ``DiracDelta`` dropped from the derivation) is never proved: its Hessian says nothing at the kinks.
- **numerical** (with data, or for an objective without data): the Hessian of F, by central differences of
  the gradient of the code that runs, at the default start and seeded draws around it
  (:meth:`symopt.forms.Form.draw_start`). Curvature of the wrong sign beyond rounding, confirmed by
  second differences of F itself along its eigenvector, is a ``witness``: the objective is not convex
  (not concave, when maximised), and that is a fact about these data. Eigenvalues of the right sign at
  every sampled point are evidence only.

The penalty ``l2 * |theta|^2`` is convex (its negative, when maximising, concave): it keeps a convex
(concave) objective so and is otherwise left to the numerical check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import sympy as sp

from .closed_form.sandbox import ChildFailed, Timeout, run_with_budget
from .escape import markdown_escape
from .show import params_line
from .starts import SUGGESTED_STARTS
from .network import Z

#: Expression models up to this many parameters get the principal-minor proof (2**p - 1 minors).
MAX_MINOR_PARAMS = 4
#: Expressions larger than this (SymPy operations) are not simplified: simplify may take minutes.
MAX_PROOF_OPS = 400
#: Seconds SymPy may spend on a proof.
PROOF_BUDGET = 5.0
#: Points at which the numerical check forms the Hessian (the default start and draws around it).
DEFAULT_SAMPLES = 8
#: Dense finite-difference Hessians up to this many parameters; above, the most negative curvature is
#: sought by power iteration on Hessian-vector products.
MAX_DENSE_PARAMS = 200
EPS = np.finfo(float).eps


@dataclass(frozen=True)
class Witness:
    """A point and a unit direction along which F curves the wrong way: ``curvature`` is the second
    difference ``(F(x + t d) + F(x - t d) - 2 F(x)) / t**2`` measured at step ``t``."""

    point: dict
    direction: dict
    curvature: float
    step: float
    x: np.ndarray
    d: np.ndarray


@dataclass(frozen=True)
class Convexity:
    """``kind``: "convex", "concave", "non-convex" or "unknown"; ``certainty``: "proved" or "numerical"
    ("" for unknown); ``reason`` in words; ``witness`` for "non-convex" where one was found."""

    kind: str
    certainty: str
    reason: str
    witness: Witness | None = None

    def optimum(self, maximize: bool, starts: int = 1) -> str:
        """Whether an optimum found (the best of ``starts`` starts) is global, in words."""
        wanted = "concave" if maximize else "convex"
        what = "maximum" if maximize else "minimum"
        if self.kind == wanted and self.certainty == "proved":
            return f"the {what} found is global: the objective is {wanted} (proved)"
        if self.kind == wanted:
            return f"the {what} found is probably global: the objective looked {wanted} at every point sampled"
        if self.kind == "non-convex":
            if starts > 1:
                return (f"the best {what} of {starts} starts; it may still be only local: the objective is not "
                        f"{wanted} (a witness was found)")
            return (f"the {what} found may be only local: the objective is not {wanted} (a witness was found); "
                    f"try many starts: solve(..., starts={SUGGESTED_STARTS})")
        if self.kind in ("convex", "concave"):
            return f"the objective is {self.kind}: a {what} exists only on a boundary, if at all"
        return f"whether the {what} found is global is not known: {self.reason}"

    def __str__(self) -> str:
        text = f"convexity: {self.kind}" + (f" ({self.certainty})" if self.certainty else "") + f": {self.reason}"
        if self.witness is not None:
            w = self.witness
            text += (f"\n  witness: at {params_line(w.point)} along {params_line(w.direction, 3)}, "
                     f"(F(x+td) + F(x-td) - 2F(x))/t^2 = {w.curvature:.3g} at t = {w.step:.3g}")
        return text

    def to_markdown(self) -> str:
        head = f"**Convexity: {self.kind}**" + (f" ({self.certainty})" if self.certainty else "")
        return f"{head}: {markdown_escape(self.reason)}\n"

    _repr_markdown_ = to_markdown


# --- proofs ------------------------------------------------------------------------------------------------


def _nonnegative(expr) -> bool:
    """Whether SymPy proves ``expr >= 0`` for all values its symbols' assumptions allow."""
    expr = sp.sympify(expr)
    if expr.is_nonnegative:
        return True
    if sp.count_ops(expr) > MAX_PROOF_OPS:
        return False
    for form in (sp.simplify(expr), sp.simplify(expr.rewrite(sp.exp)), sp.factor(sp.expand(expr))):
        if form.is_nonnegative:
            return True
    return False


def signs_in_child(exprs: tuple) -> tuple:
    """For each expression, whether it is proved ``>= 0`` and whether proved ``<= 0`` (run in the sandbox)."""
    return tuple((_nonnegative(e), _nonnegative(-e)) for e in exprs)


def _principal_minors(H: sp.Matrix) -> list:
    p = H.shape[0]
    return [H.extract(list(idx), list(idx)).det(method="berkowitz")
            for size in range(1, p + 1) for idx in combinations(range(p), size)]


def prove(objective, derivation, budget: float = PROOF_BUDGET) -> tuple:
    """``(Convexity, "")`` proved from the derivation alone (true for all data), or ``(None, why not)``."""
    return _prove(objective, derivation, budget)


def _prove(objective, derivation, budget):
    form = objective.form.name
    if derivation.notes:
        return None, ("the objective has kinks (" + "; ".join(derivation.notes) + "), where its Hessian says "
                      "nothing, so no proof is attempted")
    penalty = None if not objective.l2 else ("concave" if objective.maximize else "convex")
    if form == "multiclass":
        return _proved("convex", penalty, "softmax cross-entropy is log-sum-exp of affine scores (its Hessian "
                       "diag(p) - p p^T is positive semidefinite) less a linear term")
    if form == "network":
        net = objective.model
        if len(net.layers) > 1:
            return None, f"a network with {len(net.layers) - 1} hidden layer(s) is not covered by the proofs"
        if net.activations[-1].expr != Z:
            return None, "a network whose outputs are not its affine scores (an output activation) is not covered"
        loss = {"squared": "(y - z)**2 is convex in z", "log": "softplus(z) - y*z is convex in z",
                "cross_entropy": "softmax cross-entropy is log-sum-exp of z less a linear term"}[objective.kind]
        return _proved("convex", penalty, f"without hidden layers the outputs z are affine in the weights, and {loss}")
    elif form == "wide":
        exprs, words = (derivation.hessian[0, 0],), "d2l/deta2"
    else:
        H = derivation.hessian
        if H is None:
            return None, "the per-sample Hessian was not formed (too many parameters)"
        p = H.shape[0]
        if p > MAX_MINOR_PARAMS:
            return None, f"{p} parameters is more than the principal-minor proof tries ({MAX_MINOR_PARAMS})"
        exprs, words = tuple(_principal_minors(H)), "every principal minor of the per-sample Hessian"
    try:
        signs = run_with_budget(signs_in_child, (tuple(exprs),), budget)
    except Timeout:
        return None, f"SymPy could not decide the sign of {words} within {budget:g} s"
    except ChildFailed as exc:
        return None, f"SymPy failed deciding the sign of {words}: {str(exc).splitlines()[0]}"
    if form == "expression":
        # PSD: all principal minors >= 0. NSD: minors of order k have the sign (-1)**k.
        sizes = [len(idx) for size in range(1, H.shape[0] + 1) for idx in combinations(range(H.shape[0]), size)]
        convex = all(nonneg for nonneg, _ in signs)
        concave = all((nonneg if k % 2 == 0 else nonpos) for (nonneg, nonpos), k in zip(signs, sizes))
    else:
        convex, concave = signs[0][0], signs[0][1]
    variable = "eta" if form == "wide" else None
    if convex:
        what = (f"{words} = {exprs[0]} >= 0 for every real {variable}: the loss is convex in the linear predictor, "
                "which is affine in the parameters") if variable else \
            ("the per-sample Hessian is positive semidefinite for all real parameters and data (SymPy proves every "
             "principal minor >= 0), so each row's term and their sum are convex")
        return _proved("convex", penalty, what)
    if concave:
        what = (f"{words} = {exprs[0]} <= 0 for every real {variable}") if variable else \
            ("the per-sample Hessian is negative semidefinite for all real parameters and data (SymPy proves each "
             "principal minor of order k has the sign of (-1)**k), so each row's term and their sum are concave")
        return _proved("concave", penalty, what)
    return None, f"SymPy proves no sign of {words} for all real values (which does not make it non-convex)"


def _proved(kind: str, penalty: str | None, reason: str) -> tuple:
    """``(Convexity, "")`` for a per-sample loss proved ``kind``, unless the penalty works the other way."""
    if penalty is not None and kind != penalty:
        return None, (f"the per-sample objective is {kind} ({reason}), but the l2 penalty is {penalty}, so "
                      "their sum is neither proved")
    return Convexity(kind, "proved", reason), ""


# --- numerical evidence --------------------------------------------------------------------------------------


def evidence(problem, dataset, samples: int = DEFAULT_SAMPLES, seed: int = 0, points=()) -> Convexity:
    """The numerical verdict on ``dataset`` (see the module's text): Hessians at the default start, ``points``
    (flat vectors, such as a solution) and ``samples - 1`` seeded draws around the start."""
    objective = problem.objective
    form = objective.form
    rng = np.random.default_rng(seed)
    start = form.default_start(dataset).astype(float)
    xs = [start, *(np.asarray(p, dtype=float) for p in points)]
    xs += [form.draw_start(dataset, start, rng) for _ in range(max(samples - 1, 0))]
    f = lambda t: problem.flat_value_and_grad(dataset, t)[0]  # noqa: E731
    g = lambda t: problem.flat_value_and_grad(dataset, t)[1]  # noqa: E731
    lows, highs, seen, skipped = [], [], 0, False
    for x in xs:
        try:
            fx, gx = problem.flat_value_and_grad(dataset, x)
        except (ArithmeticError, ValueError):
            continue
        if not (math.isfinite(fx) and np.all(np.isfinite(gx))):
            continue
        seen += 1
        wanted_sign = -1.0 if objective.maximize else 1.0
        for sign in (1.0, -1.0):  # the most negative curvature of F, then of -F
            if sign != wanted_sign and x.size > MAX_DENSE_PARAMS:
                skipped = True  # the other sign only tells flat from curved: not worth 60 passes per point
                continue
            lam, v = _extreme_curvature(g, x, sign, rng)
            if lam is None:
                continue
            (lows if sign > 0 else highs).append((lam, x, v))
    if not seen:
        return Convexity("unknown", "", "the objective is not finite at any sampled point")
    scale = max([abs(lam) for lam, _, _ in lows + highs] + [1e-300])
    tol = 1e-6 * scale
    negative = sorted((t for t in lows if t[0] < -tol), key=lambda t: t[0])
    positive = sorted((t for t in highs if t[0] < -tol), key=lambda t: t[0])  # curvature of -F below 0
    wanted = "concave" if objective.maximize else "convex"
    against = positive if objective.maximize else negative
    sign = -1.0 if objective.maximize else 1.0
    for lam, x, v in against:
        witness = _confirm(f, x, v, sign, form, dataset)
        if witness is not None:
            return Convexity("non-convex", "numerical",
                             f"F curves {'up' if objective.maximize else 'down'} along a direction at a sampled "
                             f"point (second difference {witness.curvature:.3g}, checked on F itself), so it is not "
                             f"{wanted}" + (" on these data" if objective.data_names else ""), witness)
    other = negative if objective.maximize else positive
    if not against and not other and not skipped:
        return Convexity(wanted, "numerical", f"F is flat (affine) along every direction at {seen} sampled points")
    if not against:
        return Convexity(wanted, "numerical", f"the Hessian of F was {'negative' if objective.maximize else 'positive'} "
                         f"semidefinite at all {seen} points sampled (evidence, not a proof)")
    return Convexity("unknown", "", "curvature of the wrong sign was seen in the Hessian but not confirmed on F "
                     "itself (within rounding)")


def _extreme_curvature(g, x, sign: float, rng):
    """``(lambda, v)``: the most negative eigenvalue of ``sign * H(x)`` and its unit eigenvector, H from
    central differences of the gradient ``g``; (None, None) where the gradient is not finite nearby."""
    p = x.size
    h = EPS ** (1 / 3) * np.maximum(1.0, np.abs(x))
    if p <= MAX_DENSE_PARAMS:
        H = np.empty((p, p))
        for j in range(p):
            e = np.zeros(p)
            e[j] = h[j]
            H[:, j] = (g(x + e) - g(x - e)) / (2 * h[j])
        if not np.all(np.isfinite(H)):
            return None, None
        lam, V = np.linalg.eigh(sign * (H + H.T) / 2)
        return float(lam[0]), V[:, 0]
    step = EPS ** (1 / 3) * max(1.0, float(np.linalg.norm(x)))

    def hv(v):
        return sign * (g(x + step * v) - g(x - step * v)) / (2 * step)

    v = rng.standard_normal(p)
    v /= np.linalg.norm(v)
    top = 0.0
    for _ in range(20):  # the largest |eigenvalue|, to shift by
        w = hv(v)
        top = float(np.linalg.norm(w))
        if not math.isfinite(top) or top == 0:
            return None, None
        v = w / top
    v = rng.standard_normal(p)
    v /= np.linalg.norm(v)
    for _ in range(40):  # power iteration on top*I - H: its dominant eigenvector is H's lowest
        w = top * v - hv(v)
        v = w / np.linalg.norm(w)
    return float(v @ hv(v)), v


def _confirm(f, x, v, sign: float, form, dataset) -> Witness | None:
    """The witness along ``v`` where the second difference of ``sign * F`` is negative beyond rounding."""
    fx = f(x)
    size = max(1.0, float(np.linalg.norm(x)))
    for k in range(8):
        t = 1e-1 * size * 0.25 ** k
        second = sign * (f(x + t * v) + f(x - t * v) - 2 * fx)
        if math.isfinite(second) and second < -1e3 * EPS * max(abs(fx), 1e-300) and second < 0:
            return Witness(form.unflatten(dataset, x), form.unflatten(dataset, v), float(sign * second / t ** 2),
                           t, x.copy(), v.copy())
    return None


def verdict(problem, dataset=None, samples: int = DEFAULT_SAMPLES, seed: int = 0, points=()) -> Convexity:
    """The proof where there is one (kept per problem structure), else the numerical evidence on ``dataset``
    (None: "unknown", with the reason there is no proof)."""
    proof, why = problem.convexity_proof()
    if proof is not None:
        return proof
    if dataset is None:
        return Convexity("unknown", "", f"no proof ({why}), and no data for a numerical check")
    found = evidence(problem, dataset, samples, seed, points)
    if found.certainty == "numerical" and found.kind != "non-convex":
        return Convexity(found.kind, found.certainty, f"{found.reason}; no proof: {why}")
    return found

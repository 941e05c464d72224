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
  the gradient of the code that runs, at the default start, the solution where there is one, and seeded
  draws over the plausible range around them (each parameter within +-max(10 |x|, 1):
  :func:`symopt.starts.spread_points`; a check drawn only near an answer cannot see past its basin), and F
  at the midpoints of the chords between them. Curvature of the wrong sign beyond rounding, confirmed by
  second differences of F itself along its eigenvector, or a midpoint above its chord, is a ``witness``:
  the objective is not convex (not concave, when maximised), and that is a fact about these data.
  Eigenvalues of the right sign at every sampled point and every chord above F are evidence only. A
  sampled point with a better F than the solution is recorded (``lower``): that solution is then no
  global optimum, whatever the curvature says. Points outside the objective's domain are skipped and
  counted, without NumPy's warnings.

The penalty ``l2 * |theta|^2`` is convex (its negative, when maximising, concave): it keeps a convex
(concave) objective so and is otherwise left to the numerical check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from itertools import combinations

import numpy as np
import sympy as sp

from .closed_form.sandbox import ChildFailed, Timeout, run_with_budget
from .escape import markdown_escape
from .show import params_line
from .starts import SUGGESTED_STARTS, spread_points
from .network import Z
from .run import starting_point

#: Expression models up to this many parameters get the principal-minor proof (2**p - 1 minors).
MAX_MINOR_PARAMS = 4
#: Expressions larger than this (SymPy operations) are not simplified: simplify may take minutes.
MAX_PROOF_OPS = 400
#: Seconds SymPy may spend on a proof.
PROOF_BUDGET = 5.0
#: Points at which the numerical check forms the Hessian: the default start, the solution where there is one,
#: and draws over the plausible range around them (symopt.starts.spread_points).
DEFAULT_SAMPLES = 8
#: At most this many chords between sampled points are tested (F at each midpoint): every pair of 8 points.
MAX_CHORDS = 28
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
class LowerPoint:
    """A point sampled by the numerical check where F is lower (higher, when maximising) than at the solution
    it was given: ``fun`` there against ``than`` at the solution. The solution is then no global optimum."""

    point: dict
    x: np.ndarray
    fun: float
    than: float


@dataclass(frozen=True)
class Convexity:
    """``kind``: "convex", "concave", "non-convex" or "unknown"; ``certainty``: "proved" or "numerical"
    ("" for unknown); ``reason`` in words; ``witness`` for "non-convex" where one was found; ``lower``: a
    sampled point better than the solution the check was given (:class:`LowerPoint`), or None."""

    kind: str
    certainty: str
    reason: str
    witness: Witness | None = None
    lower: LowerPoint | None = None

    def optimum(self, maximize: bool, starts: int = 1) -> str:
        """Whether an optimum found (the best of ``starts`` starts) is global, in words: never "probably
        global" where a sampled point is better (:attr:`lower`)."""
        wanted = "concave" if maximize else "convex"
        what = "maximum" if maximize else "minimum"
        if self.lower is not None:
            low = self.lower
            head = f"the best {what} of {starts} starts" if starts > 1 else f"the {what} found"
            return (f"{head} is not global: F = {low.fun:.6g} at {params_line(low.point)} (a point the convexity "
                    f"check sampled) is {'higher' if maximize else 'lower'} than its F = {low.than:.6g}; start "
                    f"there (x0=) or try {'more' if starts > 1 else 'many'} starts: solve(..., "
                    f"starts={max(SUGGESTED_STARTS, 2 * starts)})")
        if self.kind == wanted and self.certainty == "proved":
            return f"the {what} found is global: the objective is {wanted} (proved)"
        if self.kind == wanted:
            return (f"the {what} found is probably global: the objective looked {wanted} at every point sampled "
                    f"(over +-max(10|x|, 1) around the start and the solution)")
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
        if self.lower is not None:
            text += (f"\n  better than the solution: F = {self.lower.fun:.6g} at {params_line(self.lower.point)} "
                     f"(the solution's F = {self.lower.than:.6g})")
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


def prove(objective, derivation, budget: float | None = None) -> tuple:
    """``(Convexity, "")`` proved from the derivation alone (true for all data), or ``(None, why not)``;
    SymPy gets ``budget`` seconds (:data:`PROOF_BUDGET` by default)."""
    return _prove(objective, derivation, PROOF_BUDGET if budget is None else budget)


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
    """The numerical verdict on ``dataset`` (see the module's text): at the default start, ``points`` (flat
    vectors, such as a solution) and seeded draws over the plausible range around them
    (:func:`symopt.starts.spread_points`: each parameter within +-max(10 |x|, 1)), ``samples`` points in all
    (at least the start and ``points``): the Hessian of F at each, and F at the midpoints of the chords
    between them (:data:`MAX_CHORDS`). A point where F or its gradient is not finite (outside the
    objective's domain, or overflowing) is skipped and counted; NumPy's warnings there are silenced.

    Where a sampled point has a lower F (higher, when maximising) than one of ``points``, that point is
    not the global optimum, and ``lower`` says where."""
    objective = problem.objective
    form = objective.form
    rng = np.random.default_rng(seed)
    with np.errstate(all="ignore"):
        start = starting_point(objective, problem.derivation, dataset, None).astype(float)
    centres = [start, *(np.asarray(p, dtype=float) for p in points)]
    spreads = [spread_points(form, dataset, c, samples, rng) for c in centres]
    xs = centres + [next(spreads[k % len(centres)]) for k in range(max(samples - len(centres), 0))]

    def value_and_grad(t):
        with np.errstate(all="ignore"):
            try:
                fx, gx = problem.flat_value_and_grad(dataset, t)
            except (ArithmeticError, ValueError):
                return math.nan, None
        return (float(fx), gx) if math.isfinite(fx) and np.all(np.isfinite(gx)) else (math.nan, None)

    f = lambda t: value_and_grad(t)[0]  # noqa: E731
    g = lambda t: value_and_grad(t)[1]  # noqa: E731
    sign = -1.0 if objective.maximize else 1.0  # the curvature of sign * F should be >= 0
    wanted = "concave" if objective.maximize else "convex"
    seen, values, curvatures, skipped = [], [], [], 0
    for x in xs:
        fx, gx = value_and_grad(x)
        if gx is None:
            skipped += 1
            continue
        seen.append(x)
        values.append(fx)
        curvatures.append(_extreme_curvature(g, x, sign, rng, both=x.size <= MAX_DENSE_PARAMS))
    outside = (f"; {skipped} of the {len(xs)} points sampled were skipped (outside the objective's domain, or "
               f"overflowing: F or its gradient not finite there)") if skipped else ""
    if not seen:
        return Convexity("unknown", "", f"the objective is not finite at any of the {len(xs)} points sampled")
    chords, midpoints = _chords(f, seen, values, sign, form, dataset)
    lower = _lower(form, dataset, points, [*zip(seen, values), *midpoints], sign, f)
    where = (f"{len(seen)} points sampled over +-max(10|x|, 1) around the start"
             + (" and the solution" if points else ""))
    # the Hessian: curvature of sign * F below -1e-6 of its largest size at that point, confirmed on F itself
    against = sorted(((lam, x, v) for (lam, v, _, scale), x in zip(curvatures, seen)
                      if lam is not None and lam < -1e-6 * scale), key=lambda t: t[0])
    for lam, x, v in against:
        witness = _confirm(f, x, v, sign, form, dataset)
        if witness is not None:
            return Convexity("non-convex", "numerical",
                             f"F curves {'up' if objective.maximize else 'down'} along a direction at a sampled "
                             f"point (second difference {witness.curvature:.3g}, checked on F itself), so it is not "
                             f"{wanted}" + (" on these data" if objective.data_names else "") + outside,
                             witness, lower)
    if chords["witness"] is not None:
        witness = chords["witness"]
        return Convexity("non-convex", "numerical",
                         f"F lies {'below' if objective.maximize else 'above'} its chord between two sampled points "
                         f"(at the midpoint, F(x+td) + F(x-td) - 2F(x) = {witness.curvature * witness.step ** 2:.3g} "
                         f"at t = {witness.step:.3g}), so it is not {wanted}"
                         + (" on these data" if objective.data_names else "") + outside, witness, lower)
    if against:
        return Convexity("unknown", "", "curvature of the wrong sign was seen in the Hessian but not confirmed on F "
                         "itself (within rounding)" + outside, None, lower)
    bends = any(lam is not None and hi is not None and max(abs(lam), abs(hi)) > 1e-6 * scale and scale > 0
                for lam, _, hi, scale in curvatures)
    partial = any(hi is None for _, _, hi, _ in curvatures)  # the other sign not computed (large p)
    if not bends and not partial and not chords["curved"]:
        return Convexity(wanted, "numerical", f"F is flat (affine) along every direction at {where} and along "
                         f"{chords['count']} chords between them{outside}", None, lower)
    if not bends and not partial:
        return Convexity(wanted, "numerical", f"F lay {'above' if objective.maximize else 'below'} its chords "
                         f"between the {where} ({chords['count']} chords, {chords['curved']} strictly), though its "
                         f"Hessian was 0 at every one of them: it bends only where it is not differentiable (a "
                         f"kink), and is linear between (evidence, not a proof){outside}", None, lower)
    return Convexity(wanted, "numerical", f"the Hessian of F was {'negative' if objective.maximize else 'positive'} "
                     f"semidefinite at all {where}, and F lay {'above' if objective.maximize else 'below'} its "
                     f"chords between them ({chords['count']} chords) (evidence, not a proof){outside}", None, lower)


def _extreme_curvature(g, x, sign: float, rng, both: bool = True):
    """``(lambda, v, other, scale)``: the most negative eigenvalue of ``sign * H(x)`` and its unit
    eigenvector, the most negative of ``-sign * H(x)`` (``both``; else None), and the largest eigenvalue of
    H in size; H from central differences of the gradient ``g`` (which gives None outside the domain). All
    None where the gradient is not finite nearby."""
    p = x.size
    nothing = (None, None, None, 0.0)
    h = EPS ** (1 / 3) * np.maximum(1.0, np.abs(x))
    if p <= MAX_DENSE_PARAMS:
        H = np.empty((p, p))
        for j in range(p):
            e = np.zeros(p)
            e[j] = h[j]
            up, down = g(x + e), g(x - e)
            if up is None or down is None:
                return nothing
            H[:, j] = (up - down) / (2 * h[j])
        if not np.all(np.isfinite(H)):
            return nothing
        lam, V = np.linalg.eigh(sign * (H + H.T) / 2)
        scale = float(np.max(np.abs(lam))) if lam.size else 0.0
        return float(lam[0]), V[:, 0], (float(-lam[-1]) if both else None), scale
    step = EPS ** (1 / 3) * max(1.0, float(np.linalg.norm(x)))

    def hv(v):
        up, down = g(x + step * v), g(x - step * v)
        if up is None or down is None:
            return np.full(p, np.nan)
        return sign * (up - down) / (2 * step)

    v = rng.standard_normal(p)
    v /= np.linalg.norm(v)
    top = 0.0
    for _ in range(20):  # the largest |eigenvalue|, to shift by
        w = hv(v)
        top = float(np.linalg.norm(w))
        if not math.isfinite(top) or top == 0:
            return nothing
        v = w / top
    v = rng.standard_normal(p)
    v /= np.linalg.norm(v)
    for _ in range(40):  # power iteration on top*I - H: its dominant eigenvector is H's lowest
        w = top * v - hv(v)
        norm = float(np.linalg.norm(w))
        if not (math.isfinite(norm) and norm > 0):
            return nothing
        v = w / norm
    return float(v @ hv(v)), v, None, top


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


def _rounding(*values) -> float:
    """What a second difference of these values of F may be off by in double precision."""
    return 1e3 * EPS * sum(abs(v) for v in values)


def _chords(f, xs, values, sign: float, form, dataset) -> tuple:
    """The chord test between pairs of sampled points (each point with the start and the given points first,
    then with each other; at most :data:`MAX_CHORDS`): ``sign * F`` at the midpoint above the chord's beyond
    rounding is a witness. Returns ``({"witness", "curved", "count"}, midpoints)``: the first witness (None),
    how many chords F lay strictly below, how many were tested, and ``(x, F)`` at each finite midpoint."""
    found = {"witness": None, "curved": 0, "count": 0}
    midpoints = []
    pairs = [(i, j) for i in range(len(xs)) for j in range(i + 1, len(xs))]
    for i, j in pairs[:MAX_CHORDS]:
        d = xs[j] - xs[i]
        t = float(np.linalg.norm(d)) / 2.0
        if not t > 0:
            continue
        u, m = d / (2.0 * t), (xs[i] + xs[j]) / 2.0
        fm = f(m)
        if not math.isfinite(fm):
            continue
        midpoints.append((m, fm))
        found["count"] += 1
        second = sign * (values[i] + values[j] - 2.0 * fm)
        if second > _rounding(values[i], values[j], fm, fm):
            found["curved"] += 1
        elif found["witness"] is None and second < -_rounding(values[i], values[j], fm, fm):
            # recorded as the witness states it: F at x -+ t d, evaluated there
            ends = f(m + t * u), f(m - t * u)
            again = sign * (ends[0] + ends[1] - 2.0 * fm)
            if math.isfinite(again) and again < -_rounding(*ends, fm, fm):
                found["witness"] = Witness(form.unflatten(dataset, m), form.unflatten(dataset, u),
                                           float(sign * again / t ** 2), t, m.copy(), u.copy())
    return found, midpoints


def _lower(form, dataset, points, sampled, sign: float, f) -> "LowerPoint | None":
    """The sampled point with the lowest ``sign * F``, where it is lower, beyond rounding, than at one of
    ``points`` (which then is no global optimum)."""
    if not points or not sampled:
        return None
    x, fx = min(sampled, key=lambda t: sign * t[1])
    for p in points:
        fp = f(np.asarray(p, dtype=float))
        if math.isfinite(fp) and sign * (fx - fp) < -(1e-9 * (abs(fx) + abs(fp)) + 1e-300):
            return LowerPoint(form.unflatten(dataset, x), np.array(x, dtype=float), float(fx), float(fp))
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
        return replace(found, reason=f"{found.reason}; no proof: {why}")
    return found

"""Convexity verdicts: is the objective convex (so a minimum found is the global one), concave, or not?

Two kinds of answer, labelled as such:

- **proved** (from the derivation alone, true for all data): for a loss in a linear predictor (a
  ``LinearModel()`` over a data matrix, a network without hidden layers and with an identity output), the
  one-variable condition ``d2l/deta2 >= 0`` for every real ``eta``; softmax cross-entropy is log-sum-exp of
  affine scores, convex by its Hessian ``diag(p) - p p^T``; for an expression model of up to
  :data:`~symopt.model.kinds.expression.MAX_MINOR_PARAMS` parameters, every principal minor of the per-sample Hessian ``>= 0`` for all
  real parameters and data (positive semidefinite: convex), or of its negative (concave). SymPy decides
  each sign by its assumptions after simplifying (also rewritten in ``exp``), in a child process within
  a time budget; what it cannot decide is not proved. An objective with kinks (``|x|``, ``max``: their
  ``DiracDelta`` dropped from the derivation) is never proved: its Hessian says nothing at the kinks.
- **numerical** (with data, or for an objective without data): the Hessian of F, by central differences of
  the gradient of the code that runs, at the default start, the solution where there is one, and seeded
  draws over the plausible range around them (each parameter within +-max(10 |x|, 1):
  :func:`symopt.run.starts.spread_points`; a check drawn only near an answer cannot see past its basin), and F
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
from dataclasses import replace

import numpy as np

from ..closed_form.convexity_proof import Convexity, LowerPoint, Witness
from ..derivation.task import Task
from ..run.loop import starting_point
from ..run.starts import spread_points

#: Points at which the numerical check forms the Hessian: the default start, the solution where there is one,
#: and draws over the plausible range around them (symopt.run.starts.spread_points).
DEFAULT_SAMPLES = 8
#: At most this many chords between sampled points are tested (F at each midpoint): every pair of 8 points.
MAX_CHORDS = 28
#: Dense finite-difference Hessians up to this many parameters; above, the most negative curvature is
#: sought by power iteration on Hessian-vector products.
MAX_DENSE_PARAMS = 200
EPS = np.finfo(float).eps


def evidence(problem, dataset, samples: int = DEFAULT_SAMPLES, seed: int = 0, points=()) -> Convexity:
    """The numerical verdict on ``dataset`` (see the module's text): at the default start, ``points`` (flat
    vectors, such as a solution) and seeded draws over the plausible range around them
    (:func:`symopt.run.starts.spread_points`: each parameter within +-max(10 |x|, 1)), ``samples`` points in all
    (at least the start and ``points``): the Hessian of F at each (above :data:`MAX_DENSE_PARAMS` parameters, up to
    the first point whose negative curvature is confirmed on F), and F at the midpoints of the chords between
    them (:data:`MAX_CHORDS`). A point where F or its gradient is not finite (outside the
    objective's domain, or overflowing) is skipped and counted; NumPy's warnings there are silenced.

    Where a sampled point has a lower F (higher, when maximising) than one of ``points``, that point is
    not the global optimum, and ``lower`` says where."""
    objective = problem.objective
    form = objective.form
    rng = np.random.default_rng(seed)
    with np.errstate(all="ignore"):
        start = starting_point(Task(objective, problem.derivation, dataset), None).astype(float)
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
    seen, values, skipped = [], [], 0
    for x in xs:
        fx, gx = value_and_grad(x)
        if gx is None:
            skipped += 1
            continue
        seen.append(x)
        values.append(fx)
    outside = (f"; {skipped} of the {len(xs)} points sampled were skipped (outside the objective's domain, or "
               f"overflowing: F or its gradient not finite there)") if skipped else ""
    if not seen:
        return Convexity("unknown", "", f"the objective is not finite at any of the {len(xs)} points sampled")
    chords, midpoints = _chords(f, seen, values, sign, form, dataset)
    lower = _lower(form, dataset, points, [*zip(seen, values), *midpoints], sign, f)
    where = (f"{len(seen)} points sampled over +-max(10|x|, 1) around the start"
             + (" and the solution" if points else ""))

    def curving(witness):
        return Convexity("non-convex", "numerical",
                         f"F curves {'up' if objective.maximize else 'down'} along a direction at a sampled "
                         f"point (second difference {witness.curvature:.3g}, checked on F itself), so it is not "
                         f"{wanted}" + (" on these data" if objective.data_names else "") + outside,
                         witness, lower)

    # the Hessian: curvature of sign * F below -1e-6 of its largest size at that point, confirmed on F itself.
    # Up to MAX_DENSE_PARAMS every point's is formed and the most negative confirmed is the witness. Above, a
    # point's curvature is a power iteration of 120 gradients on all rows, so the first point whose curvature is
    # confirmed ends the check: a network's result works its verdict out before it pickles, and a digits CNN of
    # 8 filters on 1,797 images took 10-11 s over all 9 points.
    dense = seen[0].size <= MAX_DENSE_PARAMS
    curvatures, against = [], []
    for x in seen:
        curvatures.append(_extreme_curvature(g, x, sign, rng, both=dense))
        lam, v, _, scale = curvatures[-1]
        if lam is not None and lam < -1e-6 * scale:
            against.append((lam, x, v))
            witness = None if dense else _confirm(f, x, v, sign, form, dataset)
            if witness is not None:
                return curving(witness)
    for lam, x, v in sorted(against, key=lambda t: t[0]) if dense else ():
        witness = _confirm(f, x, v, sign, form, dataset)
        if witness is not None:
            return curving(witness)
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
    objective = problem.objective
    robust = getattr(objective, "robust", None)  # a quantile or Huber loss states its own (symopt.model.robust)
    reason = robust.convex_reason(tuple(objective.params)) if robust is not None and not objective.maximize else ""
    if reason:  # any penalty (l2, l1) is convex too
        return Convexity("convex", "proved", reason)
    proof, why = problem.convexity_proof()
    if proof is not None:
        return proof
    if dataset is None:
        return Convexity("unknown", "", f"no proof ({why}), and no data for a numerical check")
    found = evidence(problem, dataset, samples, seed, points)
    if found.certainty == "numerical" and found.kind != "non-convex":
        return replace(found, reason=f"{found.reason}; no proof: {why}")
    return found

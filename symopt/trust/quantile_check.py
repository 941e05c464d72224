"""What :func:`symopt.verify` can check of a quantile regression (a quantile loss on a model linear in its
parameters, solved as the linear programme it is: :mod:`symopt.run.kinked`).

Its optimum sits on kinks (at least p residuals are 0), where no gradient vanishes, so the gradient says nothing
and an iterative solver cannot reach it. What is checkable instead:

- **subgradient optimality**: with ``r = y - c0 - Phi theta``, the subdifferential of
  ``F = w sum_i rho_q(r_i)`` (``w`` 1/n for the mean, 1 for the sum) is ``{-w Phi'a}``, ``a_i = q`` where
  ``r_i > 0``, ``q - 1`` where ``r_i < 0``, anything in ``[q - 1, q]`` where ``r_i = 0``. ``theta`` is optimal
  exactly when 0 is in it. :func:`subgradient` returns its minimum-norm element (the bounded least-squares
  problem over the free ``a_i``, SciPy's ``lsq_linear``), 0 at an optimum up to rounding, and that is the
  "max |gradient|" verify shows for every solution of such a problem (as for an l1 penalty:
  :func:`symopt.model.penalties.l1_subgradient`);
- **the same programme solved by another library**: scikit-learn's ``QuantileRegressor(alpha=0,
  solver="highs")`` on the design (its primal form, where symopt solves the dual), compared on the objective:
  an LP's optimum need not be unique (a face of optima), so parameters that differ at an equal objective are
  no disagreement.
"""

from __future__ import annotations

import numpy as np

from ..run.kinked import linear_design, zero_residuals
from .agreement import agreement
from .agreement import best as _best
from .agreement import better as _better
from .reference_fit import ReferenceFit, missing

#: A minimum-norm subgradient within this fraction of the gradient's own scale (``w * sum_i |Phi_ij|``, the
#: largest a subgradient component can be) is 0: optimality holds up to rounding.
OPTIMAL = 1e-9


def applies(objective) -> bool:
    """Whether ``objective`` is a quantile loss (unpenalised, minimised) whose checks this module does."""
    robust = getattr(objective, "robust", None)
    return (robust is not None and robust.loss == "quantile" and not objective.maximize and not objective.l2
            and not getattr(objective, "l1", 0))


def subgradient(objective, dataset, x: np.ndarray) -> tuple[np.ndarray, float] | None:
    """``(g, scale)``: the minimum-norm subgradient of the quantile objective at the flat ``x`` (see the module's
    text) and the scale it is judged on (:data:`OPTIMAL`); None where the model is not linear in its
    parameters."""
    design = linear_design(objective, dataset)
    if design is None:
        return None
    from scipy.optimize import lsq_linear

    phi, c0 = design
    q = objective.robust.q
    n = phi.shape[0]
    w = 1.0 / n if objective.reduction == "mean" else 1.0
    response = np.asarray(dataset[objective.target.name], dtype=float) - c0
    fitted = phi @ np.asarray(x, dtype=float)
    e = response - fitted
    zero = zero_residuals(e, response, fitted)
    fixed = np.where(e > 0, q, q - 1.0)
    fixed[zero] = 0.0
    g = phi.T @ fixed
    if np.any(zero):
        free = phi[zero].T
        if free.shape[1] == 1:  # lsq_linear wants a 2-D problem with lower < upper; one free a_i is a clip
            a = np.clip(-(free[:, 0] @ g) / max(float(free[:, 0] @ free[:, 0]), 1e-300), q - 1.0, q)
            g = g + free[:, 0] * a
        else:
            a = lsq_linear(free, -g, bounds=(q - 1.0, q), method="bvls", tol=1e-14).x
            g = g + free @ a
    scale = w * float(np.max(np.sum(np.abs(phi), axis=0), initial=0.0))
    return -w * g, max(scale, 1e-300)


def reference(objective, analysis, dataset, start):
    """scikit-learn's ``QuantileRegressor(quantile=q, alpha=0, solver="highs", fit_intercept=False)`` on the
    design ``Phi`` and ``y - c0`` (:func:`symopt.run.kinked.linear_design`): the same programme, in its primal
    form, solved by HiGHS as scikit-learn states it (a :class:`symopt.trust.reference_fit.ReferenceFit`)."""
    why = missing("sklearn")
    if why:
        return ReferenceFit(None, None, why)
    design = linear_design(objective, dataset)
    if design is None:
        return ReferenceFit(None, None, "scikit-learn's QuantileRegressor is the reference for a quantile loss on "
                                        "a model linear in its parameters; this one is not")
    from sklearn.linear_model import QuantileRegressor

    phi, c0 = design
    y = np.asarray(dataset[objective.target.name], dtype=float) - c0
    fit = QuantileRegressor(quantile=objective.robust.q, alpha=0.0, solver="highs", fit_intercept=False).fit(phi, y)
    return ReferenceFit("scikit-learn QuantileRegressor (alpha=0, solver='highs')", np.asarray(fit.coef_, float))


def judge(objective, dataset, solutions) -> tuple[float, str, bool] | None:
    """``(digits, verdict, ok)`` for :func:`symopt.verify` on a quantile regression (None where the model is not
    linear in its parameters: then the usual comparison judges). OK where symopt's best answer is optimal by
    its subgradient (0 in the subdifferential up to rounding), none of symopt's answers failed, and no other
    solution reached a lower objective; the reference's objective and parameters are reported beside it.
    ``digits``: those on which the reference's objective agrees (nan without one)."""
    answers = [s for s in solutions if s.role == "answer"]
    best = _best(objective, [s for s in answers if s.success])
    if best is None:
        return None
    found = subgradient(objective, dataset, best.x)
    if found is None:
        return None
    g, scale = found
    size = float(np.max(np.abs(g), initial=0.0))
    notes = [f"{s.label} failed ({s.status})" for s in answers if not s.success]
    certified = size <= OPTIMAL * scale
    verdict = (f"{best.label} is optimal: 0 is in the subdifferential there (the minimum-norm subgradient's largest "
               f"component is {size:.2g}, {size / scale:.2g} of its scale), a certificate that holds for any LP "
               f"optimum" if certified else
               f"{best.label} is NOT optimal: 0 is not in the subdifferential there (the minimum-norm subgradient's "
               f"largest component is {size:.2g}, {size / scale:.2g} of its scale, above {OPTIMAL:g})")
    digits = float("nan")
    better = [s for s in solutions if s is not best and s.success and _better(objective, s, best)]
    for ref in (s for s in solutions if s.role == "reference" and s.success):
        digits = agreement(np.array([ref.fun]), np.array([best.fun]))
        verdict += (f"; {ref.label} reaches F = {ref.fun:.15g} ({digits:.1f} digits of symopt's), its parameters "
                    f"agreeing to {agreement(ref.x, best.x):.1f} digits")
    if better:
        top = _best(objective, better)
        verdict += f"; {top.label} reached a lower F = {top.fun:.15g}"
    starts = [s for s in solutions if s.role == "start"]
    if starts:
        verdict += (f"; the iterative solver, from {len(starts)} start(s), stops on the kinks short of the optimum "
                    f"(best F = {min(s.fun for s in starts):.10g}), as a gradient method does on a linear "
                    f"programme")
    return digits, "; ".join([verdict, *notes]), certified and not notes and not better

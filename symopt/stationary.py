"""Is the point an iterative run stopped at the optimum asked for? The checks every optimizer's stop
goes through before it may be called a success.

* A stop on a small step (``xtol``, the precision floor) is a success only at a stationary
  point, judged on the problem's own scale (:func:`step_stop_verdict`).
* A zero gradient is an optimum only where the curvature says so: not a saddle, and not a plateau
  where the objective barely depends on the parameters at all (:func:`curvature_verdict`).
"""

from __future__ import annotations

import numpy as np

from .evaluate import objective_size
from .starts import SUGGESTED_STARTS

#: A step-size stop is at a stationary point when no parameter's relative change moves F by more than this
#: fraction of the objective's own size (first order): max_j |theta_j dF/dtheta_j| <= STATIONARY_TOL x
#: size(F), size the reduction of |l_i| plus |penalty|. Measured at the stops of the 54 NIST nonlinear runs:
#: at most 3.4e-4 (Lanczos2, fitted to F = 1e-12), below 1e-6 for most; at the false stops of a*exp(-b*x) + c
#: started at a = 0, b = 0, c = 1 (the parameters run off to 1e7 where a and c cancel): 0.11 and 2.7.
STATIONARY_TOL = 1e-2
#: A step-size stop whose parameters grew to more than RUNOFF times the start's size (or 1) has run off along a
#: valley (a*exp(-b*x) + c with a and c cancelling at 1e7: the model has degenerated to a line, residuals
#: orthogonal to the Jacobian's columns, a stationary point only of the limit); there it is judged against
#: RUNOFF_TOL. Measured at such stops, which differ run to run with the order of the threads' sums: relative
#: changes 0.009, 0.071 and 14; 54 NIST nonlinear runs stay within 10x of their starts.
RUNOFF = 1e6
RUNOFF_TOL = 1e-4
#: A least-squares fit this close to exact (F below this fraction of its start) is at the rounding floor,
#: where the relative test above means nothing (the generated Levenberg-Marquardt uses the same bound).
EXACT_FIT = 1e-20
#: Eigenvalues of the Hessian below this fraction of the largest in size count as zero: a flat direction is
#: not called a saddle.
FLAT_EIGENVALUE = 1e-8
#: A plateau: every relative change of the parameters moves F by less than this fraction of its size, to
#: second order (the eigenvalues of D H D, D = diag(|theta_j|, or 1 where theta_j = 0), all below PLATEAU_TOL x
#: size(F) in size): the objective barely depends on the parameters.
#: Measured: 1e-10 where Newton stopped on lmfit's double-exponential example (the model 0 on every row).
PLATEAU_TOL = 1e-8
#: The Hessian check is skipped above this many row-evaluations (rows x Hessian entries) of the NumPy tree
#: walker.
CURVATURE_CHECK_MAX_WORK = 20_000_000


def step_stop_verdict(objective, dataset, theta, grad, fun, start_fun, names, start_size: float = 0.0) -> str:
    """Why a stop on a small step at ``theta`` (gradient ``grad``, objective ``fun``; ``start_fun`` at the
    start, ``start_size`` its largest parameter in size; ``names`` one per entry of ``theta``) is not at a
    stationary point, or "" if it is (or cannot be judged)."""
    if objective.sum_of_squares() is not None and abs(fun) <= EXACT_FIT * abs(start_fun):
        return ""
    with np.errstate(all="ignore"):
        # A network's per-row losses (squared, log, cross-entropy) and its penalty are >= 0: its size is F.
        size = objective_size(objective, dataset, theta) if objective.form.evaluable else abs(fun)
        moves = np.abs(np.asarray(theta) * np.asarray(grad))
    if not (np.all(np.isfinite(moves)) and np.isfinite(size)) or moves.size == 0:
        return ""
    worst = int(np.argmax(moves))
    relative = float(moves[worst]) / max(size, 1e-300)
    largest = float(np.max(np.abs(theta)))
    tol = RUNOFF_TOL if largest > RUNOFF * max(1.0, start_size) else STATIONARY_TOL
    if relative <= tol:
        return ""
    cause = (f"the parameters ran off to size {largest:.3g} where they cancel or flatten the model: a poor start; "
             f"give x0= nearer the answer, or try many starts (starts={SUGGESTED_STARTS})" if largest > 1e6 else
             f"a poor start or a badly scaled problem; give x0= nearer the answer, try many starts "
             f"(starts={SUGGESTED_STARTS}), or scale the data")
    return (f"the steps became too small to go on, but this is no stationary point: a 1% change of "
            f"{names[worst]} still moves F by {relative * 1e-2:.2g} of its size (|{names[worst]} * dF/d{names[worst]}| "
            f"= {relative:.2g} x size(F), above {tol:g}); likely cause: {cause}")


def hessian_at(objective, derivation, dataset, x) -> np.ndarray | None:
    """The Hessian of F at ``x`` from the derivation (:meth:`symopt.forms.Form.hessian`), or None where the
    form has none, it is not finite, or the data are too big to form it cheaply
    (:data:`CURVATURE_CHECK_MAX_WORK` row-evaluations)."""
    p = len(x)
    if derivation.hessian is None or dataset.n_rows * p * (p + 1) // 2 > CURVATURE_CHECK_MAX_WORK:
        return None
    with np.errstate(all="ignore"):
        hess = objective.form.hessian(derivation, dataset, np.asarray(x, dtype=float))
    return hess if hess is not None and np.all(np.isfinite(hess)) else None


def curvature_verdict(objective, derivation, dataset, x, hess=None) -> tuple[str, str] | None:
    """``(status, message)`` if the zero-gradient point ``x`` is a saddle (``"saddle_point"``) or a plateau
    (``"plateau"``) rather than the optimum asked for; None if it is neither, or for a wide model, no
    Hessian, or data too big to check cheaply.

    A gradient-based run stops wherever the gradient vanishes; where it vanishes on a plateau (a model
    that is 0 on every row, whatever its amplitudes: tested first, as its tiny eigenvalues have either
    sign) or at a saddle (a = b = 0 for a*sin(b*x), say), only the Hessian tells. ``hess``: the Hessian at
    ``x`` where the caller has it (:func:`hessian_at`).
    """
    if not objective.form.per_parameter:
        return None
    hess = hessian_at(objective, derivation, dataset, x) if hess is None else hess
    if hess is None:
        return None
    lam = np.linalg.eigvalsh(hess)
    tol = FLAT_EIGENVALUE * float(np.max(np.abs(lam)))
    want = "maximum" if objective.maximize else "minimum"
    x = np.asarray(x, dtype=float)
    size = objective_size(objective, dataset, x)
    scale = np.where(x != 0.0, np.abs(x), 1.0)
    curvature = float(np.max(np.abs(np.linalg.eigvalsh(scale[:, None] * hess * scale[None, :]))))
    if np.isfinite(size) and size > 0 and curvature <= PLATEAU_TOL * size:
        return "plateau", (f"the gradient is zero here because the objective barely depends on the parameters: "
                           f"changing them by 100% moves F by at most {curvature / size:.2g} of its size "
                           f"(to second order), a plateau, not a {want} (a model that is flat on the data, "
                           f"saturated or zero on every row?). Start elsewhere with x0=, or from many "
                           f"starts (starts={SUGGESTED_STARTS})")
    wrong = lam.max() if objective.maximize else lam.min()
    if (objective.maximize and wrong > tol) or (not objective.maximize and wrong < -tol):
        sign = "positive" if objective.maximize else "negative"
        return "saddle_point", (f"the gradient is zero here but the Hessian has a {sign} eigenvalue ({wrong:.3g}; "
                                f"largest {float(np.max(np.abs(lam))):.3g}): a saddle point, not a {want}. Start "
                                f"elsewhere with x0=, or from many starts (starts={SUGGESTED_STARTS})")
    return None

"""Choosing an optimizer by the problem's shape, and saying why."""

from __future__ import annotations

from ..errors import ModelError
from ..optimizers import (LBFGS, MAX_NEWTON_PARAMS, CoordinateDescent, LevenbergMarquardt, Newton, Optimizer,
                          ProximalGradient)
from ..symbolic.kinks import kinks

#: Newton is chosen automatically up to this many parameters (its Hessian pass costs p**2 per row), for an
#: expression model and a ``LinearModel`` over a data matrix alike.
AUTO_NEWTON_PARAMS = 50


def choose(objective, derivation, n_params: int) -> tuple[Optimizer, str]:
    """The default optimizer for this objective, with the reason in words."""
    if objective.l1:
        return ProximalGradient(), ("an l1 penalty has a kink at 0, where gradient methods stall: accelerated "
                                    "proximal gradient (FISTA) with backtracking, whose soft-thresholding step "
                                    "lands exactly on 0")
    if objective.sum_of_squares() is not None:
        return LevenbergMarquardt(), ("the objective is a sum of squares: Levenberg-Marquardt on the residuals "
                                      "with their symbolic Jacobian and geodesic acceleration")
    found = objective_kinks(objective)
    if found:
        listed = ", ".join(sorted({k.name for k in found}))
        return LBFGS(), (f"the objective has kinks ({listed} of the parameters), where its Hessian is 0 or jumps, "
                         "so Newton's steps are not to be trusted (on SciPy's robust-regression example they run "
                         "off along a direction where the Hessian is 0): L-BFGS, which needs only gradients (at a "
                         "kink, the subgradient symopt.symbolic.kinks describes)")
    if n_params <= AUTO_NEWTON_PARAMS and objective.form.has_hessian(derivation):
        return Newton(), (f"a small smooth problem ({n_params} parameters): damped Newton with the exact "
                          f"{'symbolic ' if derivation.hessian is not None else ''}Hessian, one fused pass per iteration")
    if objective.form.matrix_data:
        return LBFGS(), (f"a wide linear model ({n_params} parameters): L-BFGS needs only the fused gradient "
                         "pass and memory linear in the number of features")
    return LBFGS(), f"{n_params} parameters is too many for Newton: L-BFGS needs only gradients"


def objective_kinks(objective) -> tuple:
    """The kinks of the per-sample objective in whatever it varies with (the parameters, or the linear predictor
    of a wide model): :func:`symopt.symbolic.kinks.kinks` over every symbol that is not data."""
    varying = objective.per_sample.free_symbols - set(objective.data_symbols) - set(objective.fixed_params)
    return kinks(objective.per_sample, varying)


def check(objective, derivation, optimizer, n_params: int) -> None:
    """Refuse an optimizer that cannot work on this objective, saying why."""
    if not isinstance(optimizer, Optimizer):
        raise ModelError(f"optimizer must be a symopt optimizer such as symopt.LBFGS(), got {optimizer!r}")
    if objective.l1 and not isinstance(optimizer, (ProximalGradient, CoordinateDescent)):
        raise ModelError(f"{type(optimizer).__name__} needs a smooth objective, and the l1 penalty has a kink at 0 "
                         f"(it would stall near 0 and never reach it): use symopt.ProximalGradient() or, for least "
                         f"squares linear in its parameters, symopt.CoordinateDescent() (the defaults with l1=)")
    if isinstance(optimizer, ProximalGradient) and not objective.l1:
        raise ModelError("ProximalGradient is for an objective with an l1 penalty (l1=); without one use LBFGS or "
                         "Newton")
    if isinstance(optimizer, LevenbergMarquardt) and objective.sum_of_squares() is None:
        raise ModelError("LevenbergMarquardt needs a sum of squares to minimise (a squared_loss, or an Objective "
                         "written as c*(residual)**2); use LBFGS or Newton for this objective")
    if isinstance(optimizer, Newton):
        if not objective.form.has_hessian(derivation):
            raise ModelError(f"Newton needs the symbolic Hessian, which is not formed for {n_params} parameters; "
                             "use LBFGS")
        if n_params > MAX_NEWTON_PARAMS:
            raise ModelError(f"Newton is for up to {MAX_NEWTON_PARAMS} parameters; this problem has {n_params}: "
                             "use LBFGS")

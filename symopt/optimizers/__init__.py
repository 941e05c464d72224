"""Optimizers: how parameters are found when there is no closed form.

Each is hyperparameters + a state layout + a template for its loop + a
NumPy reference implementation (``reference``) that the tests compare with
the generated code, iterate by iterate.

Takes hyperparameters; gives the optimizer record the run and the templates read (its state, its template,
its reference step).
"""

from .base import RUNNING, STATUS, Optimizer
from .first_order import Adam, GradientDescent, Momentum, Nesterov, RMSProp
from .lbfgs import LBFGS
from .levenberg_marquardt import LevenbergMarquardt, ProjectedLevenbergMarquardt
from .newton import MAX_NEWTON_PARAMS, Newton
from .proximal import CoordinateDescent, ProximalGradient

__all__ = ["RUNNING", "STATUS", "Optimizer", "Adam", "GradientDescent", "Momentum", "Nesterov", "RMSProp",
           "LBFGS", "LevenbergMarquardt", "ProjectedLevenbergMarquardt", "Newton", "MAX_NEWTON_PARAMS", "ProximalGradient",
           "CoordinateDescent"]

"""symopt: a model plus an objective in, a solution and the code that finds it out.

    >>> import symopt
    >>> a, b = symopt.params("a b")
    >>> model = symopt.Model("a + b*x", [a, b])
    >>> result = symopt.solve(symopt.squared_loss(model), {"x": [0, 1, 2], "y": [1, 3, 5]})
    >>> round(result.params["b"], 12)
    2.0
"""

from ._version import __version__  # noqa: E402,F401
from .closed_form.analysis import Analysis, analyse  # noqa: E402
from .codegen.cache import clear_cache  # noqa: E402
from .derivation.derive import Derivation, derive  # noqa: E402
from .errors import (  # noqa: E402
    CacheError,
    CacheWarning,
    CodegenError,
    ConvergenceWarning,
    DataError,
    DiagnosticWarning,
    IllConditionedWarning,
    ModelError,
    ParseError,
    PrecisionError,
    PrinterError,
    RankDeficiencyWarning,
    SymoptError,
)
from .model.models import LinearModel, Model, params  # noqa: E402
from .model.bounds import Box  # noqa: E402,F401
from .model.layers import Activation, Dense, Network  # noqa: E402
from .model.objective import Objective, cross_entropy, log_loss, squared_loss  # noqa: E402
from .symbolic.functions import sigmoid, softplus  # noqa: E402
from .trust.gradcheck import CodeCheck, GradientCheck  # noqa: E402
from .optimizers import (  # noqa: E402
    LBFGS,
    Adam,
    GradientDescent,
    LevenbergMarquardt,
    Momentum,
    Nesterov,
    Newton,
    Optimizer,
    RMSProp,
)
from . import records  # noqa: E402,F401
from .closed_form.conditioning import Conditioning  # noqa: E402
from .closed_form.convexity_proof import Convexity, Witness  # noqa: E402
from .problem import Problem  # noqa: E402
from .result import ClosedForm, Result  # noqa: E402
from .run.starts import Optimum  # noqa: E402
from .solve import check_gradient, convexity, gradient, report, solve, verify  # noqa: E402
from .symbolic.parse import parse_expression  # noqa: E402
from .trust.verify import Solution, Verification  # noqa: E402

#: What you call and catch (the records the functions return are in :mod:`symopt.records`, the errors and
#: warnings also in :mod:`symopt.errors`), sorted.
__all__ = [
    "Activation", "Adam", "CacheError", "CacheWarning", "CodegenError", "ConvergenceWarning", "DataError", "Dense",
    "DiagnosticWarning", "GradientDescent", "IllConditionedWarning", "LBFGS", "LevenbergMarquardt", "LinearModel",
    "Model", "ModelError", "Momentum", "Nesterov", "Network", "Newton", "Objective", "Optimizer", "ParseError",
    "PrecisionError", "PrinterError", "Problem", "RMSProp", "RankDeficiencyWarning", "SymoptError", "analyse",
    "check_gradient", "clear_cache", "convexity", "cross_entropy", "derive", "gradient", "log_loss", "params",
    "parse_expression", "report", "sigmoid", "softplus", "solve", "squared_loss", "verify",
]

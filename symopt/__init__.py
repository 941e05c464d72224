"""symopt: a model plus an objective in, a solution and the code that finds it out.

    >>> import symopt
    >>> a, b = symopt.params("a b")
    >>> model = symopt.Model("a + b*x", [a, b])
    >>> result = symopt.solve(symopt.squared_loss(model), {"x": [0, 1, 2], "y": [1, 3, 5]})
    >>> round(result.params["b"], 12)
    2.0

``import symopt`` is quick: the names below are imported when first used (PEP 562), so the command line's
``--help`` and ``check`` start without SymPy and Numba, and a script pays for what it uses.
"""

from __future__ import annotations

import importlib

from ._version import __version__

#: Where each public name lives (the module, relative to this package); imported on first use.
_HOMES = {
    "CoordinateDescent": ".optimizers",
    "Activation": ".model.activations", "Dense": ".model.layer_specs", "Network": ".model.layers",
    "Conv2D": ".model.layer_specs", "MaxPool2D": ".model.layer_specs", "AvgPool2D": ".model.layer_specs",
    "Flatten": ".model.layer_specs", "Dropout": ".model.layer_specs",
    "Adam": ".optimizers", "GradientDescent": ".optimizers", "LBFGS": ".optimizers",
    "LevenbergMarquardt": ".optimizers", "Momentum": ".optimizers", "Nesterov": ".optimizers",
    "Newton": ".optimizers", "Optimizer": ".optimizers", "ProximalGradient": ".optimizers", "RMSProp": ".optimizers",
    "CosineLR": ".optimizers.schedules", "ReduceLROnPlateau": ".optimizers.schedules", "StepLR": ".optimizers.schedules",
    "Analysis": ".closed_form.analysis", "analyse": ".closed_form.analysis",
    "Box": ".model.bounds",
    "CacheError": ".errors", "CacheWarning": ".errors", "CodegenError": ".errors", "ConvergenceWarning": ".errors",
    "DataError": ".errors", "DiagnosticWarning": ".errors", "IllConditionedWarning": ".errors",
    "ModelError": ".errors", "ParseError": ".errors", "PrecisionError": ".errors", "PrinterError": ".errors",
    "RankDeficiencyWarning": ".errors", "SymoptError": ".errors",
    "ClosedForm": ".result", "Result": ".result",
    "CodeCheck": ".trust.gradcheck", "GradientCheck": ".trust.gradcheck",
    "Conditioning": ".closed_form.conditioning",
    "Convexity": ".closed_form.convexity_proof", "Witness": ".closed_form.convexity_proof",
    "Derivation": ".derivation.derive", "derive": ".derivation.derive",
    "LinearModel": ".model.models", "Model": ".model.models", "params": ".model.models",
    "Objective": ".model.objective", "cross_entropy": ".model.losses", "log_loss": ".model.losses",
    "squared_loss": ".model.losses",
    "glm": ".model.glm", "Family": ".model.families",
    "path": ".paths", "RegularizationPath": ".paths",
    "formula": ".model.formula", "Design": ".model.formula",
    "Ties": ".model.ties", "ties": ".model.ties", "ConstraintCheck": ".run.constrained",
    "huber_loss": ".model.robust", "quantile_loss": ".model.robust",
    "Optimum": ".run.starts",
    "Problem": ".problem",
    "Solution": ".trust.verify", "Verification": ".trust.verify",
    "check_gradient": ".front", "convexity": ".front", "gradient": ".front", "report": ".front", "solve": ".front",
    "verify": ".front",
    "clear_cache": ".codegen.cache",
    "export": ".standalone.export",
    "parse_expression": ".symbolic.parse",
    "sigmoid": ".symbolic.functions", "softplus": ".symbolic.functions",
}

#: What you call and catch (the records the functions return are in :mod:`symopt.records`, the errors and
#: warnings also in :mod:`symopt.errors`), sorted.
__all__ = [
    "Activation", "Adam", "AvgPool2D", "CacheError", "CacheWarning", "CodegenError", "Conv2D", "ConvergenceWarning",
    "CoordinateDescent", "CosineLR", "DataError", "Dense", "DiagnosticWarning", "Dropout", "Family", "Flatten",
    "GradientDescent", "IllConditionedWarning", "LBFGS", "LevenbergMarquardt", "LinearModel",
    "MaxPool2D", "Model", "ModelError", "Momentum", "Nesterov", "Network", "Newton", "Objective", "Optimizer", "ParseError",
    "PrecisionError", "PrinterError", "Problem", "ProximalGradient", "RMSProp", "RankDeficiencyWarning",
    "ReduceLROnPlateau", "StepLR", "SymoptError",
    "analyse", "check_gradient", "clear_cache", "convexity", "cross_entropy", "derive", "export", "formula", "glm",
    "gradient", "huber_loss", "log_loss", "params", "parse_expression", "path", "quantile_loss", "report", "sigmoid",
    "softplus", "solve", "squared_loss", "ties", "verify",
]


def __getattr__(name: str):
    """A public name, imported from its home on first use (then kept here); a subpackage or module of
    symopt by its name (``symopt.records``, ``symopt.model``)."""
    home = _HOMES.get(name)
    if home is not None:
        value = getattr(importlib.import_module(home, __name__), name)
    elif not name.startswith("__"):
        try:
            value = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module 'symopt' has no attribute {name!r}") from None
    else:
        raise AttributeError(f"module 'symopt' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))

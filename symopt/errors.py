"""Every error and warning symopt raises, in one place.

Each error derives from :class:`SymoptError` and, where a user would
naturally catch a built-in, from that built-in too (``ValueError`` for bad
input, ``RuntimeError`` for failures while running generated code).
"""

from __future__ import annotations

import sys
import warnings

#: The number of starts the advice in messages suggests (a non-convex verdict, a saddle, a stall far from an
#: optimum): ``solve(..., starts=20)``.
SUGGESTED_STARTS = 20


class SymoptError(Exception):
    """Root of every error raised by symopt."""


class ParseError(SymoptError, ValueError):
    """Expression text that is not in the safe subset symopt accepts."""


class ModelError(SymoptError, ValueError):
    """A model, objective or optimizer that is stated inconsistently."""


class DataError(SymoptError, ValueError):
    """Data that cannot be used: missing, non-numeric, non-finite, mis-shaped."""


class PrecisionError(SymoptError, ValueError):
    """A precision request the problem is too large (or of the wrong kind) for."""


class CodegenError(SymoptError, RuntimeError):
    """Generating, writing or importing solver code failed."""


class CacheError(CodegenError):
    """A code cache folder or entry that cannot be trusted (others can write to it) or used."""


class PrinterError(CodegenError):
    """The code printer met a function it has no numerically safe form for."""


class ConvergenceWarning(UserWarning):
    """An iterative solver stopped before its convergence test was met."""


class RankDeficiencyWarning(UserWarning):
    """A linear closed form was rank deficient: the minimum-norm solution is returned."""


class CacheWarning(UserWarning):
    """The code cache could not be used as it is: a corrupt entry was moved aside and regenerated,
    or code was compiled in a temporary folder."""


class IllConditionedWarning(UserWarning):
    """The matrix a solve rests on is ill-conditioned: the parameters may have lost many digits, and the data
    hardly determine some direction of them."""


class DiagnosticWarning(UserWarning):
    """Network training looks unhealthy: gradients vanish or explode, units saturate or die."""


def warn_user(message: str, category: type) -> None:
    """``warnings.warn`` pointed at the first caller outside symopt, however deep in symopt it is called."""
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_globals.get("__name__", "").startswith("symopt"):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)

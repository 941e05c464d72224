"""The records symopt's functions return: you read them, you never build them.

``symopt.solve`` returns a :class:`Result` (how it was found in its :class:`Provenance`, a network's trained
parts in :class:`Trained`, the closed-form analysis in :class:`ClosedForm`, the distinct optima of many starts as
:class:`Optimum`); ``symopt.derive`` a :class:`Derivation`; ``symopt.analyse`` an :class:`Analysis`;
``result.bounds`` a :class:`Box`; ``result.tied`` a :class:`Ties`; ``result.kkt``, with ``constraints=``, a
:class:`ConstraintCheck`; ``symopt.formula`` a :class:`Design`; ``symopt.verify`` a :class:`Verification` (each
way of solving a :class:`Solution`); ``symopt.convexity`` a :class:`Convexity` (a point against it a
:class:`Witness`); ``symopt.check_gradient`` a :class:`GradientCheck` (the compiled code's a :class:`CodeCheck`);
``result.conditioning`` a :class:`Conditioning`; ``symopt.path`` a :class:`RegularizationPath`. They are listed
here rather than in ``symopt.__all__``, which holds what you call and catch; each stays readable as
``symopt.<name>`` too.
"""

from .closed_form.analysis import Analysis
from .closed_form.conditioning import Conditioning
from .closed_form.convexity_proof import Convexity, Witness
from .derivation.derive import Derivation
from .model.bounds import Box
from .model.formula import Design
from .paths import RegularizationPath
from .result import ClosedForm, Provenance, Result, Trained
from .model.ties import Ties
from .run.constrained import ConstraintCheck
from .run.starts import Optimum
from .trust.gradcheck import CodeCheck, GradientCheck
from .trust.verify import Solution, Verification

__all__ = [
    "Analysis", "Box", "ClosedForm", "CodeCheck", "Conditioning", "ConstraintCheck", "Convexity", "Derivation",
    "Design", "GradientCheck", "Optimum", "Provenance", "RegularizationPath", "Result", "Solution", "Ties", "Trained",
    "Verification", "Witness",
]

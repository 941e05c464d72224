"""The kinds of problem, one module each: the shape a model and an objective give a problem, and what that
shape decides, in one place.

- :mod:`.expression`: a SymPy expression in named scalar parameters and named data arrays;
- :mod:`.wide`: a ``LinearModel()`` over a data matrix, through ``eta = intercept + X @ coef``;
- :mod:`.multiclass`: ``cross_entropy`` over a ``LinearModel()`` (multinomial logistic regression);
- :mod:`.network`: a layered network, trained by generated backpropagation.

Takes an ``Objective`` (each kind is built with the objective it belongs to, as ``objective.form``); gives its
parameter layout (blocks, names, the penalty mask, the start point, ``x0`` read by name or flat), the data it
reads, its derivatives and how they read as text and LaTeX, and, where NumPy can evaluate it, the objective,
its gradient, its per-row terms and the model's prediction on new data.

**Adding a kind** (a convolutional network is next):

1. a module here with a :class:`~.base.Form` subclass: ``name``, ``noun``, ``read``, ``blocks``, ``penalty_mask``,
   ``differentiate``, ``derivation_rows``, ``derivation_latex`` (and, where NumPy can evaluate it, an
   :class:`~.base.EvaluableForm` with ``sums``, ``value_and_gradient``, ``row_gradients`` and ``predict``);
   Python refuses to build a kind that misses one of its abstract methods;
2. a line in :func:`form_of` saying which models and losses make it;
3. its kernel template in ``symopt/codegen/templates/`` (``kernel_template``, ``module_stem`` and
   ``kernel_context``), and the attributes by which the stages above choose for it: ``driver`` (a key of
   :data:`symopt.run.drivers.DRIVERS`), ``linear_shape`` (of :data:`symopt.closed_form.linear.FINDERS`) and the
   flags on :class:`~.base.Form`. Nothing outside this folder compares a kind's ``name``, but for one table:
   :mod:`symopt.trust.references` lists which other library states each (kind, loss) the same way, and a kind
   joins it only where one does (until then ``verify`` says no reference library states it).
"""

from __future__ import annotations

from ..layers import Network
from ..models import LinearModel
from .base import ETA, EvaluableForm, Form
from .expression import ExpressionForm
from .multiclass import MulticlassForm
from .network import NetworkForm
from .wide import WideForm

__all__ = ["ETA", "EvaluableForm", "ExpressionForm", "Form", "MulticlassForm", "NetworkForm", "WideForm", "form_of"]


def form_of(model, kind: str) -> type[Form]:
    """The form class for ``model`` (None for a custom objective) under loss ``kind``."""
    if isinstance(model, Network):
        return NetworkForm
    if isinstance(model, LinearModel) and model.is_wide:
        return MulticlassForm if kind == "cross_entropy" else WideForm
    return ExpressionForm

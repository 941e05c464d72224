"""The options of one solve, as one record checked where they come in.

``symopt.solve`` and ``Problem.solve`` take their options by keyword (as scikit-learn's estimators do) and
build one :class:`SolveOptions`, checked once; what runs the solve (:class:`symopt.Problem`'s paths, the many
starts, the stops) reads that record instead of a dozen arguments passed along positionally. ``x0``, ``fixed``
and ``bounds`` are read where the data are known (``Problem.solve``: the flat start, the fixed values and the
box, each once) and travel in their parsed form.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import ModelError
from ..numerics.covariance import check_cov_type
from .starts import check_starts
from .stops import check_limits


@dataclass(frozen=True)
class SolveOptions:
    """``progress``, ``max_time``, ``callback``, ``starts``, ``seed``, ``standardize`` and ``cov_type`` as
    :func:`symopt.solve` documents them; ``started``: the ``time.perf_counter()`` reading ``max_time`` counts
    from (the call to :func:`symopt.solve`, which builds its problem first, or to ``Problem.solve``)."""

    progress: bool = True
    max_time: float | None = None
    callback: object = field(default=None, repr=False)
    starts: int = 1
    seed: int | None = 0
    standardize: bool = False
    cov_type: str = "nonrobust"
    started: float = field(default_factory=time.perf_counter)

    def __post_init__(self):
        check_limits(self.max_time, self.callback)
        check_starts(self.starts, self.seed)
        check_cov_type(self.cov_type)
        if not isinstance(self.standardize, (bool, np.bool_)):
            raise ModelError(f"standardize must be True or False, got {self.standardize!r}")

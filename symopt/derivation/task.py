"""The data a solve runs on, as one record: the objective, its derivation and the prepared dataset.

The checks and the driver loop read all three together (the objective's form and reduction, the
derivation's gradient and Hessian rows, the data they are evaluated on); a :class:`Task` carries them as
one argument, built once where a solve begins (:class:`symopt.Problem`) and passed down unchanged.
"""

from __future__ import annotations

from typing import NamedTuple

from ..model.data import Dataset
from ..model.objective import Objective
from .derive import Derivation


class Task(NamedTuple):
    """``(objective, derivation, dataset)``: what :func:`symopt.run.loop.run_iterative`, the stopping checks
    (:mod:`symopt.run.stationary`) and the NumPy totals (:mod:`symopt.derivation.totals`) work on.

    A named tuple: it unpacks as the three (``objective, derivation, dataset = task``) and costs a tuple
    to build (a solve builds one per start)."""

    objective: Objective
    derivation: Derivation
    dataset: Dataset

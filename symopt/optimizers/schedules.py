"""Learning-rate schedules for training a network by epochs (``schedule=`` of the first-order optimizers).

A schedule gives the learning rate of each epoch from the optimizer's own ``lr`` (the base rate), the epochs
budget and the losses it watches: :meth:`lr` ``(epoch, base, epochs, losses)``, with ``epoch`` counted from 0
and ``losses`` the watched loss after each epoch before this one (the validation loss where the optimizer has
``validation=``, else the training objective). The rate is set between epochs: every minibatch of an epoch
steps with that epoch's rate. Any object with that ``lr`` method is a schedule; the three here follow
PyTorch's ``StepLR``, ``CosineAnnealingLR`` (with ``T_max`` the epochs budget) and ``ReduceLROnPlateau``
(mode ``min``, relative threshold, no cooldown), so the rates match theirs epoch by epoch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import ModelError


def _number(owner: str, name: str, value, low: float, high: float, *, integer: bool = False,
            open_low: bool = False, open_high: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > low if open_low else value >= low) and (value < high if open_high else value <= high)
    if integer:
        ok = ok and isinstance(value, int)
    if not ok:
        left, right = "(" if open_low else "[", ")" if open_high else "]"
        kind = "an integer" if integer else "a number"
        raise ModelError(f"{owner}: {name} must be {kind} in {left}{low:g}, {high:g}{right}, got {value!r}")


@dataclass(frozen=True)
class StepLR:
    """The base rate times ``factor`` every ``every`` epochs: ``lr * factor ** (epoch // every)``.

    ``every=None`` (``schedule="step"``) is a third of the epochs budget (rounded up), so the rate drops
    twice over a run."""

    every: int | None = None
    factor: float = 0.1

    def __post_init__(self):
        if self.every is not None:
            _number("StepLR", "every", self.every, 1, math.inf, integer=True)
        _number("StepLR", "factor", self.factor, 0.0, 1.0, open_low=True)

    def lr(self, epoch: int, base: float, epochs: int, losses) -> float:
        every = self.every or max(1, -(-epochs // 3))
        return base * self.factor ** (epoch // every)


@dataclass(frozen=True)
class CosineLR:
    """Cosine annealing from the base rate toward ``min_lr`` over the epochs budget ``E``:
    ``min_lr + (lr - min_lr) * (1 + cos(pi * epoch / E)) / 2`` (the base rate in the first epoch)."""

    min_lr: float = 0.0

    def __post_init__(self):
        _number("CosineLR", "min_lr", self.min_lr, 0.0, math.inf, open_high=True)

    def lr(self, epoch: int, base: float, epochs: int, losses) -> float:
        return self.min_lr + (base - self.min_lr) * (1.0 + math.cos(math.pi * epoch / epochs)) / 2.0


@dataclass(frozen=True)
class ReduceLROnPlateau:
    """The rate times ``factor`` (not below ``min_lr``) once the watched loss has not improved for more than
    ``patience`` epochs in a row; an epoch improves when its loss is below the best so far by more than
    ``threshold`` relative. The watched loss is the validation loss where there is one, else the training
    objective."""

    factor: float = 0.1
    patience: int = 5
    min_lr: float = 0.0
    threshold: float = 1e-4

    def __post_init__(self):
        _number("ReduceLROnPlateau", "factor", self.factor, 0.0, 1.0, open_low=True, open_high=True)
        _number("ReduceLROnPlateau", "patience", self.patience, 0, math.inf, integer=True)
        _number("ReduceLROnPlateau", "min_lr", self.min_lr, 0.0, math.inf, open_high=True)
        _number("ReduceLROnPlateau", "threshold", self.threshold, 0.0, 1.0, open_high=True)

    def lr(self, epoch: int, base: float, epochs: int, losses) -> float:
        rate, best, bad = base, math.inf, 0
        for loss in losses:  # replayed from the start: the schedule keeps no state of its own
            if loss < best * (1.0 - self.threshold) if best > 0 else loss < best:
                best, bad = loss, 0
            else:
                bad += 1
            if bad > self.patience:
                rate, bad = max(rate * self.factor, self.min_lr), 0
        return rate


#: What ``schedule="step"`` and the others stand for.
NAMED = {"step": StepLR, "cosine": CosineLR, "plateau": ReduceLROnPlateau}


def schedule_of(owner: str, value):
    """``value`` (None, a name of :data:`NAMED`, or an object with an ``lr`` method) as a schedule, or None;
    anything else refused."""
    if value is None:
        return None
    if isinstance(value, str):
        if value not in NAMED:
            raise ModelError(f"{owner}: schedule={value!r} is not one of {', '.join(map(repr, NAMED))}; or give a "
                             f"schedule object such as symopt.StepLR(every=10, factor=0.5)")
        return NAMED[value]()
    if isinstance(value, type):
        raise ModelError(f"{owner}: schedule={value.__name__} is a class; give an instance, "
                         f"such as schedule={value.__name__}()")
    if not callable(getattr(value, "lr", None)):
        raise ModelError(f"{owner}: schedule must be 'step', 'cosine', 'plateau' or an object with a method "
                         f"lr(epoch, base, epochs, losses) (symopt.StepLR, CosineLR, ReduceLROnPlateau); "
                         f"got {value!r}")
    return value

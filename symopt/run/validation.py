"""Validation while a network trains by epochs: the held-out rows (a seeded split, stratified by class for a
classification loss, or validation data given), the validation loss and accuracy after every epoch, early
stopping with the best epoch's weights restored, and the learning-rate schedule (``validation=``,
``early_stopping=``, ``schedule=`` of the first-order optimizers).

:class:`Tracker` is what :class:`symopt.run.epochs.EpochLoop` consults around each epoch; :class:`Training` is the
per-epoch record it leaves (``result.training``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import DataError, ModelError
from ..model.data import Dataset, read_only
from ..optimizers.first_order import HeldOut

#: Losses whose targets are class labels: their split is stratified and their accuracy recorded.
CLASSIFICATION = ("cross_entropy", "log")
#: The share of the rows held out when ``early_stopping=`` is given without ``validation=`` (scikit-learn's
#: ``MLPClassifier(early_stopping=True)`` holds out ``validation_fraction=0.1``).
EARLY_STOPPING_FRACTION = 0.1
#: An epoch improves on the best validation loss when it is below it by more than this, relative.
MARGIN = 1e-4


@dataclass(frozen=True)
class Held:
    """The validation rows of a run: ``X``, ``y``, where they came from in words (``words``) and, where they were
    held out of the data solved on, how many rows that data had (``of``; 0 for validation data given apart)."""

    X: np.ndarray
    y: np.ndarray
    words: str
    of: int = 0

    def __post_init__(self):
        # read-only, as the training data are: the generated functions compile once for both (symopt.model.data);
        # a float32 network's validation inputs stay float32, as its training inputs are
        object.__setattr__(self, "X", read_only(np.ascontiguousarray(self.X, dtype=np.result_type(self.X, np.float32))))
        object.__setattr__(self, "y", read_only(np.ascontiguousarray(self.y, dtype=float)))


def held_out(objective, optimizer, dataset) -> tuple[Dataset, Held | None]:
    """``(training dataset, validation rows or None)`` for ``optimizer``'s ``validation=`` (and
    ``early_stopping=`` without it: :data:`EARLY_STOPPING_FRACTION` held out)."""
    given = getattr(optimizer, "validation", None)
    if given is None and getattr(optimizer, "early_stopping", None) is None:
        return dataset, None
    target = objective.target.name
    if isinstance(given, HeldOut):
        given.check_given(type(optimizer).__name__)
        try:
            arrays = objective.form.read(given.data)
        except DataError as error:
            raise DataError(f"validation data: {error}") from None
        X, y = arrays["X"], arrays[target]
        if X.shape[0] == 0:
            raise DataError("validation data: X has no rows; give at least one, or a fraction such as validation=0.1")
        _check_labels(objective, y, "validation data")
        return dataset, Held(X, y, f"{X.shape[0]:,} validation rows given")
    fraction, note = (given, "") if given is not None else (
        EARLY_STOPPING_FRACTION, ": early_stopping= needs a validation loss and validation= was not given "
                                 "(it chooses the rows)")
    train, val, how = split(objective, dataset, fraction, optimizer.seed)
    arrays = {name: np.ascontiguousarray(a[train]) for name, a in dataset.arrays.items()}
    words = (f"{val.size:,} of {dataset.n_rows:,} rows held out for validation ({fraction:g}, {how}, seed "
             f"{optimizer.seed}){note}")
    held = Held(np.ascontiguousarray(dataset["X"][val]), np.ascontiguousarray(dataset[target][val]), words,
                of=dataset.n_rows)
    return Dataset(arrays, train.size, dataset.n_classes), held


def split(objective, dataset, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    """``(training rows, validation rows, how in words)``: ``ceil(fraction * n)`` rows drawn with ``seed``; for
    a classification loss, stratified (each class split in the same proportion, at least one row of each class
    on either side; the shares rounded by largest remainder), both sets in the rows' order."""
    n = dataset.n_rows
    rng = np.random.default_rng(seed)
    n_val = math.ceil(fraction * n)
    if n - n_val < 1:
        raise ModelError(f"validation={fraction:g} of {n:,} rows leaves no row to train on; hold out a smaller "
                         f"fraction, or give validation data (X_val, y_val)")
    if objective.kind not in CLASSIFICATION:
        val = np.sort(rng.permutation(n)[:n_val])
        how = "drawn at random"
    else:
        y = np.asarray(dataset[objective.target.name])
        labels, counts = np.unique(y, return_counts=True)
        single = [_label(c) for c, k in zip(labels, counts) if k < 2]
        if single:
            raise ModelError(f"validation={fraction:g}: class{'es' if len(single) > 1 else ''} "
                             f"{', '.join(single)} {'have' if len(single) > 1 else 'has'} one row, so a stratified "
                             f"split cannot put {'them' if len(single) > 1 else 'it'} on both sides (training and "
                             f"validation); give validation data (X_val, y_val), or more rows of "
                             f"{'those classes' if len(single) > 1 else 'that class'}")
        exact = fraction * counts
        take = np.floor(exact).astype(int)
        left = n_val - int(take.sum())
        if left > 0:  # largest remainders first (ties: the lower class)
            take[np.argsort(-(exact - take), kind="stable")[:left]] += 1
        take = np.clip(take, 1, counts - 1)
        val = np.sort(np.concatenate([rng.permutation(np.flatnonzero(y == c))[:k] for c, k in zip(labels, take)]))
        how = f"stratified by class over {labels.size} classes"
    train = np.setdiff1d(np.arange(n), val, assume_unique=True)
    return train, val, how


def _label(value) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _check_labels(objective, y, where: str) -> None:
    if objective.kind == "log":
        bad = np.flatnonzero((y != 0) & (y != 1))
        if bad.size:
            raise DataError(f"{where}: log_loss needs labels 0 or 1; {objective.target.name!r} has "
                            f"{float(y[bad[0]])!r} at row {int(bad[0])}")


@dataclass(frozen=True)
class Training:
    """A network's training by epochs, one entry per epoch run (``result.training``): ``loss``, the epoch's
    running training loss (``result.history[1:]``: its minibatches' objectives before their steps, weighted by
    rows, on the training rows, the held-out ones excluded, penalty included); ``lr``, the learning rate the epoch stepped with; ``val_loss``, the mean loss per
    validation row after the epoch (inference mode: no dropout, running batch-norm statistics; no penalty),
    None without validation; ``val_accuracy``, the share of validation rows classified right (cross_entropy
    and log_loss), None otherwise; ``validation``, where the validation rows came from, in words ("" without);
    ``best_epoch``, with early stopping, the epoch (from 1) whose weights were returned, else None;
    ``patience``: ``early_stopping=`` (None without); ``rows`` and ``held_out``, where ``validation=`` held rows
    out of the data solved on, how many it trained on and how many it held out (so the fit's observations are
    ``rows``, not all the data: ``result.summary()``), else None and 0."""

    loss: np.ndarray
    lr: np.ndarray
    val_loss: np.ndarray | None = None
    val_accuracy: np.ndarray | None = None
    validation: str = ""
    best_epoch: int | None = None
    patience: int | None = None
    rows: int | None = None
    held_out: int = 0

    def summary(self) -> str:
        """One line on the validation after the last epoch (and the best one, with early stopping); "" without
        validation."""
        if self.val_loss is None or not self.val_loss.size:
            return ""
        text = f"validation loss {self.val_loss[-1]:.4g}"
        if self.val_accuracy is not None:
            text += f", accuracy {self.val_accuracy[-1]:.1%}"
        text += f" after epoch {self.val_loss.size}"
        if self.best_epoch is not None:
            k = self.best_epoch - 1
            text += f"; best {self.val_loss[k]:.4g}"
            if self.val_accuracy is not None:
                text += f" ({self.val_accuracy[k]:.1%})"
            text += f" at epoch {self.best_epoch}, whose weights are returned"
        return f"{text}; {self.validation}"


class Tracker:
    """The validation, early stopping and learning rate of one run by epochs: :meth:`hyper` before each epoch,
    :meth:`after` after it; :meth:`record` gives the :class:`Training` record."""

    def __init__(self, module, objective, optimizer, held: Held | None):
        self.module, self.objective, self.optimizer, self.held = module, objective, optimizer, held
        self.schedule = optimizer.schedule
        self.lr_index = optimizer.hyper_names.index("lr") if self.schedule is not None else None
        self.patience = optimizer.early_stopping
        self.loss: list[float] = []
        self.lr: list[float] = []
        self.val_loss: list[float] = []
        self.val_accuracy: list[float] = []
        self.best = None  # (validation loss, epoch from 1, theta, stats) of the lowest validation loss
        self.improved_at, self.improved_loss = 0, math.inf  # the last epoch that improved by MARGIN, its loss
        self.stopped = False
        self.base = None  # the optimizer's hyperparameters, as the first epoch got them
        self.restored = None  # the epoch whose weights were put back

    def hyper(self, hyper: np.ndarray, epoch: int) -> np.ndarray:
        """The hyperparameters for epoch ``epoch`` (from 0): ``hyper`` with the schedule's learning rate."""
        if self.base is None:
            self.base = hyper.copy()
        if self.schedule is None:
            self.lr.append(float(hyper[self.optimizer.hyper_names.index("lr")]))
            return hyper
        watched = self.val_loss if self.held is not None else self.loss
        rate = float(self.schedule.lr(epoch, float(self.base[self.lr_index]), int(self.optimizer.max_iter),
                                      tuple(watched[:epoch])))
        if not (math.isfinite(rate) and rate > 0.0):
            raise ModelError(f"the schedule {self.schedule!r} gave the learning rate {rate!r} for epoch {epoch + 1}; "
                             f"a learning rate must be a finite number > 0")
        self.lr.append(rate)
        out = self.base.copy()
        out[self.lr_index] = rate
        return out

    def after(self, theta, stats, loss: float) -> bool:
        """Record the epoch just run (its training objective ``loss``); True where early stopping stops here."""
        self.loss.append(loss)
        if self.held is None:
            return False
        value, accuracy = self.evaluate(theta, stats)
        self.val_loss.append(value)
        if accuracy is not None:
            self.val_accuracy.append(accuracy)
        epoch = len(self.loss)
        if self.patience is None:
            return False
        if math.isfinite(value) and (self.best is None or value < self.best[0]):
            self.best = (value, epoch, theta.copy(), stats.copy(), loss)
        margin = MARGIN * abs(self.improved_loss) if self.improved_at else 0.0
        if math.isfinite(value) and (self.improved_at == 0 or value < self.improved_loss - margin):
            self.improved_at, self.improved_loss = epoch, value
        self.stopped = epoch - self.improved_at >= self.patience
        return self.stopped

    def evaluate(self, theta, stats) -> tuple[float, float | None]:
        """The mean loss per validation row (no penalty) and, for classification, the accuracy, at ``theta``
        in inference mode."""
        X, y, o = self.held.X, self.held.y, self.objective
        theta, chunk = theta.astype(X.dtype), o.model.pass_rows
        total = float(self.module.full_loss(theta, stats, X, y, 0.0, chunk))
        value = total if o.reduction == "mean" else total / X.shape[0]
        if o.kind not in CLASSIFICATION:
            return value, None
        z = self.module.outputs(theta, stats, X)
        with np.errstate(invalid="ignore"):
            labels = np.argmax(z, axis=1) if o.kind == "cross_entropy" else (z[:, 0] > 0.0).astype(float)
        right = (labels == y) & np.all(np.isfinite(z), axis=1)
        return value, float(np.mean(right))

    def restore(self, theta, stats) -> float | None:
        """With early stopping, put back the weights and statistics of the epoch of lowest validation loss;
        its training objective (None where there is nothing to restore)."""
        if self.patience is None or self.best is None:
            return None
        theta[:], stats[:] = self.best[2], self.best[3]
        self.restored = self.best[1]
        return self.best[4]

    def record(self, epochs: int) -> Training:
        """The record of the first ``epochs`` epochs (those the run counts)."""
        held, n = self.held is not None, epochs
        classes = held and self.objective.kind in CLASSIFICATION
        return Training(loss=np.array(self.loss[:n]), lr=np.array(self.lr[:n]),
                        val_loss=np.array(self.val_loss[:n]) if held else None,
                        val_accuracy=np.array(self.val_accuracy[:n]) if classes else None,
                        validation=self.held.words if held else "", best_epoch=self.restored,
                        patience=self.patience, **self._rows())

    def _rows(self) -> dict:
        """``rows`` and ``held_out`` of the record, where the validation rows were held out of the data."""
        if self.held is None or not self.held.of:
            return {}
        taken = self.held.X.shape[0]
        return {"rows": self.held.of - taken, "held_out": taken}

    def words(self) -> str:
        """What the run's message adds: why early stopping stopped, or which epoch's weights were returned."""
        if self.restored is None:
            return ""
        value, epoch = self.best[0], self.best[1]
        if self.stopped:
            return (f"stopped early: the validation loss did not improve (by {MARGIN:g} relative) for "
                    f"{self.patience} epochs; the weights of epoch {epoch} restored (validation loss {value:.4g})")
        return f"the weights of epoch {epoch}, of the lowest validation loss ({value:.4g}), restored"

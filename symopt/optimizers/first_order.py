"""First-order optimizers: gradient descent, momentum, Nesterov, Adam, RMSProp.

All minimise ``sign * F`` (ascent for maximised objectives). With
``batch_size`` they run minibatch epochs on a reproducible shuffle
(``seed``); ``max_iter`` then counts epochs. Each class holds its
hyperparameters, its state layout, and ``reference``: the same iteration in
NumPy, which the tests compare with the generated code iterate by iterate.
With bounds every step is projected onto the box (projected gradient
descent; the line search runs along the projected path).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from ..errors import ModelError
from .base import Optimizer, _flag, _fraction, _positive, box_of
from .schedules import CosineLR, schedule_of

MINSTD_MODULUS = 2_147_483_647
MINSTD_MULTIPLIER = 48_271


def minstd_shuffle(order: np.ndarray, state: int) -> int:
    """Fisher-Yates with the MINSTD generator (as the generated code does); returns the new state."""
    for i in range(order.shape[0] - 1, 0, -1):
        state = (state * MINSTD_MULTIPLIER) % MINSTD_MODULUS
        j = state % (i + 1)
        order[i], order[j] = order[j], order[i]
    return state


class _ImpliedCount(int):
    """An iteration count the caller did not give: the default ``max_iter``, or one copied from
    ``epochs``. Only an explicit ``max_iter`` (a plain int) can disagree with ``epochs``; the marker
    survives ``dataclasses.replace``, so ``replace(Adam(epochs=5), epochs=8)`` is not a conflict."""


class HeldOut:
    """Validation data given to ``validation=`` as ``(X_val, y_val)`` or a mapping with ``X`` and the target:
    kept as given, and read (checked as the training data are) when a network's training starts. Two are
    equal only when they are one object (arrays have no plain equality).

    A pickled optimizer carries its validation data (a joblib worker given it trains as here); a pickled
    *result* does not, as it drops its data: its optimizer (``result.optimizer``, and the one its services
    re-solve with) keeps a description in their place, :meth:`dropped`, ``HeldOut(30 rows, dropped)``. That
    optimizer still describes the run (its options, its ``repr``) but cannot train with validation data again:
    a solve with it is a :class:`~symopt.errors.ModelError` that says to give them again
    (``dataclasses.replace(result.optimizer, validation=(X_val, y_val))``)."""

    __slots__ = ("data", "_rows")

    def __init__(self, data, rows: int | None = None):
        self.data = data
        self._rows = rows  # kept for the description when the data are dropped

    @property
    def rows(self):
        """How many validation rows: counted from the data, or kept from them where they were dropped."""
        if self.data is None:
            return self._rows
        X = self.data[0] if isinstance(self.data, tuple) else self.data.get("X")
        return getattr(X, "shape", (len(X),) if hasattr(X, "__len__") else ("?",))[0]

    def dropped(self) -> "HeldOut":
        """This description without the data (what a pickled result keeps)."""
        return HeldOut(None, rows=self.rows)

    def check_given(self, owner: str) -> None:
        """A clear error where the data were dropped (an optimizer of an unpickled result): they must be given."""
        if self.data is None:
            raise ModelError(f"{owner}: its validation data ({self.rows} rows) were dropped when the result was "
                             f"pickled (a pickled result does not carry data), so it cannot train with them; give "
                             f"them again: dataclasses.replace(result.optimizer, validation=(X_val, y_val))")

    def __repr__(self) -> str:
        return f"HeldOut({self.rows} rows{', dropped' if self.data is None else ''})"


def seed_state(seed: int) -> int:
    """The MINSTD state for ``seed``: in 1 .. modulus - 1 (0 is a fixed point), a different
    state for each seed below modulus - 1 (seeds 0 and 1 used to share state 1)."""
    return seed % (MINSTD_MODULUS - 1) + 1


@dataclass(frozen=True, kw_only=True)
class _FirstOrder(Optimizer):
    """Stopping rules and minibatching shared by the first-order family (keyword-only).

    ``epochs``, when given, is the number of passes over the data and sets
    ``max_iter`` (with ``batch_size``, one iteration is one epoch). ``validation``,
    ``early_stopping`` and ``schedule`` are for training a network by epochs (see the shared options
    below); explicit validation data are kept as a :class:`HeldOut`, a schedule named by a string as the
    schedule object it names.
    """

    max_iter: int = _ImpliedCount(10_000)
    tol: float = 1e-6
    ftol: float = 0.0
    batch_size: int | None = None
    seed: int = 0
    epochs: int | None = None
    validation: object = None
    early_stopping: int | None = None
    schedule: object = None

    template = "optimizers/first_order.py.jinja"
    #: The options of training a network by epochs (an optimizer without them refuses them by name: base.py).
    epoch_options: ClassVar[tuple] = ("validation", "early_stopping", "schedule")

    def __post_init__(self):
        super().__post_init__()
        self._check_training()

    def _check_training(self) -> None:
        """The options of training by epochs: ``validation``, ``early_stopping``, ``schedule``."""
        owner = type(self).__name__
        held = self.validation
        if isinstance(held, (tuple, Mapping)):
            if isinstance(held, tuple) and len(held) != 2:
                raise ModelError(f"{owner}: validation data are (X_val, y_val); got a tuple of {len(held)} items")
            object.__setattr__(self, "validation", HeldOut(held))
        elif held is not None and not isinstance(held, HeldOut):
            if isinstance(held, bool) or not isinstance(held, (int, float)) or not 0.0 < held < 1.0:
                raise ModelError(f"{owner}: validation must be a fraction of the rows in (0, 1), such as 0.1, or "
                                 f"validation data (X_val, y_val); got {held!r}")
        stop = self.early_stopping
        if stop is not None and (isinstance(stop, bool) or not isinstance(stop, int) or stop < 1):
            raise ModelError(f"{owner}: early_stopping is the patience, a whole number of epochs >= 1 (such as "
                             f"early_stopping=10), or None; got {stop!r}")
        schedule = schedule_of(owner, self.schedule)
        object.__setattr__(self, "schedule", schedule)
        lr = getattr(self, "lr", None)
        if isinstance(schedule, CosineLR) and lr is not None and schedule.min_lr >= lr:
            raise ModelError(f"{owner}: CosineLR(min_lr={schedule.min_lr!r}) must be below the learning rate "
                             f"lr={lr!r} it anneals from")
        given = [name for name in self.epoch_options if getattr(self, name) is not None]
        if given and getattr(self, "line_search", False):
            raise ModelError(f"{owner}: {', '.join(f'{n}=' for n in given)} apply to training a network by epochs "
                             f"with a fixed step; give line_search=False and lr= (the line search trains on all "
                             f"rows, step by step)")

    def without_data(self):
        """This optimizer with its validation data, if any, replaced by their description (:meth:`HeldOut.dropped`):
        what a pickled result keeps."""
        if isinstance(self.validation, HeldOut) and self.validation.data is not None:
            return replace(self, validation=self.validation.dropped())
        return self

    @property
    def by_epochs(self) -> bool:
        """Whether any option of training a network by epochs (validation, early stopping, a schedule) is set."""
        return any(getattr(self, n) is not None for n in self.epoch_options)

    def _check(self) -> None:
        owner = type(self).__name__
        if self.epochs is not None:
            _positive(owner, "epochs", self.epochs, integer=True)
            _positive(owner, "max_iter", self.max_iter, integer=True)
            if not isinstance(self.max_iter, _ImpliedCount) and self.max_iter != self.epochs:
                raise ModelError(f"{owner}: epochs={self.epochs!r} and max_iter={self.max_iter!r} disagree; "
                                 "give one of them (epochs sets max_iter)")
            # one count of passes for every driver
            object.__setattr__(self, "max_iter", _ImpliedCount(self.epochs))
        super()._check()
        bs = getattr(self, "batch_size", None)
        if bs is not None:
            _positive(owner, "batch_size", bs, integer=True)
        seed = getattr(self, "seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ModelError(f"{owner}: seed must be an integer >= 0, got {seed!r}")

    def state_size(self, p: int, n: int) -> tuple[int, int]:
        floats = {"momentum": p, "nesterov": p, "adam": 2 * p, "rmsprop": p}.get(self.name, 1)
        return max(floats, 1), 2 + (n if self.stochastic else 0)

    def init_state(self, fw: np.ndarray, iw: np.ndarray, n: int) -> None:
        """Initial state (the generated ``start`` does the same)."""
        fw[:] = 0.0
        iw[:] = 0
        if self.stochastic:
            iw[1] = seed_state(self.seed)
            iw[2:] = np.arange(n)

    # Each subclass defines update(theta, g, fw, iw): one step in place, as its template macro does.

    def reference(self, fun, theta0, iterations: int, batch_grad=None, n: int = 0, lower=None, upper=None):
        """NumPy reference: the iterates ``theta_0 .. theta_k`` of this optimizer.

        ``fun(theta) -> (sign*F, sign*grad)``; ``batch_grad(theta, rows) ->
        sign * gradient on those rows`` for minibatch runs; ``lower``,
        ``upper``: bounds (None: open).
        """
        theta = np.array(theta0, dtype=float)
        p = theta.size
        lower, upper = box_of(p, lower, upper)
        fsize, isize = self.state_size(p, n)
        fw, iw = np.zeros(fsize), np.zeros(isize, dtype=np.int64)
        self.init_state(fw, iw, n)
        f, g = fun(theta)
        out = [theta.copy()]
        for _ in range(iterations):
            if self.stochastic:
                order = iw[2:]
                iw[1] = minstd_shuffle(order, int(iw[1]))
                for lo in range(0, n, self.batch_size):
                    rows = order[lo:lo + self.batch_size]
                    self.update(theta, batch_grad(theta, rows), fw, iw)
                    np.clip(theta, lower, upper, out=theta)
            else:
                self.update(theta, g, fw, iw)
                np.clip(theta, lower, upper, out=theta)
            f, g = fun(theta)
            out.append(theta.copy())
        return out


@dataclass(frozen=True)
class GradientDescent(_FirstOrder):
    r"""Gradient descent (ascent when the objective is maximised).

    Update :math:`\theta_{k+1} = \theta_k - t_k \nabla F(\theta_k)`. With
    ``line_search=True`` (full batch only) the step is found by backtracking
    (Armijo): start at twice the last accepted step (``lr`` or 1 at first),
    halve until :math:`F(\theta - t g) \le F(\theta) - 10^{-4}\,t\,\|g\|^2`;
    where that decrease is below the rounding of ``F``, a step that keeps
    ``F`` within rounding and does not overshoot along ``-g`` is accepted
    (Hager and Zhang's approximate Wolfe condition). With
    ``line_search=False`` the step is ``lr``, fixed.
    """

    lr: float | None = None
    line_search: bool = True
    name = "gd"
    hyper_names = ("lr",)

    def _check(self) -> None:
        super()._check()
        _flag("GradientDescent", "line_search", self.line_search)
        if self.lr is not None:
            _positive("GradientDescent", "lr", self.lr)
        if not self.line_search and self.lr is None:
            raise ModelError("GradientDescent: a fixed step (line_search=False) needs lr=, for example lr=0.1")
        if self.line_search and self.batch_size is not None:
            raise ModelError("GradientDescent: the line search needs the full batch; "
                             "with batch_size= use line_search=False and lr=")

    def hyper(self) -> np.ndarray:
        return np.array([float(self.lr if self.lr is not None else 1.0)])

    @property
    def searching(self) -> bool:
        return self.line_search

    def update(self, theta, g, fw, iw):
        theta -= self.lr * g

    def reference(self, fun, theta0, iterations: int, batch_grad=None, n: int = 0, lower=None, upper=None):
        if not self.line_search:
            return super().reference(fun, theta0, iterations, batch_grad, n, lower, upper)
        theta = np.array(theta0, dtype=float)
        lower, upper = box_of(theta.size, lower, upper)
        f, g = fun(theta)
        step = self.lr if self.lr is not None else 1.0
        out = [theta.copy()]
        for k in range(iterations):
            t = step * 2.0 if k > 0 else step
            gg = float(g @ g)
            while True:
                cand = np.minimum(np.maximum(theta - t * g, lower), upper)
                clipped = not np.array_equal(cand, theta - t * g)
                fc, gc = fun(cand)
                if math.isfinite(fc) and (fc <= f + 1e-4 * float(g @ (cand - theta)) if clipped
                                          else fc <= f - 1e-4 * t * gg):
                    break
                if math.isfinite(fc) and fc <= f + 1e-12 * abs(f) and float(g @ gc) >= -(1 - 2e-4) * gg:
                    break
                t *= 0.5
                if t < 1e-20:
                    return out
            step = t
            theta, f, g = cand, fc, gc
            out.append(theta.copy())
        return out


@dataclass(frozen=True)
class Momentum(_FirstOrder):
    r"""Heavy-ball momentum: :math:`v \leftarrow \mu v + g,\ \theta \leftarrow \theta - \mathrm{lr}\, v`
    (PyTorch's SGD with momentum)."""

    lr: float = 0.01
    momentum: float = 0.9
    name = "momentum"
    hyper_names = ("lr", "momentum")

    def _check(self) -> None:
        super()._check()
        _positive(type(self).__name__, "lr", self.lr)
        _fraction(type(self).__name__, "momentum", self.momentum)  # mu >= 1: the velocity grows without bound

    def update(self, theta, g, fw, iw):
        p = theta.size
        fw[:p] = self.momentum * fw[:p] + g
        theta -= self.lr * fw[:p]


@dataclass(frozen=True)
class Nesterov(Momentum):
    r"""Nesterov momentum: :math:`v \leftarrow \mu v + g,\ \theta \leftarrow \theta - \mathrm{lr}\,(g + \mu v)`
    (PyTorch's ``nesterov=True`` form; Sutskever et al. 2013)."""

    name = "nesterov"

    def update(self, theta, g, fw, iw):
        p = theta.size
        fw[:p] = self.momentum * fw[:p] + g
        theta -= self.lr * (g + self.momentum * fw[:p])


@dataclass(frozen=True)
class Adam(_FirstOrder):
    r"""Adam (Kingma and Ba 2015): :math:`m \leftarrow \beta_1 m + (1-\beta_1) g`,
    :math:`v \leftarrow \beta_2 v + (1-\beta_2) g^2`,
    :math:`\theta \leftarrow \theta - \mathrm{lr}\,\hat m / (\sqrt{\hat v} + \epsilon)` with
    :math:`\hat m = m/(1-\beta_1^t)`, :math:`\hat v = v/(1-\beta_2^t)`."""

    lr: float = 0.001
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    name = "adam"
    hyper_names = ("lr", "beta1", "beta2", "eps")

    def _check(self) -> None:
        super()._check()
        _positive("Adam", "lr", self.lr)
        _positive("Adam", "eps", self.eps)
        _fraction("Adam", "beta1", self.beta1)
        _fraction("Adam", "beta2", self.beta2)

    def update(self, theta, g, fw, iw):
        p = theta.size
        iw[0] += 1
        t = int(iw[0])
        fw[:p] = self.beta1 * fw[:p] + (1.0 - self.beta1) * g
        fw[p:2 * p] = self.beta2 * fw[p:2 * p] + (1.0 - self.beta2) * g * g
        mhat = fw[:p] / (1.0 - self.beta1 ** t)
        vhat = fw[p:2 * p] / (1.0 - self.beta2 ** t)
        theta -= self.lr * mhat / (np.sqrt(vhat) + self.eps)


@dataclass(frozen=True)
class RMSProp(_FirstOrder):
    r"""RMSProp (Hinton's lecture 6e): :math:`v \leftarrow \alpha v + (1-\alpha) g^2,\
    \theta \leftarrow \theta - \mathrm{lr}\, g / (\sqrt{v} + \epsilon)`."""

    lr: float = 0.01
    alpha: float = 0.99
    eps: float = 1e-8
    name = "rmsprop"
    hyper_names = ("lr", "alpha", "eps")

    def _check(self) -> None:
        super()._check()
        _positive("RMSProp", "lr", self.lr)
        _positive("RMSProp", "eps", self.eps)
        _fraction("RMSProp", "alpha", self.alpha)

    def update(self, theta, g, fw, iw):
        p = theta.size
        fw[:p] = self.alpha * fw[:p] + (1.0 - self.alpha) * g * g
        theta -= self.lr * g / (np.sqrt(fw[:p]) + self.eps)


_SHARED_OPTIONS = """

    Options shared by the first-order family (keyword-only): ``max_iter``;
    ``tol`` (largest gradient component) and ``ftol`` (relative change of
    the objective, 0 = off); ``batch_size`` for minibatch epochs on a
    shuffle seeded by ``seed``; ``epochs``, which sets ``max_iter`` (with
    ``batch_size``, one iteration is one epoch).

    Training a network by epochs, also: ``validation`` (None; a fraction in (0, 1) of the rows held out,
    drawn with ``seed`` and stratified by class for cross_entropy and log_loss; or validation data
    ``(X_val, y_val)``), whose loss and accuracy are recorded after every epoch; ``early_stopping`` (None,
    or the patience: stop once the validation loss has not improved by 1e-4 relative for that many epochs,
    and return the weights and batch-norm statistics of the epoch with the lowest validation loss; without
    ``validation`` a tenth of the rows is held out, and the result's ``why`` says so); ``schedule`` (None,
    ``"step"``, ``"cosine"``, ``"plateau"`` or a schedule object: ``symopt.StepLR``, ``CosineLR``,
    ``ReduceLROnPlateau``) for the learning rate of each epoch.
    """
for _public in (GradientDescent, Momentum, Nesterov, Adam, RMSProp):
    _public.__doc__ = _public.__doc__.rstrip() + _SHARED_OPTIONS

"""Training networks: the optimizer a network gets, the generated module, the epoch loop that
:mod:`symopt.run.loop` drives (as it drives every iterative run), per-layer diagnostics after every epoch,
and inference with the trained weights."""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..codegen import cache
from ..codegen.network_trainer import render_network
from ..errors import DataError, DiagnosticWarning, ModelError
from ..model.data import check_scores, read_only
from ..model.data import is_number
from ..numerics import threads
from ..numerics.sizes import check_run
from ..optimizers import LBFGS, RUNNING, Adam
from ..optimizers.base import Status
from ..optimizers.first_order import _FirstOrder, seed_state
from .network_threads import threads_of
from .validation import Tracker

#: Rows of the training-mode pass that measures the diagnostics each epoch.
DIAGNOSTIC_ROWS = 512
#: Gradient norms per parameter below this (relative to the largest layer's) count as vanishing.
VANISHING_RATIO = 1e-3
EXPLODING_NORM = 1e4
#: A network with at most this many rows x parameters, and no dropout or batch norm, is trained by L-BFGS on
#: all rows by default (a pass then takes milliseconds: iris's 4-3 softmax net reaches 98.7% training accuracy
#: this way, where Adam's 20 epochs of minibatches reach 66.7%); larger ones by Adam on minibatches.
FULL_BATCH_MAX_WORK = 10_000_000


@dataclass(frozen=True)
class Diagnostics:
    """Per layer and epoch: gradient norm of W (per weight, RMS), activation mean and std,
    the fraction of activation derivatives below 0.01 (saturated or dead), and the fraction of
    units whose derivative is below 0.01 on every row (dead units). Arrays of shape (epochs, layers).
    ``training``: the per-epoch losses, validation figures and learning rates
    (:class:`symopt.run.validation.Training`, also ``result.training``)."""

    grad_rms: np.ndarray
    act_mean: np.ndarray
    act_std: np.ndarray
    saturated: np.ndarray
    dead: np.ndarray
    advice: tuple
    training: object = None

    def summary(self) -> str:
        if not self.grad_rms.size:
            return "no epochs"
        last = -1
        lines = ["layer  |grad W| (rms)  act mean  act std  saturated  dead units"]
        for k in range(self.grad_rms.shape[1]):
            if np.isnan(self.grad_rms[last, k]):  # pooling, flatten, dropout
                lines.append(f"{k + 1:5d}  (no weights)")
                continue
            lines.append(f"{k + 1:5d}  {self.grad_rms[last, k]:14.3g}  {self.act_mean[last, k]:8.3g}  "
                         f"{self.act_std[last, k]:7.3g}  {self.saturated[last, k]:9.1%}  {self.dead[last, k]:10.1%}")
        return "\n".join(lines + list(self.advice))


def default_optimizer(net, n_rows: int):
    """The optimizer a network gets when none is given, and why in words: L-BFGS on all rows where one
    pass over the data is cheap and the objective is the same at every evaluation (no dropout, no batch
    norm); Adam on minibatches otherwise."""
    work = n_rows * net.size()
    if work <= FULL_BATCH_MAX_WORK and not any(layer.dropout or layer.batch_norm for layer in net.layers):
        return LBFGS(), (f"L-BFGS on all rows: a network without dropout or batch norm whose pass over the data "
                         f"is small ({n_rows:,} rows x {net.size():,} parameters, at most {FULL_BATCH_MAX_WORK:,})")
    why = "dropout or batch norm" if work <= FULL_BATCH_MAX_WORK else (
        f"{n_rows:,} rows x {net.size():,} parameters, above {FULL_BATCH_MAX_WORK:,} for L-BFGS on all rows")
    return Adam(lr=1e-3, batch_size=64, epochs=20), f"Adam on minibatches of 64, 20 epochs ({why})"


def full_batch(optimizer) -> bool:
    """Whether ``optimizer`` trains a network on all rows at once (L-BFGS), driven by :mod:`symopt.run.loop`
    like any other problem, rather than epoch by epoch on minibatches here."""
    return isinstance(optimizer, LBFGS)


def check_optimizer(net, optimizer) -> None:
    """Refuse, with the reason, an optimizer that cannot train ``net``."""
    if full_batch(optimizer):
        awkward = [k for k, layer in enumerate(net.layers, start=1) if layer.dropout or layer.batch_norm]
        if awkward:
            raise ModelError(f"LBFGS trains a network on all rows at once, and layer(s) {', '.join(map(str, awkward))} "
                             f"use dropout or batch norm, which are defined on minibatches (the objective would "
                             f"change from one evaluation to the next): train it with Adam (or another "
                             f"first-order optimizer), or drop them for LBFGS")
        return
    if not isinstance(optimizer, _FirstOrder) or getattr(optimizer, "line_search", False):
        raise ModelError(f"{type(optimizer).__name__} cannot train a network: a network is trained on all rows "
                         f"at once by LBFGS() (small networks and data sets that fit in memory), or on "
                         f"minibatches by GradientDescent(lr=..., line_search=False), Momentum, Nesterov, Adam "
                         f"or RMSProp (Newton and Levenberg-Marquardt need second derivatives, which symopt "
                         f"does not form for networks)")


def load(objective, derivation, optimizer, parallel: bool = False):
    """``(rendered, module, path)``: the network's module for ``optimizer`` (``parallel``: the twin whose
    convolutions split their work across Numba's threads), generated and loaded from the cache (refused before compiling where a run could not fit in memory even on one row: :func:`symopt.numerics.sizes.check_run`)."""
    net = objective.model
    check_run(optimizer, net.size(), 1, model=net, what=f"training a network of {net.size():,} parameters "
                                                        f"({net.describe_widths()}) with {type(optimizer).__name__}")
    rendered = render_network(objective, derivation, optimizer, parallel)
    module, path = cache.load(rendered.source, rendered.stem)
    return rendered, module, path


def _advice(net, grad_rms, dead, saturated) -> tuple:
    notes = []
    numbers = np.flatnonzero(~np.isnan(grad_rms[-1])) + 1  # the layers with weights, by position in the stack
    g = grad_rms[-1][numbers - 1]
    if not np.all(np.isfinite(g)) or np.max(g) > EXPLODING_NORM:
        notes.append(f"exploding gradients (largest RMS {np.max(g):.3g}): lower the learning rate, use "
                     "init='glorot' or 'he', or batch_norm=True")
    elif np.max(g) > 0:
        ratio = g / np.max(g)
        weak = [int(numbers[k]) for k in range(len(g) - 1) if ratio[k] < VANISHING_RATIO]
        if weak:
            notes.append(f"vanishing gradients in layer(s) {', '.join(map(str, weak))} (RMS {np.min(g[:-1]):.3g}, "
                         f"{np.min(ratio[:-1]):.1e} of the largest): use init='he' for relu-like activations or "
                         "'glorot' for tanh/sigmoid, batch_norm=True, or a larger learning rate")
    for k in range(len(net.layers) - 1):
        if dead[-1, k] > 0.5:
            notes.append(f"layer {k + 1}: {dead[-1, k]:.0%} of units are dead or saturated on every row: "
                         "lower the learning rate, use init='he', or leaky_relu")
        elif saturated[-1, k] > 0.5 and net.activations[k].saturates:
            notes.append(f"layer {k + 1}: {saturated[-1, k]:.0%} of activations are saturated: scale the inputs, "
                         "use batch_norm=True or init='glorot'")
    return tuple(notes)


class EpochLoop:
    """A network's generated epoch trainer behind the calls :func:`symopt.run.loop.run_iterative` makes of every
    solver module (``start`` and ``run``, plus the optional hooks listed there), so epoch training has the
    one driver every other iterative run has: start point and ``x0`` by name, chunked calls with progress,
    ``max_time=`` and ``callback=``, Ctrl-C, status words, divergence rules and evaluation counts.

    One loop per solve: it holds the batch-norm statistics (``stats``, restored with the weights on
    Ctrl-C) and the per-epoch diagnostics (``records``) that :func:`diagnostics` turns into words.
    A non-finite epoch puts the weights back as they were before it and stops with ``diverged``; the
    last epoch ends with ``completed`` (epochs are a budget, not a convergence test). Its ``tracker``
    (:class:`symopt.run.validation.Tracker`) sets each epoch's learning rate, evaluates the validation rows
    ``held`` after it, and stops early (``stopped_early``), where the optimizer asks; with early stopping
    the weights and statistics of the epoch of lowest validation loss are put back at the end.

    The history holds each epoch's running loss (its minibatches' objectives before their steps, as
    PyTorch and Keras loops report it: no extra pass over the data); the objective on all rows is
    computed once, at the start and at the final weights (``result.fun``). A float32 network trains on
    float32 copies of the weights, statistics and optimizer state; ``theta`` (float64) receives their
    values after every epoch.
    """

    unit = "epoch"
    first_chunk = 1  # an epoch can take seconds: the time limit and the progress bar are checked after each

    def __init__(self, module, objective, optimizer, n_rows: int, held=None):
        self.module, self.objective, self.optimizer = module, objective, optimizer
        self.tracker = Tracker(module, objective, optimizer, held)
        net = objective.model
        self.dtype = np.dtype(net.dtype)
        self.stats = net.initial_buffers().astype(self.dtype)
        self.state = np.zeros(optimizer.state_size(net.size(), n_rows)[0], dtype=self.dtype)
        self.extra_state = (self.stats, self.state)
        self.fs = None
        self.records: list[np.ndarray] = []
        self.batch = optimizer.batch_size or n_rows
        self.passes = -(-n_rows // self.batch)  # minibatch forward and backward passes per epoch
        self.diag_rows = np.arange(min(n_rows, DIAGNOSTIC_ROWS))
        self.scratch = np.empty(net.size(), dtype=self.dtype)  # the diagnostics pass's gradient, not used
        self.layers = len(net.layers)

    def state_size(self, p: int, n: int) -> tuple[int, int]:
        """The optimizer's float state, and [step, shuffle state, dropout state, row order...]."""
        return self.optimizer.state_size(p, n)[0], 3 + n

    def start(self, theta, grad, fs, fw, iw, X, y, mask, l2, sign, hyper, lower, upper) -> int:
        """The generated modules' ``start``; a network has no bounds (``lower``, ``upper`` are open)."""
        self.state[:] = 0.0  # the optimizer's float state, in the network's precision (fw is unused)
        iw[:] = 0
        iw[1] = seed_state(self.optimizer.seed)
        iw[2] = seed_state(self.optimizer.seed + 7919)
        iw[3:] = np.arange(X.shape[0])
        self.fs = fs
        fs[0] = self.module.full_loss(theta.astype(self.dtype), self.stats, X, y, l2, self.objective.model.pass_rows)
        fs[2] = 1
        return RUNNING if np.isfinite(fs[0]) else int(Status.NONFINITE_START)

    def run(self, theta, grad, fs, fw, iw, X, y, mask, l2, sign, hyper, lower, upper, budget, tol, ftol, history,
            done):
        weights = theta.astype(self.dtype)  # a copy in either precision: theta keeps the last good epoch
        for k in range(budget):
            before = self.stats.copy(), self.state.copy()
            diag = np.zeros((self.layers, 5))
            hyper = self.tracker.hyper(hyper, done + k)  # the schedule's learning rate for this epoch
            f = float(self.module.train_epoch(weights, self.stats, self.state, iw, X, y, l2, hyper, self.batch))
            if self.diag_rows.size:  # a training-mode pass (batch statistics, dropout off) over the first rows
                self.module.loss_and_gradient(weights, self.stats, X, y, self.diag_rows, l2, 1.0 / self.diag_rows.size,
                                              self.scratch, True, True, False, False, iw[2:3], diag, True)
            if not (np.isfinite(f) and np.all(np.isfinite(weights))):
                self.stats[:], self.state[:] = before
                return int(Status.DIVERGED), k
            theta[:] = weights
            fs[0] = history[done + k + 1] = f
            fs[2] += self.passes
            fs[3] += self.passes
            self.records.append(diag)
            stop = self.tracker.after(theta, self.stats, f)
            if stop or done + k + 1 >= self.optimizer.max_iter:
                restored = self.tracker.restore(theta, self.stats)  # early stopping: the best epoch's weights
                if restored is not None:
                    fs[0] = restored
                return int(Status.STOPPED_EARLY if stop else Status.COMPLETED), k + 1
        return RUNNING, budget

    def finish(self, theta, grad, X, y, l2) -> None:
        """``grad`` := the gradient on all rows at the final weights (the epochs step on minibatches), and the
        objective there (inference mode: running statistics) replaces the last epoch's running loss as ``F``."""
        value, grad[:] = value_and_gradient_at(self.module, self.objective, {"X": X, self.objective.target.name: y},
                                               theta, self.stats)
        if any(layer.batch_norm for layer in self.objective.model.layers):  # training and inference modes differ
            value = self.module.full_loss(theta.astype(self.dtype), self.stats, X, y, l2,
                                          self.objective.model.pass_rows)
        if self.fs is not None and np.isfinite(value):
            self.fs[0] = value


def diagnostics(net, records, training=None) -> Diagnostics:
    """Diagnostics from an :class:`EpochLoop`'s per-epoch records (and its tracker's ``training`` record);
    each piece of advice is also warned."""
    layers = len(net.layers)
    diag = np.array(records) if records else np.zeros((0, layers, 5))
    # The weights of each layer (NaN for pooling, flatten and dropout, which have none: no diagnostics there).
    weights = dict(net.shapes())
    sizes = np.array([np.prod(weights.get(f"W{k}", weights.get(f"K{k}", np.nan))) for k in range(1, layers + 1)],
                     dtype=float)
    diag = np.where(np.isnan(sizes)[None, :, None], np.nan, diag)
    grad_rms = diag[:, :, 0] / np.sqrt(sizes)
    advice = _advice(net, grad_rms, diag[:, :, 4], diag[:, :, 3]) if len(records) else ()
    for note in advice:
        warnings.warn(note, DiagnosticWarning, stacklevel=4)
    return Diagnostics(grad_rms, diag[:, :, 1], diag[:, :, 2], diag[:, :, 3], diag[:, :, 4], advice, training)


def gradient_at(module, objective, dataset, theta, stats=None) -> np.ndarray:
    """Gradient of the training objective on all rows at theta (batch statistics, dropout off)."""
    return value_and_gradient_at(module, objective, dataset, theta, stats)[1]


def value_and_gradient_at(module, objective, dataset, theta, stats=None) -> tuple[float, np.ndarray]:
    """The training objective on all rows at theta and its gradient (batch statistics, dropout off): in chunks of
    ``pass_rows`` rows, their gradients summed in float64 (the penalty in the first), or in one pass where batch
    norm's statistics are over all rows. On a 20,000-row, 64-128-64-10 net (float32), chunks of 2048 rows took
    21 ms against 44 ms for one pass, whose arrays of all rows fall out of cache."""
    X, y = dataset["X"], dataset[objective.target.name]
    n = X.shape[0]
    net = objective.model
    stats = (net.initial_buffers() if stats is None else stats).astype(X.dtype)
    weights = np.ascontiguousarray(theta, dtype=X.dtype)
    scale = 1.0 / n if objective.reduction == "mean" else 1.0
    chunk = n if any(layer.batch_norm for layer in net.layers) else net.pass_rows
    value, grad, part = 0.0, np.zeros(theta.size), np.zeros(theta.size, dtype=X.dtype)
    rng, diag = np.ones(1, dtype=np.int64), np.zeros((len(net.layers), 5))
    for lo in range(0, max(n, 1), chunk):
        value += module.loss_and_gradient(weights, stats, X, y, np.arange(lo, min(lo + chunk, n)),
                                          objective.l2 if lo == 0 else 0.0, scale, part, True, True, False, False,
                                          rng, diag, False)
        grad += part
    return float(value), grad


class Predictor:
    """Inference with the trained network: labels for classification, outputs for regression.

    Pickles (a :class:`~symopt.Result` sent back from a joblib or multiprocessing worker) with the generated
    module's source and name, not the module object: unpickled, the module is loaded from the cache folder
    (:func:`symopt.codegen.cache.load`: compiled again only where the cache folder does not hold it) the first
    time it predicts."""

    def __init__(self, module, objective, theta, stats, serial=None):
        self.objective, self.theta, self.stats = objective, theta, stats
        self._module = module
        # serial: the (source, stem) of the serial twin where module is the parallel one (parallel_wanted). It
        # is what a pickle names, and what runs where the thread budget is one thread (a forked child, a Dask
        # task): the parallel module's threads cannot run there.
        self._parallel = serial is not None
        self._key = serial if serial is not None else _module_key(module)

    @property
    def module(self):
        if self._module is None or self._parallel and threads.thread_budget() == 1:
            self._module, _ = cache.load(*self._key)
            self._parallel = False
        return self._module

    def __getstate__(self):
        if self._key is None:
            raise ModelError("this network's predictor does not pickle: its generated module is not a file of the "
                             "symopt cache (pickle result.params and predict with a solve of the same network)")
        return {"objective": self.objective, "theta": self.theta, "stats": self.stats, "_key": self._key,
                "_module": None, "_parallel": False}

    def outputs(self, X) -> np.ndarray:
        net = self.objective.model
        X = _inputs(X, net.n_inputs, net.input_shape if net.images else None).astype(net.dtype, copy=False)
        if X.shape[0] == 0:
            # No rows in, no predictions out: an empty batch is well defined (unlike training on one),
            # so predict returns the empty result of the usual shape rather than an error.
            return np.zeros((0, net.n_outputs))
        theta, stats = self.theta.astype(X.dtype), self.stats.astype(X.dtype)
        module = self.module
        if not self._parallel:  # the serial module: no thread budget to read on every call
            return module.outputs(theta, stats, X).astype(np.float64, copy=False)  # in chunks of pass_rows
        with threads_of(True):
            return module.outputs(theta, stats, X).astype(np.float64, copy=False)

    def __call__(self, X) -> np.ndarray:
        """Labels (refused, naming the rows, where the network's scores are not finite: a NaN logit would be
        class 0) or, for regression, the outputs (NaN where they are NaN)."""
        z = self.outputs(X)
        kind = self.objective.kind
        if kind == "cross_entropy":
            return np.argmax(check_scores(z, "the network's class scores"), axis=1)
        if kind == "log":
            return (check_scores(z[:, 0], "the network's logits") > 0).astype(float)
        return z[:, 0] if z.shape[1] == 1 else z


def _module_key(module) -> tuple[str, str] | None:
    """``(source, stem)`` that :func:`symopt.codegen.cache.load` loads ``module`` by: its file's text, and the
    stem its name ``symopt_<stem>_<digest>.py`` carries (the digest checked against the text); None where the
    module is no such file."""
    path = Path(getattr(module, "__file__", "") or "")
    name = path.name
    if not (name.startswith("symopt_") and name.endswith(".py")):
        return None
    stem, _, digest = name[len("symopt_"):-len(".py")].rpartition("_")
    try:
        source = path.read_text(encoding="utf-8")
    except OSError:
        return None
    if not stem or hashlib.sha256(source.encode("utf-8")).hexdigest()[:len(digest)] != digest:
        return None
    return source, stem


def _inputs(X, n_inputs: int, image: tuple | None = None) -> np.ndarray:
    """``X`` for ``predict`` as a C-contiguous float array (rows, n_inputs), every value finite; for a network
    on images (``image``: (channels, height, width)), ``X`` of shape (rows, *image), read as rows of its values."""
    want = f"X of shape (rows, {n_inputs})" if image is None else f"X of shape (rows, {', '.join(map(str, image))})"
    if isinstance(X, tuple):
        raise DataError(f"predict takes {want} alone, got a tuple of {len(X)} items; pass X, not (X, y)")
    try:
        raw = np.asarray(X)
    except (TypeError, ValueError, OverflowError):  # ragged rows and the like
        raise DataError(f"predict needs {want}; X cannot be read as an array (rows of different lengths?)") from None
    if raw.dtype.kind == "c":
        raise DataError("predict: X is complex; give real numbers")
    if raw.dtype.kind not in "biuf":
        pos = next((p for p, v in np.ndenumerate(raw) if not is_number(v)), None)
        if pos is not None:
            where = f" at (row, column) {tuple(int(i) for i in pos)}" if raw.ndim == 2 else ""
            value = raw[pos].item() if isinstance(raw[pos], np.generic) else raw[pos]
            raise DataError(f"predict: X is not numeric; the first non-numeric value is {repr(value)[:40]}{where}")
        if raw.dtype.kind != "O" or any(isinstance(v, (str, bytes)) for v in raw.flat):
            raise DataError(f"predict: X holds text or dates (dtype {raw.dtype}), not numbers; convert it first "
                            "(symopt does not guess a conversion)")
        raw = raw.astype(float)
    if image is not None:
        if raw.shape[1:] != image:
            hint = (f"; for one image use X.reshape(1, {', '.join(map(str, image))})" if raw.size == n_inputs else
                    f"; rows of {n_inputs} values reshape with X.reshape(-1, {', '.join(map(str, image))})"
                    if raw.ndim == 2 and raw.shape[1] == n_inputs else "")
            raise DataError(f"predict needs {want}, got shape {raw.shape}{hint}")
        raw = raw.reshape(raw.shape[0], n_inputs)
    if raw.ndim != 2 or raw.shape[1] != n_inputs:
        hint = "; for one row use X.reshape(1, -1)" if raw.ndim == 1 and raw.size == n_inputs else ""
        raise DataError(f"predict needs {want}, got shape {raw.shape}{hint}")
    arr = np.ascontiguousarray(raw, dtype=np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        pos = tuple(int(i) for i in np.argwhere(bad)[0])
        kind = "NaN" if np.isnan(arr[pos]) else "inf"
        raise DataError(f"predict: X has {int(bad.sum())} non-finite value(s); the first is {kind} at "
                        f"(row, column) {pos}: remove or impute it (its prediction would be meaningless)")
    return read_only(arr)


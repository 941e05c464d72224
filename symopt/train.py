"""Training networks: generated forward/backward code driven epoch by epoch."""

from __future__ import annotations

import time

import numpy as np
from tqdm import tqdm

from .codegen import cache
from .codegen.network import render_network
from .errors import ModelError
from .optimizers import RUNNING, Adam
from .optimizers.first_order import _FirstOrder

#: Rows per chunk when the objective or the outputs are evaluated on all rows.
CHUNK = 4096


def default_optimizer():
    return Adam(lr=1e-3, batch_size=64, max_iter=20), "a network: Adam on minibatches of 64, 20 epochs"


def check_optimizer(optimizer) -> None:
    if not isinstance(optimizer, _FirstOrder) or getattr(optimizer, "line_search", False):
        raise ModelError("a network is trained by a first-order optimizer on minibatches: GradientDescent("
                         "lr=..., line_search=False), Momentum, Nesterov, Adam or RMSProp")


def load(objective, derivation, optimizer):
    rendered = render_network(objective, derivation, optimizer)
    module, path = cache.load(rendered.source, rendered.stem)
    return module, rendered, path


def start_vector(objective, x0) -> np.ndarray:
    net = objective.model
    if x0 is None:
        return net.initial()
    if isinstance(x0, dict):
        unknown = sorted(set(x0) - {n for n, _ in net.shapes()})
        if unknown:
            raise ModelError(f"x0 names unknown parameter(s) {', '.join(unknown)}; the network has "
                             f"{', '.join(n for n, _ in net.shapes())}")
        return net.flatten(x0)
    flat = np.asarray(x0, dtype=float).ravel()
    if flat.size != net.size():
        raise ModelError(f"x0 has {flat.size} values; the network has {net.size()} parameters")
    return flat.copy()


def train(objective, derivation, dataset, optimizer, x0, progress: bool = True):
    """Train; returns (theta, history, status code, epochs, module, rendered, path)."""
    module, rendered, path = load(objective, derivation, optimizer)
    X, y = dataset["X"], dataset[objective.target.name]
    n = dataset.n_rows
    theta = start_vector(objective, x0)
    fsize, isize = optimizer.state_size(theta.size, n)
    fw, iw = np.zeros(fsize), np.zeros(max(isize, 2 + n), dtype=np.int64)
    iw[1] = (optimizer.seed % 2147483647) or 1
    iw[2:] = np.arange(n)
    batch = optimizer.batch_size or n
    epochs = optimizer.max_iter
    history = np.full(epochs + 1, np.nan)
    history[0] = module.full_loss(theta, X, y, objective.l2, CHUNK)
    if not np.isfinite(history[0]):
        return theta, history[:1], 5, 0, module, rendered, path
    done, code, chunk, bar, started = 0, RUNNING, 1, None, None
    try:
        while done < epochs:
            t0 = time.perf_counter()
            code, k = module.train(theta, fw, iw, X, y, objective.l2, optimizer.hyper(), batch,
                                   min(chunk, epochs - done), history, done)
            done += int(k)
            if code != RUNNING:
                break
            elapsed = time.perf_counter() - t0
            chunk = max(1, int(chunk * 0.2 / max(elapsed, 1e-6)))
            if started is None:
                started = time.perf_counter()
            elif progress and bar is None and time.perf_counter() - started > 1.0:
                bar = tqdm(total=epochs, initial=done, desc=type(optimizer).__name__, unit="epoch", leave=False)
            if bar is not None:
                bar.update(done - bar.n)
                bar.set_postfix(F=f"{history[done]:.6g}", refresh=False)
    finally:
        if bar is not None:
            bar.close()
    if code == RUNNING:
        code = 8
    return theta, history[: done + 1].copy(), int(code), done, module, rendered, path


def gradient_at(module, objective, dataset, theta) -> np.ndarray:
    """Gradient of the whole objective (mean over all rows, plus the penalty) at theta."""
    X, y = dataset["X"], dataset[objective.target.name]
    n = dataset.n_rows
    grad = np.zeros(theta.size)
    scale = 1.0 / n if objective.reduction == "mean" else 1.0
    rows = np.arange(n)
    module.loss_and_gradient(theta, X, y, rows, objective.l2, scale, grad, True)
    return grad


class Predictor:
    """Inference with the trained network: labels for classification, outputs for regression."""

    def __init__(self, module, objective, theta):
        self.module, self.objective, self.theta = module, objective, theta

    def outputs(self, X) -> np.ndarray:
        X = np.ascontiguousarray(np.asarray(X, dtype=float))
        net = self.objective.model
        if X.ndim != 2 or X.shape[1] != net.n_inputs:
            raise ModelError(f"predict needs X of shape (rows, {net.n_inputs}), got {X.shape}")
        return np.vstack([self.module.outputs(self.theta, X[lo:lo + CHUNK]) for lo in range(0, X.shape[0], CHUNK)])

    def __call__(self, X) -> np.ndarray:
        z = self.outputs(X)
        kind = self.objective.kind
        if kind == "cross_entropy":
            return np.argmax(z, axis=1)
        if kind == "log":
            return (z[:, 0] > 0).astype(float)
        return z[:, 0] if z.shape[1] == 1 else z



"""``Result.plot``: pictures of a solve, drawn with matplotlib (the optional extra ``symopt[plot]``).

Figures are made without pyplot (``matplotlib.figure.Figure`` on the Agg canvas), so nothing opens a
window and no global state changes: it works headless, in scripts, tests and notebooks alike. Each kind
returns the figure; given a ``path`` it is also written there as a PNG.

- ``history``: the objective per iteration on a log scale (the gap above the best value where F is not
  positive throughout), with the closed-form optimum as a reference line where the problem has one.
- ``fit`` and ``residuals``: for a model of one feature, the data and the fitted curve, or the residuals (with an
  offset, the fitted value of each row is the model plus its offset, as the loss compares them).
- ``surface``: for one or two parameters, the objective around the solution (a curve, or contours) with
  the path the iterative solver took (replayed from its start through the same compiled problem).
- ``training``: for a network trained by epochs, the loss and each layer's gradient size per epoch, with
  the vanishing and exploding bands of the diagnostics marked; with validation, the validation loss beside
  the training objective, the validation accuracy on a second axis and the epoch early stopping returned.
- ``filters``: for a network on images, the learned weights of its first layer as pictures: each filter of a
  first ``Conv2D`` (one tile per filter: grey for one input channel, colour for three, the mean over the channels
  otherwise, as the tiles say), or each unit of a first ``Dense`` after ``Flatten`` as an image of the input's
  shape; one colour scale, symmetric about 0, for all tiles.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from ..errors import ModelError

KINDS = ("history", "fit", "residuals", "surface", "training", "filters")
#: Tiles a filters plot shows at most (the first ones, in order).
MOST_FILTERS = 64
#: Grid points per axis of a surface plot.
SURFACE_POINTS = 61


def _matplotlib():
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ModelError("Result.plot needs matplotlib: pip install 'symopt[plot]' (or pip install "
                         "matplotlib)") from exc
    return Figure, FigureCanvasAgg


def plot(result, kind: str, path, problem, dataset):
    """Draw ``kind`` (one of :data:`KINDS`) for ``result``; return the matplotlib figure (written to
    ``path`` as a PNG when given). ``problem`` is the :class:`symopt.Problem` the result was solved by
    (it evaluates, and its :meth:`~symopt.Problem.related` problems replay and re-solve), ``dataset`` the
    prepared data to draw with."""
    if kind not in KINDS:
        raise ModelError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    target = None if path is None else writable_path(path)  # before drawing: a drawing may take seconds
    Figure, Canvas = _matplotlib()
    figure = Figure(figsize=(6.4, 4.4), layout="constrained")
    Canvas(figure)
    DRAW[kind](result, figure, problem, dataset)
    if target is not None:
        try:
            figure.savefig(target, format="png", dpi=100)
        except OSError as exc:  # no permission, a full disk, the folder removed meanwhile
            raise ModelError(f"plot: could not write the PNG to path={str(target)!r}: {exc.strerror or exc}") from exc
    return figure


def writable_path(path) -> Path:
    """``path`` (a str or ``os.PathLike``) as a Path to a file that can be written: its folder exists and it is
    not itself a folder; else a ModelError naming what was given and what is needed."""
    try:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError
        target = Path(path).expanduser()  # a PathLike whose path is bytes is a TypeError too
    except TypeError:
        raise ModelError(f"plot: path must be a file path (a str or pathlib.Path) for the PNG, or None; got "
                         f"{type(path).__name__} {path!r}") from None
    folder = target.parent
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise ModelError(f"plot: path={str(path)!r} is in the folder {str(folder)!r}, which {what}; create it "
                         f"first (pathlib.Path({str(folder)!r}).mkdir(parents=True)) or give another path")
    if target.is_dir():
        raise ModelError(f"plot: path={str(path)!r} is a folder; give a file name in it, such as "
                         f"{str(target / 'plot.png')!r}")
    return target


def _needs_problem(result, kind: str, dataset) -> None:
    if result.objective is None or dataset is None:
        raise ModelError(f"plot(kind={kind!r}) needs the problem and data the result was solved on (a Result "
                         "returned by symopt.solve or Problem.solve)")


def _history(result, figure, problem, dataset) -> None:
    ax = figure.add_subplot()
    h = np.asarray(result.history, dtype=float)
    reference = _closed_form_value(result, problem, dataset)
    if h.size and np.all(h[np.isfinite(h)] > 0) and (reference is None or reference > 0):
        ax.semilogy(np.arange(h.size), h, marker="." if h.size < 60 else None, label="F")
        if reference is not None:
            ax.axhline(reference, color="C3", linestyle="--", label=f"closed-form optimum {reference:.6g}")
        ax.set_ylabel("objective F")
    else:  # F takes values <= 0: show how far above the best it stood
        best = min(float(np.nanmin(h)) if h.size else 0.0, reference if reference is not None else math.inf)
        if result.objective is not None and result.objective.maximize:
            best = max(float(np.nanmax(h)), reference if reference is not None else -math.inf)
        gap = np.abs(h - best)
        ax.semilogy(np.arange(h.size), np.where(gap > 0, gap, np.nan), marker=".", label="|F - best F|")
        ax.set_ylabel(f"|F - {best:.6g}|")
    ax.set_xlabel("iteration" if not (result.optimizer and result.optimizer.stochastic) else "epoch")
    ax.set_title(f"{result.method}: {result.status}, F = {result.fun:.6g}")
    ax.legend()


def _closed_form_value(result, problem, dataset) -> float | None:
    """F at the closed-form optimum, where the problem has one and this result did not come from it."""
    if result.method != "iterative" or result.objective is None or dataset is None:
        return None
    if result.closed_form.status == "none":
        return None
    closed = problem.related(optimizer=None).solve(dataset, progress=False)
    return float(closed.fun) if closed.method != "iterative" and closed.success else None


def _one_feature(result, kind: str, dataset):
    _needs_problem(result, kind, dataset)
    objective = result.objective
    if objective.form.matrix_data or objective.kind != "squared":
        raise ModelError(f"plot(kind={kind!r}) is for squared_loss on a model of one feature; this is "
                         f"{objective.describe()}")
    # the loss's own columns (weights or standard deviations, an offset) are not features of the model
    own = {objective.target.name, objective.weight_column, objective.offset_column}
    features = [s for s in objective.data_symbols if s.name not in own]
    if len(features) != 1:
        raise ModelError(f"plot(kind={kind!r}) needs a model of one feature; this one reads "
                         f"{len(features)}: {', '.join(s.name for s in features) or 'none'}")
    name = features[0].name
    return name, dataset[name], dataset[objective.target.name]


def _offset(result, dataset):
    """The offset of each row (``squared_loss(..., offset=)``), or None: the loss compares ``y`` with the model
    plus it, so a picture of the fit does too."""
    column = result.objective.offset_column
    return None if column is None else dataset[column]


def _fit(result, figure, problem, dataset) -> None:
    name, x, y = _one_feature(result, "fit", dataset)
    offset = _offset(result, dataset)
    ax = figure.add_subplot()
    ax.plot(x, y, "o", markersize=3, label="data")
    if offset is None:
        grid = np.linspace(float(np.min(x)), float(np.max(x)), 400)
        with np.errstate(all="ignore"):
            ax.plot(grid, result.predict({name: grid}), color="C1", label="fitted model")
    else:  # the offset differs row by row: the fitted value of each row, model plus offset, beside its y
        order = np.argsort(x, kind="stable")
        with np.errstate(all="ignore"):
            fitted = result.predict({name: x}) + offset
        ax.plot(x[order], fitted[order], "x", color="C1", markersize=4, label="fitted: model + offset")
    ax.set_xlabel(name)
    ax.set_ylabel(result.objective.target.name)
    ax.set_title(f"fit: {result.objective.model.expr}{'' if offset is None else ' + offset'}")
    ax.legend()


def _residuals(result, figure, problem, dataset) -> None:
    name, x, y = _one_feature(result, "residuals", dataset)
    offset = _offset(result, dataset)
    ax = figure.add_subplot()
    residuals = y - result.predict({name: x}) - (0.0 if offset is None else offset)
    ax.axhline(0.0, color="0.5", linewidth=1)
    ax.plot(x, residuals, "o", markersize=3)
    ax.set_xlabel(name)
    ax.set_ylabel(f"{result.objective.target.name} - fitted")
    rms = float(np.sqrt(np.mean(residuals ** 2)))
    ax.set_title(f"residuals (root mean square {rms:.3g})")


def _path(result, problem, dataset) -> np.ndarray:
    """The iterates of the run, replayed from its start with a callback (the same compiled problem)."""
    if result.method != "iterative" or result.x0 is None:
        return np.asarray(result.x, dtype=float)[None, :]
    points = [np.asarray(result.x0, dtype=float)]
    # the backend that ran (compiled code and its interpreted twin may round apart near the end)
    backend = "python" if result.backend == "python" else ("numba" if result.backend == "numba" else "auto")
    replay = problem.related(optimizer=result.optimizer, backend=backend)
    replay.solve(dataset, x0=result.x0, progress=False, standardize=result.standardized,
                 callback=lambda k, f, params: points.append(result.objective.form.start(dataset, params)) and False)
    if not np.array_equal(points[-1], result.x):  # the last iteration stops the run before a callback
        points.append(np.asarray(result.x, dtype=float))
    return np.array(points)


def _surface(result, figure, problem, dataset) -> None:
    _needs_problem(result, "surface", dataset)
    p = result.x.size
    if p not in (1, 2):
        raise ModelError(f"plot(kind='surface') is for one- or two-parameter problems; this one has {p}")
    path = _path(result, problem, dataset)
    names = result.objective.form.flat_names(dataset)
    lo, hi = path.min(axis=0), path.max(axis=0)
    span = np.maximum(hi - lo, 0.25 * np.maximum(np.abs(result.x), 1.0))
    lo, hi = lo - 0.15 * span, hi + 0.15 * span

    def value(theta):
        with np.errstate(all="ignore"):
            try:
                return problem.flat_value_and_grad(dataset, np.asarray(theta, dtype=float), "numpy")[0]
            except (ArithmeticError, ValueError):
                return math.nan

    ax = figure.add_subplot()
    if p == 1:
        grid = np.linspace(lo[0], hi[0], 4 * SURFACE_POINTS)
        ax.plot(grid, [value([t]) for t in grid], label="F")
        ax.plot(path[:, 0], [value(t) for t in path], "o-", color="C3", markersize=3, label="path")
        ax.set_xlabel(names[0])
        ax.set_ylabel("objective F")
    else:
        gx, gy = np.linspace(lo[0], hi[0], SURFACE_POINTS), np.linspace(lo[1], hi[1], SURFACE_POINTS)
        F = np.array([[value([a, b]) for a in gx] for b in gy])
        finite = F[np.isfinite(F)]
        if finite.size:
            low = float(np.min(finite))
            levels = low + (float(np.percentile(finite, 95)) - low) * np.linspace(0.0, 1.0, 16) ** 2
            levels = np.unique(levels)
            if levels.size > 1:
                contours = ax.contour(gx, gy, F, levels=levels, cmap="viridis")
                figure.colorbar(contours, ax=ax, label="objective F")
        ax.plot(path[:, 0], path[:, 1], "o-", color="C3", markersize=3, label="path")
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
    ax.plot(*([result.x[0], value(result.x)] if p == 1 else [result.x[0], result.x[1]]), "*", color="k",
            markersize=12, label="solution")
    ax.set_title(f"{result.method}: {len(path) - 1} iterations to F = {result.fun:.6g}")
    ax.legend()


def _training(result, figure, problem, dataset) -> None:
    if result.objective is None or not result.objective.network:
        raise ModelError("plot(kind='training') is for networks")
    d = result.diagnostics
    if d is None or not d.grad_rms.size:
        raise ModelError("plot(kind='training') needs per-epoch diagnostics, which networks trained by epochs "
                         "record (a network trained on all rows by L-BFGS records none; use Adam, say)")
    from ..run.epochs import EXPLODING_NORM, VANISHING_RATIO

    loss_ax, grad_ax = figure.subplots(2, 1, sharex=True)
    epochs = np.arange(1, d.grad_rms.shape[0] + 1)
    h = np.asarray(result.history, dtype=float)
    loss_ax.plot(np.arange(h.size), h, marker=".", label="training loss (epochs: running)")
    loss_ax.set_ylabel("loss")
    loss_ax.set_title(f"training: {result.status}, loss {result.fun:.4g}")
    _validation(loss_ax, result.training)
    for k in range(d.grad_rms.shape[1]):
        grad_ax.semilogy(epochs, d.grad_rms[:, k], marker=".", label=f"layer {k + 1}")
    top = float(np.nanmax(d.grad_rms)) if np.any(np.isfinite(d.grad_rms)) else 1.0
    grad_ax.axhspan(1e-300, VANISHING_RATIO * top, color="C0", alpha=0.08,
                    label=f"vanishing (< {VANISHING_RATIO:g} x the largest)")
    grad_ax.axhspan(EXPLODING_NORM, max(10 * EXPLODING_NORM, 10 * top), color="C3", alpha=0.08,
                    label=f"exploding (> {EXPLODING_NORM:g})")
    positive = d.grad_rms[d.grad_rms > 0]
    if positive.size:
        bottom = min(float(np.min(positive)), VANISHING_RATIO * top) / 10
        grad_ax.set_ylim(max(bottom, 1e-300), max(10 * top, 10 * EXPLODING_NORM))
    grad_ax.set_xlabel("epoch")
    grad_ax.set_ylabel("|grad W| (rms)")
    grad_ax.legend(fontsize="small")


def _validation(loss_ax, training) -> None:
    """The validation loss beside the training objective, the validation accuracy on a second axis (where it is
    classification), and the epoch whose weights early stopping returned; nothing without validation."""
    if training is None or training.val_loss is None or not training.val_loss.size:
        return
    epochs = np.arange(1, training.val_loss.size + 1)
    loss_ax.plot(epochs, training.val_loss, marker=".", color="C1", label="validation loss (per row, no penalty)")
    if training.best_epoch is not None:
        loss_ax.axvline(training.best_epoch, color="0.5", linestyle=":",
                        label=f"epoch {training.best_epoch}: weights returned")
    handles, labels = loss_ax.get_legend_handles_labels()
    if training.val_accuracy is not None:
        acc_ax = loss_ax.twinx()
        acc_ax.plot(epochs, training.val_accuracy, marker=".", color="C2", linestyle="--",
                    label="validation accuracy")
        acc_ax.set_ylabel("validation accuracy")
        acc_ax.set_ylim(0.0, 1.02)
        more = acc_ax.get_legend_handles_labels()
        handles, labels = handles + more[0], labels + more[1]
    loss_ax.legend(handles, labels, fontsize="small")


#: What draws each kind.
def _filters(result, figure, problem, dataset) -> None:
    """The first layer's learned weights as pictures (see the module docstring)."""
    net = result.objective.model if result.objective is not None and result.objective.network else None
    if net is None or not net.images:
        raise ModelError("plot(kind='filters') is for networks on images (Network((channels, height, width), ...)): "
                         "it draws the first layer's weights as pictures")
    first = net.shapes()[0][0]  # K1 for a convolution; W<k> for a dense layer after Flatten (and Dropout)
    weights = np.asarray(result.params[first], dtype=float)
    channels = net.input_shape[0]
    if first.startswith("W"):
        weights = weights.reshape((weights.shape[0], *net.input_shape))
        what = f"{first}: each of {weights.shape[0]} units' weights as a {'x'.join(map(str, net.input_shape))} image"
    else:
        what = f"{first}: {weights.shape[0]} filters of {weights.shape[2]}x{weights.shape[3]}"
    tiles = weights[:MOST_FILTERS]
    if channels == 3:
        pictures = np.transpose(tiles, (0, 2, 3, 1))  # RGB, each tile scaled to [0, 1] about its own 0
        top = np.max(np.abs(pictures), axis=(1, 2, 3), keepdims=True)
        pictures = 0.5 + 0.5 * pictures / np.where(top > 0, top, 1.0)
        what += ", RGB"
    else:
        pictures = tiles.mean(axis=1)
        if channels > 1:
            what += f", the mean over {channels} input channels"
    limit = float(np.max(np.abs(pictures))) if channels != 3 and pictures.size else 1.0
    count = pictures.shape[0]
    cols = math.ceil(math.sqrt(count))
    rows = math.ceil(count / cols)
    axes = np.atleast_1d(figure.subplots(rows, cols, squeeze=False)).ravel()
    image = None
    for i, ax in enumerate(axes):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= count:
            ax.set_axis_off()
            continue
        if channels == 3:
            ax.imshow(pictures[i], interpolation="nearest")
        else:
            image = ax.imshow(pictures[i], cmap="RdBu_r", vmin=-limit or -1.0, vmax=limit or 1.0,
                              interpolation="nearest")
    shown = f" (the first {MOST_FILTERS} of {weights.shape[0]})" if weights.shape[0] > MOST_FILTERS else ""
    figure.suptitle(f"first layer {what}{shown}", fontsize="small")
    if image is not None:
        figure.colorbar(image, ax=list(axes), shrink=0.8, label="weight")


DRAW = {"history": _history, "fit": _fit, "residuals": _residuals, "surface": _surface, "training": _training,
        "filters": _filters}

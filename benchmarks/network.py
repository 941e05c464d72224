"""Dense network training end to end: symopt (float32 and float64) against PyTorch (float32 and float64).

Run by hand:  python benchmarks/network.py [rounds] [shapes]
    shapes: "all" (the grid, the default) or a list such as "512x256,2048x1024" (width x batch).

The grid is issue 31's: 20,000 x 64 inputs -> h tanh -> 64 relu -> 10, softmax cross-entropy, plain SGD
(lr 0.05), 5 epochs, for widths h of 128 / 512 / 2048 and minibatches of 32 / 256 / 1024.

What is timed is what a user waits for, after one warm-up (the generated module loaded from the cache, PyTorch's
first-call set-up):
- symopt: ``symopt.solve(objective, (X, y), optimizer=GradientDescent(..., epochs=5))``: reading and checking
  the data, the start's objective, 5 epochs (the diagnostics pass included), the objective and gradient on all rows
  at the end, the result;
- PyTorch: the model built and initialised, X and y made tensors, 5 epochs of shuffled minibatches
  (``zero_grad``, forward, ``backward``, ``step``), and the loss on all rows at the end (``no_grad``).

Each contender runs in its own fresh process (PyTorch's OpenMP threads keep spinning after its last step and slowed
a later run in the same process by 2x), contenders and shapes interleaved in rounds with the order rotating, both
libraries on the machine's threads (PyTorch ``set_num_threads`` to the cores; OpenBLAS's default). The ratios are
taken within a round, then the median over rounds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fair import blas_kernel, unthrottled  # noqa: E402

unthrottled()  # symopt's BLAS calls and PyTorch run without these machines' OpenBLAS throttles (children inherit)

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SYMOPT_CACHE_DIR", tempfile.mkdtemp(prefix="symopt-bench-"))

N, D, LR, EPOCHS = 20_000, 64, 0.05, 5
WIDTHS, BATCHES = (128, 512, 2048), (32, 256, 1024)
CONTENDERS = ("symopt float32", "symopt float64", "torch float32", "torch float64")


def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, D))
    y = np.argmax(X[:, :10] + 0.5 * rng.normal(size=(N, 10)), axis=1).astype(float)
    return X, y


def symopt_solve(X, y, width: int, batch: int, dtype: str, epochs: int = EPOCHS):
    import symopt

    net = symopt.Network(D, [symopt.Dense(width, "tanh"), symopt.Dense(64, "relu"), symopt.Dense(10)], seed=0,
                         dtype=dtype)
    optimizer = symopt.GradientDescent(lr=LR, line_search=False, batch_size=batch, epochs=epochs)
    result = symopt.solve(symopt.cross_entropy(net), (X, y), optimizer=optimizer, progress=False)
    return result.fun


def torch_solve(X, y, width: int, batch: int, dtype: str, epochs: int = EPOCHS):
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    kind = getattr(torch, dtype)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(D, width), torch.nn.Tanh(), torch.nn.Linear(width, 64),
                                torch.nn.ReLU(), torch.nn.Linear(64, 10)).to(kind)
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    Xt, yt = torch.tensor(X, dtype=kind), torch.tensor(y).long()
    loss_fn = torch.nn.CrossEntropyLoss()
    for _ in range(epochs):
        perm = torch.randperm(N)
        for lo in range(0, N, batch):
            idx = perm[lo:lo + batch]
            opt.zero_grad()
            loss_fn(model(Xt[idx]), yt[idx]).backward()
            opt.step()
    with torch.no_grad():
        return float(loss_fn(model(Xt), yt))


def one(name: str, width: int, batch: int) -> None:
    """Child process: one warm-up (one epoch), then the timed 5-epoch run; prints seconds and the final loss."""
    X, y = data()
    library, dtype = name.split()
    run = symopt_solve if library == "symopt" else torch_solve
    try:
        run(X, y, width, batch, dtype, epochs=1)
    except ImportError:
        print(json.dumps({"seconds": None, "loss": None}))
        return
    start = time.perf_counter()
    loss = run(X, y, width, batch, dtype)
    print(json.dumps({"seconds": time.perf_counter() - start, "loss": loss}))


def shapes_from(text: str):
    if text == "all":
        return [(w, b) for w in WIDTHS for b in BATCHES]
    return [tuple(int(v) for v in part.split("x")) for part in text.split(",")]


def rounds(count: int, shapes) -> None:
    X, y = data()
    for width, batch in shapes:  # compile once into SYMOPT_CACHE_DIR, which the children share
        for dtype in ("float32", "float64"):
            symopt_solve(X, y, width, batch, dtype, epochs=1)
    print(blas_kernel())
    print(f"{N:,} x {D} -> h tanh -> 64 relu -> 10, SGD lr {LR}, {EPOCHS} epochs; seconds per solve, each in its "
          f"own process, {count} round(s)")
    times = {(s, name): [] for s in shapes for name in CONTENDERS}
    losses = {}
    for r in range(count):
        for i, shape in enumerate(shapes):
            k = (r + i) % len(CONTENDERS)
            for name in CONTENDERS[k:] + CONTENDERS[:k]:
                out = subprocess.run([sys.executable, __file__, "--one", name, str(shape[0]), str(shape[1])],
                                     capture_output=True, text=True, env=dict(os.environ))
                if out.returncode:
                    raise SystemExit(f"{name} at {shape} failed:\n{out.stderr[-3000:]}")
                row = json.loads(out.stdout.strip().splitlines()[-1])
                times[shape, name].append(row["seconds"])
                losses[shape, name] = row["loss"]
        print(f"  round {r + 1} done", flush=True)
    head = "   h  batch " + "".join(f"{name:>16}" for name in CONTENDERS) + "   f32/torch32  f64/torch64"
    print(head)
    for shape in shapes:
        cells = "".join(f"{np.median(times[shape, n]):16.3f}" if times[shape, n][0] is not None else f"{'n/a':>16}"
                        for n in CONTENDERS)
        ratio = {}
        for ours, theirs in (("symopt float32", "torch float32"), ("symopt float64", "torch float64")):
            if times[shape, theirs][0] is None:
                ratio[ours] = "n/a"
            else:
                ratio[ours] = f"{np.median(np.array(times[shape, ours]) / np.array(times[shape, theirs])):.2f}x"
        print(f"{shape[0]:5d} {shape[1]:6d} {cells}   {ratio['symopt float32']:>11}  {ratio['symopt float64']:>11}")
    print("final loss on all rows (symopt float32 / torch float32):",
          ", ".join(f"{w}x{b}: {losses[(w, b), 'symopt float32']:.4f} / {losses[(w, b), 'torch float32'] or 0:.4f}"
                    for w, b in shapes))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        one(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        rounds(int(sys.argv[1]) if len(sys.argv) > 1 else 3, shapes_from(sys.argv[2] if len(sys.argv) > 2 else "all"))

"""A LeNet-5-like network on 28 x 28 inputs: one training step (forward, backward, SGD update), symopt's generated
code against PyTorch, float32 and float64.

Run by hand:  python benchmarks/lenet.py [rounds] [batches]      (batches: "64,256", the default)

The network (issue 31): 1 x 28 x 28 -> Conv2D(6, 5, padding "same", relu) -> MaxPool2D(2) -> Conv2D(16, 5, relu)
-> MaxPool2D(2) -> Flatten -> Dense(120, relu) -> Dense(84, relu) -> Dense(10), softmax cross-entropy, plain SGD
(lr 0.01), on 6,400 images (random strokes: what is timed does not depend on the pixels).

Time per step: the median of 3 epochs after a warm-up epoch, divided by the steps in an epoch. symopt's epoch is
the generated ``train_epoch`` (the steps alone, as PyTorch's loop; a solve's diagnostics pass comes after it), of the module and on
the threads a solve would choose (``symopt.run.network_threads``: the parallel twin at batch 256 here); PyTorch's is the usual
loop over shuffled minibatches (``zero_grad``, forward, ``backward``, ``step``) with ``set_num_threads`` at the
machine's cores. Each contender runs in its own fresh process, interleaved in rounds with the order rotating; ratios
are taken within a round. The goals (issue 31, on this 2-core machine): symopt float32 / PyTorch float32 <= 1.25
at batch 64 and <= 1.0 at batch 256.
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

unthrottled()

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SYMOPT_CACHE_DIR", tempfile.mkdtemp(prefix="symopt-bench-"))

N, LR, EPOCHS = 6_400, 0.01, 3
CONTENDERS = ("symopt float32", "torch float32", "symopt float64", "torch float64")


def data():
    rng = np.random.default_rng(0)
    X = np.clip(rng.normal(0.1, 0.3, size=(N, 1, 28, 28)), 0.0, 1.0)
    y = rng.integers(0, 10, N).astype(float)
    return X, y


def median_epoch(epoch) -> float:
    epoch()
    times = []
    for _ in range(EPOCHS):
        start = time.perf_counter()
        epoch()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def lenet(symopt, dtype: str):
    S = symopt
    return S.Network((1, 28, 28), [
        S.Conv2D(6, 5, padding="same", activation="relu"), S.MaxPool2D(2),
        S.Conv2D(16, 5, activation="relu"), S.MaxPool2D(2), S.Flatten(),
        S.Dense(120, "relu"), S.Dense(84, "relu"), S.Dense(10)], seed=0, dtype=dtype)


def symopt_step(X, y, batch: int, dtype: str) -> float:
    import symopt
    from symopt.model.data import prepare
    from symopt.run import epochs as train
    from symopt.run import network_threads

    net = lenet(symopt, dtype)
    objective = symopt.cross_entropy(net)
    opt = symopt.GradientDescent(lr=LR, line_search=False, batch_size=batch, epochs=1)
    # The module and threads a solve would use (the parallel twin for large convolutions, on 2+ threads).
    parallel = network_threads.parallel_wanted(net, batch)
    _, module, _ = train.load(objective, symopt.derive(objective), opt, parallel=parallel)
    dataset = prepare(objective, (X, y))
    Xd, yd = dataset["X"], dataset[objective.target.name]
    kind = np.dtype(dtype)
    theta, stats = net.initial().astype(kind), net.initial_buffers().astype(kind)
    fw, iw = np.zeros(1, kind), np.zeros(3 + N, dtype=np.int64)
    iw[1], iw[2], iw[3:] = 1, 2, np.arange(N)
    hyper = opt.hyper()
    with network_threads.threads_of(parallel):
        seconds = median_epoch(lambda: module.train_epoch(theta, stats, fw, iw, Xd, yd, 0.0, hyper, batch))
    return seconds / -(-N // batch)


def torch_step(X, y, batch: int, dtype: str) -> float:
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    kind = getattr(torch, dtype)
    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84),
                          nn.ReLU(), nn.Linear(84, 10)).to(kind)
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    Xt, yt = torch.tensor(X, dtype=kind), torch.tensor(y).long()
    loss_fn = nn.CrossEntropyLoss()

    def epoch():
        perm = torch.randperm(N)
        for lo in range(0, N, batch):
            idx = perm[lo:lo + batch]
            opt.zero_grad()
            loss_fn(model(Xt[idx]), yt[idx]).backward()
            opt.step()

    return median_epoch(epoch) / -(-N // batch)


def one(name: str, batch: int) -> None:
    X, y = data()
    library, dtype = name.split()
    try:
        seconds = (symopt_step if library == "symopt" else torch_step)(X, y, batch, dtype)
    except ImportError:
        seconds = None
    print(json.dumps({"seconds": seconds}))


def rounds(count: int, batches) -> None:
    # The first child of each precision compiles into SYMOPT_CACHE_DIR (before its timing starts); the rest load.
    print(blas_kernel())
    print(f"LeNet-5-like on {N:,} x 1 x 28 x 28, SGD; ms per step (forward, backward, update), each contender in its "
          f"own process, {count} round(s)")
    times = {(b, name): [] for b in batches for name in CONTENDERS}
    for r in range(count):
        for i, batch in enumerate(batches):
            k = (r + i) % len(CONTENDERS)
            for name in CONTENDERS[k:] + CONTENDERS[:k]:
                out = subprocess.run([sys.executable, __file__, "--one", name, str(batch)], capture_output=True,
                                     text=True, env=dict(os.environ))
                if out.returncode:
                    raise SystemExit(f"{name} at batch {batch} failed:\n{out.stderr[-3000:]}")
                times[batch, name].append(json.loads(out.stdout.strip().splitlines()[-1])["seconds"])
        print(f"  round {r + 1} done", flush=True)
    print("  batch " + "".join(f"{name:>16}" for name in CONTENDERS) + "   f32/torch32  f64/torch64")
    for batch in batches:
        cells = "".join(f"{np.median(times[batch, n]) * 1e3:16.3f}" if times[batch, n][0] is not None
                        else f"{'n/a':>16}" for n in CONTENDERS)
        ratios = []
        for ours, theirs in (("symopt float32", "torch float32"), ("symopt float64", "torch float64")):
            if times[batch, theirs][0] is None:
                ratios.append("n/a")
            else:
                ratios.append(f"{np.median(np.array(times[batch, ours]) / np.array(times[batch, theirs])):.2f}x")
        print(f"  {batch:5d} {cells}   {ratios[0]:>11}  {ratios[1]:>11}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        one(sys.argv[2], int(sys.argv[3]))
    else:
        rounds(int(sys.argv[1]) if len(sys.argv) > 1 else 3,
               [int(b) for b in (sys.argv[2] if len(sys.argv) > 2 else "64,256").split(",")])

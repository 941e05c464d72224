"""Network training step: generated code vs PyTorch (CPU) vs hand-written NumPy backprop.

Run by hand:  python benchmarks/network.py [rounds]
20,000 x 64 inputs -> 128 tanh -> 64 relu -> 10, softmax cross-entropy, minibatches of
256, plain SGD (lr 0.05). Time per step (forward, backward, update) from the median of
epochs; the generated epoch's extra work (the objective on all rows and the diagnostic
pass) is timed on its own and subtracted.

Each contender runs in its own fresh process, in rounds (the order rotating), and the
ratios are taken within a round. Two reasons, both measured on the 2-core machine:
PyTorch's OpenMP threads keep spinning after its last step and slowed a later symopt
or NumPy run in the same process by 2x; and the machine itself has slow spells of
minutes in which every two-thread BLAS run takes about twice as long, so only
contenders measured side by side compare fairly.
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

unthrottled()  # NumPy's backprop and PyTorch run without these machines' OpenBLAS throttles (children inherit)

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SYMOPT_CACHE_DIR", tempfile.mkdtemp(prefix="symopt-bench-"))

import symopt  # noqa: E402
from symopt.run import epochs as train  # noqa: E402

N, D, BATCH, LR, EPOCHS = 20_000, 64, 256, 0.05, 5


def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, D))
    y = np.argmax(X[:, :10] + 0.5 * rng.normal(size=(N, 10)), axis=1).astype(float)
    return X, y


def median(values):
    return float(np.median(values))


def per_step(epoch) -> float:
    """Median seconds per step over EPOCHS timed epochs, after one warm-up epoch."""
    epoch()
    times = []
    for _ in range(EPOCHS):
        start = time.perf_counter()
        epoch()
        times.append(time.perf_counter() - start)
    return median(times) / -(-N // BATCH)


def symopt_step(X, y):
    net = symopt.Network(D, [symopt.Dense(128, "tanh"), symopt.Dense(64, "relu"), symopt.Dense(10)], seed=0)
    objective = symopt.cross_entropy(net)
    opt = symopt.GradientDescent(lr=LR, line_search=False, batch_size=BATCH, max_iter=1)
    _, module, _ = train.load(objective, symopt.derive(objective), opt)
    theta, stats = net.initial(), net.initial_buffers()
    fw, iw = np.zeros(1), np.zeros(3 + N, dtype=np.int64)
    iw[1], iw[2], iw[3:] = 1, 2, np.arange(N)
    diag, rows = np.zeros((3, 5)), np.arange(train.DIAGNOSTIC_ROWS)
    hyper = opt.hyper()
    steps = -(-N // BATCH)
    module.train_epoch(theta, stats, fw, iw, X, y, 0.0, hyper, BATCH, diag, rows)
    epoch, extra = [], []
    for _ in range(EPOCHS):
        t = time.perf_counter()
        module.train_epoch(theta, stats, fw, iw, X, y, 0.0, hyper, BATCH, diag, rows)
        epoch.append(time.perf_counter() - t)
        t = time.perf_counter()
        module.full_loss(theta, stats, X, y, 0.0, 4096)
        module.loss_and_gradient(theta, stats, X, y, rows, 0.0, 1.0 / rows.size, np.empty(theta.size), True,
                                 True, False, False, iw[2:3], diag, True)
        extra.append(time.perf_counter() - t)
    return (median(epoch) - median(extra)) / steps


def numpy_step(X, y):
    rng = np.random.default_rng(0)
    W1, b1 = rng.normal(0, np.sqrt(2 / D), (128, D)), np.zeros(128)
    W2, b2 = rng.normal(0, np.sqrt(2 / 128), (64, 128)), np.zeros(64)
    W3, b3 = rng.normal(0, np.sqrt(2 / 64), (10, 64)), np.zeros(10)
    labels = y.astype(int)
    order = np.arange(N)

    def epoch():
        rng.shuffle(order)
        for lo in range(0, N, BATCH):
            idx = order[lo:lo + BATCH]
            a0 = X[idx]
            a1 = np.tanh(a0 @ W1.T + b1)
            z2 = a1 @ W2.T + b2
            a2 = np.maximum(z2, 0.0)
            z3 = a2 @ W3.T + b3
            z3 -= z3.max(axis=1, keepdims=True)
            p = np.exp(z3)
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(idx.size), labels[idx]] -= 1.0
            g3 = p / idx.size
            g2 = (g3 @ W3) * (z2 > 0)
            g1 = (g2 @ W2) * (1.0 - a1 * a1)
            for W, b, g, a in ((W3, b3, g3, a2), (W2, b2, g2, a1), (W1, b1, g1, a0)):
                W -= LR * (g.T @ a)
                b -= LR * g.sum(axis=0)

    return per_step(epoch)


def torch_step(X, y, dtype_name):
    import torch

    dtype = getattr(torch, dtype_name)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(D, 128), torch.nn.Tanh(), torch.nn.Linear(128, 64),
                                torch.nn.ReLU(), torch.nn.Linear(64, 10)).to(dtype)
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    Xt, yt = torch.tensor(X, dtype=dtype), torch.tensor(y).long()
    loss_fn = torch.nn.CrossEntropyLoss()

    def epoch():
        perm = torch.randperm(N)
        for lo in range(0, N, BATCH):
            idx = perm[lo:lo + BATCH]
            opt.zero_grad()
            loss_fn(model(Xt[idx]), yt[idx]).backward()
            opt.step()

    return per_step(epoch)


CONTENDERS = {
    "symopt": symopt_step,
    "numpy": numpy_step,
    "torch float32": lambda X, y: torch_step(X, y, "float32"),
    "torch float64": lambda X, y: torch_step(X, y, "float64"),
}


def one(name: str) -> None:
    """Child process: time one contender, print seconds per step as JSON."""
    X, y = data()
    try:
        seconds = CONTENDERS[name](X, y)
    except ImportError:
        seconds = None
    print(json.dumps({"name": name, "seconds": seconds}))


def rounds(count: int) -> None:
    X, y = data()
    symopt_step(X, y)  # compile once into SYMOPT_CACHE_DIR, which the children share
    names = list(CONTENDERS)
    results = {name: [] for name in names}
    print(blas_kernel())
    print(f"{N:,} x {D} -> 128 tanh -> 64 relu -> 10, batch {BATCH}, SGD; ms per step, each in its own process:")
    print("  round  " + "  ".join(f"{name:>13}" for name in names) + "   symopt/NumPy  symopt/torch32")
    for r in range(count):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            out = subprocess.run([sys.executable, __file__, "--one", name], capture_output=True, text=True,
                                 check=True, env=dict(os.environ))
            results[name].append(json.loads(out.stdout.strip().splitlines()[-1])["seconds"])
        row = {name: results[name][-1] for name in names}
        if row["torch float32"] is None:
            ratio_torch = "n/a"
        else:
            ratio_torch = f"{row['symopt'] / row['torch float32']:.2f}"
        cells = "  ".join(f"{v * 1e3:13.3f}" if v is not None else f"{'n/a':>13}" for v in row.values())
        print(f"  {r + 1:5d}  {cells}   {row['symopt'] / row['numpy']:12.2f}  {ratio_torch:>14}", flush=True)
    ours = np.array(results["symopt"])
    print(f"  median symopt / NumPy: {np.median(ours / np.array(results['numpy'])):.2f} (target <= 1.2)")
    if results["torch float32"][0] is not None:
        t32 = np.array(results["torch float32"])
        print(f"  median symopt / PyTorch float32: {np.median(ours / t32):.2f} (target <= 1); "
              f"rounds at or below 1: {int(np.sum(ours <= t32))} of {count}")
    else:
        print("  PyTorch: not installed (pip install torch==2.13.0)")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        one(sys.argv[2])
    else:
        rounds(int(sys.argv[1]) if len(sys.argv) > 1 else 5)

"""Convolutional training step: generated code vs PyTorch (CPU, float32 and float64).

Run by hand:  python benchmarks/network_conv.py [rounds]
Two networks: LeNet-5-like (1 x 28 x 28 -> Conv2D(6, 5) -> MaxPool2D(2) -> Conv2D(16, 5) -> MaxPool2D(2) ->
Flatten -> Dense(120) -> Dense(84) -> Dense(10), relu) and the digits CNN of the tests (1 x 8 x 8 ->
Conv2D(16, 3, "same") -> MaxPool2D(2) -> Conv2D(32, 3, "same") -> MaxPool2D(2) -> Flatten -> Dense(64) ->
Dense(10)); softmax cross-entropy, plain SGD, batches of 64 and 256. Time per step (forward, backward,
update): the best of 5 runs of 20 steps. symopt's step is the generated loss_and_gradient on the batch and the
update; PyTorch's is zero_grad, forward, backward and SGD's step, with torch.set_num_threads(2).

Each contender runs in its own fresh process (PyTorch's OpenMP threads keep spinning after its last step), in
rounds, and the ratios are taken within a round; symopt runs with BLAS limited to one thread and to two
(OpenBLAS threads spinning beside another process slowed a step up to 8 times while this was written).
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
from fair import unthrottled  # noqa: E402

unthrottled()

ROOT = Path(__file__).resolve().parent.parent
STEPS, REPEATS = 20, 5
NETS = {"lenet": (1, 28, 28), "digits": (1, 8, 8)}


def _symopt_step(which: str, batch: int) -> float:
    import numpy as np

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("SYMOPT_CACHE_DIR", tempfile.mkdtemp(prefix="symopt-bench-"))
    import symopt
    from symopt.run import epochs as train

    if which == "lenet":
        layers = [symopt.Conv2D(6, 5), symopt.MaxPool2D(2), symopt.Conv2D(16, 5), symopt.MaxPool2D(2),
                  symopt.Flatten(), symopt.Dense(120, "relu"), symopt.Dense(84, "relu"), symopt.Dense(10)]
    else:
        layers = [symopt.Conv2D(16, 3, padding="same"), symopt.MaxPool2D(2), symopt.Conv2D(32, 3, padding="same"),
                  symopt.MaxPool2D(2), symopt.Flatten(), symopt.Dense(64, "relu"), symopt.Dense(10)]
    net = symopt.Network(NETS[which], layers)
    objective = symopt.cross_entropy(net)
    _, module, _ = train.load(objective, symopt.derive(objective), symopt.GradientDescent(lr=0.01, line_search=False))
    rng = np.random.default_rng(0)
    n = batch * STEPS
    X, y = rng.random((n, int(np.prod(NETS[which])))), rng.integers(0, 10, n).astype(float)
    theta, stats, grad = net.initial(), net.initial_buffers(), np.empty(net.size())
    diag, state = np.zeros((len(layers), 5)), np.ones(1, dtype=np.int64)

    def steps():
        for k in range(STEPS):
            module.loss_and_gradient(theta, stats, X, y, np.arange(k * batch, (k + 1) * batch), 0.0, 1.0 / batch,
                                     grad, True, True, True, True, state, diag, False)
            theta[:] -= 0.01 * grad

    return _best(steps)


def _torch_step(which: str, batch: int, bits: int) -> float:
    import torch

    torch.set_num_threads(2)
    nn, dtype = torch.nn, {32: torch.float32, 64: torch.float64}[bits]
    if which == "lenet":
        model = nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                              nn.MaxPool2d(2), nn.Flatten(), nn.Linear(256, 120), nn.ReLU(), nn.Linear(120, 84),
                              nn.ReLU(), nn.Linear(84, 10))
    else:
        model = nn.Sequential(nn.Conv2d(1, 16, 3, padding="same"), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Conv2d(16, 32, 3, padding="same"), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                              nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
    model = model.to(dtype)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    n = batch * STEPS
    X, y = torch.rand((n, *NETS[which]), dtype=dtype), torch.randint(0, 10, (n,))

    def steps():
        for k in range(STEPS):
            opt.zero_grad()
            nn.functional.cross_entropy(model(X[k * batch:(k + 1) * batch]), y[k * batch:(k + 1) * batch]).backward()
            opt.step()

    return _best(steps)


def _best(steps) -> float:
    steps()  # compile / warm up
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        steps()
        times.append((time.perf_counter() - start) / STEPS)
    return min(times)


def _run(contender: str, which: str, batch: int) -> float:
    """Seconds per step of ``contender`` in a fresh process."""
    env = dict(os.environ)
    if contender.startswith("symopt"):
        threads = contender[-1]
        env.update(OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads)
    out = subprocess.run([sys.executable, __file__, "--one", contender, which, str(batch)], env=env,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(rounds: int) -> None:
    contenders = ("symopt-blas1", "symopt-blas2", "torch-float32", "torch-float64")
    for which in NETS:
        for batch in (64, 256):
            for r in range(rounds):
                times = {c: _run(c, which, batch) for c in contenders}
                ratios = ", ".join(f"{c} {times[c] / times['torch-float32']:.2f}x" for c in contenders[:2])
                print(f"{which} batch {batch} round {r + 1}: " + ", ".join(f"{c} {t * 1e3:.2f} ms" for c, t in
                                                                        times.items()) + f"; vs torch float32: {ratios}",
                      flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        contender, which, batch = sys.argv[2], sys.argv[3], int(sys.argv[4])
        seconds = (_symopt_step(which, batch) if contender.startswith("symopt") else
                   _torch_step(which, batch, int(contender[-2:])))
        print(json.dumps(seconds))
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 2)

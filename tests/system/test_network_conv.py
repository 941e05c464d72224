"""Convolutional networks: the generated forward and backward passes of Conv2D (valid, "same" with an even
kernel, stride 2 with zero padding, batch norm over channels), MaxPool2D, AvgPool2D, Flatten and Dropout
against PyTorch autograd (float64, symopt's initial parameters moved into torch modules by name, which
proves the layout) and central differences; the shapes and errors of the layer specs. Each network compiles
once per module (module-scoped problems). PyTorch tests skip cleanly when it is not installed."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import symopt
from torch_reference import torch_loss

#: Networks by name: input shape, layers, loss. Together they exercise every layer type, alone with a dense
#: head and in one mixed stack.
NETWORKS = {
    # convolutions alone: "same" with an even kernel, stride 2 with zero padding, valid; three activations
    "convolutions": ((2, 7, 8), lambda: [symopt.Conv2D(3, (2, 4), padding="same", activation="tanh"),
                                         symopt.Conv2D(4, 3, stride=2, padding=1, activation="softplus"),
                                         symopt.Conv2D(2, 3), symopt.Flatten(), symopt.Dense(1)], "log"),
    # pooling alone: the only nonlinearity after a 1 x 1 convolution that is linear
    "pooling": ((3, 6, 6), lambda: [symopt.Conv2D(2, 1, activation="identity"), symopt.MaxPool2D(2),
                                    symopt.AvgPool2D(2, stride=1), symopt.Flatten(), symopt.Dense(2)], "squared"),
    # all of them: batch norm over channels, both pools, dropout (off in the gradient pass), flatten, dense
    "mixed": ((2, 9, 8), lambda: [symopt.Conv2D(3, 3, padding="same", batch_norm=True), symopt.MaxPool2D(2),
                                  symopt.Conv2D(4, (2, 3), activation="tanh"), symopt.AvgPool2D(2, stride=1),
                                  symopt.Flatten(), symopt.Dropout(0.3), symopt.Dense(5, "relu", batch_norm=True),
                                  symopt.Dense(3)], "cross_entropy"),
}
ROWS = 13
#: The digits CNN's Adam settings. Measured with seeds 0 to 3 over 40 fixed epochs: test accuracy 99.56%, 99.56%,
#: 99.56%, 98.89% (16 and 32 filters, Dense(64), dropout 0.25: 98.67% to 99.33% over seeds 0 to 4). With early
#: stopping (a tenth of the training rows held out, patience 5, at most 60 epochs), seed 0: stopped after epoch 40,
#: the weights of epoch 35 restored, 99.11%.
DIGITS_LR, DIGITS_EPOCHS, DIGITS_SEED, DIGITS_PATIENCE = 1e-3, 60, 0, 5
L2 = 0.01


def _case(name):
    shape, layers, kind = NETWORKS[name]
    net = symopt.Network(shape, layers(), init="glorot", seed=3)
    rng = np.random.default_rng(len(name))
    X = rng.normal(size=(ROWS, *shape))
    if kind == "cross_entropy":
        y, objective = rng.integers(0, net.n_outputs, ROWS).astype(float), symopt.cross_entropy(net, l2=L2)
    elif kind == "log":
        y, objective = (rng.random(ROWS) > 0.5).astype(float), symopt.log_loss(net, l2=L2)
    else:
        y, objective = rng.normal(size=(ROWS, net.n_outputs)), symopt.squared_loss(net, l2=L2)
    problem = symopt.Problem(objective, symopt.Adam(epochs=1))
    start = problem.initial_params((X, y))
    params = {k: v + rng.normal(0.0, 0.1, v.shape) for k, v in start.items()}
    return net, kind, problem, (X, y), start, params


@pytest.fixture(scope="module", params=list(NETWORKS))
def case(request):
    net, kind, problem, data, start, params = _case(request.param)
    value, grad = problem.value_and_grad(data, params)
    return dict(net=net, kind=kind, problem=problem, data=data, start=start, params=params, value=value, grad=grad)


def _torch_value_and_grad(torch, net, kind, params, data):
    """PyTorch's loss and gradients by name: the network built of torch.nn modules whose weights are symopt's
    arrays assigned by name (a layout that differed would not fit them)."""
    nn, F = torch.nn, torch.nn.functional
    acts = {"relu": F.relu, "tanh": torch.tanh, "softplus": F.softplus, "identity": lambda z: z}
    tensors, steps, shape = {}, [], net.input_shapes()[0]

    def take(name, target):
        value = torch.tensor(params[name], dtype=torch.float64)
        assert tuple(value.shape) == tuple(target.shape), (name, value.shape, target.shape)
        tensors[name] = nn.Parameter(value)
        return tensors[name]

    for k, (layer, act, out) in enumerate(zip(net.layers, net.activations, net.layer_shapes), start=1):
        if isinstance(layer, symopt.Conv2D):
            pad = layer.padding if isinstance(layer.padding, (int, str)) else 0
            module = nn.Conv2d(shape[0], layer.filters, layer.kernel_size, stride=layer.stride, padding=pad,
                               dtype=torch.float64)
            module.weight, module.bias = take(f"K{k}", module.weight), take(f"b{k}", module.bias)
            steps.append(module)
        elif isinstance(layer, symopt.Dense):
            module = nn.Linear(shape[0], layer.width, dtype=torch.float64)
            module.weight, module.bias = take(f"W{k}", module.weight), take(f"b{k}", module.bias)
            steps.append(module)
        elif isinstance(layer, symopt.MaxPool2D):
            steps.append(nn.MaxPool2d(layer.pool_size, layer.stride))
        elif isinstance(layer, symopt.AvgPool2D):
            steps.append(nn.AvgPool2d(layer.pool_size, layer.stride))
        elif isinstance(layer, symopt.Flatten):
            steps.append(nn.Flatten())
        else:  # Dropout: off in the gradient pass symopt's value_and_grad makes
            steps.append(nn.Identity())
        if layer.batch_norm:
            norm = (nn.BatchNorm2d if len(out) == 3 else nn.BatchNorm1d)(out[0], dtype=torch.float64)
            norm.weight, norm.bias = take(f"gamma{k}", norm.weight), take(f"beta{k}", norm.bias)
            steps.append(norm)
        if act is not None:
            steps.append(acts[act.name])
        shape = out
    X, y = data
    a = torch.tensor(X)
    for step in steps:
        a = step(a)
    penalty = sum((tensors[n] ** 2).sum() for n in tensors if n[0] in "KW")
    total = torch_loss(kind, a, y) + L2 * penalty
    total.backward()
    return float(total.detach()), {n: t.grad.numpy() for n, t in tensors.items()}


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")  # PyTorch's own note
def test_gradients_match_pytorch_with_its_modules_holding_the_weights_by_name(case):
    torch = pytest.importorskip("torch")
    value, grads = _torch_value_and_grad(torch, case["net"], case["kind"], case["params"], case["data"])
    assert set(grads) == set(case["grad"]) == {name for name, _ in case["net"].shapes()}
    assert abs(case["value"] - value) <= 1e-12 * abs(value)
    ours = np.concatenate([case["grad"][n].ravel() for n in grads])
    theirs = np.concatenate([grads[n].ravel() for n in grads])
    assert np.max(np.abs(ours - theirs)) <= 1e-10 * np.max(np.abs(theirs))


def test_gradients_match_central_differences(case):
    problem, data, params, net = case["problem"], case["data"], case["params"], case["net"]
    flat = net.flatten(params)
    grad = net.flatten(case["grad"])
    rng = np.random.default_rng(5)
    h = 1e-5
    for direction in rng.normal(size=(4, flat.size)):
        up = problem.value_and_grad(data, flat + h * direction)[0]
        down = problem.value_and_grad(data, flat - h * direction)[0]
        slope = (up - down) / (2 * h)
        assert abs(slope - grad @ direction) <= 1e-6 * max(1.0, abs(slope))


def test_initial_params_follow_the_fan_in_rule_and_the_seed(case):
    net, start = case["net"], case["start"]
    again = case["problem"].initial_params(case["data"])
    assert all(np.array_equal(start[n], again[n]) for n in start)
    for name, shape in net.shapes():
        if name[0] in "KW":  # glorot: std sqrt(2 / (fan_in + fan_out)), fan = channels x kernel area
            field = int(np.prod(shape[2:]))
            assert np.std(start[name]) < 3 * np.sqrt(2.0 / (shape[0] * field + shape[1] * field))
        elif name.startswith("gamma"):
            assert np.all(start[name] == 1.0)
        else:
            assert np.all(start[name] == 0.0)


def test_parameter_names_count_every_layer_of_the_stack():
    net = symopt.Network((1, 8, 8), [symopt.Conv2D(4, 3, padding="same", batch_norm=True), symopt.MaxPool2D(2),
                                     symopt.Dropout(0.2), symopt.Conv2D(6, 2, stride=2), symopt.Flatten(),
                                     symopt.Dense(5), symopt.Dense(2)])
    assert net.shapes() == [("K1", (4, 1, 3, 3)), ("b1", (4,)), ("gamma1", (4,)), ("beta1", (4,)),
                            ("K4", (6, 4, 2, 2)), ("b4", (6,)), ("W6", (5, 24)), ("b6", (5,)), ("W7", (2, 5)),
                            ("b7", (2,))]
    assert net.buffer_shapes() == [("running_mean1", (4,)), ("running_var1", (4,))]
    assert net.layer_shapes == ((4, 8, 8), (4, 4, 4), (4, 4, 4), (6, 2, 2), (24,), (5,), (2,))
    assert [a.name if a else None for a in net.activations] == ["relu", None, None, "relu", None, "tanh", "identity"]
    dense = symopt.Network(3, [symopt.Dense(4), symopt.Dense(1)])
    assert [n for n, _ in dense.shapes()] == ["W1", "b1", "W2", "b2"]


def test_initial_params_of_a_dense_network_are_its_seeded_weights_by_name():
    net = symopt.Network(3, [symopt.Dense(4, batch_norm=True), symopt.Dense(2)], init="he_uniform", seed=7)
    X, y = np.zeros((5, 3)), np.zeros((5, 2))
    start = symopt.Problem(symopt.squared_loss(net)).initial_params((X, y))
    assert list(start) == ["W1", "b1", "gamma1", "beta1", "W2", "b2"]
    assert np.array_equal(net.flatten(start), net.initial())
    other = symopt.Network(3, [symopt.Dense(4, batch_norm=True), symopt.Dense(2)], init="he_uniform", seed=8)
    assert not np.array_equal(symopt.Problem(symopt.squared_loss(other)).initial_params((X, y))["W1"], start["W1"])
    assert np.all(np.abs(start["W1"]) <= np.sqrt(6.0 / 3))  # he_uniform's limit at fan_in 3


@pytest.mark.parametrize("build, message", [
    (lambda: symopt.Network((1, 8, 8), [symopt.Dense(3)]), r"layer 1 \(Dense\(3\)\) gets images .* add Flatten\(\)"),
    (lambda: symopt.Network((1, 4, 4), [symopt.Conv2D(2, 5), symopt.Flatten(), symopt.Dense(1)]),
     r"layer 1 \(Conv2D\(2, 5\)\): its height window of 5 is larger than its input's height of 4"),
    (lambda: symopt.Network((1, 4, 4), [symopt.MaxPool2D(2), symopt.MaxPool2D(2), symopt.MaxPool2D(2),
                                        symopt.Flatten(), symopt.Dense(1)]),
     r"layer 3 \(MaxPool2D\(2\)\): its height window of 2 is larger than its input's height of 1"),
    (lambda: symopt.Network(16, [symopt.Conv2D(2, 3), symopt.Flatten(), symopt.Dense(1)]),
     r"needs images .* input_shape=\(channels, height, width\)"),
    (lambda: symopt.Network((1, 4, 4), [symopt.Conv2D(2, 3)]), r"last layer must be a Dense .* add Flatten\(\)"),
    (lambda: symopt.Network((1, 4, 4), [symopt.Flatten(), symopt.Flatten(), symopt.Dense(1)]),
     r"layer 2 \(Flatten\(\)\) gets flat features already"),
    (lambda: symopt.Network((1, 0, 4), [symopt.Flatten(), symopt.Dense(1)]), r"input_shape must be"),
    (lambda: symopt.Conv2D(2, 3, stride=2, padding="same"), r"padding='same' needs stride 1"),
    (lambda: symopt.Conv2D(2, 3, padding="full"), r"padding must be 'valid', 'same' or a number"),
    (lambda: symopt.Conv2D(2, 3, padding=-1), r"padding must be"),
    (lambda: symopt.Conv2D(0, 3), r"filters must be a positive integer"),
    (lambda: symopt.Conv2D(2, (3, 3, 3)), r"kernel_size must be an integer or a pair"),
    (lambda: symopt.Conv2D(2, 3, stride=0), r"stride must be a positive integer"),
    (lambda: symopt.MaxPool2D(0), r"MaxPool2D: pool_size must be a positive integer"),
    (lambda: symopt.Dropout(1.0), r"Dropout: p must be in \(0, 1\)"),
])
def test_bad_layer_specs_are_refused_with_the_fix(build, message):
    with pytest.raises(symopt.ModelError, match=message):
        build()


def test_bad_image_data_is_refused_with_a_reshape_hint():
    net, kind, problem, (X, y), start, params = _case("pooling")
    with pytest.raises(symopt.DataError, match=r"reshape with X.reshape\(-1, 3, 6, 6\)"):
        problem.value_and_grad((X.reshape(ROWS, -1), y), params)
    with pytest.raises(symopt.DataError, match=r"images of shape \(3, 4, 9\) but the network has input_shape"):
        problem.value_and_grad((X.reshape(ROWS, 3, 4, 9), y), params)


@pytest.fixture(scope="module")
def digits():
    """scikit-learn's digits as 1 x 8 x 8 images, split as examples/digits.py splits them."""
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X / 16, y, test_size=0.25, random_state=0)
    return Xtr.reshape(-1, 1, 8, 8), Xte.reshape(-1, 1, 8, 8), ytr.astype(float), yte


def _digits_cnn(digits, seed):
    Xtr, _, ytr, _ = digits
    net = symopt.Network((1, 8, 8), [symopt.Conv2D(32, 3, padding="same"), symopt.MaxPool2D(2),
                                     symopt.Conv2D(64, 3, padding="same"), symopt.MaxPool2D(2), symopt.Flatten(),
                                     symopt.Dropout(0.5), symopt.Dense(128, "relu"), symopt.Dense(10)], seed=seed)
    # One BLAS thread: the test suite shares the cores, and OpenBLAS threads spinning beside another process
    # made a minibatch step 8 times slower (2.3 ms against 19 ms at batch 64, measured while writing this).
    with threadpool_limits(1, user_api="blas"):
        return symopt.solve(symopt.cross_entropy(net), (Xtr, ytr), progress=False,
                            optimizer=symopt.Adam(lr=DIGITS_LR, batch_size=32, epochs=DIGITS_EPOCHS, seed=seed,
                                                  validation=0.1, early_stopping=DIGITS_PATIENCE))


def test_a_small_cnn_on_digits_reaches_98_5_percent_with_early_stopping_and_one_seed_gives_the_same_weights(digits):
    _, Xte, _, yte = digits
    result = _digits_cnn(digits, DIGITS_SEED)
    assert result.success and result.status in ("stopped_early", "completed")
    assert result.training.best_epoch == int(np.argmin(result.training.val_loss)) + 1
    assert [name for name in result.params] == ["K1", "b1", "K3", "b3", "W7", "b7", "W8", "b8"]
    assert result.params["K3"].shape == (64, 32, 3, 3) and result.params["W7"].shape == (128, 256)
    accuracy = np.mean(result.predict(Xte) == yte)
    assert accuracy >= 0.985, accuracy
    again = _digits_cnn(digits, DIGITS_SEED)
    assert all(np.array_equal(result.params[n], again.params[n]) for n in result.params)
    assert np.array_equal(result.predict(Xte[:5]), result.predict(Xte[:5].copy()))
    with pytest.raises(symopt.DataError, match=r"reshape with X.reshape\(-1, 1, 8, 8\)"):
        result.predict(Xte.reshape(len(Xte), 64))
    with pytest.raises(symopt.DataError, match=r"for one image use X.reshape\(1, 1, 8, 8\)"):
        result.predict(Xte[0])
    diagnostics = result.diagnostics  # layers without weights (pooling, flatten, dropout) have none
    assert np.isnan(diagnostics.grad_rms[-1, [1, 3, 4, 5]]).all()
    assert np.isfinite(diagnostics.grad_rms[-1, [0, 2, 6, 7]]).all()

"""Validation, early stopping and learning-rate schedules for networks trained by epochs (issue 31, item 2):
the seeded, stratified split and validation data given, the per-epoch record (``result.training``) checked
against an independent evaluation, early stopping that restores the best epoch's weights and batch-norm
statistics, each schedule's rates, the refusals, the plot and pickling."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

import symopt
from symopt.run.validation import MARGIN, split

EPOCHS = 6


def _logsumexp(z):
    top = z.max(axis=1, keepdims=True)
    return (top + np.log(np.exp(z - top).sum(axis=1, keepdims=True)))[:, 0]


def cross_entropy_per_row(z, y):
    """The mean cross-entropy of softmax scores ``z`` on labels ``y`` (independent of the generated code)."""
    return float(np.mean(_logsumexp(z) - z[np.arange(len(y)), y.astype(int)]))


@pytest.fixture(scope="module")
def blobs():
    """Three classes of unequal size (60, 40, 20 rows) in four features."""
    rng = np.random.default_rng(3)
    y = np.repeat([0.0, 1.0, 2.0], [60, 40, 20])
    centres = np.array([[1.5, 0, 0, 0], [0, 1.5, 0, 0], [0, 0, 1.5, 0]])
    X = centres[y.astype(int)] + rng.normal(size=(y.size, 4))
    return X, y


@pytest.fixture(scope="module")
def objective():
    """A batch-normed hidden layer, so that restoring the best epoch must restore its running statistics."""
    net = symopt.Network(4, [symopt.Dense(8, "tanh", batch_norm=True), symopt.Dense(3)], seed=0)
    return symopt.cross_entropy(net)


def adam(**options):
    return symopt.Adam(**{"lr": 0.02, "batch_size": 16, "epochs": EPOCHS, "seed": 0, **options})


@pytest.fixture(scope="module")
def held(objective, blobs):
    """One run with a quarter of the rows held out (the compiled module is shared by the module's tests)."""
    return symopt.solve(objective, blobs, optimizer=adam(validation=0.25), progress=False)


def test_the_split_is_seeded_stratified_and_covers_every_row_once(objective, blobs):
    X, y = blobs
    from symopt.model.data import prepare

    dataset = prepare(objective, blobs)
    train, val, how = split(objective, dataset, 0.25, seed=4)
    again, val_again, _ = split(objective, dataset, 0.25, seed=4)
    _, other, _ = split(objective, dataset, 0.25, seed=5)
    assert np.array_equal(train, again) and np.array_equal(val, val_again) and not np.array_equal(val, other)
    assert "stratified" in how and val.size == math.ceil(0.25 * y.size)
    assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(y.size))
    # each class in the same proportion on either side: 15 of 60, 10 of 40, 5 of 20
    assert [int(np.sum(y[val] == c)) for c in (0, 1, 2)] == [15, 10, 5]
    # a regression split is plain random, of the same size, and seeded too
    regression = symopt.squared_loss(symopt.Network(4, [symopt.Dense(1)]))
    data = prepare(regression, (X, X[:, 0]))
    r_train, r_val, r_how = split(regression, data, 0.25, seed=4)
    assert "random" in r_how and r_val.size == 30 and r_train.size == 90
    assert np.array_equal(r_val, split(regression, data, 0.25, seed=4)[1])


def test_the_record_has_one_entry_per_epoch_and_its_last_validation_figures_are_right(held, blobs, objective):
    X, y = blobs
    t = held.training
    assert held.status == "completed" and held.success and held.nit == EPOCHS
    assert t.loss.size == t.lr.size == t.val_loss.size == t.val_accuracy.size == EPOCHS
    np.testing.assert_array_equal(t.loss, held.history[1:])
    assert np.all(t.lr == 0.02) and t.best_epoch is None and t.patience is None
    assert "30 of 120 rows held out for validation (0.25, stratified by class" in held.why
    # the held-out rows, drawn again, evaluated independently at the returned weights (those of the last epoch)
    from symopt.model.data import prepare

    train, val, _ = split(objective, prepare(objective, blobs), 0.25, seed=0)
    z = held.predictor.outputs(X[val])
    assert t.val_loss[-1] == pytest.approx(cross_entropy_per_row(z, y[val]), rel=1e-10)
    assert t.val_accuracy[-1] == np.mean(held.predict(X[val]) == y[val])
    # the training objective is on the training rows alone
    module = held.predictor.module
    on_train = module.full_loss(held.x, held.predictor.stats, np.ascontiguousarray(X[train]), y[train], 0.0, 4096)
    assert held.fun == pytest.approx(on_train, rel=1e-12)
    assert "validation: validation loss" in str(held) and "validation" in str(held.summary())


def test_the_summary_counts_the_training_rows_as_observations_and_the_held_out_ones_apart(held, blobs):
    """Issue 31: the summary counted the 30 held-out rows among the observations (120, and 120 - p degrees of
    freedom), though the fit never saw them."""
    t, p = held.training, held.inference().n_params
    assert (t.rows, t.held_out) == (90, 30)
    assert (held.inference().n_obs, held.inference().dof) == (90, 90 - p)
    header = dict(held.summary().header)
    assert header["observations"] == "90 (the training rows; 30 more held out for validation)"
    assert header["degrees of freedom"] == str(90 - p)
    assert "90 (the training rows; 30 more held out" in str(held.summary())
    back = pickle.loads(pickle.dumps(held))  # worked out before it travels; and again from the data given
    assert dict(back.summary().header)["observations"] == header["observations"]
    assert back.inference("HC0", data=blobs).n_obs == 90


def test_validation_data_given_are_read_and_checked_as_training_data(objective, blobs):
    X, y = blobs
    Xv, yv = X[::4] + 0.1, y[::4]
    r = symopt.solve(objective, blobs, optimizer=adam(validation=(Xv, yv), epochs=3), progress=False)
    t = r.training
    assert t.validation == "30 validation rows given" and "held out" not in r.why
    assert (t.rows, t.held_out) == (None, 0) and r.inference().n_obs == 120  # every row of the data trained on
    assert dict(r.summary().header)["observations"] == "120"
    assert t.val_loss[-1] == pytest.approx(cross_entropy_per_row(r.predictor.outputs(Xv), yv), rel=1e-10)
    as_mapping = symopt.solve(objective, blobs, optimizer=adam(validation={"X": Xv, "y": yv}, epochs=3),
                              progress=False)
    np.testing.assert_array_equal(as_mapping.training.val_loss, t.val_loss)
    bad = Xv.copy()
    bad[2, 1] = np.nan
    with pytest.raises(symopt.DataError, match=r"^validation data: .*X"):
        symopt.solve(objective, blobs, optimizer=adam(validation=(bad, yv)), progress=False)
    with pytest.raises(symopt.DataError, match=r"validation data: cross_entropy needs integer class labels 0 \.\. 2"):
        symopt.solve(objective, blobs, optimizer=adam(validation=(Xv, yv + 1)), progress=False)
    with pytest.raises(symopt.DataError, match="validation data: data 'X' has 3 columns"):
        symopt.solve(objective, blobs, optimizer=adam(validation=(Xv[:, :3], yv)), progress=False)


def test_early_stopping_stops_and_returns_the_best_epochs_weights_and_statistics(objective, blobs):
    """Validation labels drawn at random: the more the net learns the training rows, the worse it does on
    them, so the validation loss soon stops improving."""
    X, y = blobs
    rng = np.random.default_rng(1)
    Xv, yv = X[rng.permutation(y.size)[:40]], rng.integers(0, 3, 40).astype(float)
    r = symopt.solve(objective, blobs, optimizer=adam(validation=(Xv, yv), early_stopping=2, epochs=40, lr=0.05),
                     progress=False)
    t = r.training
    assert r.status == "stopped_early" and r.success and r.nit < 40 and t.val_loss.size == r.nit
    best = t.best_epoch
    assert best == int(np.argmin(t.val_loss)) + 1 and t.patience == 2
    assert f"did not improve (by {MARGIN:g} relative) for 2 epochs; the weights of epoch {best} restored" in r.message
    # no epoch after the last improving one improved by the margin, and there were `patience` of them
    improving = [k for k in range(r.nit) if t.val_loss[k] < np.min(t.val_loss[:k], initial=np.inf) * (1 - MARGIN)]
    assert r.nit - (improving[-1] + 1) == 2
    # the weights and the batch-norm running statistics returned are the best epoch's: at them, the
    # validation loss is the best recorded one; fun is the training objective on all rows there (no penalty)
    assert cross_entropy_per_row(r.predictor.outputs(Xv), yv) == pytest.approx(t.val_loss[best - 1], rel=1e-10)
    assert r.fun == pytest.approx(cross_entropy_per_row(r.predictor.outputs(X), y), rel=1e-10)
    assert not np.array_equal(r.buffers["running_mean1"], np.zeros(8))


def test_early_stopping_without_validation_holds_out_a_tenth_and_says_so(objective, blobs):
    r = symopt.solve(objective, blobs, optimizer=adam(early_stopping=50), progress=False)
    assert "12 of 120 rows held out for validation (0.1" in r.why
    assert "early_stopping= needs a validation loss and validation= was not given" in r.why
    t = r.training
    assert r.status == "completed" and t.val_loss.size == EPOCHS and t.best_epoch == int(np.argmin(t.val_loss)) + 1
    assert f"the weights of epoch {t.best_epoch}, of the lowest validation loss" in r.message


def test_each_schedule_sets_the_learning_rate_of_every_epoch(objective, blobs):
    lr, n = 0.02, EPOCHS
    step = symopt.solve(objective, blobs, optimizer=adam(schedule=symopt.StepLR(every=2, factor=0.5)),
                        progress=False)
    np.testing.assert_allclose(step.training.lr, [lr, lr, lr / 2, lr / 2, lr / 4, lr / 4], rtol=1e-15)
    assert step.success and np.all(np.isfinite(step.training.loss))
    default_step = symopt.solve(objective, blobs, optimizer=adam(schedule="step"), progress=False)
    np.testing.assert_allclose(default_step.training.lr, [lr, lr, lr / 10, lr / 10, lr / 100, lr / 100], rtol=1e-15)
    cosine = symopt.solve(objective, blobs, optimizer=adam(schedule=symopt.CosineLR(min_lr=0.002)), progress=False)
    expected = [0.002 + (lr - 0.002) * (1 + math.cos(math.pi * k / n)) / 2 for k in range(n)]
    np.testing.assert_allclose(cosine.training.lr, expected, rtol=1e-14)
    plateau = symopt.solve(objective, blobs, progress=False, optimizer=adam(
        validation=0.25, epochs=12, lr=0.1, schedule=symopt.ReduceLROnPlateau(factor=0.5, patience=1)))
    watched, rates = plateau.training.val_loss, plateau.training.lr
    rate, best, bad = lr * 5, math.inf, 0  # replayed here on the recorded validation loss
    for k in range(12):
        assert rates[k] == pytest.approx(rate, rel=1e-15), k
        if watched[k] < best * (1 - 1e-4):
            best, bad = watched[k], 0
        else:
            bad += 1
        if bad > 1:
            rate, bad = rate * 0.5, 0
    assert rates[-1] < rates[0]  # the data make the validation loss stall within 12 epochs at lr=0.1


def test_the_rate_reaches_the_generated_epochs(objective, blobs):
    """A schedule that all but stops the steps after the first epoch leaves the weights where one epoch put
    them (the running statistics still move, so the weights alone are compared)."""
    one = symopt.solve(objective, blobs, optimizer=adam(epochs=1), progress=False)
    frozen = symopt.solve(objective, blobs, optimizer=adam(epochs=3, schedule=symopt.StepLR(every=1, factor=1e-9)),
                          progress=False)
    moving = symopt.solve(objective, blobs, optimizer=adam(epochs=3), progress=False)
    np.testing.assert_allclose(frozen.x, one.x, atol=1e-8)
    assert np.max(np.abs(moving.x - one.x)) > 1e-3

    class Halving:
        def lr(self, epoch, base, epochs, losses):
            return base / 2 ** epoch

    custom = symopt.solve(objective, blobs, optimizer=adam(epochs=3, schedule=Halving()), progress=False)
    np.testing.assert_allclose(custom.training.lr, [0.02, 0.01, 0.005], rtol=1e-15)


@pytest.mark.parametrize("options, words", [
    ({"validation": 1.5}, r"validation must be a fraction of the rows in \(0, 1\)"),
    ({"validation": 0.0}, r"validation must be a fraction"),
    ({"validation": True}, r"validation must be a fraction"),
    ({"validation": (1, 2, 3)}, r"validation data are \(X_val, y_val\); got a tuple of 3 items"),
    ({"early_stopping": 0}, r"early_stopping is the patience, a whole number of epochs >= 1"),
    ({"early_stopping": 2.5}, r"early_stopping is the patience"),
    ({"schedule": "linear"}, r"schedule='linear' is not one of 'step', 'cosine', 'plateau'"),
    ({"schedule": symopt.StepLR}, r"schedule=StepLR is a class; give an instance"),
    ({"schedule": 3}, r"schedule must be 'step', 'cosine', 'plateau' or an object with a method lr"),
    ({"schedule": symopt.CosineLR(min_lr=0.1)}, r"CosineLR\(min_lr=0.1\) must be below the learning rate lr=0.02"),
])
def test_bad_options_are_refused_with_the_reason(options, words):
    with pytest.raises(symopt.ModelError, match=words):
        adam(**options)


def test_schedules_refuse_bad_settings():
    with pytest.raises(symopt.ModelError, match=r"StepLR: factor must be a number in \(0, 1\]"):
        symopt.StepLR(factor=0.0)
    with pytest.raises(symopt.ModelError, match=r"StepLR: every must be an integer in \[1, inf\]"):
        symopt.StepLR(every=0)
    with pytest.raises(symopt.ModelError, match=r"ReduceLROnPlateau: factor must be a number in \(0, 1\)"):
        symopt.ReduceLROnPlateau(factor=1.0)
    with pytest.raises(symopt.ModelError, match=r"ReduceLROnPlateau: patience must be an integer"):
        symopt.ReduceLROnPlateau(patience=-1)
    with pytest.raises(symopt.ModelError, match=r"CosineLR: min_lr must be a number in \[0, inf\)"):
        symopt.CosineLR(min_lr=-1.0)


def test_where_the_options_cannot_apply_they_are_refused(objective, blobs):
    X, y = blobs
    with pytest.raises(symopt.ModelError, match=r"GradientDescent: validation= apply to training a network by "
                                                r"epochs with a fixed step; give line_search=False"):
        symopt.GradientDescent(validation=0.1)
    curve = symopt.squared_loss(symopt.Model("a*exp(b*x)", "a b"))
    with pytest.raises(symopt.ModelError, match="Adam: validation=, early_stopping= and schedule= are options of "
                                                "training a network by epochs.*this problem is not a network"):
        symopt.solve(curve, {"x": X[:, 0], "y": y}, optimizer=symopt.Adam(schedule="cosine"), progress=False)
    with pytest.raises(symopt.ModelError, match=r"LBFGS takes no validation=: .* LBFGS trains on all rows at once"):
        symopt.LBFGS(validation=0.1)
    with pytest.raises(symopt.ModelError, match=r"validation=0.999 of 120 rows leaves no row to train on"):
        symopt.solve(objective, blobs, optimizer=adam(validation=0.999), progress=False)
    lonely = y.copy()
    lonely[0] = 2.0
    lonely[y == 2.0] = 1.0  # class 2 keeps one row
    with pytest.raises(symopt.ModelError, match=r"class 2 has one row, so a stratified split cannot put it on both "
                                                r"sides"):
        symopt.solve(objective, (X, lonely), optimizer=adam(validation=0.2), progress=False)


def test_a_regression_net_records_no_accuracy(blobs):
    X, _ = blobs
    target = X[:, 0] - 0.5 * X[:, 1]
    net = symopt.Network(4, [symopt.Dense(6, "tanh"), symopt.Dense(1)], seed=0)
    objective = symopt.squared_loss(net, reduction="sum")
    r = symopt.solve(objective, (X, target), optimizer=adam(validation=0.2, epochs=3, lr=0.005), progress=False)
    t = r.training
    assert t.val_accuracy is None and "drawn at random" in t.validation and t.val_loss.size == 3
    from symopt.model.data import prepare

    _, val, _ = split(objective, prepare(objective, (X, target)), 0.2, seed=0)
    z = r.predictor.outputs(X[val])[:, 0]
    assert "sum over rows of [(y - z)**2]" in objective.describe()  # the validation loss is per row all the same
    assert t.val_loss[-1] == pytest.approx(float(np.mean((z - target[val]) ** 2)), rel=1e-10)
    assert "accuracy" not in t.summary()


def test_the_training_plot_draws_the_validation_curves(held, tmp_path):
    pytest.importorskip("matplotlib")
    figure = held.plot("training", path=tmp_path / "t.png")
    loss_ax = figure.get_axes()[0]
    curves = {line.get_label(): line for line in loss_ax.get_lines()}
    assert "validation loss (per row, no penalty)" in curves and "training loss (epochs: running)" in curves
    np.testing.assert_array_equal(curves["validation loss (per row, no penalty)"].get_ydata(), held.training.val_loss)
    accuracy = [ax for ax in figure.get_axes() if ax.get_ylabel() == "validation accuracy"]
    assert len(accuracy) == 1
    np.testing.assert_array_equal(accuracy[0].get_lines()[0].get_ydata(), held.training.val_accuracy)
    assert (tmp_path / "t.png").stat().st_size > 0


def test_the_result_pickles_with_its_record(held):
    back = pickle.loads(pickle.dumps(held))
    for name in ("loss", "lr", "val_loss", "val_accuracy"):
        np.testing.assert_array_equal(getattr(back.training, name), getattr(held.training, name))
    assert back.training.validation == held.training.validation
    assert "validation: validation loss" in str(back)
    optimizer = pickle.loads(pickle.dumps(adam(validation=(np.ones((3, 4)), np.zeros(3)), schedule="plateau")))
    assert repr(optimizer.validation) == "HeldOut(3 rows)" and isinstance(optimizer.schedule, symopt.ReduceLROnPlateau)


def test_a_pickled_result_leaves_its_validation_data_behind_and_its_optimizer_says_to_give_them_again(objective,
                                                                                                       blobs):
    """Issue 31: a result trained on validation data (X_val, y_val) carried a copy of them, in its optimizer,
    wherever it was pickled to. It keeps their description; the optimizer alone still pickles whole."""
    rng = np.random.default_rng(8)
    sizes, results = [], []
    for rows in (30, 20_000):  # 20,000 x 5 floats: 800 kB that must not travel
        Xv, yv = rng.normal(size=(rows, 4)), rng.integers(0, 3, rows).astype(float)
        r = symopt.solve(objective, blobs, optimizer=adam(validation=(Xv, yv), epochs=2), progress=False)
        sizes.append(len(pickle.dumps(r)))
        results.append((r, Xv, yv))
    assert abs(sizes[1] - sizes[0]) < 100  # the row count's digits
    r, Xv, yv = results[0]
    back = pickle.loads(pickle.dumps(r))
    assert repr(r.optimizer.validation) == "HeldOut(30 rows)" and r.optimizer.validation.data[0] is Xv  # unchanged
    assert repr(back.optimizer.validation) == "HeldOut(30 rows, dropped)" and back.optimizer.validation.data is None
    assert back.optimizer.lr == r.optimizer.lr and back.optimizer.epochs == 2
    assert back.training.validation == "30 validation rows given"
    np.testing.assert_array_equal(back.training.val_loss, r.training.val_loss)  # the record travels
    np.testing.assert_array_equal(back.predict(blobs[0]), r.predict(blobs[0]))
    with pytest.raises(symopt.ModelError, match=r"Adam: its validation data \(30 rows\) were dropped when the result "
                                                r"was pickled .* dataclasses.replace\(result.optimizer, validation="):
        symopt.solve(objective, blobs, optimizer=back.optimizer, progress=False)
    from dataclasses import replace

    again = symopt.solve(objective, blobs, optimizer=replace(back.optimizer, validation=(Xv, yv)), progress=False)
    np.testing.assert_array_equal(again.training.val_loss, r.training.val_loss)
    alone = pickle.loads(pickle.dumps(r.optimizer))  # a joblib worker given the optimizer trains as here
    np.testing.assert_array_equal(alone.validation.data[0], Xv)


def test_the_schedules_give_pytorchs_rates():
    """StepLR, CosineLR (T_max the epochs budget) and ReduceLROnPlateau (mode min, relative threshold) against
    PyTorch's schedulers of the same names, on a loss that falls, stalls and falls again."""
    torch = pytest.importorskip("torch", reason="PyTorch is the reference for the schedules")
    losses = [1.0, 0.8, 0.7, 0.7, 0.71, 0.7, 0.69, 0.5, 0.5, 0.5, 0.5, 0.49, 0.3, 0.3, 0.31, 0.3, 0.3, 0.3, 0.2, 0.2]
    epochs, base = len(losses), 0.1
    cases = [(symopt.StepLR(every=3, factor=0.5), lambda o: torch.optim.lr_scheduler.StepLR(o, 3, 0.5)),
             (symopt.CosineLR(min_lr=0.01), lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, epochs, 0.01)),
             (symopt.ReduceLROnPlateau(factor=0.5, patience=2, min_lr=0.02),
              lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(o, factor=0.5, patience=2, min_lr=0.02))]
    for ours, make in cases:
        optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base)
        theirs = make(optimizer)
        for epoch in range(epochs):
            assert ours.lr(epoch, base, epochs, losses[:epoch]) == pytest.approx(optimizer.param_groups[0]["lr"],
                                                                                rel=1e-12), (ours, epoch)
            optimizer.step()
            theirs.step(losses[epoch]) if isinstance(ours, symopt.ReduceLROnPlateau) else theirs.step()


def test_a_binary_net_records_the_accuracy_of_its_logits(blobs):
    X, y = blobs
    binary = (y == 0).astype(float)
    objective = symopt.log_loss(symopt.Network(4, [symopt.Dense(1)], seed=0))
    r = symopt.solve(objective, (X, binary), optimizer=adam(validation=0.2, epochs=3), progress=False)
    from symopt.model.data import prepare

    _, val, how = split(objective, prepare(objective, (X, binary)), 0.2, seed=0)
    assert "stratified by class over 2 classes" in how and int(np.sum(binary[val])) == 12  # 60 of 120 are 1
    z = r.predictor.outputs(X[val])[:, 0]
    assert r.training.val_accuracy[-1] == np.mean((z > 0) == (binary[val] == 1))
    log_loss = np.mean(np.logaddexp(0.0, z) - binary[val] * z)
    assert r.training.val_loss[-1] == pytest.approx(log_loss, rel=1e-10)


def test_a_run_the_callback_stops_keeps_its_last_weights(objective, blobs):
    """Early stopping restores only where it, or the epochs budget, ends the run: a callback's stop returns the
    weights it stopped at, as the networks page says."""
    seen = []

    def stop(iteration, fun, params):
        seen.append(params["W1"].copy())
        return iteration >= 3

    r = symopt.solve(objective, blobs, optimizer=adam(validation=0.25, early_stopping=10, epochs=20),
                     callback=stop, progress=False)
    assert r.status == "stopped_by_callback" and r.nit == 3 and r.training.best_epoch is None
    assert r.training.val_loss.size == 3 and "restored" not in r.message
    np.testing.assert_array_equal(r.params["W1"], seen[-1])

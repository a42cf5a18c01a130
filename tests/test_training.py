"""sidebyside.training and the learning-curve playground (lesson 01), without a browser."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sidebyside import data, training
from sidebyside.devices import CPU, DeviceChoice

#: How closely the two frameworks' curves must agree when they start from the same weights
#: and see the same batches (float32 rounding in different kernels; measured about 1e-7).
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def tf():
    from sidebyside.frameworks import import_tensorflow

    return import_tensorflow()


@pytest.fixture(scope="module")
def small_split():
    return data.load_digits(limit=400)


CPU_CHOICE = DeviceChoice(CPU, "cpu", "argument")


def test_torch_model_shapes_and_logits():
    model = training.build_torch_model(hidden_units=16, seed=1)
    assert isinstance(model, torch.nn.Module)
    assert [tuple(layer.weight.shape) for layer in training.torch_linear_layers(model)] == [(16, 64), (10, 16)]
    logits = model(torch.ones(5, 64))
    assert logits.shape == (5, 10)
    # Logits, not probabilities: rows do not sum to one.
    assert not torch.allclose(logits.sum(dim=1), torch.ones(5))


def test_torch_model_seed_is_reproducible_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = training.build_torch_model(seed=3)
    assert torch.equal(torch.get_rng_state(), before)
    b = training.build_torch_model(seed=3)
    c = training.build_torch_model(seed=4)
    assert torch.equal(a.hidden.weight, b.hidden.weight)
    assert not torch.equal(a.hidden.weight, c.hidden.weight)


def test_copy_torch_to_keras_gives_the_same_outputs(tf):
    torch_model = training.build_torch_model(hidden_units=64, seed=0)  # square first layer: a transpose bug would not raise
    keras_model = training.build_keras_model(hidden_units=64, seed=0)
    X = np.random.default_rng(0).random((7, 64), dtype=np.float32)
    before = keras_model(X, training=False).numpy()
    training.copy_torch_to_keras(torch_model, keras_model)
    expected = torch_model.eval()(torch.from_numpy(X)).detach().numpy()
    after = keras_model(X, training=False).numpy()
    assert not np.allclose(before, expected, atol=1e-3)
    np.testing.assert_allclose(after, expected, rtol=1e-5, atol=1e-6)


def test_copy_keras_to_torch_is_the_inverse(tf):
    keras_model = training.build_keras_model(hidden_units=12, seed=5)
    torch_model = training.build_torch_model(hidden_units=12, seed=9)
    training.copy_keras_to_torch(keras_model, torch_model)
    for ours, theirs in zip(training.torch_weights(torch_model), training.keras_weights(keras_model)):
        np.testing.assert_array_equal(ours, theirs)


def test_copy_refuses_mismatched_models(tf):
    with pytest.raises(ValueError, match="does not match"):
        training.copy_torch_to_keras(training.build_torch_model(hidden_units=8), training.build_keras_model(hidden_units=9))


def test_torch_loader_yields_the_shared_batches():
    X = torch.arange(10, dtype=torch.float32).reshape(10, 1)
    y = torch.arange(10)
    got = [batch_y.tolist() for _, batch_y in training.torch_loader(X, y, 4, seed=7, epoch=2)]
    expected = [b.tolist() for b in data.batches(10, 4, seed=7, epoch=2)]
    assert got == expected
    assert [len(b) for b in got] == [4, 4, 2]


def test_torch_training_learns_and_history_has_keras_keys(small_split):
    model = training.build_torch_model(hidden_units=32, seed=0)
    seen = []
    history = training.train_torch(model, small_split, lr=0.2, batch_size=32, num_epochs=4, device="cpu", callback=lambda e, h: seen.append((e, len(h["loss"]))))
    assert list(history) == list(training.HISTORY_KEYS)
    assert all(len(v) == 4 and all(type(x) is float for x in v) for v in history.values())
    assert seen == [(1, 1), (2, 2), (3, 3), (4, 4)]
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_accuracy"][-1] > 0.5
    assert not model.training  # left in inference mode after validation


def test_training_loss_is_the_mean_over_examples(small_split):
    """With lr=0 nothing changes: the epoch's training loss equals the loss of the whole set."""
    model = training.build_torch_model(seed=0)
    history = training.train_torch(model, small_split, lr=0.0, batch_size=7, num_epochs=1, device="cpu")
    whole, accuracy = training.evaluate_torch(model, torch.from_numpy(small_split.X_train), torch.from_numpy(small_split.y_train))
    assert history["loss"][0] == pytest.approx(whole, rel=1e-5)
    assert history["accuracy"][0] == pytest.approx(accuracy)


def test_same_weights_same_batches_curves_agree(small_split, tf):
    config = training.Config(lr=0.1, batch_size=16, num_epochs=3, hidden_units=32)
    calls = []
    result = training.train_both(small_split, config, device=CPU_CHOICE, callback=lambda name, epoch, h: calls.append((name, epoch)))
    assert calls == [(name, epoch) for epoch in (1, 2, 3) for name in ("PyTorch", "TensorFlow")]
    differences = result.max_difference
    assert set(differences) == set(training.HISTORY_KEYS)
    assert max(differences.values()) < TOLERANCE, differences
    for ours, theirs in zip(training.torch_weights(result.torch_model), training.keras_weights(result.keras_model)):
        np.testing.assert_allclose(ours, theirs, atol=TOLERANCE)
    assert result.histories["PyTorch"]["loss"][-1] < result.histories["PyTorch"]["loss"][0]


def test_different_initial_weights_do_not_agree(small_split, tf):
    """The agreement above is not automatic: without copying the weights the curves differ."""
    config = dict(lr=0.1, batch_size=16, num_epochs=2, device="cpu")
    torch_history = training.train_torch(training.build_torch_model(hidden_units=32, seed=0), small_split, **config)
    keras_history = training.train_tensorflow(training.build_keras_model(hidden_units=32, seed=0), small_split, **{**config, "device": "/CPU:0"})
    assert training.max_difference(torch_history, keras_history)["loss"] > 1e-3


def test_tensorflow_loop_uses_dropout_only_while_training(small_split, tf):
    model = training.build_keras_model(hidden_units=32, dropout=0.5, seed=0)
    X = small_split.X_val[:20]
    assert np.array_equal(model(X, training=False).numpy(), model(X, training=False).numpy())
    assert not np.array_equal(model(X, training=True).numpy(), model(X, training=True).numpy())
    history = training.train_tensorflow(model, small_split, lr=0.1, batch_size=32, num_epochs=2, device="/CPU:0")
    loss, accuracy = training.evaluate_tensorflow(model, small_split.X_val, small_split.y_val)
    assert history["val_loss"][-1] == pytest.approx(loss, rel=1e-6)
    assert history["val_accuracy"][-1] == pytest.approx(accuracy)


def test_best_epoch_counts_from_one():
    assert training.best_epoch({"val_loss": [3.0, 1.0, 2.0]}) == 2


# --- The playground, driven without a browser ---------------------------------------------


def test_config_from_controls_checks_values():
    from sidebyside.widgets import learning_curves

    config = learning_curves.config_from_controls(0.05, 64.0, 3, 16)
    assert config == training.Config(lr=0.05, batch_size=64, num_epochs=3, hidden_units=16)
    with pytest.raises(ValueError):
        learning_curves.config_from_controls(0.1, 0, 3, 16)


def test_progress_text_names_framework_epoch_and_accuracy():
    from sidebyside.widgets import learning_curves

    histories = {"PyTorch": {"val_accuracy": [0.5, 0.75]}, "TensorFlow": {"val_accuracy": []}}
    text = learning_curves.progress_text("PyTorch", 2, training.Config(num_epochs=5), histories)
    assert text == "PyTorch: epoch 2/5 | PyTorch val acc 0.750"


def test_playground_button_trains_both_and_tracks_progress(small_split, tf):
    from sidebyside.widgets import learning_curves

    playground = learning_curves.Playground(training.Config(num_epochs=2, hidden_units=16, batch_size=64), small_split, device=CPU_CHOICE, draw=False)
    assert playground.config() == training.Config(lr=0.1, batch_size=64, num_epochs=2, hidden_units=16)
    playground.num_epochs.value = 3
    progress_seen = []
    playground.progress.observe(lambda change: progress_seen.append(change["new"]), names="value")
    playground.button.click()
    result = playground.result
    assert result is not None and result.config.num_epochs == 3
    assert progress_seen == [1, 2, 3, 4, 5, 6]
    assert playground.progress.max == 6
    assert not playground.button.disabled
    assert playground.status.value.startswith("Done in")
    assert max(result.max_difference.values()) < TOLERANCE


def test_playground_uses_the_course_device():
    from sidebyside import devices
    from sidebyside.widgets import learning_curves

    gpu = devices.Device("cuda:0", "cuda:0", "/GPU:0")
    choice = devices.choose_device("cuda", environ={}, devices=[devices.CPU, gpu])
    previous = devices._current
    try:
        devices._current = choice
        playground = learning_curves.Playground(draw=False)
        assert playground.device.torch == "cuda:0" and playground.device.tensorflow == "/GPU:0"
        assert "cuda:0" in playground.status.value
    finally:
        devices._current = previous


def test_torch_threads_is_temporary_and_cpu_only():
    saved = torch.get_num_threads()
    with training.torch_threads("cpu", 1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == saved
    with training.torch_threads("cuda:0", 1):  # no thread change for a GPU (nothing runs here)
        assert torch.get_num_threads() == saved


# --- The playground answers every action (issue 12) -----------------------------------------


def test_settings_text_says_what_is_asked_and_what_is_in_effect():
    from sidebyside.widgets import learning_curves

    asked = training.Config(lr=0.05, batch_size=32, num_epochs=10, hidden_units=32)
    shown = asked.replace(lr=0.1)
    before = learning_curves.settings_text(asked, None)
    assert before.startswith("Asked: learning rate 0.05") and "Nothing trained yet" in before, f"before any run, got {before!r}"
    same = learning_curves.settings_text(asked, asked)
    assert same.startswith("In effect: learning rate 0.05, batch size 32, epochs 10, hidden units 32"), f"asked == in effect, got {same!r}"
    changed = learning_curves.settings_text(asked, shown)
    assert "learning rate 0.05 (in effect: 0.1)" in changed and "batch size 32," in changed and "Press Train both" in changed, (
        f"a changed learning rate should show both values, got {changed!r}"
    )
    running = learning_curves.settings_text(asked, shown, training=True)
    assert running.startswith("Training with: learning rate 0.1") and "Asked meanwhile: learning rate 0.05" in running, f"while training, got {running!r}"


def test_playground_answers_every_control(small_split, tf):
    """Each slider change shows at once what is asked against what the curves show; a run
    makes the asked settings the ones in effect."""
    from sidebyside.widgets import learning_curves

    playground = learning_curves.Playground(training.Config(num_epochs=2, hidden_units=16, batch_size=64), small_split, device=CPU_CHOICE, draw=False)
    assert playground.settings.value.startswith("Asked: learning rate 0.1, batch size 64, epochs 2, hidden units 16"), playground.settings.value
    for control, value, shown in (
        (playground.lr, 0.01, "learning rate 0.01"),
        (playground.batch_size, 128, "batch size 128"),
        (playground.num_epochs, 3, "epochs 3"),
        (playground.hidden_units, 8, "hidden units 8"),
    ):
        before = playground.settings.value
        control.value = value
        assert playground.settings.value != before and shown in playground.settings.value, (
            f"setting {control.description} to {value} should show {shown!r}, got {playground.settings.value!r}"
        )
    playground.button.click()
    in_effect = playground.settings.value
    assert in_effect.startswith("In effect: learning rate 0.01, batch size 128, epochs 3, hidden units 8"), f"after the run, got {in_effect!r}"
    playground.lr.value = 0.1
    assert "learning rate 0.1 (in effect: 0.01)" in playground.settings.value, f"after moving the learning rate, got {playground.settings.value!r}"
    assert playground.result.config.lr == 0.01, f"the run should have used the asked lr 0.01, got {playground.result.config.lr}"


def test_redraw_policy_bounds_the_share_of_drawing():
    from sidebyside.widgets import learning_curves

    now = [0.0]
    policy = learning_curves.RedrawPolicy(factor=2.0, min_interval=0.2, clock=lambda: now[0])
    assert policy.due(), "the first picture is always drawn"
    policy.drawn(started=0.0)
    now[0] = 0.3  # drawing took 0.3 s: wait 0.6 s after it
    policy.drawn(started=0.0)
    now[0] = 0.8
    assert not policy.due(), "0.5 s after a 0.3 s redraw is too early"
    assert policy.due(final=True), "the last epoch is always drawn"
    now[0] = 0.95
    assert policy.due(), "0.65 s after a 0.3 s redraw is late enough"


def test_live_chart_draws_its_axes_once_per_run():
    from sidebyside.widgets import learning_curves

    chart = learning_curves.LiveChart()
    history = {"loss": [2.0, 1.0], "accuracy": [0.5, 0.8], "val_loss": [1.9, 1.1], "val_accuracy": [0.55, 0.75]}
    pictures = [chart.render({"PyTorch": history, "TensorFlow": history}, "run", 10)]
    longer = {key: values + [values[-1]] for key, values in history.items()}
    pictures.append(chart.render({"PyTorch": longer, "TensorFlow": longer}, "run", 10))
    assert all(p.startswith(b"\x89PNG") for p in pictures), "render returns PNG bytes"
    assert pictures[0] != pictures[1], "a longer history gives another picture"
    assert chart.full_draws == 1, f"the axes should be drawn once for one run, got {chart.full_draws} full draws"
    spike = {**longer, "val_loss": longer["val_loss"][:-1] + [7.2]}
    chart.render({"PyTorch": spike, "TensorFlow": spike}, "run", 10)
    assert chart.full_draws == 2, f"a loss above the axis should redraw the axes, got {chart.full_draws} full draws"
    assert learning_curves.LiveChart.loss_bound({"PyTorch": spike}) == 7.5, "the loss axis goes up to the next 0.5 above the highest loss"


def test_playground_chart_follows_the_run(small_split, tf):
    from sidebyside.widgets import learning_curves

    playground = learning_curves.Playground(training.Config(num_epochs=3, hidden_units=16, batch_size=64), small_split, device=CPU_CHOICE)
    empty = bytes(playground.image.value)  # ipywidgets 8 keeps a memoryview
    assert empty.startswith(b"\x89PNG"), "the playground shows empty axes before the first run"
    pictures = []
    playground.image.observe(lambda change: pictures.append(bytes(change["new"])), names="value")
    playground.button.click()
    assert pictures and pictures[-1] != empty, "a run should show new pictures"
    assert playground.timings["redraws"] == len(pictures) >= 1, f"redraws {playground.timings} against {len(pictures)} pictures"
    assert playground.chart.full_draws == 2, f"axes drawn once for the empty chart and once for the run, got {playground.chart.full_draws}"


def test_tensorflow_epoch_in_one_graph_matches_steps_called_from_python(small_split, tf):
    """train_tensorflow runs each epoch's steps in one tf.function; calling a traced step from
    Python once per batch (lesson 01's loop on the shared batches) gives the same numbers."""
    keras = tf.keras
    config = dict(lr=0.2, batch_size=48, num_epochs=2, seed=3)  # 48 does not divide the training set
    ours = training.build_keras_model(hidden_units=16, seed=4)
    history = training.train_tensorflow(ours, small_split, device="/CPU:0", **config)

    theirs = training.build_keras_model(hidden_units=16, seed=4)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = keras.optimizers.SGD(learning_rate=config["lr"])

    @tf.function
    def step(X, y):
        with tf.GradientTape() as tape:
            logits = theirs(X, training=True)
            loss = loss_fn(y, logits)
        optimizer.apply_gradients(zip(tape.gradient(loss, theirs.trainable_variables), theirs.trainable_variables))
        return loss

    losses = []
    for epoch in range(config["num_epochs"]):
        total = 0.0
        for index in data.batches(len(small_split.X_train), config["batch_size"], seed=config["seed"], epoch=epoch):
            total += float(step(small_split.X_train[index], small_split.y_train[index])) * len(index)
        losses.append(total / len(small_split.X_train))
    np.testing.assert_allclose(history["loss"], losses, rtol=1e-6, err_msg="training loss per epoch")
    for a, b in zip(training.keras_weights(ours), training.keras_weights(theirs)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7, err_msg="weights after training")

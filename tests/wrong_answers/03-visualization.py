"""Wrong answers for solutions/03-visualization: each must lose its test cell's points.

Each name starts with what the answer is: the misconception it embodies (an id of
sidebyside/misconceptions/03-visualization.toml), which its test must name, or a plain category
(tests/stored_answers.py: ``delegates``, ``crashes``, ``cheats``).

Answers named "delegates: ..." run the course package's own code for the task (the event-file
reader, the Visdom log replay, the servers, the training loops: ``EVENT_FILE_CODE`` and
``LIVE_PLOT_CODE`` in the assignment), each reached another way (an alias, ``getattr``,
``importlib``, a reference captured when the cell runs). Apart from that each does the task
right, so only ``checks.own_work`` can make it score 0, which the suite requires.
"""

WRONG_ANSWERS = {
    "torch_log_history": {
        "not_flushed: never flushes the writer": '''def torch_log_history(logdir, history):
    writer = SummaryWriter(str(logdir))
    for epoch, (loss, accuracy) in enumerate(zip(history["loss"], history["accuracy"]), start=1):
        writer.add_scalar(TAGS["loss"], loss, epoch)
        writer.add_scalar(TAGS["accuracy"], accuracy, epoch)
    return writer
''',
        "counted_from_zero: steps counted from 0": '''def torch_log_history(logdir, history):
    writer = SummaryWriter(str(logdir))
    for epoch, (loss, accuracy) in enumerate(zip(history["loss"], history["accuracy"])):
        writer.add_scalar(TAGS["loss"], loss, epoch)
        writer.add_scalar(TAGS["accuracy"], accuracy, epoch)
    writer.flush()
    return writer
''',
        "step_per_scalar: one step per scalar instead of per epoch": '''def torch_log_history(logdir, history):
    writer = SummaryWriter(str(logdir))
    step = 0
    for loss, accuracy in zip(history["loss"], history["accuracy"]):
        step += 1
        writer.add_scalar(TAGS["loss"], loss, step)
        step += 1
        writer.add_scalar(TAGS["accuracy"], accuracy, step)
    writer.flush()
    return writer
''',
        # add_scalars writes each curve into its own run (a sub-folder), not into logdir
        "add_scalars_subfolders: add_scalars: one sub-folder per tag": '''def torch_log_history(logdir, history):
    writer = SummaryWriter(str(logdir))
    for epoch, (loss, accuracy) in enumerate(zip(history["loss"], history["accuracy"]), start=1):
        writer.add_scalars("metrics", {TAGS["loss"]: loss, TAGS["accuracy"]: accuracy}, epoch)
    writer.flush()
    return writer
''',
        "writer_unusable_after_return: logs and closes, then returns a new writer on another folder": '''import tempfile


def torch_log_history(logdir, history):
    with SummaryWriter(str(logdir)) as writer:
        for epoch, (loss, accuracy) in enumerate(zip(history["loss"], history["accuracy"]), start=1):
            writer.add_scalar(TAGS["loss"], loss, epoch)
            writer.add_scalar(TAGS["accuracy"], accuracy, epoch)
    return SummaryWriter(tempfile.mkdtemp())
''',
        "delegates: checks its log with eventfiles.scalars through an alias": '''from sidebyside import eventfiles as logs_reader


def torch_log_history(logdir, history):
    writer = SummaryWriter(str(logdir))
    for epoch, (loss, accuracy) in enumerate(zip(history["loss"], history["accuracy"]), start=1):
        writer.add_scalar(TAGS["loss"], loss, epoch)
        writer.add_scalar(TAGS["accuracy"], accuracy, epoch)
    writer.flush()
    if not logs_reader.scalars(logdir):
        raise RuntimeError("nothing on disk yet")
    return writer
''',
    },
    "tf_log_history": {
        # (`with writer.as_default():` flushes when the block ends; set_as_default() does not)
        "not_flushed: never flushes the writer": '''def tf_log_history(logdir, history):
    writer = tf.summary.create_file_writer(str(logdir))
    writer.set_as_default()
    for epoch, (loss, accuracy) in enumerate(zip(history["loss"], history["accuracy"]), start=1):
        tf.summary.scalar(TAGS["loss"], loss, step=epoch)
        tf.summary.scalar(TAGS["accuracy"], accuracy, step=epoch)
    return writer
''',
        "counted_from_zero: steps counted from 0": '''def tf_log_history(logdir, history):
    writer = tf.summary.create_file_writer(str(logdir))
    with writer.as_default():
        for epoch, (loss, accuracy) in enumerate(zip(history["loss"], history["accuracy"])):
            tf.summary.scalar(TAGS["loss"], loss, step=epoch)
            tf.summary.scalar(TAGS["accuracy"], accuracy, step=epoch)
    writer.flush()
    return writer
''',
        "own_tags: Keras callback's tags, different from the PyTorch part": '''def tf_log_history(logdir, history):
    writer = tf.summary.create_file_writer(str(logdir))
    with writer.as_default():
        for epoch, (loss, accuracy) in enumerate(zip(history["loss"], history["accuracy"]), start=1):
            tf.summary.scalar("epoch_loss", loss, step=epoch)
            tf.summary.scalar("epoch_accuracy", accuracy, step=epoch)
    writer.flush()
    return writer
''',
        "other_frameworks_writer: logs with PyTorch's writer": '''def tf_log_history(logdir, history):
    writer = tf.summary.create_file_writer(str(logdir))
    torch_writer = SummaryWriter(str(logdir))
    for epoch, (loss, accuracy) in enumerate(zip(history["loss"], history["accuracy"]), start=1):
        torch_writer.add_scalar(TAGS["loss"], loss, epoch)
        torch_writer.add_scalar(TAGS["accuracy"], accuracy, epoch)
    torch_writer.close()
    return writer
''',
        # a closed tf.summary writer raises on the next write (PyTorch's reopens itself)
        "writer_unusable_after_return: closes the writer before returning it": '''def tf_log_history(logdir, history):
    writer = tf.summary.create_file_writer(str(logdir))
    with writer.as_default():
        for epoch, (loss, accuracy) in enumerate(zip(history["loss"], history["accuracy"]), start=1):
            tf.summary.scalar(TAGS["loss"], loss, step=epoch)
            tf.summary.scalar(TAGS["accuracy"], accuracy, step=epoch)
    writer.close()
    return writer
''',
        "delegates: checks its log with eventfiles.records through getattr": '''import sidebyside


def tf_log_history(logdir, history):
    writer = tf.summary.create_file_writer(str(logdir))
    with writer.as_default():
        for epoch, (loss, accuracy) in enumerate(zip(history["loss"], history["accuracy"]), start=1):
            tf.summary.scalar(TAGS["loss"], loss, step=epoch)
            tf.summary.scalar(TAGS["accuracy"], accuracy, step=epoch)
    writer.flush()
    read = getattr(getattr(sidebyside, "eventfiles"), "rec" + "ords")
    if not read(logdir):
        raise RuntimeError("nothing on disk yet")
    return writer
''',
    },
    "torch_log_weights_and_image": {
        "histogram_of_bias: histogram of the bias instead of the weights": '''def torch_log_weights_and_image(writer, model, image, step):
    writer.add_histogram(TAGS["weights"], model[0].bias, step)
    writer.add_image(TAGS["image"], torch.from_numpy(image), step, dataformats="HW")
''',
        "ignores_step: image at step 0": '''def torch_log_weights_and_image(writer, model, image, step):
    writer.add_histogram(TAGS["weights"], model[0].weight, step)
    writer.add_image(TAGS["image"], torch.from_numpy(image), 0, dataformats="HW")
''',
        "pixels_rescaled: pixels scaled to 0-255 before logging": '''def torch_log_weights_and_image(writer, model, image, step):
    writer.add_histogram(TAGS["weights"], model[0].weight, step)
    writer.add_image(TAGS["image"], torch.from_numpy(image * 255), step, dataformats="HW")
''',
        "histogram_of_last_layer: histogram of the last layer": '''def torch_log_weights_and_image(writer, model, image, step):
    writer.add_histogram(TAGS["weights"], model[-1].weight, step)
    writer.add_image(TAGS["image"], torch.from_numpy(image), step, dataformats="HW")
''',
        "delegates: checks what is on disk with eventfiles.tags through importlib": '''import importlib


def torch_log_weights_and_image(writer, model, image, step):
    writer.add_histogram(TAGS["weights"], model[0].weight, step)
    writer.add_image(TAGS["image"], torch.from_numpy(image), step, dataformats="HW")
    writer.flush()
    importlib.import_module("sidebyside.eventfiles").tags(writer.log_dir)
''',
    },
    "tf_log_weights_and_image": {
        "histogram_of_last_layer: histogram of the last layer": '''def tf_log_weights_and_image(writer, model, image, step):
    with writer.as_default():
        tf.summary.histogram(TAGS["weights"], model.layers[-1].kernel, step=step)
        tf.summary.image(TAGS["image"], image[None, :, :, None], step=step)
''',
        "image_transposed: image transposed": '''def tf_log_weights_and_image(writer, model, image, step):
    with writer.as_default():
        tf.summary.histogram(TAGS["weights"], model.layers[0].kernel, step=step)
        tf.summary.image(TAGS["image"], image.T[None, :, :, None], step=step)
''',
        "ignores_step: histogram at the next step": '''def tf_log_weights_and_image(writer, model, image, step):
    with writer.as_default():
        tf.summary.histogram(TAGS["weights"], model.layers[0].kernel, step=step + 1)
        tf.summary.image(TAGS["image"], image[None, :, :, None], step=step)
''',
        "image_without_batch: image without the batch dimension": '''def tf_log_weights_and_image(writer, model, image, step):
    with writer.as_default():
        tf.summary.histogram(TAGS["weights"], model.layers[0].kernel, step=step)
        tf.summary.image(TAGS["image"], image[:, :, None], step=step)
''',
        "delegates: checks its image with eventfiles.decode captured when the cell runs": '''from sidebyside.eventfiles import decode as _decode


def tf_log_weights_and_image(writer, model, image, step):
    with writer.as_default():
        tf.summary.histogram(TAGS["weights"], model.layers[0].kernel, step=step)
        tf.summary.image(TAGS["image"], image[None, :, :, None], step=step)
    # the pixels as a reader will see them: a PNG in a string tensor, as tf.summary.image stores it
    png = tf.io.encode_png(tf.cast(tf.round(image[:, :, None] * 255), tf.uint8)).numpy()
    value = tf.compat.v1.Summary.Value(tag="check", tensor=tf.make_tensor_proto([b"8", b"8", png]))
    if _decode(value, "tensor", "images").shape[:2] != image.shape:
        raise RuntimeError("the image does not survive the round trip")
''',
    },
    "torch_train_live": {
        "new_window_per_point: a new window per step": '''def torch_train_live(vis, train_step, num_steps):
    losses = []
    for step in range(1, num_steps + 1):
        loss = train_step().item()
        losses.append(loss)
        vis.line(X=np.array([step]), Y=np.array([loss]), name=LIVE["torch"])
    return losses
''',
        "redraws_window: redraws the window instead of appending": '''def torch_train_live(vis, train_step, num_steps):
    losses = []
    for step in range(1, num_steps + 1):
        loss = train_step().item()
        losses.append(loss)
        vis.line(X=np.array([step]), Y=np.array([loss]), win=LIVE["window"], name=LIVE["torch"])
    return losses
''',
        "counted_from_zero: x counted from 0": '''def torch_train_live(vis, train_step, num_steps):
    losses = []
    for step in range(num_steps):
        loss = train_step().item()
        losses.append(loss)
        vis.line(X=np.array([step]), Y=np.array([loss]), win=LIVE["window"], name=LIVE["torch"], update="append")
    return losses
''',
        "returns_tensors: returns tensors, not floats": '''def torch_train_live(vis, train_step, num_steps):
    losses = []
    for step in range(1, num_steps + 1):
        loss = train_step()
        losses.append(loss)
        vis.line(X=np.array([step]), Y=np.array([loss.item()]), win=LIVE["window"], name=LIVE["torch"], update="append")
    return losses
''',
        "plots_after_training: trains first, plots every point after training (not live)": '''def torch_train_live(vis, train_step, num_steps):
    losses = [train_step().item() for _ in range(num_steps)]
    for step, loss in enumerate(losses, start=1):
        vis.line(X=np.array([step]), Y=np.array([loss]), win=LIVE["window"], name=LIVE["torch"], update="append")
    return losses
''',
        "delegates: checks its window with eventfiles.visdom_windows through an alias": '''from sidebyside import eventfiles as replay


def torch_train_live(vis, train_step, num_steps):
    losses = []
    for step in range(1, num_steps + 1):
        loss = train_step().item()
        losses.append(loss)
        vis.line(X=np.array([step]), Y=np.array([loss]), win=LIVE["window"], name=LIVE["torch"], update="append")
    if vis.log_to_filename and LIVE["window"] not in replay.visdom_windows(vis.log_to_filename):
        raise RuntimeError("the window was not drawn")
    return losses
''',
    },
    "tf_train_live": {
        "new_window_per_point: no window id: a new window per epoch": '''def tf_train_live(vis, model, X, y, num_epochs):
    class PlotLoss(tf.keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            vis.line(X=np.array([epoch + 1]), Y=np.array([float(logs["loss"])]), name=LIVE["tf"])

    history = model.fit(X, y, epochs=num_epochs, batch_size=len(X), verbose=0, callbacks=[PlotLoss()])
    return [float(loss) for loss in history.history["loss"]]
''',
        "counted_from_zero: Keras's epoch numbers, counted from 0": '''def tf_train_live(vis, model, X, y, num_epochs):
    class PlotLoss(tf.keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            vis.line(X=np.array([epoch]), Y=np.array([float(logs["loss"])]), win=LIVE["window"], name=LIVE["tf"], update="append")

    history = model.fit(X, y, epochs=num_epochs, batch_size=len(X), verbose=0, callbacks=[PlotLoss()])
    return [float(loss) for loss in history.history["loss"]]
''',
        "plots_after_training: fits first, plots the history after training (not live)": '''def tf_train_live(vis, model, X, y, num_epochs):
    history = model.fit(X, y, epochs=num_epochs, batch_size=len(X), verbose=0)
    losses = [float(loss) for loss in history.history["loss"]]
    for epoch, loss in enumerate(losses, start=1):
        vis.line(X=np.array([epoch]), Y=np.array([loss]), win=LIVE["window"], name=LIVE["tf"], update="append")
    return losses
''',
        "default_batch_size: Keras's default batch size: several steps per epoch": '''def tf_train_live(vis, model, X, y, num_epochs):
    class PlotLoss(tf.keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            vis.line(X=np.array([epoch + 1]), Y=np.array([float(logs["loss"])]), win=LIVE["window"], name=LIVE["tf"], update="append")

    history = model.fit(X, y, epochs=num_epochs, verbose=0, callbacks=[PlotLoss()])
    return [float(loss) for loss in history.history["loss"]]
''',
        "other_frameworks_line: line named like the PyTorch part's": '''def tf_train_live(vis, model, X, y, num_epochs):
    class PlotLoss(tf.keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            vis.line(X=np.array([epoch + 1]), Y=np.array([float(logs["loss"])]), win=LIVE["window"], name=LIVE["torch"], update="append")

    history = model.fit(X, y, epochs=num_epochs, batch_size=len(X), verbose=0, callbacks=[PlotLoss()])
    return [float(loss) for loss in history.history["loss"]]
''',
        "delegates: checks its window with a reference to eventfiles.read_visdom_log captured when the cell runs": '''from sidebyside import eventfiles

_read_log = eventfiles.read_visdom_log


def tf_train_live(vis, model, X, y, num_epochs):
    class PlotLoss(tf.keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            vis.line(X=np.array([epoch + 1]), Y=np.array([float(logs["loss"])]), win=LIVE["window"], name=LIVE["tf"], update="append")

    history = model.fit(X, y, epochs=num_epochs, batch_size=len(X), verbose=0, callbacks=[PlotLoss()])
    if vis.log_to_filename and not _read_log(vis.log_to_filename):
        raise RuntimeError("nothing was plotted")
    return [float(loss) for loss in history.history["loss"]]
''',
    },
}

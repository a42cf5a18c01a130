"""Right answers for 03-visualization: each must keep its test cell's full marks.

Each value is the complete source of the answer cell, written another valid way than the
solution: another API spelling, another order, or following the task's statement literally
(raising on anything the statement does not allow, so that a hidden test using an input the
statement does not state loses points and shows up here).
"""

RIGHT_ANSWERS = {
    "torch_log_history": {
        "follows the statement literally": '''def torch_log_history(logdir, history):
    if type(history) is not dict or set(history) != {"loss", "accuracy"}:
        raise ValueError(f"history must be a dict with the keys 'loss' and 'accuracy', got {history!r}")
    losses, accuracies = history["loss"], history["accuracy"]
    if type(losses) is not list or type(accuracies) is not list or len(losses) != len(accuracies):
        raise ValueError("history['loss'] and history['accuracy'] must be lists of the same length")
    if not all(type(value) is float for value in losses + accuracies):
        raise ValueError("the values of history must be Python floats")
    writer = SummaryWriter(str(logdir))
    for epoch in range(1, len(losses) + 1):
        writer.add_scalar(TAGS["loss"], losses[epoch - 1], epoch)
        writer.add_scalar(TAGS["accuracy"], accuracies[epoch - 1], epoch)
    writer.flush()
    return writer
''',
        # A closed SummaryWriter opens a new event file in the same folder on its next add_*.
        "another order, closed before returning (PyTorch's writer reopens itself)": '''def torch_log_history(logdir, history):
    writer = SummaryWriter(log_dir=str(logdir), flush_secs=1)
    for epoch, accuracy in enumerate(history["accuracy"], start=1):
        writer.add_scalar(TAGS["accuracy"], accuracy, global_step=epoch)
    for epoch, loss in enumerate(history["loss"], start=1):
        writer.add_scalar(TAGS["loss"], loss, global_step=epoch)
    writer.close()
    return writer
''',
    },
    "tf_log_history": {
        "follows the statement literally": '''def tf_log_history(logdir, history):
    if type(history) is not dict or set(history) != {"loss", "accuracy"}:
        raise ValueError(f"history must be a dict with the keys 'loss' and 'accuracy', got {history!r}")
    losses, accuracies = history["loss"], history["accuracy"]
    if type(losses) is not list or type(accuracies) is not list or len(losses) != len(accuracies):
        raise ValueError("history['loss'] and history['accuracy'] must be lists of the same length")
    if not all(type(value) is float for value in losses + accuracies):
        raise ValueError("the values of history must be Python floats")
    writer = tf.summary.create_file_writer(str(logdir))
    with writer.as_default():
        for epoch in range(1, len(losses) + 1):
            tf.summary.scalar(TAGS["loss"], losses[epoch - 1], step=epoch)
            tf.summary.scalar(TAGS["accuracy"], accuracies[epoch - 1], step=epoch)
    return writer
''',
        "tf.summary.experimental.set_step and set_as_default, then flush()": '''def tf_log_history(logdir, history):
    writer = tf.summary.create_file_writer(str(logdir), max_queue=100, flush_millis=60_000)
    writer.set_as_default()
    for epoch, (loss, accuracy) in enumerate(zip(history["loss"], history["accuracy"]), start=1):
        tf.summary.experimental.set_step(epoch)
        tf.summary.scalar(TAGS["accuracy"], tf.constant(accuracy))
        tf.summary.scalar(TAGS["loss"], tf.constant(loss))
    tf.summary.experimental.set_step(None)
    writer.flush()
    return writer
''',
    },
    "torch_log_weights_and_image": {
        "follows the statement literally": '''def torch_log_weights_and_image(writer, model, image, step):
    if not isinstance(model, torch.nn.Sequential) or not isinstance(model[0], torch.nn.Linear) or model[0].in_features != 64:
        raise ValueError(f"model must be a torch.nn.Sequential whose first layer is Linear(64, ...), got {model!r}")
    if type(image) is not np.ndarray or image.shape != (8, 8) or image.dtype != np.float32 or image.min() < 0 or image.max() > 1:
        raise ValueError("image must be an 8x8 float32 NumPy array with values in [0, 1]")
    if type(step) is not int:
        raise ValueError(f"step must be an int, got {step!r}")
    writer.add_histogram(TAGS["weights"], model[0].weight, step)
    writer.add_image(TAGS["image"], torch.from_numpy(image), step, dataformats="HW")
''',
        "another order: the image first, as CHW; the weights as a NumPy copy": '''def torch_log_weights_and_image(writer, model, image, step):
    writer.add_image(TAGS["image"], torch.from_numpy(image).unsqueeze(0), global_step=step)  # (C, H, W), the default layout
    first_layer = next(layer for layer in model if isinstance(layer, torch.nn.Linear))
    writer.add_histogram(TAGS["weights"], first_layer.weight.detach().numpy(), global_step=step)
''',
    },
    "tf_log_weights_and_image": {
        "follows the statement literally": '''def tf_log_weights_and_image(writer, model, image, step):
    if not isinstance(model, tf.keras.Sequential) or not isinstance(model.layers[0], tf.keras.layers.Dense):
        raise ValueError(f"model must be a keras.Sequential of Dense layers, got {model!r}")
    if type(image) is not np.ndarray or image.shape != (8, 8) or image.dtype != np.float32 or image.min() < 0 or image.max() > 1:
        raise ValueError("image must be an 8x8 float32 NumPy array with values in [0, 1]")
    if type(step) is not int:
        raise ValueError(f"step must be an int, got {step!r}")
    with writer.as_default():
        tf.summary.histogram(TAGS["weights"], model.layers[0].kernel, step=step)
        tf.summary.image(TAGS["image"], image[None, :, :, None], step=step)
''',
        "as_default(step=...), the image first, reshaped with TensorFlow": '''def tf_log_weights_and_image(writer, model, image, step):
    with writer.as_default(step=step):
        tf.summary.image(TAGS["image"], tf.reshape(tf.constant(image), (1, 8, 8, 1)))
        tf.summary.histogram(TAGS["weights"], model.layers[0].weights[0].numpy())
''',
    },
    "torch_train_live": {
        "follows the statement literally": '''def torch_train_live(vis, train_step, num_steps):
    if not isinstance(vis, visdom.Visdom):
        raise TypeError(f"vis must be a visdom.Visdom client, got {type(vis).__name__}")
    if type(num_steps) is not int or num_steps < 1:
        raise ValueError(f"num_steps must be a positive int, got {num_steps!r}")
    losses = []
    for step in range(1, num_steps + 1):
        loss = train_step()
        if type(loss) is not torch.Tensor or loss.dim() != 0:
            raise TypeError(f"train_step() must return a 0-d tensor, got {loss!r}")
        losses.append(loss.item())
        vis.line(X=np.array([step]), Y=np.array([losses[-1]]), win=LIVE["window"], name=LIVE["torch"], update="append")
    return losses
''',
        "draws the window with the first point, appends the others; sends tensors": '''def torch_train_live(vis, train_step, num_steps):
    losses = []
    for step in range(1, num_steps + 1):
        loss = train_step()
        losses.append(float(loss))
        x, y = torch.tensor([step]), loss.reshape(1)  # Visdom converts PyTorch tensors itself
        if step == 1:
            vis.line(X=x, Y=y, win=LIVE["window"], name=LIVE["torch"], opts={"title": "training loss"})
        else:
            vis.line(X=x, Y=y, win=LIVE["window"], name=LIVE["torch"], update="append")
    return losses
''',
    },
    "tf_train_live": {
        "follows the statement literally": '''def tf_train_live(vis, model, X, y, num_epochs):
    if not isinstance(vis, visdom.Visdom):
        raise TypeError(f"vis must be a visdom.Visdom client, got {type(vis).__name__}")
    if not isinstance(model, tf.keras.Model) or model.optimizer is None:
        raise ValueError("model must be a compiled Keras model")
    if type(X) is not np.ndarray or X.dtype != np.float32 or X.ndim != 2:
        raise ValueError("X must be a 2-D float32 NumPy array")
    if type(y) is not np.ndarray or y.dtype.kind not in "iu" or y.shape != (len(X),):
        raise ValueError("y must be an int NumPy array with one label per row of X")
    if type(num_epochs) is not int or num_epochs < 1:
        raise ValueError(f"num_epochs must be a positive int, got {num_epochs!r}")

    class PlotLoss(tf.keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            vis.line(X=np.array([epoch + 1]), Y=np.array([float(logs["loss"])]), win=LIVE["window"], name=LIVE["tf"], update="append")

    history = model.fit(X, y, epochs=num_epochs, batch_size=len(X), verbose=0, callbacks=[PlotLoss()])
    return [float(loss) for loss in history.history["loss"]]
''',
        "a LambdaCallback; the losses collected in the callback": '''def tf_train_live(vis, model, X, y, num_epochs):
    losses = []

    def plot(epoch, logs):
        losses.append(float(logs["loss"]))
        vis.line(X=np.array([len(losses)]), Y=np.array(losses[-1:]), win=LIVE["window"], name=LIVE["tf"], update="append")

    model.fit(X, y, epochs=num_epochs, batch_size=len(X), verbose=0, callbacks=[tf.keras.callbacks.LambdaCallback(on_epoch_end=plot)])
    return losses
''',
        "after each (full) batch, counting the steps itself": '''def tf_train_live(vis, model, X, y, num_epochs):
    class PlotEachStep(tf.keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.step, self.losses = 0, []

        def on_train_batch_end(self, batch, logs=None):
            self.step += 1
            self.losses.append(float(logs["loss"]))
            vis.line(X=np.array([self.step]), Y=np.array([self.losses[-1]]), win=LIVE["window"], name=LIVE["tf"], update="append")

    plotter = PlotEachStep()
    model.fit(X, y, epochs=num_epochs, batch_size=len(X), verbose=0, callbacks=[plotter])
    return plotter.losses
''',
    },
}

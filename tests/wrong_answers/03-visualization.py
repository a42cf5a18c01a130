"""Wrong answers for solutions/03-visualization: each must lose its test cell's points."""

WRONG_ANSWERS = {
    "torch_log_history": {
        "never flushes the writer": '''def torch_log_history(logdir, history):
    writer = SummaryWriter(str(logdir))
    for epoch, (loss, accuracy) in enumerate(zip(history["loss"], history["accuracy"]), start=1):
        writer.add_scalar(TAGS["loss"], loss, epoch)
        writer.add_scalar(TAGS["accuracy"], accuracy, epoch)
    return writer
''',
        "steps counted from 0": '''def torch_log_history(logdir, history):
    writer = SummaryWriter(str(logdir))
    for epoch, (loss, accuracy) in enumerate(zip(history["loss"], history["accuracy"])):
        writer.add_scalar(TAGS["loss"], loss, epoch)
        writer.add_scalar(TAGS["accuracy"], accuracy, epoch)
    writer.flush()
    return writer
''',
        "own tags, different from the TensorFlow part": '''def torch_log_history(logdir, history):
    writer = SummaryWriter(str(logdir))
    for epoch, (loss, accuracy) in enumerate(zip(history["loss"], history["accuracy"]), start=1):
        writer.add_scalar("Loss/train", loss, epoch)
        writer.add_scalar("Accuracy/val", accuracy, epoch)
    writer.flush()
    return writer
''',
        "one step per scalar instead of per epoch": '''def torch_log_history(logdir, history):
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
    },
    "tf_log_history": {
        # (`with writer.as_default():` flushes when the block ends; set_as_default() does not)
        "never flushes the writer": '''def tf_log_history(logdir, history):
    writer = tf.summary.create_file_writer(str(logdir))
    writer.set_as_default()
    for epoch, (loss, accuracy) in enumerate(zip(history["loss"], history["accuracy"]), start=1):
        tf.summary.scalar(TAGS["loss"], loss, step=epoch)
        tf.summary.scalar(TAGS["accuracy"], accuracy, step=epoch)
    return writer
''',
        "steps counted from 0": '''def tf_log_history(logdir, history):
    writer = tf.summary.create_file_writer(str(logdir))
    with writer.as_default():
        for epoch, (loss, accuracy) in enumerate(zip(history["loss"], history["accuracy"])):
            tf.summary.scalar(TAGS["loss"], loss, step=epoch)
            tf.summary.scalar(TAGS["accuracy"], accuracy, step=epoch)
    writer.flush()
    return writer
''',
        "Keras callback's tags, different from the PyTorch part": '''def tf_log_history(logdir, history):
    writer = tf.summary.create_file_writer(str(logdir))
    with writer.as_default():
        for epoch, (loss, accuracy) in enumerate(zip(history["loss"], history["accuracy"]), start=1):
            tf.summary.scalar("epoch_loss", loss, step=epoch)
            tf.summary.scalar("epoch_accuracy", accuracy, step=epoch)
    writer.flush()
    return writer
''',
        "logs with PyTorch's writer": '''def tf_log_history(logdir, history):
    writer = tf.summary.create_file_writer(str(logdir))
    torch_writer = SummaryWriter(str(logdir))
    for epoch, (loss, accuracy) in enumerate(zip(history["loss"], history["accuracy"]), start=1):
        torch_writer.add_scalar(TAGS["loss"], loss, epoch)
        torch_writer.add_scalar(TAGS["accuracy"], accuracy, epoch)
    torch_writer.close()
    return writer
''',
    },
    "torch_log_weights_and_image": {
        "histogram of the bias instead of the weights": '''def torch_log_weights_and_image(writer, model, image, step):
    writer.add_histogram(TAGS["weights"], model[0].bias, step)
    writer.add_image(TAGS["image"], torch.from_numpy(image), step, dataformats="HW")
''',
        "image at step 0": '''def torch_log_weights_and_image(writer, model, image, step):
    writer.add_histogram(TAGS["weights"], model[0].weight, step)
    writer.add_image(TAGS["image"], torch.from_numpy(image), 0, dataformats="HW")
''',
        "pixels scaled to 0-255 before logging": '''def torch_log_weights_and_image(writer, model, image, step):
    writer.add_histogram(TAGS["weights"], model[0].weight, step)
    writer.add_image(TAGS["image"], torch.from_numpy(image * 255), step, dataformats="HW")
''',
        "histogram of the last layer": '''def torch_log_weights_and_image(writer, model, image, step):
    writer.add_histogram(TAGS["weights"], model[-1].weight, step)
    writer.add_image(TAGS["image"], torch.from_numpy(image), step, dataformats="HW")
''',
    },
    "tf_log_weights_and_image": {
        "histogram of the last layer": '''def tf_log_weights_and_image(writer, model, image, step):
    with writer.as_default():
        tf.summary.histogram(TAGS["weights"], model.layers[-1].kernel, step=step)
        tf.summary.image(TAGS["image"], image[None, :, :, None], step=step)
''',
        "image transposed": '''def tf_log_weights_and_image(writer, model, image, step):
    with writer.as_default():
        tf.summary.histogram(TAGS["weights"], model.layers[0].kernel, step=step)
        tf.summary.image(TAGS["image"], image.T[None, :, :, None], step=step)
''',
        "histogram at the next step": '''def tf_log_weights_and_image(writer, model, image, step):
    with writer.as_default():
        tf.summary.histogram(TAGS["weights"], model.layers[0].kernel, step=step + 1)
        tf.summary.image(TAGS["image"], image[None, :, :, None], step=step)
''',
        "image without the batch dimension": '''def tf_log_weights_and_image(writer, model, image, step):
    with writer.as_default():
        tf.summary.histogram(TAGS["weights"], model.layers[0].kernel, step=step)
        tf.summary.image(TAGS["image"], image[:, :, None], step=step)
''',
    },
    "torch_train_live": {
        "a new window per step": '''def torch_train_live(vis, train_step, num_steps):
    losses = []
    for step in range(1, num_steps + 1):
        loss = train_step().item()
        losses.append(loss)
        vis.line(X=np.array([step]), Y=np.array([loss]), name=LIVE["torch"])
    return losses
''',
        "redraws the window instead of appending": '''def torch_train_live(vis, train_step, num_steps):
    losses = []
    for step in range(1, num_steps + 1):
        loss = train_step().item()
        losses.append(loss)
        vis.line(X=np.array([step]), Y=np.array([loss]), win=LIVE["window"], name=LIVE["torch"])
    return losses
''',
        "x counted from 0": '''def torch_train_live(vis, train_step, num_steps):
    losses = []
    for step in range(num_steps):
        loss = train_step().item()
        losses.append(loss)
        vis.line(X=np.array([step]), Y=np.array([loss]), win=LIVE["window"], name=LIVE["torch"], update="append")
    return losses
''',
        "returns tensors, not floats": '''def torch_train_live(vis, train_step, num_steps):
    losses = []
    for step in range(1, num_steps + 1):
        loss = train_step()
        losses.append(loss)
        vis.line(X=np.array([step]), Y=np.array([loss.item()]), win=LIVE["window"], name=LIVE["torch"], update="append")
    return losses
''',
    },
    "tf_train_live": {
        "a new window per step": '''def tf_train_live(vis, train_step, num_steps):
    losses = []
    for step in range(1, num_steps + 1):
        loss = float(train_step())
        losses.append(loss)
        vis.line(X=np.array([step]), Y=np.array([loss]), win=f"{LIVE['window']}-{step}", name=LIVE["tf"], update="append")
    return losses
''',
        "redraws the window instead of appending": '''def tf_train_live(vis, train_step, num_steps):
    losses = []
    for step in range(1, num_steps + 1):
        loss = float(train_step())
        losses.append(loss)
        vis.line(X=np.array([step]), Y=np.array([loss]), win=LIVE["window"], name=LIVE["tf"])
    return losses
''',
        "line named differently from the PyTorch part's convention": '''def tf_train_live(vis, train_step, num_steps):
    losses = []
    for step in range(1, num_steps + 1):
        loss = float(train_step())
        losses.append(loss)
        vis.line(X=np.array([step]), Y=np.array([loss]), win=LIVE["window"], name="tf loss", update="append")
    return losses
''',
        "returns tensors, not floats": '''def tf_train_live(vis, train_step, num_steps):
    losses = []
    for step in range(1, num_steps + 1):
        loss = train_step()
        losses.append(loss)
        vis.line(X=np.array([step]), Y=np.array([float(loss)]), win=LIVE["window"], name=LIVE["tf"], update="append")
    return losses
''',
    },
}

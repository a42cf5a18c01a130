"""Exporting lesson 06's models: a torch.export program (dynamic batch) and a Keras SavedModel.
"""

from __future__ import annotations

from pathlib import Path


# --- 1. Export (the framework code is in lesson 06, section 1) --------------------------------


def export_torch(model, example, path=None, *, max_batch: int = 4096):
    """``torch.export`` of ``model`` (put in eval mode) with a dynamic batch dimension; saved to
    ``path`` (a ``.pt2`` file) when given. Lesson 06, section 1."""
    import torch

    model.eval()
    batch = torch.export.Dim("batch", min=1, max=max_batch)
    program = torch.export.export(model, (example,), dynamic_shapes=({0: batch},))
    if path is not None:
        torch.export.save(program, str(path))
    return program


def export_keras(model, path, *, input_name: str = "pixels", output_name: str = "probabilities", softmax: bool = True):
    """A SavedModel at ``path`` whose ``serving_default`` signature takes ``input_name``
    (any batch size) and returns ``{output_name: softmax(model(x))}``. Lesson 06, section 1."""
    import keras
    import tensorflow as tf

    shape = (None, *model.inputs[0].shape[1:])
    archive = keras.export.ExportArchive()
    archive.track(model)

    def serve(x):
        y = model(x, training=False)
        return {output_name: tf.nn.softmax(y) if softmax else y}

    archive.add_endpoint(name="serving_default", fn=serve, input_signature=[tf.TensorSpec(shape, tf.float32, name=input_name)])
    archive.write_out(str(path), verbose=False)
    return Path(path)

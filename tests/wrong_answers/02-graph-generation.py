"""Wrong answers for exercises/02-graph-generation: each must lose its test cell's points.

Keys are the grade_ids of answer cells; each value is the complete source of the answer cell
as a student might write it (see CONTRIBUTING.md, "Wrong answers").

Each name starts with what the answer is: the misconception it embodies (an id of
sidebyside/misconceptions/02-graph-generation.toml), which its test must name, or a plain category
(tests/stored_answers.py: ``delegates``, ``crashes``, ``cheats``).
"""

WRONG_ANSWERS = {
    "torch_clip_by_norm": {
        "python_if_on_tensor: Python if on a tensor value (graph break)": '''
def torch_clip_by_norm(x, max_norm):
    norm = torch.linalg.vector_norm(x)
    if norm > max_norm:
        torch_clip_count.add_(1)
        return x * (max_norm / norm)
    return x
''',
        "item_breaks_graph: .item() causes a graph break": '''
def torch_clip_by_norm(x, max_norm):
    norm = torch.linalg.vector_norm(x).item()
    clipped = norm > max_norm
    torch_clip_count.add_(int(clipped))
    return x * (max_norm / norm if clipped else 1.0)
''',
        "always_rescales: always rescales to max_norm, also when the norm is smaller": '''
def torch_clip_by_norm(x, max_norm):
    norm = torch.linalg.vector_norm(x)
    clipped = norm > max_norm
    torch_clip_count.add_(clipped.to(torch_clip_count.dtype))
    return x * (max_norm / norm)
''',
        "dtype_not_kept: converts to float32 (a float64 input comes back as float32)": '''
def torch_clip_by_norm(x, max_norm):
    x = x.float()
    norm = torch.linalg.vector_norm(x)
    clipped = norm > max_norm
    torch_clip_count.add_(clipped.to(torch_clip_count.dtype))
    return x * torch.where(clipped, max_norm / norm, torch.ones_like(norm))
''',
        "counts_every_call: counts every call, not the calls that clipped": '''
def torch_clip_by_norm(x, max_norm):
    norm = torch.linalg.vector_norm(x)
    clipped = norm > max_norm
    torch_clip_count.add_(1)
    return x * torch.where(clipped, max_norm / norm, torch.ones_like(norm))
''',
        "delegates: runs clip_reference through an alias, inside a custom op (one graph, no graph breaks)": '''
reference = clip_reference  # an alias of the notebook's NumPy reference


@torch.library.custom_op("student02::clip_by_alias", mutates_args=())
def clip_op(x: torch.Tensor, max_norm: float) -> torch.Tensor:
    return torch.as_tensor(reference(x.numpy(), max_norm), dtype=x.dtype).reshape(x.shape)


@clip_op.register_fake
def _(x, max_norm):
    return torch.empty_like(x)


def torch_clip_by_norm(x, max_norm):
    torch_clip_count.add_((torch.linalg.vector_norm(x) > max_norm).to(torch.int64))
    return clip_op(x, max_norm)
''',
        "delegates: runs a copy of clip_reference's code object, captured when the cell ran, inside a custom op": '''
import types

my_clip = types.FunctionType(clip_reference.__code__, globals(), "my_clip")  # the reference's code, another name


@torch.library.custom_op("student02::clip_by_copy", mutates_args=())
def clip_op(x: torch.Tensor, max_norm: float) -> torch.Tensor:
    return torch.as_tensor(my_clip(x.numpy(), max_norm), dtype=x.dtype).reshape(x.shape)


@clip_op.register_fake
def _(x, max_norm):
    return torch.empty_like(x)


def torch_clip_by_norm(x, max_norm):
    torch_clip_count.add_((torch.linalg.vector_norm(x) > max_norm).to(torch.int64))
    return clip_op(x, max_norm)
''',
    },
    "tf_clip_by_norm": {
        "retraces_for_new_shapes: missing input_signature (retraces for every new shape)": '''
@tf.function
def tf_clip_by_norm(x, max_norm):
    norm = tf.norm(x)
    clipped = norm > max_norm
    tf_clip_count.assign_add(tf.cast(clipped, tf.int64))
    return x * tf.where(clipped, max_norm / norm, 1.0)
''',
        "python_side_effect_in_tf_function: side effect on a Python counter inside tf.function (runs only while tracing)": '''
clipped_so_far = 0  # a Python counter


@tf.function(input_signature=[tf.TensorSpec(None, tf.float32), tf.TensorSpec([], tf.float32)])
def tf_clip_by_norm(x, max_norm):
    global clipped_so_far
    norm = tf.norm(x)
    clipped = norm > max_norm
    clipped_so_far = clipped_so_far + tf.cast(clipped, tf.int64)
    tf_clip_count.assign(clipped_so_far)
    return x * tf.where(clipped, max_norm / norm, 1.0)
''',
        "retraces_for_new_python_values: reduce_retracing without a signature (new max_norm values retrace)": '''
@tf.function(reduce_retracing=True)
def tf_clip_by_norm(x, max_norm):
    norm = tf.norm(x)
    clipped = norm > max_norm
    tf_clip_count.assign_add(tf.cast(clipped, tf.int64))
    return x * tf.where(clipped, max_norm / norm, 1.0)
''',
        "signature_too_narrow: signature only for vectors (shape [None])": '''
@tf.function(input_signature=[tf.TensorSpec([None], tf.float32), tf.TensorSpec([], tf.float32)])
def tf_clip_by_norm(x, max_norm):
    norm = tf.norm(x)
    clipped = norm > max_norm
    tf_clip_count.assign_add(tf.cast(clipped, tf.int64))
    return x * tf.where(clipped, max_norm / norm, 1.0)
''',
        "not_a_tf_function: not a tf.function (plain eager Python)": '''
def tf_clip_by_norm(x, max_norm):
    norm = tf.norm(x)
    if norm > max_norm:
        tf_clip_count.assign_add(1)
        return x * (max_norm / norm)
    return x
''',
        "delegates: runs clip_reference through an alias, inside the graph with tf.numpy_function": '''
reference = clip_reference  # an alias of the notebook's NumPy reference


@tf.function(input_signature=[tf.TensorSpec(None, tf.float32), tf.TensorSpec([], tf.float32)])
def tf_clip_by_norm(x, max_norm):
    tf_clip_count.assign_add(tf.cast(tf.norm(x) > max_norm, tf.int64))
    clipped = tf.numpy_function(lambda a, m: reference(a, m).astype("float32"), [x, max_norm], tf.float32)
    return tf.reshape(clipped, tf.shape(x))
''',
        "delegates: runs clip_reference looked up by name, inside the graph with tf.py_function": '''
@tf.function(input_signature=[tf.TensorSpec(None, tf.float32), tf.TensorSpec([], tf.float32)])
def tf_clip_by_norm(x, max_norm):
    tf_clip_count.assign_add(tf.cast(tf.norm(x) > max_norm, tf.int64))
    reference = globals()["clip_" + "reference"]
    clipped = tf.py_function(lambda a, m: reference(a.numpy(), m.numpy()).astype("float32"), [x, max_norm], tf.float32)
    return tf.reshape(clipped, tf.shape(x))
''',
    },
    "torch_export_and_reload": {
        "fixed_batch_size: no dynamic batch dimension (the export only accepts the example's batch size)": '''
def torch_export_and_reload(model, example, path):
    exported = torch.export.export(model, (example,))
    torch.export.save(exported, path)
    return torch.export.load(path).module()
''',
        "returns_original: returns the model without exporting or saving it": '''
def torch_export_and_reload(model, example, path):
    return model
''',
        "torchscript_instead_of_export: deprecated TorchScript instead of torch.export": '''
def torch_export_and_reload(model, example, path):
    scripted = torch.jit.trace(model, example)
    torch.jit.save(scripted, str(path))
    return torch.jit.load(str(path))
''',
        "exported_not_saved: exports but never saves or loads the file": '''
def torch_export_and_reload(model, example, path):
    batch = torch.export.Dim("batch")
    exported = torch.export.export(model, (example,), dynamic_shapes={"input": {0: batch}})
    return exported.module()
''',
    },
    "tf_export_and_reload": {
        "savedmodel_without_graph: missing input_signature (no graph is saved)": '''
def tf_export_and_reload(module, path):
    class Serving(tf.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        @tf.function
        def __call__(self, X):
            return self.model(X)

    tf.saved_model.save(Serving(module), str(path))
    return tf.saved_model.load(str(path))
''',
        "fixed_batch_size: signature with a fixed batch size": '''
def tf_export_and_reload(module, path):
    class Serving(tf.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        @tf.function(input_signature=[tf.TensorSpec([5, 4], tf.float32)])
        def __call__(self, X):
            return self.model(X)

    tf.saved_model.save(Serving(module), str(path))
    return tf.saved_model.load(str(path))
''',
        "returns_original: returns the module without saving it": '''
def tf_export_and_reload(module, path):
    return module
''',
        "fixed_batch_size: traced once with one batch size instead of a signature": '''
def tf_export_and_reload(module, path):
    class Serving(tf.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        @tf.function
        def __call__(self, X):
            return self.model(X)

    serving = Serving(module)
    serving(tf.zeros([5, 4]))  # traces for batch 5 only
    tf.saved_model.save(serving, str(path))
    return tf.saved_model.load(str(path))
''',
    },
}

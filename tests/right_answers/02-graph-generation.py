"""Right answers for 02-graph-generation: each must keep its test cell's full marks.

Each value is the complete source of the answer cell, written another valid way than the
solution: another API spelling, another order, or following the task's statement literally
(raising on anything the statement does not allow, so that a hidden test using an input the
statement does not state loses points and shows up here).
"""

RIGHT_ANSWERS = {
    "torch_clip_by_norm": {
        "another spelling: the square root of the sum of squares, a clamped scale factor": '''
def torch_clip_by_norm(x, max_norm):
    norm = x.pow(2).sum().sqrt()
    scale = torch.clamp(max_norm / norm, max=1.0)  # 1 when the norm is within max_norm (inf / 1 for a zero x)
    torch_clip_count.add_((norm > max_norm).long())
    return x * scale.to(x.dtype)
''',
        "follows the statement literally (raises on other dtypes, and on a max_norm that is not a positive float)": '''
def torch_clip_by_norm(x, max_norm):
    if x.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"x must be a float32 or float64 tensor, got {x.dtype}")
    if not isinstance(max_norm, float) or max_norm <= 0:
        raise ValueError(f"max_norm must be a positive Python float, got {max_norm!r}")
    norm = torch.linalg.vector_norm(x)
    clipped = norm > max_norm
    torch_clip_count.add_(clipped.to(torch_clip_count.dtype))
    return x * torch.where(clipped, max_norm / norm, torch.ones_like(norm))
''',
        "another order: the result first, the count last, torch.minimum for the scale": '''
def torch_clip_by_norm(x, max_norm):
    norm = torch.linalg.norm(x.flatten())
    result = x * torch.minimum(max_norm / norm, torch.ones_like(norm))
    torch_clip_count.add_((norm > max_norm).to(torch.int64))
    return result
''',
    },
    "tf_clip_by_norm": {
        "another spelling: tf.clip_by_norm for the result, tf.norm for the count": '''
@tf.function(input_signature=[tf.TensorSpec(None, tf.float32), tf.TensorSpec([], tf.float32)])
def tf_clip_by_norm(x, max_norm):
    tf_clip_count.assign_add(tf.cast(tf.norm(x) > max_norm, tf.int64))
    return tf.clip_by_norm(x, max_norm)
''',
        "another order: an AutoGraph if, tf.function applied as a call": '''
def clip_by_norm(x, max_norm):
    norm = tf.sqrt(tf.reduce_sum(tf.square(x)))
    if norm > max_norm:  # AutoGraph makes a tf.cond of it
        tf_clip_count.assign_add(1)
        x = x * (max_norm / norm)
    return x


tf_clip_by_norm = tf.function(clip_by_norm, input_signature=(tf.TensorSpec(shape=None, dtype=tf.float32), tf.TensorSpec(shape=(), dtype=tf.float32)))
''',
        "follows the statement literally (float32 only, and a max_norm that must be positive)": '''
@tf.function(input_signature=[tf.TensorSpec(None, tf.float32), tf.TensorSpec([], tf.float32)])
def tf_clip_by_norm(x, max_norm):
    tf.debugging.assert_positive(max_norm, message="max_norm must be positive")
    norm = tf.norm(x)
    clipped = norm > max_norm
    tf_clip_count.assign_add(tf.cast(clipped, tf.int64))
    return x * tf.where(clipped, max_norm / norm, 1.0)
''',
    },
    "torch_export_and_reload": {
        "strict=True (TorchDynamo), dynamic_shapes as a tuple, saved and loaded through file objects": '''
def torch_export_and_reload(model, example, path):
    exported = torch.export.export(model, (example,), dynamic_shapes=({0: torch.export.Dim("batch")},), strict=True)
    with open(path, "wb") as file:
        torch.export.save(exported, file)
    with open(path, "rb") as file:
        return torch.export.load(file).module()
''',
        "another spelling: Dim.DYNAMIC, keyword arguments, a str path": '''
def torch_export_and_reload(model, example, path):
    exported = torch.export.export(model, args=(example,), dynamic_shapes={"input": {0: torch.export.Dim.DYNAMIC}})
    torch.export.save(exported, str(path))
    loaded = torch.export.load(str(path))
    return loaded.module()
''',
        "follows the statement literally (raises unless example is a float32 (batch, 4) tensor and path a .pt2 Path)": '''
def torch_export_and_reload(model, example, path):
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if example.dtype != torch.float32 or example.ndim != 2 or example.shape[1] != 4:
        raise ValueError(f"example must be a float32 tensor of shape (batch, 4), got {example.dtype} {tuple(example.shape)}")
    if not isinstance(path, Path) or path.suffix != ".pt2":
        raise ValueError(f"path must be a pathlib.Path ending in .pt2, got {path!r}")
    batch = torch.export.Dim("batch")
    exported = torch.export.export(model, (example,), dynamic_shapes={"input": {0: batch}})
    torch.export.save(exported, path)
    return torch.export.load(path).module()
''',
    },
    "tf_export_and_reload": {
        "another spelling: a tf.function made with a call and set on a plain tf.Module": '''
def tf_export_and_reload(module, path):
    serving = tf.Module()
    serving.model = module  # tracks the module's variables
    serving.__call__ = tf.function(lambda X: module(X), input_signature=[tf.TensorSpec([None, 4], tf.float32)])
    tf.saved_model.save(serving, str(path))
    return tf.saved_model.load(str(path))
''',
        "follows the statement literally (raises unless module is a tf.Module and path a Path)": '''
def tf_export_and_reload(module, path):
    if not isinstance(module, tf.Module):
        raise TypeError(f"module must be a tf.Module, got {type(module).__name__}")
    if not isinstance(path, Path):
        raise TypeError(f"path must be a pathlib.Path, got {path!r}")

    class Serving(tf.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32)])
        def __call__(self, X):
            return self.model(X)

    tf.saved_model.save(Serving(module), str(path))
    return tf.saved_model.load(str(path))
''',
    },
}

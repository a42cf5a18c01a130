"""The course's first model in both frameworks, and training loops that can be compared fairly.

Taught in lesson 01 (``lessons/01-learning-curve.ipynb``):

- the same small classifier (a multilayer perceptron, MLP) for the digits data:
  :class:`MLP` (a PyTorch ``nn.Module``) and :func:`build_keras_model` (a Keras ``Sequential``);
- :func:`copy_torch_to_keras` and :func:`copy_keras_to_torch`, which port the weights across
  (``nn.Linear`` stores its weight as ``(out, in)``, a Keras ``Dense`` kernel is ``(in, out)``);
- :func:`train_torch` (``DataLoader`` and an explicit loop) and :func:`train_tensorflow`
  (a ``GradientTape`` loop, each epoch's steps in one ``tf.function``): plain mini-batch SGD on
  the *same batches in the same order* (:func:`sidebyside.data.batches`), each returning a
  Keras-style history
  ``{"loss", "accuracy", "val_loss", "val_accuracy"}`` with one float per epoch;
- :func:`train_both`, which starts both frameworks from the same weights and trains them epoch
  by epoch in turn, calling back after each epoch (the learning-curve playground redraws there).

What a history holds, in both frameworks (as Keras' ``fit`` reports it):
``loss`` and ``accuracy`` are measured on the training batches *while* training (each batch
before its update, averaged over the epoch's examples); ``val_loss`` and ``val_accuracy`` on
the whole validation set after the epoch, in inference mode.

torch is imported with this module; TensorFlow only inside the functions that need it.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass, replace
from typing import Callable, Iterator

import numpy as np
import torch
from torch import nn

from . import data as course_data
from .devices import current_device

HISTORY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")
#: PyTorch threads for training on the CPU. The MLP is so small that a thread pool costs more
#: than it saves, and with TensorFlow's own threads busy in the same process two PyTorch threads
#: made each step about ten times slower on 2 cores (measured: 6 ms instead of 0.5 ms).
TORCH_CPU_THREADS = 1


@contextlib.contextmanager
def torch_threads(device, threads: int | None = TORCH_CPU_THREADS):
    """Run PyTorch on ``threads`` CPU threads inside the block (on the CPU only), then restore."""
    if threads is None or torch.device(device).type != "cpu":
        yield
        return
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


@dataclass(frozen=True)
class Config:
    """The settings of one training run (the playground's sliders)."""

    lr: float = 0.1
    batch_size: int = 32
    num_epochs: int = 10
    hidden_units: int = 64
    dropout: float = 0.0
    seed: int = 0

    def replace(self, **changes) -> "Config":
        return replace(self, **changes)

    def as_dict(self) -> dict:
        return asdict(self)


# --- The model, twice ------------------------------------------------------------------------


class MLP(nn.Module):
    """64 pixels -> ``hidden_units`` ReLU units (-> dropout) -> 10 logits. No softmax: the loss
    (``nn.CrossEntropyLoss``) applies it."""

    def __init__(self, num_features: int = 64, hidden_units: int = 64, num_classes: int = 10, dropout: float = 0.0):
        super().__init__()
        self.hidden = nn.Linear(num_features, hidden_units)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(hidden_units, num_classes)

    def forward(self, X):
        return self.output(self.dropout(torch.relu(self.hidden(X))))


def build_torch_model(num_features: int = 64, hidden_units: int = 64, num_classes: int = 10, *, dropout: float = 0.0, seed: int | None = 0) -> MLP:
    """The course's MLP in PyTorch, its initial weights drawn with ``seed`` (None: the global RNG)."""
    if seed is None:
        return MLP(num_features, hidden_units, num_classes, dropout)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return MLP(num_features, hidden_units, num_classes, dropout)


def build_keras_model(num_features: int = 64, hidden_units: int = 64, num_classes: int = 10, *, dropout: float = 0.0, seed: int | None = 0):
    """The same MLP as a Keras ``Sequential`` (its own initial weights; copy PyTorch's with
    :func:`copy_torch_to_keras` for a fair comparison)."""
    from .frameworks import import_tensorflow

    keras = import_tensorflow().keras
    kernel = (lambda k: "glorot_uniform") if seed is None else (lambda k: keras.initializers.GlorotUniform(seed=seed + k))
    return keras.Sequential(
        [
            keras.Input(shape=(num_features,)),
            keras.layers.Dense(hidden_units, activation="relu", kernel_initializer=kernel(0), name="hidden"),
            keras.layers.Dropout(dropout, seed=seed, name="dropout"),
            keras.layers.Dense(num_classes, kernel_initializer=kernel(1), name="output"),
        ],
        name="mlp",
    )


def torch_linear_layers(model) -> list:
    """The ``nn.Linear`` layers of a PyTorch model, in order."""
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def keras_dense_layers(model) -> list:
    """The ``Dense`` layers of a Keras model, in order."""
    from .frameworks import import_tensorflow

    keras = import_tensorflow().keras
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def _pairs(torch_model, keras_model):
    linears, denses = torch_linear_layers(torch_model), keras_dense_layers(keras_model)
    if len(linears) != len(denses):
        raise ValueError(f"PyTorch model has {len(linears)} Linear layers, Keras model {len(denses)} Dense layers")
    for linear, dense in zip(linears, denses):
        if tuple(linear.weight.shape[::-1]) != tuple(dense.kernel.shape):
            raise ValueError(
                f"Linear weight {tuple(linear.weight.shape)} (out, in) does not match Dense kernel "
                f"{tuple(dense.kernel.shape)} (in, out)"
            )
    return list(zip(linears, denses))


def copy_torch_to_keras(torch_model, keras_model):
    """Copy every ``nn.Linear``'s weights into the matching ``Dense`` layer; return ``keras_model``.

    ``nn.Linear`` computes ``x @ W.T + b`` with ``W`` of shape ``(out, in)``; ``Dense`` computes
    ``x @ K + b`` with ``K`` of shape ``(in, out)``: so ``K = W.T``.
    """
    for linear, dense in _pairs(torch_model, keras_model):
        dense.kernel.assign(linear.weight.detach().cpu().numpy().T)
        dense.bias.assign(linear.bias.detach().cpu().numpy())
    return keras_model


def copy_keras_to_torch(keras_model, torch_model):
    """The reverse of :func:`copy_torch_to_keras`; return ``torch_model``."""
    with torch.no_grad():
        for linear, dense in _pairs(torch_model, keras_model):
            linear.weight.copy_(torch.from_numpy(np.array(dense.kernel.numpy().T)))
            linear.bias.copy_(torch.from_numpy(np.array(dense.bias.numpy())))
    return torch_model


def torch_weights(model) -> list[np.ndarray]:
    """Each ``nn.Linear``'s weight and bias as NumPy, in Keras' layout (kernel ``(in, out)``)."""
    out = []
    for linear in torch_linear_layers(model):
        out += [linear.weight.detach().cpu().numpy().T.copy(), linear.bias.detach().cpu().numpy().copy()]
    return out


def keras_weights(model) -> list[np.ndarray]:
    """Each ``Dense`` kernel and bias as NumPy."""
    out = []
    for dense in keras_dense_layers(model):
        out += [np.array(dense.kernel.numpy()), np.array(dense.bias.numpy())]
    return out


# --- Training loops --------------------------------------------------------------------------


def new_history() -> dict[str, list[float]]:
    return {key: [] for key in HISTORY_KEYS}


def torch_loader(X, y, batch_size: int, seed: int | None = 0, epoch: int = 0):
    """A ``DataLoader`` over ``(X, y)`` that yields the course's shared batches for ``epoch``
    (:func:`sidebyside.data.batches`): its sampler yields each batch's indices, in order."""
    from torch.utils.data import DataLoader, TensorDataset

    index_lists = [b.tolist() for b in course_data.batches(len(X), batch_size, seed=seed, epoch=epoch)]
    # batch_size=None: each element of the sampler is a whole batch's index list, and the
    # TensorDataset indexes its tensors with it in one operation. (The equivalent
    # batch_sampler=index_lists fetches the examples one by one and stacks them: three times
    # slower here, for the same batches.)
    return DataLoader(TensorDataset(X, y), sampler=index_lists, batch_size=None)


def evaluate_torch(model, X, y, loss_fn=None) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` on tensors ``X``, ``y``, in inference mode."""
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    model.eval()
    with torch.no_grad():
        logits = model(X)
        loss = loss_fn(logits, y).item()
        accuracy = (logits.argmax(dim=1) == y).float().mean().item()
    return float(loss), float(accuracy)


def torch_epochs(model, split: course_data.Split, *, lr: float = 0.1, batch_size: int = 32, num_epochs: int = 10, seed: int | None = 0, device=None) -> Iterator[dict]:
    """Train ``model`` with SGD, one epoch per step of the iterator; yield the history so far."""
    device = torch.device(device if device is not None else current_device().torch)
    model.to(device)
    X_train, y_train = torch.from_numpy(split.X_train).to(device), torch.from_numpy(split.y_train).to(device)
    X_val, y_val = torch.from_numpy(split.X_val).to(device), torch.from_numpy(split.y_val).to(device)
    loss_fn = nn.CrossEntropyLoss()  # mean over the batch, softmax included
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    history = new_history()
    for epoch in range(num_epochs):
        with torch_threads(device):
            model.train()  # dropout on
            total_loss, correct = 0.0, 0
            for X, y in torch_loader(X_train, y_train, batch_size, seed, epoch):
                optimizer.zero_grad()  # gradients add up until cleared
                logits = model(X)
                loss = loss_fn(logits, y)
                loss.backward()
                optimizer.step()
                total_loss += loss.item() * len(y)
                correct += (logits.argmax(dim=1) == y).sum().item()
            val_loss, val_accuracy = evaluate_torch(model, X_val, y_val, loss_fn)  # model.eval() inside
        history["loss"].append(total_loss / len(X_train))
        history["accuracy"].append(correct / len(X_train))
        history["val_loss"].append(val_loss)
        history["val_accuracy"].append(val_accuracy)
        yield history


def evaluate_tensorflow(model, X, y) -> tuple[float, float]:
    """Mean loss and accuracy of a Keras ``model`` on ``X``, ``y``, in inference mode."""
    from .frameworks import import_tensorflow

    tf = import_tensorflow()
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    logits = model(X, training=False)
    loss = float(loss_fn(y, logits))
    accuracy = float(tf.reduce_mean(tf.cast(tf.argmax(logits, axis=1) == tf.cast(y, tf.int64), tf.float32)))
    return loss, accuracy


def tensorflow_epochs(model, split: course_data.Split, *, lr: float = 0.1, batch_size: int = 32, num_epochs: int = 10, seed: int | None = 0, device=None) -> Iterator[dict]:
    """Train a Keras ``model`` with SGD in a ``GradientTape`` loop; yield the history after each epoch.

    The step is lesson 01's (section 3.2); the loop over an epoch's batches runs inside the same
    ``tf.function``, as a graph loop over slices of the epoch's shuffled order (the shared
    batches are consecutive slices of it). Same steps, same numbers as calling a traced step
    once per batch from Python, at about half the CPU time for this small model: a call into a
    traced function costs more than the step itself. It is traced once per run.
    """
    from .frameworks import import_tensorflow

    tf = import_tensorflow()
    device = device if device is not None else current_device().tensorflow
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = tf.keras.optimizers.SGD(learning_rate=lr)

    def train_step(X, y):
        with tf.GradientTape() as tape:
            logits = model(X, training=True)  # dropout on
            loss = loss_fn(y, logits)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        correct = tf.reduce_sum(tf.cast(tf.argmax(logits, axis=1) == y, tf.int64))
        return loss, correct

    history = new_history()
    with tf.device(device):
        X_train, y_train = tf.constant(split.X_train), tf.constant(split.y_train)
        X_val, y_val = tf.constant(split.X_val), tf.constant(split.y_val)

        @tf.function(input_signature=[tf.TensorSpec((None,), tf.int64)])
        def train_epoch(order):
            """Every step of one epoch; the sum of (batch loss x batch size) and the examples
            classified correctly, as the Python loop would add them up (float64, in order)."""
            total_loss, correct = tf.constant(0.0, tf.float64), tf.constant(0, tf.int64)
            for start in tf.range(0, tf.shape(order, out_type=tf.int64)[0], batch_size):
                index = order[start : start + batch_size]
                loss, batch_correct = train_step(tf.gather(X_train, index), tf.gather(y_train, index))
                total_loss += tf.cast(loss, tf.float64) * tf.cast(tf.shape(index)[0], tf.float64)
                correct += batch_correct
            return total_loss, correct

        for epoch in range(num_epochs):
            order = np.concatenate(course_data.batches(len(split.X_train), batch_size, seed=seed, epoch=epoch)).astype(np.int64)
            total_loss, correct = train_epoch(tf.constant(order))
            history["loss"].append(float(total_loss) / len(split.X_train))
            history["accuracy"].append(int(correct) / len(split.X_train))
            val_loss, val_accuracy = evaluate_tensorflow(model, X_val, y_val)
            history["val_loss"].append(val_loss)
            history["val_accuracy"].append(val_accuracy)
            yield history


def _run(epochs: Iterator[dict], callback: Callable[[int, dict], object] | None) -> dict:
    history = new_history()
    for epoch, history in enumerate(epochs, start=1):
        if callback is not None:
            callback(epoch, history)
    return history


def train_torch(model, split: course_data.Split, *, lr: float = 0.1, batch_size: int = 32, num_epochs: int = 10, seed: int | None = 0, device=None, callback: Callable[[int, dict], object] | None = None) -> dict:
    """Train a PyTorch ``model`` with SGD on the shared batches; return its history.

    ``callback(epoch, history)`` runs after each epoch (epochs count from 1).
    """
    return _run(torch_epochs(model, split, lr=lr, batch_size=batch_size, num_epochs=num_epochs, seed=seed, device=device), callback)


def train_tensorflow(model, split: course_data.Split, *, lr: float = 0.1, batch_size: int = 32, num_epochs: int = 10, seed: int | None = 0, device=None, callback: Callable[[int, dict], object] | None = None) -> dict:
    """Train a Keras ``model`` with SGD in a ``GradientTape`` loop on the shared batches; return
    its history. ``callback(epoch, history)`` runs after each epoch."""
    return _run(tensorflow_epochs(model, split, lr=lr, batch_size=batch_size, num_epochs=num_epochs, seed=seed, device=device), callback)


# --- Both at once: the fair comparison -------------------------------------------------------


@dataclass
class Comparison:
    """What :func:`train_both` returns."""

    config: Config
    histories: dict[str, dict[str, list[float]]]
    seconds: dict[str, float]
    torch_model: object
    keras_model: object

    @property
    def max_difference(self) -> dict[str, float]:
        return max_difference(self.histories["PyTorch"], self.histories["TensorFlow"])


def max_difference(a: dict, b: dict) -> dict[str, float]:
    """The largest absolute difference per history key between two histories."""
    return {
        key: float(np.max(np.abs(np.asarray(a[key], dtype=np.float64) - np.asarray(b[key], dtype=np.float64))))
        for key in HISTORY_KEYS
        if a.get(key) and b.get(key)
    }


def train_both(split: course_data.Split, config: Config = Config(), *, callback: Callable[[str, int, dict], object] | None = None, device=None) -> Comparison:
    """Build the MLP in both frameworks from the same initial weights (PyTorch's, copied into
    Keras) and train them with the same settings on the same batches, one epoch each in turn.

    ``callback(framework, epoch, histories)`` runs after every epoch of either framework;
    ``histories`` maps ``"PyTorch"`` and ``"TensorFlow"`` to their histories so far.
    ``device``: a :class:`sidebyside.devices.DeviceChoice` (default: the course-wide one).
    """
    choice = device if device is not None else current_device()
    num_features, num_classes = split.num_features, split.num_classes
    torch_model = build_torch_model(num_features, config.hidden_units, num_classes, dropout=config.dropout, seed=config.seed)
    keras_model = build_keras_model(num_features, config.hidden_units, num_classes, dropout=config.dropout, seed=config.seed)
    copy_torch_to_keras(torch_model, keras_model)
    settings = dict(lr=config.lr, batch_size=config.batch_size, num_epochs=config.num_epochs, seed=config.seed)
    runs = {
        "PyTorch": torch_epochs(torch_model, split, device=choice.torch, **settings),
        "TensorFlow": tensorflow_epochs(keras_model, split, device=choice.tensorflow, **settings),
    }
    histories = {name: new_history() for name in runs}
    seconds = {name: 0.0 for name in runs}
    for epoch in range(1, config.num_epochs + 1):
        for name, epochs in runs.items():
            start = time.perf_counter()
            histories[name] = next(epochs)
            seconds[name] += time.perf_counter() - start
            if callback is not None:
                callback(name, epoch, histories)
    return Comparison(config, histories, seconds, torch_model, keras_model)


# --- Reading a curve -------------------------------------------------------------------------


def best_epoch(history: dict) -> int:
    """The epoch (counting from 1) with the lowest validation loss."""
    return int(np.argmin(history["val_loss"])) + 1


"""Wrong answers for solutions/01-learning-curve: each must lose its test cell's points.

Format: see CONTRIBUTING.md ("Wrong answers"). Each value is the complete source of the
answer cell as a student might write it.

Each name starts with what the answer is: the misconception it embodies (an id of
sidebyside/misconceptions/01-learning-curve.toml), which its test must name, or a plain category
(tests/stored_answers.py: ``delegates``, ``crashes``, ``cheats``).
"""

WRONG_ANSWERS = {
    "torch_build_model": {
        "softmax_output: softmax at the end": '''
def build_torch_model(hidden_units, dropout):
    """The MLP as a PyTorch module: Linear(64, hidden_units), ReLU, Dropout(dropout), Linear(hidden_units, 10)."""
    return nn.Sequential(
        nn.Linear(64, hidden_units),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(hidden_units, 10),
        nn.Softmax(dim=1),
    )
''',
        "no_dropout_layer: no dropout layer": '''
def build_torch_model(hidden_units, dropout):
    """The MLP as a PyTorch module: Linear(64, hidden_units), ReLU, Dropout(dropout), Linear(hidden_units, 10)."""
    return nn.Sequential(
        nn.Linear(64, hidden_units),
        nn.ReLU(),
        nn.Linear(hidden_units, 10),
    )
''',
        "no_relu: no ReLU": '''
def build_torch_model(hidden_units, dropout):
    """The MLP as a PyTorch module: Linear(64, hidden_units), ReLU, Dropout(dropout), Linear(hidden_units, 10)."""
    return nn.Sequential(
        nn.Linear(64, hidden_units),
        nn.Dropout(dropout),
        nn.Linear(hidden_units, 10),
    )
''',
        "dropout_rate_ignored: ignores the dropout argument": '''
def build_torch_model(hidden_units, dropout):
    """The MLP as a PyTorch module: Linear(64, hidden_units), ReLU, Dropout(dropout), Linear(hidden_units, 10)."""
    return nn.Sequential(
        nn.Linear(64, hidden_units),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(hidden_units, 10),
    )
''',
        "hidden_units_ignored: hidden layer size fixed at 64": '''
def build_torch_model(hidden_units, dropout):
    """The MLP as a PyTorch module: Linear(64, hidden_units), ReLU, Dropout(dropout), Linear(hidden_units, 10)."""
    return nn.Sequential(
        nn.Linear(64, 64),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(64, 10),
    )
''',
    },
    "tf_build_model": {
        "softmax_output: softmax at the end": '''
def build_keras_model(hidden_units, dropout):
    """The MLP as a Keras model: Dense(hidden_units, relu), Dropout(dropout), Dense(10), on 64 inputs."""
    return keras.Sequential(
        [
            keras.Input(shape=(64,)),
            keras.layers.Dense(hidden_units, activation="relu"),
            keras.layers.Dropout(dropout),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
''',
        "no_dropout_layer: no dropout layer": '''
def build_keras_model(hidden_units, dropout):
    """The MLP as a Keras model: Dense(hidden_units, relu), Dropout(dropout), Dense(10), on 64 inputs."""
    return keras.Sequential(
        [
            keras.Input(shape=(64,)),
            keras.layers.Dense(hidden_units, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
''',
        "no_relu: no ReLU": '''
def build_keras_model(hidden_units, dropout):
    """The MLP as a Keras model: Dense(hidden_units, relu), Dropout(dropout), Dense(10), on 64 inputs."""
    return keras.Sequential(
        [
            keras.Input(shape=(64,)),
            keras.layers.Dense(hidden_units),
            keras.layers.Dropout(dropout),
            keras.layers.Dense(10),
        ]
    )
''',
        "dropout_rate_ignored: ignores the dropout argument": '''
def build_keras_model(hidden_units, dropout):
    """The MLP as a Keras model: Dense(hidden_units, relu), Dropout(dropout), Dense(10), on 64 inputs."""
    return keras.Sequential(
        [
            keras.Input(shape=(64,)),
            keras.layers.Dense(hidden_units, activation="relu"),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(10),
        ]
    )
''',
    },
    "torch_train": {
        "no_zero_grad: no zero_grad: gradients add up across steps": '''
def train_torch(model, split, lr, batch_size, num_epochs, seed=0):
    """Train a PyTorch model with SGD on the shared batches; return its history (see above)."""
    X_train, y_train = torch.from_numpy(split.X_train), torch.from_numpy(split.y_train)
    X_val, y_val = torch.from_numpy(split.X_val), torch.from_numpy(split.y_val)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
    for epoch in range(num_epochs):
        model.train()
        total_loss, correct = 0.0, 0
        for index in data.batches(len(X_train), batch_size, seed=seed, epoch=epoch):
            X, y = X_train[index], y_train[index]
            logits = model(X)
            loss = loss_fn(logits, y)
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * len(y)
            correct += (logits.argmax(dim=1) == y).sum().item()
        history["loss"].append(total_loss / len(X_train))
        history["accuracy"].append(correct / len(X_train))
        model.eval()
        with torch.no_grad():
            logits = model(X_val)
            history["val_loss"].append(loss_fn(logits, y_val).item())
            history["val_accuracy"].append((logits.argmax(dim=1) == y_val).float().mean().item())
    return history
''',
        "loss_summed: loss summed instead of averaged": '''
def train_torch(model, split, lr, batch_size, num_epochs, seed=0):
    """Train a PyTorch model with SGD on the shared batches; return its history (see above)."""
    X_train, y_train = torch.from_numpy(split.X_train), torch.from_numpy(split.y_train)
    X_val, y_val = torch.from_numpy(split.X_val), torch.from_numpy(split.y_val)
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
    for epoch in range(num_epochs):
        model.train()
        total_loss, correct = 0.0, 0
        for index in data.batches(len(X_train), batch_size, seed=seed, epoch=epoch):
            X, y = X_train[index], y_train[index]
            optimizer.zero_grad()
            logits = model(X)
            loss = loss_fn(logits, y)
            loss.backward()
            optimizer.step()
            total_loss += loss.item()
            correct += (logits.argmax(dim=1) == y).sum().item()
        history["loss"].append(total_loss / len(X_train))
        history["accuracy"].append(correct / len(X_train))
        model.eval()
        with torch.no_grad():
            logits = model(X_val)
            history["val_loss"].append(loss_fn(logits, y_val).item() / len(y_val))
            history["val_accuracy"].append((logits.argmax(dim=1) == y_val).float().mean().item())
    return history
''',
        "trains_in_inference_mode: forgets model.train(): after the first validation it trains in eval mode": '''
def train_torch(model, split, lr, batch_size, num_epochs, seed=0):
    """Train a PyTorch model with SGD on the shared batches; return its history (see above)."""
    X_train, y_train = torch.from_numpy(split.X_train), torch.from_numpy(split.y_train)
    X_val, y_val = torch.from_numpy(split.X_val), torch.from_numpy(split.y_val)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
    for epoch in range(num_epochs):
        total_loss, correct = 0.0, 0
        for index in data.batches(len(X_train), batch_size, seed=seed, epoch=epoch):
            X, y = X_train[index], y_train[index]
            optimizer.zero_grad()
            logits = model(X)
            loss = loss_fn(logits, y)
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * len(y)
            correct += (logits.argmax(dim=1) == y).sum().item()
        history["loss"].append(total_loss / len(X_train))
        history["accuracy"].append(correct / len(X_train))
        model.eval()
        with torch.no_grad():
            logits = model(X_val)
            history["val_loss"].append(loss_fn(logits, y_val).item())
            history["val_accuracy"].append((logits.argmax(dim=1) == y_val).float().mean().item())
    return history
''',
        "validates_in_training_mode: forgets model.eval(): validates in training mode": '''
def train_torch(model, split, lr, batch_size, num_epochs, seed=0):
    """Train a PyTorch model with SGD on the shared batches; return its history (see above)."""
    X_train, y_train = torch.from_numpy(split.X_train), torch.from_numpy(split.y_train)
    X_val, y_val = torch.from_numpy(split.X_val), torch.from_numpy(split.y_val)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
    for epoch in range(num_epochs):
        model.train()
        total_loss, correct = 0.0, 0
        for index in data.batches(len(X_train), batch_size, seed=seed, epoch=epoch):
            X, y = X_train[index], y_train[index]
            optimizer.zero_grad()
            logits = model(X)
            loss = loss_fn(logits, y)
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * len(y)
            correct += (logits.argmax(dim=1) == y).sum().item()
        history["loss"].append(total_loss / len(X_train))
        history["accuracy"].append(correct / len(X_train))
        with torch.no_grad():
            logits = model(X_val)
            history["val_loss"].append(loss_fn(logits, y_val).item())
            history["val_accuracy"].append((logits.argmax(dim=1) == y_val).float().mean().item())
    return history
''',
        "own_shuffling: shuffles with its own DataLoader instead of the shared batches": '''
def train_torch(model, split, lr, batch_size, num_epochs, seed=0):
    """Train a PyTorch model with SGD on the shared batches; return its history (see above)."""
    X_train, y_train = torch.from_numpy(split.X_train), torch.from_numpy(split.y_train)
    X_val, y_val = torch.from_numpy(split.X_val), torch.from_numpy(split.y_val)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
    for epoch in range(num_epochs):
        model.train()
        total_loss, correct = 0.0, 0
        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X_train, y_train), batch_size=batch_size, shuffle=True)
        for X, y in loader:
            optimizer.zero_grad()
            logits = model(X)
            loss = loss_fn(logits, y)
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * len(y)
            correct += (logits.argmax(dim=1) == y).sum().item()
        history["loss"].append(total_loss / len(X_train))
        history["accuracy"].append(correct / len(X_train))
        model.eval()
        with torch.no_grad():
            logits = model(X_val)
            history["val_loss"].append(loss_fn(logits, y_val).item())
            history["val_accuracy"].append((logits.argmax(dim=1) == y_val).float().mean().item())
    return history
''',
    },
    "tf_train": {
        "validates_in_training_mode: training=True at inference: validates with dropout on": '''
def train_tensorflow(model, split, lr, batch_size, num_epochs, seed=0):
    """Train a Keras model with SGD in a GradientTape loop on the shared batches; return its history."""
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = keras.optimizers.SGD(learning_rate=lr)

    @tf.function
    def train_step(X, y):
        with tf.GradientTape() as tape:
            logits = model(X, training=True)
            loss = loss_fn(y, logits)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss, tf.reduce_sum(tf.cast(tf.argmax(logits, axis=1) == y, tf.int32))

    history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
    for epoch in range(num_epochs):
        total_loss, correct = 0.0, 0
        for index in data.batches(len(split.X_train), batch_size, seed=seed, epoch=epoch):
            loss, batch_correct = train_step(tf.constant(split.X_train[index]), tf.constant(split.y_train[index]))
            total_loss += float(loss) * len(index)
            correct += int(batch_correct)
        history["loss"].append(total_loss / len(split.X_train))
        history["accuracy"].append(correct / len(split.X_train))
        logits = model(split.X_val, training=True)
        history["val_loss"].append(float(loss_fn(split.y_val, logits)))
        history["val_accuracy"].append(float(np.mean(np.argmax(logits, axis=1) == split.y_val)))
    return history
''',
        "loss_summed: loss summed instead of averaged": '''
def train_tensorflow(model, split, lr, batch_size, num_epochs, seed=0):
    """Train a Keras model with SGD in a GradientTape loop on the shared batches; return its history."""
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="sum")
    optimizer = keras.optimizers.SGD(learning_rate=lr)

    @tf.function
    def train_step(X, y):
        with tf.GradientTape() as tape:
            logits = model(X, training=True)
            loss = loss_fn(y, logits)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss, tf.reduce_sum(tf.cast(tf.argmax(logits, axis=1) == y, tf.int32))

    history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
    for epoch in range(num_epochs):
        total_loss, correct = 0.0, 0
        for index in data.batches(len(split.X_train), batch_size, seed=seed, epoch=epoch):
            loss, batch_correct = train_step(tf.constant(split.X_train[index]), tf.constant(split.y_train[index]))
            total_loss += float(loss)
            correct += int(batch_correct)
        history["loss"].append(total_loss / len(split.X_train))
        history["accuracy"].append(correct / len(split.X_train))
        logits = model(split.X_val, training=False)
        history["val_loss"].append(float(loss_fn(split.y_val, logits)) / len(split.y_val))
        history["val_accuracy"].append(float(np.mean(np.argmax(logits, axis=1) == split.y_val)))
    return history
''',
        "trains_in_inference_mode: forgets training=True in the step: trains in inference mode": '''
def train_tensorflow(model, split, lr, batch_size, num_epochs, seed=0):
    """Train a Keras model with SGD in a GradientTape loop on the shared batches; return its history."""
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = keras.optimizers.SGD(learning_rate=lr)

    @tf.function
    def train_step(X, y):
        with tf.GradientTape() as tape:
            logits = model(X)
            loss = loss_fn(y, logits)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss, tf.reduce_sum(tf.cast(tf.argmax(logits, axis=1) == y, tf.int32))

    history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
    for epoch in range(num_epochs):
        total_loss, correct = 0.0, 0
        for index in data.batches(len(split.X_train), batch_size, seed=seed, epoch=epoch):
            loss, batch_correct = train_step(tf.constant(split.X_train[index]), tf.constant(split.y_train[index]))
            total_loss += float(loss) * len(index)
            correct += int(batch_correct)
        history["loss"].append(total_loss / len(split.X_train))
        history["accuracy"].append(correct / len(split.X_train))
        logits = model(split.X_val, training=False)
        history["val_loss"].append(float(loss_fn(split.y_val, logits)))
        history["val_accuracy"].append(float(np.mean(np.argmax(logits, axis=1) == split.y_val)))
    return history
''',
        "own_shuffling: shuffles with tf.data instead of the shared batches": '''
def train_tensorflow(model, split, lr, batch_size, num_epochs, seed=0):
    """Train a Keras model with SGD in a GradientTape loop on the shared batches; return its history."""
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = keras.optimizers.SGD(learning_rate=lr)

    @tf.function
    def train_step(X, y):
        with tf.GradientTape() as tape:
            logits = model(X, training=True)
            loss = loss_fn(y, logits)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss, tf.reduce_sum(tf.cast(tf.argmax(logits, axis=1) == y, tf.int32))

    history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
    for epoch in range(num_epochs):
        total_loss, correct = 0.0, 0
        dataset = tf.data.Dataset.from_tensor_slices((split.X_train, split.y_train)).shuffle(len(split.X_train)).batch(batch_size)
        for X, y in dataset:
            loss, batch_correct = train_step(X, y)
            total_loss += float(loss) * len(y)
            correct += int(batch_correct)
        history["loss"].append(total_loss / len(split.X_train))
        history["accuracy"].append(correct / len(split.X_train))
        logits = model(split.X_val, training=False)
        history["val_loss"].append(float(loss_fn(split.y_val, logits)))
        history["val_accuracy"].append(float(np.mean(np.argmax(logits, axis=1) == split.y_val)))
    return history
''',
    },
    "torch_copy_weights": {
        "reshaped_not_transposed: reshape instead of transpose": '''
def keras_to_torch(keras_model, torch_model):
    """Copy the Keras model's kernels and biases into the PyTorch model; return the PyTorch model."""
    with torch.no_grad():
        for name in ("hidden", "output"):
            linear, dense = getattr(torch_model, name), keras_model.get_layer(name)
            linear.weight.copy_(torch.from_numpy(dense.kernel.numpy()).reshape(linear.weight.shape))
            linear.bias.copy_(torch.from_numpy(dense.bias.numpy()))
    return torch_model
''',
        "not_transposed: no transpose": '''
def keras_to_torch(keras_model, torch_model):
    """Copy the Keras model's kernels and biases into the PyTorch model; return the PyTorch model."""
    with torch.no_grad():
        for name in ("hidden", "output"):
            linear, dense = getattr(torch_model, name), keras_model.get_layer(name)
            linear.weight.copy_(torch.from_numpy(dense.kernel.numpy()))
            linear.bias.copy_(torch.from_numpy(dense.bias.numpy()))
    return torch_model
''',
        "biases_not_copied: forgets the biases": '''
def keras_to_torch(keras_model, torch_model):
    """Copy the Keras model's kernels and biases into the PyTorch model; return the PyTorch model."""
    with torch.no_grad():
        for name in ("hidden", "output"):
            linear, dense = getattr(torch_model, name), keras_model.get_layer(name)
            linear.weight.copy_(torch.from_numpy(dense.kernel.numpy().T))
    return torch_model
''',
        "layer_not_copied: copies only the hidden layer": '''
def keras_to_torch(keras_model, torch_model):
    """Copy the Keras model's kernels and biases into the PyTorch model; return the PyTorch model."""
    with torch.no_grad():
        for name in ("hidden",):
            linear, dense = getattr(torch_model, name), keras_model.get_layer(name)
            linear.weight.copy_(torch.from_numpy(dense.kernel.numpy().T))
            linear.bias.copy_(torch.from_numpy(dense.bias.numpy()))
    return torch_model
''',
    },
    "tf_copy_weights": {
        "reshaped_not_transposed: reshape instead of transpose": '''
def torch_to_keras(torch_model, keras_model):
    """Copy the PyTorch model's weights and biases into the Keras model; return the Keras model."""
    for name in ("hidden", "output"):
        linear, dense = getattr(torch_model, name), keras_model.get_layer(name)
        dense.kernel.assign(linear.weight.detach().numpy().reshape(dense.kernel.shape))
        dense.bias.assign(linear.bias.detach().numpy())
    return keras_model
''',
        "not_transposed: no transpose": '''
def torch_to_keras(torch_model, keras_model):
    """Copy the PyTorch model's weights and biases into the Keras model; return the Keras model."""
    for name in ("hidden", "output"):
        linear, dense = getattr(torch_model, name), keras_model.get_layer(name)
        dense.kernel.assign(linear.weight.detach().numpy())
        dense.bias.assign(linear.bias.detach().numpy())
    return keras_model
''',
        "biases_not_copied: forgets the biases": '''
def torch_to_keras(torch_model, keras_model):
    """Copy the PyTorch model's weights and biases into the Keras model; return the Keras model."""
    for name in ("hidden", "output"):
        linear, dense = getattr(torch_model, name), keras_model.get_layer(name)
        dense.kernel.assign(linear.weight.detach().numpy().T)
    return keras_model
''',
        "layer_not_copied: copies only the hidden layer": '''
def torch_to_keras(torch_model, keras_model):
    """Copy the PyTorch model's weights and biases into the Keras model; return the Keras model."""
    for name in ("hidden",):
        linear, dense = getattr(torch_model, name), keras_model.get_layer(name)
        dense.kernel.assign(linear.weight.detach().numpy().T)
        dense.bias.assign(linear.bias.detach().numpy())
    return keras_model
''',
    },
    "diagnose": {
        "rules_out_of_order: checks overfitting before underfitting": '''
def diagnose(history):
    """Return "underfitting", "overfitting" or "good fit" for a Keras-style history (rules above)."""
    if history["val_loss"][-1] > 1.2 * min(history["val_loss"]):
        return "overfitting"
    if history["accuracy"][-1] < 0.9:
        return "underfitting"
    return "good fit"
''',
        "overfit_vs_first_val_loss: compares with the first validation loss, not the lowest": '''
def diagnose(history):
    """Return "underfitting", "overfitting" or "good fit" for a Keras-style history (rules above)."""
    if history["accuracy"][-1] < 0.9:
        return "underfitting"
    if history["val_loss"][-1] > 1.2 * history["val_loss"][0]:
        return "overfitting"
    return "good fit"
''',
        "underfit_from_val_accuracy: uses validation accuracy for underfitting": '''
def diagnose(history):
    """Return "underfitting", "overfitting" or "good fit" for a Keras-style history (rules above)."""
    if history["val_accuracy"][-1] < 0.9:
        return "underfitting"
    if history["val_loss"][-1] > 1.2 * min(history["val_loss"]):
        return "overfitting"
    return "good fit"
''',
        "any_rise_is_overfitting: any rise after the best epoch counts as overfitting": '''
def diagnose(history):
    """Return "underfitting", "overfitting" or "good fit" for a Keras-style history (rules above)."""
    if history["accuracy"][-1] < 0.9:
        return "underfitting"
    if history["val_loss"][-1] > min(history["val_loss"]):
        return "overfitting"
    return "good fit"
''',
        "label_not_exact: capitalised labels": '''
def diagnose(history):
    """Return "underfitting", "overfitting" or "good fit" for a Keras-style history (rules above)."""
    if history["accuracy"][-1] < 0.9:
        return "Underfitting"
    if history["val_loss"][-1] > 1.2 * min(history["val_loss"]):
        return "Overfitting"
    return "Good fit"
''',
    },
}

# --- Answers that hand the task to the course package's own implementation ------------------
# However they reach it, checks.own_work in the test sees the package's code run: each scores 0.

DELEGATING = {
    "torch_build_model": {
        "delegates: calls training.build_torch_model through an alias": '''
from sidebyside.training import build_torch_model as course_builder


def build_torch_model(hidden_units, dropout):
    """The MLP as a PyTorch module: Linear(64, hidden_units), ReLU, Dropout(dropout), Linear(hidden_units, 10)."""
    return course_builder(64, hidden_units, 10, dropout=dropout, seed=None)
''',
        "delegates: builds training.MLP through getattr": '''
def build_torch_model(hidden_units, dropout):
    """The MLP as a PyTorch module: Linear(64, hidden_units), ReLU, Dropout(dropout), Linear(hidden_units, 10)."""
    return getattr(training, "M" + "LP")(64, hidden_units, 10, dropout)
''',
        "delegates: calls training.build_torch_model through importlib": '''
import importlib


def build_torch_model(hidden_units, dropout):
    """The MLP as a PyTorch module: Linear(64, hidden_units), ReLU, Dropout(dropout), Linear(hidden_units, 10)."""
    return importlib.import_module("sidebyside.training").build_torch_model(64, hidden_units, 10, dropout=dropout)
''',
        "delegates: subclasses training.MLP captured at import": '''
_Course = training.MLP


class Mine(_Course):
    pass


def build_torch_model(hidden_units, dropout):
    """The MLP as a PyTorch module: Linear(64, hidden_units), ReLU, Dropout(dropout), Linear(hidden_units, 10)."""
    return Mine(64, hidden_units, 10, dropout)
''',
    },
    "tf_build_model": {
        "delegates: calls training.build_keras_model through an alias": '''
from sidebyside.training import build_keras_model as course_builder


def build_keras_model(hidden_units, dropout):
    """The MLP as a Keras model: Dense(hidden_units, relu), Dropout(dropout), Dense(10), on 64 inputs."""
    return course_builder(64, hidden_units, 10, dropout=dropout, seed=None)
''',
        "delegates: calls training.build_keras_model through getattr": '''
def build_keras_model(hidden_units, dropout):
    """The MLP as a Keras model: Dense(hidden_units, relu), Dropout(dropout), Dense(10), on 64 inputs."""
    return getattr(training, "build_" + "keras_model")(hidden_units=hidden_units, dropout=dropout, seed=None)
''',
        "delegates: calls training.build_keras_model through importlib": '''
import importlib


def build_keras_model(hidden_units, dropout):
    """The MLP as a Keras model: Dense(hidden_units, relu), Dropout(dropout), Dense(10), on 64 inputs."""
    return importlib.import_module("sidebyside.training").build_keras_model(hidden_units=hidden_units, dropout=dropout, seed=None)
''',
        "delegates: calls a reference to training.build_keras_model captured at import": '''
_course_builder = training.build_keras_model


def build_keras_model(hidden_units, dropout):
    """The MLP as a Keras model: Dense(hidden_units, relu), Dropout(dropout), Dense(10), on 64 inputs."""
    return _course_builder(hidden_units=hidden_units, dropout=dropout, seed=None)
''',
    },
    "torch_train": {
        "delegates: calls training.train_torch through an alias": '''
from sidebyside.training import train_torch as course_loop


def train_torch(model, split, lr, batch_size, num_epochs, seed=0):
    """Train a PyTorch model with SGD on the shared batches; return its history (see above)."""
    return course_loop(model, split, lr=lr, batch_size=batch_size, num_epochs=num_epochs, seed=seed, device="cpu")
''',
        "delegates: runs training.torch_epochs through getattr": '''
def train_torch(model, split, lr, batch_size, num_epochs, seed=0):
    """Train a PyTorch model with SGD on the shared batches; return its history (see above)."""
    history = None
    for history in getattr(training, "torch_" + "epochs")(model, split, lr=lr, batch_size=batch_size, num_epochs=num_epochs, seed=seed, device="cpu"):
        pass
    return {key: list(values) for key, values in history.items()}
''',
        "delegates: calls training.train_torch through importlib": '''
import importlib


def train_torch(model, split, lr, batch_size, num_epochs, seed=0):
    """Train a PyTorch model with SGD on the shared batches; return its history (see above)."""
    course = importlib.import_module("sidebyside.training")
    return course.train_torch(model, split, lr=lr, batch_size=batch_size, num_epochs=num_epochs, seed=seed, device="cpu")
''',
        "delegates: calls a reference to training.train_torch captured at import": '''
_course_loop = training.train_torch


def train_torch(model, split, lr, batch_size, num_epochs, seed=0):
    """Train a PyTorch model with SGD on the shared batches; return its history (see above)."""
    return _course_loop(model, split, lr=lr, batch_size=batch_size, num_epochs=num_epochs, seed=seed, device="cpu")
''',
    },
    "tf_train": {
        "delegates: calls training.train_tensorflow through an alias": '''
from sidebyside.training import train_tensorflow as course_loop


def train_tensorflow(model, split, lr, batch_size, num_epochs, seed=0):
    """Train a Keras model with SGD in a GradientTape loop on the shared batches; return its history."""
    return course_loop(model, split, lr=lr, batch_size=batch_size, num_epochs=num_epochs, seed=seed, device="/CPU:0")
''',
        "delegates: runs training.tensorflow_epochs through getattr": '''
def train_tensorflow(model, split, lr, batch_size, num_epochs, seed=0):
    """Train a Keras model with SGD in a GradientTape loop on the shared batches; return its history."""
    history = None
    for history in getattr(training, "tensorflow_" + "epochs")(model, split, lr=lr, batch_size=batch_size, num_epochs=num_epochs, seed=seed, device="/CPU:0"):
        pass
    return {key: list(values) for key, values in history.items()}
''',
        "delegates: calls training.train_tensorflow through importlib": '''
import importlib


def train_tensorflow(model, split, lr, batch_size, num_epochs, seed=0):
    """Train a Keras model with SGD in a GradientTape loop on the shared batches; return its history."""
    course = importlib.import_module("sidebyside.training")
    return course.train_tensorflow(model, split, lr=lr, batch_size=batch_size, num_epochs=num_epochs, seed=seed, device="/CPU:0")
''',
        "delegates: calls a reference to training.train_tensorflow captured at import": '''
_course_loop = training.train_tensorflow


def train_tensorflow(model, split, lr, batch_size, num_epochs, seed=0):
    """Train a Keras model with SGD in a GradientTape loop on the shared batches; return its history."""
    return _course_loop(model, split, lr=lr, batch_size=batch_size, num_epochs=num_epochs, seed=seed, device="/CPU:0")
''',
    },
    "torch_copy_weights": {
        "delegates: calls training.copy_keras_to_torch through an alias": '''
from sidebyside.training import copy_keras_to_torch as course_copy


def keras_to_torch(keras_model, torch_model):
    """Copy the Keras model's kernels and biases into the PyTorch model; return the PyTorch model."""
    return course_copy(keras_model, torch_model)
''',
        "delegates: calls training.copy_keras_to_torch through getattr": '''
def keras_to_torch(keras_model, torch_model):
    """Copy the Keras model's kernels and biases into the PyTorch model; return the PyTorch model."""
    getattr(training, "copy_keras_" + "to_torch")(keras_model, torch_model)
    return torch_model
''',
        "delegates: calls training.copy_keras_to_torch through importlib": '''
import importlib


def keras_to_torch(keras_model, torch_model):
    """Copy the Keras model's kernels and biases into the PyTorch model; return the PyTorch model."""
    return importlib.import_module("sidebyside.training").copy_keras_to_torch(keras_model, torch_model)
''',
        "delegates: calls a reference to training.copy_keras_to_torch captured at import": '''
_course_copy = training.copy_keras_to_torch


def keras_to_torch(keras_model, torch_model):
    """Copy the Keras model's kernels and biases into the PyTorch model; return the PyTorch model."""
    return _course_copy(keras_model, torch_model)
''',
    },
    "tf_copy_weights": {
        "delegates: calls training.copy_torch_to_keras through an alias": '''
from sidebyside.training import copy_torch_to_keras as course_copy


def torch_to_keras(torch_model, keras_model):
    """Copy the PyTorch model's weights and biases into the Keras model; return the Keras model."""
    return course_copy(torch_model, keras_model)
''',
        "delegates: calls training.copy_torch_to_keras through getattr": '''
def torch_to_keras(torch_model, keras_model):
    """Copy the PyTorch model's weights and biases into the Keras model; return the Keras model."""
    getattr(training, "copy_torch_" + "to_keras")(torch_model, keras_model)
    return keras_model
''',
        "delegates: calls training.copy_torch_to_keras through importlib": '''
import importlib


def torch_to_keras(torch_model, keras_model):
    """Copy the PyTorch model's weights and biases into the Keras model; return the Keras model."""
    return importlib.import_module("sidebyside.training").copy_torch_to_keras(torch_model, keras_model)
''',
        "delegates: takes the transposed weights from training.torch_weights, captured at import": '''
_already_transposed = training.torch_weights


def torch_to_keras(torch_model, keras_model):
    """Copy the PyTorch model's weights and biases into the Keras model; return the Keras model."""
    weights = _already_transposed(torch_model)
    for k, name in enumerate(("hidden", "output")):
        keras_model.get_layer(name).set_weights(weights[2 * k : 2 * k + 2])
    return keras_model
''',
    },
}

for _cell, _answers in DELEGATING.items():
    WRONG_ANSWERS[_cell].update(_answers)

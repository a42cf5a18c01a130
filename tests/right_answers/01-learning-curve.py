"""Right answers for solutions/01-learning-curve: each must keep its test cell's full marks.

Format: as tests/wrong_answers/ (see CONTRIBUTING.md, "Right answers"). Each value is the
complete source of the answer cell, written another valid way than the solution (another API
spelling, another order), or following the task's statement literally: it raises on anything
the statement does not allow, so it keeping full marks shows that the hidden tests stay within
the stated contract.
"""

RIGHT_ANSWERS = {
    "torch_build_model": {
        "a Module subclass that registers the output layer first and calls torch.relu": '''
class DigitsMLP(nn.Module):
    def __init__(self, hidden_units, dropout):
        super().__init__()
        self.head = nn.Linear(hidden_units, 10)  # registered first: modules() lists it first
        self.body = nn.Linear(64, hidden_units)
        self.drop = nn.Dropout(p=dropout)

    def forward(self, X):
        return self.head(self.drop(torch.relu(self.body(X))))


def build_torch_model(hidden_units, dropout):
    """The MLP as a PyTorch module: Linear(64, hidden_units), ReLU, Dropout(dropout), Linear(hidden_units, 10)."""
    return DigitsMLP(hidden_units, dropout)
''',
        "follows the statement literally: a positive int and 0 <= dropout < 1, else ValueError": '''
from collections import OrderedDict


def build_torch_model(hidden_units, dropout):
    """The MLP as a PyTorch module: Linear(64, hidden_units), ReLU, Dropout(dropout), Linear(hidden_units, 10)."""
    if type(hidden_units) is not int or hidden_units < 1:
        raise ValueError(f"hidden_units must be a positive int, got {hidden_units!r}")
    if type(dropout) is not float or not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be a float in [0, 1), got {dropout!r}")
    return nn.Sequential(OrderedDict(
        hidden=nn.Linear(64, hidden_units), relu=nn.ReLU(), dropout=nn.Dropout(dropout), output=nn.Linear(hidden_units, 10),
    ))
''',
    },
    "tf_build_model": {
        "the functional API": '''
def build_keras_model(hidden_units, dropout):
    """The MLP as a Keras model: Dense(hidden_units, relu), Dropout(dropout), Dense(10), on 64 inputs."""
    inputs = keras.Input(shape=(64,))
    hidden = keras.layers.Dense(hidden_units)(inputs)
    hidden = keras.layers.Activation("relu")(hidden)
    hidden = keras.layers.Dropout(dropout)(hidden)
    return keras.Model(inputs, keras.layers.Dense(10)(hidden))
''',
        "a keras.Model subclass, output layer first, built on first call": '''
class DigitsMLP(keras.Model):
    def __init__(self, hidden_units, dropout):
        super().__init__()
        self.head = keras.layers.Dense(10)
        self.body = keras.layers.Dense(hidden_units, activation="relu")
        self.drop = keras.layers.Dropout(dropout)

    def call(self, X, training=False):
        return self.head(self.drop(self.body(X), training=training))


def build_keras_model(hidden_units, dropout):
    """The MLP as a Keras model: Dense(hidden_units, relu), Dropout(dropout), Dense(10), on 64 inputs."""
    return DigitsMLP(hidden_units, dropout)
''',
        "follows the statement literally: a positive int and 0 <= dropout < 1, else ValueError": '''
def build_keras_model(hidden_units, dropout):
    """The MLP as a Keras model: Dense(hidden_units, relu), Dropout(dropout), Dense(10), on 64 inputs."""
    if type(hidden_units) is not int or hidden_units < 1:
        raise ValueError(f"hidden_units must be a positive int, got {hidden_units!r}")
    if type(dropout) is not float or not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be a float in [0, 1), got {dropout!r}")
    return keras.Sequential([
        keras.Input(shape=(64,)),
        keras.layers.Dense(hidden_units, activation="relu"),
        keras.layers.Dropout(dropout),
        keras.layers.Dense(10),
    ])
''',
    },
    "torch_train": {
        "a DataLoader over the shared batches (batch_sampler), validation written as a function": '''
from torch.utils.data import DataLoader, TensorDataset


def validate(model, loss_fn, X, y):
    model.eval()
    with torch.no_grad():
        logits = model(X)
        return loss_fn(logits, y).item(), (logits.argmax(dim=1) == y).float().mean().item()


def train_torch(model, split, lr, batch_size, num_epochs, seed=0):
    """Train a PyTorch model with SGD on the shared batches; return its history (see above)."""
    dataset = TensorDataset(torch.from_numpy(split.X_train), torch.from_numpy(split.y_train))
    X_val, y_val = torch.from_numpy(split.X_val), torch.from_numpy(split.y_val)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    history = {key: [] for key in ("loss", "accuracy", "val_loss", "val_accuracy")}
    for epoch in range(num_epochs):
        batches = [index.tolist() for index in data.batches(len(dataset), batch_size, seed=seed, epoch=epoch)]
        model.train()
        losses, hits = [], 0
        for X, y in DataLoader(dataset, batch_sampler=batches):
            logits = model(X)
            loss = loss_fn(logits, y)
            optimizer.zero_grad()  # before backward() rather than before the forward pass
            loss.backward()
            optimizer.step()
            losses.append(loss.item() * len(y))
            hits += int((logits.argmax(dim=1) == y).sum())
        val_loss, val_accuracy = validate(model, loss_fn, X_val, y_val)
        history["loss"].append(sum(losses) / len(dataset))
        history["accuracy"].append(hits / len(dataset))
        history["val_loss"].append(val_loss)
        history["val_accuracy"].append(val_accuracy)
    return history
''',
        "follows the statement literally: positive lr, batch_size and num_epochs, int seed, else ValueError": '''
def train_torch(model, split, lr, batch_size, num_epochs, seed=0):
    """Train a PyTorch model with SGD on the shared batches; return its history (see above)."""
    if not isinstance(model, nn.Module) or type(split) is not data.Split:
        raise ValueError(f"expected an nn.Module and a data.Split, got {type(model).__name__} and {type(split).__name__}")
    if type(lr) is not float or not lr > 0:
        raise ValueError(f"lr must be a positive float, got {lr!r}")
    for name, value in (("batch_size", batch_size), ("num_epochs", num_epochs)):
        if type(value) is not int or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if type(seed) is not int:
        raise ValueError(f"seed must be an int, got {seed!r}")
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
        model.eval()
        with torch.no_grad():
            logits = model(X_val)
            history["val_loss"].append(loss_fn(logits, y_val).item())
            history["val_accuracy"].append((logits.argmax(dim=1) == y_val).float().mean().item())
    return history
''',
    },
    "tf_train": {
        "eager steps (no tf.function), tf.gather for the batches, tensors summed on the way": '''
def train_tensorflow(model, split, lr, batch_size, num_epochs, seed=0):
    """Train a Keras model with SGD in a GradientTape loop on the shared batches; return its history."""
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = keras.optimizers.SGD(learning_rate=lr)
    X_train, y_train = tf.constant(split.X_train), tf.constant(split.y_train)
    history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
    for epoch in range(num_epochs):
        total_loss, correct = tf.constant(0.0), tf.constant(0)
        for index in data.batches(len(split.X_train), batch_size, seed=seed, epoch=epoch):
            X, y = tf.gather(X_train, index), tf.gather(y_train, index)
            with tf.GradientTape() as tape:
                logits = model(X, training=True)
                loss = loss_fn(y, logits)
            optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
            total_loss += loss * len(index)
            correct += tf.reduce_sum(tf.cast(tf.argmax(logits, axis=1) == y, tf.int32))
        history["loss"].append(float(total_loss) / len(split.X_train))
        history["accuracy"].append(int(correct) / len(split.X_train))
        logits = model(split.X_val, training=False)
        history["val_loss"].append(float(loss_fn(split.y_val, logits)))
        history["val_accuracy"].append(float(np.mean(np.argmax(logits, axis=1) == split.y_val)))
    return history
''',
        "follows the statement literally: positive lr, batch_size and num_epochs, int seed, else ValueError": '''
def train_tensorflow(model, split, lr, batch_size, num_epochs, seed=0):
    """Train a Keras model with SGD in a GradientTape loop on the shared batches; return its history."""
    if not isinstance(model, keras.Model) or type(split) is not data.Split:
        raise ValueError(f"expected a Keras model and a data.Split, got {type(model).__name__} and {type(split).__name__}")
    if type(lr) is not float or not lr > 0:
        raise ValueError(f"lr must be a positive float, got {lr!r}")
    for name, value in (("batch_size", batch_size), ("num_epochs", num_epochs)):
        if type(value) is not int or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if type(seed) is not int:
        raise ValueError(f"seed must be an int, got {seed!r}")
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
        logits = model(split.X_val, training=False)
        history["val_loss"].append(float(loss_fn(split.y_val, logits)))
        history["val_accuracy"].append(float(np.mean(np.argmax(logits, axis=1) == split.y_val)))
    return history
''',
    },
    "torch_copy_weights": {
        "load_state_dict with the transposed kernels": '''
def keras_to_torch(keras_model, torch_model):
    """Copy the Keras model's kernels and biases into the PyTorch model; return the PyTorch model."""
    state = {}
    for name in ("hidden", "output"):
        kernel, bias = keras_model.get_layer(name).get_weights()
        state[f"{name}.weight"] = torch.tensor(kernel.T)
        state[f"{name}.bias"] = torch.tensor(bias)
    torch_model.load_state_dict(state, strict=False)
    return torch_model
''',
        "follows the statement literally: layers named hidden and output of matching shapes, else ValueError": '''
def keras_to_torch(keras_model, torch_model):
    """Copy the Keras model's kernels and biases into the PyTorch model; return the PyTorch model."""
    pairs = []
    for name in ("hidden", "output"):
        linear, dense = getattr(torch_model, name, None), keras_model.get_layer(name)
        if type(linear) is not nn.Linear or tuple(linear.weight.shape) != tuple(dense.kernel.shape)[::-1]:
            raise ValueError(f"layer {name!r}: expected an nn.Linear matching the Dense kernel {tuple(dense.kernel.shape)}")
        pairs.append((linear, dense))
    with torch.no_grad():
        for linear, dense in pairs:
            linear.weight.copy_(torch.from_numpy(np.asarray(dense.kernel)).T)
            linear.bias.copy_(torch.from_numpy(np.asarray(dense.bias)))
    return torch_model
''',
    },
    "tf_copy_weights": {
        "set_weights on each layer": '''
def torch_to_keras(torch_model, keras_model):
    """Copy the PyTorch model's weights and biases into the Keras model; return the Keras model."""
    for name, linear in (("output", torch_model.output), ("hidden", torch_model.hidden)):
        weight, bias = linear.weight.detach().cpu().numpy(), linear.bias.detach().cpu().numpy()
        keras_model.get_layer(name).set_weights([weight.T, bias])
    return keras_model
''',
        "follows the statement literally: layers named hidden and output of matching shapes, else ValueError": '''
def torch_to_keras(torch_model, keras_model):
    """Copy the PyTorch model's weights and biases into the Keras model; return the Keras model."""
    pairs = []
    for name in ("hidden", "output"):
        linear, dense = getattr(torch_model, name, None), keras_model.get_layer(name)
        if type(linear) is not nn.Linear or tuple(linear.weight.shape) != tuple(dense.kernel.shape)[::-1]:
            raise ValueError(f"layer {name!r}: expected an nn.Linear matching the Dense kernel {tuple(dense.kernel.shape)}")
        pairs.append((linear, dense))
    for linear, dense in pairs:
        dense.kernel.assign(tf.transpose(tf.constant(linear.weight.detach().numpy())))
        dense.bias.assign(linear.bias.detach().numpy())
    return keras_model
''',
    },
    "diagnose": {
        "NumPy, the overfitting rule written with the best epoch's loss": '''
def diagnose(history):
    """Return "underfitting", "overfitting" or "good fit" for a Keras-style history (rules above)."""
    val_loss = np.asarray(history["val_loss"], dtype=float)
    best = val_loss[np.argmin(val_loss)]
    if not history["accuracy"][-1] >= 0.9:
        return "underfitting"
    return "overfitting" if val_loss[-1] > 1.2 * best else "good fit"
''',
        "follows the statement literally: the four keys, non-empty lists of one length, else ValueError": '''
def diagnose(history):
    """Return "underfitting", "overfitting" or "good fit" for a Keras-style history (rules above)."""
    keys = {"loss", "accuracy", "val_loss", "val_accuracy"}
    if type(history) is not dict or set(history) != keys:
        raise ValueError(f"expected a dict with the keys {sorted(keys)}, got {history!r}")
    lengths = {len(values) for values in history.values()}
    if len(lengths) != 1 or 0 in lengths:
        raise ValueError(f"expected non-empty lists of one length, got lengths {sorted(lengths)}")
    if history["accuracy"][-1] < 0.9:
        return "underfitting"
    if history["val_loss"][-1] > 1.2 * min(history["val_loss"]):
        return "overfitting"
    return "good fit"
''',
    },
}

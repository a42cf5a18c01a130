"""The proofs of lesson 05: replica gradients, and synchronous data-parallel training replayed in
one process (the weights a real run must reach).
"""

from __future__ import annotations



# --- Proof of correctness: replica gradients and one-process replays -------------------------


def torch_replica_gradients(model, loss_fn, X, y, num_replicas: int):
    """Split ``X, y`` into ``num_replicas`` equal consecutive shards, compute each shard's
    gradient of ``loss_fn`` (a mean over the shard) and average them, as synchronous data
    parallelism does. Returns ``(per_replica, averaged)``: a list of gradient lists (one
    tensor per parameter, in ``model.parameters()`` order) and the averaged list. The model's
    ``.grad`` fields are left as they were."""
    import torch

    params = [p for p in model.parameters()]
    shards = zip(torch.tensor_split(X, num_replicas), torch.tensor_split(y, num_replicas))
    per_replica = []
    for X_shard, y_shard in shards:
        loss = loss_fn(model(X_shard), y_shard)
        per_replica.append([g.detach() for g in torch.autograd.grad(loss, params)])
    averaged = [torch.stack(grads).mean(dim=0) for grads in zip(*per_replica)]
    return per_replica, averaged


def tf_replica_gradients(model, loss_fn, X, y, num_replicas: int):
    """:func:`torch_replica_gradients` for a Keras model: ``(per_replica, averaged)``, one
    tensor per variable in ``model.trainable_variables`` order."""
    import tensorflow as tf

    per_replica = []
    for X_shard, y_shard in zip(tf.split(X, num_replicas), tf.split(y, num_replicas)):
        with tf.GradientTape() as tape:
            loss = loss_fn(y_shard, model(X_shard, training=True))
        per_replica.append(tape.gradient(loss, model.trainable_variables))
    averaged = [tf.reduce_mean(tf.stack(grads), axis=0) for grads in zip(*per_replica)]
    return per_replica, averaged


def ddp_batches(num_samples: int, world_size: int, batch_size: int, num_epochs: int, seed: int = 0):
    """The sample indices of each step of a DDP run with ``DistributedSampler(shuffle=True,
    seed=seed)`` and ``set_epoch(epoch)``: for each step, the global batch as the ranks' local
    batches one after the other (rank 0 first). ``batch_size`` is the global batch size."""
    from torch.utils.data import DistributedSampler

    local = batch_size // world_size
    steps = []
    for epoch in range(num_epochs):
        orders = []
        for rank in range(world_size):
            sampler = DistributedSampler(range(num_samples), num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
            sampler.set_epoch(epoch)
            orders.append(list(sampler))
        for start in range(0, len(orders[0]), local):
            steps.append([i for order in orders for i in order[start : start + local]])
    return steps


def simulate_ddp_torch(model, X, y, *, world_size: int, batch_size: int, num_epochs: int, lr: float, seed: int = 0,
                       loss_fn=None):
    """Train ``model`` (in place) in one process exactly as DDP on ``world_size`` ranks would,
    with ``DistributedSampler(shuffle=True, seed=seed)``, ``set_epoch`` each epoch, SGD with
    ``lr`` and global batch ``batch_size``: at each step, the average of the ranks' gradients.
    Returns the model."""
    import torch

    loss_fn = loss_fn or torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for indices in ddp_batches(len(X), world_size, batch_size, num_epochs, seed):
        index = torch.tensor(indices)
        _, averaged = torch_replica_gradients(model, loss_fn, X[index], y[index], world_size)
        for param, grad in zip(model.parameters(), averaged):
            param.grad = grad
        optimizer.step()
    return model


def simulate_mirrored_tf(model, X, y, *, batch_size: int, num_epochs: int, lr: float, loss_fn=None,
                        num_replicas: int = 1):
    """Train a Keras ``model`` (in place) in one process on consecutive global batches of
    ``batch_size`` (no shuffling), plain SGD, as synchronous data parallelism over
    ``num_replicas`` replicas does: each global batch split into ``num_replicas`` equal
    consecutive shares, each share's gradient computed with the model called on that share
    alone, the gradients averaged. For a model whose output for a sample depends on that sample
    only, any ``num_replicas`` gives the weights of one worker on the global batch; with
    BatchNormalization (not synchronized) each replica normalizes its share with the share's
    statistics, and ``num_replicas`` matters. Returns the model."""
    import keras
    import tensorflow as tf

    loss_fn = loss_fn or keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = keras.optimizers.SGD(learning_rate=lr)
    for _ in range(num_epochs):
        for start in range(0, len(X), batch_size):
            Xb, yb = X[start : start + batch_size], y[start : start + batch_size]
            if num_replicas == 1:
                with tf.GradientTape() as tape:
                    loss = loss_fn(yb, model(Xb, training=True))
                grads = tape.gradient(loss, model.trainable_variables)
            else:
                _, grads = tf_replica_gradients(model, loss_fn, tf.convert_to_tensor(Xb), tf.convert_to_tensor(yb), num_replicas)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return model

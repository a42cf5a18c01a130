"""Right answers for solutions/05-parallelism: other valid ways to write each answer, and
answers that follow each task's statement literally (raising on anything it does not allow).
Each must keep full marks: a test that checks one spelling, or uses an input the statement
does not allow, fails here.

Format: like tests/wrong_answers/ (see CONTRIBUTING.md): {grade_id: {name: answer cell source}}.
"""


RIGHT_ANSWERS = {
    "torch_replica_gradients": {
        "backward() and each parameter's .grad, summed then divided": '''
def torch_replica_gradients(model, loss_fn, X, y, num_replicas):
    """Each replica's gradients on its consecutive share of (X, y), and their average."""
    size = len(X) // num_replicas
    per_replica = []
    for r in range(num_replicas):
        model.zero_grad()
        loss_fn(model(X[r * size : (r + 1) * size]), y[r * size : (r + 1) * size]).backward()
        per_replica.append([p.grad.clone() for p in model.parameters()])
    model.zero_grad()
    averaged = [sum(grads) / num_replicas for grads in zip(*per_replica)]
    return per_replica, averaged
''',
        "follows the statement literally (raises unless the samples split evenly)": '''
def torch_replica_gradients(model, loss_fn, X, y, num_replicas):
    """Each replica's gradients on its consecutive share of (X, y), and their average."""
    if type(num_replicas) is not int or num_replicas < 1:
        raise ValueError(f"num_replicas must be an int of at least 1, got {num_replicas!r}")
    if len(X) != len(y) or len(X) % num_replicas:
        raise ValueError(f"{len(X)} samples do not split into {num_replicas} equal shares")
    params = list(model.parameters())
    per_replica = []
    for X_share, y_share in zip(torch.tensor_split(X, num_replicas), torch.tensor_split(y, num_replicas)):
        per_replica.append(list(torch.autograd.grad(loss_fn(model(X_share), y_share), params)))
    averaged = [torch.mean(torch.stack(grads), dim=0) for grads in zip(*per_replica)]
    return per_replica, averaged
''',
    },
    "tf_replica_gradients": {
        "slices by index and adds with tf.add_n": '''
def tf_replica_gradients(model, loss_fn, X, y, num_replicas):
    """Each replica's gradients on its consecutive share of (X, y), and their average."""
    size = int(X.shape[0]) // num_replicas
    per_replica = []
    for r in range(num_replicas):
        with tf.GradientTape() as tape:
            loss = loss_fn(y[r * size : (r + 1) * size], model(X[r * size : (r + 1) * size], training=True))
        per_replica.append(list(tape.gradient(loss, model.trainable_variables)))
    averaged = [tf.add_n(list(grads)) / num_replicas for grads in zip(*per_replica)]
    return per_replica, averaged
''',
        "follows the statement literally (raises unless the samples split evenly)": '''
def tf_replica_gradients(model, loss_fn, X, y, num_replicas):
    """Each replica's gradients on its consecutive share of (X, y), and their average."""
    n = int(X.shape[0])
    if type(num_replicas) is not int or num_replicas < 1 or n % num_replicas or int(y.shape[0]) != n:
        raise ValueError(f"{n} samples do not split into {num_replicas} equal shares")
    per_replica = []
    for X_share, y_share in zip(tf.split(X, num_replicas), tf.split(y, num_replicas)):
        with tf.GradientTape() as tape:
            loss = loss_fn(y_share, model(X_share, training=True))
        per_replica.append(tape.gradient(loss, model.trainable_variables))
    averaged = [tf.reduce_mean(tf.stack(grads), axis=0) for grads in zip(*per_replica)]
    return per_replica, averaged
''',
    },
    "torch_ddp_script": {
        "default sampler arguments, optimizer before wrapping, model.state_dict()": '''
def ddp_worker(args, dataset, model, loss_fn):
    """Train `model` on `dataset` with DistributedDataParallel in this worker process; rank 0
    saves the trained state_dict to args.save_path."""
    dist.init_process_group(backend="gloo")
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)  # DDP wraps the same parameters
    sampler = DistributedSampler(dataset, seed=args.seed)  # rank, world size and shuffle=True by default
    loader = DataLoader(dataset, batch_size=args.batch_size // dist.get_world_size(), sampler=sampler)
    ddp_model = DDP(model)
    for epoch in range(args.epochs):
        loader.sampler.set_epoch(epoch)
        for X_batch, y_batch in loader:
            loss = loss_fn(ddp_model(X_batch), y_batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    if dist.get_rank() == 0:
        torch.save(model.state_dict(), args.save_path)
    dist.barrier()
    dist.destroy_process_group()
''',
        "follows the statement literally (raises on what it does not allow)": '''
def ddp_worker(args, dataset, model, loss_fn):
    """Train `model` on `dataset` with DistributedDataParallel in this worker process; rank 0
    saves the trained state_dict to args.save_path."""
    dist.init_process_group("gloo")
    rank, world_size = dist.get_rank(), dist.get_world_size()
    if world_size < 2:
        raise ValueError(f"expected 2 or more processes, got {world_size}")
    if args.batch_size % world_size or len(dataset) % args.batch_size:
        raise ValueError(f"the global batch {args.batch_size} must split into {world_size} shares and divide {len(dataset)} samples")
    sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=args.seed)
    loader = DataLoader(dataset, batch_size=args.batch_size // world_size, sampler=sampler)
    ddp_model = DDP(model)
    optimizer = torch.optim.SGD(ddp_model.parameters(), lr=args.lr, momentum=0.0)
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        for X_batch, y_batch in loader:
            optimizer.zero_grad()
            loss_fn(ddp_model(X_batch), y_batch).backward()
            optimizer.step()
    if rank == 0:
        torch.save(ddp_model.module.state_dict(), args.save_path)
    dist.destroy_process_group()
''',
    },
    "tf_train_mirrored": {
        "a custom training loop with strategy.run": '''
def tf_train_mirrored(strategy, build_model, X, y, batch_size, num_epochs, lr):
    """A model from build_model(), trained data-parallel over the strategy's devices."""
    with strategy.scope():
        model = build_model()
        optimizer = keras.optimizers.SGD(learning_rate=lr)
    per_example = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
    dataset = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices((X, y)).batch(batch_size))

    @tf.function
    def step(X_batch, y_batch):
        def replica_step(X_batch, y_batch):
            with tf.GradientTape() as tape:
                loss = tf.nn.compute_average_loss(per_example(y_batch, model(X_batch, training=True)), global_batch_size=batch_size)
            optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))

        strategy.run(replica_step, args=(X_batch, y_batch))

    for _ in range(num_epochs):
        for X_batch, y_batch in dataset:
            step(X_batch, y_batch)
    return model
''',
        "a custom loop with a Keras mean loss (Keras divides it by the number of replicas itself)": '''
def tf_train_mirrored(strategy, build_model, X, y, batch_size, num_epochs, lr):
    """A model from build_model(), trained data-parallel over the strategy's devices."""
    with strategy.scope():
        model = build_model()
        optimizer = keras.optimizers.SGD(learning_rate=lr)
    mean_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)  # inside a replica: mean / replicas
    dataset = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices((X, y)).batch(batch_size))

    @tf.function
    def step(X_batch, y_batch):
        def replica_step(X_share, y_share):
            with tf.GradientTape() as tape:
                loss = mean_loss(y_share, model(X_share, training=True))
            optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))

        strategy.run(replica_step, args=(X_batch, y_batch))

    for _ in range(num_epochs):
        for X_batch, y_batch in dataset:
            step(X_batch, y_batch)
    return model
''',
        "fit on a tf.data.Dataset batched with the global batch": '''
def tf_train_mirrored(strategy, build_model, X, y, batch_size, num_epochs, lr):
    """A model from build_model(), trained data-parallel over the strategy's devices."""
    dataset = tf.data.Dataset.from_tensor_slices((X, y)).batch(batch_size)
    with strategy.scope():
        model = build_model()
        optimizer = keras.optimizers.SGD(learning_rate=lr)
        model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(dataset, epochs=num_epochs, verbose=0)
    return model
''',
        "follows the statement literally (raises on what it does not allow)": '''
def tf_train_mirrored(strategy, build_model, X, y, batch_size, num_epochs, lr):
    """A model from build_model(), trained data-parallel over the strategy's devices."""
    if not isinstance(strategy, tf.distribute.MirroredStrategy):
        raise TypeError(f"expected a MirroredStrategy, got {type(strategy).__name__}")
    if batch_size % strategy.num_replicas_in_sync or len(X) % batch_size or len(X) != len(y):
        raise ValueError(f"batch {batch_size} must split over {strategy.num_replicas_in_sync} replicas and divide {len(X)} samples")
    with strategy.scope():
        model = build_model()
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(X, y, batch_size=batch_size, epochs=num_epochs, shuffle=False, verbose=0)
    return model
''',
    },
    "torch_scaling_metrics": {
        "sorts and takes the middle step": '''
def torch_scaling_metrics(sequential_step_s, rank_step_s, global_batch_size):
    """Speed-up, throughput (samples/s) and efficiency from measured step times."""
    def middle(times):
        ordered = torch.sort(times).values
        return float(ordered[len(ordered) // 2])

    t_sequential = middle(sequential_step_s)
    t_parallel = middle(torch.amax(rank_step_s, dim=0))
    world_size = rank_step_s.size(0)
    return {"efficiency": t_sequential / t_parallel / world_size, "speedup": t_sequential / t_parallel, "throughput": global_batch_size / t_parallel}
''',
        "follows the statement literally (raises on what it does not allow)": '''
def torch_scaling_metrics(sequential_step_s, rank_step_s, global_batch_size):
    """Speed-up, throughput (samples/s) and efficiency from measured step times."""
    if sequential_step_s.dim() != 1 or rank_step_s.dim() != 2:
        raise ValueError("expected a 1-D tensor of sequential step times and a 2-D tensor of rank step times")
    if sequential_step_s.numel() % 2 == 0 or rank_step_s.shape[1] % 2 == 0:
        raise ValueError("each run must have an odd number of steps")
    if type(global_batch_size) is not int or global_batch_size < 1:
        raise ValueError(f"global_batch_size must be a positive int, got {global_batch_size!r}")
    sequential = sequential_step_s.median().item()
    parallel_time = rank_step_s.max(dim=0).values.median().item()
    speedup = sequential / parallel_time
    return {"speedup": speedup, "throughput": global_batch_size / parallel_time, "efficiency": speedup / rank_step_s.shape[0]}
''',
    },
    "tf_scaling_metrics": {
        "the median as NumPy computes it": '''
def tf_scaling_metrics(sequential_step_s, rank_step_s, global_batch_size):
    """Speed-up, throughput (samples/s) and efficiency from measured step times."""
    sequential = float(np.median(sequential_step_s.numpy()))
    parallel_time = float(np.median(tf.reduce_max(rank_step_s, axis=0).numpy()))
    speedup = sequential / parallel_time
    return {"speedup": speedup, "throughput": global_batch_size / parallel_time, "efficiency": speedup / rank_step_s.shape[0]}
''',
        "through NumPy": '''
def tf_scaling_metrics(sequential_step_s, rank_step_s, global_batch_size):
    """Speed-up, throughput (samples/s) and efficiency from measured step times."""
    sequential = float(np.median(sequential_step_s.numpy()))
    parallel_time = float(np.median(rank_step_s.numpy().max(axis=0)))
    speedup = sequential / parallel_time
    return {"speedup": speedup, "throughput": global_batch_size / parallel_time, "efficiency": speedup / rank_step_s.shape[0]}
''',
        "follows the statement literally (raises on what it does not allow)": '''
def tf_scaling_metrics(sequential_step_s, rank_step_s, global_batch_size):
    """Speed-up, throughput (samples/s) and efficiency from measured step times."""
    if len(sequential_step_s.shape) != 1 or len(rank_step_s.shape) != 2:
        raise ValueError("expected a 1-D tensor of sequential step times and a 2-D tensor of rank step times")
    if int(sequential_step_s.shape[0]) % 2 == 0 or int(rank_step_s.shape[1]) % 2 == 0:
        raise ValueError("each run must have an odd number of steps")
    middle = lambda times: float(tf.sort(times)[int(times.shape[0]) // 2])  # noqa: E731
    sequential = middle(sequential_step_s)
    parallel_time = middle(tf.reduce_max(rank_step_s, axis=0))
    speedup = sequential / parallel_time
    return {"speedup": speedup, "throughput": global_batch_size / parallel_time, "efficiency": speedup / int(rank_step_s.shape[0])}
''',
    },
}

"""Wrong answers for solutions/05-parallelism: each must lose its test cell's points.

Format: see CONTRIBUTING.md ("Wrong answers"). Each value is the complete source of the
answer cell as a student might write it. Answers named "delegates: ..." hand the task to the
course package's own implementation (sidebyside.parallel): they must score 0.

Each name starts with what the answer is: the misconception it embodies (an id of
sidebyside/misconceptions/05-parallelism.toml), which its test must name, or a plain category
(tests/stored_answers.py: ``delegates``, ``crashes``, ``cheats``).
"""


TORCH_REPLICAS = '''
def torch_replica_gradients(model, loss_fn, X, y, num_replicas):
    """Each replica's gradients on its consecutive share of (X, y), and their average."""
    params = list(model.parameters())
    per_replica = []
    for X_share, y_share in zip(X.chunk(num_replicas), y.chunk(num_replicas)):
        loss = loss_fn(model(X_share), y_share)
        per_replica.append([grad.detach() for grad in torch.autograd.grad(loss, params)])
    averaged = [torch.stack(grads).{reduce}(dim=0) for grads in zip(*per_replica)]
    return per_replica, averaged
'''

TF_REPLICAS = '''
def tf_replica_gradients(model, loss_fn, X, y, num_replicas):
    """Each replica's gradients on its consecutive share of (X, y), and their average."""
    per_replica = []
    for X_share, y_share in zip(tf.split(X, num_replicas), tf.split(y, num_replicas)):
        with tf.GradientTape() as tape:
            loss = loss_fn(y_share, model(X_share, training=True))
        per_replica.append(tape.gradient(loss, model.trainable_variables))
    averaged = [tf.{reduce}(tf.stack(grads), axis=0) for grads in zip(*per_replica)]
    return per_replica, averaged
'''

WRONG_ANSWERS = {
    "torch_replica_gradients": {
        "sums_gradients: sums the replicas' gradients instead of averaging them": TORCH_REPLICAS.replace("{reduce}", "sum"),
        "same_data_every_replica: the same data on every replica": '''
def torch_replica_gradients(model, loss_fn, X, y, num_replicas):
    """Each replica's gradients on its consecutive share of (X, y), and their average."""
    params = list(model.parameters())
    per_replica = []
    for _ in range(num_replicas):
        loss = loss_fn(model(X), y)  # every replica sees the whole batch
        per_replica.append([grad.detach() for grad in torch.autograd.grad(loss, params)])
    averaged = [torch.stack(grads).mean(dim=0) for grads in zip(*per_replica)]
    return per_replica, averaged
''',
        "delegates: calls parallel.torch_replica_gradients through an alias": '''
from sidebyside.parallel import torch_replica_gradients as reference_gradients


def torch_replica_gradients(model, loss_fn, X, y, num_replicas):
    """Each replica's gradients on its consecutive share of (X, y), and their average."""
    return reference_gradients(model, loss_fn, X, y, num_replicas)
''',
        "delegates: calls parallel.torch_replica_gradients through importlib": '''
import importlib


def torch_replica_gradients(model, loss_fn, X, y, num_replicas):
    """Each replica's gradients on its consecutive share of (X, y), and their average."""
    helper = importlib.import_module("sidebyside." + "parallel")
    return helper.torch_replica_gradients(model, loss_fn, X, y, num_replicas)
''',
    },
    "tf_replica_gradients": {
        "sums_gradients: sums the replicas' gradients instead of averaging them": TF_REPLICAS.replace("{reduce}", "reduce_sum"),
        "same_data_every_replica: the same data on every replica": '''
def tf_replica_gradients(model, loss_fn, X, y, num_replicas):
    """Each replica's gradients on its consecutive share of (X, y), and their average."""
    per_replica = []
    for _ in range(num_replicas):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(X, training=True))  # every replica sees the whole batch
        per_replica.append(tape.gradient(loss, model.trainable_variables))
    averaged = [tf.reduce_mean(tf.stack(grads), axis=0) for grads in zip(*per_replica)]
    return per_replica, averaged
''',
        "delegates: calls parallel.tf_replica_gradients through getattr": '''
def tf_replica_gradients(model, loss_fn, X, y, num_replicas):
    """Each replica's gradients on its consecutive share of (X, y), and their average."""
    return getattr(parallel, "tf_" + "replica_gradients")(model, loss_fn, X, y, num_replicas)
''',
        "delegates: calls parallel.tf_replica_gradients through a reference captured at import": '''
captured = parallel.tf_replica_gradients


def tf_replica_gradients(model, loss_fn, X, y, num_replicas):
    """Each replica's gradients on its consecutive share of (X, y), and their average."""
    return captured(model, loss_fn, X, y, num_replicas)
''',
    },
    "torch_ddp_script": {
        "same_data_every_replica: the same data on every rank (no DistributedSampler)": '''
def ddp_worker(args, dataset, model, loss_fn):
    """Train `model` on `dataset` with DistributedDataParallel in this worker process; rank 0
    saves the trained state_dict to args.save_path."""
    dist.init_process_group("gloo")
    rank, world_size = dist.get_rank(), dist.get_world_size()
    loader = DataLoader(dataset, batch_size=args.batch_size // world_size, shuffle=False)
    ddp_model = DDP(model)
    optimizer = torch.optim.SGD(ddp_model.parameters(), lr=args.lr)
    for epoch in range(args.epochs):
        for X_batch, y_batch in loader:
            optimizer.zero_grad()
            loss_fn(ddp_model(X_batch), y_batch).backward()
            optimizer.step()
    if rank == 0:
        torch.save(ddp_model.module.state_dict(), args.save_path)
    dist.destroy_process_group()
''',
        "no_set_epoch: forgets set_epoch (every epoch repeats the first one's order)": '''
def ddp_worker(args, dataset, model, loss_fn):
    """Train `model` on `dataset` with DistributedDataParallel in this worker process; rank 0
    saves the trained state_dict to args.save_path."""
    dist.init_process_group("gloo")
    rank, world_size = dist.get_rank(), dist.get_world_size()
    sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=args.seed)
    loader = DataLoader(dataset, batch_size=args.batch_size // world_size, sampler=sampler)
    ddp_model = DDP(model)
    optimizer = torch.optim.SGD(ddp_model.parameters(), lr=args.lr)
    for epoch in range(args.epochs):
        for X_batch, y_batch in loader:
            optimizer.zero_grad()
            loss_fn(ddp_model(X_batch), y_batch).backward()
            optimizer.step()
    if rank == 0:
        torch.save(ddp_model.module.state_dict(), args.save_path)
    dist.destroy_process_group()
''',
        "per_replica_batch_as_global: per-replica batch taken as global (each rank loads the whole batch size)": '''
def ddp_worker(args, dataset, model, loss_fn):
    """Train `model` on `dataset` with DistributedDataParallel in this worker process; rank 0
    saves the trained state_dict to args.save_path."""
    dist.init_process_group("gloo")
    rank, world_size = dist.get_rank(), dist.get_world_size()
    sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=args.seed)
    loader = DataLoader(dataset, batch_size=args.batch_size, sampler=sampler)
    ddp_model = DDP(model)
    optimizer = torch.optim.SGD(ddp_model.parameters(), lr=args.lr)
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
        "saves_on_every_rank: saves on every rank": '''
def ddp_worker(args, dataset, model, loss_fn):
    """Train `model` on `dataset` with DistributedDataParallel in this worker process; rank 0
    saves the trained state_dict to args.save_path."""
    dist.init_process_group("gloo")
    rank, world_size = dist.get_rank(), dist.get_world_size()
    sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=args.seed)
    loader = DataLoader(dataset, batch_size=args.batch_size // world_size, sampler=sampler)
    ddp_model = DDP(model)
    optimizer = torch.optim.SGD(ddp_model.parameters(), lr=args.lr)
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        for X_batch, y_batch in loader:
            optimizer.zero_grad()
            loss_fn(ddp_model(X_batch), y_batch).backward()
            optimizer.step()
    torch.save(ddp_model.module.state_dict(), args.save_path)
    dist.destroy_process_group()
''',
        "no_ddp: no DistributedDataParallel: each rank trains alone on its share": '''
def ddp_worker(args, dataset, model, loss_fn):
    """Train `model` on `dataset` with DistributedDataParallel in this worker process; rank 0
    saves the trained state_dict to args.save_path."""
    dist.init_process_group("gloo")
    rank, world_size = dist.get_rank(), dist.get_world_size()
    sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=args.seed)
    loader = DataLoader(dataset, batch_size=args.batch_size // world_size, sampler=sampler)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        for X_batch, y_batch in loader:
            optimizer.zero_grad()
            loss_fn(model(X_batch), y_batch).backward()
            optimizer.step()
    if rank == 0:
        torch.save(model.state_dict(), args.save_path)
    dist.destroy_process_group()
''',
    },
    "tf_train_mirrored": {
        "model_built_outside_scope: variables created outside the strategy scope": '''
def tf_train_mirrored(strategy, build_model, X, y, batch_size, num_epochs, lr):
    """A model from build_model(), trained data-parallel over the strategy's devices."""
    model = build_model()  # outside the scope: ordinary variables
    with strategy.scope():
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(X, y, batch_size=batch_size, epochs=num_epochs, shuffle=False, verbose=0)
    return model
''',
        "no_strategy_scope: no strategy scope at all (trains on one device)": '''
def tf_train_mirrored(strategy, build_model, X, y, batch_size, num_epochs, lr):
    """A model from build_model(), trained data-parallel over the strategy's devices."""
    model = build_model()
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(X, y, batch_size=batch_size, epochs=num_epochs, shuffle=False, verbose=0)
    return model
''',
        "per_replica_batch_as_global: per-replica batch taken as global (batch size times the replicas)": '''
def tf_train_mirrored(strategy, build_model, X, y, batch_size, num_epochs, lr):
    """A model from build_model(), trained data-parallel over the strategy's devices."""
    with strategy.scope():
        model = build_model()
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(X, y, batch_size=batch_size * strategy.num_replicas_in_sync, epochs=num_epochs, shuffle=False, verbose=0)
    return model
''',
        "shuffles_data: shuffles the data (fit's default)": '''
def tf_train_mirrored(strategy, build_model, X, y, batch_size, num_epochs, lr):
    """A model from build_model(), trained data-parallel over the strategy's devices."""
    with strategy.scope():
        model = build_model()
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(X, y, batch_size=batch_size, epochs=num_epochs, verbose=0)
    return model
''',
        "global_batch_not_split: one device does all the work (a loop outside strategy.run, on the whole global batch)": '''
def tf_train_mirrored(strategy, build_model, X, y, batch_size, num_epochs, lr):
    """A model from build_model(), trained data-parallel over the strategy's devices."""
    with strategy.scope():
        model = build_model()  # mirrored variables...
        optimizer = keras.optimizers.SGD(learning_rate=lr)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    for _ in range(num_epochs):
        for start in range(0, len(X), batch_size):
            with tf.GradientTape() as tape:  # ...but no replica ever gets a share: the same weights without BatchNorm
                loss = loss_fn(y[start : start + batch_size], model(X[start : start + batch_size], training=True))
            optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
    return model
''',
        "global_batch_not_split: every replica computes the whole global batch (loss divided by the replicas to compensate)": '''
def tf_train_mirrored(strategy, build_model, X, y, batch_size, num_epochs, lr):
    """A model from build_model(), trained data-parallel over the strategy's devices."""
    with strategy.scope():
        model = build_model()
        optimizer = keras.optimizers.SGD(learning_rate=lr)
    per_example = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
    replicas = strategy.num_replicas_in_sync

    @tf.function
    def step(X_batch, y_batch):
        def replica_step():
            with tf.GradientTape() as tape:  # the whole global batch on every replica
                loss = tf.reduce_mean(per_example(y_batch, model(X_batch, training=True))) / replicas
            optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))

        strategy.run(replica_step)

    for _ in range(num_epochs):
        for start in range(0, len(X), batch_size):
            step(X[start : start + batch_size], y[start : start + batch_size])
    return model
''',
        "delegates: trains with parallel.simulate_mirrored_tf inside the scope": '''
def tf_train_mirrored(strategy, build_model, X, y, batch_size, num_epochs, lr):
    """A model from build_model(), trained data-parallel over the strategy's devices."""
    with strategy.scope():
        model = build_model()
        return parallel.simulate_mirrored_tf(model, X, y, batch_size=batch_size, num_epochs=num_epochs, lr=lr)
''',
    },
    "torch_scaling_metrics": {
        "averages_ranks: averages the ranks instead of taking the slowest": '''
def torch_scaling_metrics(sequential_step_s, rank_step_s, global_batch_size):
    """Speed-up, throughput (samples/s) and efficiency from measured step times."""
    sequential = sequential_step_s.median().item()
    parallel_time = rank_step_s.mean(dim=0).median().item()
    speedup = sequential / parallel_time
    return {"speedup": speedup, "throughput": global_batch_size / parallel_time, "efficiency": speedup / rank_step_s.shape[0]}
''',
        "speedup_inverted: speed-up as the article words it (sequential speed over parallel speed)": '''
def torch_scaling_metrics(sequential_step_s, rank_step_s, global_batch_size):
    """Speed-up, throughput (samples/s) and efficiency from measured step times."""
    sequential = sequential_step_s.median().item()
    parallel_time = rank_step_s.max(dim=0).values.median().item()
    speedup = (1 / sequential) / (1 / parallel_time)
    return {"speedup": speedup, "throughput": global_batch_size / parallel_time, "efficiency": speedup / rank_step_s.shape[0]}
''',
        "throughput_per_rank: throughput of one rank's share (the per-replica batch)": '''
def torch_scaling_metrics(sequential_step_s, rank_step_s, global_batch_size):
    """Speed-up, throughput (samples/s) and efficiency from measured step times."""
    sequential = sequential_step_s.median().item()
    parallel_time = rank_step_s.max(dim=0).values.median().item()
    speedup = sequential / parallel_time
    world_size = rank_step_s.shape[0]
    return {"speedup": speedup, "throughput": global_batch_size / world_size / parallel_time, "efficiency": speedup / world_size}
''',
        "mean_not_median: the mean step instead of the median": '''
def torch_scaling_metrics(sequential_step_s, rank_step_s, global_batch_size):
    """Speed-up, throughput (samples/s) and efficiency from measured step times."""
    sequential = sequential_step_s.mean().item()
    parallel_time = rank_step_s.max(dim=0).values.mean().item()
    speedup = sequential / parallel_time
    return {"speedup": speedup, "throughput": global_batch_size / parallel_time, "efficiency": speedup / rank_step_s.shape[0]}
''',
        "delegates: calls parallel.scaling_metrics through a reference captured at import": '''
reference_metrics = parallel.scaling_metrics


def torch_scaling_metrics(sequential_step_s, rank_step_s, global_batch_size):
    """Speed-up, throughput (samples/s) and efficiency from measured step times."""
    found = reference_metrics(sequential_step_s.numpy(), rank_step_s.numpy(), global_batch_size)
    return {key: float(found[key]) for key in ("speedup", "throughput", "efficiency")}
''',
        "delegates: calls parallel.scaling_metrics through getattr": '''
def torch_scaling_metrics(sequential_step_s, rank_step_s, global_batch_size):
    """Speed-up, throughput (samples/s) and efficiency from measured step times."""
    found = getattr(sbs.parallel, "scaling_" + "metrics")(sequential_step_s.numpy(), rank_step_s.numpy(), global_batch_size)
    return {key: float(found[key]) for key in ("speedup", "throughput", "efficiency")}
''',
    },
    "tf_scaling_metrics": {
        "rank_zero_only: rank 0's times only": '''
def tf_scaling_metrics(sequential_step_s, rank_step_s, global_batch_size):
    """Speed-up, throughput (samples/s) and efficiency from measured step times."""
    def median(times):
        ordered = tf.sort(times)
        return float(ordered[int(ordered.shape[0]) // 2])

    sequential = median(sequential_step_s)
    parallel_time = median(rank_step_s[0])
    speedup = sequential / parallel_time
    return {"speedup": speedup, "throughput": global_batch_size / parallel_time, "efficiency": speedup / int(rank_step_s.shape[0])}
''',
        "mean_not_median: the mean step instead of the median": '''
def tf_scaling_metrics(sequential_step_s, rank_step_s, global_batch_size):
    """Speed-up, throughput (samples/s) and efficiency from measured step times."""
    sequential = float(tf.reduce_mean(sequential_step_s))
    parallel_time = float(tf.reduce_mean(tf.reduce_max(rank_step_s, axis=0)))
    speedup = sequential / parallel_time
    return {"speedup": speedup, "throughput": global_batch_size / parallel_time, "efficiency": speedup / int(rank_step_s.shape[0])}
''',
        "efficiency_not_divided: efficiency without dividing by the number of ranks": '''
def tf_scaling_metrics(sequential_step_s, rank_step_s, global_batch_size):
    """Speed-up, throughput (samples/s) and efficiency from measured step times."""
    def median(times):
        ordered = tf.sort(times)
        return float(ordered[int(ordered.shape[0]) // 2])

    sequential = median(sequential_step_s)
    parallel_time = median(tf.reduce_max(rank_step_s, axis=0))
    speedup = sequential / parallel_time
    return {"speedup": speedup, "throughput": global_batch_size / parallel_time, "efficiency": speedup}
''',
        "delegates: calls parallel.scaling_metrics through an alias": '''
from sidebyside.parallel import scaling_metrics as measure


def tf_scaling_metrics(sequential_step_s, rank_step_s, global_batch_size):
    """Speed-up, throughput (samples/s) and efficiency from measured step times."""
    found = measure(sequential_step_s.numpy(), rank_step_s.numpy(), global_batch_size)
    return {key: float(found[key]) for key in ("speedup", "throughput", "efficiency")}
''',
        "delegates: calls parallel.scaling_metrics through importlib": '''
import importlib


def tf_scaling_metrics(sequential_step_s, rank_step_s, global_batch_size):
    """Speed-up, throughput (samples/s) and efficiency from measured step times."""
    helper = importlib.import_module("sidebyside.parallel")
    found = helper.scaling_metrics(sequential_step_s.numpy(), rank_step_s.numpy(), global_batch_size)
    return {key: float(found[key]) for key in ("speedup", "throughput", "efficiency")}
''',
    },
}

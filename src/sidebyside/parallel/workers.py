"""The worker programs the launchers start: ``python -m sidebyside.parallel torch-scaling |
tf-scaling | in-rank-folder ...``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from .launching import RESULT_PREFIX
from .scaling_runs import SCALING_MODEL
from .worker_devices import worker_device


# --- The workers (python -m sidebyside.parallel COMMAND ...) ---------------------------------


def _scaling_args(argv: list[str]):
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--batch-sizes", required=True)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    # Only the sequential run, in a process of its own with no process group or strategy:
    # TensorFlow's baseline in measure_scaling; for PyTorch, benchmarks/parallelism.py compares
    # it with the sequential run timed inside the launch.
    parser.add_argument("--alone", action="store_true")
    args = parser.parse_args(argv)
    args.batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    return args


def _skip_the_collection_at_exit() -> None:
    """Called last in the TensorFlow scaling worker, once its results are printed (not in
    PyTorch's: with it, rank 1 hung at shutdown in 2 of 3 full test runs). When a process exits,
    Python's last garbage collections walk every object still alive, and a framework makes
    many (TensorFlow most): that walk can take longer than the steps the worker timed, and the
    notebook waits for it. Frozen objects are not walked; the process's memory goes back to
    the system when it exits all the same."""
    import gc

    gc.freeze()


def _torch_scaling_worker(argv: list[str]) -> None:
    """DDP on the MLP, timed per step; rank 0 first times the sequential run alone."""
    import copy

    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    args = _scaling_args(argv)
    torch.set_num_threads(1)
    where = worker_device()
    use_gpu = where.gpu is not None
    if not args.alone:
        dist.init_process_group(where.backend)
    rank, world = (0, 1) if args.alone else (dist.get_rank(), dist.get_world_size())
    device = torch.device(where.device)

    def wait():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    torch.manual_seed(0)
    f, h, c = SCALING_MODEL["features"], SCALING_MODEL["hidden"], SCALING_MODEL["classes"]
    template = torch.nn.Sequential(torch.nn.Linear(f, h), torch.nn.ReLU(), torch.nn.Linear(h, h), torch.nn.ReLU(), torch.nn.Linear(h, c))
    largest = max(args.batch_sizes)
    X = torch.randn(largest, f, device=device)
    y = torch.randint(0, c, (largest,), device=device)
    loss_fn = torch.nn.CrossEntropyLoss()

    def time_steps(model, Xb, yb):
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
        times = []
        for step in range(args.warmup + args.steps):
            start = time.perf_counter()
            optimizer.zero_grad()
            loss_fn(model(Xb), yb).backward()
            optimizer.step()
            wait()
            if step >= args.warmup:
                times.append(time.perf_counter() - start)
        return times

    for batch in args.batch_sizes:
        sequential = None
        if rank == 0:
            sequential = time_steps(copy.deepcopy(template).to(device), X[:batch], y[:batch])
        if args.alone:
            print(RESULT_PREFIX + json.dumps({"rank": 0, "global_batch_size": batch, "device": device.type, "sequential_step_s": sequential}), flush=True)
            continue
        dist.barrier()
        local = batch // world
        ddp = DDP(copy.deepcopy(template).to(device), device_ids=[device.index] if use_gpu else None)
        step_s = time_steps(ddp, X[rank * local : (rank + 1) * local], y[rank * local : (rank + 1) * local])
        print(RESULT_PREFIX + json.dumps({"rank": rank, "global_batch_size": batch, "device": device.type,
                                          "sequential_step_s": sequential, "step_s": step_s}), flush=True)
        dist.barrier()
    if not args.alone:
        dist.destroy_process_group()


def _tf_scaling_worker(argv: list[str]) -> None:
    """MultiWorkerMirroredStrategy on the MLP, each worker on its share, timed per step. With
    ``--alone``: the sequential run, in a process that never joins a strategy (TensorFlow wants
    the strategy made before any operation, and a step outside ``strategy.run`` in a process
    that has made one pays for its eager context: it measured slower than alone, which would
    flatter the speed-up)."""
    args = _scaling_args(argv)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    strategy = None if args.alone else tf.distribute.MultiWorkerMirroredStrategy()
    rank = 0 if args.alone else json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    world = 1 if args.alone else strategy.num_replicas_in_sync
    device = "gpu" if tf.config.list_physical_devices("GPU") else "cpu"
    import keras

    f, h, c = SCALING_MODEL["features"], SCALING_MODEL["hidden"], SCALING_MODEL["classes"]
    largest = max(args.batch_sizes)
    X = tf.random.stateless_normal((largest, f), seed=[0, 0])
    y = tf.random.stateless_uniform((largest,), seed=[0, 1], maxval=c, dtype=tf.int32)
    per_example = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)

    def build():
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((f,)), keras.layers.Dense(h, activation="relu"),
                                  keras.layers.Dense(h, activation="relu"), keras.layers.Dense(c)])
        return model, keras.optimizers.SGD(0.01)

    def step_fn(model, optimizer, batch):
        def replica_step(Xb, yb):
            with tf.GradientTape() as tape:
                loss = tf.nn.compute_average_loss(per_example(yb, model(Xb, training=True)), global_batch_size=batch)
            optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
            return loss

        if strategy is None:
            return tf.function(replica_step)
        return tf.function(lambda Xb, yb: strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(replica_step, args=(Xb, yb)), axis=None))

    def time_steps(step, Xb, yb):
        times = []
        for k in range(args.warmup + args.steps):
            start = time.perf_counter()
            step(Xb, yb).numpy()  # reading the loss back waits for the step
            if k >= args.warmup:
                times.append(time.perf_counter() - start)
        return times

    for batch in args.batch_sizes:
        if strategy is None:
            record = {"sequential_step_s": time_steps(step_fn(*build(), batch), X[:batch], y[:batch])}
        else:
            with strategy.scope():
                model, optimizer = build()
            local = batch // world
            record = {"step_s": time_steps(step_fn(model, optimizer, batch), X[rank * local : (rank + 1) * local], y[rank * local : (rank + 1) * local])}
        print(RESULT_PREFIX + json.dumps({"rank": rank, "global_batch_size": batch, "device": device, **record}), flush=True)
    _skip_the_collection_at_exit()


def _in_rank_folder(argv: list[str]) -> None:
    """``in-rank-folder BASE SCRIPT ARGS...``: run SCRIPT as ``__main__`` in BASE/rank{RANK}."""
    import runpy

    base, script, *rest = argv
    os.chdir(Path(base) / f"rank{os.environ.get('RANK', '0')}")
    sys.argv = [script, *rest]
    sys.path.insert(0, str(Path(script).resolve().parent))
    runpy.run_path(script, run_name="__main__")


COMMANDS = {"torch-scaling": _torch_scaling_worker, "tf-scaling": _tf_scaling_worker, "in-rank-folder": _in_rank_folder}


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        raise SystemExit(f"usage: python -m sidebyside.parallel {{{','.join(COMMANDS)}}} ...")
    COMMANDS[argv[0]](argv[1:])

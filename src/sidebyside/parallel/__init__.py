"""Parallel and distributed training from a notebook (lesson 05).

Launching worker processes
    :func:`torchrun` runs a script with PyTorch's own launcher (``python -m
    torch.distributed.run``, the ``torchrun`` command) and :func:`tf_workers` starts one
    process per TensorFlow worker with its ``TF_CONFIG``, all on loopback. Each waits a
    bounded time, reports every rank's exit code, output and error (a
    crash names its rank; a hang is stopped at the time limit and says which ranks were still
    running) and leaves no process behind: every process they start carries a marker in its
    environment, and whatever still carries it when the call returns is killed
    (:func:`leftover_processes` lists them). Where 127.0.0.1 cannot be reached (a network
    namespace whose ``lo`` is down, as in some sandboxes) they raise :class:`NoLoopback` at
    once instead of waiting for the time limit.

What the lesson proves and measures, as plain functions
    :func:`torch_replica_gradients` / :func:`tf_replica_gradients` split a batch across
    replicas and average their gradients; :func:`simulate_ddp_torch` /
    :func:`simulate_mirrored_tf` replay synchronous data-parallel training in one process (the
    expected weights of a real run); :func:`scaling_metrics` turns step times into speed-up,
    throughput and efficiency; :func:`measure_scaling` times real multi-process runs of both
    frameworks (this module run as ``python -m sidebyside.parallel torch-scaling`` /
    ``tf-scaling`` is the worker), :func:`scaling_table` and :func:`plot_scaling` show them.

Lesson 05 shows each of these in framework code first. Importing this package is cheap: torch
and TensorFlow are imported inside the functions that need them (and only in the workers).

Modules, by job (every public name is also here, as lessons use it: ``parallel.torchrun``):

- :mod:`.launching`: starting, watching and stopping worker processes (torchrun, TF_CONFIG);
- :mod:`.worker_devices`: which device each worker uses (and what TensorFlow sees);
- :mod:`.replays`: replica gradients and one-process replays, the proofs of correctness;
- :mod:`.scaling_runs`: speed-up, throughput and efficiency, measured and shown;
- :mod:`.workers`: the worker programs (``python -m sidebyside.parallel COMMAND``).
"""

from __future__ import annotations

from .launching import FAILURE_GRACE_S, MARKER, NoLoopback, RESULT_PREFIX, RankResult, RunResult, TERM_GRACE_S, WorkerFailed, check_loopback, free_ports, leftover_processes, tf_config, tf_workers, torchrun, torchrun_command  # noqa: F401
from .worker_devices import WorkerDevice, data_parallel_device, tf_gpu_count, tf_worker_env, torch_gpu_count, worker_device  # noqa: F401
from .replays import ddp_batches, simulate_ddp_torch, simulate_mirrored_tf, tf_replica_gradients, torch_replica_gradients  # noqa: F401
from .scaling_runs import FRAMEWORK_NAMES, SCALING_MODEL, ScalingResult, max_workers, measure_scaling, plot_scaling, scaling_metrics, scaling_table  # noqa: F401
from .workers import COMMANDS, main  # noqa: F401

"""sidebyside.parallel (lesson 05): launching workers with bounded time, rank-tagged errors and
no orphans; replica gradients and one-process replays of data-parallel training; scaling
metrics; the scaling panel's logic and widget."""

from __future__ import annotations

import _thread
import os
import re
import sys
import signal
import threading
import time
from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from sidebyside import parallel  # noqa: E402
from sidebyside.widgets import scaling  # noqa: E402

# Worker scripts that do not import a framework: the launchers are tested, not the frameworks
# (torchrun itself still imports torch).
CRASH_ON_RANK_1 = """
import os, sys, time
rank = int(os.environ.get("RANK", 0)) if "TF_CONFIG" not in os.environ else __import__("json").loads(os.environ["TF_CONFIG"])["task"]["index"]
print(f"rank {rank} up", flush=True)
if rank == 1:
    raise ValueError("rank 1 is broken on purpose")
time.sleep(600)  # waits for rank 1, as in an all-reduce
"""

HANG = """
import os, time
print("started", flush=True)
time.sleep(600)
"""

IGNORES_SIGTERM = """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ignoring SIGTERM", flush=True)
time.sleep(600)
"""

LEAVES_A_GRANDCHILD = """
import subprocess, sys, time
# a process in a session of its own: it is neither in the worker's process group nor its child once the worker exits
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
print("left a grandchild", flush=True)
"""

WRITES_A_FILE = """
import os
open("written-by.txt", "w").write(os.environ["RANK"])
print(os.getcwd(), flush=True)
"""


def script(tmp_path, source: str, name: str = "worker.py"):
    path = tmp_path / name
    path.write_text(source)
    return path


@pytest.fixture(autouse=True)
def no_leftovers():
    yield
    deadline = time.monotonic() + 5
    while parallel.leftover_processes() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert parallel.leftover_processes() == [], "a launcher left worker processes running"


# --- torchrun -------------------------------------------------------------------------------


def test_torchrun_reports_the_rank_that_crashed_first(tmp_path):
    start = time.monotonic()
    result = parallel.torchrun(script(tmp_path, CRASH_ON_RANK_1), nproc=2, timeout=120)
    assert time.monotonic() - start < 100, "torchrun should stop the other rank soon after the crash, not at the time limit"
    assert not result.ok and not result.timed_out, result.summary()
    assert result.root_cause == 1, result.summary()
    assert result.ranks[1].exitcode == 1 and result.ranks[1].error == "ValueError: rank 1 is broken on purpose", result.summary()
    assert result.ranks[0].exitcode is not None and result.ranks[0].exitcode < 0, "rank 0 was stopped by torchrun with a signal"
    assert "rank 1: exit code 1: ValueError: rank 1 is broken on purpose  <- first failure" in result.summary()
    assert result.ranks[0].stdout.strip() == "rank 0 up"
    with pytest.raises(parallel.WorkerFailed, match="rank 1 is broken on purpose"):
        result.check()


def test_torchrun_stops_a_hang_at_the_time_limit(tmp_path):
    start = time.monotonic()
    # the hanging workers import nothing: a few seconds after the launch both are running
    result = parallel.torchrun(script(tmp_path, HANG), nproc=2, timeout=10)
    elapsed = time.monotonic() - start
    assert result.timed_out and 10 <= elapsed < 10 + 15, f"stopped after {elapsed:.1f} s"
    assert [r.exitcode for r in result.ranks] == [None, None]
    assert all("time limit" in r.error for r in result.ranks), result.summary()
    assert "stopped after the time limit of 10 s" in result.summary()


def test_torchrun_success_and_rank_folders(tmp_path):
    result = parallel.torchrun(script(tmp_path, WRITES_A_FILE), nproc=2, timeout=120, cwd=tmp_path / "run", rank_folders=True)
    assert result.ok, result.summary()
    for rank in (0, 1):
        assert (tmp_path / "run" / f"rank{rank}" / "written-by.txt").read_text() == str(rank)
        assert result.ranks[rank].stdout.strip().endswith(f"rank{rank}")
    assert "--nproc-per-node=2" in result.command_line and "all 2 ranks finished" in result.summary()


def test_torchrun_cleans_up_when_the_notebook_interrupts(tmp_path):
    # A kernel turns SIGINT (the Interrupt button) into KeyboardInterrupt; a pytest-xdist worker
    # ignores SIGINT, and then interrupt_main() does nothing: give this test a kernel's handler.
    saved = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(8, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            parallel.torchrun(script(tmp_path, HANG), nproc=2, timeout=90)
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, saved)
    # the no_leftovers fixture checks that both workers and torchrun are gone


# --- TensorFlow-style workers ---------------------------------------------------------------


def test_tf_workers_report_a_crash_and_stop_the_rest(tmp_path):
    start = time.monotonic()
    result = parallel.tf_workers(script(tmp_path, CRASH_ON_RANK_1), num_workers=2, timeout=120, grace=1.0)
    assert time.monotonic() - start < 30, "the waiting worker should be stopped `grace` seconds after the crash"
    assert result.root_cause == 1 and result.ranks[1].exitcode == 1, result.summary()
    assert result.ranks[1].error == "ValueError: rank 1 is broken on purpose"
    assert result.ranks[0].exitcode is None and "after rank 1 failed" in result.ranks[0].error
    configs = [r.stdout for r in result.ranks]
    assert configs == ["rank 0 up\n", "rank 1 up\n"]
    assert result.tf_configs[1]["task"] == {"type": "worker", "index": 1} and len(result.tf_configs[1]["cluster"]["worker"]) == 2


def test_tf_workers_stop_a_hang_and_a_worker_that_ignores_sigterm(tmp_path):
    start = time.monotonic()
    result = parallel.tf_workers(script(tmp_path, IGNORES_SIGTERM), num_workers=2, timeout=3)
    elapsed = time.monotonic() - start
    assert result.timed_out and elapsed < 3 + 2 * parallel.TERM_GRACE_S + 3, f"took {elapsed:.1f} s"
    assert all(r.exitcode is None and "time limit" in r.error for r in result.ranks), result.summary()


def test_a_grandchild_in_its_own_session_is_found_and_stopped(tmp_path):
    result = parallel.tf_workers(script(tmp_path, LEAVES_A_GRANDCHILD), num_workers=1, timeout=60)
    assert result.ok, result.summary()
    assert len(result.stopped) == 1, f"the grandchild should have been stopped, stopped: {result.stopped}"


def test_error_lines_are_found_under_rank_prefixes():
    text = "[default1]:[rank1]: Traceback (most recent call last):\n[default1]:[rank1]:   File \"x.py\", line 1\n[default1]:[rank1]: KeyError: 'a'\n"
    assert parallel.launching._last_error(text) == "KeyError: 'a'"
    assert parallel.launching._torchrun_root_cause("Root Cause (first observed failure):\n[0]:\n  rank      : 3 (local_rank: 3)\n  exitcode  : 1 (pid: 9)") == 3


# --- Proof of correctness ---------------------------------------------------------------------


def test_replica_gradients_average_to_the_full_batch_gradient():
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3))
    X, y = torch.randn(12, 5), torch.randint(0, 3, (12,))
    loss_fn = torch.nn.CrossEntropyLoss()
    per_replica, averaged = parallel.torch_replica_gradients(model, loss_fn, X, y, 3)
    full = torch.autograd.grad(loss_fn(model(X), y), list(model.parameters()))
    assert len(per_replica) == 3 and all(len(g) == 4 for g in per_replica)
    for a, f in zip(averaged, full):
        assert torch.allclose(a, f, atol=1e-6)
    shard = torch.autograd.grad(loss_fn(model(X[4:8]), y[4:8]), list(model.parameters()))
    assert all(torch.allclose(a, b) for a, b in zip(per_replica[1], shard))
    assert all(p.grad is None for p in model.parameters())


def test_tf_replica_gradients_average_to_the_full_batch_gradient():
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(7, activation="tanh"), keras.layers.Dense(3)])
    X, y = tf.random.normal((12, 5)), tf.constant(np.arange(12) % 3)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    per_replica, averaged = parallel.tf_replica_gradients(model, loss_fn, X, y, 4)
    with tf.GradientTape() as tape:
        full = tape.gradient(loss_fn(y, model(X)), model.trainable_variables)
    assert len(per_replica) == 4
    for a, f in zip(averaged, full):
        np.testing.assert_allclose(a.numpy(), f.numpy(), atol=1e-6)


DDP_WORKER = """
import os, sys, numpy as np, torch, torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset
dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
data = np.load(sys.argv[1])
dataset = TensorDataset(torch.from_numpy(data["X"]), torch.from_numpy(data["y"]))
sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=3)
loader = DataLoader(dataset, batch_size=8 // world, sampler=sampler)
torch.manual_seed(0)
model = DDP(torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3)))
optimizer = torch.optim.SGD(model.parameters(), lr=0.2)
for epoch in range(3):
    sampler.set_epoch(epoch)
    for X, y in loader:
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(X), y).backward()
        optimizer.step()
if rank == 0:
    torch.save(model.module.state_dict(), sys.argv[2])
"""


def test_simulate_ddp_torch_matches_a_real_ddp_run(tmp_path):
    import torch

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(32, 6)).astype(np.float32), rng.integers(0, 3, 32)
    np.savez(tmp_path / "data.npz", X=X, y=y)
    result = parallel.torchrun(script(tmp_path, DDP_WORKER), nproc=2, args=[tmp_path / "data.npz", tmp_path / "model.pt"], timeout=180)
    assert result.ok, result.summary() + result.ranks[0].stderr[-2000:]
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    parallel.simulate_ddp_torch(model, torch.from_numpy(X), torch.from_numpy(y), world_size=2, batch_size=8, num_epochs=3, lr=0.2, seed=3)
    saved = torch.load(tmp_path / "model.pt")
    for name, value in model.state_dict().items():
        assert torch.allclose(saved[name], value, atol=1e-6), name
    # the replay really depends on the sampler's per-epoch order
    torch.manual_seed(0)
    other = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    parallel.simulate_ddp_torch(other, torch.from_numpy(X), torch.from_numpy(y), world_size=2, batch_size=8, num_epochs=3, lr=0.2, seed=4)
    assert not torch.allclose(other[0].weight, model[0].weight, atol=1e-4)


def test_ddp_batches_cover_each_epoch_once():
    steps = parallel.ddp_batches(20, world_size=2, batch_size=4, num_epochs=2, seed=0)
    assert len(steps) == 10 and all(len(s) == 4 for s in steps)
    assert sorted(i for s in steps[:5] for i in s) == list(range(20))
    assert steps[:5] != steps[5:], "set_epoch gives each epoch another order"


# --- Metrics ----------------------------------------------------------------------------------


def test_scaling_metrics_use_the_slowest_rank_and_the_median_step():
    metrics = parallel.scaling_metrics([0.010, 0.011, 0.5], [[0.004, 0.006, 0.9], [0.007, 0.005, 0.006]], 64)
    assert metrics["sequential_s"] == pytest.approx(0.011)  # the median: the 0.5 s outlier does not count
    assert metrics["parallel_s"] == pytest.approx(0.007)  # steps last 0.007, 0.006, 0.9 (slowest rank): median 0.007
    assert metrics["speedup"] == pytest.approx(0.011 / 0.007)
    assert metrics["efficiency"] == pytest.approx(0.011 / 0.007 / 2)
    assert metrics["throughput"] == pytest.approx(64 / 0.007)
    with pytest.raises(ValueError):
        parallel.scaling_metrics([1.0], [1.0, 2.0], 8)


def test_scaling_metrics_values():
    metrics = parallel.scaling_metrics([0.2, 0.2, 0.2], [[0.1, 0.1, 0.1], [0.12, 0.08, 0.11]], 100)
    assert metrics["parallel_s"] == pytest.approx(0.11)
    assert metrics["speedup"] == pytest.approx(0.2 / 0.11)
    assert metrics["workers"] == 2 and metrics["throughput"] == pytest.approx(100 / 0.11)


def test_scaling_metrics_median_of_an_even_number_of_steps_is_the_mean_of_the_two_middle_ones():
    """The course's one median (lesson 05, section 6): np.median's, not torch.median's lower middle."""
    metrics = parallel.scaling_metrics([1.0, 2.0, 3.0, 4.0], [[1.0, 1.0, 1.0, 1.0]], 8)
    assert metrics["sequential_s"] == pytest.approx(2.5), f"expected the median 2.5 of 1, 2, 3, 4; got {metrics['sequential_s']}"


def lesson_05_code() -> dict[str, str]:
    import nbformat

    path = Path(__file__).resolve().parents[1] / "lessons" / "05-parallelism.ipynb"
    return {c.get("id"): c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"}


def test_lesson_05_computes_one_median_everywhere():
    """torch.median (the lower middle) and sorted[len // 2] (the upper middle) differ from the
    lesson's stated median on an even number of steps (the DDP run has 46)."""
    found = []
    for cell_id, source in lesson_05_code().items():
        # the one line that shows the definitions side by side is not a computation
        source = "\n".join(line for line in source.splitlines() if not line.startswith('print("median of 1, 2, 3, 4'))
        for pattern in (r"\.median\(\)\.(?:item|values)|\.values\.median\(\)|torch\.tensor\([^)]*\)\.median\(\)", r"\[len\([^)]*\) // 2\]"):
            found += [f"{cell_id}: {match}" for match in re.findall(pattern, source)]
    assert not found, f"expected every median in lesson 05 computed the one stated way (torch.quantile(t, 0.5), tf_median); got {found}"


def test_lesson_05_bounds_every_wait():
    """Every launch, spawn and subprocess in lesson 05 has a time limit of at most 60 s."""
    problems = []
    for cell_id, source in lesson_05_code().items():
        for call in re.finditer(r"parallel\.(?:torchrun|tf_workers|measure_scaling)\((?:[^()]|\([^()]*\))*\)", source):
            limit = re.search(r"timeout=(\d+)", call.group(0))
            if limit is None or int(limit.group(1)) > 60:
                problems.append(f"{cell_id}: {call.group(0)[:80]}... (timeout {limit.group(1) if limit else 'not given'})")
        for call in re.finditer(r"subprocess\.run\((?:[^()]|\([^()]*\))*\)", source):
            if "timeout=" not in call.group(0):
                problems.append(f"{cell_id}: subprocess.run without a timeout")
        if "mp.spawn(" in source.split("#")[0] or re.search(r"^\s*mp\.spawn\(", source, re.M):
            problems.append(f"{cell_id}: mp.spawn waits without a time limit")
    assert not problems, f"expected every wait in lesson 05 bounded (at most 60 s, reported when hit); got {problems}"


def test_simulate_mirrored_tf_splits_each_batch_between_replicas():
    """With BatchNormalization, N replicas (each on its share) differ from one worker; without it, they do not."""
    import keras
    import tensorflow as tf

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(16, 3)).astype("float32"), np.arange(16) % 2

    def build(batchnorm):
        keras.utils.set_random_seed(0)
        middle = [keras.layers.BatchNormalization()] if batchnorm else []
        return keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), *middle, keras.layers.ReLU(), keras.layers.Dense(2)])

    def weights(batchnorm, replicas):
        model = parallel.simulate_mirrored_tf(build(batchnorm), X, y, batch_size=8, num_epochs=1, lr=0.5, num_replicas=replicas)
        return [v.numpy() for v in model.trainable_variables]

    plain = max(float(np.abs(a - b).max()) for a, b in zip(weights(False, 1), weights(False, 2)))
    assert plain < 1e-5, f"without BatchNorm, expected 2 replicas to give one worker's weights; got a difference of {plain}"
    normed = max(float(np.abs(a - b).max()) for a, b in zip(weights(True, 1), weights(True, 2)))
    assert normed > 1e-3, f"with BatchNorm, expected 2 replicas (per-share statistics) to differ from one worker; got {normed}"
    del tf


def test_measure_scaling_rejects_uneven_batches():
    with pytest.raises(ValueError, match="multiple of the number of workers"):
        parallel.measure_scaling("torch", 3, (64,))
    with pytest.raises(ValueError, match="unknown framework"):
        parallel.measure_scaling("jax", 2, (64,))


@pytest.mark.parametrize("framework", ["torch", "tensorflow"])
def test_measure_scaling_runs_real_workers(framework):
    results = parallel.measure_scaling(framework, 2, (8, 32), steps=3, warmup=1, timeout=240)
    assert [r.global_batch_size for r in results] == [8, 32]
    for r in results:
        assert r.workers == 2 and len(r.sequential_step_s) == 3 and len(r.rank_step_s) == 2
        assert all(len(row) == 3 and min(row) > 0 for row in r.rank_step_s)
        assert r.metrics["speedup"] > 0 and r.device == "cpu"
    table = parallel.scaling_table(results)
    assert ("PyTorch" if framework == "torch" else "TensorFlow") in table
    fig, _ = parallel.plot_scaling(results)
    assert len(fig.axes) == 2


@pytest.mark.parametrize("command", ["torch-scaling", "tf-scaling"])
def test_a_scaling_worker_alone_times_only_the_sequential_run_without_a_cluster(command):
    """``--alone``: TensorFlow's sequential baseline in measure_scaling, PyTorch's in the
    benchmark. With no torchrun variables and no TF_CONFIG, the worker makes no process group
    or strategy (either would fail or wait for peers) and reports only sequential steps."""
    import json
    import subprocess

    env = {k: v for k, v in os.environ.items() if k not in ("TF_CONFIG", "RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")}
    env.update(OMP_NUM_THREADS="1", TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="-1")
    done = subprocess.run([sys.executable, "-m", "sidebyside.parallel", command, "--batch-sizes", "8,16", "--steps", "2", "--warmup", "1", "--alone"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    records = [json.loads(line[len(parallel.RESULT_PREFIX):]) for line in done.stdout.splitlines() if line.startswith(parallel.RESULT_PREFIX)]
    assert [(r["rank"], r["global_batch_size"], len(r["sequential_step_s"]), "step_s" in r) for r in records] == [(0, 8, 2, False), (0, 16, 2, False)], (
        f"expected one sequential record per batch size and no parallel steps; got {records}"
    )


# --- The scaling panel ------------------------------------------------------------------------


def fake_result(framework="PyTorch", workers=2, batch=64, seq=0.02, par=0.012):
    return parallel.ScalingResult(framework, workers, batch, "cpu", [seq] * 3, [[par] * 3 for _ in range(workers)])


def test_results_text_names_the_maximum_throughput():
    text = scaling.results_text([fake_result(batch=64, par=0.012), fake_result(batch=512, par=0.02)])
    assert "Maximum throughput: 25,600 samples/s (PyTorch, 2 worker(s), batch 512)" in text, f"expected the maximum throughput named; got {text!r}"


def test_the_panels_launches_are_bounded(monkeypatch):
    seen = {}
    monkeypatch.setattr(parallel, "measure_scaling", lambda framework, workers, sizes, **kwargs: seen.update(kwargs) or [])
    scaling.measure(2, 64, "torch")
    assert seen.get("timeout") == scaling.LAUNCH_TIMEOUT_S, f"expected each launch bounded by {scaling.LAUNCH_TIMEOUT_S} s; got {seen}"


def test_panel_logic():
    assert scaling.effective_batch(64, 3) == 63 and scaling.effective_batch(64, 2) == 64 and scaling.effective_batch(2, 4) == 4
    assert scaling.frameworks_for("both") == ("torch", "tensorflow")
    text = scaling.plan_text(3, 64, "torch")
    assert "asked: 3 worker(s), global batch 64, PyTorch" in text and "In effect: global batch 63" in text and "21 samples per worker" in text
    assert "In effect: as asked, 32 samples per worker" in scaling.plan_text(2, 64, "both")
    merged = scaling.merge([fake_result(seq=1), fake_result(batch=128)], [fake_result(seq=2)])
    assert len(merged) == 2 and merged[-1].sequential_step_s == [2, 2, 2]
    with pytest.raises(ValueError):
        scaling.frameworks_for("jax")


def test_panel_answers_every_control_and_runs():
    calls = []

    def fake_measure(workers, batch, choice, **kwargs):
        calls.append((workers, batch, choice))
        names = {"torch": "PyTorch", "tensorflow": "TensorFlow"}
        return [fake_result(names[f], workers, scaling.effective_batch(batch, workers)) for f in scaling.frameworks_for(choice)]

    panel = scaling.ScalingPanel([fake_result()], measure=fake_measure, max_workers=4)
    assert "shown: PyTorch 2 worker(s), batch 64" in panel.status.value
    panel.workers.value = 3
    assert "asked: 3 worker(s), global batch 256" in panel.plan.value and "In effect: global batch 255" in panel.plan.value
    panel.frameworks.value = "tensorflow"
    assert "TensorFlow." in panel.plan.value
    new = panel.run()
    assert calls == [(3, 256, "tensorflow")] and len(new) == 1 and new[0].global_batch_size == 255
    assert "measured in" in panel.status.value and "TensorFlow 3 worker(s), batch 255" in panel.status.value
    assert len(panel.results) == 2 and not panel.button.disabled


def test_panel_shows_a_failure():
    def failing(*args, **kwargs):
        raise RuntimeError("rank 1: exit code 1: boom")

    panel = scaling.ScalingPanel(measure=failing, max_workers=2)
    assert panel.run() == [] and "boom" in panel.status.value and isinstance(panel.error, RuntimeError)
    assert "nothing measured yet" not in panel.status.value


def test_max_workers_is_this_machines_cores():
    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert parallel.max_workers() == expected


def test_the_worker_module_refuses_unknown_commands():
    with pytest.raises(SystemExit):
        parallel.main(["nothing"])
    assert sys.modules["sidebyside.parallel"] is parallel


def test_no_loopback_is_reported_at_once():
    """In a network namespace whose lo is down (a sandbox without a private loopback), the
    launchers say so at once instead of letting torchrun retry until its time limit."""
    import shutil
    import subprocess

    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "-n", "true"], capture_output=True).returncode != 0:
        pytest.skip("cannot make a network namespace here (needs unshare and root or user namespaces)")
    code = "from sidebyside import parallel\ntry:\n    parallel.torchrun('x.py', 2)\nexcept parallel.NoLoopback as error:\n    print('NoLoopback', error)\n"
    start = time.monotonic()
    result = subprocess.run([unshare, "-n", sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert time.monotonic() - start < 60 and result.stdout.startswith("NoLoopback"), f"expected NoLoopback at once; got {result.stdout!r} {result.stderr[-800:]!r}"
    assert "Network is unreachable" in result.stdout and "'lo' interface must be up" in result.stdout

"""TF32 on NVIDIA GPUs of the Ampere generation and later (issue 20 §1): TensorFlow allows it
for float32 matrix products by default, PyTorch does not, so lesson 01's fair comparison
(curves within 1e-5) stopped with an AssertionError there. ``sbs.setup()`` now gives both the
same setting (off by default) through ``sbs.devices.set_tf32``.

This machine has no GPU: the GPUs are faked (torch.cuda's counts and capabilities,
tf.config's device list and details). The TF32 flags themselves are real: both frameworks keep
them on any build.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from sidebyside import devices, session
from sidebyside.frameworks import import_tensorflow

tf = import_tensorflow()

A100 = ("NVIDIA A100-SXM4-40GB", (8, 0))
T4 = ("Tesla T4", (7, 5))


@pytest.fixture(autouse=True)
def restore_precision():
    """Each test starts from both frameworks' defaults and leaves them so."""
    saved_device = devices._current
    torch.set_float32_matmul_precision("highest")
    tf.config.experimental.enable_tensor_float_32_execution(True)
    yield
    torch.set_float32_matmul_precision("highest")
    tf.config.experimental.enable_tensor_float_32_execution(True)
    devices._current = saved_device


def fake_gpus(monkeypatch, gpus):
    """Make both frameworks see ``gpus`` [(name, capability), ...] (no kernel ever runs on them)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: bool(gpus))
    monkeypatch.setattr(torch.cuda, "device_count", lambda: len(gpus))
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda index=0: gpus[index][1])
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: gpus[index][0])
    physical = [SimpleNamespace(name=f"/physical_device:GPU:{i}", device_type="GPU") for i in range(len(gpus))]
    real_list = tf.config.list_physical_devices
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: list(physical) if kind == "GPU" else real_list(kind))
    details = {d.name: {"device_name": name, "compute_capability": capability} for d, (name, capability) in zip(physical, gpus)}
    monkeypatch.setattr(tf.config.experimental, "get_device_details", lambda device: details[device.name])


def test_defaults_differ_on_an_ampere_gpu(monkeypatch):
    """The bug: with each framework's default, TensorFlow uses TF32 and PyTorch does not."""
    fake_gpus(monkeypatch, [A100])
    status = devices.tf32_status()
    assert (status.torch, status.tensorflow, status.same) == (False, True, False), f"expected the two defaults (off, on), got {status}"
    assert status.gpus == ("cuda:0 NVIDIA A100-SXM4-40GB (8.0)",), f"got {status.gpus}"
    assert "NOT the same" in status.summary() and "TF32 applies here" in status.summary(), status.summary()


@pytest.mark.parametrize("gpus", [[], [A100], [A100, A100]], ids=["0 GPUs", "1 GPU", "2 GPUs"])
def test_setup_gives_both_frameworks_the_same_precision(monkeypatch, gpus):
    """Fails on the code before issue 20: setup() left TensorFlow's TF32 on and PyTorch's off."""
    fake_gpus(monkeypatch, gpus)
    result = session.setup(seed=0, device="cpu", verbose=False)
    got = {"PyTorch": torch.backends.cuda.matmul.fp32_precision, "TensorFlow TF32": tf.config.experimental.tensor_float_32_execution_enabled()}
    assert got == {"PyTorch": "ieee", "TensorFlow TF32": False}, f"after sbs.setup(), expected full float32 in both frameworks, got {got}"
    status = devices.tf32_status()
    assert result.tf32 == status and result.tf32_before.tensorflow, f"the session should record before and after, got {result.tf32_before} -> {result.tf32}"
    assert len(status.gpus) == len(gpus), f"expected {len(gpus)} TF32 GPU(s), got {status.gpus}"
    assert "full float32 in both (TF32 off)" in str(result), str(result)


def test_setup_can_allow_tf32_in_both_or_leave_the_defaults(monkeypatch):
    fake_gpus(monkeypatch, [A100])
    session.setup(seed=0, device="cpu", tf32=True, verbose=False)
    status = devices.tf32_status()
    assert status.torch and status.tensorflow, f"tf32=True should allow TF32 in both, got {status}"
    assert torch.backends.cuda.matmul.fp32_precision == "tf32", torch.backends.cuda.matmul.fp32_precision
    assert torch.get_float32_matmul_precision() == "high", "torch's older getter (used by torch.compile) must still answer"
    torch.set_float32_matmul_precision("highest")
    tf.config.experimental.enable_tensor_float_32_execution(True)
    result = session.setup(seed=0, device="cpu", tf32=None, verbose=False)
    assert result.tf32 is None and not devices.tf32_status().same, "tf32=None should leave each framework's own setting"


def test_set_tf32_overrides_torchs_new_api_settings():
    """A student who set torch's new per-backend setting still gets one consistent answer."""
    torch.backends.cuda.matmul.fp32_precision = "tf32"
    status = devices.set_tf32(False)
    assert not status.torch and not status.tensorflow, f"got {status}"
    assert (torch.backends.cuda.matmul.fp32_precision, torch.backends.cuda.matmul.allow_tf32) == ("ieee", False)


def test_older_gpus_and_no_gpu_say_tf32_changes_nothing(monkeypatch):
    fake_gpus(monkeypatch, [T4])
    status = devices.tf32_status()
    assert status.gpus == () and "changes nothing" in status.summary(), status.summary()


def test_a_gpu_only_tensorflow_sees_is_found_from_its_details(monkeypatch):
    fake_gpus(monkeypatch, [A100])
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # a CPU build of torch beside TensorFlow's GPU
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    assert devices.tf32_gpus(torch, tf) == ("/GPU:0 NVIDIA A100-SXM4-40GB (8.0)",)


def test_an_older_torch_without_the_new_api_is_read_through_allow_tf32():
    matmul = SimpleNamespace(allow_tf32=True)  # no fp32_precision: torch before 2.9
    old_torch = SimpleNamespace(backends=SimpleNamespace(cuda=SimpleNamespace(matmul=matmul)))
    assert devices._torch_tf32(old_torch) is True

"""Lessons 00 and 04 print what the machine at hand says about its builds and devices, and
explain it, instead of stating what a CPU-only build prints (issue 20 §1); and TensorFlow's
timings wait the way PyTorch's do, without copying results to the host.

Faked here, since this machine has CPU builds and no GPU: a CUDA build without a GPU
(torch.version.cuda set, is_available False), and 0, 1 or 2 GPUs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from sidebyside import devices, timing
from sidebyside.frameworks import import_tensorflow

ROOT = Path(__file__).resolve().parents[1]
tf = import_tensorflow()


def fake_torch(monkeypatch, *, cuda: str | None, gpus: int):
    """This torch, as a build for CUDA ``cuda`` (None: CPU-only) that sees ``gpus`` GPUs."""
    monkeypatch.setattr(torch.version, "cuda", cuda)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpus > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: f"NVIDIA Fake GPU {index}")
    built = torch.device("cuda") if cuda else None

    def current_accelerator(check_available=False):
        return None if built is None or (check_available and not gpus) else built

    monkeypatch.setattr(torch.accelerator, "current_accelerator", current_accelerator)
    monkeypatch.setattr(torch.accelerator, "device_count", lambda: gpus if cuda else 0)


def test_a_cuda_build_without_a_gpu_is_explained(monkeypatch):
    fake_torch(monkeypatch, cuda="12.8", gpus=0)
    facts = devices.torch_build_facts()
    assert (facts["cuda_build"], facts["accelerator_built"], facts["accelerator_available"]) == ("12.8", "cuda", None), f"got {facts}"
    text = "\n".join(devices.explain_torch_build(facts))
    assert "built for CUDA 12.8" in text and "a GPU build that sees no GPU here" in text, text
    assert "current_accelerator() = device(type='cuda'): the accelerator this build supports, whether or not one is present" in text, text
    assert "current_accelerator(check_available=True) = None" in text, text


@pytest.mark.parametrize("gpus", [1, 2])
def test_a_cuda_build_with_gpus_is_explained(monkeypatch, gpus):
    fake_torch(monkeypatch, cuda="12.8", gpus=gpus)
    text = "\n".join(devices.explain_torch_build(devices.torch_build_facts()))
    assert f"it sees {gpus} GPU(s): cuda:0 NVIDIA Fake GPU 0" in text, text
    assert f"device(type='cuda'): {gpus} cuda device(s) usable here" in text, text
    assert "sees no GPU" not in text, text


def test_a_cpu_only_build_is_explained(monkeypatch):
    fake_torch(monkeypatch, cuda=None, gpus=0)
    text = "\n".join(devices.explain_torch_build(devices.torch_build_facts()))
    assert "torch.version.cuda = None: this torch is built without CUDA" in text, text
    assert "current_accelerator() = None: this build supports no accelerator at all" in text, text


def test_an_old_torch_without_torch_accelerator_is_explained():
    facts = {"cuda_build": "12.1", "cuda_count": 1, "gpu_names": ["Tesla T4"], "has_accelerator_api": False}
    text = "\n".join(devices.explain_torch_build(facts))
    assert "no torch.accelerator" in text and "cuda:0 Tesla T4" in text, text


@pytest.mark.parametrize(
    "facts, expected",
    [
        ({"cuda_build": False, "gpu_count": 0}, "it runs on the CPU"),
        ({"cuda_build": True, "cuda_version": "12.5.1", "gpu_count": 0}, "a GPU build that sees no GPU here"),
        ({"cuda_build": True, "cuda_version": "12.5.1", "gpu_count": 2, "gpu_names": ["/physical_device:GPU:0", "/physical_device:GPU:1"]}, "2 GPU(s) listed"),
        ({"cuda_build": False, "gpu_count": 1, "gpu_names": ["/physical_device:GPU:0"]}, "tensorflow-metal"),
    ],
    ids=["cpu build", "cuda build, no gpu", "2 gpus", "metal"],
)
def test_tensorflow_builds_are_explained(facts, expected):
    text = "\n".join(devices.explain_tensorflow_build(facts))
    assert expected in text, f"expected {expected!r} in {text!r}"


def test_this_machines_builds_are_explained():
    text = devices.explain_builds()
    assert "torch.version.cuda = None" in text and "tf.test.is_built_with_cuda() = False" in text, text


# --- The lessons print machine facts; they never state them -------------------------------------

#: What a CPU-only build prints, written into lessons as if it held everywhere (issue 20 §1).
MACHINE_FACTS = [
    r"#.*\bNone\b.*(CPU-only|no CUDA)",  # a comment stating what torch.version.cuda or current_accelerator() returns
    r"CPU-only build such as this one",
    r"on this CPU-only machine",
    r"this torch is a CPU-only build",
]


@pytest.mark.parametrize("name", ["00-welcome", "01-learning-curve", "04-device-management"])
def test_lessons_do_not_state_what_this_machine_prints(name):
    """Fails on the lessons before issue 20 (lesson 04's cells 7, 9 and 65, and its section 9 table)."""
    cells = json.loads((ROOT / "lessons" / f"{name}.ipynb").read_text())["cells"]
    found = [
        (index, line.strip())
        for index, cell in enumerate(cells)
        for line in "".join(cell["source"]).splitlines()
        if any(re.search(pattern, line) for pattern in MACHINE_FACTS)
    ]
    assert not found, f"lesson {name} states a machine fact instead of printing it (cell index, line): {found}"


@pytest.mark.parametrize("name", ["00-welcome", "04-device-management"])
def test_lessons_explain_the_builds_they_print(name):
    cells = json.loads((ROOT / "lessons" / f"{name}.ipynb").read_text())["cells"]
    code = "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")
    assert "explain_builds(" in code, f"lesson {name} should print sbs.devices.explain_builds(): what this machine's builds mean"
    assert "check_available=True" in code, f"lesson {name} should show current_accelerator(check_available=True)"


# --- TensorFlow's synchronizer waits as PyTorch's does --------------------------------------------


class _Result:
    """A result whose full copy to the host is recorded."""

    shape = (1024, 1024)

    def __init__(self):
        self.copied = 0

    def numpy(self):
        self.copied += 1


def _fake_tf(gpus: int, *, sync_devices=True, synchronous=True):
    calls = []
    experimental = SimpleNamespace(sync_devices=lambda: calls.append("sync_devices")) if sync_devices else SimpleNamespace()
    fake = SimpleNamespace(
        test=SimpleNamespace(experimental=experimental),
        config=SimpleNamespace(
            list_physical_devices=lambda kind: [f"/physical_device:GPU:{i}" for i in range(gpus)] if kind == "GPU" else ["cpu"],
            experimental=SimpleNamespace(get_synchronous_execution=lambda: synchronous),
        ),
    )
    return fake, calls


@pytest.mark.parametrize("gpus", [1, 2])
def test_tensorflow_synchronizer_waits_without_copying_the_result(monkeypatch, gpus):
    """Fails on the code before issue 20, which copied the whole result to the host (.numpy())."""
    calls = []
    real_list = tf.config.list_physical_devices
    physical = [SimpleNamespace(name=f"/physical_device:GPU:{i}", device_type="GPU") for i in range(gpus)]
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: physical if kind == "GPU" else real_list(kind))
    monkeypatch.setattr(tf.test.experimental, "sync_devices", lambda: calls.append("sync_devices"))
    result = _Result()
    timing.tensorflow_synchronizer()(result)
    assert result.copied == 0, f"expected no copy of the result to the host (PyTorch's wait copies nothing), got {result.copied}"
    assert calls == ["sync_devices"], f"expected one tf.test.experimental.sync_devices(), got {calls}"


def test_tensorflow_synchronizer_on_the_cpu_does_nothing_like_torchs():
    fake, calls = _fake_tf(0)
    result = _Result()
    timing.tensorflow_synchronizer(tf=fake)(result)
    assert (calls, result.copied) == ([], 0), f"nothing is queued on a synchronous CPU; got {calls}, {result.copied} copies"
    assert timing.torch_synchronizer("cpu")(None) is None
    fake, calls = _fake_tf(0, synchronous=False)  # tf.config.experimental.set_synchronous_execution(False)
    timing.tensorflow_synchronizer(tf=fake)(result)
    assert calls == ["sync_devices"], f"asynchronous execution has a queue to wait for, got {calls}"


def test_tensorflow_synchronizer_without_sync_devices_reads_one_element():
    """An older TensorFlow (no sync_devices): one element is read back, not the whole result."""
    read = []

    class Flat:
        shape = (12,)

        def __getitem__(self, index):
            part = tf.reshape(tf.ones((3, 4)), [-1])[index]
            read.append(int(part.shape[0]))
            return part

    class Result:
        shape = (3, 4)

        def numpy(self):
            raise AssertionError("the whole result was copied to the host")

    fake, _ = _fake_tf(1, sync_devices=False)
    fake.reshape = lambda value, shape: Flat()
    timing.tensorflow_synchronizer(tf=fake)(Result())
    assert read == [1], f"expected one element read back, got {read}"


def test_tensorflow_synchronizer_with_real_tensorflow():
    wait = timing.tensorflow_synchronizer()
    matmul = tf.function(tf.matmul)
    A = tf.ones((64, 64))
    result = timing.measure(lambda: matmul(A, A), repeat=2, synchronize=wait)
    assert len(result.times_s) == 2

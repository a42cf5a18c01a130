"""Which devices each framework sees, and the course-wide device choice.

One choice serves both frameworks: ``current_device().torch`` is what PyTorch code passes to
``.to(...)``, ``current_device().tensorflow`` what TensorFlow code passes to ``tf.device(...)``.
The choice comes from an argument, else the ``SIDEBYSIDE_DEVICE`` environment variable, else
the best device available; under nbgrader it is always the CPU. Taught in lesson 04.

The choosing logic is plain functions over lists of device names, so it is tested with faked
GPU lists on machines that have none.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from .course import GRADING_ENV_VAR

DEVICE_ENV_VAR = "SIDEBYSIDE_DEVICE"


@dataclass(frozen=True)
class Device:
    """One device as both frameworks name it (``None`` where a framework cannot use it)."""

    name: str  # the course-wide name: "cpu", "cuda:0", "mps"
    torch: str | None  # e.g. "cuda:0", for torch.device(...)
    tensorflow: str | None  # e.g. "/GPU:0", for tf.device(...)

    @property
    def kind(self) -> str:
        return self.name.split(":")[0]

    @property
    def is_gpu(self) -> bool:
        return self.kind != "cpu"


CPU = Device("cpu", "cpu", "/CPU:0")


@dataclass(frozen=True)
class DeviceChoice:
    """The device in effect for the course, and why it was chosen."""

    device: Device
    requested: str  # what was asked for ("auto" when nothing was)
    source: str  # "argument", "environment", "default" or "grading"
    message: str = ""  # set when the request could not be honoured as asked
    available: tuple[Device, ...] = field(default=(CPU,))

    @property
    def torch(self) -> str:
        """The PyTorch device string in effect (``"cpu"`` when torch cannot use the device)."""
        return self.device.torch or "cpu"

    @property
    def tensorflow(self) -> str:
        """The TensorFlow device string in effect (``"/CPU:0"`` when TF cannot use it)."""
        return self.device.tensorflow or "/CPU:0"

    def torch_device(self):
        """``torch.device`` for the choice (imports torch)."""
        import torch

        return torch.device(self.torch)

    def summary(self) -> str:
        text = f"device {self.device.name} (torch: {self.torch}, TensorFlow: {self.tensorflow}; from {self.source})"
        return f"{text}\n{self.message}" if self.message else text


# --- What each framework sees -------------------------------------------------------------


def torch_device_names() -> list[str]:
    """PyTorch's devices: ``["cpu", "cuda:0", ..., "mps"]`` (imports torch)."""
    import torch

    names = ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        names.append("mps")
    return names


def tensorflow_device_names() -> list[str]:
    """TensorFlow's physical devices as ``tf.device`` strings: ``["/CPU:0", "/GPU:0", ...]``."""
    from .frameworks import import_tensorflow

    tf = import_tensorflow()
    names = []
    for kind in ("CPU", "GPU"):
        for index, _ in enumerate(tf.config.list_physical_devices(kind)):
            names.append(f"/{kind}:{index}")
    return names


def merge_devices(torch_names: list[str], tensorflow_names: list[str]) -> list[Device]:
    """One list of devices from what each framework sees, CPU first.

    CUDA GPU ``i`` is ``cuda:i`` in PyTorch and ``/GPU:i`` in TensorFlow (both count the GPUs
    that CUDA_VISIBLE_DEVICES leaves visible, in the same order). Apple's GPU is ``mps`` in
    PyTorch and ``/GPU:0`` in tensorflow-metal.
    """
    tf_gpus = {int(n.split(":")[1]) for n in tensorflow_names if n.upper().startswith("/GPU:")}
    devices = [CPU]
    torch_cuda = sorted(int(n.split(":")[1]) for n in torch_names if n.startswith("cuda:"))
    for index in sorted(set(torch_cuda) | (tf_gpus if "mps" not in torch_names else set())):
        devices.append(
            Device(
                f"cuda:{index}",
                f"cuda:{index}" if index in torch_cuda else None,
                f"/GPU:{index}" if index in tf_gpus else None,
            )
        )
    if "mps" in torch_names:
        devices.append(Device("mps", "mps", "/GPU:0" if 0 in tf_gpus else None))
    return devices


def available_devices() -> list[Device]:
    """Every device either framework sees here (imports both frameworks)."""
    return merge_devices(torch_device_names(), tensorflow_device_names())


# --- Choosing -------------------------------------------------------------------------------

_ALIASES = {"gpu": "cuda:0", "cuda": "cuda:0", "/gpu:0": "cuda:0", "gpu:0": "cuda:0", "/cpu:0": "cpu", "cpu:0": "cpu"}


def normalize_request(requested: str) -> str:
    """Accept the spellings people type: ``GPU``, ``cuda``, ``/GPU:1``, ``cuda:1``, ``CPU``, ``auto``."""
    text = requested.strip().lower()
    text = _ALIASES.get(text, text)
    match = re.fullmatch(r"/?(?:gpu|cuda):(\d+)", text)
    if match:
        return f"cuda:{match.group(1)}"
    if text in ("cpu", "mps", "auto"):
        return text
    raise ValueError(
        f"Unknown device {requested!r}. Use 'auto', 'cpu', 'cuda', 'cuda:N' (or '/GPU:N') or 'mps'."
    )


def best_device(devices: list[Device]) -> Device:
    """The GPU both frameworks can use if there is one, else any GPU, else the CPU."""
    gpus = [d for d in devices if d.is_gpu]
    both = [d for d in gpus if d.torch and d.tensorflow]
    return (both or gpus or [CPU])[0]


def choose_device(
    requested: str | None = None,
    *,
    environ: dict | None = None,
    devices: list[Device] | None = None,
) -> DeviceChoice:
    """Decide the course-wide device. Never raises for a missing GPU: it falls back to the CPU
    and says why in ``DeviceChoice.message``.

    ``devices`` defaults to what the frameworks see here; tests pass faked lists.
    """
    environ = os.environ if environ is None else environ
    if environ.get(GRADING_ENV_VAR):
        asked = requested or environ.get(DEVICE_ENV_VAR) or "auto"
        message = "" if asked in ("auto", "cpu") else f"Asked for {asked!r}, but grading always runs on the CPU."
        return DeviceChoice(CPU, asked, "grading", message, (CPU,))

    if requested is not None:
        asked, source = requested, "argument"
    elif environ.get(DEVICE_ENV_VAR):
        asked, source = environ[DEVICE_ENV_VAR], "environment"
    else:
        asked, source = "auto", "default"
    wanted = normalize_request(asked)
    devices = available_devices() if devices is None else list(devices)

    if wanted == "auto":
        return DeviceChoice(best_device(devices), asked, source, "", tuple(devices))
    by_name = {d.name: d for d in devices}
    if wanted in by_name:
        device = by_name[wanted]
        message = ""
        if device.torch is None or device.tensorflow is None:
            blind = "PyTorch" if device.torch is None else "TensorFlow"
            message = f"{blind} cannot see {wanted}: {blind} code runs on the CPU (is its GPU build installed?)."
        return DeviceChoice(device, asked, source, message, tuple(devices))

    where = f" (from {DEVICE_ENV_VAR})" if source == "environment" else ""
    seen = ", ".join(d.name for d in devices)
    message = (
        f"Asked for {asked!r}{where}, but it is not available here: the frameworks see only {seen}. "
        "Using the CPU instead. On Colab, choose Runtime > Change runtime type > GPU; on your "
        "own machine, check `nvidia-smi` and that the GPU builds of torch and TensorFlow are installed."
    )
    return DeviceChoice(CPU, asked, source, message, tuple(devices))


_current: DeviceChoice | None = None


def set_device(requested: str | None = None, **kwargs) -> DeviceChoice:
    """Choose the course-wide device (see :func:`choose_device`) and remember it."""
    global _current
    _current = choose_device(requested, **kwargs)
    return _current


def current_device() -> DeviceChoice:
    """The course-wide device choice, made on first use if ``setup()`` has not made it."""
    return _current if _current is not None else set_device()

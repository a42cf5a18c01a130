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
    source: str  # "argument", "picker", "environment", "default" or "grading"
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
    source: str = "argument",
) -> DeviceChoice:
    """Decide the course-wide device. Never raises for a missing GPU: it falls back to the CPU
    and says why in ``DeviceChoice.message``.

    ``devices`` defaults to what the frameworks see here; tests pass faked lists. ``source``
    names where an explicit ``requested`` came from (``"argument"``, or ``"picker"`` for the
    device picker of lesson 04), so that the choice can say so.
    """
    environ = os.environ if environ is None else environ
    if environ.get(GRADING_ENV_VAR):
        asked = requested or environ.get(DEVICE_ENV_VAR) or "auto"
        message = "" if asked in ("auto", "cpu") else f"Asked for {asked!r}, but grading always runs on the CPU."
        return DeviceChoice(CPU, asked, "grading", message, (CPU,))

    if requested is not None:
        asked = requested
    elif environ.get(DEVICE_ENV_VAR):
        asked, source = environ[DEVICE_ENV_VAR], "environment"
    else:
        asked, source = "auto", "default"
    wanted = normalize_request(asked)
    devices = available_devices() if devices is None else list(devices)

    by_name = {d.name: d for d in devices}
    if wanted == "auto" or wanted in by_name:
        device = best_device(devices) if wanted == "auto" else by_name[wanted]
        message = ""
        if device.torch is None or device.tensorflow is None:
            blind = "PyTorch" if device.torch is None else "TensorFlow"
            message = f"{blind} cannot see {device.name}: {blind} code runs on the CPU (is its GPU build installed?)."
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


# --- Why a GPU is missing ---------------------------------------------------------------------


def framework_facts(environ: dict | None = None) -> dict:
    """What decides whether each framework can use a GPU here (imports both frameworks).

    The keys are the arguments of :func:`gpu_unavailable_reasons`, so tests pass made-up facts.
    """
    import torch

    from .course import under_grading
    from .frameworks import import_tensorflow

    environ = os.environ if environ is None else environ
    tf = import_tensorflow()
    mps = getattr(torch.backends, "mps", None)
    return {
        "torch_version": torch.__version__,
        "torch_cuda_build": torch.version.cuda,
        "torch_cuda_count": torch.cuda.device_count(),
        "torch_mps_built": bool(mps is not None and mps.is_built()),
        "torch_mps_available": bool(mps is not None and mps.is_available()),
        "tensorflow_version": tf.__version__,
        "tensorflow_cuda_build": tf.test.is_built_with_cuda(),
        "tensorflow_gpu_count": len(tf.config.list_physical_devices("GPU")),
        "cuda_visible_devices": environ.get("CUDA_VISIBLE_DEVICES"),
        "grading": bool(environ.get(GRADING_ENV_VAR)) or under_grading(),
    }


def gpu_unavailable_reasons(
    *,
    torch_version: str = "?",
    torch_cuda_build: str | None = None,
    torch_cuda_count: int = 0,
    torch_mps_built: bool = False,
    torch_mps_available: bool = False,
    tensorflow_version: str = "?",
    tensorflow_cuda_build: bool = False,
    tensorflow_gpu_count: int = 0,
    cuda_visible_devices: str | None = None,
    grading: bool = False,
) -> dict[str, str]:
    """``{"PyTorch": reason, "TensorFlow": reason}``: why each framework has no GPU here.

    A framework that has a GPU is left out, so an empty dict means both have one. Taught in
    lesson 04, where the device picker shows these reasons next to the devices it offers.
    """
    hidden = None
    if grading:
        hidden = "grading runs on the CPU: the course hides every GPU (CUDA_VISIBLE_DEVICES=-1)"
    elif cuda_visible_devices is not None and cuda_visible_devices.strip() in ("", "-1"):
        hidden = f"CUDA_VISIBLE_DEVICES={cuda_visible_devices!r} hides every GPU from this process"
    reasons = {}
    if torch_cuda_count == 0 and not torch_mps_available:
        if hidden and torch_cuda_build:
            reason = hidden
        elif torch_mps_built:
            reason = f"torch {torch_version} is built for Apple's GPU (MPS), but MPS is not available (macOS 12.3 or later on Apple silicon is needed)"
        elif not torch_cuda_build:
            reason = f"torch {torch_version} is a CPU-only build (torch.version.cuda is None): install a CUDA build from pytorch.org"
        else:
            reason = f"torch {torch_version} is built for CUDA {torch_cuda_build} but sees no GPU: check `nvidia-smi` and the NVIDIA driver"
        reasons["PyTorch"] = reason
    if tensorflow_gpu_count == 0:
        if hidden and tensorflow_cuda_build:
            reason = hidden
        elif not tensorflow_cuda_build:
            reason = (
                f"TensorFlow {tensorflow_version} is built without CUDA (tensorflow-cpu, or TensorFlow on "
                "Windows or macOS): on Linux install `tensorflow[and-cuda]`; on a Mac, tensorflow-metal"
            )
        else:
            reason = (
                f"TensorFlow {tensorflow_version} is built for CUDA but sees no GPU: check `nvidia-smi`, and "
                "that the driver is recent enough for TensorFlow's CUDA version"
            )
        reasons["TensorFlow"] = reason
    return reasons


# --- TensorFlow's start-up settings ---------------------------------------------------------


TOO_LATE_MESSAGE = (
    "TensorFlow has already initialized its devices (it does so at the first operation or at "
    "tf.config.list_logical_devices()), so {what} can no longer be changed. Restart the kernel and "
    "run the notebook from the top: these settings must come before any TensorFlow operation."
)


def configure_tensorflow(
    *,
    memory_growth: bool | None = True,
    memory_limit_mb: int | None = None,
    visible_gpus: list[int] | None = None,
    logical_cpus: int | None = None,
    intra_op_threads: int | None = None,
    inter_op_threads: int | None = None,
    tf=None,
) -> list[str]:
    """Apply TensorFlow's start-up device settings; return what was done, one line each.

    They only work before TensorFlow initializes its devices: call this right after
    ``sbs.setup()`` (which does not initialize them), before any TensorFlow operation.
    Afterwards this raises ``RuntimeError`` saying so.

    - ``memory_growth``: allocate GPU memory as needed instead of taking (almost) all of it
      at start-up, so that PyTorch in the same process still finds memory.
    - ``memory_limit_mb``: instead, cap TensorFlow at this much memory on each GPU (a logical
      device with a limit). Exclusive with ``memory_growth``.
    - ``visible_gpus``: indices of the GPUs TensorFlow may use (``[]`` hides them all).
    - ``logical_cpus``: split the CPU into this many logical devices (``/CPU:0``,
      ``/CPU:1``...), which lets placement be shown and tested on any machine.
    - ``intra_op_threads`` / ``inter_op_threads``: TensorFlow's thread pools (0: its choice).

    Taught in lesson 04; ``tf`` is for tests.
    """
    if memory_limit_mb is not None and memory_growth:
        raise ValueError("memory_growth and memory_limit_mb exclude each other: pass memory_growth=False with a limit")
    if tf is None:
        from .frameworks import import_tensorflow

        tf = import_tensorflow()
    done = []

    def apply(what, change):
        try:
            change()
        except RuntimeError as error:
            raise RuntimeError(TOO_LATE_MESSAGE.format(what=what) + f" (TensorFlow said: {error})") from error

    gpus = tf.config.list_physical_devices("GPU")
    if visible_gpus is not None:
        chosen = [gpus[i] for i in visible_gpus if i < len(gpus)]
        apply("the visible GPUs", lambda: tf.config.set_visible_devices(chosen, "GPU"))
        done.append(f"visible GPUs: {[g.name for g in chosen] or 'none'}")
        gpus = chosen
    for gpu in gpus:
        if memory_limit_mb is not None:
            config = [tf.config.LogicalDeviceConfiguration(memory_limit=memory_limit_mb)]
            apply("the GPU memory limit", lambda gpu=gpu, config=config: tf.config.set_logical_device_configuration(gpu, config))
            done.append(f"{gpu.name}: memory limited to {memory_limit_mb} MB")
        elif memory_growth is not None:
            apply("memory growth", lambda gpu=gpu: tf.config.experimental.set_memory_growth(gpu, memory_growth))
            done.append(f"{gpu.name}: memory growth {'on' if memory_growth else 'off'}")
    if logical_cpus is not None:
        cpu = tf.config.list_physical_devices("CPU")[0]
        config = [tf.config.LogicalDeviceConfiguration() for _ in range(logical_cpus)]
        apply("the logical CPUs", lambda: tf.config.set_logical_device_configuration(cpu, config))
        done.append(f"{cpu.name}: split into {logical_cpus} logical CPUs")
    if intra_op_threads is not None:
        apply("the thread pools", lambda: tf.config.threading.set_intra_op_parallelism_threads(intra_op_threads))
        done.append(f"intra-op threads: {intra_op_threads}")
    if inter_op_threads is not None:
        apply("the thread pools", lambda: tf.config.threading.set_inter_op_parallelism_threads(inter_op_threads))
        done.append(f"inter-op threads: {inter_op_threads}")
    return done

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
    """What decides whether each framework can use a GPU here (imports both frameworks): the
    build facts of :func:`torch_build_facts` and :func:`tensorflow_build_facts`, plus the
    environment.

    The keys are the arguments of :func:`gpu_unavailable_reasons`, so tests pass made-up facts.
    """
    from .course import under_grading

    environ = os.environ if environ is None else environ
    torch_facts, tensorflow_facts = torch_build_facts(), tensorflow_build_facts()
    return {
        "torch_version": torch_facts["torch_version"],
        "torch_cuda_build": torch_facts["cuda_build"],
        "torch_cuda_count": torch_facts["cuda_count"],
        "torch_mps_built": torch_facts["mps_built"],
        "torch_mps_available": torch_facts["mps_available"],
        "tensorflow_version": tensorflow_facts["tensorflow_version"],
        "tensorflow_cuda_build": tensorflow_facts["cuda_build"],
        "tensorflow_gpu_count": tensorflow_facts["gpu_count"],
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


# --- What this build of each framework is, in words -------------------------------------------


def torch_build_facts(torch=None) -> dict:
    """What this torch says about its build and the accelerators it sees (``torch`` is for tests).

    ``accelerator_built`` is ``torch.accelerator.current_accelerator()``: the accelerator this
    *build* supports, present or not; ``accelerator_available`` asks again with
    ``check_available=True``, which answers ``None`` when none is usable here.
    """
    if torch is None:
        import torch
    accelerator = getattr(torch, "accelerator", None)  # torch 2.6+
    built = available = None
    accelerator_count = None
    if accelerator is not None:
        built = accelerator.current_accelerator()
        available = accelerator.current_accelerator(check_available=True)
        accelerator_count = accelerator.device_count()
    mps = getattr(torch.backends, "mps", None)
    cuda_count = torch.cuda.device_count()
    return {
        "torch_version": torch.__version__,
        "cuda_build": torch.version.cuda,
        "hip_build": getattr(torch.version, "hip", None),
        "cuda_available": bool(torch.cuda.is_available()),
        "cuda_count": cuda_count,
        "gpu_names": [torch.cuda.get_device_name(i) for i in range(cuda_count)],
        "has_accelerator_api": accelerator is not None,
        "accelerator_built": None if built is None else built.type,
        "accelerator_available": None if available is None else available.type,
        "accelerator_count": accelerator_count,
        "mps_built": bool(mps is not None and mps.is_built()),
        "mps_available": bool(mps is not None and mps.is_available()),
    }


def explain_torch_build(facts: dict) -> list[str]:
    """What :func:`torch_build_facts` means, one sentence per fact, for any machine."""
    lines = []
    cuda, hip = facts.get("cuda_build"), facts.get("hip_build")
    count = facts.get("cuda_count", 0)
    if hip:
        lines.append(f"torch.version.hip = {hip!r}: a ROCm build for AMD GPUs (it still calls them 'cuda' devices).")
    elif cuda:
        lines.append(f"torch.version.cuda = {cuda!r}: this torch is built for CUDA {cuda} (NVIDIA GPUs).")
    else:
        other = " (it is built for Apple's MPS)" if facts.get("mps_built") else ""
        lines.append(f"torch.version.cuda = None: this torch is built without CUDA{other}, so it can never use an NVIDIA GPU.")
    if cuda or hip:
        if count:
            names = ", ".join(f"cuda:{i} {name}" for i, name in enumerate(facts.get("gpu_names") or []))
            lines.append(f"torch.cuda.is_available() = True: it sees {count} GPU(s){': ' + names if names else ''}.")
        else:
            lines.append(
                "torch.cuda.is_available() = False: a GPU build that sees no GPU here (no GPU, no working driver, "
                "or CUDA_VISIBLE_DEVICES hides them): its code runs on the CPU."
            )
    if facts.get("mps_built"):
        state = "available" if facts.get("mps_available") else "built in but not available (macOS 12.3+ on Apple silicon is needed)"
        lines.append(f"Apple's GPU (mps): {state}.")
    if not facts.get("has_accelerator_api"):
        lines.append("This torch has no torch.accelerator (it came in torch 2.6): ask each backend, torch.cuda and torch.backends.mps.")
        return lines
    built, available = facts.get("accelerator_built"), facts.get("accelerator_available")
    if built is None:
        lines.append("torch.accelerator.current_accelerator() = None: this build supports no accelerator at all.")
    else:
        lines.append(
            f"torch.accelerator.current_accelerator() = device(type={built!r}): the accelerator this build supports, "
            "whether or not one is present."
        )
        if available is None:
            lines.append(f"current_accelerator(check_available=True) = None: no {built} device is usable here, so the course uses the CPU.")
        else:
            lines.append(
                f"current_accelerator(check_available=True) = device(type={available!r}): "
                f"{facts.get('accelerator_count')} {available} device(s) usable here."
            )
    return lines


def tensorflow_build_facts(tf=None) -> dict:
    """What this TensorFlow says about its build and its GPUs (``tf`` is for tests)."""
    if tf is None:
        from .frameworks import import_tensorflow

        tf = import_tensorflow()
    gpus = tf.config.list_physical_devices("GPU")
    build = dict(tf.sysconfig.get_build_info()) if hasattr(tf.sysconfig, "get_build_info") else {}
    return {
        "tensorflow_version": tf.__version__,
        "cuda_build": bool(tf.test.is_built_with_cuda()),
        "cuda_version": build.get("cuda_version"),
        "gpu_count": len(gpus),
        "gpu_names": [gpu.name for gpu in gpus],
    }


def explain_tensorflow_build(facts: dict) -> list[str]:
    """What :func:`tensorflow_build_facts` means, one sentence per fact, for any machine."""
    count = facts.get("gpu_count", 0)
    if facts.get("cuda_build"):
        version = f" {facts['cuda_version']}" if facts.get("cuda_version") else ""
        lines = [f"tf.test.is_built_with_cuda() = True: this TensorFlow is built for CUDA{version} (the Linux package tensorflow[and-cuda])."]
        if not count:
            lines.append("No GPU in tf.config.list_physical_devices('GPU'): a GPU build that sees no GPU here; TensorFlow runs on the CPU.")
    else:
        lines = [
            "tf.test.is_built_with_cuda() = False: a build without CUDA (tensorflow-cpu, or TensorFlow on Windows or macOS); "
            + ("a plug-in (tensorflow-metal on a Mac) gives it its GPU." if count else "it runs on the CPU.")
        ]
    if count:
        lines.append(f"{count} GPU(s) listed: {', '.join(facts.get('gpu_names') or [])}; with no tf.device scope, operations go to /GPU:0.")
    return lines


def explain_builds(torch_facts: dict | None = None, tensorflow_facts: dict | None = None) -> str:
    """Both frameworks' builds in words (the facts default to this machine's): lessons 00 and 04."""
    torch_facts = torch_build_facts() if torch_facts is None else torch_facts
    tensorflow_facts = tensorflow_build_facts() if tensorflow_facts is None else tensorflow_facts
    lines = [f"PyTorch {torch_facts.get('torch_version', '?')}:"] + [f"  {line}" for line in explain_torch_build(torch_facts)]
    lines += [f"TensorFlow {tensorflow_facts.get('tensorflow_version', '?')}:"] + [f"  {line}" for line in explain_tensorflow_build(tensorflow_facts)]
    return "\n".join(lines)


# --- TF32: how float32 matrix products are computed on NVIDIA GPUs -------------------------------

#: Compute capability from which NVIDIA GPUs have TF32 tensor cores (Ampere, 8.0).
TF32_MIN_CAPABILITY = (8, 0)


@dataclass(frozen=True)
class TF32Status:
    """Whether each framework may compute float32 matrix products in TF32, and where it matters.

    TF32 keeps float32's 8 exponent bits but only 10 of its 23 mantissa bits for the inputs of
    a product (the sums stay float32): much faster on tensor cores, with each input rounded to
    a relative error of up to 2**-11 instead of float32's 2**-24. It only exists on NVIDIA GPUs of compute capability 8.0 (Ampere) or later;
    elsewhere both settings change nothing.
    """

    torch: bool  # PyTorch: torch.backends.cuda.matmul.fp32_precision == "tf32" (default: "ieee", off)
    tensorflow: bool  # TensorFlow: tf.config.experimental.tensor_float_32_execution_enabled() (default: on)
    gpus: tuple[str, ...] = ()  # the GPUs here where TF32 applies, e.g. "cuda:0 NVIDIA A100-SXM4-40GB (8.0)"

    @property
    def same(self) -> bool:
        return self.torch == self.tensorflow

    def summary(self) -> str:
        def word(on: bool) -> str:
            return "TF32 allowed" if on else "full float32 (IEEE)"

        settings = f"float32 matrix products: PyTorch {word(self.torch)}, TensorFlow {word(self.tensorflow)}"
        if not self.same:
            settings += " (NOT the same: where TF32 applies, the two frameworks' float32 products differ)"
        if self.gpus:
            return f"{settings}. TF32 applies here, on {', '.join(self.gpus)}."
        return f"{settings}. No NVIDIA GPU of compute capability 8.0 or later here, so TF32 is never used and the setting changes nothing."


def tf32_gpus(torch=None, tf=None) -> tuple[str, ...]:
    """The GPUs either framework sees whose tensor cores do TF32 (compute capability >= 8.0)."""
    found: dict[int, str] = {}
    if torch is not None and torch.cuda.is_available() and not getattr(torch.version, "hip", None):
        for index in range(torch.cuda.device_count()):
            capability = tuple(torch.cuda.get_device_capability(index))
            if capability >= TF32_MIN_CAPABILITY:
                found[index] = f"cuda:{index} {torch.cuda.get_device_name(index)} ({capability[0]}.{capability[1]})"
    if tf is not None:
        for index, gpu in enumerate(tf.config.list_physical_devices("GPU")):
            if index in found:
                continue
            details = tf.config.experimental.get_device_details(gpu) or {}
            capability = tuple(details.get("compute_capability") or ())
            if capability and capability >= TF32_MIN_CAPABILITY:
                found[index] = f"/GPU:{index} {details.get('device_name', gpu.name)} ({capability[0]}.{capability[1]})"
    return tuple(found[index] for index in sorted(found))


def _torch_tf32(torch) -> bool:
    matmul = torch.backends.cuda.matmul
    try:
        precision = matmul.fp32_precision  # torch 2.9+: "ieee", "tf32", or "none" (not set: the default, off)
    except AttributeError:  # older torch
        return bool(matmul.allow_tf32)
    return precision == "tf32"


def tf32_status(torch=None, tf=None) -> TF32Status:
    """Both frameworks' TF32 settings and the GPUs where they matter (imports both frameworks
    unless given them: tests pass fakes)."""
    if torch is None:
        import torch
    if tf is None:
        from .frameworks import import_tensorflow

        tf = import_tensorflow()
    return TF32Status(_torch_tf32(torch), bool(tf.config.experimental.tensor_float_32_execution_enabled()), tf32_gpus(torch, tf))


def set_tf32(enabled: bool, torch=None, tf=None) -> TF32Status:
    """Allow (``True``) or forbid (``False``) TF32 for float32 matrix products in BOTH frameworks.

    PyTorch: ``torch.set_float32_matmul_precision("high" / "highest")``, which sets torch's new
    setting (``torch.backends.cuda.matmul.fp32_precision = "tf32" / "ieee"``) and its older one
    (``allow_tf32``) together: torch refuses a mix of the two APIs, and torch.compile still reads
    the older one. TensorFlow: ``tf.config.experimental.enable_tensor_float_32_execution``.
    Both can change at any time. Returns the new :func:`tf32_status`.
    """
    if torch is None:
        import torch
    if tf is None:
        from .frameworks import import_tensorflow

        tf = import_tensorflow()
    torch.set_float32_matmul_precision("high" if enabled else "highest")
    tf.config.experimental.enable_tensor_float_32_execution(bool(enabled))
    return tf32_status(torch, tf)

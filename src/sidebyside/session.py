"""``setup()``: the one call at the top of every notebook.

It seeds Python, NumPy, PyTorch and TensorFlow together, turns on deterministic ops, quiets
TensorFlow's C++ logging, gives both frameworks the same float32 matrix-product precision
(TF32 off in both by default: see ``devices.set_tf32``) and chooses the course-wide device
(see ``devices``).
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

from . import devices
from .frameworks import import_tensorflow, prepare_environment


@dataclass(frozen=True)
class Session:
    seed: int
    device: devices.DeviceChoice
    torch_version: str | None
    tensorflow_version: str | None
    #: Both frameworks' TF32 settings before ``setup()`` (their defaults, unless changed
    #: earlier) and after it; ``None`` when ``setup()`` left them alone.
    tf32_before: devices.TF32Status | None = None
    tf32: devices.TF32Status | None = None

    def __str__(self) -> str:
        versions = ", ".join(
            f"{name} {version}"
            for name, version in (("torch", self.torch_version), ("TensorFlow", self.tensorflow_version))
            if version
        )
        precision = ""
        if self.tf32 is not None and self.tf32.same:
            precision = "; float32 matmuls: " + ("TF32 allowed in both" if self.tf32.torch else "full float32 in both (TF32 off)")
        return f"Side by Side: seed {self.seed}; {versions}{precision}; {self.device.summary()}"


def seed_torch(seed: int, deterministic: bool = True) -> str:
    import torch

    torch.manual_seed(seed)  # seeds every CUDA device too
    if deterministic:
        # warn_only: an op without a deterministic kernel warns instead of stopping a lesson.
        torch.use_deterministic_algorithms(True, warn_only=True)
    return torch.__version__


def seed_tensorflow(seed: int, deterministic: bool = True) -> str:
    tf = import_tensorflow()

    tf.keras.utils.set_random_seed(seed)  # Python, NumPy and TensorFlow
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    tf.get_logger().setLevel(logging.ERROR)
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:  # pragma: no cover - absl ships with TensorFlow
        pass
    return tf.__version__


def setup(
    seed: int = 0,
    device: str | None = None,
    *,
    frameworks: tuple[str, ...] = ("torch", "tensorflow"),
    deterministic: bool = True,
    tf32: bool | None = False,
    verbose: bool = True,
) -> Session:
    """Seed everything, quiet TensorFlow, choose the device; print and return what was done.

    ``device``: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"``; default: the
    ``SIDEBYSIDE_DEVICE`` environment variable, else the best device available. Under nbgrader
    it is always the CPU.

    ``tf32``: whether float32 matrix products may use TF32 on NVIDIA GPUs of the Ampere
    generation or later, set the same in both frameworks so that they compute the same thing
    (their defaults differ: PyTorch off, TensorFlow on). ``False`` (the default): full float32
    in both; ``True``: TF32 in both; ``None``: leave each framework's own setting. Elsewhere
    (CPUs, older GPUs, Apple's GPU) TF32 does not exist and the setting changes nothing.
    """
    prepare_environment()
    random.seed(seed)
    import numpy as np

    np.random.seed(seed)
    torch_version = seed_torch(seed, deterministic) if "torch" in frameworks else None
    tensorflow_version = seed_tensorflow(seed, deterministic) if "tensorflow" in frameworks else None
    tf32_before = tf32_after = None
    if tf32 is not None and torch_version and tensorflow_version:
        tf32_before = devices.tf32_status()
        tf32_after = devices.set_tf32(tf32)
    choice = devices.set_device(device)
    session = Session(seed, choice, torch_version, tensorflow_version, tf32_before, tf32_after)
    if verbose:
        print(session)
    return session

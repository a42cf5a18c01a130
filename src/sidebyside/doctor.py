"""The environment report ("doctor"): what this machine gives the course. Shown in lesson 00.

Run it from a shell with ``sidebyside doctor``.
"""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata

from .course import on_colab, under_grading


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def torch_report() -> dict:
    try:
        import torch
    except ImportError as error:
        return {"installed": False, "error": str(error)}
    from .devices import torch_device_names

    return {
        "installed": True,
        "version": torch.__version__,
        "cuda_build": torch.version.cuda or "none (CPU build)",
        "cuda_available": torch.cuda.is_available(),
        "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
        "mps_available": bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()),
        "devices": torch_device_names(),
        "threads": torch.get_num_threads(),
    }


def tensorflow_report() -> dict:
    from .frameworks import import_tensorflow

    try:
        tf = import_tensorflow()
    except ImportError as error:
        return {"installed": False, "error": str(error)}
    from .devices import tensorflow_device_names

    build = tf.sysconfig.get_build_info()
    return {
        "installed": True,
        "version": tf.__version__,
        "keras": _version("keras"),
        "cuda_build": build.get("cuda_version") or "none (CPU build)",
        "built_with_cuda": tf.test.is_built_with_cuda(),
        "devices": tensorflow_device_names(),
        "logical_devices": [d.name for d in tf.config.list_logical_devices()],
    }


def report() -> dict:
    """Everything the doctor knows, as a dict (imports both frameworks)."""
    from .devices import current_device

    choice = current_device()
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_cores": os.cpu_count(),
        "colab": on_colab(),
        "grading": under_grading(),
        "packages": {name: _version(name) for name in ("numpy", "scikit-learn", "matplotlib", "ipywidgets", "jupyterlab", "nbgrader", "tensorboard", "visdom")},
        "torch": torch_report(),
        "tensorflow": tensorflow_report(),
        "course_device": {"name": choice.device.name, "torch": choice.torch, "tensorflow": choice.tensorflow, "source": choice.source, "message": choice.message},
    }


def format_report(data: dict) -> str:
    """The report as aligned text lines."""
    rows = [
        ("Python", f"{data['python']} on {data['platform']}, {data['cpu_cores']} CPU cores"),
        ("Google Colab", "yes" if data["colab"] else "no"),
        ("Under nbgrader", "yes" if data["grading"] else "no"),
    ]
    torch_data, tf_data = data["torch"], data["tensorflow"]
    if torch_data["installed"]:
        rows += [
            ("PyTorch", torch_data["version"]),
            ("  CUDA build", str(torch_data["cuda_build"])),
            ("  GPUs", ", ".join(torch_data["gpus"]) or "none visible"),
            ("  devices", ", ".join(torch_data["devices"])),
            ("  CPU threads", str(torch_data["threads"])),
        ]
    else:
        rows.append(("PyTorch", f"NOT INSTALLED ({torch_data['error']})"))
    if tf_data["installed"]:
        rows += [
            ("TensorFlow", f"{tf_data['version']} (Keras {tf_data['keras']})"),
            ("  CUDA build", str(tf_data["cuda_build"])),
            ("  physical devices", ", ".join(tf_data["devices"])),
            ("  logical devices", ", ".join(tf_data["logical_devices"])),
        ]
    else:
        rows.append(("TensorFlow", f"NOT INSTALLED ({tf_data['error']})"))
    rows += [(name, version) for name, version in data["packages"].items()]
    device = data["course_device"]
    rows.append(("Course device", f"{device['name']} (torch {device['torch']}, TensorFlow {device['tensorflow']}; {device['source']})"))
    if device["message"]:
        rows.append(("", device["message"]))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def show() -> dict:
    """Print the report and return it."""
    data = report()
    print(format_report(data))
    return data

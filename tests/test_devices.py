"""The course-wide device choice, the reasons a GPU is missing, TensorFlow's start-up settings
and the device-picker widget, tested with faked device lists (this machine has no GPU)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import pytest

from sidebyside import devices
from sidebyside.devices import CPU, Device, choose_device, merge_devices, normalize_request
from sidebyside.widgets import device_panels as device_widgets

NO_ENV: dict = {}
TWO_CUDA = merge_devices(["cpu", "cuda:0", "cuda:1"], ["/CPU:0", "/GPU:0", "/GPU:1"])
TF_ONLY = merge_devices(["cpu"], ["/CPU:0", "/GPU:0"])
TORCH_ONLY = merge_devices(["cpu", "cuda:0"], ["/CPU:0"])
MPS = merge_devices(["cpu", "mps"], ["/CPU:0"])
MPS_AND_METAL = merge_devices(["cpu", "mps"], ["/CPU:0", "/GPU:0"])
CPU_ONLY = merge_devices(["cpu"], ["/CPU:0"])


@pytest.fixture(autouse=True)
def restore_course_device():
    saved = devices._current
    yield
    devices._current = saved


# --- merge_devices ----------------------------------------------------------------------------


def test_merge_two_cuda_gpus_seen_by_both():
    assert TWO_CUDA == [CPU, Device("cuda:0", "cuda:0", "/GPU:0"), Device("cuda:1", "cuda:1", "/GPU:1")]


def test_merge_gpu_seen_by_one_framework_only():
    assert TF_ONLY == [CPU, Device("cuda:0", None, "/GPU:0")]
    assert TORCH_ONLY == [CPU, Device("cuda:0", "cuda:0", None)]


def test_merge_mps_and_tensorflow_metal_are_one_device():
    assert MPS == [CPU, Device("mps", "mps", None)]
    assert MPS_AND_METAL == [CPU, Device("mps", "mps", "/GPU:0")]


def test_merge_cpu_only():
    assert CPU_ONLY == [CPU]


# --- normalize_request and choose_device --------------------------------------------------------


@pytest.mark.parametrize(
    "typed, expected",
    [("GPU", "cuda:0"), ("cuda", "cuda:0"), ("/GPU:1", "cuda:1"), ("cuda:1", "cuda:1"), ("CPU", "cpu"), ("/cpu:0", "cpu"), (" auto ", "auto"), ("MPS", "mps")],
)
def test_normalize_request_accepts_common_spellings(typed, expected):
    assert normalize_request(typed) == expected


def test_normalize_request_rejects_nonsense():
    with pytest.raises(ValueError, match="Unknown device 'tpu'"):
        normalize_request("tpu")


def test_auto_prefers_a_gpu_both_frameworks_see():
    choice = choose_device(environ=NO_ENV, devices=TWO_CUDA)
    assert (choice.device.name, choice.torch, choice.tensorflow, choice.source) == ("cuda:0", "cuda:0", "/GPU:0", "default")
    assert choice.message == ""


def test_second_gpu_by_name():
    choice = choose_device("cuda:1", environ=NO_ENV, devices=TWO_CUDA)
    assert (choice.torch, choice.tensorflow, choice.source) == ("cuda:1", "/GPU:1", "argument")


def test_gpu_only_tensorflow_sees_says_pytorch_runs_on_cpu():
    choice = choose_device("gpu", environ=NO_ENV, devices=TF_ONLY)
    assert (choice.torch, choice.tensorflow) == ("cpu", "/GPU:0")
    assert "PyTorch cannot see cuda:0" in choice.message


def test_mps_for_pytorch_cpu_for_tensorflow():
    choice = choose_device(environ=NO_ENV, devices=MPS)
    assert (choice.device.name, choice.torch, choice.tensorflow) == ("mps", "mps", "/CPU:0")
    assert "TensorFlow cannot see mps" in choice.message


def test_environment_request_for_missing_gpu_falls_back_with_a_clear_message():
    choice = choose_device(environ={devices.DEVICE_ENV_VAR: "cuda:1"}, devices=CPU_ONLY)
    assert choice.device == CPU and choice.source == "environment"
    assert "Asked for 'cuda:1' (from SIDEBYSIDE_DEVICE)" in choice.message
    assert "Using the CPU instead" in choice.message


def test_argument_wins_over_environment():
    choice = choose_device("cpu", environ={devices.DEVICE_ENV_VAR: "cuda:0"}, devices=TWO_CUDA)
    assert choice.device == CPU and choice.source == "argument"


def test_grading_always_uses_the_cpu():
    environ = {"NBGRADER_EXECUTION": "autograde", devices.DEVICE_ENV_VAR: "cuda:0"}
    choice = choose_device(environ=environ, devices=TWO_CUDA)
    assert choice.device == CPU and choice.source == "grading"
    assert "grading always runs on the CPU" in choice.message


def test_this_machine_is_seen_as_cpu_only():
    # The course's machine has CPU builds of both frameworks.
    assert devices.available_devices() == [CPU]


# --- Why a GPU is missing -------------------------------------------------------------------


def test_reasons_for_cpu_builds():
    reasons = devices.gpu_unavailable_reasons(torch_version="2.13.0+cpu", tensorflow_version="2.21.0")
    assert set(reasons) == {"PyTorch", "TensorFlow"}
    assert "CPU-only build" in reasons["PyTorch"]
    assert "built without CUDA" in reasons["TensorFlow"]


def test_no_reasons_when_both_have_a_gpu():
    assert devices.gpu_unavailable_reasons(torch_cuda_build="12.8", torch_cuda_count=2, tensorflow_cuda_build=True, tensorflow_gpu_count=2) == {}


def test_reason_for_gpus_hidden_by_cuda_visible_devices():
    reasons = devices.gpu_unavailable_reasons(torch_cuda_build="12.8", tensorflow_cuda_build=True, cuda_visible_devices="-1")
    assert all("CUDA_VISIBLE_DEVICES='-1'" in r for r in reasons.values())


def test_reason_under_grading():
    reasons = devices.gpu_unavailable_reasons(torch_cuda_build="12.8", tensorflow_cuda_build=True, grading=True)
    assert all("grading runs on the CPU" in r for r in reasons.values())


def test_reason_for_cuda_build_without_gpu_and_tensorflow_only_gpu():
    reasons = devices.gpu_unavailable_reasons(torch_cuda_build="12.8", tensorflow_cuda_build=True, tensorflow_gpu_count=1)
    assert list(reasons) == ["PyTorch"] and "nvidia-smi" in reasons["PyTorch"]


def test_reason_for_mps_built_but_unavailable():
    reasons = devices.gpu_unavailable_reasons(torch_mps_built=True)
    assert "MPS" in reasons["PyTorch"]


def test_framework_facts_of_this_machine():
    facts = devices.framework_facts(environ={})
    assert facts["torch_cuda_build"] is None and facts["torch_cuda_count"] == 0
    assert facts["tensorflow_cuda_build"] is False and facts["tensorflow_gpu_count"] == 0
    assert set(devices.gpu_unavailable_reasons(**facts)) == {"PyTorch", "TensorFlow"}


# --- TensorFlow's start-up settings ---------------------------------------------------------


def _run_python(code: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("NBGRADER_EXECUTION", None)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, timeout=120)


def test_configure_tensorflow_before_and_after_initialization():
    result = _run_python(
        """
        from sidebyside import devices
        import tensorflow as tf
        print(devices.configure_tensorflow(logical_cpus=2, intra_op_threads=2))
        print([d.name for d in tf.config.list_logical_devices("CPU")])
        print(tf.config.threading.get_intra_op_parallelism_threads())
        try:
            devices.configure_tensorflow(logical_cpus=3)
        except RuntimeError as error:
            print("TOO LATE:", error)
        """
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "['/physical_device:CPU:0: split into 2 logical CPUs', 'intra-op threads: 2']"
    assert lines[1] == "['/device:CPU:0', '/device:CPU:1']"
    assert lines[2] == "2"
    assert lines[3].startswith("TOO LATE: TensorFlow has already initialized its devices")
    assert "Virtual devices cannot be modified after being initialized" in lines[3]


class _FakeConfig:
    """tf.config with two GPUs that records what is set: this machine has no GPU."""

    def __init__(self, gpus: int, initialized: bool = False):
        PhysicalDevice = SimpleNamespace
        self.gpus = [PhysicalDevice(name=f"/physical_device:GPU:{i}", device_type="GPU") for i in range(gpus)]
        self.calls = []
        self.initialized = initialized
        self.experimental = SimpleNamespace(set_memory_growth=self._record("set_memory_growth"))
        self.threading = SimpleNamespace()

    def _record(self, name):
        def record(*args):
            if self.initialized:
                raise RuntimeError("Physical devices cannot be modified after being initialized")
            self.calls.append((name, *args))

        return record

    def list_physical_devices(self, kind):
        return list(self.gpus) if kind == "GPU" else [SimpleNamespace(name="/physical_device:CPU:0", device_type="CPU")]

    def set_visible_devices(self, chosen, kind):
        self._record("set_visible_devices")([d.name for d in chosen], kind)

    def set_logical_device_configuration(self, device, config):
        self._record("set_logical_device_configuration")(device.name, [c.memory_limit for c in config])

    @staticmethod
    def LogicalDeviceConfiguration(memory_limit=None):
        return SimpleNamespace(memory_limit=memory_limit)


def _fake_tf(gpus: int, initialized: bool = False):
    config = _FakeConfig(gpus, initialized)
    return SimpleNamespace(config=config), config


def test_memory_growth_on_every_gpu():
    tf, config = _fake_tf(2)
    done = devices.configure_tensorflow(tf=tf)
    assert config.calls == [("set_memory_growth", config.gpus[0], True), ("set_memory_growth", config.gpus[1], True)]
    assert done == ["/physical_device:GPU:0: memory growth on", "/physical_device:GPU:1: memory growth on"]


def test_memory_limit_on_visible_gpus_only():
    tf, config = _fake_tf(2)
    devices.configure_tensorflow(memory_growth=False, memory_limit_mb=1024, visible_gpus=[1], tf=tf)
    assert config.calls == [
        ("set_visible_devices", ["/physical_device:GPU:1"], "GPU"),
        ("set_logical_device_configuration", "/physical_device:GPU:1", [1024]),
    ]


def test_memory_growth_and_limit_exclude_each_other():
    with pytest.raises(ValueError, match="exclude each other"):
        devices.configure_tensorflow(memory_limit_mb=1024, tf=_fake_tf(1)[0])


def test_too_late_says_restart_the_kernel():
    tf, _ = _fake_tf(1, initialized=True)
    with pytest.raises(RuntimeError, match="Restart the kernel"):
        devices.configure_tensorflow(tf=tf)


def test_no_gpu_nothing_to_do():
    tf, config = _fake_tf(0)
    assert devices.configure_tensorflow(tf=tf) == [] and config.calls == []


# --- The device picker, without a browser ------------------------------------------------


def test_options_offer_only_what_is_there():
    assert device_widgets.device_options(CPU_ONLY) == [("auto (best here: cpu)", "auto"), ("cpu", "cpu")]
    assert device_widgets.device_options(TWO_CUDA) == [
        ("auto (best here: cuda:0)", "auto"),
        ("cpu", "cpu"),
        ("cuda:0", "cuda:0"),
        ("cuda:1", "cuda:1"),
    ]
    assert device_widgets.device_options(TF_ONLY)[-1] == ("cuda:0 (TensorFlow only)", "cuda:0")


def test_choice_text_shows_both_frameworks_side_by_side():
    choice = choose_device("cuda:1", environ=NO_ENV, devices=TWO_CUDA)
    text = device_widgets.choice_text(choice)
    assert "torch.device('cuda:1')" in text and "tf.device('/GPU:1')" in text, f"expected both devices in effect, got {text!r}"


@pytest.mark.parametrize(
    "requested, source, expected",
    [
        (None, "argument", "Asked for 'auto' (the default: no sbs.setup(device=...), no SIDEBYSIDE_DEVICE): \"auto\" picks the best device here: cuda:0."),
        ("auto", "picker", "Asked for 'auto' (chosen in the device picker): \"auto\" picks the best device here: cuda:0."),
        ("cpu", "picker", "Asked for 'cpu' (chosen in the device picker): this overrides \"auto\", which picks cuda:0 here."),
        ("/GPU:1", "argument", "Asked for '/GPU:1' (asked in code: sbs.setup(device=...) or sbs.devices.set_device(...)): this overrides \"auto\", which picks cuda:0 here."),
    ],
)
def test_request_line_says_what_was_asked_where_from_and_against_auto(requested, source, expected):
    choice = choose_device(requested, environ=NO_ENV, devices=TWO_CUDA, source=source)
    got = device_widgets.request_line(choice)
    assert got == expected, f"expected {expected!r}, got {got!r}"


def test_request_line_for_the_environment_and_grading():
    choice = choose_device(environ={devices.DEVICE_ENV_VAR: "cuda:1"}, devices=CPU_ONLY)
    got = device_widgets.request_line(choice)
    assert got == "Asked for 'cuda:1' (from the environment variable SIDEBYSIDE_DEVICE): this overrides \"auto\", which picks cpu here.", f"got {got!r}"
    choice = choose_device("tpu", environ={"NBGRADER_EXECUTION": "1"}, devices=TWO_CUDA)  # unchecked under grading
    got = device_widgets.request_line(choice)
    assert got.startswith("Asked for 'tpu' (under grading)"), f"got {got!r}"


def test_picker_dropdown_sets_the_course_device():
    picker = device_widgets.DevicePicker(TWO_CUDA, {}, initial="auto", environ=NO_ENV)
    assert picker.dropdown.value == "auto" and devices.current_device().device.name == "cuda:0"
    picker.dropdown.value = "cuda:1"  # as a click would
    assert devices.current_device().torch == "cuda:1"
    assert devices.current_device().tensorflow == "/GPU:1"
    assert "torch.device(&#x27;cuda:1&#x27;)" in picker.status.value
    assert "tf.device(&#x27;/GPU:1&#x27;)" in picker.status.value
    picker.dropdown.value = "cpu"
    assert devices.current_device().device == CPU


def test_picker_answers_cpu_after_auto_on_a_cpu_only_machine():
    """The bug seen in a browser: "auto" already picks the CPU, so choosing "cpu" used to
    change nothing on the page. Now the status says what was asked and that it overrides auto."""
    picker = device_widgets.DevicePicker(CPU_ONLY, {}, initial="auto", environ=NO_ENV)
    before = picker.status.value
    assert "Asked for &#x27;auto&#x27;" in before and "picks the best device here: cpu" in before, f"got {before!r}"
    picker.dropdown.value = "cpu"  # as a click would
    after = picker.status.value
    assert after != before, f"choosing 'cpu' after 'auto' left the status unchanged: {after!r}"
    assert "Asked for &#x27;cpu&#x27; (chosen in the device picker): this overrides &quot;auto&quot;, which picks cpu here." in after, f"got {after!r}"
    assert "torch.device(&#x27;cpu&#x27;)" in after and "tf.device(&#x27;/CPU:0&#x27;)" in after, f"got {after!r}"
    assert picker.choice.source == "picker" and devices.current_device() is picker.choice, f"got {picker.choice!r}"
    picker.dropdown.value = "auto"
    assert picker.status.value == before.replace("(asked in code: sbs.setup(device=...) or sbs.devices.set_device(...))", "(chosen in the device picker)"), (
        f"back to 'auto' should read as before, now from the picker; got {picker.status.value!r}"
    )


def test_picker_status_time_in_python():
    """The kernel's share of a device change (the browser test measures the whole round trip)."""
    import time

    picker = device_widgets.DevicePicker(TWO_CUDA, {}, initial="auto", environ=NO_ENV)
    start = time.perf_counter()
    for value in ["cpu", "cuda:1", "auto"] * 20:
        picker.dropdown.value = value
    per_change_ms = (time.perf_counter() - start) / 60 * 1e3
    assert per_change_ms < 20, f"a device change should update the status in well under 100 ms in the kernel, took {per_change_ms:.2f} ms"


def test_picker_without_gpu_falls_back_and_says_why():
    reasons = devices.gpu_unavailable_reasons(torch_version="2.13.0+cpu", tensorflow_version="2.21.0")
    picker = device_widgets.DevicePicker(CPU_ONLY, reasons, initial="auto", environ=NO_ENV)
    assert [value for _, value in picker.dropdown.options] == ["auto", "cpu"]
    choice = picker.select("GPU")
    assert choice.device == CPU and devices.current_device() is choice
    assert picker.dropdown.value == "cpu"
    assert "Using the CPU instead" in picker.status.value
    assert "No GPU for PyTorch" in picker.status.value and "No GPU for TensorFlow" in picker.status.value
    assert "Using the CPU instead" in picker.text()


def test_picker_shows_an_environment_request_that_fell_back():
    environ = {devices.DEVICE_ENV_VAR: "cuda"}
    devices.set_device(environ=environ, devices=CPU_ONLY)
    picker = device_widgets.DevicePicker(CPU_ONLY, {})
    assert picker.dropdown.value == "cpu"
    assert "from SIDEBYSIDE_DEVICE" in picker.status.value


def test_picker_under_grading_stays_on_the_cpu():
    picker = device_widgets.DevicePicker(TWO_CUDA, {}, initial="cuda:1", environ={"NBGRADER_EXECUTION": "1"})
    assert picker.choice.device == CPU and picker.choice.source == "grading"


def test_picker_on_this_machine():
    picker = device_widgets.DevicePicker(initial="auto", environ=NO_ENV)
    assert [value for _, value in picker.dropdown.options] == ["auto", "cpu"]
    assert set(picker.reasons) == {"PyTorch", "TensorFlow"}
    assert picker.widget.children == (picker.dropdown, picker.status)

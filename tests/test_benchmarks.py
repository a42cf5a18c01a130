"""Matmul benchmarks in the three frameworks, and the benchmark panel, on small sizes."""

from __future__ import annotations

import math

import matplotlib
import pytest

matplotlib.use("Agg")

from sidebyside import benchmarks, devices  # noqa: E402
from sidebyside.widgets import device_panels as device_widgets  # noqa: E402


@pytest.fixture(autouse=True)
def cpu_course_device():
    saved = devices._current
    devices.set_device("cpu", environ={})
    yield
    devices._current = saved


def test_flop_count_and_speed():
    assert benchmarks.matmul_flops(3) == 54
    assert benchmarks.gflops(1000, 2.0) == pytest.approx(1.0)
    assert benchmarks.gflops(10, 0.0) == math.inf


@pytest.mark.parametrize("runner, device", [(benchmarks.torch_matmul, "cpu"), (benchmarks.tensorflow_matmul, "/CPU:0"), (benchmarks.numpy_matmul, "cpu")])
def test_each_framework_times_a_small_matmul(runner, device):
    result = runner(64, device, repeat=3, warmup=1)
    assert result.n == 64 and result.repeat == 3 and result.dtype == "float32"
    assert result.device.lower().lstrip("/") in ("cpu", "cpu:0")
    assert 0 < result.best_s <= result.median_s < 1 and result.first_call_s > 0
    assert result.gflops == pytest.approx(benchmarks.gflops(64, result.best_s))
    assert 0 < result.gflops < 1e5


def test_tensorflow_reports_its_device_string():
    assert benchmarks.tensorflow_matmul(32, "/CPU:0", repeat=1, warmup=0).device == "/CPU:0"


def test_numpy_refuses_a_gpu():
    with pytest.raises(ValueError, match="CPU only"):
        benchmarks.numpy_matmul(8, "cuda:0")


def test_run_uses_the_course_device_and_every_framework():
    results = benchmarks.run([64, 32], repeat=2, warmup=1)
    assert [(r.framework, r.n) for r in results] == [
        ("PyTorch", 32), ("TensorFlow", 32), ("NumPy", 32), ("PyTorch", 64), ("TensorFlow", 64), ("NumPy", 64),
    ]
    assert {r.device for r in results} == {"cpu", "/CPU:0"}
    text = benchmarks.table(results)
    assert text.splitlines()[0].split()[:2] == ["framework", "n"] and len(text.splitlines()) == 7


def test_run_rejects_unknown_frameworks():
    with pytest.raises(ValueError, match="unknown frameworks"):
        benchmarks.run([8], frameworks=("JAX",))


def test_plot_has_one_line_per_framework():
    import matplotlib.pyplot as plt

    results = benchmarks.run([16, 32], repeat=1, warmup=0)
    ax = benchmarks.plot(results)
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["PyTorch (cpu)", "TensorFlow (/CPU:0)", "NumPy (cpu)"]
    assert ax.get_lines()[2].get_linestyle() == "--"
    plt.close(ax.figure)


def test_panel_button_runs_on_the_chosen_device():
    panel = device_widgets.BenchmarkPanel(sizes=(32,), choices=(16, 32, 64), repeat=2, warmup=1)
    assert panel.results == []
    panel.sizes.value = (16, 32)
    panel.button.click()
    assert panel.error is None
    assert sorted({r.n for r in panel.results}) == [16, 32]
    assert {r.framework for r in panel.results} == set(benchmarks.FRAMEWORKS)
    assert "Done" in panel.status.value and not panel.button.disabled


def test_panel_shows_earlier_results_and_reports_failures():
    results = benchmarks.run([16], repeat=1, warmup=0)
    panel = device_widgets.BenchmarkPanel(results=results, repeat=1, warmup=0)
    assert panel.results == results and "Done" in panel.status.value
    devices._current = devices.DeviceChoice(devices.Device("cuda:0", "cuda:0", "/GPU:0"), "cuda:0", "argument")
    assert panel.run([16]) == []  # a CPU build of torch cannot run on cuda:0: shown, not raised
    assert panel.error is not None and "Benchmark failed" in panel.status.value


def test_panel_with_no_size_chosen():
    panel = device_widgets.BenchmarkPanel()
    panel.sizes.value = ()
    assert panel.run() == [] and "at least one size" in panel.status.value

"""The scaling panel of lesson 05: choose workers, global batch size and frameworks; run.

Each press launches real worker processes (:func:`sidebyside.parallel.measure_scaling`): for
each chosen framework, one worker first trains the MLP alone on the global batch (the
sequential run), then ``N`` workers train it together, each on its share. Two charts show
throughput and speed-up for both frameworks side by side, with the ideal speed-up (= workers)
as a dashed line (:func:`sidebyside.parallel.plot_scaling`); every configuration measured so
far stays on the charts and in the table, the latest run replacing an earlier one of the same
configuration.

Every control answers at once: the status line says what was asked and what a run would do
with it (a global batch that does not split evenly is rounded down to a multiple of the
workers, and the line says so), and after a run, what was measured. The logic is in the plain
functions below; the class only wires controls to them. ipywidgets 7.7 (Colab) and 8.
"""

from __future__ import annotations

import html
import time

from .. import parallel

BATCH_SIZES = (32, 64, 128, 256, 512, 1024, 2048, 4096)
FRAMEWORK_CHOICES = (("PyTorch and TensorFlow", "both"), ("PyTorch", "torch"), ("TensorFlow", "tensorflow"))
_NAMES = {"both": ("torch", "tensorflow"), "torch": ("torch",), "tensorflow": ("tensorflow",)}
_LABELS = {"torch": "PyTorch", "tensorflow": "TensorFlow"}


# --- Logic (no widgets) ---------------------------------------------------------------------


def frameworks_for(choice: str) -> tuple[str, ...]:
    """``"both"``, ``"torch"`` or ``"tensorflow"`` as the frameworks to run."""
    try:
        return _NAMES[choice]
    except KeyError:
        raise ValueError(f"unknown framework choice {choice!r}; choose one of {sorted(_NAMES)}") from None


def effective_batch(global_batch_size: int, workers: int) -> int:
    """The global batch size a run uses: the largest multiple of ``workers`` not above the
    one asked for (each worker takes an equal share), and at least ``workers``."""
    workers, asked = int(workers), int(global_batch_size)
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    return max(workers, asked - asked % workers)


def plan_text(workers: int, global_batch_size: int, choice: str) -> str:
    """What a run with these settings would do, including any adjustment of the batch size."""
    batch = effective_batch(global_batch_size, workers)
    names = " and ".join(_LABELS[f] for f in frameworks_for(choice))
    text = f"asked: {workers} worker(s), global batch {global_batch_size}, {names}. "
    if batch != global_batch_size:
        text += f"In effect: global batch {batch} ({global_batch_size} does not split into {workers} equal shares), "
    else:
        text += "In effect: as asked, "
    return text + f"{batch // workers} samples per worker per step."


def results_text(results: list[parallel.ScalingResult], seconds: float | None = None) -> str:
    """One line per measured configuration: speed-up and throughput."""
    parts = []
    for r in results:
        m = r.metrics
        parts.append(f"{r.framework} {r.workers} worker(s), batch {r.global_batch_size}: speed-up {m['speedup']:.2f}, {m['throughput']:,.0f} samples/s")
    head = f"measured in {seconds:.0f} s: " if seconds is not None else "shown: "
    if not parts:
        return "nothing measured yet: press Run scaling"
    best = max(results, key=lambda r: r.metrics["throughput"])
    # the article's throughput is the maximum number of samples per unit of time
    tail = f". Maximum throughput: {best.metrics['throughput']:,.0f} samples/s ({best.framework}, {best.workers} worker(s), batch {best.global_batch_size})"
    return head + "; ".join(parts) + tail


def merge(results: list[parallel.ScalingResult], new: list[parallel.ScalingResult]) -> list[parallel.ScalingResult]:
    """``results`` with ``new`` added, a new measurement replacing an old one of the same
    framework, workers and batch size."""
    keys = {(r.framework, r.workers, r.global_batch_size) for r in new}
    return [r for r in results if (r.framework, r.workers, r.global_batch_size) not in keys] + list(new)


#: Each launch of a press stops after this many seconds (and the panel says so).
LAUNCH_TIMEOUT_S = 60.0


def measure(workers: int, global_batch_size: int, choice: str, **kwargs) -> list[parallel.ScalingResult]:
    """Run the chosen frameworks with these settings (what the button does); each launch is
    stopped after :data:`LAUNCH_TIMEOUT_S` seconds unless ``timeout`` says otherwise."""
    kwargs.setdefault("timeout", LAUNCH_TIMEOUT_S)
    batch = effective_batch(global_batch_size, workers)
    found = []
    for framework in frameworks_for(choice):
        found += parallel.measure_scaling(framework, workers, (batch,), **kwargs)
    return found


# --- Widget -----------------------------------------------------------------------------------


class ScalingPanel:
    """The controls, the status line, the charts and the table.

    ``results``: measurements to show at once (e.g. from the lesson's own runs), so the panel
    shows something in a headless run. ``measure``: the function a press calls (tests pass a
    fake). ``max_workers``: the slider's maximum (default: this machine's cores).
    """

    def __init__(self, results=(), *, workers: int = 2, global_batch_size: int = 256, choice: str = "both",
                 max_workers: int | None = None, measure=measure, steps: int = 10, warmup: int = 2):
        import ipywidgets as w

        self.max_workers = max(2, max_workers or parallel.max_workers())
        self._measure = measure
        self.options = {"steps": steps, "warmup": warmup}
        self.results: list[parallel.ScalingResult] = list(results)
        self.error: Exception | None = None
        style = {"description_width": "initial"}
        self.workers = w.IntSlider(value=min(workers, self.max_workers), min=1, max=self.max_workers, description="workers", style=style)
        batches = sorted(set(BATCH_SIZES) | {int(global_batch_size)})
        self.batch = w.Dropdown(options=batches, value=int(global_batch_size), description="global batch size", style=style)
        self.frameworks = w.Dropdown(options=list(FRAMEWORK_CHOICES), value=choice, description="frameworks", style=style)
        self.button = w.Button(description="Run scaling", button_style="primary", icon="play")
        self.plan = w.HTML(value="")
        self.status = w.HTML(value="")
        self.output = w.Output()
        for control in (self.workers, self.batch, self.frameworks):
            control.observe(lambda _change: self._show_plan(), names="value")
        self.button.on_click(lambda _button: self.run())
        self.widget = w.VBox([
            w.HTML(value="<b>Scaling</b>: real worker processes, 1 worker alone vs N workers together"),
            w.HBox([self.workers, self.batch, self.frameworks, self.button]),
            self.plan,
            self.status,
            self.output,
        ])
        self._show_plan()
        self.status.value = html.escape(results_text(self.results))
        if self.results:
            self._draw()

    def _show_plan(self) -> None:
        self.plan.value = html.escape(plan_text(self.workers.value, self.batch.value, self.frameworks.value))

    def run(self, workers: int | None = None, global_batch_size: int | None = None, choice: str | None = None):
        """Measure (what the button does); return the new results, and keep them."""
        if workers is not None:
            self.workers.value = int(workers)
        if global_batch_size is not None:
            self.batch.value = int(global_batch_size)
        if choice is not None:
            self.frameworks.value = choice
        workers, batch, choice = self.workers.value, self.batch.value, self.frameworks.value
        self.button.disabled = True
        self.error = None
        self.status.value = html.escape(f"running {plan_text(workers, batch, choice)} Starting the worker processes...")
        start = time.perf_counter()
        try:
            new = self._measure(workers, batch, choice, **self.options)
        except Exception as error:  # shown in the panel: a press must not crash the notebook
            self.error = error
            self.status.value = f"<span style='color:#b00'>{html.escape(type(error).__name__ + ': ' + str(error))}</span>"
            return []
        finally:
            self.button.disabled = False
        self.results = merge(self.results, new)
        self.status.value = html.escape(results_text(new, time.perf_counter() - start))
        self._draw()
        return new

    def _draw(self) -> None:
        import matplotlib.pyplot as plt
        from IPython.display import display

        with self.output:
            self.output.clear_output(wait=True)
            fig, _ = parallel.plot_scaling(self.results)
            display(fig)
            plt.close(fig)
            print(parallel.scaling_table(self.results))

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

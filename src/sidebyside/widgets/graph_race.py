"""The "eager vs graph" race of lesson 02: pick a workload and a size, press Race.

Both frameworks run the workload eager and compiled (``torch.compile``; ``tf.function``, and
optionally XLA) on the course-wide device; two bar charts show the first call (tracing and
compiling) apart from the steady-state time per call, with the speedups. The logic is
:func:`sidebyside.graphs.race`, :func:`~sidebyside.graphs.race_table` and
:func:`~sidebyside.graphs.plot_race`; this module only wires controls to them.

Every control answers at once in the status line: what was asked (the settings now chosen,
and what a change implied, such as the size going back to the new workload's default), what
is in effect (the device both frameworks will run on, and which race the chart shows until
Race is pressed). The status text comes from the plain functions below, tested without a
browser.

Compiled functions are kept between races, so repeating a race (or returning to a size) skips
the compilation; the table marks such rows "(cached)". With the default settings a race takes
a few seconds on 2 CPU cores once Inductor has compiled anything in the session (its very
first compilation in a fresh process takes 10 to 20 s).
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass

from .. import devices, graphs

TORCH_BACKENDS = ("inductor", "aot_eager", "eager")

#: What each torch.compile backend does, as the status line says it.
BACKEND_NOTES = {
    "inductor": "generates fused C++ code on the CPU (Triton kernels on a GPU)",
    "aot_eager": "captures the forward and backward graphs, generates no code",
    "eager": "captures the graph and runs it as is, generates no code",
}


def _size_options(workload: str) -> list[tuple[str, int]]:
    return [(f"{size:,}", size) for size in sorted(graphs.SIZES[workload])]


# --- What the status line says (plain functions) ----------------------------------------------


@dataclass(frozen=True)
class RaceSettings:
    """What a race runs: the widget's controls, as values."""

    workload: str
    size: int
    backend: str
    xla: bool

    def text(self) -> str:
        xla = "with" if self.xla else "without"
        return f"{self.workload}, size {self.size:,}, torch.compile backend {self.backend}, TensorFlow {xla} XLA"


def device_text(choice: devices.DeviceChoice) -> str:
    """The device a race runs on, as each framework names it."""
    return f"PyTorch {choice.torch!r}, TensorFlow {choice.tensorflow!r} (course-wide device {choice.device.name})"


def change_note(control: str, settings: RaceSettings) -> str:
    """What a change of one control means, in one sentence."""
    if control == "workload":
        default = graphs.SIZES[settings.workload][0]
        return (f"Workload {settings.workload}: {graphs.WORKLOADS[settings.workload]}. "
                f"Size set to {default:,}, the default for {settings.workload}.")
    if control == "size":
        return f"Size {settings.size:,}."
    if control == "backend":
        note = BACKEND_NOTES.get(settings.backend, "a backend registered with torch.compile")
        return f"torch.compile backend {settings.backend}: {note}; it changes only the PyTorch torch.compile row."
    if control == "xla":
        if settings.xla:
            return "TensorFlow XLA on: tf.function(jit_compile=True) is timed too."
        return "TensorFlow XLA off: TensorFlow is timed eager and with tf.function only."
    return ""


def pending_status(asked: RaceSettings, shown: RaceSettings | None, choice: devices.DeviceChoice, note: str = "") -> str:
    """The status after a control changed: what is asked now, and what is in effect until Race."""
    if shown is None:
        now = "Nothing has raced yet: press Race to run it."
    elif shown == asked:
        now = "The table and chart below show these settings; press Race to time them again."
    else:
        now = f"Press Race to run it; until then the table and chart below show: {shown.text()}."
    return " ".join(part for part in (note, f"Asked: {asked.text()}.", f"Runs on: {device_text(choice)}.", now) if part)


def racing_status(asked: RaceSettings, choice: devices.DeviceChoice) -> str:
    return f"Racing {asked.text()} on {device_text(choice)}... (a first torch.compile can take a while)"


def finished_status(asked: RaceSettings, results, seconds: float) -> str:
    """The status after a race: what ran, where, how long it took, and what came from the cache."""
    where = sorted({f"{r.framework} on {r.device!r}" for r in results})
    cached = [r.label for r in results if r.cached]
    reused = f" Reused compiled code for {', '.join(cached)} (marked cached)." if cached else ""
    return (f"The table and chart below show: {asked.text()}, run on {', '.join(where)}; "
            f"the race took {seconds:.1f} s.{reused}")


def failed_status(asked: RaceSettings, error: Exception, shown: RaceSettings | None) -> str:
    still = f" The table and chart below still show: {shown.text()}." if shown else ""
    return f"The race of {asked.text()} failed: {type(error).__name__}: {error}.{still}"


# --- The widget -------------------------------------------------------------------------------


class GraphRace:
    """The race widget. ``GraphRace().widget`` is the ipywidgets box; displaying the object
    displays it. ``run()`` races with the current settings (the Race button calls it) and
    returns the results, also kept in ``results``. ``status_text`` is the status line as
    plain text."""

    def __init__(self, workload: str = "small-ops", size: int | None = None, *, xla: bool = True,
                 backend: str = "inductor", repeat: int = 10):
        import ipywidgets as w

        if workload not in graphs.WORKLOADS:
            raise ValueError(f"Unknown workload {workload!r}; choose one of {', '.join(graphs.WORKLOADS)}.")
        self.results: list[graphs.RaceResult] = []
        self.shown: RaceSettings | None = None  # the settings of the race on display
        self.repeat = repeat
        self.status_text = ""
        style = {"description_width": "initial"}
        self.workload = w.Dropdown(options=list(graphs.WORKLOADS), value=workload, description="Workload", style=style)
        self.size = w.Dropdown(options=_size_options(workload), value=size or graphs.SIZES[workload][0],
                               description="Size", style=style)
        self.backend = w.Dropdown(options=list(TORCH_BACKENDS), value=backend, description="torch.compile backend", style=style)
        self.xla = w.Checkbox(value=xla, description="TensorFlow with XLA too", indent=False)
        self.button = w.Button(description="Race", button_style="primary", icon="flag-checkered")
        self.status = w.HTML(value="")
        self.output = w.Output()
        self._quiet = False  # set while one change sets another control (workload -> size)
        self.workload.observe(self._on_workload, names="value")
        self.size.observe(lambda change: self._on_change("size"), names="value")
        self.backend.observe(lambda change: self._on_change("backend"), names="value")
        self.xla.observe(lambda change: self._on_change("xla"), names="value")
        self.button.on_click(lambda _: self._on_click())
        self.widget = w.VBox([
            w.HTML(value="<b>Eager vs graph</b>: " + graphs.WORKLOADS[workload]),
            w.HBox([self.workload, self.size]),
            w.HBox([self.backend, self.xla, self.button]),
            self.status,
            self.output,
        ])
        self._title = self.widget.children[0]
        self._say(pending_status(self.settings(), self.shown, devices.current_device()))

    def settings(self) -> RaceSettings:
        """The settings the controls show now."""
        return RaceSettings(self.workload.value, self.size.value, self.backend.value, self.xla.value)

    def _say(self, text: str, error: bool = False) -> None:
        self.status_text = text
        style = " style='color:#b00'" if error else ""
        self.status.value = f"<span{style}>{html.escape(text)}</span>"

    def _on_change(self, control: str) -> None:
        if self._quiet:
            return
        asked = self.settings()
        self._say(pending_status(asked, self.shown, devices.current_device(), change_note(control, asked)))

    def _on_workload(self, change) -> None:
        workload = change["new"]
        self._quiet = True
        try:
            self.size.options = _size_options(workload)
            self.size.value = graphs.SIZES[workload][0]
        finally:
            self._quiet = False
        self._title.value = "<b>Eager vs graph</b>: " + graphs.WORKLOADS[workload]
        self._on_change("workload")

    def run(self) -> list[graphs.RaceResult]:
        """Race with the widget's current settings; return (and keep) the results."""
        asked = self.settings()
        self.results = graphs.race(asked.workload, asked.size, xla=asked.xla, backend=asked.backend, repeat=self.repeat)
        self.shown = asked
        return self.results

    def _on_click(self) -> None:
        import matplotlib.pyplot as plt
        from IPython.display import display

        asked = self.settings()
        self.button.disabled = True
        self._say(racing_status(asked, devices.current_device()))
        start = time.perf_counter()
        try:
            results = self.run()
            self.output.clear_output(wait=True)
            with self.output:
                print(graphs.race_table(results))
                fig, _ = graphs.plot_race(results)
                display(fig)
                plt.close(fig)
            self._say(finished_status(asked, results, time.perf_counter() - start))
        except Exception as error:  # shown in the widget rather than lost in a callback
            self._say(failed_status(asked, error, self.shown), error=True)
        finally:
            self.button.disabled = False

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


def graph_race(workload: str = "small-ops", size: int | None = None, **kwargs) -> GraphRace:
    """Make the race widget (display it as the last line of a cell)."""
    return GraphRace(workload, size, **kwargs)

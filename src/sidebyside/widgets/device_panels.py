"""The device picker and the benchmark panel (lesson 04; other lessons may show the picker).

- :class:`DevicePicker`: a dropdown of every device either framework sees, plus "auto".
  Choosing one sets the course-wide device (:func:`sidebyside.devices.set_device`), which every
  lesson reads with :func:`sidebyside.devices.current_device`. Every choice changes the status:
  what was asked and where from (the picker, code, ``SIDEBYSIDE_DEVICE`` or nothing), how it
  stands to "auto", and side by side the ``torch.device`` and the TensorFlow device string in
  effect. GPUs this machine cannot use are not offered; the reason is shown instead.
- :class:`BenchmarkPanel`: sizes to choose and a button that times a matmul in both frameworks
  on the course-wide device, with NumPy on the CPU as the reference (:mod:`sidebyside.benchmarks`).
  Choosing sizes says which sizes will run and which the chart shows until then.

The logic is in the plain functions below and in ``sidebyside.devices``/``benchmarks``; the
classes only wire controls to them. Both work with ipywidgets 7.7 (Colab) and 8 (JupyterLab 4),
and nothing needs a click for a notebook to run headless.
"""

from __future__ import annotations

import html

from .. import benchmarks, devices

AUTO = "auto"


# --- Logic (no widgets) ---------------------------------------------------------------------


def device_label(device: devices.Device) -> str:
    """How a device reads in the dropdown: ``"cuda:0 (PyTorch only)"``."""
    if device.torch and device.tensorflow:
        return device.name
    only = "PyTorch" if device.torch else "TensorFlow"
    return f"{device.name} ({only} only)"


def device_options(available: list[devices.Device]) -> list[tuple[str, str]]:
    """The dropdown's ``(label, value)`` pairs: "auto" first (naming what it picks), then each
    device either framework can use. Only devices that are really there are offered."""
    best = devices.best_device(list(available))
    return [(f"auto (best here: {best.name})", AUTO)] + [(device_label(d), d.name) for d in available]


def initial_value(choice: devices.DeviceChoice, options: list[tuple[str, str]]) -> str:
    """The dropdown value that shows ``choice``: "auto" unless a device was asked for."""
    values = [value for _, value in options]
    if choice.source == "default" or choice.requested == AUTO:
        return AUTO
    return choice.device.name if choice.device.name in values else AUTO


#: Where a request came from, as the picker's status says it.
SOURCES = {
    "picker": "chosen in the device picker",
    "argument": "asked in code: sbs.setup(device=...) or sbs.devices.set_device(...)",
    "environment": f"from the environment variable {devices.DEVICE_ENV_VAR}",
    "default": f"the default: no sbs.setup(device=...), no {devices.DEVICE_ENV_VAR}",
    "grading": "under grading",
}


def request_line(choice: devices.DeviceChoice) -> str:
    """What was asked, where the request came from, and how it stands to "auto":
    ``Asked for 'cpu' (chosen in the device picker): this overrides "auto", which picks cpu here.``"""
    best = devices.best_device(list(choice.available)).name
    try:
        wanted = devices.normalize_request(choice.requested)
    except ValueError:  # under grading a request is recorded as given, unchecked
        wanted = choice.requested
    origin = SOURCES.get(choice.source, choice.source)
    if wanted == AUTO:
        relation = f'"auto" picks the best device here: {best}'
    else:
        relation = f'this overrides "auto", which picks {best} here'
    return f"Asked for {choice.requested!r} ({origin}): {relation}."


def choice_rows(choice: devices.DeviceChoice) -> list[tuple[str, str]]:
    """``[(framework, code in effect)]``: what each framework's code should pass."""
    return [
        ("PyTorch", f"torch.device({choice.torch!r})"),
        ("TensorFlow", f"tf.device({choice.tensorflow!r})"),
    ]


def unavailable_lines(reasons: dict[str, str]) -> list[str]:
    """One line per framework that has no GPU here, saying why."""
    return [f"No GPU for {framework}: {reason}." for framework, reason in reasons.items()]


def choice_html(choice: devices.DeviceChoice, reasons: dict[str, str] | None = None) -> str:
    """The picker's status: what was asked (and from where), the device in effect for each
    framework side by side, then any fallback message and the reasons a GPU is missing."""
    cells = "".join(
        f"<td style='padding:2px 12px'><b>{framework}</b><br><code>{html.escape(code)}</code></td>"
        for framework, code in choice_rows(choice)
    )
    parts = [
        f"<div class='sbs-asked'>{html.escape(request_line(choice))}</div>",
        f"<div>In effect:</div><table><tr>{cells}</tr></table>",
        f"<div>Course-wide device: <b>{html.escape(choice.device.name)}</b></div>",
    ]
    if choice.message:
        parts.append(f"<div style='color:#b35c00'>{html.escape(choice.message)}</div>")
    for line in unavailable_lines(reasons or {}):
        parts.append(f"<div style='color:#666'>{html.escape(line)}</div>")
    return "\n".join(parts)


def choice_text(choice: devices.DeviceChoice, reasons: dict[str, str] | None = None) -> str:
    """The same as :func:`choice_html`, as plain text (for headless runs and logs)."""
    lines = [request_line(choice), "In effect:"]
    lines += [f"  {framework:<11} {code}" for framework, code in choice_rows(choice)]
    lines.append(f"Course-wide device: {choice.device.name}")
    if choice.message:
        lines.append(choice.message)
    return "\n".join(lines + unavailable_lines(reasons or {}))


def machine_reasons() -> dict[str, str]:
    """Why each framework has no GPU on this machine (empty when both have one)."""
    return devices.gpu_unavailable_reasons(**devices.framework_facts())


# --- Widgets ----------------------------------------------------------------------------------


class DevicePicker:
    """A dropdown that sets the course-wide device, and shows what each framework gets.

    ``available`` and ``reasons`` default to this machine (tests pass faked lists).
    ``initial`` applies a request at once; by default the picker shows the current choice.
    Display it as the last line of a cell, or with ``display(picker)``.
    """

    def __init__(self, available=None, reasons=None, *, initial: str | None = None, environ: dict | None = None):
        import ipywidgets as widgets

        self.available = devices.available_devices() if available is None else list(available)
        self.reasons = machine_reasons() if reasons is None else dict(reasons)
        self.environ = environ
        self.options = device_options(self.available)
        self.choice = devices.current_device() if initial is None else self._choose(initial, "argument")
        self.dropdown = widgets.Dropdown(
            options=self.options,
            value=initial_value(self.choice, self.options),
            description="Device:",
        )
        self.status = widgets.HTML(value=choice_html(self.choice, self.reasons))
        self.widget = widgets.VBox([self.dropdown, self.status])
        self._updating = False
        self.dropdown.observe(self._on_change, names="value")

    def _choose(self, requested: str, source: str = "picker") -> devices.DeviceChoice:
        return devices.set_device(requested, devices=self.available, environ=self.environ, source=source)

    def _on_change(self, change) -> None:
        if not self._updating:
            self._apply(change["new"])

    def _apply(self, requested: str) -> devices.DeviceChoice:
        self.choice = self._choose(requested)
        self.status.value = choice_html(self.choice, self.reasons)
        return self.choice

    def select(self, requested: str) -> devices.DeviceChoice:
        """Choose a device as if from the dropdown; any spelling ``choose_device`` accepts.

        A device that is not here is not in the dropdown: the choice falls back to the CPU
        and the status says why.
        """
        choice = self._apply(requested)
        values = [value for _, value in self.options]
        wanted = devices.normalize_request(requested)
        shown = wanted if wanted in values else choice.device.name
        self._updating = True
        try:
            self.dropdown.value = shown
        finally:
            self._updating = False
        return choice

    def text(self) -> str:
        return choice_text(self.choice, self.reasons)

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


def sizes_status(chosen, results) -> str:
    """The benchmark panel's answer to a change of sizes, before the button is pressed."""
    if not chosen:
        return "Choose at least one size."
    shown = sorted({r.n for r in results})
    now = f"the chart shows n = {', '.join(map(str, shown))}" if shown else "nothing has run yet"
    return f"Sizes chosen: n = {', '.join(map(str, sorted(chosen)))}; press Run benchmark to time them ({now})."


DEFAULT_SIZES = (128, 256, 512)
SIZE_CHOICES = (64, 128, 256, 512, 1024, 2048, 4096)


class BenchmarkPanel:
    """Sizes to choose and a button: time a matmul in PyTorch, TensorFlow and NumPy on the
    course-wide device, then plot GFLOP/s side by side and list the figures.

    ``results`` shows earlier results at once (e.g. from ``benchmarks.run`` called in the
    notebook), so the panel shows something in a headless run too.
    """

    def __init__(self, sizes=DEFAULT_SIZES, *, choices=SIZE_CHOICES, frameworks=benchmarks.FRAMEWORKS, repeat: int = 5, warmup: int = 2, results=None):
        import ipywidgets as widgets

        self.frameworks = tuple(frameworks)
        self.repeat, self.warmup = repeat, warmup
        self.sizes = widgets.SelectMultiple(options=sorted(set(choices) | set(sizes)), value=tuple(sizes), description="Sizes n:", rows=4)
        self.button = widgets.Button(description="Run benchmark", button_style="primary")
        self.status = widgets.HTML(value="")
        self.output = widgets.Output()
        self.widget = widgets.VBox([widgets.HBox([self.sizes, self.button]), self.status, self.output])
        self.results: list[benchmarks.BenchmarkResult] = list(results or [])
        self.error: Exception | None = None
        self.button.on_click(lambda _button: self.run())
        self.sizes.observe(self._on_sizes, names="value")
        if self.results:
            self._show()

    def _on_sizes(self, change) -> None:
        """Answer a change of sizes at once: what will run, and what the chart shows until then."""
        self.status.value = html.escape(sizes_status(change["new"], self.results))

    def run(self, sizes=None) -> list[benchmarks.BenchmarkResult]:
        """Run the benchmark (what the button does); return and show the results."""
        sizes = tuple(self.sizes.value if sizes is None else sizes)
        if not sizes:
            self.status.value = "Choose at least one size."
            return []
        choice = devices.current_device()
        self.status.value = html.escape(f"Running on torch {choice.torch}, TensorFlow {choice.tensorflow}, NumPy cpu...")
        self.button.disabled = True
        self.error = None
        try:
            self.results = benchmarks.run(sizes, choice, frameworks=self.frameworks, repeat=self.repeat, warmup=self.warmup)
        except Exception as error:  # shown in the panel: a click must not crash the notebook
            self.error = error
            self.status.value = f"<span style='color:#b00'>Benchmark failed: {html.escape(repr(error))}</span>"
            return []
        finally:
            self.button.disabled = False
        self._show()
        return self.results

    def _show(self) -> None:
        import matplotlib.pyplot as plt
        from IPython.display import display

        devices_used = sorted({f"{r.framework} on {r.device}" for r in self.results})
        self.status.value = html.escape("Done: " + ", ".join(devices_used))
        with self.output:
            self.output.clear_output(wait=True)
            fig, ax = plt.subplots(figsize=(6, 3.4))
            benchmarks.plot(self.results, ax=ax)
            fig.tight_layout()
            display(fig)
            plt.close(fig)
            print(benchmarks.table(self.results))

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

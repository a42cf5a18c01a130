"""The learning-curve playground of lesson 01: train both frameworks, watch their curves.

Sliders for the learning rate, batch size, number of epochs and hidden units; a button that
trains the MLP in PyTorch and in TensorFlow from the same initial weights on the same batches
(:func:`sidebyside.training.train_both`), redrawing both frameworks' curves while they train.
It trains on the course-wide device (:func:`sidebyside.devices.current_device`).

Every control answers: under the sliders a line says what they ask for and what the curves on
show were trained with (:func:`settings_text`), and updates as soon as a slider moves; the
button is disabled while it trains, the progress bar and a status line follow each epoch of
each framework, and the chart's title names the settings it shows.

Speed (issue 12 asks for a first and later runs of the default settings under 3 s on 2 CPU
cores; ``benchmarks/playground.py`` measures them): the chart is one matplotlib figure, built
once, whose axes are drawn once per run and whose curves alone are drawn on them for each
picture, a PNG for an ``Image`` widget (no pyplot, no inline backend); and a picture is made
only when the previous one is at least twice its own drawing time old (and after the last
epoch), so that drawing never takes more than about a third of a run.

The widget only wires controls: :func:`config_from_controls`, :func:`settings_text`,
:func:`progress_text`, :func:`run`, :class:`LiveChart` and :class:`RedrawPolicy` are plain,
and :class:`Playground` can be driven without a browser (``playground.button.click()``), which
is how the tests and the benchmark use it. Only widgets that exist in both ipywidgets 7.7
(Colab) and 8 (JupyterLab 4) are used.
"""

from __future__ import annotations

import time
from typing import Callable

from ..training import HISTORY_KEYS, Comparison, Config, train_both

LR_RANGE = (1e-3, 1.0)
BATCH_SIZES = (8, 16, 32, 64, 128, 256, 512)
EPOCH_RANGE = (1, 40)
HIDDEN_UNITS = (2, 4, 8, 16, 32, 64, 128, 256)
#: The default run: both frameworks, 10 epochs of 45 steps each on the digits.
DEFAULT_CONFIG = Config(lr=0.1, batch_size=32, num_epochs=10, hidden_units=32)
FRAMEWORKS = ("PyTorch", "TensorFlow")


def config_from_controls(lr: float, batch_size: int, num_epochs: int, hidden_units: int, *, seed: int = 0) -> Config:
    """A :class:`~sidebyside.training.Config` from the sliders' values, checked."""
    lr, batch_size, num_epochs, hidden_units = float(lr), int(batch_size), int(num_epochs), int(hidden_units)
    if not LR_RANGE[0] <= lr <= LR_RANGE[1] * 10:
        raise ValueError(f"learning rate {lr} is out of range {LR_RANGE}")
    if batch_size < 1 or num_epochs < 1 or hidden_units < 1:
        raise ValueError("batch size, epochs and hidden units must be at least 1")
    return Config(lr=lr, batch_size=batch_size, num_epochs=num_epochs, hidden_units=hidden_units, seed=seed)


#: The settings a student controls, in the order the sliders show them: (field, label, format).
SETTINGS = (
    ("lr", "learning rate", lambda v: f"{v:.3g}"),
    ("batch_size", "batch size", str),
    ("num_epochs", "epochs", str),
    ("hidden_units", "hidden units", str),
)


def describe(config: Config) -> str:
    """``"learning rate 0.1, batch size 32, epochs 10, hidden units 32"``."""
    return ", ".join(f"{label} {fmt(getattr(config, field))}" for field, label, fmt in SETTINGS)


def settings_text(asked: Config, in_effect: Config | None, *, training: bool = False) -> str:
    """What the sliders ask for against what the curves on show were trained with.

    ``in_effect`` is the configuration of the curves on show (None before the first run);
    ``training``: a run with ``in_effect`` is under way.
    """
    if in_effect is None:
        return f"Asked: {describe(asked)}. Nothing trained yet: press Train both."
    if training:
        text = f"Training with: {describe(in_effect)}."
        return text if asked == in_effect else f"{text} Asked meanwhile: {describe(asked)} (for the next run)."
    if asked == in_effect:
        return f"In effect: {describe(asked)}. The curves below were trained with exactly these settings."
    changes = [
        f"{label} {fmt(getattr(asked, field))} (in effect: {fmt(getattr(in_effect, field))})"
        if getattr(asked, field) != getattr(in_effect, field)
        else f"{label} {fmt(getattr(asked, field))}"
        for field, label, fmt in SETTINGS
    ]
    return f"Asked: {', '.join(changes)}. Press Train both to apply: the curves below still show the settings in effect."


def progress_text(framework: str, epoch: int, config: Config, histories: dict) -> str:
    """One status line: where training is and the latest validation accuracy of each framework."""
    latest = ", ".join(
        f"{name} val acc {history['val_accuracy'][-1]:.3f}" for name, history in histories.items() if history["val_accuracy"]
    )
    return f"{framework}: epoch {epoch}/{config.num_epochs}" + (f" | {latest}" if latest else "")


def summary_text(result: Comparison, seconds: float) -> str:
    """The line shown when a run ends: final accuracies, agreement, time."""
    finals = ", ".join(f"{name} {h['val_accuracy'][-1]:.3f}" for name, h in result.histories.items())
    return (
        f"Done in {seconds:.1f} s. Final validation accuracy: {finals}. Largest difference between "
        f"the two frameworks' val_loss: {result.max_difference.get('val_loss', float('nan')):.1e}"
    )


def title_text(config: Config) -> str:
    """The chart's title: the settings its curves were trained with."""
    return f"lr={config.lr:.3g}, batch size {config.batch_size}, {config.hidden_units} hidden units, {config.num_epochs} epochs"


def run(config: Config, split=None, *, on_epoch: Callable[[str, int, dict], object] | None = None, device=None) -> Comparison:
    """Train both frameworks with ``config`` on ``split`` (default: the digits)."""
    if split is None:
        from ..data import load_digits

        split = load_digits()
    return train_both(split, config, callback=on_epoch, device=device)


class RedrawPolicy:
    """When to redraw during a run: when the last redraw ended at least ``factor`` times its
    own duration ago (and ``min_interval`` seconds), and always at the end. Drawing then takes
    at most about ``1 / (1 + factor)`` of a run however slow the machine is, and the curves
    still move several times a second."""

    def __init__(self, factor: float = 2.0, min_interval: float = 0.2, clock: Callable[[], float] = time.perf_counter):
        self.factor, self.min_interval, self.clock = factor, min_interval, clock
        self.last_end: float | None = None
        self.last_duration = 0.0

    def due(self, final: bool = False) -> bool:
        if final or self.last_end is None:
            return True
        return self.clock() - self.last_end >= max(self.min_interval, self.factor * self.last_duration)

    def drawn(self, started: float) -> None:
        """Call after a redraw that began at ``started`` (a value of ``clock``)."""
        self.last_end = self.clock()
        self.last_duration = self.last_end - started


class LiveChart:
    """Both frameworks' loss and accuracy curves as a PNG: one matplotlib figure, built once
    (training solid, validation dashed, in the course's colours, as
    :func:`sidebyside.plots.plot_histories` draws them).

    Redrawing a whole figure costs about 0.15 s of CPU here, mostly its text (ticks, titles,
    legend). The axes stay the same during a run (epochs 1 to ``num_epochs``; accuracy 0 to 1;
    loss 0 to a bound that grows only when a curve goes above it), so the figure without its
    curves is drawn once per run and kept as a background; each picture restores it, draws the
    eight curves on it and encodes the pixels as PNG.
    """

    METRICS = ("loss", "accuracy")

    def __init__(self, figsize=(10, 3.4), dpi: int = 72):
        self.figsize, self.dpi = figsize, dpi
        self.figure = None
        self.renders = 0
        self.full_draws = 0
        self._frame = None  # (num_epochs, loss bound, title) of the background below
        self._background = None

    def _build(self) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        from ..plots import color_for

        self.figure = figure = Figure(figsize=self.figsize, dpi=self.dpi)
        self.canvas = FigureCanvasAgg(figure)
        self.axes = dict(zip(self.METRICS, figure.subplots(1, len(self.METRICS))))
        self.lines = {}
        for metric, ax in self.axes.items():
            for name in FRAMEWORKS:
                for key, style, label in ((metric, "-", "train"), (f"val_{metric}", "--", "validation")):
                    # PyTorch wide underneath, TensorFlow thin on top: where they agree, both show.
                    width = 4.0 if name == FRAMEWORKS[0] else 1.5
                    (self.lines[name, key],) = ax.plot([], [], style, color=color_for(name), linewidth=width, label=f"{name} {label}")
            ax.set_title(metric)
            ax.set_xlabel("epoch")
            ax.grid(alpha=0.3)
        self.axes["accuracy"].set_ylim(0.0, 1.0)
        handles = [self.lines[name, key] for name in FRAMEWORKS for key in ("loss", "val_loss")]
        figure.legend(handles=handles, loc="upper center", ncol=4, fontsize="small", frameon=False, bbox_to_anchor=(0.5, 0.93))
        self.title = figure.suptitle("", fontsize="medium", y=0.995)
        figure.subplots_adjust(left=0.06, right=0.98, bottom=0.15, top=0.76, wspace=0.18)

    @staticmethod
    def loss_bound(histories: dict) -> float:
        """The loss axis' top: at least 2.5 (an untrained model's loss is about ln 10 = 2.3),
        rounded up to a multiple of 0.5 above the highest finite loss so far."""
        import math

        values = [v for h in histories.values() for key in ("loss", "val_loss") for v in h.get(key, []) if math.isfinite(v)]
        return max(2.5, math.ceil(max(values, default=0.0) / 0.5 + 0.1) * 0.5)

    def render(self, histories: dict, title: str, num_epochs: int) -> bytes:
        """The chart of ``histories`` (``{"PyTorch": history, "TensorFlow": history}``, either
        possibly shorter or empty) over epochs 1 to ``num_epochs``, as PNG bytes."""
        import io

        import numpy as np
        from PIL import Image

        if self.figure is None:
            self._build()
        frame = (num_epochs, self.loss_bound(histories), title)
        if frame != self._frame:  # new axes: draw the figure without its curves, keep it
            for ax in self.axes.values():
                ax.set_xlim(0.8, max(num_epochs, 2) + 0.2)
            self.axes["loss"].set_ylim(0.0, frame[1])
            self.title.set_text(title)
            for line in self.lines.values():
                line.set_visible(False)
            self.canvas.draw()
            self._background = self.canvas.copy_from_bbox(self.figure.bbox)
            self._frame = frame
            self.full_draws += 1
            for line in self.lines.values():
                line.set_visible(True)
        else:
            self.canvas.restore_region(self._background)
        for (name, key), line in self.lines.items():
            values = list(histories.get(name, {}).get(key, []))
            line.set_data(range(1, len(values) + 1), values)
            line.axes.draw_artist(line)
        pixels = np.asarray(self.canvas.buffer_rgba())
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="png", compress_level=1)
        self.renders += 1
        return buffer.getvalue()


def empty_histories() -> dict:
    return {name: {key: [] for key in HISTORY_KEYS} for name in FRAMEWORKS}


class Playground:
    """The controls, the settings line, the progress bar, the status and the chart, wired to
    :func:`run`. ``draw=False``: no chart (tests that look only at the training)."""

    def __init__(self, config: Config = DEFAULT_CONFIG, split=None, *, device=None, draw: bool = True):
        import ipywidgets as w

        from ..devices import current_device

        self.split = split
        self.device = device if device is not None else current_device()
        self.draw = draw
        self.result: Comparison | None = None
        self.in_effect: Config | None = None
        self.running = False
        #: What the last run spent, in seconds: total, training per framework, drawing; redraws.
        self.timings: dict = {}
        self.lr = w.FloatLogSlider(value=config.lr, base=10, min=-3, max=0, step=0.1, description="learning rate", readout_format=".3f")
        self.batch_size = w.SelectionSlider(options=list(BATCH_SIZES), value=_nearest(BATCH_SIZES, config.batch_size), description="batch size")
        self.num_epochs = w.IntSlider(value=config.num_epochs, min=EPOCH_RANGE[0], max=EPOCH_RANGE[1], description="epochs")
        self.hidden_units = w.SelectionSlider(options=list(HIDDEN_UNITS), value=_nearest(HIDDEN_UNITS, config.hidden_units), description="hidden units")
        self.controls = (self.lr, self.batch_size, self.num_epochs, self.hidden_units)
        for control in self.controls:
            control.style = {"description_width": "initial"}
            control.observe(self._on_change, names="value")
        self.button = w.Button(description="Train both", button_style="primary", icon="play")
        self.progress = w.IntProgress(value=0, min=0, max=1, description="progress")
        self.settings = w.Label(value=settings_text(self.config(), None))
        self.status = w.Label(value=f"Trains PyTorch and TensorFlow on {self.device.device.name}.")
        self.chart = LiveChart() if draw else None
        self.image = w.Image(format="png", layout=w.Layout(max_width="100%"))
        if self.chart is not None:
            self.image.value = self.chart.render(empty_histories(), "nothing trained yet", self.num_epochs.value)
        self.button.on_click(self._on_click)
        self.widget = w.VBox(
            [
                w.HBox([self.lr, self.batch_size]),
                w.HBox([self.num_epochs, self.hidden_units]),
                self.settings,
                w.HBox([self.button, self.progress]),
                self.status,
                self.image,
            ]
        )

    def config(self) -> Config:
        return config_from_controls(self.lr.value, self.batch_size.value, self.num_epochs.value, self.hidden_units.value)

    def _on_change(self, _change=None) -> None:
        """A slider moved: say what is asked now, against what is in effect."""
        self.settings.value = settings_text(self.config(), self.in_effect, training=self.running)

    def _on_click(self, _button=None) -> None:
        config = self.config()
        self.button.disabled = True
        self.running = True
        self.in_effect = config
        self.settings.value = settings_text(config, config, training=True)
        self.progress.max, self.progress.value = 2 * config.num_epochs, 0
        self.status.value = f"Training with {describe(config)} on {self.device.device.name}..."
        policy = RedrawPolicy()
        drawing = {"drawing_seconds": 0.0, "redraws": 0}
        title = title_text(config)
        start = time.perf_counter()

        def redraw(histories: dict, final: bool = False) -> None:
            if self.chart is None or not policy.due(final):
                return
            began = time.perf_counter()
            self.image.value = self.chart.render(histories, title, config.num_epochs)
            policy.drawn(began)
            drawing["drawing_seconds"] += policy.last_duration
            drawing["redraws"] += 1

        def on_epoch(framework: str, epoch: int, histories: dict) -> None:
            self.progress.value += 1
            self.status.value = progress_text(framework, epoch, config, histories)
            if framework == FRAMEWORKS[-1]:  # both frameworks have finished this epoch
                redraw(histories, final=epoch == config.num_epochs)

        try:
            self.result = run(config, self.split, on_epoch=on_epoch, device=self.device)
            seconds = time.perf_counter() - start
            self.status.value = summary_text(self.result, seconds)
            self.timings = {"seconds": seconds, "training": dict(self.result.seconds), **drawing}
        except Exception as error:  # show it in the widget rather than lose it in a callback
            self.status.value = f"Training failed: {error!r}"
            raise
        finally:
            self.running = False
            self.button.disabled = False
            self.settings.value = settings_text(self.config(), self.in_effect)

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


def _nearest(options, value):
    return min(options, key=lambda option: abs(option - value))


def playground(config: Config = DEFAULT_CONFIG, split=None, *, device=None):
    """Show the playground (returns the :class:`Playground`; display it in a notebook)."""
    return Playground(config, split, device=device)

"""The learning-curve playground of lesson 01: train both frameworks, watch their curves.

Sliders for the learning rate, batch size, number of epochs and hidden units; a button that
trains the MLP in PyTorch and in TensorFlow from the same initial weights on the same batches
(:func:`sidebyside.training.train_both`), redrawing both frameworks' curves after every epoch.
It trains on the course-wide device (:func:`sidebyside.devices.current_device`).

The widget only wires controls: :func:`config_from_controls`, :func:`progress_text` and
:func:`run` are plain functions, and :class:`Playground` can be driven without a browser
(``playground.button.click()``), which is how the tests use it. Only widgets that exist in both
ipywidgets 7.7 (Colab) and 8 (JupyterLab 4) are used.
"""

from __future__ import annotations

import time
from typing import Callable

from ..training import Config, Comparison, train_both

LR_RANGE = (1e-3, 1.0)
BATCH_SIZES = (8, 16, 32, 64, 128, 256, 512)
EPOCH_RANGE = (1, 40)
HIDDEN_UNITS = (2, 4, 8, 16, 32, 64, 128, 256)
#: The default run: 3 to 5 seconds for both frameworks, redrawing after every epoch, on 2 shared CPU cores.
DEFAULT_CONFIG = Config(lr=0.1, batch_size=32, num_epochs=10, hidden_units=32)


def config_from_controls(lr: float, batch_size: int, num_epochs: int, hidden_units: int, *, seed: int = 0) -> Config:
    """A :class:`~sidebyside.training.Config` from the sliders' values, checked."""
    lr, batch_size, num_epochs, hidden_units = float(lr), int(batch_size), int(num_epochs), int(hidden_units)
    if not LR_RANGE[0] <= lr <= LR_RANGE[1] * 10:
        raise ValueError(f"learning rate {lr} is out of range {LR_RANGE}")
    if batch_size < 1 or num_epochs < 1 or hidden_units < 1:
        raise ValueError("batch size, epochs and hidden units must be at least 1")
    return Config(lr=lr, batch_size=batch_size, num_epochs=num_epochs, hidden_units=hidden_units, seed=seed)


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


def run(config: Config, split=None, *, on_epoch: Callable[[str, int, dict], object] | None = None, device=None) -> Comparison:
    """Train both frameworks with ``config`` on ``split`` (default: the digits)."""
    if split is None:
        from ..data import load_digits

        split = load_digits()
    return train_both(split, config, callback=on_epoch, device=device)


class Playground:
    """The controls, the progress bar and the plot, wired to :func:`run`."""

    def __init__(self, config: Config = DEFAULT_CONFIG, split=None, *, device=None, draw: bool = True):
        import ipywidgets as w

        from ..devices import current_device

        self.split = split
        self.device = device if device is not None else current_device()
        self.draw = draw
        self.result: Comparison | None = None
        self.lr = w.FloatLogSlider(value=config.lr, base=10, min=-3, max=0, step=0.1, description="learning rate", readout_format=".3f")
        self.batch_size = w.SelectionSlider(options=list(BATCH_SIZES), value=_nearest(BATCH_SIZES, config.batch_size), description="batch size")
        self.num_epochs = w.IntSlider(value=config.num_epochs, min=EPOCH_RANGE[0], max=EPOCH_RANGE[1], description="epochs")
        self.hidden_units = w.SelectionSlider(options=list(HIDDEN_UNITS), value=_nearest(HIDDEN_UNITS, config.hidden_units), description="hidden units")
        for control in (self.lr, self.batch_size, self.num_epochs, self.hidden_units):
            control.style = {"description_width": "initial"}
        self.button = w.Button(description="Train both", button_style="primary", icon="play")
        self.progress = w.IntProgress(value=0, min=0, max=1, description="progress")
        self.status = w.Label(value=f"Trains on {self.device.device.name}. Press the button.")
        self.plot = w.Output()
        self.button.on_click(self._on_click)
        self.widget = w.VBox(
            [
                w.HBox([self.lr, self.batch_size]),
                w.HBox([self.num_epochs, self.hidden_units]),
                w.HBox([self.button, self.progress]),
                self.status,
                self.plot,
            ]
        )

    def config(self) -> Config:
        return config_from_controls(self.lr.value, self.batch_size.value, self.num_epochs.value, self.hidden_units.value)

    def _redraw(self, histories: dict, title: str) -> None:
        if not self.draw:
            return
        import matplotlib.pyplot as plt
        from IPython.display import clear_output, display

        from ..plots import plot_histories

        with self.plot:
            clear_output(wait=True)
            fig, _ = plot_histories(histories, figsize=(10, 3.4))
            fig.suptitle(title, fontsize="medium")
            fig.tight_layout()
            display(fig)
            plt.close(fig)

    def _on_click(self, _button=None) -> None:
        config = self.config()
        self.button.disabled = True
        self.progress.max, self.progress.value = 2 * config.num_epochs, 0
        start = time.perf_counter()

        def on_epoch(framework: str, epoch: int, histories: dict) -> None:
            self.progress.value += 1
            self.status.value = progress_text(framework, epoch, config, histories)
            if framework == "TensorFlow":  # both frameworks have finished this epoch
                self._redraw(histories, f"lr={config.lr:.3g}, batch size {config.batch_size}, {config.hidden_units} hidden units")

        try:
            self.result = run(config, self.split, on_epoch=on_epoch, device=self.device)
            self.status.value = summary_text(self.result, time.perf_counter() - start)
        except Exception as error:  # show it in the widget rather than lose it in a callback
            self.status.value = f"Training failed: {error!r}"
            raise
        finally:
            self.button.disabled = False

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


def _nearest(options, value):
    return min(options, key=lambda option: abs(option - value))


def playground(config: Config = DEFAULT_CONFIG, split=None, *, device=None):
    """Show the playground (returns the :class:`Playground`; display it in a notebook)."""
    return Playground(config, split, device=device)

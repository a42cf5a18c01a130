"""Side-by-side figures: the same plot for PyTorch and TensorFlow, in the same colours.

Matplotlib is imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

#: One colour per framework, used by every plot in the course.
COLORS = {"PyTorch": "#EE4C2C", "TensorFlow": "#FF8F00", "Keras": "#D00000", "NumPy": "#4D77CF"}


def color_for(name: str) -> str | None:
    for key, color in COLORS.items():
        if name.lower().startswith(key.lower()):
            return color
    return None


def side_by_side(titles: Sequence[str] = ("PyTorch", "TensorFlow"), *, figsize=(10, 3.6), sharey=True):
    """A figure with one axes per title, side by side. Returns ``(fig, axes)``."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(titles), figsize=figsize, sharey=sharey, squeeze=False)
    axes = list(axes[0])
    for ax, title in zip(axes, titles):
        ax.set_title(title)
        ax.grid(alpha=0.3)
    return fig, axes


def plot_histories(
    histories: Mapping[str, Mapping[str, Sequence[float]]],
    metrics: Sequence[str] = ("loss", "accuracy"),
    *,
    axes=None,
    figsize=(10, 3.6),
):
    """Learning curves of several runs on shared axes, one axes per metric.

    ``histories`` maps a run name (``"PyTorch"``, ``"TensorFlow"``...) to a Keras-style history
    dict: ``{"loss": [...], "val_loss": [...], "accuracy": [...], ...}``. Training curves are
    solid, validation curves (``val_`` keys) dashed.
    """
    import matplotlib.pyplot as plt

    if axes is None:
        fig, axes = plt.subplots(1, len(metrics), figsize=figsize, squeeze=False)
        axes = list(axes[0])
    else:
        fig = axes[0].figure
    for ax, metric in zip(axes, metrics):
        ax.clear()
        for name, history in histories.items():
            for key, style, label in ((metric, "-", "train"), (f"val_{metric}", "--", "validation")):
                values = list(history.get(key, []))
                if values:
                    epochs = range(1, len(values) + 1)
                    ax.plot(epochs, values, style, color=color_for(name), label=f"{name} {label}")
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        if ax.has_data():
            ax.legend(fontsize="small")
    fig.tight_layout()
    return fig, axes


def bars(values: Mapping[str, float], *, ax=None, ylabel: str = "", title: str = ""):
    """A bar chart with one bar per entry, coloured by framework name."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.2))
    names = list(values)
    ax.bar(names, [values[n] for n in names], color=[color_for(n) or "#888888" for n in names])
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    return ax

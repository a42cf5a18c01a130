"""The serving dashboard of lesson 06: choose servers, concurrency and batch size, fire a burst.

A bounded burst of real HTTP requests goes to each chosen live server (TorchServe and the
TensorFlow Serving REST server started in the lesson); latency histograms of both are drawn
side by side, with p50, p99 and throughput in a table. Each server is shown under the name it
is given in ``targets``: lesson 06 passes :attr:`sidebyside.serving.TFServingServer.label`, so
the KServe stand-in reads "KServe V1 (TF Serving's REST protocol)" on every checkbox, table
row and chart, and only TensorFlow Serving's own binary is called TensorFlow Serving. The logic is
:func:`sidebyside.serving.burst` and :func:`~sidebyside.serving.latency_summary` and the plain
functions below; the class only wires controls to them.

Every control answers at once in the status line: what is asked now (servers, concurrency,
batch size, requests) and what the chart shows until the next burst. A server that has
stopped is named, with what to do, instead of failing silently. Works with ipywidgets 7.7
(Colab) and 8 (JupyterLab 4); nothing needs a click for a notebook to run headless.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass

from .. import serving

#: Bounds of a burst: the dashboard never sends more than this many requests per server.
MAX_REQUESTS = 200
CONCURRENCY_OPTIONS = (1, 2, 4, 8)
BATCH_OPTIONS = (1, 8, 32, 128)


@dataclass(frozen=True)
class BurstSettings:
    """What one burst sends: the dashboard's controls, as values."""

    servers: tuple
    concurrency: int
    batch_size: int
    requests: int

    def text(self) -> str:
        names = " and ".join(self.servers) if self.servers else "no server"
        return (f"{self.requests} requests of {self.batch_size} row{'s' if self.batch_size != 1 else ''} each "
                f"to {names}, {self.concurrency} at a time")


def check_settings(settings: BurstSettings, available) -> list[str]:
    """What is wrong with ``settings`` (empty when a burst can be fired)."""
    problems = []
    if not settings.servers:
        problems.append("choose at least one server")
    unknown = [s for s in settings.servers if s not in available]
    if unknown:
        problems.append(f"unknown server(s) {unknown}")
    if not 1 <= settings.requests <= MAX_REQUESTS:
        problems.append(f"requests must be between 1 and {MAX_REQUESTS}, got {settings.requests}")
    if settings.concurrency < 1 or settings.batch_size < 1:
        problems.append("concurrency and batch size must be at least 1")
    return problems


def stopped_servers(targets: dict) -> dict[str, str]:
    """``{name: why}`` for every target whose server is no longer running."""
    stopped = {}
    for name, target in targets.items():
        server = target.get("server")
        if server is not None and not server.running:
            stopped[name] = f"{name} has stopped (run the cell that starts it again)"
    return stopped


def fire(targets: dict, settings: BurstSettings, X) -> list[dict]:
    """One burst per chosen server; one :func:`serving.latency_summary` row each, with the raw
    latencies under ``"latencies"``."""
    rows = []
    for name in settings.servers:
        target = targets[name]
        body = target["body"](X[: settings.batch_size])
        latencies, wall = serving.burst(target["url"], body, requests=settings.requests, concurrency=settings.concurrency, max_seconds=60)
        rows.append({"server": name, **serving.latency_summary(latencies, wall, settings.batch_size), "latencies": latencies})
    return rows


def results_table(rows: list[dict]) -> str:
    """The burst's figures as a fixed-width text table (the server column as wide as its longest name)."""
    width = max([len("server"), *(len(row["server"]) for row in rows)]) + 2
    lines = [f"{'server':<{width}}{'requests':>9}{'p50 ms':>9}{'p99 ms':>9}{'req/s':>9}{'rows/s':>10}"]
    for row in rows:
        lines.append(f"{row['server']:<{width}}{row['requests']:>9}{row['p50_ms']:>9.1f}{row['p99_ms']:>9.1f}"
                     f"{row['requests_per_s']:>9.1f}{row['rows_per_s']:>10.0f}")
    return "\n".join(lines)


def plot_histograms(rows: list[dict], settings: BurstSettings):
    """Latency histograms side by side, one per server, p50 and p99 marked."""
    import matplotlib.pyplot as plt
    import numpy as np

    from .. import plots

    fig, axes = plt.subplots(1, max(1, len(rows)), figsize=(4.0 * max(1, len(rows)), 3.0), sharex=True, squeeze=False)
    for ax, row in zip(axes[0], rows):
        values = np.asarray(row["latencies"]) * 1e3
        color = plots.color_for("PyTorch" if "Torch" in row["server"] else "TensorFlow")
        ax.hist(values, bins=20, color=color, alpha=0.8)
        for value, style in ((row["p50_ms"], "--"), (row["p99_ms"], ":")):
            ax.axvline(value, color="black", linestyle=style)
        ax.set(title=f"{row['server']}\np50 {row['p50_ms']:.1f} ms, p99 {row['p99_ms']:.1f} ms", xlabel="latency (ms)", ylabel="requests")
        ax.title.set_fontsize(8)
    fig.suptitle(settings.text(), fontsize=9)
    fig.tight_layout()
    return fig


def pending_status(asked: BurstSettings, shown: BurstSettings | None, note: str = "") -> str:
    if shown is None:
        now = "Nothing fired yet: press Fire burst."
    elif shown == asked:
        now = "The chart below shows these settings; press Fire burst to measure again."
    else:
        now = f"Press Fire burst to send it; until then the chart below shows: {shown.text()}."
    return " ".join(p for p in (note, f"Asked: {asked.text()}.", now) if p)


def finished_status(asked: BurstSettings, rows: list[dict], seconds: float) -> str:
    best = ", ".join(f"{r['server']} p50 {r['p50_ms']:.1f} ms / p99 {r['p99_ms']:.1f} ms" for r in rows)
    return f"The chart below shows: {asked.text()} (took {seconds:.1f} s): {best}."


class ServingDashboard:
    """The dashboard. ``targets``: ``{name: {"url": ..., "body": make_body(X), "server": Server}}``;
    ``X``: the rows requests are made of. ``fire_burst()`` is what the button does."""

    def __init__(self, targets: dict, X, *, concurrency: int = 1, batch_size: int = 1, requests: int = 40):
        import ipywidgets as w

        self.targets, self.X = dict(targets), X
        self.rows: list[dict] = []
        self.shown: BurstSettings | None = None
        self.status_text = ""
        style = {"description_width": "initial"}
        self.server_boxes = {name: w.Checkbox(value=True, description=name, indent=False, layout=w.Layout(width="auto")) for name in self.targets}
        self.concurrency = w.Dropdown(options=list(CONCURRENCY_OPTIONS), value=concurrency, description="concurrency", style=style)
        self.batch_size = w.Dropdown(options=list(BATCH_OPTIONS), value=batch_size, description="batch size", style=style)
        self.requests = w.IntSlider(value=requests, min=10, max=MAX_REQUESTS, step=10, description="requests per server", style=style)
        self.button = w.Button(description="Fire burst", button_style="primary", icon="bolt")
        self.status = w.HTML(value="")
        self.output = w.Output()
        for name, box in self.server_boxes.items():
            box.observe(lambda change, name=name: self._on_change(f"{name} {'on' if change['new'] else 'off'}."), names="value")
        self.concurrency.observe(lambda change: self._on_change(f"Concurrency {change['new']}: {change['new']} client thread(s), each waiting for its answer."), names="value")
        self.batch_size.observe(lambda change: self._on_change(f"Batch size {change['new']}: rows per request."), names="value")
        self.requests.observe(lambda change: self._on_change(f"{change['new']} requests per server."), names="value")
        self.button.on_click(lambda _: self._on_click())
        self.widget = w.VBox([
            w.HTML(value="<b>Serving dashboard</b>: a bounded burst of real HTTP requests to the live servers"),
            w.HBox(list(self.server_boxes.values())),
            w.HBox([self.concurrency, self.batch_size]),
            w.HBox([self.requests, self.button]),
            self.status,
            self.output,
        ])
        self._say(pending_status(self.settings(), self.shown))

    def settings(self) -> BurstSettings:
        return BurstSettings(tuple(n for n, b in self.server_boxes.items() if b.value), self.concurrency.value, self.batch_size.value, self.requests.value)

    def _say(self, text: str, error: bool = False) -> None:
        self.status_text = text
        style = " style='color:#b00'" if error else ""
        self.status.value = f"<span{style}>{html.escape(text)}</span>"

    def _on_change(self, note: str) -> None:
        asked = self.settings()
        problems = check_settings(asked, self.targets)
        if problems:
            self._say(f"{note} Asked: {asked.text()}: cannot fire: {'; '.join(problems)}.", error=True)
        else:
            self._say(pending_status(asked, self.shown, note))

    def fire_burst(self) -> list[dict]:
        """Fire one burst with the current settings; return (and keep) the rows."""
        asked = self.settings()
        problems = check_settings(asked, self.targets)
        stopped = stopped_servers({n: self.targets[n] for n in asked.servers if n in self.targets})
        if problems or stopped:
            raise serving.ServerError("; ".join(problems + list(stopped.values())))
        self.rows = fire(self.targets, asked, self.X)
        self.shown = asked
        return self.rows

    def _on_click(self) -> None:
        import matplotlib.pyplot as plt
        from IPython.display import display

        asked = self.settings()
        self.button.disabled = True
        self._say(f"Firing: {asked.text()}...")
        start = time.perf_counter()
        try:
            rows = self.fire_burst()
            self.output.clear_output(wait=True)
            with self.output:
                print(results_table(rows))
                fig = plot_histograms(rows, asked)
                display(fig)
                plt.close(fig)
            self._say(finished_status(asked, rows, time.perf_counter() - start))
        except Exception as error:  # shown in the widget rather than lost in a callback
            still = f" The chart below still shows: {self.shown.text()}." if self.shown else ""
            self._say(f"The burst ({asked.text()}) failed: {type(error).__name__}: {error}.{still}", error=True)
        finally:
            self.button.disabled = False

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


def serving_dashboard(targets: dict, X, **kwargs) -> ServingDashboard:
    """Make the dashboard (display it as the last line of a cell)."""
    return ServingDashboard(targets, X, **kwargs)

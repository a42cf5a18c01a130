"""The "eager vs graph" race of lesson 02: pick a workload and a size, press Race.

Both frameworks run the workload eager and compiled (``torch.compile``; ``tf.function``, and
optionally XLA) on the course-wide device; two bar charts show the first call (tracing and
compiling) apart from the steady-state time per call, with the speedups. The logic is
:func:`sidebyside.graphs.race`, :func:`~sidebyside.graphs.race_table` and
:func:`~sidebyside.graphs.plot_race`; this module only wires controls to them.

Compiled functions are kept between races, so repeating a race (or returning to a size) skips
the compilation; the table marks such rows "(cached)". With the default settings a race takes
a few seconds on 2 CPU cores once Inductor has compiled anything in the session (its very
first compilation in a fresh process takes 10 to 20 s).
"""

from __future__ import annotations

from .. import graphs

TORCH_BACKENDS = ("inductor", "aot_eager", "eager")


def _size_options(workload: str) -> list[tuple[str, int]]:
    return [(f"{size:,}", size) for size in sorted(graphs.SIZES[workload])]


class GraphRace:
    """The race widget. ``GraphRace().widget`` is the ipywidgets box; displaying the object
    displays it. ``run()`` races with the current settings (the Race button calls it) and
    returns the results, also kept in ``results``."""

    def __init__(self, workload: str = "small-ops", size: int | None = None, *, xla: bool = True,
                 backend: str = "inductor", repeat: int = 10):
        import ipywidgets as w

        if workload not in graphs.WORKLOADS:
            raise ValueError(f"Unknown workload {workload!r}; choose one of {', '.join(graphs.WORKLOADS)}.")
        self.results: list[graphs.RaceResult] = []
        self.repeat = repeat
        style = {"description_width": "initial"}
        self.workload = w.Dropdown(options=list(graphs.WORKLOADS), value=workload, description="Workload", style=style)
        self.size = w.Dropdown(options=_size_options(workload), value=size or graphs.SIZES[workload][0],
                               description="Size", style=style)
        self.backend = w.Dropdown(options=list(TORCH_BACKENDS), value=backend, description="torch.compile backend", style=style)
        self.xla = w.Checkbox(value=xla, description="TensorFlow with XLA too", indent=False)
        self.button = w.Button(description="Race", button_style="primary", icon="flag-checkered")
        self.status = w.HTML(value="")
        self.output = w.Output()
        self.workload.observe(self._on_workload, names="value")
        self.button.on_click(lambda _: self._on_click())
        self.widget = w.VBox([
            w.HTML(value="<b>Eager vs graph</b>: " + graphs.WORKLOADS[workload]),
            w.HBox([self.workload, self.size]),
            w.HBox([self.backend, self.xla, self.button]),
            self.status,
            self.output,
        ])
        self._title = self.widget.children[0]

    def _on_workload(self, change) -> None:
        workload = change["new"]
        self.size.options = _size_options(workload)
        self.size.value = graphs.SIZES[workload][0]
        self._title.value = "<b>Eager vs graph</b>: " + graphs.WORKLOADS[workload]

    def run(self) -> list[graphs.RaceResult]:
        """Race with the widget's current settings; return (and keep) the results."""
        self.results = graphs.race(self.workload.value, self.size.value, xla=self.xla.value,
                                   backend=self.backend.value, repeat=self.repeat)
        return self.results

    def _on_click(self) -> None:
        import matplotlib.pyplot as plt
        from IPython.display import display

        self.button.disabled = True
        self.status.value = "Racing... (a first torch.compile can take a while)"
        try:
            results = self.run()
            self.output.clear_output(wait=True)
            with self.output:
                print(graphs.race_table(results))
                fig, _ = graphs.plot_race(results)
                display(fig)
                plt.close(fig)
            self.status.value = ""
        except Exception as error:  # shown in the widget rather than lost in a callback
            self.status.value = f"<span style='color:#b00'>{type(error).__name__}: {error}</span>"
        finally:
            self.button.disabled = False

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


def graph_race(workload: str = "small-ops", size: int | None = None, **kwargs) -> GraphRace:
    """Make the race widget (display it as the last line of a cell)."""
    return GraphRace(workload, size, **kwargs)

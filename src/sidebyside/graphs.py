"""Graphs in both frameworks: racing eager code against compiled graphs, and drawing graphs.

Taught in lesson 02 (graph generation).

- Workloads: the same computation written once per framework with the same name:
  ``small-ops`` (a chain of many tiny element-wise ops, where eager execution spends its time
  dispatching and a compiler can fuse everything into one loop) and ``large-matmul`` (a few big
  matrix products, where the time goes into the math library and a graph has little to win).
- :func:`race` runs a workload eager and compiled in both frameworks (``torch.compile``;
  ``tf.function``, optionally with XLA ``jit_compile=True``) and measures the first call
  (tracing and compiling) separately from the steady-state time per call, through
  :mod:`sidebyside.timing`. :func:`plot_race` draws the result; the widget in
  :mod:`sidebyside.widgets.graph_race` wires controls to both.
- Drawings without graphviz: :func:`grad_fn_dag` (PyTorch's autograd graph, the ``grad_fn``
  chain), :func:`fx_dag` (a ``torch.fx`` graph), :func:`tf_graph_dag` (the graph of a
  ``tf.function``'s concrete function), printed by :func:`dag_text` and drawn with matplotlib
  by :func:`draw_dag`.

torch, tensorflow and matplotlib are imported inside the functions that need them.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from . import devices, timing
from .plots import color_for

FRAMEWORKS = ("PyTorch", "TensorFlow")

#: What each workload does, in one line.
WORKLOADS = {
    "small-ops": "20 rounds of sin, multiply and add on a vector of SIZE numbers (many tiny ops)",
    "large-matmul": "relu(A @ B) @ B with SIZE x SIZE matrices (a few big ops)",
}
#: Sizes offered by the widget; the first is the default (a few seconds on 2 CPU cores).
SIZES = {"small-ops": (1_000, 100, 10_000, 100_000), "large-matmul": (256, 64, 128, 512)}
SMALL_OPS_ROUNDS = 20

#: The compiled modes of each framework, after "eager".
TORCH_MODES = ("eager", "torch.compile")
TENSORFLOW_MODES = ("eager", "tf.function", "XLA")


# --- Workloads --------------------------------------------------------------------------------


def torch_small_ops(x):
    """Many tiny element-wise ops: eager PyTorch launches 60 kernels, Inductor fuses them."""
    import torch

    for _ in range(SMALL_OPS_ROUNDS):
        x = torch.sin(x) * 0.9 + 0.1
    return x


def tensorflow_small_ops(x):
    """The TensorFlow twin of :func:`torch_small_ops`."""
    import tensorflow as tf

    for _ in range(SMALL_OPS_ROUNDS):
        x = tf.sin(x) * 0.9 + 0.1
    return x


def torch_large_matmul(a, b):
    """Two big matrix products: the math library does the work, eager or not."""
    import torch

    return torch.relu(a @ b) @ b


def tensorflow_large_matmul(a, b):
    """The TensorFlow twin of :func:`torch_large_matmul`."""
    import tensorflow as tf

    return tf.matmul(tf.nn.relu(tf.matmul(a, b)), b)


_FUNCTIONS = {
    ("PyTorch", "small-ops"): torch_small_ops,
    ("TensorFlow", "small-ops"): tensorflow_small_ops,
    ("PyTorch", "large-matmul"): torch_large_matmul,
    ("TensorFlow", "large-matmul"): tensorflow_large_matmul,
}


def _check_workload(workload: str) -> None:
    if workload not in WORKLOADS:
        raise ValueError(f"Unknown workload {workload!r}; choose one of {', '.join(WORKLOADS)}.")


def workload_function(framework: str, workload: str) -> Callable:
    """The plain (eager) Python function of ``workload`` for ``framework``."""
    _check_workload(workload)
    if framework not in FRAMEWORKS:
        raise ValueError(f"Unknown framework {framework!r}; choose 'PyTorch' or 'TensorFlow'.")
    return _FUNCTIONS[framework, workload]


def numpy_inputs(workload: str, size: int, seed: int = 0) -> tuple:
    """The workload's inputs as float32 NumPy arrays, the same for both frameworks."""
    import numpy as np

    _check_workload(workload)
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    rng = np.random.default_rng(seed)
    if workload == "small-ops":
        return (rng.standard_normal(size).astype(np.float32),)
    scale = 1.0 / math.sqrt(size)  # keeps the products' values of order 1
    return tuple((rng.standard_normal((size, size)) * scale).astype(np.float32) for _ in range(2))


def torch_inputs(workload: str, size: int, device=None, seed: int = 0) -> tuple:
    """The inputs as torch tensors on ``device`` (default: the course-wide device)."""
    import torch

    device = device or devices.current_device().torch
    return tuple(torch.from_numpy(a).to(device) for a in numpy_inputs(workload, size, seed))


def tensorflow_inputs(workload: str, size: int, device=None, seed: int = 0) -> tuple:
    """The inputs as TensorFlow tensors on ``device`` (default: the course-wide device)."""
    from .frameworks import import_tensorflow

    tf = import_tensorflow()
    with tf.device(device or devices.current_device().tensorflow):
        return tuple(tf.constant(a) for a in numpy_inputs(workload, size, seed))


# --- Compiling, cached -------------------------------------------------------------------------

# One compiled callable per (framework, workload, mode, backend), kept for the whole session:
# a second race with the same settings finds the compiled code ready (its "first call" is then
# fast, and the result says so with cached=True).
_COMPILED: dict[tuple, Callable] = {}
_SEEN: set[tuple] = set()


def compiled_function(framework: str, workload: str, mode: str, *, backend: str = "inductor") -> Callable:
    """The workload's function for ``mode``: itself for ``"eager"``, else compiled (cached).

    PyTorch modes: ``"eager"``, ``"torch.compile"`` (with ``backend``). TensorFlow modes:
    ``"eager"``, ``"tf.function"``, ``"XLA"`` (``tf.function(jit_compile=True)``).
    """
    fn = workload_function(framework, workload)
    modes = TORCH_MODES if framework == "PyTorch" else TENSORFLOW_MODES
    if mode not in modes:
        raise ValueError(f"{framework} has no mode {mode!r}; choose one of {', '.join(modes)}.")
    if mode == "eager":
        return fn
    key = (framework, workload, mode, backend if framework == "PyTorch" else None)
    if key not in _COMPILED:
        if framework == "PyTorch":
            import torch

            _COMPILED[key] = torch.compile(fn, backend=backend)
        else:
            from .frameworks import import_tensorflow

            tf = import_tensorflow()
            _COMPILED[key] = tf.function(fn, jit_compile=(mode == "XLA"))
    return _COMPILED[key]


def clear_cache() -> None:
    """Forget the compiled functions (the next race compiles again)."""
    _COMPILED.clear()
    _SEEN.clear()
    import sys

    if "torch" in sys.modules:
        import torch

        torch._dynamo.reset()


# --- Racing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RaceResult:
    """One framework in one mode on one workload."""

    framework: str  # "PyTorch" or "TensorFlow"
    mode: str  # "eager", "torch.compile", "tf.function", "XLA"
    workload: str
    size: int
    first_call_s: float  # the first call: tracing and compiling included
    per_call_s: float  # median of the steady-state calls
    device: str = "cpu"
    cached: bool = False  # the compiled code came from an earlier race in this session
    times_s: tuple[float, ...] = field(default=(), repr=False)

    @property
    def label(self) -> str:
        return f"{self.framework} {self.mode}"

    @property
    def compiled(self) -> bool:
        return self.mode != "eager"


def time_workload(
    framework: str,
    workload: str,
    size: int,
    mode: str = "eager",
    *,
    backend: str = "inductor",
    repeat: int = 10,
    device=None,
) -> RaceResult:
    """Time one framework in one mode: the first call, then ``repeat`` steady-state calls."""
    choice = devices.current_device()
    fn = compiled_function(framework, workload, mode, backend=backend)
    key = (framework, workload, mode, backend if framework == "PyTorch" else None, size)
    cached = mode != "eager" and key in _SEEN
    if framework == "PyTorch":
        device = device or choice.torch
        args = torch_inputs(workload, size, device)
        timed = timing.measure(lambda: fn(*args), repeat=repeat, synchronize=timing.torch_synchronizer(device))
    else:
        from .frameworks import import_tensorflow

        tf = import_tensorflow()
        device = device or choice.tensorflow
        with tf.device(device):
            args = tensorflow_inputs(workload, size, device)
            timed = timing.measure(lambda: fn(*args), repeat=repeat, synchronize=timing.tensorflow_synchronizer())
    _SEEN.add(key)
    return RaceResult(framework, mode, workload, size, timed.first_call_s, timed.median_s, str(device), cached, tuple(timed.times_s))


def race(
    workload: str = "small-ops",
    size: int | None = None,
    *,
    xla: bool = True,
    backend: str = "inductor",
    repeat: int = 10,
    frameworks: Sequence[str] = FRAMEWORKS,
) -> list[RaceResult]:
    """Run ``workload`` eager and compiled in both frameworks on the course-wide device.

    ``size``: the vector length (small-ops) or matrix side (large-matmul); default the first
    of ``SIZES[workload]``. ``xla``: also time TensorFlow with ``jit_compile=True``.
    ``backend``: the ``torch.compile`` backend (``"inductor"`` generates fused C++ or Triton
    code; ``"aot_eager"`` and ``"eager"`` only capture the graph, which is quick).
    """
    _check_workload(workload)
    size = SIZES[workload][0] if size is None else int(size)
    results = []
    for framework in frameworks:
        modes = TORCH_MODES if framework == "PyTorch" else TENSORFLOW_MODES
        for mode in modes:
            if mode == "XLA" and not xla:
                continue
            results.append(time_workload(framework, workload, size, mode, backend=backend, repeat=repeat))
    return results


def speedup(eager: RaceResult, compiled: RaceResult) -> float:
    """How many times faster the compiled steady-state call is than the eager one."""
    return eager.per_call_s / compiled.per_call_s if compiled.per_call_s > 0 else math.inf


def break_even_calls(eager: RaceResult, compiled: RaceResult) -> float:
    """After how many calls compiling has paid for itself (``inf`` if it never does).

    Compiling costs ``compiled.first_call_s - eager.first_call_s`` once and saves
    ``eager.per_call_s - compiled.per_call_s`` on every call after that.
    """
    cost = compiled.first_call_s - eager.first_call_s
    gain = eager.per_call_s - compiled.per_call_s
    if cost <= 0:
        return 1.0
    if gain <= 0:
        return math.inf
    return float(math.ceil(cost / gain))


def _eager_of(results: Iterable[RaceResult], framework: str) -> RaceResult | None:
    return next((r for r in results if r.framework == framework and r.mode == "eager"), None)


def speedups(results: Sequence[RaceResult]) -> dict[str, float]:
    """``{label: speedup over the same framework's eager}`` for every compiled result."""
    out = {}
    for r in results:
        eager = _eager_of(results, r.framework)
        if r.compiled and eager is not None:
            out[r.label] = speedup(eager, r)
    return out


def _fmt_seconds(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.0f} µs"


def race_table(results: Sequence[RaceResult]) -> str:
    """The race as a text table: first call, time per call, speedup, break-even calls."""
    header = f"{'':26} {'first call':>11} {'per call':>10} {'speedup':>8} {'pays off after':>15}"
    lines = [header]
    for r in results:
        eager = _eager_of(results, r.framework)
        if r.compiled and eager is not None:
            calls = break_even_calls(eager, r)
            pays = "never" if math.isinf(calls) else f"{calls:,.0f} calls"
            extra = f"{speedup(eager, r):>7.2f}x {pays:>15}"
        else:
            extra = f"{'':>8} {'':>15}"
        note = " (cached)" if r.cached else ""
        lines.append(f"{r.label + note:26} {_fmt_seconds(r.first_call_s):>11} {_fmt_seconds(r.per_call_s):>10} {extra}")
    if results:
        r = results[0]
        lines.append(f"workload {r.workload}, size {r.size:,}, device {r.device}; per call: median of the steady-state calls")
    return "\n".join(lines)


def plot_race(results: Sequence[RaceResult], axes=None):
    """Two bar charts side by side: the first call (log scale) and the steady-state time per
    call, one bar per framework and mode; compiled bars are hatched and carry their speedup."""
    import matplotlib.pyplot as plt

    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    else:
        fig = axes[0].figure
    labels = [r.label.replace(" ", "\n", 1) for r in results]
    colors = [color_for(r.framework) or "#888888" for r in results]
    hatches = ["//" if r.compiled else "" for r in results]
    ups = speedups(results)
    panels = (
        ("first call (trace + compile), s", [r.first_call_s for r in results], True),
        ("steady state, ms per call", [r.per_call_s * 1e3 for r in results], False),
    )
    for ax, (title, values, log) in zip(axes, panels):
        ax.clear()
        bars = ax.bar(range(len(results)), values, color=colors, edgecolor="black", linewidth=0.5)
        for bar, hatch in zip(bars, hatches):
            bar.set_hatch(hatch)
        ax.set_xticks(range(len(results)))
        ax.set_xticklabels(labels, fontsize="small")
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
        if log:
            ax.set_yscale("log")
        else:
            for bar, r in zip(bars, results):
                if r.label in ups:
                    ax.annotate(f"{ups[r.label]:.1f}x", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                                ha="center", va="bottom", fontsize="small")
    if results:
        r = results[0]
        fig.suptitle(f"{r.workload}, size {r.size:,} on {r.device}: eager vs graph")
    try:
        fig.tight_layout()
    except ValueError as error:
        # Seen once in the race widget, in JupyterLab on a loaded machine; the spacing is
        # cosmetic, so the chart is still drawn (with matplotlib's default spacing), and says so.
        warnings.warn(f"plot_race: matplotlib's tight_layout failed ({error}); the chart keeps the default spacing", stacklevel=2)
    return fig, axes


# --- Graphs as data: nodes and edges -----------------------------------------------------------


@dataclass
class Dag:
    """A directed acyclic graph to print or draw: ``edges`` are ``(source, target)`` indices
    into ``nodes`` (the node labels), pointing the way the data flows."""

    nodes: list[str] = field(default_factory=list)
    edges: list[tuple[int, int]] = field(default_factory=list)
    title: str = ""

    def add(self, label: str) -> int:
        self.nodes.append(label)
        return len(self.nodes) - 1

    def inputs_of(self, node: int) -> list[int]:
        return [s for s, t in self.edges if t == node]


def _shape_text(shape) -> str:
    return "x".join(str(d) for d in shape) if len(shape) else "scalar"


def grad_fn_dag(tensor, names: dict | None = None) -> Dag:
    """PyTorch's autograd graph behind ``tensor``, from its ``grad_fn`` chain.

    Each node is a backward function (``MulBackward0``...); leaves that need a gradient show
    up as ``AccumulateGrad`` nodes, labelled with their name from ``names`` (``{name: tensor}``)
    when given. Edges point forward, from inputs to ``tensor``; ``backward()`` walks them in
    reverse.
    """
    if tensor.grad_fn is None:
        raise ValueError("This tensor has no grad_fn: it was not computed from tensors with requires_grad=True.")
    names_by_id = {id(t): n for n, t in (names or {}).items()}
    dag = Dag(title="autograd graph (grad_fn chain)")
    index: dict[int, int] = {}

    def label(fn) -> str:
        text = type(fn).__name__
        variable = getattr(fn, "variable", None)
        if variable is not None:
            name = names_by_id.get(id(variable), "leaf")
            text = f"{text}\n{name}: {_shape_text(tuple(variable.shape))}"
        return text

    def visit(fn) -> int:
        if id(fn) in index:
            return index[id(fn)]
        node = dag.add(label(fn))
        index[id(fn)] = node
        for next_fn, _ in fn.next_functions:
            if next_fn is not None:
                dag.edges.append((visit(next_fn), node))
        return node

    visit(tensor.grad_fn)
    return dag


def grad_fn_chain(tensor) -> str:
    """The ``grad_fn`` chain as an indented tree, output first (what ``backward()`` walks)."""
    lines = []
    seen = set()

    def walk(fn, depth):
        name = type(fn).__name__
        variable = getattr(fn, "variable", None)
        if variable is not None:
            name += f" (leaf {_shape_text(tuple(variable.shape))})"
        again = id(fn) in seen
        lines.append("  " * depth + name + (" (seen above)" if again else ""))
        if again:
            return
        seen.add(id(fn))
        for next_fn, _ in fn.next_functions:
            if next_fn is not None:
                walk(next_fn, depth + 1)

    if tensor.grad_fn is None:
        raise ValueError("This tensor has no grad_fn.")
    walk(tensor.grad_fn, 0)
    return "\n".join(lines)


def _fx_target_name(node) -> str:
    target = node.target
    if isinstance(target, str):
        return target
    name = getattr(target, "__name__", None) or str(target)
    return name.replace("linalg_", "")


def fx_dag(graph_module) -> Dag:
    """The nodes of a ``torch.fx`` graph (from ``symbolic_trace``, ``torch.export``...)."""
    import torch.fx

    graph = graph_module if isinstance(graph_module, torch.fx.Graph) else graph_module.graph
    dag = Dag(title="torch.fx graph")
    index = {}
    for node in graph.nodes:
        if node.op == "placeholder":
            text = f"input\n{node.name}"
        elif node.op == "output":
            text = "output"
        elif node.op == "get_attr":
            text = f"attribute\n{node.target}"
        else:
            text = f"{node.name}\n{_fx_target_name(node)}"
        index[node] = dag.add(text)
        for source in node.all_input_nodes:
            dag.edges.append((index[source], index[node]))
    return dag


#: Bookkeeping ops of a TensorFlow graph left out of drawings by default.
TF_HIDDEN_OPS = ("NoOp", "Identity")


def tf_graph_dag(graph, hide: Sequence[str] = TF_HIDDEN_OPS) -> Dag:
    """The ops of a TensorFlow graph (``concrete_function.graph``), inputs to outputs.

    Ops whose type is in ``hide`` are skipped, their inputs wired through to their consumers.
    """
    ops = list(graph.get_operations())
    dag = Dag(title="tf.function graph")
    index: dict[str, list[int]] = {}
    for op in ops:
        sources = []
        for tensor in op.inputs:
            sources += index.get(tensor.op.name, [])
        if op.type in hide:
            index[op.name] = sources
            continue
        text = f"{op.name}\n{op.type}" if op.name != op.type else op.type
        node = dag.add(text)
        index[op.name] = [node]
        for source in dict.fromkeys(sources):
            dag.edges.append((source, node))
    return dag


def dag_text(dag: Dag) -> str:
    """One line per node, in order: ``index  label  <- inputs``."""
    lines = []
    for i, label in enumerate(dag.nodes):
        inputs = ", ".join(str(s) for s in dag.inputs_of(i))
        text = label.replace("\n", " ")
        lines.append(f"{i:>3}  {text}" + (f"  <- {inputs}" if inputs else ""))
    return "\n".join(lines)


def layers(dag: Dag) -> list[int]:
    """The layer of each node: 0 for nodes without inputs, else 1 + the deepest input."""
    depth = [0] * len(dag.nodes)
    incoming: dict[int, list[int]] = {i: [] for i in range(len(dag.nodes))}
    for s, t in dag.edges:
        incoming[t].append(s)
    done: dict[int, int] = {}

    def visit(node, stack=()):
        if node in done:
            return done[node]
        if node in stack:
            raise ValueError("the graph has a cycle")
        value = 1 + max((visit(s, stack + (node,)) for s in incoming[node]), default=-1)
        done[node] = value
        return value

    for node in range(len(dag.nodes)):
        depth[node] = visit(node)
    return depth


def layout(dag: Dag) -> list[tuple[float, float]]:
    """(x, y) of each node: one row per layer, top to bottom, nodes centred in their row."""
    depth = layers(dag)
    rows: dict[int, list[int]] = {}
    for node, d in enumerate(depth):
        rows.setdefault(d, []).append(node)
    width = max((len(r) for r in rows.values()), default=1)
    positions = [(0.0, 0.0)] * len(dag.nodes)
    for d, nodes in rows.items():
        offset = (width - len(nodes)) / 2
        for k, node in enumerate(nodes):
            positions[node] = (offset + k + 0.5, -float(d))
    return positions


def draw_dag(dag: Dag, ax=None, *, title: str | None = None, color: str = "#DDE6F5"):
    """Draw ``dag`` with matplotlib (no graphviz needed): data flows from top to bottom."""
    import matplotlib.pyplot as plt

    positions = layout(dag)
    depth = max((-y for _, y in positions), default=0)
    width = max((x for x, _ in positions), default=1)
    if ax is None:
        _, ax = plt.subplots(figsize=(min(2.2 + 2.0 * width, 12), 0.9 + 0.85 * (depth + 1)))
    for s, t in dag.edges:
        ax.annotate("", xy=positions[t], xytext=positions[s],
                    arrowprops=dict(arrowstyle="->", color="#555555", shrinkA=14, shrinkB=14))
    for (x, y), label in zip(positions, dag.nodes):
        ax.text(x, y, label, ha="center", va="center", fontsize=8,
                bbox=dict(boxstyle="round,pad=0.3", facecolor=color, edgecolor="#333333"))
    ax.set_xlim(0, width)
    ax.set_ylim(-depth - 0.6, 0.6)
    ax.axis("off")
    ax.set_title(dag.title if title is None else title)
    return ax

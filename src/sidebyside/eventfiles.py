"""Reading logs back in Python: TensorBoard event files from both frameworks, and Visdom's log
file. Lesson 03 and its assignment.

TensorBoard event files are TFRecord files of ``Event`` protocol buffers. The two frameworks
fill them differently:

- PyTorch's ``SummaryWriter`` writes the old ``Summary.Value`` fields: a scalar is a
  ``simple_value`` (a float), a histogram a ``histo``, an image an ``image`` (PNG bytes).
- TensorFlow 2's ``tf.summary`` writes every value as a ``tensor``, and says what it is in the
  summary's metadata (``plugin_name``: ``scalars``, ``histograms``, ``images``, ``text``...)
  only the first time a tag appears in a file.

:func:`records` reads both kinds into one list of :class:`Record`; :func:`scalars` gives
``{run: {tag: [(step, value), ...]}}`` whatever wrote them. TensorBoard itself is used only as
a library (its proto definitions and record reader); no server is needed.

Visdom's client, created with ``Visdom(offline=True, log_to_filename=...)``, appends each plot
command as a JSON line ``[endpoint, message]`` instead of sending it. :func:`visdom_windows`
replays those lines the way the Visdom server would and returns the windows it would show.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

EVENT_FILE_MARK = "tfevents"

# Which TensorBoard dashboard each old-style field belongs to.
_LEGACY_KINDS = {"simple_value": "scalars", "histo": "histograms", "image": "images", "audio": "audio"}


@dataclass(frozen=True)
class Record:
    """One value read from an event file."""

    run: str  # the event file's folder, relative to the log directory ("." for the top)
    tag: str
    step: int
    wall_time: float
    kind: str  # the dashboard: "scalars", "histograms", "images", "text", "hparams", "graphs"...
    storage: str  # how it is stored: "simple_value", "histo", "image" (PyTorch) or "tensor" (TF)
    value: object  # float for scalars; see :func:`decode`


def event_files(logdir) -> list[Path]:
    """Every event file under ``logdir`` (or ``logdir`` itself if it is one), sorted."""
    logdir = Path(logdir)
    if logdir.is_file():
        return [logdir]
    return sorted(p for p in logdir.rglob("*") if p.is_file() and EVENT_FILE_MARK in p.name)


def read_events(path) -> list:
    """The raw ``Event`` protos of one event file, in the order they were written."""
    from tensorboard.backend.event_processing.event_file_loader import LegacyEventFileLoader

    return list(LegacyEventFileLoader(str(path)).Load())


def decode(value, storage: str, kind: str):
    """A Python value from one ``Summary.Value``: a float for scalars, ``(edges, counts)``
    NumPy arrays for histograms, a NumPy image (H, W, C) uint8 for images, a str for text."""
    import numpy as np

    if storage == "simple_value":
        return float(value.simple_value)
    if storage == "histo":
        # bucket_limit holds each bucket's right edge; the last may lie beyond the data (it is
        # a fixed bucket boundary), so the data's own min and max close the range.
        limits = list(value.histo.bucket_limit)
        edges = np.array([value.histo.min, *limits[:-1], value.histo.max], dtype=np.float64)
        return edges, np.array(value.histo.bucket, dtype=np.float64)
    if storage == "image":
        return _png_to_array(value.image.encoded_image_string)
    from tensorboard.util import tensor_util

    array = tensor_util.make_ndarray(value.tensor)
    if kind == "scalars":
        return float(array.item())
    if kind == "histograms":
        # TF stores (k, 3): left edge, right edge, count of each bucket.
        if array.size == 0:
            return np.zeros(0), np.zeros(0)
        edges = np.concatenate([array[:, 0], array[-1:, 1]]).astype(np.float64)
        return edges, array[:, 2].astype(np.float64)
    if kind == "images":
        # TF stores [width, height, png, png, ...] as strings; take the first image.
        return _png_to_array(array.reshape(-1)[2]) if array.size > 2 else None
    if kind == "text":
        item = array.reshape(-1)[0] if array.size else b""
        return item.decode("utf-8") if isinstance(item, bytes) else str(item)
    return array


def _png_to_array(data: bytes):
    import io

    import numpy as np
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        array = np.array(image)
    return array[:, :, None] if array.ndim == 2 else array


def records(logdir, *, decode_values: bool = True) -> list[Record]:
    """Every summary value in every event file under ``logdir``, from either framework.

    The model graph (``Event.graph_def``) appears as one record with tag ``"__graph__"`` and
    kind ``"graphs"`` (its value: the size of the serialized graph in bytes).
    """
    logdir = Path(logdir)
    found: list[Record] = []
    for path in event_files(logdir):
        run = "." if logdir.is_file() else str(path.parent.relative_to(logdir).as_posix())
        plugin_of_tag: dict[str, str] = {}  # TF writes the metadata only with a tag's first value
        for event in read_events(path):
            if event.HasField("graph_def"):
                found.append(Record(run, "__graph__", int(event.step), float(event.wall_time), "graphs", "graph_def", len(event.graph_def)))
            if not event.HasField("summary"):
                continue
            for value in event.summary.value:
                plugin = value.metadata.plugin_data.plugin_name
                if plugin:
                    plugin_of_tag[value.tag] = plugin
                storage = value.WhichOneof("value") or "none"
                if storage == "tensor":
                    kind = plugin_of_tag.get(value.tag, "unknown")
                else:
                    kind = _LEGACY_KINDS.get(storage, plugin_of_tag.get(value.tag, "unknown"))
                decoded = decode(value, storage, kind) if decode_values and storage != "none" else None
                found.append(Record(run, value.tag, int(event.step), float(event.wall_time), kind, storage, decoded))
    return found


def scalars(logdir) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """``{run: {tag: [(step, value), ...]}}`` of every scalar under ``logdir``, in the order
    written, whether stored as ``simple_value`` (PyTorch) or as a tensor (TensorFlow)."""
    result: dict[str, dict[str, list[tuple[int, float]]]] = {}
    for record in records(logdir):
        if record.kind == "scalars":
            result.setdefault(record.run, {}).setdefault(record.tag, []).append((record.step, record.value))
    return result


def tags(logdir) -> dict[str, dict[str, list[str]]]:
    """``{run: {kind: [tags]}}``: what TensorBoard's dashboards will list for each run."""
    result: dict[str, dict[str, set]] = {}
    for record in records(logdir, decode_values=False):
        result.setdefault(record.run, {}).setdefault(record.kind, set()).add(record.tag)
    return {run: {kind: sorted(names) for kind, names in sorted(kinds.items())} for run, kinds in sorted(result.items())}


def storage_table(logdir) -> list[dict]:
    """One row per (run, tag): its dashboard, how it is stored, how many values and steps.
    Shows how differently the two frameworks store the same kind of data."""
    rows: dict[tuple[str, str], dict] = {}
    for record in records(logdir, decode_values=False):
        row = rows.setdefault((record.run, record.tag), {"run": record.run, "tag": record.tag, "kind": record.kind, "storage": record.storage, "values": 0, "steps": []})
        row["values"] += 1
        row["steps"].append(record.step)
    return [rows[key] for key in sorted(rows)]


# --- Visdom's offline log -------------------------------------------------------------------


def read_visdom_log(path) -> list[tuple[str, dict]]:
    """The ``(endpoint, message)`` pairs a ``Visdom(log_to_filename=path)`` client wrote.
    Visdom logs only the ``events`` (draw a window) and ``update`` (change one) endpoints."""
    entries = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            endpoint, message = json.loads(line)
        except (ValueError, TypeError) as error:
            raise ValueError(f"{path}, line {number}: not a Visdom log entry ({error})") from None
        entries.append((endpoint, message))
    return entries


@dataclass
class VisdomWindow:
    """One window as the Visdom server would hold it after replaying a log."""

    win: str
    env: str
    type: str  # "plot" (lines, scatter...), "image", "text"...
    title: str = ""
    traces: list = field(default_factory=list)  # plots: [{"name", "x", "y"}]
    content: object = None  # images and text: what was drawn last
    drawn: int = 0  # how many times the whole window was drawn (or redrawn) from scratch
    updates: int = 0  # how many updates (appends...) it received

    def trace(self, name: str) -> dict:
        """The trace called ``name`` (KeyError listing the names if there is none)."""
        for trace in self.traces:
            if trace["name"] == name:
                return trace
        raise KeyError(f"window {self.win!r} has no trace named {name!r}; its traces: {[t['name'] for t in self.traces]}")


def _trace(data: dict) -> dict:
    return {"name": str(data.get("name")), "x": list(data.get("x") or []), "y": list(data.get("y") or [])}


def visdom_windows(path, env: str | None = None) -> dict[str, VisdomWindow]:
    """Replay a Visdom log file: ``{window id: VisdomWindow}`` (of ``env`` if given), in the
    order the windows were first drawn. Appends and new traces follow the server's rules
    (``visdom/server/handlers/web_handlers.py``, ``UpdateHandler``)."""
    windows: dict[tuple[str, str], VisdomWindow] = {}
    for endpoint, message in read_visdom_log(path):
        eid, win = message.get("eid", "main"), message.get("win")
        if win is None:
            continue
        data = message.get("data") or []
        key = (eid, str(win))
        window = windows.get(key)
        if endpoint == "events" or window is None:
            kind = data[0].get("type", "plot") if data else "plot"
            if kind in ("scatter", "bar", "heatmap", "histogram", "box", "surface", "contour", "pie"):
                kind = "plot"
            title = (message.get("opts") or {}).get("title") or (message.get("layout") or {}).get("title") or ""
            drawn = (window.drawn if window else 0) + 1
            window = VisdomWindow(str(win), eid, kind, str(title), drawn=drawn)
            if kind == "plot":
                window.traces = [_trace(d) for d in data]
            else:
                window.content = data[0].get("content") if data else None
            windows.pop(key, None)
            windows[key] = window
            continue
        # endpoint == "update" on an existing window
        window.updates += 1
        if window.type != "plot":
            window.content = data[0].get("content") if data else window.content
            continue
        name = message.get("name")
        if message.get("delete"):
            window.traces = [t for t in window.traces if t["name"] != str(name)]
            continue
        if not data:
            continue
        targets = list(range(len(window.traces)))
        if name is not None:
            targets = [i for i in targets if window.traces[i]["name"] == str(name)]
            if not targets:  # a new trace in an existing window
                new = _trace(data[0])
                new["name"] = str(name)
                window.traces.append(new)
                continue
        for n, index in enumerate(targets[: len(data)]):
            new = _trace(data[n])
            if message.get("append"):
                window.traces[index]["x"] += new["x"]
                window.traces[index]["y"] += new["y"]
            else:
                window.traces[index]["x"], window.traces[index]["y"] = new["x"], new["y"]
    return {win: w for (eid, win), w in windows.items() if env is None or eid == env}

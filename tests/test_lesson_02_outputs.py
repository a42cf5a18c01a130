"""Lesson 02 says what its cells print (issue 20 §4).

Lesson 02's text states counts and behaviours that its cells print: how many graphs ``torch.compile`` captured for six
calls, how many traces ``tf.function`` made, how often a side effect ran, how many graphs and breaks
``torch._dynamo.explain`` found, what ``torch.export`` does by default. The text once said "new factors do not
recompile" while the cell above it printed four graphs, not three. This test runs the cheap cells (no Inductor, no
timing) of the lesson in a fresh kernel, reads what they print, and checks it against what the text says of it.
"""

from __future__ import annotations

import os
import re

import nbformat
import pytest
from conftest import ROOT

from sidebyside import notebooks

LESSON = ROOT / "lessons" / "02-graph-generation.ipynb"
WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight"}

#: The code cells to run, each found by a piece of its source (the setup cell first; later cells use what earlier define).
CELLS = {
    "setup": "session = sbs.setup(",
    "eager torch": "torch.compiler.is_compiling()",
    "eager tf": "# already computed, exactly as in PyTorch",
    "retrace variants": "variants = {",
    "recompile": "def counting_backend",
    "side effect torch": "def remember_torch",
    "side effect tf": "def remember_tf",
    "flip": "def flip_if",
    "loops torch": "def loops_torch",
    "loops tf": "def loops_tf",
    "export": "class Scaled(torch.nn.Module)",
    "export flip": "class FlipIf(torch.nn.Module)",
}


def normal(text: str) -> str:
    return " ".join(text.replace("`", "").split()).lower()


@pytest.fixture(scope="module")
def lesson(tmp_path_factory):
    """{name: (what the cell printed, the text of the next Markdown cell)} for the cells in CELLS, run in one kernel."""
    cells = nbformat.read(LESSON, as_version=4).cells
    chosen = {}
    for name, marker in CELLS.items():
        found = [i for i, cell in enumerate(cells) if cell.cell_type == "code" and marker in cell.source]
        assert len(found) == 1, f"lesson 02 should have one code cell containing {marker!r} ({name}), got {len(found)}"
        chosen[name] = found[0]
    trimmed = nbformat.v4.new_notebook(metadata=nbformat.read(LESSON, as_version=4).metadata)
    trimmed.cells = [nbformat.v4.new_code_cell(cells[i].source) for i in chosen.values()]
    path = tmp_path_factory.mktemp("lesson02") / "02-trimmed.ipynb"
    nbformat.write(trimmed, path)
    env = dict(os.environ, MPLBACKEND="agg")
    env.pop("SIDEBYSIDE_DEVICE", None)
    run = notebooks.run(path, env=env, cwd=LESSON.parent, timeout=300)
    result = {}
    for (name, index), cell in zip(chosen.items(), run.notebook.cells):
        printed = "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stdout")
        after = next((c.source for c in cells[index + 1 :] if c.cell_type == "markdown"), "")
        result[name] = (printed, normal(after))
    return result


def number(pattern: str, text: str, what: str) -> int:
    match = re.search(pattern, text)
    assert match, f"expected the cell to print {what} (pattern {pattern!r}); it printed:\n{text}"
    return int(match.group(1))


def test_both_frameworks_run_eagerly(lesson):
    assert "inside a graph capture? False" in lesson["eager torch"][0], lesson["eager torch"][0]
    assert "executing eagerly? True" in lesson["eager tf"][0], lesson["eager tf"][0]


def test_recompiling_for_six_calls_is_what_the_text_says(lesson):
    printed, text = lesson["recompile"]
    calls = number(r"(\d+) calls, \d+ graphs captured", printed, "'N calls, M graphs captured'")
    graphs = number(r"\d+ calls, (\d+) graphs captured", printed, "'N calls, M graphs captured'")
    stated = f"{WORDS[calls]} calls, {WORDS[graphs]} graphs"
    assert stated in text, f"lesson 02 §4: the cell printed {calls} calls and {graphs} graphs; the text after it should say {stated!r}, it says: {text[:400]!r}"
    assert "do not recompile" not in text, "lesson 02 §4 says new factors do not recompile, but the first new factor compiles a graph"
    lines = dict(re.findall(r"(?m)^call: shape (\[[\d, ]*\], factor [\d.]+): (.*)$", printed))
    first_new, second_new = lines.get("[5], factor 3.0"), lines.get("[5], factor 4.0")
    assert first_new and first_new.startswith("compiled graph"), f"the first new factor (3.0) should compile a graph, as the text says; got {first_new!r}"
    assert second_new == "reused a graph", f"the second new factor (4.0) should reuse the graph that takes the factor as an input; got {second_new!r}"


def test_retracing_counts_are_what_the_text_says(lesson):
    printed, text = lesson["retrace variants"]
    traces = {
        name: number(rf"{re.escape(name)}\s+\d+ calls, (\d+) traces", printed, f"{name}'s trace count")
        for name in ("no options", "reduce_retracing=True", "input_signature")
    }
    calls = number(r"no options\s+(\d+) calls", printed, "the number of calls")
    assert traces["input_signature"] == 1 and "with a signature, one trace serves every call" in text, (
        f"the text says one trace serves every call with a signature; the cell printed {traces['input_signature']} traces"
    )
    saved = calls - traces["reduce_retracing=True"]
    assert f"saved only {WORDS[saved]} trace" in text, (
        f"reduce_retracing=True saved {saved} trace(s) of {calls}; the text after the cell should say 'saved only {WORDS[saved]} trace'"
    )
    _, recompile_text = lesson["recompile"]
    assert f"{WORDS[traces['no options']]} traces for the same calls" in recompile_text, (
        f"tf.function without options traced {traces['no options']} times; lesson 02 §4 compares it with torch.compile as "
        f"'{WORDS[traces['no options']]} traces for the same calls'"
    )


def test_side_effects_run_as_the_text_says(lesson):
    torch_printed, text = lesson["side effect torch"]
    assert "3 calls, the list grew by 3" in torch_printed, f"torch.compile replays a side effect on every call (the text says so); got {torch_printed!r}"
    assert "replays them on every call" in normal(text) or "replays them on every call" in lesson["recompile"][1], (
        "the text should say Dynamo replays side effects"
    )
    assert "3 calls, the list grew by 1" in lesson["side effect tf"][0], (
        f"tf.function runs a side effect only while tracing; got {lesson['side effect tf'][0]!r}"
    )


def test_graph_breaks_are_what_the_text_says(lesson):
    printed, _ = lesson["flip"]
    expected = {"flip_if": (2, 1), "flip_item": (2, 1), "flip_where": (1, 0), "flip_cond": (1, 0)}
    for name, (graphs, breaks) in expected.items():
        got = re.search(rf"{name}\s+-> .*?: (\d+) graph\(s\), (\d+) graph break\(s\)", printed)
        assert got and (int(got.group(1)), int(got.group(2))) == (graphs, breaks), (
            f"lesson 02 §5 says {name} gives {graphs} graph(s) and {breaks} break(s); the cell printed: {got.group(0) if got else printed!r}"
        )
    loops = lesson["loops torch"][0]
    assert "2 graphs, 1 break(s)" in loops and "['mul', 'mul', 'mul', 'lt']" in loops, (
        f"a Python range is unrolled (3 multiplications) and a tensor-valued while breaks the graph once; got {loops!r}"
    )
    assert "Mul ops: 3 | loop ops: ['StatelessWhile']" in lesson["loops tf"][0], lesson["loops tf"][0]


def test_torch_export_is_non_strict_by_default(lesson):
    printed, _ = lesson["export"]
    assert "strict defaults to False" in printed, f"lesson 02 §7 says torch.export is non-strict by default; the cell printed {printed[:300]!r}"
    assert re.search(r"strict=False: exported; forward ran 1 time\(s\), on \['FakeTensor'\]", printed), printed
    assert re.search(r"strict=True: Unsupported", printed), printed
    flip = lesson["export flip"][0]
    for line in (
        "FlipIf   strict=False -> GuardOnDataDependentSymNode",
        "FlipIf   strict=True  -> Unsupported",
        "FlipCond strict=False -> exported",
        "FlipCond strict=True  -> exported",
    ):
        assert line in flip, f"lesson 02 §7's text describes {line!r}; the cell printed {flip!r}"


def test_no_text_says_torch_export_uses_dynamo_by_default():
    """torch.export traces with TorchDynamo only when strict=True; a sentence that names both must say so."""
    wrong = []
    for cell in nbformat.read(LESSON, as_version=4).cells:
        if cell.cell_type != "markdown":
            continue
        for piece in re.split(r"(?<=[.!?])\s+|\n", cell.source):
            if "torch.export" in piece and "Dynamo" in piece and "strict" not in piece:
                wrong.append(piece.strip())
    assert not wrong, f"lesson 02 says torch.export captures with (Torch)Dynamo without saying it is only with strict=True: {wrong!r}"

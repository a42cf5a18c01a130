"""sidebyside.graphs and the "eager vs graph" race widget (lesson 02)."""

from __future__ import annotations

import html
import math
import time

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from sidebyside import graphs

torch = pytest.importorskip("torch")
from sidebyside.frameworks import import_tensorflow  # noqa: E402

tf = import_tensorflow()


# --- Workloads -----------------------------------------------------------------------------------


@pytest.mark.parametrize("workload, size", [("small-ops", 50), ("large-matmul", 16)])
def test_workloads_compute_the_same_numbers_in_both_frameworks(workload, size):
    arrays = graphs.numpy_inputs(workload, size)
    expected = None
    if workload == "small-ops":
        expected = arrays[0].astype(np.float64)
        for _ in range(graphs.SMALL_OPS_ROUNDS):
            expected = np.sin(expected) * 0.9 + 0.1
    else:
        a, b = (x.astype(np.float64) for x in arrays)
        expected = np.maximum(a @ b, 0) @ b
    out_torch = graphs.workload_function("PyTorch", workload)(*graphs.torch_inputs(workload, size, "cpu"))
    out_tf = graphs.workload_function("TensorFlow", workload)(*graphs.tensorflow_inputs(workload, size, "/CPU:0"))
    np.testing.assert_allclose(out_torch.numpy(), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out_tf.numpy(), expected, rtol=1e-4, atol=1e-5)


def test_inputs_are_float32_and_sized():
    (x,) = graphs.numpy_inputs("small-ops", 7)
    assert x.shape == (7,) and x.dtype == np.float32
    a, b = graphs.numpy_inputs("large-matmul", 5)
    assert a.shape == b.shape == (5, 5) and a.dtype == np.float32
    assert not np.array_equal(a, b)


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match="Unknown workload"):
        graphs.numpy_inputs("huge", 3)
    with pytest.raises(ValueError, match="Unknown framework"):
        graphs.workload_function("JAX", "small-ops")
    with pytest.raises(ValueError, match="has no mode"):
        graphs.compiled_function("PyTorch", "small-ops", "XLA")
    with pytest.raises(ValueError):
        graphs.numpy_inputs("small-ops", 0)


def test_compiled_functions_agree_with_eager_and_are_cached():
    x = graphs.torch_inputs("small-ops", 32, "cpu")
    compiled = graphs.compiled_function("PyTorch", "small-ops", "torch.compile", backend="aot_eager")
    assert compiled is graphs.compiled_function("PyTorch", "small-ops", "torch.compile", backend="aot_eager")
    torch.testing.assert_close(compiled(*x), graphs.torch_small_ops(*x))
    y = graphs.tensorflow_inputs("small-ops", 32, "/CPU:0")
    for mode in ("tf.function", "XLA"):
        fn = graphs.compiled_function("TensorFlow", "small-ops", mode)
        np.testing.assert_allclose(fn(*y).numpy(), graphs.tensorflow_small_ops(*y).numpy(), rtol=1e-5, atol=1e-5)
    assert graphs.compiled_function("TensorFlow", "small-ops", "XLA").function_spec is not None
    assert graphs.compiled_function("PyTorch", "small-ops", "eager") is graphs.torch_small_ops


# --- Racing --------------------------------------------------------------------------------------


def test_race_measures_every_framework_and_mode():
    results = graphs.race("small-ops", 64, backend="aot_eager", repeat=3)
    assert [r.label for r in results] == [
        "PyTorch eager", "PyTorch torch.compile", "TensorFlow eager", "TensorFlow tf.function", "TensorFlow XLA",
    ]
    for r in results:
        assert r.first_call_s > 0 and r.per_call_s > 0 and len(r.times_s) == 3
        assert r.per_call_s == sorted(r.times_s)[1]  # the median of 3
        assert r.size == 64 and r.workload == "small-ops"
    no_xla = graphs.race("small-ops", 64, xla=False, backend="aot_eager", repeat=2)
    assert "TensorFlow XLA" not in [r.label for r in no_xla]
    # the second race with the same settings finds the compiled functions ready
    assert all(r.cached for r in no_xla if r.compiled)
    assert not any(r.cached for r in no_xla if not r.compiled)


def test_race_defaults_to_the_first_size_and_the_course_device():
    results = graphs.race("large-matmul", frameworks=("TensorFlow",), xla=False, repeat=2)
    assert {r.size for r in results} == {graphs.SIZES["large-matmul"][0]}
    assert {r.framework for r in results} == {"TensorFlow"}
    from sidebyside import devices

    assert results[0].device == devices.current_device().tensorflow


def fake(framework, mode, first, per_call):
    return graphs.RaceResult(framework, mode, "small-ops", 10, first, per_call)


def test_speedup_and_break_even():
    eager, compiled = fake("PyTorch", "eager", 0.001, 0.010), fake("PyTorch", "torch.compile", 2.001, 0.002)
    assert graphs.speedup(eager, compiled) == pytest.approx(5.0)
    assert graphs.break_even_calls(eager, compiled) == 250  # 2 s of compiling / 8 ms saved per call
    slower = fake("PyTorch", "torch.compile", 1.0, 0.02)
    assert math.isinf(graphs.break_even_calls(eager, slower))
    free = fake("PyTorch", "torch.compile", 0.0005, 0.002)
    assert graphs.break_even_calls(eager, free) == 1
    results = [eager, compiled, fake("TensorFlow", "eager", 0.01, 0.004), fake("TensorFlow", "XLA", 0.5, 0.001)]
    assert graphs.speedups(results) == pytest.approx({"PyTorch torch.compile": 5.0, "TensorFlow XLA": 4.0})
    table = graphs.race_table(results)
    assert "250 calls" in table and "5.00x" in table and "4.00x" in table
    assert "never" in graphs.race_table([eager, slower])


def test_plot_race_draws_both_panels():
    results = [fake("PyTorch", "eager", 0.001, 0.01), fake("PyTorch", "torch.compile", 2.0, 0.002)]
    fig, axes = graphs.plot_race(results)
    first, steady = axes
    assert first.get_yscale() == "log"
    assert [round(p.get_height(), 6) for p in steady.patches] == [10.0, 2.0]  # milliseconds
    assert any("5.0x" in t.get_text() for t in steady.texts)
    matplotlib.pyplot.close(fig)


# --- Graph drawings -----------------------------------------------------------------------------


def test_grad_fn_dag_follows_the_autograd_graph():
    w = torch.ones(3, 2, requires_grad=True)
    b = torch.zeros(2, requires_grad=True)
    loss = torch.tanh(torch.ones(4, 3) @ w + b).sum()
    dag = graphs.grad_fn_dag(loss, {"w": w, "b": b})
    names = [n.split("\n")[0] for n in dag.nodes]
    assert names[0] == "SumBackward0"
    assert {"TanhBackward0", "AddBackward0", "MmBackward0"} <= set(names)
    assert sum(n.startswith("AccumulateGrad") for n in names) == 2
    assert any("w: 3x2" in n for n in dag.nodes) and any("b: 2" in n for n in dag.nodes)
    # edges point forward: the leaves feed the ops, the loss receives
    sum_node = names.index("SumBackward0")
    assert dag.inputs_of(sum_node) == [names.index("TanhBackward0")]
    assert len(dag.edges) == len(dag.nodes) - 1  # a tree here
    chain = graphs.grad_fn_chain(loss)
    assert chain.splitlines()[0] == "SumBackward0" and "AccumulateGrad (leaf 3x2)" in chain
    with pytest.raises(ValueError):
        graphs.grad_fn_dag(torch.ones(2))


def test_grad_fn_dag_shares_reused_nodes():
    x = torch.ones(2, requires_grad=True)
    y = x * x  # x used twice: one AccumulateGrad node, two edges
    dag = graphs.grad_fn_dag(y)
    assert len(dag.nodes) == 2 and len(dag.edges) == 2
    assert "(seen above)" in graphs.grad_fn_chain(y)


def test_fx_dag_and_tf_graph_dag():
    traced = torch.fx.symbolic_trace(lambda x: torch.relu(x) * 2 + x)
    dag = graphs.fx_dag(traced)
    assert dag.nodes[0].startswith("input") and dag.nodes[-1] == "output"
    assert len(dag.nodes) == 5 and len(dag.edges) == 5  # add reads mul and x

    concrete = tf.function(lambda x: tf.nn.relu(x) * 2 + x).get_concrete_function(tf.TensorSpec([None]))
    tf_dag = graphs.tf_graph_dag(concrete.graph)
    types = [n.split("\n")[-1] for n in tf_dag.nodes]
    assert "Relu" in types and "Mul" in types and "AddV2" in types and "Identity" not in types
    add = types.index("AddV2")
    assert sorted(types[i] for i in tf_dag.inputs_of(add)) == ["Mul", "Placeholder"]
    text = graphs.dag_text(tf_dag)
    assert len(text.splitlines()) == len(tf_dag.nodes) and "<-" in text


def test_layers_and_layout():
    dag = graphs.Dag(["a", "b", "c", "d"], [(0, 1), (1, 2), (0, 2), (3, 2)])
    assert graphs.layers(dag) == [0, 1, 2, 0]
    positions = graphs.layout(dag)
    assert positions[0][1] == positions[3][1] == 0 and positions[2][1] == -2
    assert positions[0][0] != positions[3][0]
    with pytest.raises(ValueError, match="cycle"):
        graphs.layers(graphs.Dag(["a", "b"], [(0, 1), (1, 0)]))


def test_draw_dag_draws_every_node_and_edge():
    dag = graphs.Dag(["x", "sin", "out"], [(0, 1), (1, 2)], title="t")
    ax = graphs.draw_dag(dag)
    assert [t.get_text() for t in ax.texts if t.get_text()] == ["x", "sin", "out"]
    arrows = [t for t in ax.texts if isinstance(t, matplotlib.text.Annotation) and not t.get_text()]
    assert len(arrows) == 2  # one arrow per edge
    assert ax.get_title() == "t"
    matplotlib.pyplot.close(ax.figure)


# --- The widget ---------------------------------------------------------------------------------


def test_widget_wires_controls_to_race():
    from sidebyside.widgets.graph_race import GraphRace, graph_race

    race = graph_race("small-ops", backend="aot_eager", repeat=2)
    assert isinstance(race, GraphRace)
    assert race.size.value == graphs.SIZES["small-ops"][0]
    race.workload.value = "large-matmul"  # the sizes follow the workload
    assert [v for _, v in race.size.options] == sorted(graphs.SIZES["large-matmul"])
    assert race.size.value == graphs.SIZES["large-matmul"][0]
    race.workload.value = "small-ops"
    race.size.value = 100
    race.xla.value = False
    race._on_click()  # what the Race button does
    assert "failed" not in race.status_text, race.status_text
    assert [r.label for r in race.results] == ["PyTorch eager", "PyTorch torch.compile", "TensorFlow eager", "TensorFlow tf.function"]
    assert {r.size for r in race.results} == {100}
    assert not race.button.disabled
    with pytest.raises(ValueError):
        GraphRace("huge")


def test_widget_answers_every_control_at_once():
    """Each control changes the status line: what was asked, what it implied, and what is in effect."""
    from sidebyside import devices
    from sidebyside.widgets.graph_race import GraphRace, RaceSettings

    race = GraphRace("small-ops", backend="aot_eager", repeat=2)
    device = devices.current_device()
    first = race.status_text
    assert "Asked: small-ops, size 1,000, torch.compile backend aot_eager, TensorFlow with XLA" in first, first
    assert "Nothing has raced yet" in first and repr(device.torch) in first and repr(device.tensorflow) in first, first

    seen = [first]

    def changed(action, *expected):
        start = time.perf_counter()
        action()
        took = time.perf_counter() - start
        text = race.status_text
        assert text != seen[-1], f"the status did not change after {action.__doc__ or action}: {text!r}"
        for phrase in expected:
            assert phrase in text, f"expected {phrase!r} in the status, got {text!r}"
        assert html.escape(text) in race.status.value, f"the widget should show {text!r}, shows {race.status.value!r}"
        assert took < 0.1, f"the status took {took * 1e3:.0f} ms to answer (budget 100 ms)"
        seen.append(text)

    changed(lambda: setattr(race.workload, "value", "large-matmul"),
            "Workload large-matmul", "Size set to 256, the default for large-matmul", "Asked: large-matmul, size 256")
    changed(lambda: setattr(race.size, "value", 128), "Size 128.", "Asked: large-matmul, size 128")
    changed(lambda: setattr(race.backend, "value", "eager"), "backend eager", "only the PyTorch torch.compile row",
            "torch.compile backend eager, TensorFlow with XLA")
    changed(lambda: setattr(race.xla, "value", False), "XLA off", "TensorFlow without XLA")
    assert race.settings() == RaceSettings("large-matmul", 128, "eager", False)

    race._on_click()
    done = race.status_text
    assert done.startswith("The table and chart below show: large-matmul, size 128, torch.compile backend eager, TensorFlow without XLA"), done
    assert f"PyTorch on {device.torch!r}" in done and f"TensorFlow on {device.tensorflow!r}" in done, done
    assert race.shown == race.settings()

    race._on_click()  # the same race again: the compiled functions come from the cache, and it says so
    assert "Reused compiled code for PyTorch torch.compile, TensorFlow tf.function" in race.status_text, race.status_text

    race.size.value = 64  # after a race, a change says what the chart still shows
    assert "Asked: large-matmul, size 64" in race.status_text, race.status_text
    assert "until then the table and chart below show: large-matmul, size 128" in race.status_text, race.status_text
    race.size.value = 128  # back to what is on display
    assert "show these settings; press Race to time them again" in race.status_text, race.status_text


def test_widget_reports_errors_in_its_status_line():
    from sidebyside.widgets.graph_race import GraphRace

    race = GraphRace("small-ops", repeat=2)
    race.backend.options = ["no-such-backend"]
    race.backend.value = "no-such-backend"
    race._on_click()
    assert "failed" in race.status_text and "no-such-backend" in race.status_text, race.status_text
    assert "color:#b00" in race.status.value, race.status.value
    assert not race.button.disabled

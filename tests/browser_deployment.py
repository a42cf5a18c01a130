"""06: what a student does with the serving dashboard in JupyterLab after the lesson ran.

One function, ``fire_a_burst(page)``, for tests/test_browser.py's INTERACTIONS (the lead wires
it in): it picks 4 clients and a batch of 8 in the dashboard, checks that the status says so at
once, presses *Fire burst* and waits for a new chart whose table names both servers (the
TensorFlow one by what it is: "KServe V1 (TF Serving's REST protocol)" for the stand-in).
"""

from __future__ import annotations

import time

# What the dashboard shows now: its first image, whether its button is enabled, its text.
_STATE_JS = """(el) => {
    const img = el.querySelector('img');
    const button = [...el.querySelectorAll('button')].find(b => b.innerText.includes('Fire burst'));
    return {src: img ? img.src : null, enabled: !!button && !button.disabled, text: el.innerText};
}"""


def _choose(box, label: str, value: str) -> None:
    """Select ``value`` in the dropdown labelled ``label`` (ipywidgets 8 renders a <select>)."""
    dropdown = box.locator(".widget-dropdown", has_text=label).first
    dropdown.locator("select").select_option(label=value)


def fire_a_burst(page, record_property=None, timeout_s: float = 180) -> None:
    """06: choose 4 clients and batches of 8, fire a burst, see both servers' histograms."""
    box = page.locator(".jp-OutputArea-output > .jupyter-widgets", has_text="Serving dashboard").last
    box.scroll_into_view_if_needed()
    _choose(box, "concurrency", "4")
    page.wait_for_function("(el) => el.innerText.includes('4 at a time')", arg=box.element_handle(), timeout=10_000)
    _choose(box, "batch size", "8")
    page.wait_for_function("(el) => el.innerText.includes('8 rows each')", arg=box.element_handle(), timeout=10_000)
    before = box.evaluate(_STATE_JS)
    start = time.monotonic()
    box.get_by_role("button", name="Fire burst").click()
    deadline = start + timeout_s
    state = before
    while time.monotonic() < deadline:
        state = box.evaluate(_STATE_JS)
        if state["src"] and state["src"] != before["src"] and state["enabled"]:
            break
        page.wait_for_timeout(250)
    else:
        raise AssertionError(f"no new chart {timeout_s:.0f} s after pressing 'Fire burst'; the dashboard shows: {state['text'][:800]}")
    if record_property is not None:
        record_property("serving_burst_seconds", round(time.monotonic() - start, 1))
    text = state["text"]
    assert "The chart below shows: 40 requests of 8 rows each" in text and "4 at a time" in text, text[:800]
    # the TensorFlow server is named for what it is: TensorFlow Serving's own binary, or the KServe stand-in
    tf_label = "KServe V1 (TF Serving's REST protocol)" if "KServe V1 (TF Serving's REST protocol)" in text else "TensorFlow Serving"
    assert "TorchServe" in text and tf_label in text and "p50" in text, text[:800]

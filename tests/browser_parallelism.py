"""What a student does with lesson 05's scaling panel in JupyterLab, after the lesson ran.

One function, :func:`scale_the_workers`, for tests/test_browser.py's INTERACTIONS (key "05").
It uses that module's helpers, imported when it runs (test_browser imports this module).
"""

from __future__ import annotations


def scale_the_workers(page) -> None:
    """05: choose PyTorch only and another global batch size, see the panel say what was asked
    and what a run will use; press Run scaling and see a new chart and the measured line."""
    from test_browser import press_and_wait_for_new_chart, widget

    box = widget(page, "Run scaling")
    box.scroll_into_view_if_needed()
    assert "shown: PyTorch 2 worker(s)" in box.inner_text(), f"the panel should start with the lesson's measurements; it shows: {box.inner_text()[:600]}"

    def choose(label: str, option: str, expect: str) -> None:
        before = box.inner_text()
        box.locator(".widget-dropdown", has_text=label).locator("select").first.select_option(label=option)
        page.wait_for_function("([el, before]) => el.innerText !== before", arg=[box.element_handle(), before], timeout=30_000)
        text = box.inner_text()
        assert expect in text, f"after choosing {option!r} for {label!r}, expected the panel to say {expect!r}; it shows: {text[:600]}"

    choose("frameworks", "PyTorch", "asked: 2 worker(s), global batch 256, PyTorch.")
    choose("global batch size", "512", "asked: 2 worker(s), global batch 512, PyTorch. In effect: as asked, 256 samples per worker")
    press_and_wait_for_new_chart(page, box, "Run scaling")
    text = box.inner_text()
    assert "measured in" in text and "PyTorch 2 worker(s), batch 512: speed-up" in text, f"expected the measured line for PyTorch, 2 workers, batch 512; the panel shows: {text[:800]}"

"""The class hub on this machine (sidebyside.hub, `make hub`), started for real by tests/hub_class.py."""

from __future__ import annotations

import urllib.request

from hub_class import class_hub  # noqa: F401 - the fixture


def test_hub_answers_on_loopback(class_hub, record_property):  # noqa: F811 - the fixture
    with urllib.request.urlopen(f"{class_hub.url}/hub/health", timeout=10) as reply:
        assert reply.status == 200, f"/hub/health should answer 200, got {reply.status}"
    record_property("hub_start_seconds", round(class_hub.hub_start_seconds, 2))
    print(f"hub start (cold, to /hub/health): {class_hub.hub_start_seconds:.1f} s; whole start {class_hub.total_start_seconds:.1f} s")

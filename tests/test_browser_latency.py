"""`bench --latency --tab all` end to end: the app started as a subprocess, the explorer, Code knobs and
Style mixing sliders moved in Chromium, each move's picture counted by the page script (no timing
asserted: only that every move drew, on the model each tab is meant to show)."""

from __future__ import annotations

import os

import pytest


@pytest.mark.browser
@pytest.mark.slow
def test_bench_latency_times_the_three_slider_tabs_on_their_models():
    from conftest import CHROMIUM

    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
            pytest.fail(f"Chromium is missing at {CHROMIUM}")
        pytest.skip(f"Chromium is missing at {CHROMIUM}")
    from gan_core import latency

    out = latency.run(moves=5, chromium=CHROMIUM, tab="all")
    assert set(out) == {"explorer", "codes", "mixing"}
    assert out["codes"]["model"].endswith("digits-infogan.safetensors")
    assert out["mixing"]["model"].endswith("shapes-style.safetensors")
    for tab, r in out.items():
        assert r["moves"] == 5 and 0 < r["p50_ms"] <= r["p95_ms"] <= r["max_ms"], tab
        assert r["updates_per_s"] > 0 and r["drag_inputs"] > 0, tab
    assert out["explorer"]["reference_p50_ms"] > 0

"""The live views in Chromium: the 2D plane's canvas draws the frames of the page's own training and
follows it, the curves start with a plain empty state (no axes) and fill, and the speed setting's rounds
per frame show on the page. Waits on page state only (the live script's counters and the canvas pixels)."""

from __future__ import annotations

import pytest

PIXELS = """() => { const c = document.querySelector('#plane-live canvas.tl-view');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let h = 0, purple = 0;
    for (let i = 0; i < d.length; i += 4) { h = (h * 31 + d[i] + 7 * d[i + 1] + 13 * d[i + 2]) | 0;
        if (d[i] === 118 && d[i + 1] === 42 && d[i + 2] === 131) purple++; }
    return {hash: h, purple}; }"""
LIVE = ("() => { const s = window.__tl && window.__tl['2d'];"
        " return s ? {frames: s.frames, steps: s.steps.slice(), err: s.err} : null; }")


@pytest.mark.browser
def test_the_plane_canvas_draws_and_follows_training(page, app_url):
    pg = page
    pg.goto(app_url)
    pg.wait_for_function("() => document.querySelector('#plane-live')?.innerText.includes('first Train')")
    pg.click("#train-play")  # the first real use: the page's refresh hands the canvas its token
    pg.wait_for_function("() => window.__tl && window.__tl['2d'] && window.__tl['2d'].frames > 0")
    # the page's refresh may put in a new canvas as the first frame lands: the view then draws on it anew
    # the pixels are read in the same call that sees them (the canvas may be replaced right after)
    first = pg.wait_for_function(f"() => {{ const p = ({PIXELS})(); return p.purple > 50 ? p : null; }}",
                                 timeout=30_000).json_value()
    assert first["purple"] > 50, "the fake points are drawn in the plane's purple"
    pg.wait_for_function("() => { const s = window.__tl['2d']; return s.steps[s.steps.length - 1] > 100; }")
    pg.wait_for_function(f"(h) => ({PIXELS})().hash !== h", arg=first["hash"])
    # frames keep coming (how many arrive before step 100 depends on the machine's load, not asserted)
    pg.wait_for_function("(n) => window.__tl['2d'].frames >= n + 2", arg=pg.evaluate(LIVE)["frames"])
    s = pg.evaluate(LIVE)
    assert s["err"] is None, f"the live view failed: {s['err']}"
    pg.wait_for_function("() => (window.__tl['2d'].curves.loss.series['D loss'] || []).length >= 2")

    pg.get_by_label("1 round / frame").check()  # one round between two frames
    n = pg.evaluate("() => window.__tl['2d'].steps.length")
    pg.wait_for_function("(n) => window.__tl['2d'].steps.length >= n + 12", arg=n)
    steps = pg.evaluate("(n) => window.__tl['2d'].steps.slice(n + 4)", n)  # after the setting took hold
    gaps = [b - a for a, b in zip(steps, steps[1:])]
    assert sorted(gaps)[len(gaps) // 2] == 1, f"steps shown {steps}"
    pg.click("#train-pause")

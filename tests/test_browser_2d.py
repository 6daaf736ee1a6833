"""The Train (2D) tab in Chromium: pick the collapse preset, train, see the counter and the loss plot
update, pause. Waits on DOM state only. Needs Debian's chromium at /usr/bin/chromium (no downloads)."""

from __future__ import annotations

import re
import time

import pytest

COUNTER = "#mode-counter"


def counter_text(pg) -> str:
    return pg.inner_text(COUNTER)


def step_of(text: str) -> int:
    m = re.search(r"step ([\d,]+)", text)
    assert m, f"no step in the counter: {text!r}"
    return int(m.group(1).replace(",", ""))


@pytest.mark.browser
def test_collapse_preset_trains_live(page, app, app_url):
    pg, sessions = page, app.app_context.sessions
    known = sessions.keys("train2d")
    pg.goto(app_url)
    pg.wait_for_function(f"document.querySelector('{COUNTER}')?.innerText.includes('/ 8')")

    pg.click("#preset-select input")
    pg.get_by_role("option", name="Mode collapse: watch it happen").click()
    pg.click("#load-preset")
    pg.wait_for_function(f"/step 0\\b/.test(document.querySelector('{COUNTER}').innerText)")
    before = counter_text(pg)
    assert "modes covered" in before and "/ 8" in before

    pg.click("#train-play")
    pg.wait_for_function(
        f"(b) => {{ const t = document.querySelector('{COUNTER}').innerText;"
        " return t !== b && t.includes('training') && !/step 0\\b/.test(t); }", arg=before)
    pg.wait_for_function(  # the live loss curves have points (drawn on their canvas with each frame)
        "() => { const c = window.__tl && window.__tl['2d'].curves.loss;"
        " return !!c && ['D loss', 'G loss'].every(k => (c.series[k] || []).length >= 2); }")
    during = counter_text(pg)
    assert re.search(r"modes covered \d / 8", during), during

    pg.click("#train-pause")
    pg.wait_for_function(f"document.querySelector('{COUNTER}').innerText.includes('paused')")
    paused = step_of(counter_text(pg))
    assert paused > 0
    assert pg.locator("#plane-live canvas.tl-view").count() == 1, "the data-space canvas is shown"

    mine = sessions.keys("train2d") - known
    assert len(mine) == 1, "the page owns exactly one new session"
    pg.close()  # closing the tab ends the session (demo.unload)
    deadline = time.monotonic() + 20
    while mine & sessions.keys("train2d"):
        assert time.monotonic() < deadline, "the session was not closed after the page closed"
        time.sleep(0.1)


@pytest.mark.browser
def test_a_refused_setting_is_explained_and_its_box_shows_the_value_in_force(page, app_url):
    """Typing 'abc' as the D learning rate: the error names the widget, quotes the box and says what is
    kept; the box then shows the value in force again (the .failure event)."""
    pg = page
    pg.goto(app_url)
    pg.wait_for_function(f"document.querySelector('{COUNTER}')?.innerText.includes('/ 8')")
    box = pg.get_by_label("D learning rate")
    kept = box.input_value()
    box.fill("abc")
    box.press("Enter")
    toast = pg.get_by_text("D learning rate must be a number, got 'abc'; keeping")
    toast.first.wait_for(timeout=10_000)
    box.blur()
    deadline = time.monotonic() + 10
    while box.input_value() != kept:
        assert time.monotonic() < deadline, f"the box shows {box.input_value()!r}, not {kept!r}"
        time.sleep(0.1)

"""The Train (2D) tab's "How it works" accordion in Chromium: open it, see the model graph, the formula
(rendered maths) and G's loss curve, press Slow-motion step and see the sub-steps play to "round
played" with the graph's active part highlighted. Waits on DOM state only."""

from __future__ import annotations

import pytest

from app.tabs.train2d.howitworks import TITLE

SUBSTEP = "#t2d-substep"


@pytest.mark.browser
def test_slow_motion_plays_a_round_in_the_page(page, app_url):
    pg = page
    pg.goto(app_url)
    pg.wait_for_function("document.querySelector('#mode-counter')?.innerText.includes('/ 8')")
    assert not pg.is_visible("#t2d-slowmo"), "the accordion starts closed"
    pg.get_by_text(TITLE).click()
    pg.wait_for_function("document.querySelectorAll('#t2d-graph svg [data-part]').length >= 15")
    pg.wait_for_function("!!document.querySelector('#t2d-formula .katex')")  # the LaTeX is rendered
    assert pg.locator("#t2d-gcurve img").count() == 1

    speed = pg.locator("#t2d-slowmo-speed input[type=number]")
    speed.fill("0.25")
    speed.press("Enter")
    pg.click("#t2d-slowmo")
    pg.wait_for_function(f"document.querySelector('{SUBSTEP}').innerText.includes('Sub-step')")
    pg.wait_for_function("!!document.querySelector('#t2d-graph .gx-active')")  # the part at work lights up
    pg.wait_for_function(
        f"document.querySelector('{SUBSTEP}').innerText.trim().endsWith('round played')", timeout=60_000
    )
    text = pg.inner_text(SUBSTEP)
    assert "G's gradient step" in text and "Step 1 is done" in text
    pg.wait_for_function("/step 1\\b/.test(document.querySelector('#mode-counter').innerText)")
    assert "paused" in pg.inner_text("#mode-counter")
    assert "Step 1" in pg.inner_text("#t2d-formula")  # the round's numbers in the formula view

    pg.click("#t2d-slowmo")  # a second round: the text starts again, then ends on step 2
    pg.wait_for_function(f"!document.querySelector('{SUBSTEP}').innerText.includes('Step 1 is done')")
    pg.wait_for_function(
        f"document.querySelector('{SUBSTEP}').innerText.trim().endsWith('Step 2 is done: round played')",
        timeout=60_000,
    )

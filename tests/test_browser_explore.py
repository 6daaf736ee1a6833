"""The Latent explorer in Chromium: drag a direction slider with the mouse and see the picture change
while dragging (through the render route), then the readout name the move (the release event)."""

from __future__ import annotations

import pytest

PIXELS = """(sel) => { const el = document.querySelector(sel);
    const w = el.naturalWidth || el.width, h = el.naturalHeight || el.height;
    const c = document.createElement('canvas'); c.width = w; c.height = h;
    const ctx = c.getContext('2d'); ctx.drawImage(el, 0, 0);
    return Array.from(ctx.getImageData(0, 0, w, h).data); }"""
IMG_READY = ("() => { const i = document.querySelector('#lx-view img.lx-img');"
             " return i && i.complete && i.naturalWidth > 0; }")


@pytest.mark.browser
def test_dragging_a_slider_changes_the_picture(page, app_url):
    pg = page
    pg.goto(app_url)
    pg.get_by_role("tab", name="Latent explorer").click()
    pg.wait_for_function(IMG_READY)
    pg.click("#lx-source input")
    pg.get_by_role("option", name="Your model on Train (images)").click()
    pg.click("#lx-use")
    pg.wait_for_function("() => document.querySelector('#lx-info').innerText.includes('Train (images)')")
    pg.wait_for_function(IMG_READY)
    pg.wait_for_function("() => document.querySelector('#lx-s0 label, #lx-s0 span')?.innerText.includes('PC1')"
                         " || document.querySelector('#lx-s0').innerText.includes('PC1')")
    before = pg.evaluate(PIXELS, "#lx-view img.lx-img")
    assert len(before) == 16 * 16 * 4

    box = pg.locator("#lx-s0 input[type=range]").bounding_box()
    y = box["y"] + box["height"] / 2
    pg.mouse.move(box["x"] + box["width"] / 2, y)
    pg.mouse.down()
    pg.mouse.move(box["x"] + 0.95 * box["width"], y, steps=12)
    pg.wait_for_function("() => window.__lx && window.__lx.shown > 0 && !window.__lx.busy")
    during = pg.evaluate(PIXELS, "#lx-view canvas.lx-canvas")  # shown before the mouse is released
    pg.mouse.up()
    assert pg.evaluate("() => window.__lx.err") is None
    assert during != before, "the picture did not change while dragging"
    assert pg.is_visible("#lx-view canvas.lx-canvas") and not pg.is_visible("#lx-view img.lx-img")
    pg.wait_for_function("() => /PC1 \\+[0-9.]+/.test(document.querySelector('#lx-readout').innerText)")

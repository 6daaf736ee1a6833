"""GANPaint in Chromium: drawing on the shipped scenes generator's picture with the tree brush changes the
picture while the button is held (through the stroke route) and the table beside it counts more tree
pixels; Undo brings the picture back."""

from __future__ import annotations

import pytest

from test_api_paint import paint_url  # noqa: F401  (the app with the scenes generator)

READY = ("() => { const i = document.querySelector('#gp-view img.gp-img');"
         " return i && i.complete && i.naturalWidth > 0; }")
TREE = ("() => { const r = Array.from(document.querySelectorAll('#gp-view tbody.gp-change tr'))"
        ".find(r => r.cells[0].innerText === 'tree'); return r ? parseInt(r.cells[3].innerText) : null; }")


@pytest.mark.browser
@pytest.mark.slow
def test_drawing_paints_trees(page, paint_url):  # noqa: F811
    pg = page
    pg.goto(paint_url)
    pg.get_by_role("tab", name="GANPaint").click()
    pg.wait_for_function(READY, timeout=240_000)
    assert pg.evaluate(TREE) == 0
    box = pg.locator("#gp-view canvas.gp-canvas").bounding_box()
    x0, y = box["x"] + 0.3 * box["width"], box["y"] + 0.6 * box["height"]
    pg.mouse.move(x0, y)
    pg.mouse.down()
    pg.mouse.move(box["x"] + 0.7 * box["width"], y, steps=10)
    pg.wait_for_function("() => window.__gp && window.__gp.shown > 0 && !window.__gp.busy")
    pg.mouse.up()
    assert pg.evaluate("() => window.__gp.err") is None
    assert pg.evaluate(TREE) > 0, "painting trees did not add tree pixels"
    lat = sorted(pg.evaluate("() => window.__gp.lat"))
    print(f"stroke to picture: {len(lat)} frames, p50 {lat[len(lat) // 2]:.0f} ms")  # a figure, not a check
    pg.click("#gp-undo")
    pg.wait_for_function(f"() => ({TREE})() === 0", timeout=240_000)

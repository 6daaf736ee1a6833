"""The Train (images) tab's live view: the visitor's fixed-noise grid as one PNG per frame, with the new
curve points and the class histogram, drawn on canvases by the page.

`GET /live/img/stream?t=TOKEN&f=FRAME&s=STEP&run=RUN&g=GRID_STEP` streams the training's frames after
frame `f`, and `GET /live/img?...` answers one (see app.common.live for the channel and its rules).
The grid is drawn from the snapshot by the slot's own ImageView (so it also lands on the timeline) at its
native resolution; the page enlarges it without smoothing. While the visitor has scrubbed the timeline
back, frames carry the kept grid they chose (sent at once when it differs from `g`, the grid the page
shows, and so is the live grid when the visitor goes back to it).
"""

from __future__ import annotations

import html
import io

import numpy as np
from PIL import Image

from ...common import live, plots
from .state import SLOT
from .view import FD_COLORS, FD_LABEL, FD_SERIES, class_names, evaluator_kind, headline

ROUTE = "/live/img"
CURVES = {"loss": {k: (label, 1.0) for k, label in plots.LOSS_SERIES.items()},
          "fd": {k: (label, 1.0) for k, label in FD_SERIES.items()}}
TITLES = {"loss": plots.LOSS_LABEL, "fd": FD_LABEL}
HIST_TITLE = "Class histogram of 1,000 samples at the last evaluation"


def parse_grid_step(text: str) -> int:
    if len(text) > 12 or not text.lstrip("-").isdigit() or int(text) < -1:
        raise ValueError("g must be a whole number of at least -1")
    return int(text)


def png_bytes(grid: np.ndarray) -> np.ndarray:
    """An (H, W, 3) uint8 grid as PNG bytes in a uint8 array (fast compression: the grid is small)."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(grid)).save(buf, format="PNG", compress_level=1)
    return np.frombuffer(buf.getvalue(), dtype=np.uint8)


def _shown(mem) -> int | None:
    """The step of the grid the page should show now, when the visitor scrubbed back (None: live)."""
    return None if mem.following else mem.shown_step


def frame(slot, req: live.Request, wait: float = live.WAIT_S) -> tuple[dict, dict] | None:
    """The next frame for the page as (header, arrays) (None when nothing new came within `wait`)."""
    return live.one_frame(req, lambda r, got: make(slot, r, got), lambda r, block: due(slot, r, block), wait)


def due(slot, req: live.Request, block: bool = False) -> tuple | None:
    """(frame number, snapshot) now when the visitor chose another kept grid than the page shows (it is
    shown at once, training or not); else None. Without `block`, also None while a training chunk holds
    the weights (the chunk then ends after its round, and the next call gets the frame)."""
    mem = slot.renderer
    scrubbed, view = _shown(mem), req.extra.get("_view")
    chosen = scrubbed is not None and req.extra.get("g") != scrubbed  # another kept grid
    if chosen or (view is not None and view != mem.view_rev):  # or back to the live one
        return slot.training.poll_frame(-1, block=block)
    return None


def make(slot, req: live.Request, got: tuple) -> tuple[dict, dict]:
    """The frame of `got` (frame number, snapshot, ms waited for it) as (header, arrays): `grid` holds
    the PNG's bytes. The plots' titles and colours come with a frame whose curves start again."""
    mem = slot.renderer
    no, snap, waited = got
    with slot.render_lock:
        if mem.following:
            grid, step = mem.draw(snap), snap.step
            mem.shown_step = step
        else:
            entry = mem.timeline.nearest(mem.shown_step if mem.shown_step is not None else snap.step)
            grid, step = (entry[1], entry[0]) if entry else (None, None)
    big, second = headline(snap)
    names = class_names(snap)
    hist = snap.metrics.get("histogram")
    curves = live.curves(snap, req, CURVES)
    header = {**live.stamp(no, snap), "wait_ms": waited, "grid_step": step, "following": mem.following,
              "keep": {"g": step, "_view": mem.view_rev},
              "headline": big, "second": second, "curves": curves,
              "hist": {"names": names, "counts": [int(x) for x in hist] if hist is not None else None,
                       "step": snap.metrics.get("step"), "evaluator": evaluator_kind(snap)}}
    if curves["reset"]:  # the page keeps them
        header.update(titles=TITLES, colors={**plots.LOSS_COLORS, **FD_COLORS})
    return header, ({"grid": png_bytes(grid)} if grid is not None else {})


def make_routes(store) -> list:
    return live.routes(ROUTE, store, SLOT, {"g": parse_grid_step}, lambda req, got: make(req.slot, req, got),
                       due=lambda req, block: due(req.slot, req, block))


STYLE = "max-width:100%;display:block;border:1px solid #ccc;background:#fff"


def view_html(token: str | None) -> str:
    """The live grid: a canvas the page script fills from this visitor's frames."""
    if not token:
        return "<div class='tl-empty'>Loading…</div>"
    return (f"<canvas class='tl-view' data-kind='img' data-token='{html.escape(token)}' width='512' "
            f"height='512' style='width:512px;image-rendering:pixelated;{STYLE}' aria-label='fixed-noise "
            f"samples of the generator'></canvas><div class='tl-msg' data-kind='img'></div>")

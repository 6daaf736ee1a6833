"""The Train (2D) tab's live view: frames of the visitor's training as data, drawn on a canvas by the page.

`GET /live/2d/stream?t=TOKEN&f=FRAME&s=STEP&run=RUN&layers=heatmap,real,fake` streams the training's
frames after frame `f`, `GET /live/2d?...` answers one (see app.common.live for the channel and its
rules); a frame holds the real and fake points,
D's verdict as a 48 x 48 grid, G's manifold and the gradient arrows (the layers asked for), the new curve
points and the mode counter's figures. The page (app/static/train_live.js) draws them with the colours
and layer order of gan_core.viz.plane, which still draws the PNG that API clients get from `t2d_poll`.
"""

from __future__ import annotations

import html

import numpy as np

from gan_core.metrics import modes as mode_metrics
from gan_core.viz import plane

from ...common import live, plots
from .state import SLOT
from .view import headline, n_modes

ROUTE = "/live/2d"
HEAT_RES = 48  # D's verdict is sent on this grid; the page smooths it up to the canvas
VIEW_PX = 480


def parse_layers(text: str) -> tuple[str, ...]:
    """'heatmap,real' -> ('heatmap', 'real'); only the plane's layer names, each once."""
    names = tuple(x for x in text.split(",") if x) if text else ()
    bad = [x for x in names if x not in plane.LAYERS]
    if bad:
        raise ValueError(f"unknown layer {bad[0][:20]!r}")
    if len(set(names)) != len(names):
        raise ValueError("each layer may be named once")
    return names


def curve_spec(n: int | None) -> dict:
    """Plot name -> {history key: (series label, scale)}: the loss plot and the coverage plot (modes and
    quality in % for mixtures, the grid KL/JS for other shapes)."""
    loss = {k: (label, 1.0) for k, label in plots.LOSS_SERIES.items()}
    if n:
        cover = {mode_metrics.MODES: (plots.COVERAGE_SERIES[mode_metrics.MODES], 100.0 / n),
                 mode_metrics.HQ: (plots.COVERAGE_SERIES[mode_metrics.HQ], 100.0)}
    else:
        cover = {k: (label, 1.0) for k, label in plots.DIVERGENCE_SERIES.items()}
    return {"loss": loss, "cover": cover}


def frame(slot, req: live.Request, wait: float = live.WAIT_S) -> tuple[dict, dict] | None:
    """The next frame for the page as (header, arrays) (None when nothing new came within `wait`)."""
    return live.one_frame(req, lambda r, got: make(slot, r, got), wait=wait)


def make(slot, req: live.Request, got: tuple) -> tuple[dict, dict]:
    """The frame of `got` (frame number, snapshot, ms waited for it) as (header, arrays):
    arrays `heat` (r, r) uint8 (D's verdict x 255, row 0 at the top), `real`, `fake` (N, 2), `manifold`
    (L, P, 2) and `arrows` (M, 2, 2) float16 (a thousandth of the extent is a fifth of a pixel at most on
    the canvas), each only when its layer is asked for. The plots' titles and colours come with a frame
    whose curves start again (`curves.reset`), the page keeps them."""
    slot.live_seen = True  # the page's canvas has its token: its refresh need not hand it over again
    no, snap, waited = got
    layers = req.extra.get("layers", ("heatmap", "real", "fake"))
    with slot.render_lock:
        data = slot.renderer.frame_data(snap, layers, HEAT_RES)
    n = n_modes(snap.data)
    big, second = headline(snap)
    curves = live.curves(snap, req, curve_spec(n))
    header = {**live.stamp(no, snap), "wait_ms": waited, "extent": data["extent"], "layers": list(layers),
              "headline": big, "second": second, "curves": curves}
    if curves["reset"]:
        header["titles"] = {"loss": plots.LOSS_LABEL, "cover": plots.coverage_label(n)}
        header["colors"] = {**plots.LOSS_COLORS, **plots.COVERAGE_COLORS}
    arrays = {k: data[k].astype(np.float16) for k in ("real", "fake", "manifold", "arrows") if k in data}
    if "heat" in data:
        arrays["heat"] = np.clip(np.rint(data["heat"] * 255), 0, 255).astype(np.uint8)
    return header, arrays


def make_routes(store) -> list:
    return live.routes(ROUTE, store, SLOT, {"layers": parse_layers},
                       lambda req, got: make(req.slot, req, got), inline=True)


STYLE = "max-width:100%;display:block;border:1px solid #ccc;background:#fff"


def view_html(token: str | None) -> str:
    """The live plane: a canvas the page script fills from this visitor's frames."""
    if not token:
        return "<div class='tl-empty'>The live view starts with your first Train, Step or preset.</div>"
    return (f"<canvas class='tl-view' data-kind='2d' data-token='{html.escape(token)}' width='{VIEW_PX}' "
            f"height='{VIEW_PX}' style='width:{VIEW_PX}px;{STYLE}' aria-label='data space: D's verdict, real "
            f"and generated points'></canvas><div class='tl-msg' data-kind='2d'></div>")

"""The GANPaint tab: paint classes onto a generated picture with the generator's own units (GAN
Dissection, Bau et al. 2019), and look at any unit (mean map, the samples where it fires most with its
region outlined; for 2D generators its activation over the latent and the data plane).

While the pointer draws, the picture does not go through Gradio's event queue: app/static/paint_live.js
sends the stroke to the fast route (.route) and draws its answer. Undo, reset, seeds, the unit viewer
and strokes given as cells (`paint_stroke`) are normal Gradio events.
"""

from __future__ import annotations

from .events import PaintEvents
from .layout import layout
from .route import make_routes
from .state import slot_kind
from .wiring import PREFIX, wire

TITLE = "GANPaint"
ORDER = 40

__all__ = ["TITLE", "ORDER", "PREFIX", "build", "routes", "slot_kind"]


def build(ctx) -> None:
    w = layout(ctx)
    wire(w, PaintEvents(ctx, w), ctx)


def routes(ctx) -> list:
    return make_routes(ctx.sessions)

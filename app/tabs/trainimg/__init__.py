"""The Train (images) tab: train a DCGAN on digits, shapes, scenes or your own images and watch a
fixed-noise sample grid refresh live, scrub back through earlier grids, and follow the losses, the class
histogram and the Frechet distance: mode collapse in images made visible. Layout in .layout, wiring in
.wiring, handlers in .events, what is shown in .view, the visitor's slot and defaults in .state."""

from __future__ import annotations

from .events import ImageEvents
from .layout import layout
from .live import make_routes
from .state import slot_kind
from .wiring import PREFIX, wire

TITLE = "Train (images)"
ORDER = 20

__all__ = ["TITLE", "ORDER", "PREFIX", "build", "routes", "slot_kind"]


def build(ctx) -> None:
    """Add the tab's contents to the current gr.Tab (called by app.server.build_app)."""
    w = layout(ctx)
    wire(w, ImageEvents(ctx, w), ctx)


def routes(ctx) -> list:
    """The live channel (app.common.live), answering from the visitors' image trainings."""
    return make_routes(ctx.sessions)

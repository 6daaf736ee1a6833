"""The Train (2D) tab: GAN Lab's experience. Pick a preset or a 2D dataset (or draw / upload one), train a
small GAN on points live, and watch D's decision surface, the real and fake points, G's manifold and
gradients, the mode counter and the loss curves. Layout in .layout, wiring in .wiring, handlers in
.events, what is shown in .view, the visitor's slot and defaults in .state."""

from __future__ import annotations

from .events import Train2DEvents
from .layout import layout
from .live import make_routes
from .state import slot_kind
from .wiring import PREFIX, wire

TITLE = "Train (2D)"
ORDER = 10

__all__ = ["TITLE", "ORDER", "PREFIX", "build", "routes", "slot_kind"]


def build(ctx) -> None:
    """Add the tab's contents to the current gr.Tab (called by app.server.build_app)."""
    w = layout(ctx)
    wire(w, Train2DEvents(ctx, w), ctx.demo)


def routes(ctx) -> list:
    """The live channel (app.common.live), answering from the visitors' 2D trainings."""
    return make_routes(ctx.sessions)

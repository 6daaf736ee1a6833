"""The Latent explorer tab: drag sliders along principal directions (or single latent dimensions) and
watch the generator's output follow live; truncation, interpolation (GIF), latent arithmetic and
inversion. It explores the visitor's current model (live from either Train tab) or a shipped one, as the
current-model service (app.common.models) provides it.

While a slider moves, the picture does not go through Gradio's event queue: app/static/render_live.js
sends the slider values straight to the render route (.route; one request in flight, newest values
win). On release, a normal Gradio event (`explore_move`) stores the values and updates the readout.
"""

from __future__ import annotations

from .events import ExploreEvents
from .inversion import InversionEvents
from .layout import layout
from .route import make_routes
from .state import slot_kind
from .tools import ToolEvents
from .wiring import PREFIX, wire_point, wire_tools

TITLE = "Latent explorer"
ORDER = 30

__all__ = ["TITLE", "ORDER", "PREFIX", "build", "routes", "slot_kind"]


def build(ctx) -> None:
    """Add the tab's contents to the current gr.Tab (called by app.server.build_app)."""
    w = layout(ctx)
    ev = ExploreEvents(ctx, w)
    wire_point(w, ev, ctx)
    wire_tools(w, ToolEvents(ctx, w), InversionEvents(ctx, w), ev.point_outputs)


def routes(ctx) -> list:
    """The render route, answering from the visitors' explorer states in the session store."""
    return make_routes(ctx.sessions)

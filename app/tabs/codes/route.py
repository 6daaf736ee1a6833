"""The Code knobs tab's fast render route, `GET /codes/render?t=TOKEN&cat=..&c0=..&c7=..`: renders the
token's own model with that category and those continuous codes (the page's app/static/render_live.js,
set up by .layout, calls it while a knob moves). What all render routes share, and why they exist, is in
app/common/render_route.py."""

from __future__ import annotations

from ...common import render_route as rr
from ...common.render_route import RouteError
from .state import KNOBS, ROUTE, SLOT

ROUTE_PARAMS = {"t", "r", "cat", *(f"c{i}" for i in range(KNOBS))}
MAX_QUERY = 600  # characters


def render_query(store, params: dict[str, list[str]], query_len: int = 0) -> bytes:
    """Validate a render request (name -> values), set the token's knobs and return the PNG picture;
    RouteError(status, reason) for anything wrong (the knobs stay as they were)."""
    rr.check_query(params, query_len, ROUTE_PARAMS, MAX_QUERY)
    s = rr.by_token(store, SLOT, params["t"][0])
    with s.lock:
        if s.model is None:
            raise RouteError(409, "no model with codes yet")
        try:
            cat = rr.number(params["cat"][0], "cat") if "cat" in params else None
            n = min(KNOBS, s.model.spec.n_cont)
            vals = list(s.cont[:n])
            for i in range(n):
                if f"c{i}" in params:
                    vals[i] = rr.number(params[f"c{i}"][0], f"c{i}")
            s.set_knobs(cat, vals)
        except ValueError as e:
            raise RouteError(400, str(e)) from None
        return s.render_png()


def make_routes(store) -> list:
    """Starlette routes to pass to the Gradio app."""
    return [rr.png_route(ROUTE, lambda params, n: render_query(store, params, n))]

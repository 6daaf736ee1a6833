"""The latent explorer's fast render route, `GET /explore/render?t=TOKEN&psi=..&v0=..&v7=..`: while a
slider moves, the page (app/static/render_live.js, set up by .view) points the main picture at it with
the page's slider values; the route sets the token's point and answers its picture. What all render
routes share, and why they exist, is in app/common/render_route.py."""

from __future__ import annotations

from ...common import render_route as rr
from ...common.render_route import RouteError
from .state import ROUTE, SLIDERS, SLOT, ExploreSession, check_psi, check_slider

ROUTE_PARAMS = {"t", "psi", "r", *(f"v{i}" for i in range(SLIDERS))}
MAX_QUERY = 600  # characters

__all__ = ["RouteError", "by_token", "render_query", "make_routes"]


def by_token(store, token: str) -> ExploreSession:
    """The explorer state a render token names (counts as the visitor's activity)."""
    return rr.by_token(store, SLOT, token, "explorer")


def _apply(s: ExploreSession, psi: float | None, vals: dict[int, float]) -> bytes:
    """Set psi and the shown page's slider values, then render (under the state's lock)."""
    with s.lock:
        if s.model is None:
            raise RouteError(409, "no model to explore yet")
        if psi is not None:
            s.psi = psi
        if vals:
            v, sl = s.values(), s.page_slice()
            for i, x in vals.items():
                if sl.start + i < sl.stop:
                    v[sl.start + i] = x
        return s.render_png()


def render_query(store, params: dict[str, list[str]], query_len: int = 0) -> bytes:
    """Validate a render request's parameters (name -> values), update the token's point, and return
    its picture as PNG bytes; RouteError(status, reason) for anything wrong."""
    rr.check_query(params, query_len, ROUTE_PARAMS, MAX_QUERY)
    s = by_token(store, params["t"][0])
    try:
        psi = check_psi(rr.number(params["psi"][0], "psi")) if "psi" in params else None
        vals = {i: check_slider(rr.number(params[f"v{i}"][0], f"v{i}")) for i in range(SLIDERS)
                if f"v{i}" in params}
        return _apply(s, psi, vals)
    except RouteError:
        raise
    except ValueError as e:
        raise RouteError(400, str(e)) from None


def make_routes(store) -> list:
    """Starlette routes to pass to the Gradio app (launch(app_kwargs={'routes': ...}))."""
    return [rr.png_route(ROUTE, lambda params, n: render_query(store, params, n))]

"""The Mixing tab's fast render route for the single large mix,
`GET /mixing/render?t=TOKEN&a=..&b=..&cross=..&w=..&psi=..&cut=..&noise=..&ns=..`: the page
(app/static/render_live.js) calls it while a control moves; a normal Gradio event (`mixing_set`) stores
the values on release. Each parameter is parsed and bounded by the same checks as the Gradio event
(.state.check_settings). What all render routes share is in app/common/render_route.py."""

from __future__ import annotations

from ...common import render_route as rr
from ...common.render_route import RouteError
from .state import ROUTE, SLOT, check_settings

ROUTE_PARAMS = {"t", "a", "b", "cross", "w", "psi", "cut", "noise", "ns", "r"}
MAX_QUERY = 400


def render_query(store, params: dict[str, list[str]], query_len: int = 0) -> bytes:
    """PNG bytes of the token's single mix with the query's settings (which it keeps); RouteError else."""
    rr.check_query(params, query_len, ROUTE_PARAMS, MAX_QUERY)
    s = rr.by_token(store, SLOT, params["t"][0], "mixing")
    with s.lock:
        if s.model is None:
            raise RouteError(409, "no model to mix yet")
        cur = s.settings
        get = lambda k, d: params[k][0] if k in params else d  # noqa: E731
        w = get("w", None)
        layers = cur.layers if w is None else [p for p in w.split(",") if p]
        try:
            new = check_settings(s.model, get("a", cur.a), get("b", cur.b), get("cross", cur.crossover), layers,
                                 get("psi", cur.psi), get("cut", cur.cutoff), get("noise", cur.noise),
                                 get("ns", cur.noise_seed))
        except ValueError as e:
            raise RouteError(400, str(e)) from None
        s.settings = new
        return s.render_png()


def make_routes(store) -> list:
    return [rr.png_route(ROUTE, lambda params, n: render_query(store, params, n))]

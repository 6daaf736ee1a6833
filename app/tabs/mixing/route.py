"""The Mixing tab's fast render route for the single large mix, as the latent explorer's
(app/tabs/explore/route.py): `GET /mixing/render?t=TOKEN&a=..&b=..&cross=..&w=..&psi=..&cut=..&noise=..&ns=..`.
A few lines of page-side JavaScript (app/static/mixing_live.js) call it while a control moves, one request
in flight, newest values winning; a normal Gradio event (`mixing_set`) stores the values on release.

Only the model of the state the random token names is rendered; each parameter is parsed and bounded by
the same checks as the Gradio event (.state.check_settings); anything else is refused with one line."""

from __future__ import annotations

import re

from .state import ROUTE, SLOT, check_settings

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
ROUTE_PARAMS = {"t", "a", "b", "cross", "w", "psi", "cut", "noise", "ns", "r"}
MAX_QUERY = 400


class RouteError(ValueError):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def render_query(store, params: dict[str, list[str]], query_len: int = 0) -> bytes:
    """PNG bytes of the token's single mix with the query's settings (which it keeps); RouteError else."""
    if query_len > MAX_QUERY:
        raise RouteError(414, "query too long")
    unknown = sorted(set(params) - ROUTE_PARAMS)
    if unknown:
        raise RouteError(400, f"unknown parameter {unknown[0][:20]!r}")
    if any(len(v) != 1 for v in params.values()):
        raise RouteError(400, "each parameter may appear once")
    token = params.get("t", [""])[0]
    if not TOKEN_RE.match(token):
        raise RouteError(400, "malformed token")
    s = store.find(SLOT, token)
    if s is None:
        raise RouteError(403, "unknown or expired mixing token: reload the page")
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
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}

    def render(request):
        params: dict[str, list[str]] = {}
        for k, v in request.query_params.multi_items():
            params.setdefault(k, []).append(v)
        try:
            png = render_query(store, params, len(request.url.query))
        except RouteError as e:
            return PlainTextResponse(str(e), status_code=e.status, headers=headers)
        except Exception as e:  # a broken model must not take the server down
            return PlainTextResponse(f"render failed ({type(e).__name__})", status_code=500, headers=headers)
        return Response(png, media_type="image/png", headers=headers)

    return [Route(ROUTE, render, methods=["GET"])]

"""The Code knobs tab's fast render route, as the latent explorer's (app/tabs/explore/route.py explains
why): `GET /codes/render?t=TOKEN&cat=..&c0=..&c7=..` renders the token's own model with that category and
those continuous codes; one request is in flight at a time (app/static/codes_live.js). The token is random
per visitor and learned only through that visitor's events; only the parameters above are accepted, each
parsed and bounded; anything else is refused with a one-line reason."""

from __future__ import annotations

import re

from .state import KNOBS, ROUTE, SLOT, CodesSession

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
ROUTE_PARAMS = {"t", "r", "cat", *(f"c{i}" for i in range(KNOBS))}
MAX_QUERY = 600  # characters


class RouteError(ValueError):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def by_token(store, token: str) -> CodesSession:
    if not isinstance(token, str) or not TOKEN_RE.match(token):
        raise RouteError(400, "malformed token")
    s = store.find(SLOT, token)
    if s is None:
        raise RouteError(403, "unknown or expired token: reload the page")
    return s


def _number(text: str, name: str) -> float:
    if len(text) > 32:
        raise ValueError(f"{name} is too long")
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {text[:20]!r}") from None


def render_query(store, params: dict[str, list[str]], query_len: int = 0) -> bytes:
    """Validate a render request (name -> values), set the token's knobs and return the PNG picture;
    RouteError(status, reason) for anything wrong (the knobs stay as they were)."""
    if query_len > MAX_QUERY:
        raise RouteError(414, "query too long")
    unknown = sorted(set(params) - ROUTE_PARAMS)
    if unknown:
        raise RouteError(400, f"unknown parameter {unknown[0][:20]!r}")
    if any(len(v) != 1 for v in params.values()):
        raise RouteError(400, "each parameter may appear once")
    if "t" not in params:
        raise RouteError(400, "missing token t")
    s = by_token(store, params["t"][0])
    with s.lock:
        if s.model is None:
            raise RouteError(409, "no model with codes yet")
        try:
            cat = _number(params["cat"][0], "cat") if "cat" in params else None
            n = min(KNOBS, s.model.spec.n_cont)
            vals = list(s.cont[:n])
            for i in range(n):
                if f"c{i}" in params:
                    vals[i] = _number(params[f"c{i}"][0], f"c{i}")
            s.set_knobs(cat, vals)
        except ValueError as e:
            raise RouteError(400, str(e)) from None
        return s.render_png()


def make_routes(store) -> list:
    """Starlette routes to pass to the Gradio app."""
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}

    def render(request):  # sync: Starlette runs it in its thread pool
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

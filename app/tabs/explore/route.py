"""The latent explorer's fast render route.

Dragging a latent slider must feel live, and Gradio's event queue costs about 150 ms a round trip here.
So the explorer's main picture is an `<img>` that a few lines of JavaScript (app/static/explore_live.js)
point at a small route beside the Gradio app, `GET /explore/render?t=TOKEN&psi=..&v0=..&v7=..`, while a
slider moves; one request is in flight at a time and the newest slider values win.

Safety: each visitor's explorer state gets a random token (`secrets.token_urlsafe`) when it is created,
and the page learns it only through that visitor's own Gradio events. The route renders only the model
of the state the token names, accepts only the parameters above, each parsed and bounded, and serves
nothing else; a wrong token, an unknown parameter or a value out of range is refused with a one-line
reason.
"""

from __future__ import annotations

import re

from .state import ROUTE, SLIDERS, SLOT, ExploreSession, check_psi, check_slider

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
ROUTE_PARAMS = {"t", "psi", "r", *(f"v{i}" for i in range(SLIDERS))}
MAX_QUERY = 600  # characters


class RouteError(ValueError):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def by_token(store, token: str) -> ExploreSession:
    """The explorer state a render token names (counts as the visitor's activity)."""
    if not isinstance(token, str) or not TOKEN_RE.match(token):
        raise RouteError(400, "malformed token")
    s = store.find(SLOT, token)
    if s is None:
        raise RouteError(403, "unknown or expired explorer token: reload the page")
    return s


def _check_query(params: dict[str, list[str]], query_len: int) -> None:
    if query_len > MAX_QUERY:
        raise RouteError(414, "query too long")
    unknown = sorted(set(params) - ROUTE_PARAMS)
    if unknown:
        raise RouteError(400, f"unknown parameter {unknown[0][:20]!r}")
    if any(len(v) != 1 for v in params.values()):
        raise RouteError(400, "each parameter may appear once")
    if "t" not in params:
        raise RouteError(400, "missing token t")


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
    _check_query(params, query_len)
    s = by_token(store, params["t"][0])
    try:
        psi = check_psi(_float(params["psi"][0], "psi")) if "psi" in params else None
        vals = {i: check_slider(_float(params[f"v{i}"][0], f"v{i}")) for i in range(SLIDERS)
                if f"v{i}" in params}
        return _apply(s, psi, vals)
    except RouteError:
        raise
    except ValueError as e:
        raise RouteError(400, str(e)) from None


def _float(text: str, name: str) -> float:
    if len(text) > 32:
        raise ValueError(f"{name} is too long")
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {text[:20]!r}") from None


def make_routes(store) -> list:
    """Starlette routes to pass to the Gradio app (launch(app_kwargs={'routes': ...}))."""
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}

    def render(request):  # a sync endpoint: Starlette runs it in its thread pool
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

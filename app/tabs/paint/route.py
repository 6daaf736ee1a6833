"""GANPaint's fast routes: the picture follows the brush without Gradio's event queue.

While the visitor draws, app/static/paint_live.js sends the stroke so far to
`GET /paint/stroke?t=TOKEN&id=N&b=tree&a=add&g=1.0&k=6&m=HEX` (the cells of the layer's map the stroke
covers, one bit per cell, row-major, as hex) and draws the PNG it answers; the segmented class pixels
before and after come back in the `X-Class-Change` header (JSON). One request is in flight at a time and
the newest stroke wins. `GET /paint/render?t=TOKEN` answers the current picture.

Safety as the explorer's route: the random token names the visitor's own state, only the parameters
above are accepted, each parsed and bounded, and nothing else is served.
"""

from __future__ import annotations

import json
import re

import torch

from .state import ROUTE_RENDER, ROUTE_STROKE, SLOT, PaintSession

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
HEX_RE = re.compile(r"^[0-9a-f]{1,1024}$")
STROKE_PARAMS = {"t", "id", "b", "a", "g", "k", "m", "r"}
MAX_QUERY = 1400


class RouteError(ValueError):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def by_token(store, token: str) -> PaintSession:
    if not isinstance(token, str) or not TOKEN_RE.match(token):
        raise RouteError(400, "malformed token")
    s = store.find(SLOT, token)
    if s is None:
        raise RouteError(403, "unknown or expired painter token: reload the page")
    return s


def cells_from_hex(text: str, grid: tuple[int, int]) -> torch.Tensor:
    """A row-major bit mask in hex (the first cell is the highest bit) -> (h, w) bool."""
    h, w = grid
    if not HEX_RE.match(text) or len(text) != -(-h * w // 4):
        raise ValueError(f"the stroke mask must be {-(-h * w // 4)} hex digits for the {h}x{w} cells")
    bits = bin(int(text, 16))[2:].zfill(len(text) * 4)[:h * w]
    return torch.tensor([b == "1" for b in bits]).reshape(h, w)


def _one(params: dict, name: str) -> str:
    v = params.get(name)
    if v is None:
        raise RouteError(400, f"missing parameter {name}")
    return v[0]


def _number(text: str, name: str, kind=float):
    if len(text) > 24:
        raise ValueError(f"{name} is too long")
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {text[:20]!r}") from None


def stroke_query(store, params: dict[str, list[str]], query_len: int = 0) -> tuple[bytes, str]:
    """Apply the stroke a request describes; (PNG, class-change JSON) or RouteError."""
    if query_len > MAX_QUERY:
        raise RouteError(414, "query too long")
    unknown = sorted(set(params) - STROKE_PARAMS)
    if unknown:
        raise RouteError(400, f"unknown parameter {unknown[0][:20]!r}")
    if any(len(v) != 1 for v in params.values()):
        raise RouteError(400, "each parameter may appear once")
    s = by_token(store, _one(params, "t"))
    try:
        with s.lock:
            p = s.require()
            stroke = p.stroke(_one(params, "b"), _one(params, "a"), cells_from_hex(_one(params, "m"), p.grid),
                              _number(_one(params, "g"), "strength"), _number(_one(params, "k"), "units", int))
            sid = _number(_one(params, "id"), "stroke id", int)
            s.apply(sid, stroke)
            return s.png(), json.dumps(s.change())
    except RouteError:
        raise
    except ValueError as e:
        raise RouteError(400, str(e)) from None


def render_query(store, params: dict[str, list[str]]) -> bytes:
    if set(params) - {"t", "r"}:
        raise RouteError(400, "unknown parameter")
    s = by_token(store, _one(params, "t"))
    with s.lock:
        if s.painter is None:
            raise RouteError(409, "no model to paint on yet")
        return s.png()


def make_routes(store) -> list:
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}

    def _params(request) -> dict[str, list[str]]:
        params: dict[str, list[str]] = {}
        for k, v in request.query_params.multi_items():
            params.setdefault(k, []).append(v)
        return params

    def stroke(request):
        try:
            png, change = stroke_query(store, _params(request), len(request.url.query))
        except RouteError as e:
            return PlainTextResponse(str(e), status_code=e.status, headers=headers)
        except Exception as e:  # a broken model must not take the server down
            return PlainTextResponse(f"paint failed ({type(e).__name__})", status_code=500, headers=headers)
        return Response(png, media_type="image/png", headers={**headers, "X-Class-Change": change})

    def render(request):
        try:
            png = render_query(store, _params(request))
        except RouteError as e:
            return PlainTextResponse(str(e), status_code=e.status, headers=headers)
        except Exception as e:
            return PlainTextResponse(f"render failed ({type(e).__name__})", status_code=500, headers=headers)
        return Response(png, media_type="image/png", headers=headers)

    return [Route(ROUTE_STROKE, stroke, methods=["GET"]), Route(ROUTE_RENDER, render, methods=["GET"])]

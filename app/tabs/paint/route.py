"""GANPaint's fast routes: the picture follows the brush without Gradio's event queue.

While the visitor draws, app/static/paint_live.js sends the stroke so far to
`GET /paint/stroke?t=TOKEN&id=N&b=tree&a=add&g=1.0&k=6&m=HEX` (the cells of the layer's map the stroke
covers, one bit per cell, row-major, as hex) and draws the PNG it answers; the segmented class pixels
before and after come back in the `X-Class-Change` header (JSON). One request is in flight at a time and
the newest stroke wins. `GET /paint/render?t=TOKEN` answers the current picture.

Safety as every render route's (app/common/render_route.py): the random token names the visitor's own
state, only the parameters above are accepted, each parsed and bounded, and nothing else is served.
"""

from __future__ import annotations

import json
import re

import torch

from ...common import render_route as rr
from ...common.render_route import RouteError, number, one
from .state import ROUTE_RENDER, ROUTE_STROKE, SLOT, PaintSession

HEX_RE = re.compile(r"^[0-9a-f]{1,1024}$")
STROKE_PARAMS = {"t", "id", "b", "a", "g", "k", "m", "r"}
MAX_QUERY = 1400


def by_token(store, token: str) -> PaintSession:
    return rr.by_token(store, SLOT, token, "painter")


def cells_from_hex(text: str, grid: tuple[int, int]) -> torch.Tensor:
    """A row-major bit mask in hex (the first cell is the highest bit) -> (h, w) bool."""
    h, w = grid
    if not HEX_RE.match(text) or len(text) != -(-h * w // 4):
        raise ValueError(f"the stroke mask must be {-(-h * w // 4)} hex digits for the {h}x{w} cells")
    bits = bin(int(text, 16))[2:].zfill(len(text) * 4)[:h * w]
    return torch.tensor([b == "1" for b in bits]).reshape(h, w)


def stroke_query(store, params: dict[str, list[str]], query_len: int = 0) -> tuple[bytes, str]:
    """Apply the stroke a request describes; (PNG, class-change JSON) or RouteError."""
    rr.check_query(params, query_len, STROKE_PARAMS, MAX_QUERY, token=False)
    s = by_token(store, one(params, "t"))
    try:
        with s.lock:
            p = s.require()
            stroke = p.stroke(one(params, "b"), one(params, "a"), cells_from_hex(one(params, "m"), p.grid),
                              number(one(params, "g"), "strength", max_len=24),
                              number(one(params, "k"), "units", int, max_len=24))
            sid = number(one(params, "id"), "stroke id", int, max_len=24)
            s.apply(sid, stroke)
            return s.png(), json.dumps(s.change())
    except RouteError:
        raise
    except ValueError as e:
        raise RouteError(400, str(e)) from None


def render_query(store, params: dict[str, list[str]], query_len: int = 0) -> bytes:
    rr.check_query(params, query_len, {"t", "r"}, 200, token=False)
    s = by_token(store, one(params, "t"))
    with s.lock:
        if s.painter is None:
            raise RouteError(409, "no model to paint on yet")
        return s.png()


def make_routes(store) -> list:
    def stroke(params, n):
        png, change = stroke_query(store, params, n)
        return png, {"X-Class-Change": change}

    return [rr.png_route(ROUTE_STROKE, stroke, "paint failed"),
            rr.png_route(ROUTE_RENDER, lambda params, n: render_query(store, params, n))]

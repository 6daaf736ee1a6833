"""What every fast render route shares (the latent explorer's, Code knobs', Style mixing's, GANPaint's).

Dragging a control must feel live, and Gradio's event queue costs about 150 ms a round trip here, so a
tab's main picture is drawn by a few lines of page-side JavaScript (app/static/render_live.js) from a
small GET route beside the Gradio app while a control moves: one request in flight, the newest values
win. Safety, the same for every route: each visitor's state gets a random token (`secrets.token_urlsafe`)
when it is created, and the page learns it only through that visitor's own Gradio events. A route renders
only the model of the state its token names, accepts only its own parameters, each once, each parsed and
bounded, and serves nothing else; anything wrong is refused with a status and a one-line reason, and an
exception inside a model answers 500 with its type, never taking the server down.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


class RouteError(ValueError):
    """A refused request: the HTTP status and the one-line reason the page gets."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def check_query(params: dict[str, list[str]], query_len: int, allowed: set[str], max_query: int = 600,
                token: bool = True) -> None:
    """The checks before any value is read: the query's length, unknown or repeated parameters, the
    token's presence."""
    if query_len > max_query:
        raise RouteError(414, "query too long")
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise RouteError(400, f"unknown parameter {unknown[0][:20]!r}")
    if any(len(v) != 1 for v in params.values()):
        raise RouteError(400, "each parameter may appear once")
    if token and "t" not in params:
        raise RouteError(400, "missing token t")


def by_token(store, slot: str, token: str, what: str = ""):
    """The visitor state of kind `slot` that a render token names (counts as the visitor's activity)."""
    if not isinstance(token, str) or not TOKEN_RE.match(token):
        raise RouteError(400, "malformed token")
    s = store.find(slot, token)
    if s is None:
        raise RouteError(403, f"unknown or expired {what + ' ' if what else ''}token: reload the page")
    return s


def one(params: dict[str, list[str]], name: str) -> str:
    """The single value of a parameter the request must carry."""
    v = params.get(name)
    if v is None:
        raise RouteError(400, f"missing parameter {name}")
    return v[0]


def number(text: str, name: str, kind: type = float, max_len: int = 32):
    """`text` as a `kind` (float or int); ValueError naming `name` (the route turns it into a 400)."""
    if len(text) > max_len:
        raise ValueError(f"{name} is too long")
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {text[:20]!r}") from None


def png_route(path: str, answer: Callable[[dict[str, list[str]], int], bytes | tuple[bytes, dict]],
              failed: str = "render failed"):
    """A Starlette GET route at `path` whose endpoint hands `answer` the query (name -> values) and its
    length and serves the PNG bytes it returns (with extra headers when it returns (bytes, headers));
    RouteError answers its status and reason, any other exception 500 with `failed` and its type."""
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    def endpoint(request):  # a sync endpoint: Starlette runs it in its thread pool
        params: dict[str, list[str]] = {}
        for k, v in request.query_params.multi_items():
            params.setdefault(k, []).append(v)
        try:
            out = answer(params, len(request.url.query))
        except RouteError as e:
            return PlainTextResponse(str(e), status_code=e.status, headers=HEADERS)
        except Exception as e:  # a broken model must not take the server down
            return PlainTextResponse(f"{failed} ({type(e).__name__})", status_code=500, headers=HEADERS)
        png, extra = out if isinstance(out, tuple) else (out, {})
        return Response(png, media_type="image/png", headers={**HEADERS, **extra})

    return Route(path, endpoint, methods=["GET"])


STATIC = Path(__file__).resolve().parents[1] / "static"


def live_script(key: str, prefix: str, route: str, params_js: str, events: tuple[str, ...] = ("input",)) -> str:
    """The page-side script of a tab's fast path (app/static/render_live.js without its header comment):
    counters in `window.<key>`, controls marked with the class `<prefix>-live`, the picture in
    `#<prefix>-view` (an `img.<prefix>-img` with the token in `data-token`, and a `canvas.<prefix>-canvas`),
    `params_js` the tab's lines that set the query `p` from its controls."""
    if not (re.fullmatch(r"__[a-z]{2,8}", key) and re.fullmatch(r"[a-z]{2,8}", prefix)):
        raise ValueError(f"live_script: key {key!r} and prefix {prefix!r} must be short lowercase names")
    lines = (STATIC / "render_live.js").read_text(encoding="utf-8").splitlines()
    while lines and lines[0].startswith("//"):  # the header comment stays in the file
        lines.pop(0)
    text = "\n".join(lines)
    for name, value in (("PARAMS", params_js), ("ROUTE", route.lstrip("/")), ("EVENTS", repr(list(events))),
                        ("KEY", key), ("PFX", prefix)):
        text = text.replace(name, value)
    return text

"""The live channel of the Train tabs: frames of a visitor's own training, read by the page's script.

Gradio's event queue costs a round trip of about 150 ms and turns every picture into a file, so the Train
tabs' live views (the 2D plane, the image grid, the loss and metric curves) do not ride on it. The page
script (app/static/train_live.js) reads a stream of frames from a small route beside the Gradio app,
`GET /live/<tab>/stream?t=TOKEN&f=FRAME&s=STEP&run=RUN[...]` (app.common.live_stream), and draws the
newest. `GET /live/<tab>?...` (same query) answers one frame: the newest after frame `f` (never a queued
one), waiting up to half a second for it before answering 204 (nothing new); tools and tests use it.

A frame is data where data is cheaper than a picture (the 2D tab's points, D's heat map as a small grid,
G's manifold) and one PNG for the image grid. Curves come as the history rows newer than step `s` of run
`run`, so the page appends them; a new run (reset, preset, checkpoint) sends the whole history again.

Safety: each training slot gets a random token (`secrets.token_urlsafe`) that reaches only its visitor's
page, through their own Gradio event; a route serves only the slot its token names, of its own kind; it
accepts only its own parameters, each once, each parsed and bounded, in a query of at most 400
characters. Anything else is refused with 400/403/414 and a one-line reason, and changes nothing.
"""

from __future__ import annotations

import html
import json
import re
import time
from dataclasses import dataclass
from typing import Callable

from gan_core.viz.curves import curve_table

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
MAX_QUERY = 400  # characters
WAIT_S = 0.5  # a request waits this long for a new frame, then answers 204
MAX_CURVE_POINTS = 1500  # per series and frame (the first frame of a long run is thinned to this)
HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


class LiveError(ValueError):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Request:
    """A validated frame request: the slot, the last frame the page drew (-1: none), the last history
    step and run it holds, and the tab's own parameters (name -> text)."""

    slot: object
    after: int
    since: float
    run: int
    extra: dict


def _int(text: str, name: str, lo: int, hi: int) -> int:
    if len(text) > 12 or not re.fullmatch(r"-?\d+", text):
        raise LiveError(400, f"{name} must be a whole number")
    v = int(text)
    if not lo <= v <= hi:
        raise LiveError(400, f"{name} must be between {lo} and {hi}")
    return v


def parse(store, kind: str, params: dict[str, list[str]], query_len: int,
          extra: dict[str, Callable]) -> Request:
    """Validate a frame request's query (name -> values) for slots of `kind`; `extra` maps the tab's own
    parameter names to their parsers (text -> value, ValueError when bad). LiveError(status, reason)."""
    if query_len > MAX_QUERY:
        raise LiveError(414, "query too long")
    unknown = sorted(set(params) - {"t", "f", "s", "run", *extra})
    if unknown:
        raise LiveError(400, f"unknown parameter {unknown[0][:20]!r}")
    if any(len(v) != 1 for v in params.values()):
        raise LiveError(400, "each parameter may appear once")
    token = params.get("t", [""])[0]
    if not token:
        raise LiveError(400, "missing token t")
    if not TOKEN_RE.match(token):
        raise LiveError(400, "malformed token")
    one = {k: v[0] for k, v in params.items()}
    after = _int(one.get("f", "-1"), "f", -1, 2**53)
    since = _int(one.get("s", "-1"), "s", -1, 2**53)
    run = _int(one.get("run", "0"), "run", 0, 2**53)
    parsed = {}
    for name, fn in extra.items():
        if name in one:
            try:
                parsed[name] = fn(one[name])
            except ValueError as e:
                raise LiveError(400, str(e)) from None
    slot = store.find(kind, token)  # after the checks: a refused request is not the visitor's activity
    if slot is None:
        raise LiveError(403, "unknown or expired live token: reload the page")
    return Request(slot, after, since, run, parsed)


def next_frame(training, req: Request, wait: float = WAIT_S):
    """(frame number, snapshot, ms waited for it) newer than the page's, or None when none came within
    `wait`."""
    t0 = time.perf_counter()
    got = training.frame(req.after, timeout=wait)
    return None if got is None else (*got, round((time.perf_counter() - t0) * 1000, 1))


def curves(snap, req: Request, plots: dict[str, dict]) -> dict:
    """The snapshot's history rows newer than the page's as curve points: {"reset": the page must start
    its curves again (another run, or the weights rolled back), "to": the last step sent, plot name ->
    {series label -> [[step, value], ...]}}. `plots` maps a plot name to {row key: (label, scale)}."""
    reset = req.run != snap.extra.get("run", 0) or req.since < 0 or snap.step < req.since
    since = -1 if reset else req.since
    k = len(snap.rows)  # rows are in step order: scan back from the newest
    while k > 0 and snap.rows[k - 1].get("step", -1) > since:
        k -= 1
    new = snap.rows[k:]
    out: dict = {"reset": reset, "to": max([since, *(int(r["step"]) for r in new if "step" in r)])}
    for plot, spec in plots.items():
        table = curve_table(new, tuple(spec), MAX_CURVE_POINTS)
        series: dict[str, list] = {label: [] for label, _ in spec.values()}
        for s, v, key in zip(table["step"], table["value"], table["series"]):
            label, scale = spec[key]
            series[label].append([int(s), round(float(v) * scale, 5)])
        out[plot] = series
    return out


DTYPES = {"f4": "float32", "f2": "float16", "u1": "uint8"}


def encode(header: dict, arrays: dict) -> bytes:
    """A frame as bytes: a little-endian uint32 length, the JSON header (padded with spaces to 4 bytes)
    and the arrays' raw bytes (float32 ones first, then float16, then uint8: each starts aligned for its
    type), which the header lists as `arrays: {name: [dtype, byte offset after the header, shape]}`. The
    page reads them as typed arrays without parsing numbers (JSON of the same numbers took longer to write
    than the frame took to compute). float16 and uint8 arrays stay so; any other array is sent as float32."""
    import numpy as np

    def kind(a) -> str:
        return {np.dtype(np.float16): "f2", np.dtype(np.uint8): "u1"}.get(np.asarray(a).dtype, "f4")

    parts = [(k, np.ascontiguousarray(v, dtype=DTYPES[kind(v)]), kind(v)) for k, v in arrays.items()]
    parts.sort(key=lambda p: ("f4", "f2", "u1").index(p[2]))  # stable: the arrays keep their order
    layout, offset = {}, 0
    for k, a, dt in parts:
        layout[k] = [dt, offset, list(a.shape)]
        offset += a.nbytes
    text = json.dumps({**header, "arrays": layout}, separators=(",", ":"), allow_nan=False).encode()
    text += b" " * (-(4 + len(text)) % 4)  # the arrays start on a 4-byte boundary
    return len(text).to_bytes(4, "little") + text + b"".join(a.tobytes() for _, a, _ in parts)


def decode(body: bytes) -> tuple[dict, dict]:
    """(header, {name: numpy array}) of an encoded frame (for tests and tools)."""
    import numpy as np

    n = int.from_bytes(body[:4], "little")
    header = json.loads(body[4:4 + n])
    arrays = {}
    for k, (dt, off, shape) in header.pop("arrays").items():
        count = int(np.prod(shape)) if shape else 1
        arrays[k] = np.frombuffer(body, dtype=DTYPES[dt], count=count, offset=4 + n + off).reshape(shape)
    return header, arrays


def stamp(frame_no: int, snap) -> dict:
    """What every frame carries: its number, the training's step, state, run and when it was taken."""
    return {"frame": frame_no, "step": snap.step, "state": snap.state, "run": snap.extra.get("run", 0),
            "dataset": getattr(snap.data, "name", snap.cfg.dataset),
            "steps_per_s": round(float(snap.steps_per_s), 1), "t_ms": round(time.time() * 1000, 1)}


def endpoint_parse(request, store, kind: str, extra: dict[str, Callable]) -> Request:
    params: dict[str, list[str]] = {}
    for k, v in request.query_params.multi_items():
        params.setdefault(k, []).append(v)
    return parse(store, kind, params, len(request.url.query), extra)


def route(path: str, store, kind: str, extra: dict[str, Callable], build: Callable) -> object:
    """A Starlette GET route at `path` serving one frame of `kind` slots: `build(request)` returns
    (header dict, {name: array}) sent through `encode`, or None (nothing new: 204)."""
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    def endpoint(request):  # a sync endpoint: Starlette runs it in its thread pool
        t0 = time.perf_counter()
        try:
            req = endpoint_parse(request, store, kind, extra)
            frame = build(req)
        except LiveError as e:
            return PlainTextResponse(str(e), status_code=e.status, headers=HEADERS)
        except Exception as e:  # a broken model must not take the server down
            return PlainTextResponse(f"frame failed ({type(e).__name__})", status_code=500, headers=HEADERS)
        if frame is None:
            return Response(status_code=204, headers=HEADERS)
        frame[0].pop("keep", None)
        frame[0]["server_ms"] = round((time.perf_counter() - t0) * 1000, 1)  # waiting included
        return Response(encode(*frame), media_type="application/octet-stream", headers=HEADERS)

    # Not a render in the CPU scheduler's sense (app.server._render_first): a request waits up to WAIT_S
    # for the visitor's own training to reach a frame, and a frame is a few milliseconds of data from a
    # snapshot. Holding the scheduler's render priority for that stopped every training in the class
    # (measured: the viewed training lost 13 ms of rounds per frame, a third of its pace at 25 frames
    # a second); the frame shares the interpreter with the trainings instead.
    endpoint.quick = True
    return Route(path, endpoint, methods=["GET"])


def routes(path: str, store, kind: str, extra: dict[str, Callable], make: Callable,
           due: Callable | None = None, inline: bool = False) -> list:
    """The one-frame route at `path` (tools, tests, the live bench's probe) and the stream at
    `path`/stream (the page)."""
    from .live_stream import stream_route

    return [route(path, store, kind, extra, lambda req: one_frame(req, make, due)),
            stream_route(path + "/stream", store, kind, extra, make, due, inline)]


def one_frame(req: Request, make: Callable, due: Callable | None = None, wait: float = WAIT_S):
    """The one-frame route's answer: what `due` has now, else the next frame within `wait` (see
    `routes`), made by `make`; None when nothing new came."""
    got = due(req, True) if due is not None else None
    if got is not None:
        return make(req, (*got, 0.0))
    got = next_frame(req.slot.training, req, wait)
    return None if got is None else make(req, got)


CANVAS_STYLE = "width:100%;max-width:100%;display:block;border:1px solid #ccc;background:#fff"


def curve_html(kind: str, plot: str, title: str, bars: bool = False) -> str:
    """A canvas the page script draws a curve plot on (appended to with each frame of `kind`), or with
    `bars` the class histogram; it says what it will show until the first point arrives."""
    cls = "tl-bars" if bars else "tl-curve"
    return (f"<canvas class='{cls}' data-kind='{kind}' data-plot='{plot}' data-title='{html.escape(title)}' "
            f"width='420' height='240' style='{CANVAS_STYLE}'></canvas>")

"""The Train tabs' live streams: `GET /live/<tab>/stream?...` sends a visitor's frames for as long as the
page reads them (see app.common.live for the frames, the query and its rules).

Each message is a little-endian uint32 length and an `encode`d frame (length 0: nothing new, a keep-alive
every BEAT_S). The query is the one-frame route's; the stream then keeps the page's frame, curve step, run
and the tab's `keep` parameters itself. One connection per view instead of a request per frame: a request
cost the page's browser and the server's interpreter far more than the frame (docs/figures.md), while a
frame here wakes the event loop once (`TrainingSession.watch`) and nothing in the loop waits for a lock.
At most STREAM_FPS a second; the page draws the newest complete frame it has read and drops older ones.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable

from .live import HEADERS, LiveError, Request, encode, endpoint_parse

STREAM_FPS = 24  # a stream sends at most this many frames a second
BEAT_S = 2.0  # with nothing new, a stream sends an empty message this often (a closed page is noticed)
CHECK_S = 0.25  # and looks this often whether the tab has something to send without a frame (`due`)
MAX_STREAMS = 2  # streams open at once per slot and view (a page and its reload overlap for a moment)
KEEP_ALIVE = b"\0\0\0\0"

log = logging.getLogger(__name__)


async def next_frame_async(training, after: int, seen: tuple | None, timeout: float):
    """`TrainingSession.frame` for the event loop: (frame number, snapshot) of a boundary newer than
    `after` whose picture differs from `seen`, or None after `timeout` s. The training's thread only
    hands the loop a wake-up at the boundary; nothing blocks the loop."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    woke = asyncio.Event()

    def wake():  # from the training's thread
        try:
            loop.call_soon_threadsafe(woke.set)
        except RuntimeError:  # the loop has closed (the server stops)
            pass

    try:
        while True:
            woke.clear()
            training.watch(wake)  # before looking: a boundary in between still wakes us
            got = training.poll_frame(after)
            if got is not None:
                if training.frame_key(got[1]) != seen:
                    return got
                after = got[0]  # the same picture as the last frame: wait for the next boundary
                continue
            left = deadline - loop.time()
            if left <= 0:
                return None
            try:
                await asyncio.wait_for(woke.wait(), left)
            except asyncio.TimeoutError:
                return None
    finally:
        training.unwatch(wake)


class _Stream:
    """One page's stream of one slot: what it has sent so far, and how to make the next frame."""

    def __init__(self, req: Request, make: Callable, due: Callable | None, inline: bool):
        self.slot, self.make, self.due, self.inline = req.slot, make, due, inline
        self.after, self.since, self.run, self.params = req.after, req.since, req.run, dict(req.extra)
        self.seen: tuple | None = None

    async def next(self) -> bytes | None:
        """The next message's frame (encoded), or None when nothing new came within CHECK_S."""
        from starlette.concurrency import run_in_threadpool

        t0 = time.perf_counter()
        now = Request(self.slot, self.after, self.since, self.run, dict(self.params))
        got = self.due(now, False) if self.due is not None else None
        if got is None:
            got = await next_frame_async(self.slot.training, self.after, self.seen, CHECK_S)
        if got is None:
            return None
        no, snap = got
        args = (now, (no, snap, round((time.perf_counter() - t0) * 1000, 1)))
        here = self.inline and not self.slot.render_lock.locked()  # else a render holds the models
        header, arrays = self.make(*args) if here else await run_in_threadpool(self.make, *args)
        header["server_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        self.after, self.seen, self.run = no, self.slot.training.frame_key(snap), header.get("run", self.run)
        self.since = header.get("curves", {}).get("to", self.since)
        self.params.update(header.pop("keep", {}))
        return encode(header, arrays)


async def _messages(stream: _Stream, alive: Callable[[], bool], kind: str):
    """The stream's messages while `alive()` (the session lasts), paced to STREAM_FPS, with keep-alives."""
    open_now = stream.slot.__dict__.setdefault("live_streams", {})
    open_now[kind] = open_now.get(kind, 0) + 1
    beat, sent = time.monotonic(), -1e9  # the first frame goes at once
    try:
        while alive():
            try:
                body = await stream.next()
            except Exception as e:  # a broken model must not take the server down: the stream ends
                log.error("live frame failed", exc_info=e)
                return
            if body is None:
                if time.monotonic() - beat >= BEAT_S:
                    beat = time.monotonic()
                    yield KEEP_ALIVE
                continue
            gap = 1.0 / STREAM_FPS - (time.monotonic() - sent)
            if gap > 0:
                await asyncio.sleep(gap)
            beat = sent = time.monotonic()
            yield len(body).to_bytes(4, "little") + body
    finally:
        open_now[kind] -= 1


def stream_route(path: str, store, kind: str, extra: dict[str, Callable], make: Callable,
                 due: Callable | None = None, inline: bool = False) -> object:
    """A Starlette GET route at `path` streaming frames of `kind` slots. `make(req, (frame number,
    snapshot, ms waited))` builds a frame (header, arrays) - in the event loop with `inline` (cheap
    frames; in a worker thread while a render holds the slot's models), else in a worker thread;
    `due(req, block)` -> (frame number, snapshot) when the tab has something to show without a new frame
    (a scrubbed-back grid), or None; the stream asks without `block`. A frame's header may hold `keep`:
    parameters (not sent) the stream passes to the tab with the next frame, e.g. the grid the page shows."""
    from starlette.responses import PlainTextResponse, StreamingResponse
    from starlette.routing import Route

    async def endpoint(request):
        try:
            req = endpoint_parse(request, store, kind, extra)
        except LiveError as e:
            return PlainTextResponse(str(e), status_code=e.status, headers=HEADERS)
        slot, token = req.slot, request.query_params.get("t")
        if getattr(slot, "live_streams", {}).get(kind, 0) >= MAX_STREAMS:
            return PlainTextResponse("this view is already open in another page: close it or reload",
                                     status_code=429, headers=HEADERS)
        alive = lambda: store.find(kind, token) is slot  # noqa: E731 (an expired session ends the stream)
        return StreamingResponse(_messages(_Stream(req, make, due, inline), alive, kind),
                                 media_type="application/octet-stream", headers=HEADERS)

    endpoint.quick = True  # see app.common.live.route: a frame is no render
    return Route(path, endpoint, methods=["GET"])

"""The Train tabs' live channel: the route serves a visitor's own frames only and refuses anything else,
frames carry the plane as data (shapes and values as the PNG renderer draws them), curves arrive as new
points only, and the speed setting fixes the training rounds between two frames."""

from __future__ import annotations

import re
import urllib.error
import urllib.request

import numpy as np
import pytest
import torch

from app.common import live, live_stream
from app.common.sessions import TrainingSlot
from app.tabs.train2d.live import frame as plane_frame
from gan_core import models
from gan_core.training import presets
from gan_core.training.session import TrainingSession
from gan_core.viz import plane

LAYERS = ["heatmap", "real", "fake"]


def token_of(html: str) -> str:
    m = re.search(r"data-token='([A-Za-z0-9_-]+)'", html)
    assert m, f"no token in {html!r}"
    return m.group(1)


def get(app_url: str, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(app_url + path, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def frame_over_http(app_url: str, route: str, token: str, query: str = "") -> tuple[dict, dict]:
    status, body = get(app_url, f"{route}?t={token}&f=-1{query}")
    assert status == 200, body
    return live.decode(body)


@pytest.fixture()
def slot():
    """A 2D training slot on the collapse preset, drawn by its own PlaneRenderer."""
    s = TrainingSlot("k", TrainingSession(presets.get("collapse-ring").config), plane.PlaneRenderer())
    yield s
    s.training.close()


def request(s, after=-1, since=-1, run=0, **extra):
    return live.Request(s, after, since, run, extra)


# ------------------------------------------------------------------------------------------------ route


def test_route_refuses_bad_and_foreign_tokens(client, app_url):
    assert "data-token" not in client.predict(api_name="/t2d_live_view"), "opening the page makes no slot"
    client.predict("collapse-ring", LAYERS, api_name="/t2d_load_preset")  # the first real use
    t2d = token_of(client.predict(api_name="/t2d_live_view"))
    ok = f"live/2d?t={t2d}&f=-1"
    assert get(app_url, ok)[0] == 200
    refused = {
        "live/2d": (400, "missing token"),
        "live/2d?t=short": (400, "malformed token"),
        "live/2d?t=" + "x" * 32: (403, "unknown or expired"),
        f"live/img?t={t2d}": (403, "unknown or expired"),  # a 2D slot's token is not an image slot's
        f"live/2d?t={t2d}&t={t2d}": (400, "once"),
        f"live/2d?t={t2d}&x=1": (400, "unknown parameter"),
        f"live/2d?t={t2d}&f=1e3": (400, "whole number"),
        f"live/2d?t={t2d}&f=-2": (400, "between"),
        f"live/2d?t={t2d}&layers=heatmap,heatmap": (400, "once"),
        f"live/2d?t={t2d}&layers=../etc": (400, "unknown layer"),
        f"live/img?t={t2d}&g=abc": (400, "whole number"),  # checked before the token is looked up
        f"live/2d?t={t2d}&layers=" + "real," * 100: (414, "too long"),
    }
    for path, (code, words) in refused.items():
        status, body = get(app_url, path)
        assert (status, words in body.decode()) == (code, True), f"{path[:60]}: {status} {body[:80]!r}"
    assert get(app_url, ok)[0] == 200, "the route still serves after the refusals"


@pytest.mark.slow
def test_two_sessions_see_only_their_own_frames(make_client, app_url):
    a, b = make_client(), make_client()
    a.predict("stable-grid", LAYERS, api_name="/t2d_load_preset")
    b.predict("collapse-ring", LAYERS, api_name="/t2d_load_preset")
    ta, tb = token_of(a.predict(api_name="/t2d_live_view")), token_of(b.predict(api_name="/t2d_live_view"))
    assert ta != tb
    for _ in range(3):
        a.predict(LAYERS, api_name="/t2d_step")
    fa, _ = frame_over_http(app_url, "live/2d", ta)
    fb, _ = frame_over_http(app_url, "live/2d", tb)
    assert (fa["dataset"], fa["step"], fa["extent"]) == ("grid", 3, plane_extent("grid"))
    assert (fb["dataset"], fb["step"], fb["extent"]) == ("ring", 0, plane_extent("ring"))


def plane_extent(name: str) -> float:
    from gan_core.data import toy2d

    return float(toy2d.get(name).extent)


@pytest.mark.slow
def test_an_image_frame_holds_the_grid_as_png(make_client, app_url):
    from io import BytesIO

    from PIL import Image

    c = make_client()
    token = token_of(c.predict(api_name="/img_live_view"))
    assert get(app_url, f"live/2d?t={token}")[0] == 403, "an image slot's token is not a 2D slot's"
    header, arrays = frame_over_http(app_url, "live/img", token)
    img = Image.open(BytesIO(arrays["grid"].tobytes()))
    assert img.format == "PNG" and img.size[0] >= 8 * 16 and header["following"] is True
    assert header["hist"]["counts"] is None and header["hist"]["evaluator"] == "classifier"


# ----------------------------------------------------------------------------------------------- frames


def test_a_frame_carries_the_plane_as_data(slot):
    for _ in range(5):
        slot.training.step("both")
    header, arrays = plane_frame(slot, request(slot, layers=tuple(plane.LAYERS)), wait=0)
    assert header["step"] == 5 and header["extent"] == 1.5 and header["dataset"] == "ring"
    assert {k: v.shape for k, v in arrays.items()} == {
        "heat": (48, 48), "real": (500, 2), "fake": (500, 2), "manifold": (26, 60, 2), "arrows": (150, 2, 2)}
    assert arrays["heat"].dtype == np.uint8 and arrays["fake"].dtype == np.float16
    # the fakes are the PNG renderer's: the snapshot's G on the renderer's fixed latents (sent as float16:
    # within 1/2048 of the value, an eighth of a pixel inside the plane)
    G = slot.renderer.G
    z = models.sample_latent(G.latent_spec, 500, torch.Generator().manual_seed(2))
    with torch.no_grad():
        np.testing.assert_allclose(arrays["fake"], G(z).numpy(), rtol=2 ** -11, atol=1e-6)
    # the heat map is D's verdict at the cell centres, row 0 at the top
    c = torch.linspace(-1.5 + 1.5 / 48, 1.5 - 1.5 / 48, 48)
    with torch.no_grad():
        p = plane.verdict(slot.renderer.D, c, "nonsaturating").numpy()
    assert np.abs(arrays["heat"].astype(float) - p * 255).max() <= 1.0
    assert np.all(np.abs(arrays["real"]) < 1.5)
    # and it survives the wire
    h2, a2 = live.decode(live.encode(header, arrays))
    assert h2 == header and all(np.array_equal(a2[k], arrays[k]) for k in arrays)
    only, = [plane_frame(slot, request(slot, layers=("fake",)), wait=0)]
    assert set(only[1]) == {"fake"}


def test_layers_are_computed_once_per_weights(slot):
    """D's heat map follows D's weights only, the fakes and the manifold G's only, the arrows both: a
    layer is reused while the weights it came from stay the same, and recomputed as soon as they change."""
    r, t, layers = slot.renderer, slot.training, tuple(plane.LAYERS)
    t.step("both")
    a = r.frame_data(t.snapshot(), layers)
    again = r.frame_data(t.snapshot(), layers)  # another snapshot of the same weights
    assert all(again[k] is a[k] for k in ("heat", "fake", "manifold", "arrows"))
    t.step("d")  # D moves, G stays
    d = r.frame_data(t.snapshot(), layers)
    assert d["fake"] is a["fake"] and d["manifold"] is a["manifold"]
    assert d["heat"] is not a["heat"] and d["arrows"] is not a["arrows"]
    t.step("g")  # G moves, D stays
    g = r.frame_data(t.snapshot(), layers)
    assert g["heat"] is d["heat"] and g["fake"] is not d["fake"] and g["manifold"] is not d["manifold"]
    # what is reused equals what a fresh renderer computes from the same snapshot
    fresh = plane.PlaneRenderer().frame_data(t.snapshot(), layers)
    for k in ("heat", "fake", "manifold", "arrows"):
        np.testing.assert_allclose(g[k], fresh[k], atol=1e-6, err_msg=k)
    assert not g["fake"].flags.writeable, "the cached layers are read-only"
    # the PNG renderer draws the same weights after the cache (it loads a changed snapshot)
    t.step("both")
    fresh_png = plane.PlaneRenderer().render(t.snapshot())
    assert np.array_equal(r.render(t.snapshot()), fresh_png)


def test_titles_and_colours_come_with_a_curves_reset_only(slot):
    t = slot.training
    t.step("both")
    first, _ = plane_frame(slot, request(slot), wait=0)
    assert first["curves"]["reset"] and first["titles"]["loss"] and first["colors"]
    t.step("both")
    nxt, _ = plane_frame(slot, request(slot, first["frame"], first["curves"]["to"], first["run"]), wait=0)
    assert not nxt["curves"]["reset"] and "titles" not in nxt and "colors" not in nxt


def test_encoding_keeps_each_array_aligned_and_exact():
    arrays = {"u": np.arange(7, dtype=np.uint8), "h": np.array([[0.5, -1.25], [np.nan, np.inf]], np.float16),
              "f": np.linspace(-1, 1, 5, dtype=np.float64)}
    body = live.encode({"x": 1}, arrays)
    header, back = live.decode(body)
    n = int.from_bytes(body[:4], "little")
    assert header == {"x": 1} and (4 + n) % 4 == 0
    assert [back[k].dtype for k in ("f", "h", "u")] == [np.float32, np.float16, np.uint8]
    offsets = {k: v[1] for k, v in live.decode.__globals__["json"].loads(body[4:4 + n])["arrays"].items()}
    assert offsets["f"] == 0 and offsets["h"] == 20 and offsets["u"] == 28, "float32, then float16, then uint8"
    np.testing.assert_array_equal(back["h"], arrays["h"])
    np.testing.assert_array_equal(back["u"], arrays["u"])
    np.testing.assert_allclose(back["f"], arrays["f"], atol=1e-7)


def test_a_waiting_live_request_leaves_the_trainings_their_turns(slot):
    """The live route is not a render for the CPU scheduler: while a page's request waits for a frame
    of a paused training (half a second, then 204), another training still gets its turn at once."""
    import threading
    import time

    from starlette.requests import Request as HTTPRequest

    from app import server
    from app.tabs.train2d.live import make_routes
    from app.tabs.train2d.state import SLOT
    from gan_core.training.scheduler import CPUScheduler

    class Store:
        def find(self, kind, token):
            return slot if (kind, token) == (SLOT, slot.token) else None

    sched = CPUScheduler(slots=1)
    route, stream = [server._render_first(r, sched) for r in make_routes(Store())]
    assert stream.path == "/live/2d/stream" and getattr(stream.endpoint, "quick", False)
    first, _ = plane_frame(slot, request(slot), wait=0)
    scope = {"type": "http", "method": "GET", "path": "/live/2d", "headers": [],
             "query_string": f"t={slot.token}&f={first['frame']}".encode()}
    answer = {}
    waiting = threading.Thread(target=lambda: answer.setdefault("r", route.endpoint(HTTPRequest(scope))))
    waiting.start()
    time.sleep(0.1)  # the request now waits for a frame that will not come
    t0 = time.perf_counter()
    got = sched.acquire("another training", cancelled=lambda: time.perf_counter() - t0 > 0.3)
    sched.release("another training")
    waiting.join()
    assert got, "a training waited for a live request"
    assert answer["r"].status_code == 204


def test_curves_come_as_new_points_only(slot):
    t = slot.training
    for _ in range(4):
        t.step("both")
    first, _ = plane_frame(slot, request(slot), wait=0)
    c = first["curves"]
    assert c["reset"] is True and [s for s, _ in c["loss"]["D loss"]] == [1, 2, 3, 4] and c["to"] >= 4
    for _ in range(2):
        t.step("both")
    nxt, _ = plane_frame(slot, request(slot, first["frame"], c["to"], first["run"]), wait=0)
    assert nxt["curves"]["reset"] is False
    assert [s for s, _ in nxt["curves"]["loss"]["G loss"]] == [5, 6]
    t.reset()  # a new run: the page must start its curves again
    again, _ = plane_frame(slot, request(slot, nxt["frame"], nxt["curves"]["to"], nxt["run"]), wait=0)
    assert again["run"] != nxt["run"] and again["curves"]["reset"] is True and again["step"] == 0


def test_nothing_new_is_answered_with_nothing(slot):
    header, _ = plane_frame(slot, request(slot), wait=0)
    nothing = plane_frame(slot, request(slot, header["frame"]), wait=0.05)
    assert nothing is None, "a paused session has no new frame"
    slot.training.step("both")
    header2, _ = plane_frame(slot, request(slot, header["frame"]), wait=0.05)
    assert header2["step"] == 1


@pytest.mark.parametrize("speed,n", [("1", 1), ("10", 10)])
def test_speed_sets_rounds_per_frame(slot, speed, n):
    t = slot.training
    t.set_speed(speed)
    t.play()
    try:
        after, steps = -1, []
        while len(steps) < 12:
            got = t.frame(after, timeout=5)
            assert got is not None
            after, snap = got
            steps.append(snap.step)
    finally:
        t.pause()
    gaps = np.diff(steps[2:])  # the first frames may catch the thread starting
    assert np.all(gaps % n == 0) and np.all(gaps > 0), f"frames {steps} are not {n} rounds apart"
    assert np.median(gaps) == n, f"frames {steps} are not {n} rounds apart"


def test_full_speed_frames_follow_training(slot):
    t = slot.training
    t.play()
    try:
        after, steps = -1, []
        for _ in range(6):
            after, snap = t.frame(after, timeout=5)
            steps.append(snap.step)
    finally:
        t.pause()
    assert all(b > a for a, b in zip(steps, steps[1:])), f"full-speed frames {steps} do not advance"


def test_unknown_speed_is_refused(slot):
    with pytest.raises(ValueError, match="speed must be one of full, 100, 10, 1"):
        slot.training.set_speed("fast")


@pytest.mark.slow
def test_a_scrubbed_back_grid_is_sent_at_once(make_client, app_url):
    c = make_client()
    token = token_of(c.predict(api_name="/img_live_view"))
    for _ in range(2):
        c.predict(api_name="/img_step")
    first, _ = frame_over_http(app_url, "live/img", token)
    assert first["following"] is True and first["grid_step"] == 2
    c.predict(0, api_name="/img_scrub")  # back to the start of the run: the kept grid of step 0 or 1
    status, body = get(app_url, f"live/img?t={token}&f={first['frame']}&g=2")
    header, arrays = live.decode(body)
    assert status == 200 and header["following"] is False and header["grid_step"] < 2 and "grid" in arrays
    s = Stream(app_url, "live/img", token, f"&g={header['grid_step']}")  # the page's stream, on that grid
    try:
        assert s.frame()[0]["grid_step"] == header["grid_step"]
        c.predict(100, api_name="/img_scrub")  # back to the live grid, the training paused: it comes at once
        again, arrays = s.frame()
        assert again["grid_step"] == 2 and "grid" in arrays
    finally:
        s.close()


@pytest.mark.skipif(not __import__("os").path.isdir("/proc"), reason="reads /proc")
def test_the_live_bench_counts_cpu_of_the_right_processes():
    """`bench --live` charges CPU to the app's process and to the browser's (every other descendant)."""
    import os
    import subprocess
    import sys

    from gan_core import livebench

    server = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        pids = livebench._browser_pids(server.pid)
        assert busy.pid in pids and server.pid not in pids and os.getpid() not in pids
        a = livebench._cpu_s([busy.pid])
        __import__("time").sleep(0.5)
        assert livebench._cpu_s([busy.pid]) - a > 0.1, "a busy process's CPU seconds grow"
        assert livebench._cpu_s([]) is None
    finally:
        for p in (server, busy):
            p.kill()
            p.wait()


def test_the_page_refresh_hands_the_canvas_its_token_until_the_canvas_uses_it(make_client, app_url):
    """An update can be lost or overtaken, so the page's refresh keeps its timer on and hands the token
    over again (at most every 2 s) until a frame request with the token arrives; then it stops."""
    c = make_client()
    c.predict("collapse-ring", LAYERS, api_name="/t2d_load_preset")  # the first real use makes the slot
    first = c.predict(LAYERS, api_name="/t2d_poll_page")
    token = token_of(first[-1])
    timer = [r for r in first if isinstance(r, dict) and "active" in r][0]
    assert timer["active"] is True
    again = c.predict(LAYERS, api_name="/t2d_poll_page")
    assert "data-token" not in str(again[-1]), "not handed over again at once"
    assert [r for r in again if isinstance(r, dict) and "active" in r][0]["active"] is True, \
        "the refresh goes on while the canvas has not used its token"
    frame_over_http(app_url, "live/2d", token)  # the canvas asks for a frame
    after = c.predict(LAYERS, api_name="/t2d_poll_page")
    assert [r for r in after if isinstance(r, dict) and "active" in r][0]["active"] is False, \
        "an idle training's page stops refreshing once its canvas is served"


# ---------------------------------------------------------------------------------------------- streams


class Stream:
    """A page's stream of frames (`<route>/stream`), read message by message."""

    def __init__(self, app_url: str, route: str, token: str, query: str = ""):
        self.r = urllib.request.urlopen(f"{app_url}{route}/stream?t={token}&f=-1{query}", timeout=30)

    def message(self) -> tuple[dict, dict] | None:
        """The next frame, or None for a keep-alive."""
        n = int.from_bytes(self.r.read(4), "little")
        return live.decode(self.r.read(n)) if n else None

    def frame(self) -> tuple[dict, dict]:
        while True:
            got = self.message()
            if got is not None:
                return got

    def close(self):
        self.r.close()


def stream_status(app_url: str, route: str, token: str) -> tuple[int, bytes]:
    return get(app_url, f"{route}/stream?t={token}&f=-1")


def streams_open(slot_token: str, app) -> int:
    from app.tabs.train2d.state import SLOT

    s = app.app_context.sessions.find(SLOT, slot_token)
    return getattr(s, "live_streams", {}).get(SLOT, 0)


def test_a_stream_sends_the_sessions_own_frames_as_training_goes_on(make_client, app_url, app):
    import time

    a, b = make_client(), make_client()
    a.predict("stable-grid", LAYERS, api_name="/t2d_load_preset")
    b.predict("collapse-ring", LAYERS, api_name="/t2d_load_preset")
    ta, tb = token_of(a.predict(api_name="/t2d_live_view")), token_of(b.predict(api_name="/t2d_live_view"))
    a.predict(LAYERS, api_name="/t2d_play")
    sa, sb = Stream(app_url, "live/2d", ta), Stream(app_url, "live/2d", tb)
    try:
        frames = [sa.frame()[0] for _ in range(4)]
        assert {f["dataset"] for f in frames} == {"grid"}
        numbers = [f["frame"] for f in frames]
        assert numbers == sorted(set(numbers)), "frames go forward, none twice"
        assert frames[-1]["step"] > frames[0]["step"], "the stream follows the training"
        assert frames[0]["curves"]["reset"], "the first frame starts the curves"
        first_points = next(i for i, f in enumerate(frames + [sa.frame()[0]]) if f["curves"]["to"] >= 0)
        assert not any(f["curves"]["reset"] for f in frames[first_points + 1:]), \
            "once the curves have points, they come as new points only"
        fb, arrays = sb.frame()
        assert (fb["dataset"], fb["step"]) == ("ring", 0) and arrays["heat"].dtype == np.uint8
        assert streams_open(ta, app) == 1
    finally:
        a.predict(LAYERS, api_name="/t2d_pause")
        sa.close(), sb.close()
    deadline = time.monotonic() + 10
    while streams_open(ta, app) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert streams_open(ta, app) == 0, "a closed page's stream ends on the server"


def test_a_stream_refuses_foreign_tokens_and_a_third_page(make_client, app_url, app):
    import time

    c = make_client()
    c.predict("collapse-ring", LAYERS, api_name="/t2d_load_preset")  # the first real use makes the slot
    token = token_of(c.predict(api_name="/t2d_live_view"))
    assert stream_status(app_url, "live/2d", "x" * 20)[0] == 403
    assert stream_status(app_url, "live/img", token)[0] == 403, "a 2D slot's token opens no image stream"
    assert stream_status(app_url, "live/2d", token + "&bogus=1")[0] == 400
    one, two = Stream(app_url, "live/2d", token), Stream(app_url, "live/2d", token)
    try:
        one.frame(), two.frame()
        status, body = stream_status(app_url, "live/2d", token)
        assert status == 429 and b"another page" in body
    finally:
        one.close(), two.close()
    deadline = time.monotonic() + 10
    while streams_open(token, app) and time.monotonic() < deadline:
        time.sleep(0.1)
    idle = Stream(app_url, "live/2d", token)  # room again; a paused training's stream keeps itself alive
    try:
        assert idle.frame()[0]["state"] in ("idle", "paused")
        t0 = time.monotonic()
        assert idle.message() is None and time.monotonic() - t0 < live_stream.BEAT_S + 2
    finally:
        idle.close()


def test_a_boundary_a_viewer_waits_for_carries_the_trainings_own_snapshot(slot):
    """At full speed the chunk ends for a waiting viewer and the training thread hands over its snapshot
    (and wakes the viewer's watcher), so the viewer never waits for the training's lock."""
    import threading

    t = slot.training
    t.play()
    try:
        t.frame(-1, timeout=2)
        seen, woke = [], threading.Event()

        def at_boundary():  # called in the training's thread, right after it published the boundary
            seen.append((t._frame_no, t._frame_snap))
            woke.set()

        while True:  # ask as a viewer does: nothing newer than the last boundary yet
            no = t._frame_no
            if t.poll_frame(no) is None:
                break
        for _ in range(3):  # the boundary the viewer asked for (one a chunk had already reached may come first)
            woke.clear()
            t.watch(at_boundary)
            t.watch(at_boundary)  # once is enough
            assert woke.wait(5)
            if seen[-1][1] is not None:
                break
        assert len(seen) <= 3 and seen[-1][1] is not None and seen[-1][1].state == "running", \
            "the boundary came with the training's snapshot"
        got = t.poll_frame(no)
        assert got is not None and got[0] >= seen[-1][0] > no
    finally:
        t.pause()

"""`python -m gan_core load`: a class of simulated students against a local server, bounded in time.

It starts `launch.py` on a free local port (its own data folder, the class size set to the number of
students) and drives it over HTTP the way the page does, with the standard library only: Gradio's API
(`POST /gradio_api/call/<api name>` with the student's own session hash, then the event's result stream)
and the explorer's render route. Every student opens every tab (`t2d_init`, `img_init`,
`explore_init`); `trainings` of them load a 2D preset, press Train and follow it as the page does: the
page's timer event (`t2d_poll_page`: counter and status) every 0.3 s, and the live plane's frames
(the stream `GET /live/2d/stream`, every frame read, as the page reads it); the others drag
explorer sliders (bursts of renders through the render route, one in flight, then `explore_move` on
release, then a pause). After `seconds` it reads every training's step,
tries one student beyond the class, stops the server and reports:

- `errors`: failed requests of any kind (an error event, an HTTP error, a refused render);
- `render_p50_ms`/`render_p95_ms`, `poll_p50_ms`/`poll_p95_ms`, `open_p95_ms`, `move_p95_ms`: latency
  percentiles per kind of request, measured by the client (request sent to answer read);
- `live_fps`: frames of the live plane each trainer received per second; `live_fps_min` the lowest;
- `steps`: each training's steps; `min_fair_share`: the slowest training's steps over the mean;
- `peak_rss_gb`: the server process's peak resident memory (VmHWM);
- `cross_session_leaks`: a student who had not trained seeing a training, a trainer seeing another
  dataset than the one they chose, two students sharing a render token, or another student's (or a
  made-up) token answering;
- `class_full`: whether the student beyond the class got the message naming the limit.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import secrets
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field

from .load_server import LoadError, peak_rss_gb, free_port, start_server, wait_ready  # noqa: F401

LAYERS = ["heatmap", "real", "fake"]
PRESETS = ("stable-ring", "collapse-ring")  # what the training students load, alternately
POLL_S = 0.3  # the trainers' poll interval (the Train (2D) page's timer)
BURST = (5, 15)  # renders per slider drag
RENDER_GAP_S = 0.04  # between two renders of a drag (the page sends the next one when the last is drawn)
THINK_S = (2.0, 6.0)  # looking at the picture, reading, choosing the next slider


class ApiError(RuntimeError):
    """An event ended with an error; the message is Gradio's."""


@dataclass
class Tally:
    """Latencies per kind and errors, shared by the student threads."""

    ms: dict = field(default_factory=dict)  # kind -> [milliseconds]
    errors: list = field(default_factory=list)  # one line each
    leaks: list = field(default_factory=list)  # one line each
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, ms: float) -> None:
        with self.lock:
            self.ms.setdefault(kind, []).append(ms)

    def error(self, what: str) -> None:
        with self.lock:
            self.errors.append(what[:200])

    def leak(self, what: str) -> None:
        with self.lock:
            self.leaks.append(what[:200])

    def pct(self, kind: str, q: float) -> float | None:
        xs = sorted(self.ms.get(kind, []))
        if not xs:
            return None
        return round(xs[min(len(xs) - 1, int(q * len(xs)))], 1)


class Student:
    """One simulated visitor: a session hash of their own and a kept-alive HTTP connection."""

    def __init__(self, port: int, tally: Tally, timeout: float = 120.0):
        self.port, self.tally, self.timeout = port, tally, timeout
        self.session = secrets.token_hex(6)
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def _request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        for attempt in (0, 1):  # one retry on a connection the server closed while idle
            try:
                self.conn.request(method, path, body=body, headers=headers)
                r = self.conn.getresponse()
                return r.status, r.read()
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def call(self, api_name: str, *data, kind: str | None = None) -> list:
        """Run an event as the page would (the student's session) and return its outputs."""
        t0 = time.perf_counter()
        body = json.dumps({"data": list(data), "session_hash": self.session}).encode()
        status, raw = self._request("POST", f"/gradio_api/call/{api_name}", body)
        if status != 200:
            raise ApiError(f"{api_name}: HTTP {status}: {raw[:120]!r}")
        event_id = json.loads(raw)["event_id"]
        status, raw = self._request("GET", f"/gradio_api/call/{api_name}/{event_id}")
        if status != 200:
            raise ApiError(f"{api_name}: HTTP {status} on the result")
        event, out = None, None
        for line in raw.decode("utf-8", "replace").splitlines():
            if line.startswith("event: "):
                event = line[7:].strip()
            elif line.startswith("data: ") and event in ("complete", "error"):
                out = json.loads(line[6:])
                break
        if event != "complete":
            raise ApiError(f"{api_name}: {out}")
        if kind:
            self.tally.add(kind, 1000 * (time.perf_counter() - t0))
        return out

    def render(self, token: str, values: list[float]) -> tuple[int, bytes]:
        query = "&".join([f"t={token}", *(f"v{i}={v:.3f}" for i, v in enumerate(values))])
        t0 = time.perf_counter()
        status, body = self._request("GET", f"/explore/render?{query}")
        if status == 200:
            self.tally.add("render", 1000 * (time.perf_counter() - t0))
        return status, body


def status_of(outputs: list) -> dict:
    """The training status record among a Train (2D) event's outputs."""
    for o in outputs:
        if isinstance(o, dict) and {"step", "state"} <= set(o):
            return o
    raise ApiError("no status record in the outputs")


def token_of(outputs: list) -> str | None:
    for o in outputs:
        if isinstance(o, str):
            m = re.search(r"data-token='([A-Za-z0-9_-]+)'", o)
            if m:
                return m.group(1)
    return None


def _guarded(tally: Tally, what: str, fn, *args):
    try:
        return fn(*args)
    except (ApiError, OSError, ValueError, KeyError, http.client.HTTPException) as e:
        tally.error(f"{what}: {e}")
        return None


def _open_tabs(s: Student) -> str | None:
    """Every tab's first event; returns the explorer's render token."""
    s.call("t2d_init", LAYERS, kind="open")
    s.call("img_init", kind="open")
    return token_of(s.call("explore_init", kind="open"))


def _trainer(s: Student, preset: str, stop: threading.Event, out: dict) -> None:
    s.call("t2d_load_preset", preset, LAYERS, kind="open")
    s.call("t2d_play", LAYERS, kind="open")
    last, frames = {}, None
    while not stop.is_set():
        t0 = time.perf_counter()
        outputs = s.call("t2d_poll_page", LAYERS, kind="poll")
        last = status_of(outputs)
        if last.get("dataset") and preset.split("-")[-1] not in str(last["dataset"]):
            s.tally.leak(f"a trainer of {preset} saw dataset {last['dataset']}")
        token = token_of(outputs)
        if token and frames is None:  # the page's canvas got its token: it starts fetching frames
            frames = threading.Thread(target=_frames, args=(s, token, stop, out), daemon=True)
            frames.start()
        stop.wait(max(0.0, POLL_S - (time.perf_counter() - t0)))
    if frames is not None:
        frames.join(timeout=5)
    out["status"] = last


def _frames(s: Student, token: str, stop: threading.Event, out: dict) -> None:
    """The live plane's stream on its own connection, read as the page reads it (every frame taken)."""
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=s.timeout)
    n, t0 = 0, time.perf_counter()
    layers = ",".join(LAYERS)
    try:
        conn.request("GET", f"/live/2d/stream?t={token}&f=-1&s=-1&run=0&layers={layers}")
        r = conn.getresponse()
        if r.status != 200:
            s.tally.error(f"live stream: HTTP {r.status}: {r.read()[:80]!r}")
            return
        while not stop.is_set():
            size = int.from_bytes(_read(r, 4), "little")
            if size:
                body = _read(r, size)
                json.loads(body[4:4 + int.from_bytes(body[:4], "little")])  # the page parses each frame
                n += 1
    except (OSError, ValueError, KeyError, http.client.HTTPException) as e:
        s.tally.error(f"live frame: {e}")
    finally:
        conn.close()
        out["live_fps"] = round(n / max(time.perf_counter() - t0, 1e-9), 1)


def _read(r, n: int) -> bytes:
    data = r.read(n)
    if len(data) != n:
        raise ValueError("the live stream ended")
    return data


def _dragger(s: Student, token: str, stop: threading.Event, rng: random.Random) -> None:
    while not stop.is_set():
        values = [0.0] * 4
        for _ in range(rng.randint(*BURST)):
            if stop.is_set():
                break
            values[rng.randrange(4)] = round(rng.uniform(-3, 3), 2)
            status, body = s.render(token, values)
            if status != 200:
                s.tally.error(f"render: HTTP {status}: {body[:80]!r}")
            time.sleep(RENDER_GAP_S)
        s.call("explore_move", 1.0, *values, 0, 0, 0, 0, kind="move")
        stop.wait(rng.uniform(*THINK_S))


def _student(i: int, s: Student, trainings: int, stop: threading.Event, go: threading.Event,
             results: dict, seed: int) -> None:
    rng = random.Random(seed * 1000 + i)
    out = results.setdefault(i, {"token": None})
    out["trainer"] = i < trainings
    try:
        if out["token"] is None:
            time.sleep(rng.uniform(0, 3))  # students arrive over a few seconds
            out["token"] = _open_tabs(s)
        go.wait()
        if i < trainings:
            _trainer(s, PRESETS[i % len(PRESETS)], stop, out)
        elif out["token"]:
            _dragger(s, out["token"], stop, rng)
        else:
            s.tally.error("explore_init gave no render token")
    except (ApiError, OSError, ValueError, KeyError, http.client.HTTPException) as e:
        s.tally.error(f"student {i}: {e}")


def _check_privacy(students: list[Student], results: dict, tally: Tally) -> None:
    """Tokens are distinct and answer only for their own student; non-trainers see no training."""
    tokens = [r["token"] for r in results.values() if r.get("token")]
    if len(set(tokens)) != len(tokens):
        tally.leak("two students got the same render token")
    forged = secrets.token_urlsafe(24)
    status, _ = _guarded(tally, "forged token", students[0].render, forged, [0.0]) or (None, None)
    if status == 200:
        tally.leak("a made-up render token answered")
    for i, s in enumerate(students):
        r = results.get(i, {})
        if r.get("trainer"):
            continue
        st = _guarded(tally, "poll of a non-trainer", lambda: status_of(s.call("t2d_poll", LAYERS)))
        if st is not None and (st["step"] > 0 or st["state"] == "running"):
            tally.leak(f"student {i} who never trained sees a training at step {st['step']}")


def run(students: int = 40, trainings: int = 6, seconds: float = 120.0, seed: int = 0,
        progress=None) -> dict:
    """Drive a fresh local server with `students` simulated students for `seconds`; see the module."""
    if not 1 <= students <= 200:
        raise ValueError("--students must be between 1 and 200")
    if not 0 <= trainings <= students:
        raise ValueError("--trainings must be between 0 and the number of students")
    if not 5 <= seconds <= 3600:
        raise ValueError("--seconds must be between 5 and 3600")
    tally, port = Tally(), free_port()
    with tempfile.TemporaryDirectory(prefix="gan-load-") as tmp:
        proc = start_server(students, os.path.join(tmp, "data"), port, os.path.join(tmp, "server.log"))
        try:
            wait_ready(proc, port)
            return _drive(port, proc, students, trainings, seconds, seed, tally, progress)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _reference(s: Student, n: int = 30) -> dict:
    """The same requests on the idle server (one student, nothing else running): the in-run reference
    for the latencies under load (this machine may be shared, so absolute times move between runs)."""
    token = _open_tabs(s)
    idle = Tally()
    ref = Student(s.port, idle)
    ref.session, ref.conn = s.session, s.conn
    for i in range(n):
        ref.render(token, [round(-2 + 4 * i / n, 2), 0.0])
    for _ in range(n // 3):
        ref.call("t2d_poll_page", LAYERS, kind="poll")
    return token, {"render_idle_p50_ms": idle.pct("render", 0.5), "poll_idle_p50_ms": idle.pct("poll", 0.5)}


def _drive(port, proc, students, trainings, seconds, seed, tally, progress) -> dict:
    class_ = [Student(port, tally) for _ in range(students)]
    stop, go, results = threading.Event(), threading.Event(), {}
    token, reference = _reference(class_[0])
    results[0] = {"token": token}
    threads = [threading.Thread(target=_student, args=(i, s, trainings, stop, go, results, seed), daemon=True)
               for i, s in enumerate(class_)]
    for t in threads:
        t.start()
    t_open = time.monotonic()
    while len([r for r in results.values() if r.get("token") is not None]) < students and \
            time.monotonic() - t_open < 300 and any(t.is_alive() for t in threads):
        time.sleep(0.5)  # everyone has opened the tabs (or failed)
    go.set()
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        time.sleep(1.0)
        if progress is not None:
            progress(min(1.0, (time.monotonic() - t0) / seconds))
    stop.set()
    for t in threads:
        t.join(timeout=60)
    steps = [results[i].get("status", {}).get("step", 0) for i in range(trainings)]
    fps = [results[i].get("live_fps", 0.0) for i in range(trainings)]
    _check_privacy(class_, results, tally)
    full = _class_full(port, students, tally)
    rss = peak_rss_gb(proc.pid)
    mean = sum(steps) / len(steps) if steps else 0
    return {"students": students, "trainings": trainings, "seconds": seconds,
            "errors": len(tally.errors), "error_examples": tally.errors[:5],
            "render_p50_ms": tally.pct("render", 0.5), "render_p95_ms": tally.pct("render", 0.95),
            "renders": len(tally.ms.get("render", [])),
            "poll_p50_ms": tally.pct("poll", 0.5), "poll_p95_ms": tally.pct("poll", 0.95),
            "polls": len(tally.ms.get("poll", [])),
            "live_fps": fps, "live_fps_min": min(fps) if fps else None,
            "open_p95_ms": tally.pct("open", 0.95), "move_p95_ms": tally.pct("move", 0.95),
            **reference, "steps": steps, "min_fair_share": round(min(steps) / mean, 3) if mean > 0 else 0.0,
            "peak_rss_gb": None if rss is None else round(rss, 3),
            "cross_session_leaks": len(tally.leaks), "leak_examples": tally.leaks[:5],
            "class_full": full}


def _class_full(port: int, students: int, tally: Tally) -> bool:
    """One student beyond the class presses Train: the refusal must name the limit."""
    late = Student(port, tally)
    try:
        late.call("t2d_load_preset", PRESETS[0], LAYERS)
    except ApiError as e:
        return f"class is full ({students})" in str(e).lower()
    return False

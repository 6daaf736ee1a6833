"""What a Train (2D) live frame costs the server, in process (no HTTP stack, no browser). Not a test (it
measures time); run it from the project folder, optionally against another checkout (ROOT) to compare:

    PYTHONPATH=. python tests/live_frame_cost.py [ROOT] [seconds] [frames per second]

A collapse-ring session trains at full speed in its own thread under a CPUScheduler, with the app's torch
threads and switch interval; a viewer thread calls the 2D live route's endpoint as the app mounts it
(`app.server._render_first` around the tab's route, so whatever that does with the scheduler happens here
too) the way the page does: the frame after the last one drawn, at most RATE a second. Viewed and
unviewed windows alternate. Prints one JSON object, per frame:
- `route_cpu_ms_p50`: CPU ms of the viewer thread in the endpoint, and its parts (`parts_cpu_ms_p50`);
- `train_held_ms_per_frame`: ms the training thread waited for a scheduler turn or the session lock
  (viewed minus unviewed, per frame), and `snapshot_lock_ms_p50` (the lock held for a snapshot);
- `train_slowdown`, `train_ms_lost_per_frame` (noisy on a shared machine);
- `frame_data_ms_new_weights` / `frame_data_ms_same_weights`: PlaneRenderer.frame_data's CPU ms on a
  snapshot with changed weights (full speed) and with the weights it drew last (paused, layers changed).
"""


import json
import os
import sys
import threading
import time

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECONDS = float(sys.argv[2]) if len(sys.argv) > 2 else 16.0
RATE = float(sys.argv[3]) if len(sys.argv) > 3 else 30.0
LAYERS = os.environ.get("LAYERS", "heatmap,real,fake")
CYCLES = int(os.environ.get("CYCLES", "4"))
sys.path.insert(0, ROOT)
os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

torch.set_num_threads(1)
try:  # the app's interpreter switch interval (app.cli), where the checkout sets one
    from app.cli import SWITCH_INTERVAL_S
    sys.setswitchinterval(SWITCH_INTERVAL_S)
except ImportError:
    pass

from starlette.requests import Request as HTTPRequest  # noqa: E402

from app import server  # noqa: E402
from app.common import live  # noqa: E402
from app.common.sessions import TrainingSlot  # noqa: E402
from app.tabs.train2d import live as live2d  # noqa: E402
from app.tabs.train2d.state import SLOT  # noqa: E402
from gan_core.training import presets  # noqa: E402
from gan_core.training import session as session_mod  # noqa: E402
from gan_core.training.scheduler import CPUScheduler  # noqa: E402
from gan_core.viz import plane  # noqa: E402

cpu = {}  # part -> viewer-thread CPU ms per call
lock_ms = []
ident = {"viewer": None, "train": None}
held = {"s": 0.0}  # the training thread's seconds waiting for a turn or the session lock


def wrap(obj, name, part):
    fn = getattr(obj, name, None)
    if fn is None:
        return

    def inner(*a, **k):
        if threading.get_ident() != ident["viewer"]:
            return fn(*a, **k)
        c0 = time.thread_time()
        try:
            return fn(*a, **k)
        finally:
            cpu.setdefault(part, []).append((time.thread_time() - c0) * 1000)

    setattr(obj, name, inner)


for name in ("frame_data", "heat", "points", "manifold"):
    wrap(plane.PlaneRenderer, name, name)
wrap(live, "curves", "curves")
wrap(live, "encode", "encode")
wrap(live, "next_frame", "next_frame")

_take = session_mod.TrainingSession._take_snapshot


def take(self):
    w0 = time.perf_counter()
    try:
        return _take(self)
    finally:
        if threading.get_ident() == ident["viewer"]:
            lock_ms.append((time.perf_counter() - w0) * 1000)


session_mod.TrainingSession._take_snapshot = take

_acquire = CPUScheduler.acquire


def acquire(self, *a, **k):
    w0 = time.perf_counter()
    try:
        return _acquire(self, *a, **k)
    finally:
        held["s"] += time.perf_counter() - w0


CPUScheduler.acquire = acquire


class TimedLock:
    """The session's RLock, timing how long the training thread waits for it."""

    def __init__(self, lock):
        self._l = lock

    def acquire(self, blocking=True, timeout=-1):
        w0 = time.perf_counter()
        ok = self._l.acquire(blocking, timeout)
        if threading.get_ident() == ident["train"]:
            held["s"] += time.perf_counter() - w0
        return ok

    def release(self):
        self._l.release()

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()


class Store:
    def __init__(self, slot):
        self.slot = slot

    def find(self, kind, token):
        return self.slot if (kind, token) == (SLOT, self.slot.token) else None


cfg = presets.get("collapse-ring").config
sched = CPUScheduler()
slot = TrainingSlot("k", session_mod.TrainingSession(cfg), plane.PlaneRenderer())
t = slot.training
t.scheduler = sched
t._lock = TimedLock(t._lock)
route, _stream = [server._render_first(r, sched) for r in live2d.make_routes(Store(slot))]  # the one-frame route
endpoint = route.endpoint
_loop = t._loop


def loop():
    ident["train"] = threading.get_ident()
    _loop()


t._loop = loop
view_on = threading.Event()
stop = threading.Event()
frames_total = [0]
frame_cpu, sizes, server_ms = [], [], []


def call(after, since, run):
    q = f"t={slot.token}&f={after}&s={since}&run={run}&layers={LAYERS}"
    scope = {"type": "http", "method": "GET", "path": "/live/2d", "query_string": q.encode(), "headers": []}
    return endpoint(HTTPRequest(scope))


def viewer():
    ident["viewer"] = threading.get_ident()
    after, since, run, last = -1, -1, 0, 0.0
    while not stop.is_set():
        if not view_on.is_set():
            time.sleep(0.01)
            continue
        gap = 1.0 / RATE - (time.perf_counter() - last)
        if gap > 0:
            time.sleep(gap)
        last = time.perf_counter()
        c0 = time.thread_time()
        res = call(after, since, run)
        if res.status_code != 200:
            continue
        frame_cpu.append((time.thread_time() - c0) * 1000)
        h, _ = live.decode(res.body)
        after, run, since = h["frame"], h["run"], h["curves"]["to"]
        server_ms.append(h["server_ms"] - h["wait_ms"])
        frames_total[0] += 1
        sizes.append(len(res.body))


th = threading.Thread(target=viewer, daemon=True)
th.start()
t.play()
time.sleep(2.0)
acc = {p: {"steps": 0, "s": 0.0, "held": 0.0, "train_cpu": 0.0} for p in ("viewed", "unviewed")}
nframes = 0
for _ in range(CYCLES):
    for phase in ("unviewed", "viewed"):
        (view_on.set if phase == "viewed" else view_on.clear)()
        time.sleep(0.2)
        f0, h0 = frames_total[0], held["s"]
        s0, w0 = t.trainer.step_count, time.perf_counter()
        time.sleep(SECONDS / CYCLES / 2)
        s1, w1 = t.trainer.step_count, time.perf_counter()
        a = acc[phase]
        a["steps"] += s1 - s0
        a["s"] += w1 - w0
        a["held"] += held["s"] - h0
        if phase == "viewed":
            nframes += frames_total[0] - f0
stop.set()
t.pause()
t.close()


def med(v):
    v = sorted(v)
    return round(v[len(v) // 2], 3) if v else None


V, U = acc["viewed"], acc["unviewed"]
viewed, free = V["steps"] / V["s"], U["steps"] / U["s"]
fps = nframes / V["s"]
slow = 1 - viewed / free
held_per_frame = (V["held"] / V["s"] - U["held"] / U["s"]) * 1000 / fps if fps else None
out = {"root": ROOT, "layers": LAYERS, "rate_cap": RATE, "fps": round(fps, 1),
       "steps_per_s_viewed": round(viewed, 1), "steps_per_s_unviewed": round(free, 1),
       "train_slowdown": round(slow, 3),
       "train_ms_lost_per_frame": round(slow * 1000 / fps, 2) if fps else None,
       "train_held_ms_per_frame": round(held_per_frame, 2) if held_per_frame is not None else None,
       "route_cpu_ms_p50": med(frame_cpu),
       "route_cpu_ms_mean": round(sum(frame_cpu) / len(frame_cpu), 3) if frame_cpu else None,
       "route_ms_p50_excl_wait": med(server_ms),
       "parts_cpu_ms_p50": {k: med(v) for k, v in cpu.items()},
       "snapshot_lock_ms_p50": med(lock_ms), "frames": len(frame_cpu), "bytes_p50": med(sizes),
       "loadavg": round(os.getloadavg()[0], 2)}
def frame_data_ms(change: bool, n: int = 200) -> float:
    """frame_data's CPU ms per call on snapshots whose weights change every call (or stay)."""
    import dataclasses

    s = TrainingSlot("k2", session_mod.TrainingSession(cfg), plane.PlaneRenderer())
    for _ in range(50):
        s.training.step("both", scheduled_eval=True)
    snap, r, layers = s.training.snapshot(), s.renderer, tuple(LAYERS.split(","))
    snaps = [dataclasses.replace(snap, g_state=snap.g_state + 1e-6 * i * change,
                                 d_state=snap.d_state + 1e-6 * i * change) for i in range(n + 20)]
    for x in snaps[:20]:
        r.frame_data(x, layers)
    c0 = time.thread_time()
    for x in snaps[20:]:
        r.frame_data(x, layers)
    s.training.close()
    return round((time.thread_time() - c0) / n * 1000, 3)


ident["viewer"] = None
out["frame_data_ms_new_weights"] = frame_data_ms(True)
out["frame_data_ms_same_weights"] = frame_data_ms(False)
print(json.dumps(out))

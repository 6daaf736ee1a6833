"""`bench --live`: how smooth the Train tabs' live views are in a real browser while a model trains.

Starts the app (`launch.py`, in a subprocess on a free local port with a temporary data folder), opens it
in Chromium through Playwright and, on the Train (2D) tab's default preset (collapse-ring), trains at
full speed while the page draws the live channel's frames:

- `fps_2d`: plane frames drawn per second over `seconds` (the page's own count);
- `frame_age_ms_p50`, `frame_age_ms_p95`: how old a frame's data is when it is drawn (from the moment the
  server took the snapshot to the canvas drawn, on the same machine's clock);
- `train_slowdown`: 1 - (training rounds per second while viewed) / (the same session's rate while the
  page does not fetch frames). Viewed and unviewed windows alternate five times (`seconds` in all for
  each), so a changing load on the machine falls on both; the page's Gradio timer (the counter, every
  0.3 s) runs in both;
- `fps_images`: grid frames drawn per second on the Train (images) tab training its default preset
  (digits-dcgan) for `seconds`.

Where the CPU goes while the plane is viewed: `server_cpu_ms_per_frame` and `browser_cpu_ms_per_frame`,
the CPU time of the app's process and of the browser's processes (Chromium and Playwright's driver, from
/proc) per second viewed less per second unviewed, over the frames drawn per second (Linux only; absent
elsewhere).

Training's pace is read from the server's own step counter at both ends of each phase. `loadavg` gives
the machine's 1-minute load average before and after: on a machine shared with other work the figures
are pessimistic. Nothing is downloaded: Chromium is the system's.
"""

from __future__ import annotations

import os
import time

from .latency import LatencyError, _pct, app_in_chromium

WARMUP_S = 2.0
CYCLES = 5  # viewed and unviewed windows alternate this many times


def run(seconds: float = 10.0, chromium: str | None = None, port: int | None = None) -> dict:
    if not 2 <= seconds <= 120:
        raise LatencyError("--seconds must be between 2 and 120")
    load0 = os.getloadavg()[0]
    with app_in_chromium(chromium, "bench --live", port) as (browser, url, pid):
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.set_default_timeout(180_000)
        out = _measure_2d(pg, url, seconds, pid)
        out.update(_measure_images(pg, seconds))
    out["loadavg"] = [round(load0, 2), round(os.getloadavg()[0], 2)]
    out["cpus"] = os.cpu_count()
    out["browser"] = "chromium (playwright)"
    return out


_STATE = ("(k) => { const s = window.__tl[k]; return {frames: s.frames, ages: s.ages.slice(), "
          "steps: s.steps.slice(), fetch: s.fetchMs.slice(), draw: s.drawMs.slice(), "
          "server: s.serverMs.slice(), wait: s.waitMs.slice(), err: s.err}; }")


def _cpu_s(pids) -> float | None:
    """CPU seconds (user + system, all threads) used so far by the processes `pids`; None without /proc."""
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # gone, or no /proc
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total if pids else None


def _browser_pids(server: int) -> list[int]:
    """This process's descendants but the app's server: Playwright's driver and the browser it started."""
    parent = {}
    for d in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    parent[int(d)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    mine, grew = {os.getpid()}, True
    while grew:
        new = {p for p, pp in parent.items() if pp in mine and p not in mine and p != server}
        mine |= new
        grew = bool(new)
    return sorted(mine - {os.getpid()})


def _parts(s: dict, n: int, prefix: str) -> dict:
    """Medians of where a frame's time went over the last `n` frames: `fetch`, the page's wait on its
    stream from the last frame drawn to the next one read; the server's time for the frame (waiting for
    it included) and the wait alone; and drawing."""
    keys = ("fetch", "server", "wait", "draw")
    last = {k: [x for x in s[k][-n:] if x is not None] for k in keys} if n else {}
    return {f"{prefix}{k}_ms_p50": round(_pct(v, 0.5), 1) for k, v in last.items() if v}


def _viewed(pg, kind: str, seconds: float) -> tuple[float, list[float], dict]:
    """Frames per second, the frames' ages and where their time went over `seconds` of drawing."""
    s0 = pg.evaluate(_STATE, kind)
    time.sleep(seconds)
    s1 = pg.evaluate(_STATE, kind)
    if s1["err"]:
        raise LatencyError(f"the {kind} live view failed: {s1['err']}")
    n = s1["frames"] - s0["frames"]
    ages = s1["ages"][-n:] if n else []
    return n / seconds, ages, _parts(s1, n, "")


def _probe(pg, kind: str) -> dict:
    return pg.evaluate("(k) => window.__tl.probe(k)", kind)


def _steps_per_s(a: dict, b: dict) -> float:
    if a["state"] != "running" or b["state"] != "running":
        raise LatencyError(f"the training is not running ({b['state']})")
    return (b["step"] - a["step"]) / max(1e-3, (b["t_ms"] - a["t_ms"]) / 1000)


def _start_2d(pg, url: str) -> str:
    """Open the page, make the visitor's slot, start training and wait for its first frames; the preset."""
    pg.goto(url)
    pg.click("#step-both")  # the first real use makes the visitor's slot: the canvas then gets its token
    pg.wait_for_function("() => window.__tl && window.__tl['2d'] && window.__tl['2d'].frames > 0")
    preset = pg.input_value("#preset-select input")
    pg.click("#train-play")
    pg.wait_for_function("() => { const s = window.__tl['2d']; return s.steps[s.steps.length - 1] > 0; }")
    time.sleep(WARMUP_S)
    return preset


def _measure_2d(pg, url: str, seconds: float, server: int | None = None) -> dict:
    """Viewed and unviewed windows alternate CYCLES times (seconds / CYCLES each), so the machine's
    changing load falls on both alike; fps and ages come from the viewed windows. `server`: the app's
    process id, for the CPU figures."""
    preset = _start_2d(pg, url)
    window = seconds / CYCLES
    steps = {"viewed": 0.0, "unviewed": 0.0}
    spent = {"viewed": 0.0, "unviewed": 0.0}
    cpu = {(who, phase): 0.0 for who in ("server", "browser") for phase in spent}
    watched = {"server": [server] if server else [], "browser": _browser_pids(server) if server else []}
    frames, ages, last = 0, [], None
    for _ in range(CYCLES):
        for phase in ("unviewed", "viewed"):
            pg.evaluate("(h) => { window.__tl.hold['2d'] = h; }", phase == "unviewed")
            time.sleep(0.3)  # the page's last request ends
            s0, a = pg.evaluate(_STATE, "2d"), _probe(pg, "2d")
            c0 = {who: _cpu_s(pids) for who, pids in watched.items()}
            time.sleep(window)
            c1 = {who: _cpu_s(pids) for who, pids in watched.items()}
            b, s1 = _probe(pg, "2d"), pg.evaluate(_STATE, "2d")
            for who in watched:
                if c0[who] is not None and c1[who] is not None:
                    cpu[who, phase] += c1[who] - c0[who]
            steps[phase] += b["step"] - a["step"]
            spent[phase] += (b["t_ms"] - a["t_ms"]) / 1000
            _steps_per_s(a, b)
            if phase == "viewed":
                n = s1["frames"] - s0["frames"]
                frames, last = frames + n, s1
                ages += s1["ages"][-n:] if n else []
    pg.evaluate("() => { window.__tl.hold['2d'] = false; }")
    pg.click("#train-pause")
    if last["err"]:
        raise LatencyError(f"the 2D live view failed: {last['err']}")
    if not ages:
        raise LatencyError("the 2D live view drew no frame while training")
    viewed, free = steps["viewed"] / spent["viewed"], steps["unviewed"] / spent["unviewed"]
    fps = frames / spent["viewed"]
    per_frame = {f"{who}_cpu_ms_per_frame": round((cpu[who, "viewed"] / spent["viewed"]
                                                   - cpu[who, "unviewed"] / spent["unviewed"]) * 1000 / fps, 1)
                 for who, pids in watched.items() if pids and fps > 0}
    return {"fps_2d": round(fps, 1), "frame_age_ms_p50": round(_pct(ages, 0.5), 1),
            "frame_age_ms_p95": round(_pct(ages, 0.95), 1),
            "train_slowdown": round(max(0.0, 1 - viewed / free), 3),
            "steps_per_s_viewed": round(viewed, 1), "steps_per_s_unviewed": round(free, 1),
            "preset_2d": preset, "seconds": seconds, **_parts(last, min(frames, 1000), ""), **per_frame}


def _measure_images(pg, seconds: float) -> dict:
    pg.get_by_role("tab", name="Train (images)").click()
    pg.wait_for_function("() => window.__tl.img && window.__tl.img.frames > 0")
    preset = pg.input_value("#img-preset-select input")
    pg.click("#img-train-play")
    pg.wait_for_function("() => { const s = window.__tl.img; return s.steps[s.steps.length - 1] > 0; }")
    time.sleep(WARMUP_S)
    fps, ages, parts = _viewed(pg, "img", seconds)
    pg.click("#img-train-pause")
    return {"fps_images": round(fps, 1),
            "images_frame_age_ms_p95": round(_pct(ages, 0.95), 1) if ages else None,
            "preset_images": preset, **{f"images_{k}": v for k, v in parts.items()}}

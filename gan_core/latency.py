"""`bench --latency`: how live the latent explorer feels in a real browser.

Starts the app (`launch.py`, in a subprocess on a free local port with a temporary data folder), opens it
in Chromium through Playwright, opens the Latent explorer on the shipped digits generator and measures:

- `p50_ms`, `p95_ms`: from a slider `input` event to the updated image decoded on the page, over `moves`
  single moves of the first direction slider (timed inside the page with performance.now(), the way
  the page's own script records them);
- `updates_per_s`: images shown per second while the slider is dragged continuously for a few seconds
  (input events every 8 ms, as a mouse drag sends them, sweeping the range back and forth);
- `reference_p50_ms`, `reference_p95_ms`: the default Gradio path on the same page and server, a
  slider release that runs a Gradio event (`explore_move`) and updates a Markdown readout, and
  `ratio` = reference_p50_ms / p50_ms.

`--tab codes` and `--tab mixing` time the two other slider tabs that draw through a fast render route
(the shared page script app/static/render_live.js, the same counters): the first continuous-code knob of
the Code knobs tab on the shipped digits-infogan, and the truncation slider of the Style mixing tab on
the model it opens with (the shipped shapes-style). They report `p50_ms`, `p95_ms`, `max_ms` and
`updates_per_s` as above; the Gradio reference is the explorer's (`--tab all` runs the three in one
page, one after the other, the explorer first).

Nothing is downloaded: Chromium is the system's (Debian's chromium package), driven with the flags the
browser tests use.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]
DRAG_SECONDS = 4.0
REFERENCE_MOVES = 20


class LatencyError(RuntimeError):
    pass


def find_chromium(explicit: str | None = None) -> str:
    if explicit:
        if not os.path.isfile(explicit):
            raise LatencyError(f"no Chromium at {explicit}")
        return explicit
    for cand in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if cand and os.path.exists(cand):
            return cand
    raise LatencyError("Chromium was not found (install Debian's chromium package or pass --chromium PATH)")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_up(url: str, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            raise LatencyError(f"the app exited with code {proc.returncode} before serving")
        try:
            urllib.request.urlopen(url, timeout=2).read(64)
            return
        except OSError:
            time.sleep(0.3)
    raise LatencyError(f"the app did not serve {url} within {timeout:.0f} s")


def _pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, int(round(q * (len(s) - 1)))))]


@contextlib.contextmanager
def app_in_chromium(chromium: str | None, what: str, port: int | None = None):
    """Start the app (launch.py in a subprocess on a free local port, a temporary data folder) and
    Chromium through Playwright; yield (browser, url, the app's process id); stop both and remove the folder on the way out.
    `what` names the command in the message when Playwright is missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise LatencyError(f"{what} needs Playwright: pip install playwright (no browser download "
                           "needed, the system's Chromium is used)") from None
    exe = find_chromium(chromium)
    port = port or _free_port()
    url = f"http://127.0.0.1:{port}/"
    data = tempfile.mkdtemp(prefix="gan-explorer-bench-")
    cmd = [sys.executable, str(ROOT / "launch.py"), "--port", str(port), "--data-dir", data]
    proc = subprocess.Popen(cmd, cwd=str(ROOT), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_up(url, proc)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=exe, args=ARGS)
            try:
                yield browser, url, proc.pid
            finally:
                browser.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(data, ignore_errors=True)


TABS = ("explorer", "codes", "mixing", "all")  # what `bench --latency --tab` may time


def run(moves: int = 50, chromium: str | None = None, port: int | None = None, tab: str = "explorer") -> dict:
    if not 5 <= moves <= 1000:
        raise LatencyError("--moves must be between 5 and 1000")
    if tab not in TABS:
        raise LatencyError(f"--tab must be one of {', '.join(TABS)}, got {str(tab)[:40]!r}")
    with app_in_chromium(chromium, "bench --latency", port) as (browser, url, _):
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        if tab == "explorer":
            return _measure(pg, url, moves)
        if tab != "all":
            pg.set_default_timeout(120_000)
            pg.goto(url)
            return _measure_tab(pg, tab, moves)
        out = {"explorer": _measure(pg, url, moves)}
        for name in ("codes", "mixing"):
            out[name] = _measure_tab(pg, name, moves)
        return out


_SLIDER = "#lx-s0 input[type=range]"

_SET_VALUE = """([sel, v]) => { const el = document.querySelector(sel); el.value = v;
                    el.dispatchEvent(new Event('input', {bubbles: true})); }"""

# input events at pointer rate (every 8 ms, as a mouse drag sends them), the value sweeping back and forth
# across the range, for `seconds`
_DRAG = """([sel, seconds, key, lo, hi]) => new Promise((resolve) => {
        const el = document.querySelector(sel); const S = window[key]; const n0 = S.shown;
        const t0 = performance.now(); let k = 0;
        const id = setInterval(() => {
            const t = performance.now() - t0;
            if (t >= seconds * 1000) { clearInterval(id);
                resolve({shown: S.shown - n0, seconds: t / 1000, inputs: k}); return; }
            const f = (k % 100) / 100; el.value = (lo + (hi - lo) * (Math.floor(k / 100) % 2 ? 1 - f : f)).toFixed(2);
            el.dispatchEvent(new Event('input', {bubbles: true})); k++;
        }, 8); })"""

# resolves with the time from the next pointer release to the readout's change
_WATCH_READOUT = """() => { window.__lxRef = new Promise((resolve) => {
        const el = document.querySelector('#lx-readout'); const before = el.innerText;
        let t0 = performance.now();
        document.addEventListener('pointerup', () => { t0 = performance.now(); }, {once: true, capture: true});
        const obs = new MutationObserver(() => { if (el.innerText !== before) { obs.disconnect();
            resolve(performance.now() - t0); } });
        obs.observe(el, {childList: true, subtree: true, characterData: true}); }); }"""


def _open_explorer(pg, url: str) -> None:
    """Open the Latent explorer, wait for its first picture and check it shows the digits generator."""
    pg.set_default_timeout(120_000)
    pg.goto(url)
    pg.get_by_role("tab", name="Latent explorer").click()
    pg.wait_for_function("() => { const i = document.querySelector('#lx-view img.lx-img');"
                         " return i && i.complete && i.naturalWidth > 0; }")
    model = pg.inner_text("#lx-info")
    if "digits-dcgan" not in model:
        raise LatencyError(f"the explorer did not open the shipped digits generator: {model[:80]!r}")
    pg.wait_for_selector(_SLIDER)


def _single_moves(pg, moves: int, key: str = "__lx", slider: str = _SLIDER, lo: float = -3.0,
                  hi: float = 3.0) -> list[float]:
    """Set the slider as a drag does, `moves` times, waiting for each picture; the page's latencies (ms).
    `key` names the page's counters (window.KEY of render_live.js), lo..hi the slider's range."""
    pg.evaluate("(k) => { window[k].lat = []; window[k].shown = 0; }", key)
    for i in range(moves):
        shown = pg.evaluate("(k) => window[k].shown", key)
        v = round(lo + (hi - lo) * ((i * 7919) % moves) / max(1, moves - 1), 2)  # spread over the range
        pg.evaluate(_SET_VALUE, [slider, str(v)])
        pg.wait_for_function("([k, n]) => window[k].shown > n && !window[k].busy", arg=[key, shown])
    lat = pg.evaluate("(k) => window[k].lat.slice()", key)
    err = pg.evaluate("(k) => window[k].err", key)
    if len(lat) < moves:
        raise LatencyError(f"only {len(lat)} of {moves} moves showed a picture ({err})")
    return lat[:moves]


def _drag(pg, key: str = "__lx", slider: str = _SLIDER, lo: float = -3.0, hi: float = 3.0) -> dict:
    """A continuous drag for DRAG_SECONDS: {shown, seconds, inputs}."""
    d = pg.evaluate(_DRAG, [slider, DRAG_SECONDS, key, lo, hi])
    pg.wait_for_function("(k) => !window[k].busy", arg=key)
    return d


def _reference_moves(pg) -> list[float]:
    """The default Gradio path, REFERENCE_MOVES times: slider release -> Gradio event -> Markdown update
    (ms)."""
    box = pg.locator(_SLIDER).bounding_box()
    y = box["y"] + box["height"] / 2
    ref = []
    for i in range(REFERENCE_MOVES):
        pg.wait_for_timeout(150)
        frac = 0.2 + 0.6 * ((i * 7) % REFERENCE_MOVES) / REFERENCE_MOVES
        pg.evaluate(_WATCH_READOUT)
        pg.mouse.click(box["x"] + frac * box["width"], y)
        ref.append(pg.evaluate("() => window.__lxRef"))
    return ref


def _measure(pg, url: str, moves: int) -> dict:
    _open_explorer(pg, url)
    lat = _single_moves(pg, moves)  # 1. single moves
    d = _drag(pg)  # 2. a continuous drag
    shown, elapsed, k = d["shown"], d["seconds"], d["inputs"]
    ref = _reference_moves(pg)  # 3. the reference
    return {"p50_ms": round(statistics.median(lat), 1), "p95_ms": round(_pct(lat, 0.95), 1),
            "max_ms": round(max(lat), 1), "moves": moves,
            "updates_per_s": round(shown / elapsed, 1), "drag_seconds": round(elapsed, 2),
            "drag_inputs": k,
            "reference_p50_ms": round(statistics.median(ref), 1),
            "reference_p95_ms": round(_pct(ref, 0.95), 1),
            "ratio": round(statistics.median(ref) / max(1e-9, statistics.median(lat)), 2),
            "reference": "slider release -> Gradio event (explore_move) -> Markdown readout updated",
            "model": "checkpoints/digits-dcgan.safetensors", "browser": "chromium (playwright)"}


# tab -> (its label, the page's counters, its picture, the slider timed, that slider's range, the model)
_TAB = {"codes": ("Code knobs", "__ck", "#ck-view img.ck-img", "#ck-c0 input[type=range]", (-2.0, 2.0),
                  "checkpoints/digits-infogan.safetensors"),
        "mixing": ("Style mixing", "__mx", "#mx-view img.mx-img", "#mx-psi input[type=range]", (0.0, 1.0),
                   "checkpoints/shapes-style.safetensors")}
_READY = "(sel) => { const i = document.querySelector(sel); return i && i.complete && i.naturalWidth > 0; }"


def _open_tab(pg, tab: str) -> None:
    """Open the Code knobs tab on the shipped digits-infogan, or the Style mixing tab on the model it opens
    with (checked to be the shipped shapes-style), and wait for the picture and the slider."""
    label, _, img, slider, _, model = _TAB[tab]
    pg.get_by_role("tab", name=label, exact=True).click()
    if tab == "codes":
        pg.click("#ck-source input")
        pg.get_by_role("option", name="Shipped: digits-infogan", exact=False).click()
        pg.click("#ck-use")
        pg.wait_for_function("() => { const b = document.querySelector('#ck-c0');"
                             " return b && b.offsetParent !== null; }")
    pg.wait_for_function(_READY, arg=img)
    info = pg.inner_text("#ck-info" if tab == "codes" else "#mx-info")
    name = Path(model).stem
    if name not in info:
        raise LatencyError(f"the {label} tab did not open {name}: {info[:80]!r}")
    pg.wait_for_selector(slider)


def _measure_tab(pg, tab: str, moves: int) -> dict:
    """Single moves and a continuous drag of one tab's slider (see _TAB), as the explorer's."""
    label, key, _, slider, (lo, hi), model = _TAB[tab]
    _open_tab(pg, tab)
    lat = _single_moves(pg, moves, key, slider, lo, hi)
    d = _drag(pg, key, slider, lo, hi)
    return {"p50_ms": round(statistics.median(lat), 1), "p95_ms": round(_pct(lat, 0.95), 1),
            "max_ms": round(max(lat), 1), "moves": moves,
            "updates_per_s": round(d["shown"] / d["seconds"], 1), "drag_seconds": round(d["seconds"], 2),
            "drag_inputs": d["inputs"], "slider": slider, "tab": label, "model": model,
            "browser": "chromium (playwright)"}

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


def run(moves: int = 50, chromium: str | None = None, port: int | None = None) -> dict:
    if not 5 <= moves <= 1000:
        raise LatencyError("--moves must be between 5 and 1000")
    with app_in_chromium(chromium, "bench --latency", port) as (browser, url, _):
        return _measure(browser.new_page(viewport={"width": 1400, "height": 1000}), url, moves)


_SLIDER = "#lx-s0 input[type=range]"

_SET_VALUE = """([sel, v]) => { const el = document.querySelector(sel); el.value = v;
                    el.dispatchEvent(new Event('input', {bubbles: true})); }"""

# input events at pointer rate (every 8 ms, as a mouse drag sends them), the value sweeping back and forth
# across the range, for `seconds`
_DRAG = """([sel, seconds]) => new Promise((resolve) => {
        const el = document.querySelector(sel); const S = window.__lx; const n0 = S.shown;
        const t0 = performance.now(); let k = 0;
        const id = setInterval(() => {
            const t = performance.now() - t0;
            if (t >= seconds * 1000) { clearInterval(id);
                resolve({shown: S.shown - n0, seconds: t / 1000, inputs: k}); return; }
            const f = (k % 100) / 100; el.value = (-3 + 6 * (Math.floor(k / 100) % 2 ? 1 - f : f)).toFixed(2);
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


def _single_moves(pg, moves: int) -> list[float]:
    """Set the slider as a drag does, `moves` times, waiting for each picture; the page's latencies (ms)."""
    pg.evaluate("() => { window.__lx.lat = []; window.__lx.shown = 0; }")
    for i in range(moves):
        shown = pg.evaluate("() => window.__lx.shown")
        v = round(-3 + 6 * ((i * 7919) % moves) / max(1, moves - 1), 2)  # spread over the range
        pg.evaluate(_SET_VALUE, [_SLIDER, str(v)])
        pg.wait_for_function("(n) => window.__lx.shown > n && !window.__lx.busy", arg=shown)
    lat = pg.evaluate("() => window.__lx.lat.slice()")
    err = pg.evaluate("() => window.__lx.err")
    if len(lat) < moves:
        raise LatencyError(f"only {len(lat)} of {moves} moves showed a picture ({err})")
    return lat[:moves]


def _drag(pg) -> dict:
    """A continuous drag for DRAG_SECONDS: {shown, seconds, inputs}."""
    d = pg.evaluate(_DRAG, [_SLIDER, DRAG_SECONDS])
    pg.wait_for_function("() => !window.__lx.busy")
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

"""Write the README's screenshots (docs/screenshot-*.png) at 1280x720 in Chromium, from the app serving
the shipped checkpoints: the Train (2D) tab with the mode-collapse preset, the Train (images) tab with the
shipped digits DCGAN loaded, the Latent explorer on it, Code knobs on its category, Style mixing and
GANPaint on their shipped models and, with --presenter, the same six in presenter mode
(docs/screenshot-*-presenter.png). Not a test (nothing is asserted); run it from the project folder:

    PYTHONPATH=. python tests/take_screenshots.py [--presenter] [--out docs]
"""

from __future__ import annotations

import argparse
import socket
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
IDLE = "() => !document.body.innerText.includes('processing |')"  # no event of the page under way
READY = """(sel) => { const i = document.querySelector(sel); if (!i) return false;
    return i.tagName === 'CANVAS' ? i.width > 0 && i.offsetParent !== null : i.complete && i.naturalWidth > 0; }"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def shot(pg, out: Path, name: str, suffix: str, written: list) -> None:
    pg.wait_for_function(IDLE)
    pg.wait_for_timeout(1500)
    pg.evaluate("() => window.scrollTo(0, 0)")
    written.append(out / f"screenshot-{name}{suffix}.png")
    pg.screenshot(path=str(written[-1]))


def shoot(url: str, out: Path, presenter: bool) -> list[Path]:
    from playwright.sync_api import sync_playwright

    suffix = "-presenter" if presenter else ""
    written: list[Path] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        pg = browser.new_page(viewport={"width": 1280, "height": 720})
        pg.set_default_timeout(120_000)
        pg.goto(url)
        if presenter:
            pg.click("#presenter-toggle input")
            pg.wait_for_function("() => document.body.classList.contains('gx-presenter')")
        pg.click("#train-play")  # the collapse demo (the default preset) some seconds in, then paused
        pg.wait_for_function(READY, arg="#plane-live canvas.tl-view")
        pg.wait_for_timeout(8000)
        pg.click("#train-pause")
        pg.wait_for_function("() => document.querySelector('#mode-counter').innerText.includes('paused')")
        shot(pg, out, "train2d", suffix, written)

        pg.get_by_role("tab", name="Train (images)", exact=True).click()
        pg.click("#img-load-shipped")  # the menu's default: the shipped digits DCGAN
        pg.wait_for_function("() => /step 7,500/.test(document.querySelector('#img-headline').innerText)")
        pg.wait_for_function(READY, arg="#img-grid-live canvas.tl-view")
        shot(pg, out, "trainimg", suffix, written)

        pg.get_by_role("tab", name="Latent explorer", exact=True).click()
        pg.wait_for_function(READY, arg="#lx-view img.lx-img")
        pg.click("#lx-source input")
        pg.get_by_role("option", name="Your model on Train (images)").click()
        pg.click("#lx-use")
        pg.wait_for_function("() => document.querySelector('#lx-info').innerText.includes('Train (images)')")
        pg.wait_for_function(READY, arg="#lx-view img.lx-img")
        shot(pg, out, "explore", suffix, written)

        pg.get_by_role("tab", name="Code knobs", exact=True).click()
        pg.click("#ck-source input")
        pg.get_by_role("option", name="Shipped: digits-dcgan", exact=False).click()
        pg.click("#ck-use")
        pg.wait_for_function("() => document.querySelectorAll('#ck-cat input[type=radio]').length >= 10")
        pg.wait_for_function(READY, arg="#ck-view img.ck-img")
        shot(pg, out, "codes", suffix, written)

        pg.get_by_role("tab", name="Style mixing", exact=True).click()  # opens with the shipped style model
        pg.wait_for_function(READY, arg="#mx-view img.mx-img")
        shot(pg, out, "mixing", suffix, written)

        pg.get_by_role("tab", name="GANPaint", exact=True).click()  # opens with the shipped scenes model
        pg.wait_for_function(READY, arg="#gp-view img.gp-img")
        shot(pg, out, "paint", suffix, written)
        browser.close()
    return written


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs"), help="folder for the PNG files (default docs/)")
    ap.add_argument("--presenter", action="store_true", help="also take the six tabs in presenter mode")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    from app.server import build_app, launch_options

    with tempfile.TemporaryDirectory() as data:
        demo = build_app(device="cpu", data_dir=data, checkpoints_dir=ROOT / "checkpoints")
        demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
                    **launch_options(data, demo))
        try:
            url = demo.local_url.rstrip("/") + "/"
            for presenter in (False, True) if args.presenter else (False,):
                for path in shoot(url, Path(args.out), presenter):
                    print(path)
        finally:
            demo.close()
            demo.app_context.shutdown()


if __name__ == "__main__":
    main()

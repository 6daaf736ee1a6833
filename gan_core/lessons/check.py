"""`lessons --check`: play every lesson headless in Chromium through the lesson player, as a user would.

Starts the app (`launch.py`, in a subprocess on a free local port with a temporary data folder), opens a
fresh page per lesson (a fresh visitor), chooses the lesson on the Lessons tab and presses Start; then
for each step waits until the player has set the stage and, when the step waits for a phenomenon, until
the drawer says it was seen or the step's timeout passed, and presses Next. Records per lesson
{name, steps, seen (every promised phenomenon appeared), seconds (Start to the closing question)}, and
per step what the drawer said. With `screenshots`, the page at the lesson's key moment is saved as
<dir>/<name>.png: the step marked `screenshot: yes`, else the last phenomenon seen. Nothing is
downloaded: Chromium is the system's.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from gan_core.latency import app_in_chromium

from . import CONTROLS, Lesson

SEEN = re.compile(r"\(after (\d+) s\)")
GRACE_S = 20.0  # beyond a step's timeout, for the page's moves and the drawer's refresh


def run(lessons: list[Lesson], chromium: str | None = None, screenshots: str | None = None,
        progress=None) -> list[dict]:
    out = []
    with app_in_chromium(chromium, "lessons --check") as (browser, url, _):
        for les in lessons:
            pg = browser.new_page(viewport={"width": 1500, "height": 1000})
            try:
                out.append(play(pg, url, les, screenshots))
            finally:
                pg.close()
            if progress is not None:
                progress(out[-1])
    return out


def _idle(pg, timeout_ms: float = 60_000) -> None:
    """Until the page's lesson script has played the step's moves."""
    pg.wait_for_function("() => window.__lessons && !window.__lessons.busy", timeout=timeout_ms)


def _choose(pg, sel: str, label: str) -> None:
    pg.click(f"{sel} input")
    pg.get_by_role("option", name=label, exact=True).click()


def _screenshot(pg, les: Lesson, step, folder: Path) -> Path:
    """The page with the watched text (or the panel the step opened, or else the tab's top) in view, as
    <folder>/<lesson>.png."""
    part = step.wait.text_part if step.wait is not None else None
    last = step.actions[-1] if step.actions else None
    opened = last.target if last is not None and last.verb == "expand" else None
    name = part.name if part is not None else opened
    sel = CONTROLS[name].selector if name is not None else ""
    if sel.startswith("#"):  # the watched text, or the panel the step opened
        pg.evaluate("(sel) => document.querySelector(sel)?.scrollIntoView({block: 'center'})", sel)
    else:  # the tab's main picture is at the top
        pg.evaluate("() => window.scrollTo(0, 0)")
    pg.wait_for_timeout(300)
    path = folder / f"{les.name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(path))
    return path


def play(pg, url: str, les: Lesson, screenshots: str | None = None) -> dict:
    """Play one lesson on page `pg`; the record of it."""
    pg.set_default_timeout(60_000)
    pg.goto(url)
    pg.get_by_role("tab", name="Lessons").click()
    _choose(pg, "#lessons-tab-pick", les.title)
    pg.wait_for_function("() => !!window.__lessons")
    t0 = time.monotonic()
    pg.click("#lessons-tab-start")
    steps, shot = [], None
    marked = any(s.screenshot for s in les.steps)  # else: the last phenomenon seen
    for i, step in enumerate(les.steps):
        pg.wait_for_function("(n) => document.querySelector('#lesson-heading')?.innerText.includes("
                             "'Step ' + n + ' of')", arg=i + 1)
        pg.wait_for_timeout(300)  # the moves start after the drawer's update
        _idle(pg)
        rec = {"title": step.title, "errors": pg.evaluate("() => window.__lessons.errors.splice(0)")}
        if step.wait is not None:
            pg.wait_for_function(
                "() => { const t = document.querySelector('#lesson-status')?.innerText || '';"
                " return /\\(after \\d+ s\\)/.test(t) || t.includes('Not seen within'); }",
                timeout=(step.timeout + GRACE_S) * 1000)
            text = pg.inner_text("#lesson-status")
            m = SEEN.search(text)
            rec.update(seen=bool(m), after_s=int(m.group(1)) if m else None,
                       said=text.split("(after")[0].strip())
        else:
            pg.wait_for_timeout(1500 if step.screenshot else 500)
        if screenshots and (step.screenshot or (rec.get("seen") and not marked)):
            shot = _screenshot(pg, les, step, Path(screenshots))
        steps.append(rec)
        pg.click("#lesson-next")
    pg.wait_for_function("() => (document.querySelector('#lesson-heading')?.innerText || '')"
                         ".includes('Done')")
    seconds = time.monotonic() - t0
    waits = [s for s in steps if "seen" in s]
    errors = [e for s in steps for e in s["errors"]]
    return {"name": les.name, "title": les.title, "steps": len(les.steps),
            "seen": bool(waits) and all(s["seen"] for s in waits) and not errors,
            "seconds": round(seconds, 1), "errors": errors, "detail": steps,
            "screenshot": str(shot) if shot else None}

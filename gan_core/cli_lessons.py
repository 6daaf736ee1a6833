"""`python -m gan_core lessons [--list | --check] [--lesson NAME] [--screenshots DIR]`: the guided lessons
(gan_core.lessons): list them, or play each headless in Chromium through the app's lesson player and
report, per lesson, its steps, whether the promised phenomenon was seen, and the seconds it took."""

from __future__ import annotations

import os
import sys

from .cli import CLIError


def cmd(args) -> dict | None:
    """List the lessons, or (`--check`) play them in Chromium through the lesson player."""
    from . import lessons as lessons_mod

    try:
        found = lessons_mod.load_all(args.folder) if args.folder else lessons_mod.load_all()
    except lessons_mod.LessonError as e:
        raise CLIError(str(e)) from None
    if args.lesson:
        unknown = [n for n in args.lesson if n not in found]
        if unknown:
            raise CLIError(f"no lesson {unknown[0]!r} (lessons: {', '.join(found)})")
        found = {n: found[n] for n in args.lesson}
    if not args.check:
        rows = [{"name": x.name, "title": x.title, "tab": x.tab, "steps": len(x.steps),
                 "waits": sum(s.wait is not None for s in x.steps)} for x in found.values()]
        if args.json:
            return {"lessons": rows}
        for r in rows:
            print(f"{r['name']:<20} {r['title']:<38} {r['tab']:<9} {r['steps']} steps, {r['waits']} waits")
        return None
    from tqdm import tqdm

    from .latency import LatencyError
    from .lessons import check

    bar = tqdm(total=len(found), desc="lessons", unit="lesson", file=sys.stderr)

    def done(rec):
        seen = "seen" if rec["seen"] else "NOT seen"
        bar.set_postfix_str(f"{rec['name']}: {seen} in {rec['seconds']:.0f} s")
        bar.update(1)

    try:
        played = check.run(list(found.values()), chromium=args.chromium, screenshots=args.screenshots,
                           progress=done)
    except LatencyError as e:
        raise CLIError(str(e)) from None
    finally:
        bar.close()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {"lessons": [{k: r[k] for k in ("name", "steps", "seen", "seconds")} for r in played],
            "all_seen": all(r["seen"] for r in played), "detail": played, "loadavg": load,
            "cpus": os.cpu_count()}

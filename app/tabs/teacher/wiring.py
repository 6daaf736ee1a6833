"""The Teacher tab's wiring: every event has an api name starting with `teacher_`."""

from __future__ import annotations

from ...common.choices import QUIET

PREFIX = "teacher_"
# the projector column goes full screen in the click itself (browsers allow it only in a user gesture)
FULL_SCREEN_JS = "(r) => { const el = document.getElementById('teacher-projector'); " \
                 "if (el && el.requestFullscreen) { el.requestFullscreen().catch(() => {}); } return r; }"


def wire(w, ev) -> None:
    shown = ev.class_outputs
    w.open.click(ev.open, [w.password], shown, api_name="teacher_open")
    w.password.submit(ev.open, [w.password], shown, api_name="teacher_open_submit")
    w.timer.tick(ev.refresh, [w.run], [*shown, *ev.run_outputs], api_name="teacher_refresh",
                 trigger_mode="once", **QUIET)
    w.show.click(ev.show, [w.run], ev.run_outputs, api_name="teacher_show", js=FULL_SCREEN_JS, **QUIET)
    w.run.input(ev.show, [w.run], ev.run_outputs, api_name="teacher_choose", **QUIET)

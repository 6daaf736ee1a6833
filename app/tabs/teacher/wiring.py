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

    wire_lessons(w, ev)


FOLLOW_JS = "(name) => { if (name && window.__lessons) window.__lessons.follow(name); return []; }"


def wire_lessons(w, ev) -> None:
    """Start a lesson for the class (every page follows it in its own session), or on this page alone."""
    w.lesson_class.click(ev.lesson_for_class, [w.lesson], [w.lesson_note], api_name="teacher_lesson_class",
                         **QUIET)
    w.lesson_alone.click(ev.lesson_alone, [w.lesson], [w.lesson_note, w.lesson_go],
                         api_name="teacher_lesson_alone", **QUIET).success(None, [w.lesson_go], None,
                                                                           js=FOLLOW_JS, **QUIET)

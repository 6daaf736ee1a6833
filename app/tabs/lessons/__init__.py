"""The lesson player: guided lessons (gan_core/lessons/files/*.md) played beside the tab they use. The
Lessons tab lists them; the drawer (a gr.Sidebar, beside every tab, built through `drawer(ctx)`) shows
the current step, Back / Next / Restart, and what the step waits for. Starting a step plays its moves on
the page as a user would (app/static/lessons.js: opens the tab, chooses the preset, sets knobs, presses
buttons); its wait is checked by a timer against the visitor's own state (their training's snapshot) or
the text the page shows. Progress is kept per visitor in the session store. With a teacher password the
Teacher tab can start a lesson for the whole class (pages notice through the cheap `lessons/board`
route) or on the teacher's page alone."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from gan_core.lessons import load_all

from ...common.choices import QUIET
from .events import LessonEvents
from .player import board, slot_kind as _slot_kind

TITLE = "Lessons"
ORDER = 80
PREFIX = "lessons_"
WATCH_SECONDS = 2.0  # a class of 40 waiting at once makes 20 cheap checks a second
FRESH_S = 600  # a page opened within this long after the teacher started a lesson follows it too
SCRIPT = Path(__file__).resolve().parents[2] / "static" / "lessons.js"

__all__ = ["TITLE", "ORDER", "PREFIX", "build", "drawer", "routes", "slot_kind"]

INTRO = ("Short guided lessons. Each one opens the tab it needs, loads a preset or a trained model, sets the "
         "knobs and tells you what to look for; when the thing to see appears (for example the mode counter "
         "dropping to 1 of 8) it says so. The lesson stays in the drawer on the right while you use the "
         "tabs: **Next** and **Back** move through the steps, **Restart** starts again. Each lesson takes "
         "about two minutes and ends with a question.")


def slot_kind(ctx):
    return _slot_kind(max(1, int(getattr(ctx.limits, "max_students", 40) or 40)))


def _lessons(ctx) -> dict:
    found = getattr(ctx, "lessons", None)
    if found is None:
        found = ctx.lessons = load_all()  # checked against the checkout's shipped models
    return found


def build(ctx) -> None:
    """The Lessons tab: the list and a Start button (wired with the drawer, built after the tabs)."""
    board(ctx)
    lessons = _lessons(ctx)
    t = ctx.lessons_tab = SimpleNamespace()
    gr.Markdown(INTRO, elem_id="lessons-intro")
    t.table = gr.Dataframe(headers=["Lesson", "Steps", "What you will see"],
                           value=[[x.title, len(x.steps), x.summary] for x in lessons.values()],
                           interactive=False, elem_id="lessons-table", wrap=True)
    with gr.Row():
        t.pick = gr.Dropdown([(x.title, x.name) for x in lessons.values()], value=next(iter(lessons), None),
                             label="Lesson", scale=3, elem_id="lessons-tab-pick")
        t.start = gr.Button("Start this lesson", variant="primary", scale=1, elem_id="lessons-tab-start")


def drawer(ctx) -> None:
    """The lesson drawer beside every tab, and the wiring of both (server.build_app calls it after the
    tabs)."""
    lessons = _lessons(ctx)
    w = SimpleNamespace()
    with gr.Sidebar(label="Lesson", open=False, position="right", width=380,
                    elem_id="lesson-drawer") as w.drawer:
        w.pick = gr.Dropdown([(x.title, x.name) for x in lessons.values()], value=next(iter(lessons), None),
                             label="Lesson", elem_id="lesson-pick")
        w.start = gr.Button("Start", variant="primary", size="sm", elem_id="lesson-start")
        w.heading = gr.Markdown("### Lessons", elem_id="lesson-heading")
        w.step = gr.Markdown("Choose a lesson above and press Start.", elem_id="lesson-step")
        w.status = gr.Markdown("", elem_id="lesson-status")
        with gr.Row():
            w.back = gr.Button("◀ Back", size="sm", elem_id="lesson-back", min_width=60)
            w.next = gr.Button("Next ▶", size="sm", variant="primary", elem_id="lesson-next", min_width=60)
            w.restart = gr.Button("↺ Restart", size="sm", elem_id="lesson-restart", min_width=60)
        w.ops = gr.Textbox("", visible="hidden", elem_id="lesson-ops")
        w.probe = gr.Textbox("", visible="hidden", elem_id="lesson-probe")
        w.follow_name = gr.Textbox("", visible="hidden", elem_id="lesson-follow-name")
        w.follow_go = gr.Button("follow", visible="hidden", elem_id="lesson-follow-go")
        gr.HTML("", js_on_load=_script(), elem_id="lesson-script")
        w.timer = gr.Timer(WATCH_SECONDS, active=False)
    ev = ctx.lesson_events = LessonEvents(ctx, w, lessons)
    _wire(ctx, w, ev)


def _script() -> str:
    lines = SCRIPT.read_text(encoding="utf-8").splitlines()
    while lines and lines[0].startswith("//"):
        lines.pop(0)
    return "\n".join(lines)


PLAY = ("(x) => { if (x && window.__lessons) { const s = JSON.parse(x);"
        " window.__lessons.run(s.ops, s.probe); } return []; }")
PROBE = "(x) => [window.__lessons ? window.__lessons.probe() : '']"


def _wire(ctx, w, ev) -> None:
    outs = ev.outputs

    def play(event):
        event.then(None, [w.ops], None, js=PLAY, **QUIET)

    play(w.start.click(ev.start, [w.pick], outs, api_name=PREFIX + "start", **QUIET))
    play(w.follow_go.click(ev.start, [w.follow_name], outs, api_name=PREFIX + "follow", **QUIET))
    play(w.next.click(ev.next, None, outs, api_name=PREFIX + "next", **QUIET))
    play(w.back.click(ev.back, None, outs, api_name=PREFIX + "back", **QUIET))
    play(w.restart.click(ev.restart, None, outs, api_name=PREFIX + "restart", **QUIET))
    w.timer.tick(ev.watch, [w.probe], [w.status, w.timer], api_name=PREFIX + "watch", js=PROBE,
                 trigger_mode="once", concurrency_limit=8, concurrency_id="lessons_watch", **QUIET)
    state = gr.Button(visible=False, render=True)
    state.click(ev.state, None, gr.JSON(visible=False), api_name=PREFIX + "state", **QUIET)
    t = getattr(ctx, "lessons_tab", None)
    if t is not None:
        play(t.start.click(ev.start, [t.pick], outs, api_name=PREFIX + "tab_start", **QUIET))


def routes(ctx) -> list:
    """GET lessons/board: the lesson the teacher last started for the class (a page's cheap poll)."""
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    def board_state(request):
        b = board(ctx)
        s = b.state()
        s["fresh"] = bool(s["lesson"]) and time.time() - b.at < FRESH_S
        return JSONResponse(s, headers={"Cache-Control": "no-store"})

    board_state.quick = True  # served as is: it draws nothing, so trainings need not yield to it

    return [Route("/lessons/board", board_state, methods=["GET"], name="lessons_board")]

"""Event handlers of the lesson player (the drawer beside every tab and the Lessons tab). Each finds the
caller's progress in the session store, moves it and returns what the drawer shows, with the moves the
page then plays (a JSON list for app/static/lessons.js). Bad input becomes a one-line gr.Error."""

from __future__ import annotations

import json
import time

import gradio as gr

from gan_core.lessons import Lesson

from ...common.guard import guarded
from .player import SLOT, measure, operations, probe_selector

BUSY = "\u0000busy"  # what the page's probe sends while it is still setting the stage
NO_LESSON = "Choose a lesson above and press Start."
MAX_TEXT = 20_000  # characters of the page's text a wait reads (more is cut)


class LessonEvents:
    def __init__(self, ctx, w, lessons: dict[str, Lesson]):
        self.ctx, self.w, self.lessons = ctx, w, lessons

    @property
    def outputs(self) -> list:
        w = self.w
        return [w.heading, w.step, w.status, w.ops, w.timer, w.drawer, w.pick]

    # ----- helpers ----------------------------------------------------------------------------------------
    def _progress(self, request):
        return self.ctx.sessions.slot(request, SLOT)

    def _peek(self, request):
        return self.ctx.sessions.peek(getattr(request, "session_hash", None), SLOT)

    def lesson(self, name) -> Lesson:
        if not isinstance(name, str) or name not in self.lessons:
            raise ValueError(f"Lesson: choose one of the lessons in the menu (got {name!r})")
        return self.lessons[name]

    def _view(self, p, stage: bool, status: str | None = None) -> dict:
        """The drawer for progress `p`; with `stage`, the current step's moves for the page to play."""
        w = self.w
        if p is None or p.lesson is None:
            return {w.heading: "### Lessons", w.step: NO_LESSON, w.status: "", w.ops: "",
                    w.timer: gr.Timer(active=False), w.drawer: gr.skip(), w.pick: gr.skip()}
        les = self.lessons[p.lesson]
        n = len(les.steps)
        head = f"### {les.title}\n\nStep {min(p.index + 1, n)} of {n}"
        if p.done:
            seen = sum(1 for v in p.seen.values() if v is not None)
            waits = sum(1 for s in les.steps if s.wait is not None)
            return {w.heading: f"### {les.title}\n\nDone", w.ops: "", w.timer: gr.Timer(active=False),
                    w.step: f"**A question for you:** {les.question}",
                    w.status: f"Lesson finished: {seen} of {waits} things to see were seen.",
                    w.drawer: gr.skip(), w.pick: gr.skip()}
        step = les.steps[p.index]
        waiting = step.wait is not None and p.index not in p.seen
        if status is None:
            status = self._status(les, p)
        ops = gr.skip()
        if stage:
            ops = json.dumps({"ops": operations(les, p.index, self.ctx.checkpoints_dir),
                              "probe": probe_selector(les, p.index)})
        return {w.heading: head, w.step: f"#### {step.title}\n\n{step.text}", w.status: status, w.ops: ops,
                w.timer: gr.Timer(active=waiting), w.drawer: gr.skip(), w.pick: gr.skip()}

    def _status(self, les, p) -> str:
        step = les.steps[p.index]
        if step.wait is None:
            return "Press **Next** when you are ready."
        if p.index in p.seen:
            t = p.seen[p.index]
            if t is None:
                return (f"Not seen within {step.timeout:.0f} s (waited for {step.wait.describe()}). "
                        "Try the step again with **Back** then **Next**, or go on.")
            return f"**{step.seen}** (after {t:.0f} s) Press **Next**."
        return f"Watching for {step.wait.describe()} ..."

    def _stage(self, p, index: int) -> None:
        p.index, p.staged_at, p.done = index, time.monotonic(), False
        p.seen.pop(index, None)

    # ----- events -----------------------------------------------------------------------------------------
    @guarded
    def start(self, request: gr.Request, name):
        les = self.lesson(name)
        p = self._progress(request)
        p.lesson, p.seen, p.started_at = les.name, {}, time.monotonic()
        self._stage(p, 0)
        return {**self._view(p, stage=True), self.w.drawer: gr.Sidebar(open=True), self.w.pick: les.name}

    @guarded
    def next(self, request: gr.Request):
        p = self._peek(request)
        if p is None or p.lesson is None:
            raise ValueError(NO_LESSON)
        les = self.lessons[p.lesson]
        if p.done:
            return self._view(p, stage=False)
        if p.index + 1 >= len(les.steps):
            p.done = True
            return self._view(p, stage=False)
        self._stage(p, p.index + 1)
        return self._view(p, stage=True)

    @guarded
    def back(self, request: gr.Request):
        p = self._peek(request)
        if p is None or p.lesson is None:
            raise ValueError(NO_LESSON)
        self._stage(p, max(0, p.index - (0 if p.done else 1)))
        return self._view(p, stage=True)

    @guarded
    def restart(self, request: gr.Request):
        p = self._peek(request)
        if p is None or p.lesson is None:
            raise ValueError(NO_LESSON)
        p.seen, p.started_at = {}, time.monotonic()
        self._stage(p, 0)
        return self._view(p, stage=True)

    @guarded
    def watch(self, request: gr.Request, page_text):
        """The timer's check of the current step's wait: the live measures from the visitor's own state,
        the text from the page (sent by the page's probe)."""
        p = self._peek(request)
        if p is None or p.lesson is None or p.done:
            return {self.w.timer: gr.Timer(active=False)}
        les = self.lessons[p.lesson]
        step = les.steps[p.index]
        if step.wait is None or p.index in p.seen:
            return {self.w.timer: gr.Timer(active=False)}
        page_text = page_text[:MAX_TEXT] if isinstance(page_text, str) else ""
        if page_text == BUSY:
            p.staged_at = time.monotonic()  # the timeout counts from the stage being set
            return {self.w.timer: gr.skip()}
        key = getattr(request, "session_hash", None)
        met = all(c.met(page_text if c.kind == "text" else measure(self.ctx.sessions, key, c.name))
                  for c in step.wait.parts)
        elapsed = time.monotonic() - p.staged_at
        if met:
            p.seen[p.index] = elapsed
        elif elapsed > step.timeout:
            p.seen[p.index] = None
        else:
            return {self.w.status: self._status(les, p), self.w.timer: gr.skip()}
        return {self.w.status: self._status(les, p), self.w.timer: gr.Timer(active=False)}

    @guarded
    def state(self, request: gr.Request):
        """The visitor's progress as a record (for API clients and the play-through)."""
        p = self._peek(request)
        if p is None or p.lesson is None:
            return {"lesson": None}
        les = self.lessons[p.lesson]
        step = les.steps[min(p.index, len(les.steps) - 1)]
        return {"lesson": p.lesson, "title": les.title, "step": p.index, "steps": len(les.steps),
                "step_title": step.title, "done": p.done,
                "waiting": step.wait is not None and p.index not in p.seen and not p.done,
                "seen": {str(k): (None if v is None else round(v, 1)) for k, v in sorted(p.seen.items())},
                "elapsed_s": round(time.monotonic() - p.started_at, 1)}

    def catalogue(self) -> list[list]:
        return [[les.title, len(les.steps), les.summary] for les in self.lessons.values()]

"""Event handlers of the Teacher tab. Every handler but `open` needs the visitor to have entered the
teacher password (`TeacherEvents.require`); a wrong password is refused with a one-line message."""

from __future__ import annotations

import hmac
import logging
import threading
import time

import gradio as gr

from ...common import plots
from ...common.guard import guarded
from .view import Projector, Roster, counter, g_losses, state_text, table

log = logging.getLogger(__name__)
NOT_TEACHER = "The Teacher tab needs the teacher password: enter it under 'Teacher password'."


class TeacherEvents:
    def __init__(self, ctx, w):
        self.ctx, self.w = ctx, w
        self.roster = Roster(ctx.sessions)
        self.projector = Projector()
        self._teachers: dict[str, float] = {}  # session key -> last activity
        self._lock = threading.Lock()

    @property
    def class_outputs(self) -> list:
        w = self.w
        return [w.status, w.table, w.losses, w.run, w.timer]

    @property
    def run_outputs(self) -> list:
        w = self.w
        return [w.caption, w.picture, w.run_losses]

    # ----- who may look -------------------------------------------------------------------------------
    def require(self, request: gr.Request) -> None:
        """gr.Error unless this visitor entered the password (and has been active within the idle time)."""
        key = getattr(request, "session_hash", None)
        with self._lock:
            seen = self._teachers.get(key) if key else None
            if seen is None or time.monotonic() - seen > 60 * self.ctx.limits.idle_minutes:
                self._teachers.pop(key, None)
                raise gr.Error(NOT_TEACHER)
            self._teachers[key] = time.monotonic()

    def is_teacher(self, key: str | None) -> bool:
        with self._lock:
            return key in self._teachers

    @guarded
    def open(self, request: gr.Request, password):
        expected = self.ctx.limits.teacher_password or ""
        given = password if isinstance(password, str) else ""
        key = getattr(request, "session_hash", None)
        if not key or not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            log.warning("a wrong teacher password was entered")
            raise gr.Error("Wrong teacher password.")
        with self._lock:
            self._teachers[key] = time.monotonic()
        return self._class_view(None)

    # ----- the class ----------------------------------------------------------------------------------
    def _class_view(self, chosen) -> dict:
        w, runs = self.w, self.roster.runs()
        sched = self.ctx.scheduler.state() if self.ctx.scheduler is not None else {}
        students = len(self.ctx.sessions)
        status = (f"**{students} / {self.ctx.limits.max_students} students** · {len(runs)} live "
                  f"trainings · {sched.get('computing', 0)} computing, {sched.get('waiting', 0)} waiting for CPU "
                  f"(at most {sched.get('slots', '?')} at once)")
        tab = {"train2d": "2D", "trainimg": "images"}
        choices = [(f"{label} · {tab[value.split(':')[1]]}", value) for value, label, _ in runs]
        keep = chosen if chosen in {v for _, v in choices} else (choices[0][1] if choices else None)
        return {w.status: status, w.table: table(runs), w.losses: g_losses(runs),
                w.run: gr.Dropdown(choices=choices, value=keep), w.timer: gr.Timer(active=True)}

    def _run_view(self, chosen) -> dict:
        w = self.w
        found = self.roster.find(chosen) if isinstance(chosen, str) else None
        if found is None:
            return {w.caption: "Choose a run above.", w.picture: None, w.run_losses: plots.empty_loss_frame()}
        label, snap = found
        caption = (f"## {label} · step {snap.step:,} · {counter(snap)}\n\n{state_text(snap)} · "
                   f"dataset *{getattr(snap.data, 'name', snap.cfg.dataset)}* · loss *{snap.cfg.loss}*")
        return {w.caption: caption, w.picture: self.projector.picture(snap),
                w.run_losses: plots.loss_frame(snap.rows)}

    @guarded
    def refresh(self, request: gr.Request, chosen):
        self.require(request)
        return {**self._class_view(chosen), **self._run_view(chosen)}

    @guarded
    def show(self, request: gr.Request, chosen):
        self.require(request)
        return self._run_view(chosen)

    # ----- lessons ------------------------------------------------------------------------------------------
    def _lesson(self, name):
        from gan_core.lessons import load_all

        found = getattr(self.ctx, "lessons", None) or load_all()
        if not isinstance(name, str) or name not in found:
            raise ValueError(f"Lesson: choose one of the lessons in the menu (got {name!r})")
        return found[name]

    @guarded
    def lesson_for_class(self, request: gr.Request, name):
        """Every student's page starts the lesson in its own session (they poll lessons/board)."""
        self.require(request)
        from ...common.lesson_board import board

        les = self._lesson(name)
        board(self.ctx).start(les.name)
        log.info("the teacher started the lesson %s for the class", les.name)
        return (f"Started **{les.title}** for the class: every student's page opens it in its lesson drawer "
                "within a few seconds, in their own session.")

    @guarded
    def lesson_alone(self, request: gr.Request, name):
        """The lesson on this page only (for the projector)."""
        self.require(request)
        les = self._lesson(name)
        return f"Presenting **{les.title}** on this page only (the lesson drawer on the right).", les.name

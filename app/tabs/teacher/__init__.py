"""The Teacher tab: the class's live trainings on one page, for the teacher (password set when the server
starts, `--teacher-password`). It lists every student's live training with its preset, step, state
(including "waiting for CPU"), mode or class counter and losses, plots every run's G loss, and with one
click shows one run full screen on the projector. Students appear as "Student N", never by anything that
identifies their session; without the password every event of the tab refuses, so students never see
one another's runs. The tab exists only when a password is set.
"""

from __future__ import annotations

from .events import TeacherEvents
from .layout import layout
from .wiring import PREFIX, wire

TITLE = "Teacher"
ORDER = 90

__all__ = ["TITLE", "ORDER", "PREFIX", "build", "enabled"]


def enabled(ctx) -> bool:
    """Only when the server was started with a teacher password."""
    return bool(getattr(getattr(ctx, "limits", None), "teacher_password", None))


def build(ctx) -> None:
    """Add the tab's contents to the current gr.Tab (called by app.server.build_app)."""
    w = layout()
    wire(w, TeacherEvents(ctx, w))

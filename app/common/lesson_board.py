"""The class-wide lesson board: the lesson the teacher started for the class (the Teacher tab writes it, the
Lessons tab serves it to the students' pages, which start it in their own sessions)."""

from __future__ import annotations

import threading
import time


class Board:
    """The class-wide lesson the teacher started: a version that grows with every start, so each page
    follows a start once."""

    def __init__(self):
        self._lock = threading.Lock()
        self.version = 0
        self.lesson: str | None = None
        self.at = 0.0

    def start(self, name: str) -> int:
        with self._lock:
            self.version += 1
            self.lesson, self.at = name, time.time()
            return self.version

    def state(self) -> dict:
        with self._lock:
            return {"v": self.version, "lesson": self.lesson}


def board(ctx) -> Board:
    """The app's board (made on first use)."""
    b = getattr(ctx, "lesson_board", None)
    if b is None:
        b = ctx.lesson_board = Board()
    return b

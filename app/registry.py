"""Per-browser-session state: each visitor owns one training session, one renderer and some UI memory.
The app keeps one registry per training tab (2D and images), so a visitor's two trainings are separate.

Objects are kept in a registry keyed by Gradio's `request.session_hash` (set for browser tabs and for
`gradio_client` connections alike), created on first use, closed on `demo.unload`, and looked after by a
janitor thread: a session that is still training but that nobody has polled for `idle_pause_s` is paused
(nobody is watching), and one untouched for `idle_close_s` is closed. Sessions never share a model.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import gradio as gr

from gan_core.training.session import TrainingSession
from gan_core.viz.plane import PlaneRenderer

log = logging.getLogger(__name__)


@dataclass
class UserSession:
    """Everything one browser session owns. `render_lock` serialises drawing with this session's renderer."""

    key: str
    training: TrainingSession
    renderer: Any  # draws this session's snapshots: a PlaneRenderer (2D) or the image tab's view memory
    render_lock: threading.Lock = field(default_factory=threading.Lock)
    last_view: tuple | None = None  # what the last frame sent to the page showed (None = must redraw)
    last_state: str = "idle"  # training state at the last poll, to announce a divergence once
    last_seen: float = field(default_factory=time.monotonic)

    def touch(self) -> None:
        self.last_seen = time.monotonic()

    def invalidate(self) -> None:
        """The next view must be drawn even if the snapshot version looks unchanged (after a reset)."""
        self.last_view = None


class Registry:
    """Thread-safe map session_hash -> UserSession with a cap and idle cleanup."""

    def __init__(self, make_training: Callable[[], TrainingSession], max_sessions: int = 16,
                 idle_pause_s: float = 120.0, idle_close_s: float = 3600.0, sweep_every_s: float = 30.0,
                 make_renderer: Callable[[], Any] = PlaneRenderer):
        self._make_training = make_training  # builds a fresh TrainingSession for a new visitor
        self._make_renderer = make_renderer  # builds the new visitor's renderer
        self.max_sessions = max_sessions  # live sessions beyond this are refused with a clear message
        self.idle_pause_s = idle_pause_s  # a running session nobody polled for this long is paused
        self.idle_close_s = idle_close_s  # a session untouched for this long is closed
        self._sessions: dict[str, UserSession] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._janitor = threading.Thread(target=self._sweep_loop, args=(sweep_every_s,),
                                         name="session-janitor", daemon=True)
        self._janitor.start()

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    def keys(self) -> set[str]:
        with self._lock:
            return set(self._sessions)

    def peek(self, key: str | None) -> UserSession | None:
        """The session under `key` if it exists (never creates one, does not count as activity)."""
        with self._lock:
            return self._sessions.get(key) if key else None

    def get(self, request: gr.Request | None) -> UserSession:
        """The caller's session, created on first use; raises gr.Error when the server is full."""
        key = getattr(request, "session_hash", None)
        if not key:
            raise gr.Error("This action needs a browser or API session; reload the page and try again.")
        stale: list[UserSession] = []
        try:
            with self._lock:
                us = self._sessions.get(key)
                if us is None:
                    if len(self._sessions) >= self.max_sessions:
                        stale = self._sweep_locked(time.monotonic())
                    us = self._create(key)
                us.touch()
                return us
        finally:
            for old in stale:
                old.training.close()

    def _create(self, key: str) -> UserSession:
        if len(self._sessions) >= self.max_sessions:
            raise gr.Error(f"The server is busy: {self.max_sessions} training sessions are open. Close "
                           "another tab or try again in a few minutes.")
        us = UserSession(key, self._make_training(), self._make_renderer())
        self._sessions[key] = us
        log.info("session %s opened (%d live)", key[:8], len(self._sessions))
        return us

    def close(self, key: str) -> bool:
        with self._lock:
            us = self._sessions.pop(key, None)
        if us is None:
            return False
        us.training.close()
        log.info("session %s closed", key[:8])
        return True

    def close_request(self, request: gr.Request) -> None:
        """For `demo.unload`: the tab was closed or reloaded."""
        key = getattr(request, "session_hash", None)
        if key:
            self.close(key)

    def sweep(self, now: float | None = None) -> None:
        """Pause running sessions nobody watches and close long-idle ones."""
        with self._lock:
            stale = self._sweep_locked(time.monotonic() if now is None else now)
        for us in stale:
            us.training.close()

    def _sweep_locked(self, now: float) -> list[UserSession]:
        """Remove long-idle sessions from the map (the caller closes them outside the lock)."""
        stale = []
        for key, us in list(self._sessions.items()):
            idle = now - us.last_seen
            if idle >= self.idle_close_s:
                stale.append(self._sessions.pop(key))
                log.info("session %s closed after %.0f s idle", key[:8], idle)
            elif idle >= self.idle_pause_s and us.training.state == "running":
                us.training.pause()
                log.info("session %s paused: not polled for %.0f s", key[:8], idle)
        return stale

    def _sweep_loop(self, every: float) -> None:
        while not self._stop.wait(every):
            try:
                self.sweep()
            except Exception:  # the janitor must survive anything a session does
                log.exception("session sweep failed")

    def shutdown(self) -> None:
        self._stop.set()
        with self._lock:
            keys = list(self._sessions)
        for key in keys:
            self.close(key)

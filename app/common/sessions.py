"""Per-visitor state: one store, keyed by Gradio's `request.session_hash` (set for browser tabs and for
`gradio_client` connections alike), holding for each visitor a few named slots (the 2D training, the
image training, the latent explorer's state). A slot is created on first use, closed with the browser
tab (`demo.unload`, see `close_request`), and looked after by a janitor thread: a slot nobody touched
for `idle_pause_s` gets its kind's idle hook (a running training is paused: nobody is watching), and one
untouched for `idle_close_s` is closed.

The store has a cap on visitors (the class size, `max_visitors`): a new visitor beyond it is refused with
"The class is full (N): ..." (after closing long-idle slots); nobody is evicted to make room. Each kind of
slot has a cap too ("The server is busy: ..."), or, for kinds marked `evict_lru`, closes its least
recently used slot. A visitor's first slot is made on first real use (pressing Train, loading a preset,
opening the explorer), not when the page loads. When a visitor's last slot closes, `on_gone` runs (the
app removes their saved files). Closing happens outside the store's lock: a training's close joins its
thread.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import gradio as gr

log = logging.getLogger(__name__)
VIEW_WAIT_S = 0.25  # a view waits this long for the training lock, then shows the previous snapshot
NO_SESSION = "This action needs a browser or API session; reload the page and try again."


@dataclass
class SlotKind:
    """What the store needs to know about one kind of slot."""

    name: str  # the slot's name ("train2d", "trainimg", "explore")
    make: Callable[[str], Any]  # builds a new visitor's slot from the visitor's key
    cap: int  # slots of this kind open at once
    noun: str = "sessions"  # what the busy message counts, e.g. "training sessions"
    close: Callable[[Any], None] | None = None  # frees a slot's resources (stops its training)
    idle: Callable[[Any], None] | None = None  # called on a slot nobody touched for idle_pause_s
    token: Callable[[Any], str] | None = None  # a second key to find the slot by (a render token)
    evict_lru: bool = False  # when full: close the least recently used slot instead of refusing


@dataclass
class _Entry:
    kind: str
    value: Any
    last_seen: float = field(default_factory=time.monotonic)
    key: str = ""  # the visitor holding it


def class_full_message(cap: int, idle_close_s: float) -> str:
    """What a new visitor reads when the class is full: the limit, and when a place frees up."""
    return (f"The class is full ({cap}): this server takes {cap} students at once (its --max-students "
            f"setting). A place frees up when someone closes their page or after {idle_close_s / 60:.0f} "
            "minutes without activity; try again then.")


@dataclass
class TrainingSlot:
    """A visitor's training: the session, what draws its snapshots, and what the page shows now.
    `render_lock` serialises drawing with `renderer`."""

    key: str
    training: Any  # a gan_core TrainingSession
    renderer: Any  # draws this training's snapshots (a PlaneRenderer, or the image tab's view memory)
    render_lock: threading.Lock = field(default_factory=threading.Lock)
    last_view: tuple | None = None  # what the last frame sent to the page showed (None = must redraw)
    last_state: str = "idle"  # training state at the last poll, to announce a divergence once
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))  # the live channel's key
    live_sent: float = 0.0  # when the page was last handed its live canvas with this token (0: never)
    live_seen: bool = False  # a frame request with this token arrived: the page's canvas has it

    def invalidate(self) -> None:
        """The next view must be drawn even if the snapshot version looks unchanged (after a reset)."""
        self.last_view = None


def _pause_running(slot: TrainingSlot) -> None:
    if slot.training.state == "running":
        slot.training.pause()
        log.info("session %s paused: not polled for a while", slot.key[:8])


def training_kind(name: str, make_training: Callable[[], Any], make_renderer: Callable[[], Any],
                  cap: int) -> SlotKind:
    """A slot kind holding a TrainingSlot: paused when unwatched, its training closed with the slot."""
    return SlotKind(name, lambda key: TrainingSlot(key, make_training(), make_renderer()), cap,
                    noun="training sessions", close=lambda s: s.training.close(), idle=_pause_running,
                    token=lambda s: s.token)


@dataclass(frozen=True)
class Visitor:
    """One visitor's handle on the store."""

    store: "SessionStore"
    key: str

    def slot(self, kind: str) -> Any:
        """The visitor's slot of `kind`, created on first use."""
        return self.store.slot(self.key, kind)

    def peek(self, kind: str) -> Any | None:
        """The visitor's slot of `kind` if it exists (never creates one, not counted as activity)."""
        return self.store.peek(self.key, kind)


def key_of(request) -> str:
    """The visitor key of a gr.Request (or a key given as is); gr.Error when there is none."""
    key = request if isinstance(request, str) else getattr(request, "session_hash", None)
    if not key:
        raise gr.Error(NO_SESSION)
    return key

"""What one server admits: the class size, idle release, disk quota, trainings computing at once, the
event queue, and the teacher's password. `launch.py` sets them from its flags (app.cli); the defaults
carry a class of 40 on a 2-core, 24 GiB machine.

Memory per student, measured on that machine (docs/figures.md has the commands): a 2D training session
about 4 MB, an image training session about 13 MB once the dataset is loaded (plus its grid timeline, at
most 16 MiB), an explorer state a few MB; 40 students each holding all three stay under 2 GB besides
the server's own 0.6 GB. CPU, not memory, is what a class runs short of: the training scheduler
(gan_core.training.scheduler) shares it.

The event queue: cheap events (polls, slider releases, small renders) and expensive ones (uploads,
inversion, the memorisation check, interpolation GIFs, checkpoints, dissection) get separate
concurrency groups (`configure_queue`), so one visitor's heavy request never holds up another's poll.
"""

from __future__ import annotations

import fnmatch
import functools
import inspect
import os
from dataclasses import asdict, dataclass, fields

# api names (shell patterns) of expensive events: they share the "heavy" group's limit
HEAVY_EVENTS = ("*upload*", "*load_checkpoint", "*load_shipped", "*save_checkpoint", "explore_invert",
                "explore_mre", "explore_interpolate", "explore_truncation", "explore_browse",
                "img_load_preset", "dissect_*", "paint_artifacts")
CHEAP_EVENTS = ("*poll*", "*_move", "explore_seed", "explore_random", "explore_class", "explore_page",
                "explore_basis", "teacher_refresh")  # frequent, fast events


@dataclass(frozen=True)
class ClassLimits:
    """Limits of one server (see the module's docstring for how the defaults were chosen)."""

    max_students: int = 40  # visitors holding a session at once: the 41st reads "The class is full (40)"
    max_image_trainings: int = 40  # image training sessions open at once (each about 13-30 MB)
    idle_minutes: float = 20.0  # a visitor's session untouched this long is closed and their place freed
    pause_minutes: float = 2.0  # a running training that nobody polled this long is paused
    quota_mb: float = 50.0  # saved checkpoints, pictures and GIFs one student may keep on the server
    trainings_at_once: int | None = None  # trainings computing at once; None: the cores but one, at least 1
    queue_size: int = 400  # events waiting in Gradio's queue at once (beyond: "queue is full")
    cheap_at_once: int = 8  # cheap events (polls, renders) of one kind running at once
    heavy_at_once: int = 1  # expensive events (uploads, inversion, ...) running at once, all kinds together
    default_at_once: int = 4  # every other event kind, running at once
    teacher_password: str | None = None  # the teacher view's password; None: no teacher view

    def __post_init__(self):
        for name in ("max_students", "max_image_trainings", "queue_size", "cheap_at_once", "heavy_at_once",
                     "default_at_once"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.trainings_at_once is not None and self.trainings_at_once < 1:
            raise ValueError(f"trainings-at-once must be at least 1, got {self.trainings_at_once}")
        for name in ("idle_minutes", "pause_minutes", "quota_mb"):
            if not float(getattr(self, name)) > 0:
                raise ValueError(f"{name.replace('_', '-')} must be above 0, got {getattr(self, name)}")
        if self.teacher_password is not None and len(self.teacher_password) < 4:
            raise ValueError("the teacher password must have at least 4 characters")

    @classmethod
    def from_dict(cls, d: dict) -> "ClassLimits":
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown limit(s): {', '.join(sorted(unknown))}")
        return cls(**d)

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "teacher_password"}

    def caps(self) -> dict:
        """Slot name -> how many may be open at once."""
        return {"train2d": self.max_students, "trainimg": min(self.max_image_trainings, self.max_students),
                "explore": self.max_students}


def group_of(api_name: str | None) -> str:
    """'heavy', 'cheap' or 'default' for an event's api name."""
    name = (api_name or "").lstrip("/")
    if any(fnmatch.fnmatch(name, p) for p in HEAVY_EVENTS):
        return "heavy"
    if any(fnmatch.fnmatch(name, p) for p in CHEAP_EVENTS):
        return "cheap"
    return "default"


def render_first(fn, scheduler):
    """`fn` holding `scheduler.rendering()` while it runs: no training chunk starts meanwhile (Gradio
    reads the handler's parameters through `__wrapped__`, so gr.Request still reaches it)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with scheduler.rendering():
            return fn(*args, **kwargs)
    return wrapper


ANALYTICS_EVENTS = 500  # Gradio's queue keeps this many events for its (unused) monitoring summary
ANALYTICS_EVERY = 1000  # and sums them up once per this many events


def configure_queue(demo, limits: ClassLimits, scheduler=None) -> dict:
    """Turn on Gradio's queue with the limits: heavy events share one concurrency group, cheap ones keep
    a group per event (their own limit) and, given the training `scheduler`, go before training chunks
    (they draw what a visitor waits for: a poll's picture, a released slider's); others run
    `default_at_once` per event. Returns api name -> group (for tests and the docs)."""
    groups = {}
    for fn in demo.fns.values():
        group = group_of(fn.api_name)
        groups[fn.api_name] = group
        if group == "heavy":
            fn.concurrency_id, fn.concurrency_limit = "heavy", limits.heavy_at_once
        elif group == "cheap":
            fn.concurrency_limit = limits.cheap_at_once
            if scheduler is not None and fn.fn is not None and not inspect.isgeneratorfunction(fn.fn) \
                    and not inspect.iscoroutinefunction(fn.fn):
                fn.fn = render_first(fn.fn, scheduler)
    # Gradio's queue sums up its event log for its monitoring page after every event, as a pandas table
    # of up to 10,000 events: 8.5 ms of the interpreter per event once a lesson has made that many (2.5
    # ms at 500), while every render and training waits. This app shows no such page: keep 500 events and
    # sum them up once per 1,000 (environment variables Gradio's queue reads when it is made).
    os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", str(ANALYTICS_EVENTS))
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", str(ANALYTICS_EVERY))
    demo.queue(default_concurrency_limit=limits.default_at_once, max_size=limits.queue_size)
    return groups

"""The Gradio app: a one-line header and one tab per package under app/tabs/, sharing one session store
of per-visitor slots (each visitor's 2D training, image training and explorer state) and the
current-model service.

A tab package exports `TITLE`, `ORDER` (smaller comes first), `PREFIX` (its api names start with it) and
`build(ctx)`, which adds its widgets inside the tab (`ctx.tab` while it builds) and wires its events;
optionally `slot_kind(ctx)` (what it keeps per visitor in the store), `routes(ctx)` (Starlette routes
served beside the app) and `drawer(ctx)` (a gr.Sidebar beside every tab, built after all the tabs). In Gradio 6 the theme, CSS and the allowed file paths are arguments of
`launch()`, so `launch_options()` returns them, with the tabs' routes, for launch.py and the tests.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import secrets
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr

from gan_core.device import pick_device

from . import tabs
from .common import layout
from .common.limits import ClassLimits, configure_queue
from .common.models import ModelService
from .common.store import SessionStore

REPO_ROOT = Path(__file__).resolve().parent.parent
HEADER = ("# GAN Explorer\n"
          "Train small generative adversarial networks live and watch the generator and the "
          "discriminator compete, one step at a time.")
CSS = """
#mode-counter h2 { font-size: 1.6rem; margin: 0.1em 0 0.2em 0; }
#mode-counter p { margin: 0.15em 0; }
#legend { font-size: 0.9rem; }
"""


@dataclass
class AppContext:
    """What every tab gets: the device, the folders, the session store, the current-model service and
    the Blocks being built."""

    device: str
    data_dir: Path
    checkpoints_dir: Path
    caps: dict = field(default_factory=dict)  # slot name -> how many visitors may hold one at once
    sessions: SessionStore | None = None  # every visitor's slots (trainings, explorer state)
    models: ModelService | None = None  # where a tab's model comes from; one training per visitor
    demo: gr.Blocks | None = None
    tab: gr.Tab | None = None  # the tab being built
    tab_modules: list = field(default_factory=list)  # the tab packages, in order
    _dirs: dict = field(default_factory=dict)  # visitor key -> the random name of their files' folder
    _dirs_lock: threading.Lock = field(default_factory=threading.Lock)
    limits: ClassLimits = field(default_factory=ClassLimits)  # class size, idle release, quota, queue
    scheduler: object = None  # the CPUScheduler sharing the cores among live trainings
    _previews: dict = field(default_factory=dict)  # slot name -> the class-wide preview slot

    def session_dir(self, key: str) -> Path:
        """<data-dir>/sessions/<token>/ for the visitor `key`, created on demand. The token is random and
        known only to the server and, through the files it hands out, to that visitor: no visitor can
        name another's files. Every writer asks for the folder first, so a folder over the visitor's
        quota refuses the next file here (ValueError, shown as one line)."""
        with self._dirs_lock:
            token = self._dirs.get(key)
            if token is None:
                token = self._dirs[key] = secrets.token_urlsafe(18)
        path = self.data_dir / "sessions" / token
        path.mkdir(parents=True, exist_ok=True)
        used = folder_bytes(path)
        if used >= self.limits.quota_mb * 2**20:
            raise ValueError(f"Your saved files take {used / 2**20:.0f} MB, the most each student may "
                             f"keep on this server ({self.limits.quota_mb:g} MB): download what you need; "
                             "your files are removed when you close the page")
        return path

    def remove_files(self, key: str) -> None:
        """Remove the visitor's folder (their last slot closed: the page was closed, or idle release)."""
        with self._dirs_lock:
            token = self._dirs.pop(key, None)
        if token is not None:
            shutil.rmtree(self.data_dir / "sessions" / token, ignore_errors=True)
            logging.getLogger(__name__).info("visitor %s: saved files removed", key[:8])

    def preview(self, kind: str):
        """A class-wide slot of `kind` that only shows the default (a page's first view costs no place
        in the class); made on first use, never trained."""
        with self._dirs_lock:
            if kind not in self._previews:
                self._previews[kind] = self.sessions.kinds[kind].make("preview")
            return self._previews[kind]

    def routes(self) -> list:
        """The Starlette routes of every tab that serves some (renders: they go before training chunks)."""
        routes = [r for mod in self.tab_modules if hasattr(mod, "routes") for r in mod.routes(self)]
        if self.scheduler is None:
            return routes
        return [_render_first(r, self.scheduler) for r in routes]

    def shutdown(self) -> None:
        """Stop the janitor and close every visitor's slots (their trainings stop)."""
        if self.sessions is not None:
            self.sessions.shutdown()


def folder_bytes(path: Path) -> int:
    """Bytes of the files under `path`."""
    total = 0
    for p in path.rglob("*"):
        try:
            if p.is_file():
                total += p.stat().st_size
        except OSError:  # a file removed meanwhile
            pass
    return total


def _scheduled(kind, scheduler):
    """The slot kind with the scheduler attached to each new training it makes."""
    make = kind.make

    def make_scheduled(key):
        slot = make(key)
        training = getattr(slot, "training", None)
        if training is not None and hasattr(training, "scheduler"):
            training.scheduler = scheduler
        return slot

    kind.make = make_scheduled
    return kind


def _render_first(route, scheduler):
    """A Starlette route whose endpoint holds `scheduler.rendering()`: no training starts a chunk while
    it draws."""
    from starlette.routing import Route

    endpoint = route.endpoint
    if getattr(endpoint, "quick", False):  # a tiny answer that draws nothing (the lesson board)
        return route

    def render(request):
        with scheduler.rendering():
            return endpoint(request)

    return Route(route.path, render, methods=sorted(route.methods or ("GET",)), name=route.name)


def tab_modules() -> list:
    """The packages under app/tabs/, ordered by their ORDER then name."""
    names = [m.name for m in pkgutil.iter_modules(tabs.__path__) if m.ispkg]
    mods = [importlib.import_module(f"{tabs.__name__}.{n}") for n in sorted(names)]
    return sorted(mods, key=lambda m: (getattr(m, "ORDER", 100), m.__name__))


def default_caps(max_sessions: int) -> dict:
    """2D trainings and explorer states up to `max_sessions`; image trainings (heavier) half as many."""
    return {"train2d": max_sessions, "trainimg": max(1, max_sessions // 2), "explore": max_sessions}


def build_app(device: str = "auto", data_dir: str | Path = "data", checkpoints_dir: str | Path | None = None,
              max_sessions: int | None = None, limits: ClassLimits | None = None) -> gr.Blocks:
    """Build (not launch) the app. Nothing trains until a visitor presses Train. `limits` (default: a
    class of 40) sets the class size, idle release, quota and queue; `max_sessions` overrides its class
    size."""
    from PIL import Image

    from gan_core.data.files import MAX_PIXELS
    from gan_core.training.scheduler import CPUScheduler

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # PIL refuses to decode images over twice this (decompression bombs)
    limits = limits or ClassLimits()
    if max_sessions is not None:
        limits = ClassLimits.from_dict({**limits.to_dict(), "max_students": max_sessions,
                                        "teacher_password": limits.teacher_password})
    ctx = AppContext(str(pick_device(device)), Path(data_dir).resolve(),
                     Path(checkpoints_dir or REPO_ROOT / "checkpoints"), limits.caps(), limits=limits,
                     scheduler=CPUScheduler(limits.trainings_at_once))
    ctx.tab_modules = [m for m in tab_modules() if getattr(m, "enabled", lambda c: True)(ctx)]
    kinds = [_scheduled(m.slot_kind(ctx), ctx.scheduler) for m in ctx.tab_modules if hasattr(m, "slot_kind")]
    ctx.sessions = SessionStore(kinds, idle_pause_s=60 * limits.pause_minutes,
                                idle_close_s=60 * limits.idle_minutes, max_visitors=limits.max_students,
                                on_gone=ctx.remove_files)
    ctx.models = ModelService(ctx.sessions, ctx.checkpoints_dir)
    # live pictures are new files several times a second: clear cached files older than 15 minutes
    with gr.Blocks(title="GAN Explorer", delete_cache=(300, 900)) as demo:
        ctx.demo = demo
        with gr.Row(elem_id="header-row"):
            gr.Markdown(HEADER, elem_id="header")
            layout.presenter_toggle()
        with gr.Tabs():
            for mod in ctx.tab_modules:
                with gr.Tab(mod.TITLE, id=mod.__name__.rsplit(".", 1)[-1]) as ctx.tab:
                    mod.build(ctx)
            ctx.tab = None
        for mod in ctx.tab_modules:  # drawers beside every tab (the lesson player's)
            if hasattr(mod, "drawer"):
                mod.drawer(ctx)
        demo.unload(ctx.sessions.close_request)
    demo.app_context = ctx
    demo.event_groups = configure_queue(demo, limits, ctx.scheduler)
    return demo


def launch_options(data_dir: str | Path = "data", demo: gr.Blocks | None = None) -> dict:
    """Keyword arguments for `demo.launch()`: theme, CSS, an upload size limit, the session folders
    (where saved checkpoints are written) as allowed file paths, and, given the built `demo`, the tabs'
    routes (e.g. the latent explorer's render route) handed to the FastAPI app Gradio creates.
    `show_error`: Gradio's own checks of a request (a float that is not a number, say) then reach the
    visitor as their one-line reason instead of a generic failure; handlers are `guarded`, so nothing of
    ours reaches the page but one-line messages."""
    sessions = Path(data_dir).resolve() / "sessions"
    sessions.mkdir(parents=True, exist_ok=True)
    opts = {"theme": gr.themes.Soft(), "css": CSS + layout.CSS, "allowed_paths": [str(sessions)],
            "max_file_size": "100mb", "show_error": True}
    ctx = getattr(demo, "app_context", None)
    routes = ctx.routes() if ctx is not None else []
    if routes:
        opts["app_kwargs"] = {"routes": routes}
    return opts

"""The Gradio app: a one-line header and one tab per package under app/tabs/, sharing one session store
of per-visitor slots (each visitor's 2D training, image training and explorer state) and the
current-model service.

A tab package exports `TITLE`, `ORDER` (smaller comes first), `PREFIX` (its api names start with it) and
`build(ctx)`, which adds its widgets inside the tab (`ctx.tab` while it builds) and wires its events;
optionally `slot_kind(ctx)` (what it keeps per visitor in the store) and `routes(ctx)` (Starlette routes
served beside the app). In Gradio 6 the theme, CSS and the allowed file paths are arguments of
`launch()`, so `launch_options()` returns them, with the tabs' routes, for launch.py and the tests.
"""

from __future__ import annotations

import importlib
import pkgutil
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr

from gan_core.device import pick_device

from . import tabs
from .common import layout
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

    def session_dir(self, key: str) -> Path:
        """<data-dir>/sessions/<token>/ for the visitor `key`, created on demand. The token is random and
        known only to the server and, through the files it hands out, to that visitor: no visitor can
        name another's files."""
        with self._dirs_lock:
            token = self._dirs.get(key)
            if token is None:
                token = self._dirs[key] = secrets.token_urlsafe(18)
        path = self.data_dir / "sessions" / token
        path.mkdir(parents=True, exist_ok=True)
        return path

    def routes(self) -> list:
        """The Starlette routes of every tab that serves some."""
        return [r for mod in self.tab_modules if hasattr(mod, "routes") for r in mod.routes(self)]

    def shutdown(self) -> None:
        """Stop the janitor and close every visitor's slots (their trainings stop)."""
        if self.sessions is not None:
            self.sessions.shutdown()


def tab_modules() -> list:
    """The packages under app/tabs/, ordered by their ORDER then name."""
    names = [m.name for m in pkgutil.iter_modules(tabs.__path__) if m.ispkg]
    mods = [importlib.import_module(f"{tabs.__name__}.{n}") for n in sorted(names)]
    return sorted(mods, key=lambda m: (getattr(m, "ORDER", 100), m.__name__))


def default_caps(max_sessions: int) -> dict:
    """2D trainings and explorer states up to `max_sessions`; image trainings (heavier) half as many."""
    return {"train2d": max_sessions, "trainimg": max(1, max_sessions // 2), "explore": max_sessions}


def build_app(device: str = "auto", data_dir: str | Path = "data", checkpoints_dir: str | Path | None = None,
              max_sessions: int = 16) -> gr.Blocks:
    """Build (not launch) the app. Nothing trains until a visitor presses Train."""
    from PIL import Image

    from gan_core.data.files import MAX_PIXELS

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # PIL refuses to decode images over twice this (decompression bombs)
    ctx = AppContext(str(pick_device(device)), Path(data_dir).resolve(),
                     Path(checkpoints_dir or REPO_ROOT / "checkpoints"), default_caps(max_sessions))
    ctx.tab_modules = tab_modules()
    ctx.sessions = SessionStore([m.slot_kind(ctx) for m in ctx.tab_modules if hasattr(m, "slot_kind")])
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
        demo.unload(ctx.sessions.close_request)
    demo.app_context = ctx
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

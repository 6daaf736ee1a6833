"""The Gradio app: a one-line header and one tab per `app/tab_*.py` module, sharing the registries of
per-browser sessions (each with its own current model): one for 2D training, one for image training.

A tab module defines `TITLE`, optionally `ORDER` (smaller comes first), and `build(ctx)`, which adds its
widgets inside the tab (`ctx.tab` while it builds) and wires its events. In Gradio 6 the theme, CSS and
the allowed file paths are arguments of `launch()`, so `launch_options()` returns them for launch.py and
the tests.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from gan_core.device import pick_device
from gan_core.training.session import TrainingSession

from . import tab_trainimg
from .explore_state import ExploreHub, make_routes
from .registry import Registry
from .tab_train2d import default_config  # the model a new visitor starts with

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
    """What every tab gets: the device, the folders, the session registries and the Blocks being built."""

    device: str
    data_dir: Path
    checkpoints_dir: Path
    registry: Registry  # 2D training sessions
    image_registry: Registry | None = None  # image training sessions (same keys: one of each per visitor)
    explore_hub: ExploreHub | None = None  # latent explorer states (same keys) and their render tokens
    demo: gr.Blocks | None = None
    tab: gr.Tab | None = None  # the tab being built

    def session_dir(self, key: str) -> Path:
        """<data-dir>/sessions/<session>/, created on demand (the key is sanitised)."""
        safe = re.sub(r"[^A-Za-z0-9_-]", "", key)[:64] or "anonymous"
        path = self.data_dir / "sessions" / safe
        path.mkdir(parents=True, exist_ok=True)
        return path


def tab_modules() -> list:
    """The `app.tab_*` modules, ordered by their ORDER then name."""
    names = [m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name.startswith("tab_")]
    mods = [importlib.import_module(f"{__package__}.{n}") for n in sorted(names)]
    return sorted(mods, key=lambda m: (getattr(m, "ORDER", 100), m.__name__))


def build_app(device: str = "auto", data_dir: str | Path = "data", checkpoints_dir: str | Path | None = None,
              max_sessions: int = 16) -> gr.Blocks:
    """Build (not launch) the app. Nothing trains until a visitor presses Train."""
    dev = str(pick_device(device))
    registry = Registry(lambda: TrainingSession(default_config(), device=dev), max_sessions=max_sessions)
    images = Registry(lambda: tab_trainimg.new_session(dev), max_sessions=max(1, max_sessions // 2),
                      make_renderer=tab_trainimg.new_view)  # a DCGAN session weighs more than a 2D one
    ctx = AppContext(dev, Path(data_dir).resolve(), Path(checkpoints_dir or REPO_ROOT / "checkpoints"),
                     registry, images, ExploreHub(max_sessions=max_sessions))
    # live pictures are new files several times a second: clear cached files older than 15 minutes
    with gr.Blocks(title="GAN Explorer", delete_cache=(300, 900)) as demo:
        ctx.demo = demo
        gr.Markdown(HEADER, elem_id="header")
        with gr.Tabs():
            for mod in tab_modules():
                with gr.Tab(mod.TITLE, id=mod.__name__.rsplit(".", 1)[-1]) as ctx.tab:
                    mod.build(ctx)
            ctx.tab = None
        demo.unload(registry.close_request)
        demo.unload(images.close_request)
        demo.unload(ctx.explore_hub.close_request)
    demo.app_context = ctx
    return demo


def launch_options(data_dir: str | Path = "data", demo: gr.Blocks | None = None) -> dict:
    """Keyword arguments for `demo.launch()`: theme, CSS, an upload size limit, the session folders
    (where saved checkpoints are written) as allowed file paths, and, given the built `demo`, the latent
    explorer's render route (a Starlette route handed to the FastAPI app Gradio creates)."""
    sessions = Path(data_dir).resolve() / "sessions"
    sessions.mkdir(parents=True, exist_ok=True)
    opts = {"theme": gr.themes.Soft(), "css": CSS, "allowed_paths": [str(sessions)], "max_file_size": "100mb"}
    hub = getattr(getattr(demo, "app_context", None), "explore_hub", None)
    if hub is not None:
        opts["app_kwargs"] = {"routes": make_routes(hub)}
    return opts

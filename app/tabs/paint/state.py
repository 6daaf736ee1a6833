"""GANPaint's per-visitor state: a frozen copy of a model, its `Painter` (one dissected layer and the
strokes so far), the seed painted on and the stroke ids the page sent. The state lives in the visitor's
"paint" slot of the session store, which also finds it by its random render token (see .route). The
artifact units found for the model (see .artifacts) can be removed from everything the painter draws."""

from __future__ import annotations

import contextlib
import secrets
import threading
from dataclasses import dataclass, field

import torch

from gan_core.explore import latent as lx
from gan_core.inspect import Trace, intervene, paint, segment

from ...common.sessions import SlotKind

SLOT = "paint"
ROUTE_STROKE = "/paint/stroke"  # the fast stroke route (see .route)
ROUTE_RENDER = "/paint/render"  # the current picture as PNG
VIEW_PX = 320
MAX_SEED = 2**31 - 1


@dataclass
class PaintSession:
    """One visitor's painter. All reads and writes go through `lock`."""

    key: str
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    lock: threading.RLock = field(default_factory=threading.RLock)
    model: lx.LatentModel | None = None
    painter: paint.Painter | None = None
    source: str = ""
    source_step: int = -1
    seed: int = 0
    z: torch.Tensor | None = None
    stroke_ids: list = field(default_factory=list)  # the page's id of each stroke in painter.strokes
    renders: int = 0  # pictures handed to the page (each view's HTML differs, so the page redraws it)
    artifacts: dict | None = None  # the last artifact-unit search on this model (artifacts.find_and_show)
    remove_artifacts: bool = False  # draw with the artifact units found set to zero

    def set_model(self, model: lx.LatentModel, source: str, step: int = -1) -> None:
        painter = None
        if model.kind == "image":
            painter = paint.Painter(model.G, model.family, segment.for_dataset(model.dataset))
        with self.lock:
            self.model, self.painter, self.source, self.source_step = model, painter, source, step
            self.stroke_ids = []
            self.artifacts, self.remove_artifacts = None, False
            if painter is not None:
                self.set_seed(self.seed)

    def require(self) -> paint.Painter:
        if self.painter is None:
            if self.model is not None:
                raise ValueError("Painting needs an image generator; this one makes 2D points (its units "
                                 "are in the unit viewer below).")
            raise ValueError("No model to paint on yet: choose one under 'Model' first.")
        return self.painter

    def set_seed(self, seed: int) -> None:
        self.seed = int(seed)
        self.z = self.model.latent(self.seed)[None]

    def apply(self, stroke_id: int, stroke: paint.Stroke) -> None:
        """Add a stroke, or replace the last one when the page is still drawing it (same id)."""
        p = self.require()
        if self.stroke_ids and self.stroke_ids[-1] == stroke_id and p.strokes:
            p.strokes[-1] = stroke
        else:
            p.push(stroke)
            self.stroke_ids.append(stroke_id)

    def undo(self) -> None:
        p = self.require()
        if p.undo():
            self.stroke_ids.pop()

    def reset(self) -> None:
        self.require().reset()
        self.stroke_ids = []

    def removing(self):
        """A context in which the painter's generator draws without the artifact units (when asked)."""
        a = self.artifacts
        if not (self.remove_artifacts and a and a["units"]):
            return contextlib.nullcontext()
        return Trace(self.require().G, a["path"], retain_output=False,
                     edit_output=intervene.ablate_edit(a["units"]))

    def png(self) -> bytes:
        p = self.require()
        with self.removing():
            return lx.png_bytes(paint_tile(p.render(self.z)))

    def change(self) -> list[dict]:
        with self.removing():
            return self.require().class_change(self.z)


def paint_tile(x: torch.Tensor):
    from gan_core.viz import explore as vx

    return vx.tile(x, 1)


def slot_kind(ctx) -> SlotKind:
    """The visitor's painter; cheap to rebuild, so a full store drops the least recently used."""
    return SlotKind(SLOT, PaintSession, ctx.caps.get(SLOT, 16), noun="painters",
                    token=lambda s: s.token, evict_lru=True)

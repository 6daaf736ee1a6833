"""The Code knobs tab's per-visitor state: a frozen copy of a generator with InfoGAN codes, the fixed
noise (a seed), the chosen category and continuous code values, and the last code report. The state lives
in the visitor's "codes" slot of the session store, which also finds it by its random render token (see
.route)."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field

import torch

from gan_core.explore import codes as cx
from gan_core.explore import latent as lx
from gan_core.viz import explore as vx

from ...common.sessions import SlotKind

SLOT = "codes"  # the visitor's slot in the session store
KNOBS = 8  # continuous-code sliders on the page (a model with more shows the first 8)
ROUTE = "/codes/render"  # the fast render route (see .route)
VIEW_PX = 256  # the picture is shown this large (the browser enlarges it, pixelated)
MAX_SEED = 2**31 - 1


@dataclass
class CodesSession:
    """One visitor's knobs. All reads and writes go through `lock`."""

    key: str
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    lock: threading.RLock = field(default_factory=threading.RLock)
    model: lx.LatentModel | None = None
    D: torch.nn.Module | None = None  # the checkpoint's discriminator (its Q head), None for a live model
    metrics: dict = field(default_factory=dict)  # the source's latest metrics (MI bound of a live model)
    source: str = ""
    source_step: int = -1
    seed: int = 0
    base_z: torch.Tensor | None = None
    cat: int = 0
    cont: list = field(default_factory=list)
    renders: int = 0
    report: dict | None = None

    def set_model(self, model: lx.LatentModel, source: str, step: int, D=None, metrics: dict | None = None) -> None:
        cx.require_codes(model.spec)
        if model.kind != "image":
            raise ValueError("the code knobs need an image generator")
        with self.lock:
            self.model, self.source, self.source_step = model, source, step
            self.D, self.metrics = D, dict(metrics or {})
            self.cat, self.cont = 0, [0.0] * model.spec.n_cont
            self.report = None
            self.set_seed(self.seed)

    def require(self) -> lx.LatentModel:
        if self.model is None:
            raise ValueError("No model with codes yet: choose one under 'Model' and press Use.")
        return self.model

    def set_seed(self, seed: int) -> None:
        self.seed = int(seed)
        self.base_z = self.require().latent(self.seed)

    def set_knobs(self, cat=None, values=None) -> None:
        """Set the category and the shown continuous knobs (values beyond the model's codes are ignored);
        ValueError naming the control for a bad value, and then nothing changes."""
        spec = self.require().spec
        new_cat = self.cat if cat is None or not spec.n_cat else cx.check_category(spec, cat)
        new_cont = list(self.cont)
        if values is not None:
            for i, v in enumerate(list(values)[:min(KNOBS, spec.n_cont)]):
                new_cont[i] = cx.check_knob(v, i)
        self.cat, self.cont = new_cat, new_cont

    def latent(self) -> torch.Tensor:
        spec = self.require().spec
        return cx.with_codes(spec, self.base_z.reshape(1, -1), self.cat if spec.n_cat else None,
                             self.cont or None)

    def picture(self, scale: int = 1):
        return vx.tile(self.require().generate(self.latent()), scale)

    def render_png(self) -> bytes:
        with self.lock:
            pic = self.picture()
            self.renders += 1
        return lx.png_bytes(pic)

    def display_scale(self) -> int:
        return max(1, VIEW_PX // int(self.require().G.output_spec.size))


def slot_kind(ctx) -> SlotKind:
    """The visitor's knobs; cheap to rebuild, so a full store drops the least recently used."""
    return SlotKind(SLOT, CodesSession, ctx.caps.get(SLOT, ctx.caps.get("explore", 16)), noun="code-knob states",
                    token=lambda s: s.token, evict_lru=True)

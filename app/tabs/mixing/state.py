"""The Mixing tab's per-visitor state: a frozen copy of a style-based model and the mixing settings
(A and B seeds, crossover, truncation, noise). It lives in the visitor's "mixing" slot of the session
store, which also finds it by its random render token (see .route)."""

from __future__ import annotations

import math
import secrets
import threading
from dataclasses import dataclass, field

from gan_core.explore import latent as lx
from gan_core.explore import mixing as mx
from gan_core.viz import explore as vx

from ...common.sessions import SlotKind

SLOT = "mixing"
ROUTE = "/mixing/render"
VIEW_PX = 256  # the single mix is shown this large (the browser enlarges it, pixelated)
MAX_SEED = 2**31 - 1
CROSSOVER_CHOICES = ("coarse", "middle", "fine", "custom")
NOISE_CHOICES = ("constant", "random", "off")


@dataclass
class MixSettings:
    """What the single mix shows; the grid and the variation view use the same crossover, psi and noise."""

    a: int = 1  # the single mix's A seed (its styles everywhere but the crossover layers)
    b: int = 5  # the single mix's B seed (its styles on the crossover layers)
    crossover: str = "coarse"  # coarse, middle, fine or custom (then `layers`)
    layers: tuple = ()  # custom crossover: the w indices B provides
    psi: float = 1.0  # truncation toward w_avg (1 = none)
    cutoff: int = 8  # truncation applies to the first `cutoff` ws
    noise: str = "constant"  # constant, random or off
    noise_seed: int = 0  # the seed of random noise


@dataclass
class MixingSession:
    key: str
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    lock: threading.RLock = field(default_factory=threading.RLock)
    model: lx.LatentModel | None = None
    source: str = ""
    source_step: int = -1
    settings: MixSettings = field(default_factory=MixSettings)
    renders: int = 0

    def set_model(self, model: lx.LatentModel, source: str, step: int = -1) -> None:
        mx.require_style(model)
        with self.lock:
            self.model, self.source, self.source_step = model, source, step
            n = model.G.num_ws
            s = self.settings
            s.layers = tuple(i for i in s.layers if i < n)
            s.cutoff = min(s.cutoff, n) if s.cutoff else n

    def require(self) -> lx.LatentModel:
        if self.model is None:
            raise ValueError("No model yet: choose a style-based model under 'Model' and press Use.")
        return self.model

    def crossover(self):
        s = self.settings
        return list(s.layers) if s.crossover == "custom" else s.crossover

    def single(self):
        m, s = self.require(), self.settings
        return mx.mix_one(m, s.a, s.b, self.crossover(), s.psi, s.cutoff, s.noise, s.noise_seed)

    def render_png(self) -> bytes:
        with self.lock:
            m = self.require()
            pic = vx.tile(self.single(), max(1, VIEW_PX // int(m.G.output_spec.size)))
            self.renders += 1
        return lx.png_bytes(pic)


def check_settings(model: lx.LatentModel, a, b, crossover, layers, psi, cutoff, noise, noise_seed) -> MixSettings:
    """Validated settings; ValueError naming the control for anything out of range."""
    n = model.G.num_ws
    out = MixSettings()
    for name, label, v in (("a", "A seed", a), ("b", "B seed", b), ("noise_seed", "Noise seed", noise_seed)):
        setattr(out, name, whole(v, 0, MAX_SEED, label))
    if crossover not in CROSSOVER_CHOICES:
        raise ValueError(f"Styles from B must be one of {', '.join(CROSSOVER_CHOICES)}, got {str(crossover)[:20]!r}")
    out.crossover = crossover
    idx = []
    for v in layers or []:
        i = whole(v, 0, n - 1, "Custom styles from B")
        idx.append(i)
    out.layers = tuple(sorted(set(idx)))
    try:
        p = float(psi)
    except (TypeError, ValueError):
        raise ValueError(f"Truncation psi must be a number, got {str(psi)[:20]!r}") from None
    if not math.isfinite(p) or not 0.0 <= p <= 1.0:
        raise ValueError(f"Truncation psi must be between 0 and 1, got {psi}")
    out.psi = p
    out.cutoff = whole(cutoff, 0, n, "Truncate the first … styles")
    if noise not in NOISE_CHOICES:
        raise ValueError(f"Noise must be one of {', '.join(NOISE_CHOICES)}, got {str(noise)[:20]!r}")
    out.noise = noise
    return out


def whole(v, lo: int, hi: int, what: str) -> int:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a whole number, got {str(v)[:20]!r}") from None
    if not math.isfinite(f) or f != int(f) or not lo <= f <= hi:
        raise ValueError(f"{what} must be a whole number from {lo} to {hi}, got {str(v)[:20]}")
    return int(f)


def slot_kind(ctx) -> SlotKind:
    """The visitor's mixing state; cheap to rebuild, so a full store drops the least recently used."""
    return SlotKind(SLOT, MixingSession, ctx.caps.get(SLOT, ctx.caps.get("explore", 16)), noun="mixing states",
                    token=lambda s: s.token, evict_lru=True)

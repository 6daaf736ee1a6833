"""The latent explorer's per-visitor state: a frozen copy of a model, the current point (seed, slider
values per basis, psi, class) and the saved directions. The state lives in the visitor's "explore" slot
of the session store, which also finds it by its random render token (see .route). States are closed
with the browser tab (`demo.unload`) or when idle.
"""

from __future__ import annotations

import math
import secrets
import threading
from dataclasses import dataclass, field

import numpy as np
import torch

from gan_core.explore import latent as lx
from gan_core.viz import explore as vx

from ...common.sessions import SlotKind

SLOT = "explore"  # the visitor's slot in the session store
SLIDERS = 8  # direction sliders on one page
SLIDER_MAX = 5.0  # slider range in standard deviations of its direction
PSI_MAX = 2.0  # truncation psi range [0, PSI_MAX]
ROUTE = "/explore/render"  # the fast render route (see .route)
BASES = {"pca": "Principal directions", "axes": "Latent dimensions", "saved": "Saved directions"}
# style-based generators: principal directions of w, added to the styles of some layers only (GANSpace in W)
W_BASES = {"w-all": ("W: principal directions, all styles", None),
           "w-coarse": ("W: principal directions, coarse styles (4x4-8x8)", (0, 4)),
           "w-fine": ("W: principal directions, fine styles (16x16 and up)", (4, None))}
BASES.update({k: label for k, (label, _) in W_BASES.items()})
VIEW_PX = 320  # the image tile is shown this large (the browser enlarges it, pixelated)


@dataclass
class ExploreSession:
    """One visitor's explorer: a frozen copy of a model, the current point and saved directions.
    All reads and writes go through `lock`."""

    key: str
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    lock: threading.RLock = field(default_factory=threading.RLock)
    model: lx.LatentModel | None = None
    source: str = ""  # the model source's choice value
    source_step: int = -1  # training step of a live source when copied
    plane: vx.PlaneView | None = None
    bases: dict = field(default_factory=dict)  # basis name -> Directions
    saved: dict = field(default_factory=dict)  # direction name -> displacement (z_dim,)
    basis: str = "pca"
    base_z: torch.Tensor | None = None
    seed: int = 0
    label: int | None = None
    psi: float = 1.0
    offsets: dict = field(default_factory=dict)  # basis name -> slider values (n,)
    page: int = 0
    renders: int = 0
    extras: dict = field(default_factory=dict)  # results kept for follow-up actions (inversion)

    # ----- the model -------------------------------------------------------------------------------------
    def set_model(self, model: lx.LatentModel, source: str, step: int = -1) -> None:
        with self.lock:
            self.model, self.source, self.source_step = model, source, step
            self.plane = vx.PlaneView(model) if model.kind == "2d" else None
            self.bases = {"pca": lx.pca_directions(model), "axes": lx.axis_directions(model.z_dim)}
            if model.space == "w":
                from gan_core.explore.directions import w_pca_directions

                n = model.G.num_ws
                for k, (_, span) in W_BASES.items():
                    lo_hi = None if span is None else (min(span[0], n - 1), min(span[1] or n, n))
                    self.bases[k] = w_pca_directions(model, layers=lo_hi)
            if self.basis not in self.bases and self.basis != "saved":
                self.basis = "pca"  # W bases of a previous style-based model
            if self.saved and any(len(v) != model.z_dim for v in self.saved.values()):
                self.saved = {}  # directions of another latent space mean nothing here
            self.offsets = {}
            self.label = 0 if model.n_classes else None
            self.page, self.psi = 0, 1.0
            self.set_seed(self.seed)
            self.extras = {}

    def require(self) -> lx.LatentModel:
        if self.model is None:
            raise ValueError("No model to explore yet: choose one under 'Model' first.")
        return self.model

    # ----- directions and the point ----------------------------------------------------------------------
    def directions(self, basis: str | None = None) -> lx.Directions | None:
        basis = basis or self.basis
        if basis == "saved":
            if not self.saved:
                return None
            d = torch.stack(list(self.saved.values()))  # (S, z_dim) displacements
            norms = d.norm(dim=1).clamp_min(1e-12)
            return lx.Directions(d / norms[:, None], norms, torch.zeros(len(d)), "saved")
        return self.bases.get(basis)

    def direction_labels(self, basis: str | None = None) -> list[str]:
        basis = basis or self.basis
        d = self.directions(basis)
        if d is None:
            return []
        if basis == "saved":
            return list(self.saved)
        if basis == "axes":  # InfoGAN code entries say which code they are
            spec = self.model.spec
            k, cats = spec.noise_dim, spec.n_cat
            return [f"z[{i}]" + ("" if i < k else f" (category {i - k})" if i < k + cats
                                 else f" (code {i - k - cats})") for i in range(len(d))]
        return d.labels()

    def values(self, basis: str | None = None) -> np.ndarray:
        basis = basis or self.basis
        d = self.directions(basis)
        n = 0 if d is None else len(d)
        v = self.offsets.get(basis)
        if v is None or len(v) != n:
            v = self.offsets[basis] = np.zeros(n, np.float32)
        return v

    def pages(self) -> int:
        return max(1, -(-len(self.values()) // SLIDERS))

    def page_slice(self) -> slice:
        n = len(self.values())
        self.page = min(self.page, self.pages() - 1)
        return slice(self.page * SLIDERS, min(n, (self.page + 1) * SLIDERS))

    def set_page_values(self, vals) -> None:
        """Slider values of the shown page (extra values beyond the page are ignored)."""
        v, sl = self.values(), self.page_slice()
        n = sl.stop - sl.start
        vals = [float(x) for x in list(vals)[:n]]
        for x in vals:
            check_slider(x)
        v[sl.start:sl.start + len(vals)] = vals

    def moves(self) -> list:
        """(Directions, slider values) of every basis, for the core's displacement."""
        return [(self.directions(basis), self.values(basis)) for basis in BASES]

    def displacement(self) -> torch.Tensor:
        """The sum of the slider moves along z directions (W directions act after the mapping network)."""
        z_moves = [(d, v) for d, v in self.moves() if d is not None and d.space == "z"]
        return lx.displacement(z_moves, self.require().z_dim)

    def point(self) -> torch.Tensor:
        """The current latent: base + every z slider's move, truncated by psi toward the mean."""
        return lx.point(self.require(), self.base_z, self.displacement(), self.psi)

    def output(self) -> torch.Tensor:
        """G's output at the current point, every direction applied in its own space (z or w)."""
        return self.require().render(self.base_z, self.moves(), self.psi, self.label)

    def set_seed(self, seed: int) -> None:
        m = self.require()
        self.seed = int(seed)
        self.base_z = m.latent(self.seed)

    def reset_sliders(self) -> None:
        self.offsets = {}
        self.psi = 1.0

    # ----- pictures --------------------------------------------------------------------------------------
    def picture(self, scale: int = 1) -> np.ndarray:
        """The current point's picture: an image tile (scaled) or the 2D two-panel view."""
        m = self.require()
        if m.kind == "2d":
            return self.plane.render(self.point(), self.directions())
        return vx.tile(self.output(), scale)

    def render_png(self) -> bytes:
        with self.lock:
            pic = self.picture()
            self.renders += 1
        return lx.png_bytes(pic)

    def display_scale(self) -> int:
        m = self.require()
        return 1 if m.kind == "2d" else max(1, VIEW_PX // int(m.G.output_spec.size))


def check_slider(x: float) -> float:
    if not math.isfinite(x) or abs(x) > SLIDER_MAX:
        raise ValueError(f"slider values must be finite and within +-{SLIDER_MAX:g}, got {x}")
    return x


def check_psi(x: float) -> float:
    if not math.isfinite(x) or not 0.0 <= x <= PSI_MAX:
        raise ValueError(f"psi must be between 0 and {PSI_MAX:g}, got {x}")
    return x


def slot_kind(ctx) -> SlotKind:
    """The visitor's explorer state (a full server refuses new ones; nobody is evicted)."""
    return SlotKind(SLOT, ExploreSession, ctx.caps.get(SLOT, 16), noun="explorer states",
                    token=lambda s: s.token)

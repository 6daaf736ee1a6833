"""GANPaint (Bau et al. 2019, the demo of GAN Dissection): paint with a generator's units.

A `Painter` holds a frozen generator, one dissected layer and a list of strokes. A stroke is a class
brush ('tree'), an action ('add' or 'remove'), a set of cells of the layer's map, a strength and a number
of units: the class's top units by IoU are set, inside the cells, to their 99th-percentile activation
times the strength ('add') or to zero ('remove'). Strokes apply in order on top of each other, so undo is
dropping the last one. `render(z)` draws the edited picture and `class_change(z)` the segmented pixels of
every class before and after.

`unit_views` draws the unit viewer: each unit's mean map and the samples where it fires most, with the
thresholded region outlined (for any image generator; class labels only where a segmenter exists).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import models
from .dissect import Dissection, dissect, layer_path, upsample
from .hooks import Trace
from .intervene import check_strength

ACTIONS = ("add", "remove")
MAX_STROKES = 200
MAX_UNITS = 32
PAINT_SAMPLES = 200  # samples dissected when a painter is made


@dataclass(frozen=True)
class Stroke:
    brush: str  # class name
    action: str  # 'add' or 'remove'
    cells: torch.Tensor  # (h, w) bool: where, in the layer's cells
    strength: float  # multiplies the inserted 99th-percentile values
    units: int  # how many of the class's top units


class Painter:
    """A generator ready to paint: `G` a frozen eval copy, dissected at `layer` over PAINT_SAMPLES."""

    def __init__(self, G: nn.Module, family: str, segment=None, layer: str | None = None,
                 samples: int = PAINT_SAMPLES, seed: int = 0):
        if models.output_kind(family) != "image":
            raise ValueError("painting needs an image generator; this one makes 2D points")
        self.G, self.family, self.segment = G, family, segment
        self.path = layer_path(G, layer, family)
        self.z = models.sample_latent(G.latent_spec, samples, torch.Generator().manual_seed(seed))
        self.labels = (torch.randint(G.latent_spec.n_classes, (samples,), generator=torch.Generator().manual_seed(seed))
                       if G.latent_spec.n_classes else None)
        self.d: Dissection = dissect(G, self.path, self.z, segment, self.labels)
        self.strokes: list[Stroke] = []

    # ----- brushes and strokes ---------------------------------------------------------------------------
    @property
    def brushes(self) -> list[str]:
        return list(self.d.class_names) if self.d.iou is not None else []

    @property
    def grid(self) -> tuple[int, int]:
        return tuple(self.d.mean_maps.shape[1:])

    def stroke(self, brush: str, action: str, cells: torch.Tensor, strength: float = 1.0,
               units: int = 6) -> Stroke:
        """A checked stroke (not yet applied)."""
        if not self.brushes:
            raise ValueError("this generator has no segmenter, so there are no class brushes")
        if brush not in self.brushes:
            raise ValueError(f"unknown brush {str(brush)[:30]!r}; the brushes are {', '.join(self.brushes)}")
        if action not in ACTIONS:
            raise ValueError(f"the action must be 'add' or 'remove', got {str(action)[:20]!r}")
        cells = torch.as_tensor(cells, dtype=torch.bool)
        if tuple(cells.shape) != self.grid:
            raise ValueError(f"a stroke covers the {self.grid[0]}x{self.grid[1]} cells of the layer, "
                             f"got a {'x'.join(map(str, cells.shape))} mask")
        if not cells.any():
            raise ValueError("the stroke covers no cell: draw on the picture")
        n = int(units)
        if not 1 <= n <= min(MAX_UNITS, self.d.units):
            raise ValueError(f"units must be between 1 and {min(MAX_UNITS, self.d.units)}, got {units}")
        return Stroke(brush, action, cells.clone(), check_strength(strength), n)

    def push(self, s: Stroke) -> None:
        if len(self.strokes) >= MAX_STROKES:
            raise ValueError(f"at most {MAX_STROKES} strokes: undo or reset first")
        self.strokes.append(s)

    def undo(self) -> bool:
        return bool(self.strokes) and self.strokes.pop() is not None

    def reset(self) -> None:
        self.strokes = []

    def edit(self, strokes: list[Stroke] | None = None):
        """An edit_output applying the strokes in order (None when there are none)."""
        strokes = self.strokes if strokes is None else strokes
        if not strokes:
            return None
        plans = []
        for s in strokes:
            idx = torch.as_tensor(self.d.ranked(s.brush)[:s.units])
            value = self.d.quantiles[idx, 1] * s.strength if s.action == "add" else torch.zeros(len(idx))
            plans.append((idx, value, s.cells))

        def apply(out: torch.Tensor, name: str) -> torch.Tensor:
            out = out.clone()
            for idx, value, cells in plans:
                sub = out[:, idx]
                out[:, idx] = torch.where(cells[None, None], value.to(out.dtype)[None, :, None, None], sub)
            return out

        return apply

    # ----- pictures ----------------------------------------------------------------------------------------
    @torch.no_grad()
    def render(self, z: torch.Tensor, label: int | None = None, strokes: list[Stroke] | None = None) -> torch.Tensor:
        """The painted picture(s) for latents z (B, z_dim): (B, C, S, S) in [-1, 1]."""
        z = z.reshape(-1, self.G.latent_spec.z_dim)
        lab = None
        if self.G.latent_spec.n_classes:
            lab = torch.full((len(z),), int(label or 0), dtype=torch.int64)
        e = self.edit(strokes)
        if e is None:
            return self.G(z, lab)
        with Trace(self.G, self.path, retain_output=False, edit_output=e):
            return self.G(z, lab)

    def class_change(self, z: torch.Tensor, label: int | None = None) -> list[dict]:
        """Per class: segmented pixels before painting, after, and the change ([] without a segmenter)."""
        if self.segment is None:
            return []
        before = self.segment.counts(self.segment.labels(self.render(z, label, strokes=[])))
        after = self.segment.counts(self.segment.labels(self.render(z, label)))
        return [{"class": c, "before": int(b), "after": int(a), "change": int(a - b)}
                for c, b, a in zip(self.segment.names, before, after)]


def outline(mask: np.ndarray) -> np.ndarray:
    """The boundary pixels of a boolean mask (H, W): on, with an off 4-neighbour."""
    m = np.pad(mask, 1)
    inner = m[1:-1, 1:-1] & m[:-2, 1:-1] & m[2:, 1:-1] & m[1:-1, :-2] & m[1:-1, 2:]
    return mask & ~inner


def heat(x: np.ndarray) -> np.ndarray:
    """A map (H, W) as a blue-white-red picture, uint8 (H, W, 3), scaled by its own maximum."""
    v = np.clip(x / max(float(np.abs(x).max()), 1e-12), 0, 1)[..., None]
    lo, hi = np.array([247, 247, 247], np.float32), np.array([178, 24, 43], np.float32)
    return (lo + (hi - lo) * v).astype(np.uint8)


@torch.no_grad()
def unit_views(G: nn.Module, d: Dissection, z: torch.Tensor, unit: int, labels: torch.Tensor | None = None,
               top: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """(mean map (S, S, 3), top samples (top, S, S, 3)) of one unit: the mean map upsampled to the image;
    the `top` samples where the unit's peak activation is largest, its thresholded region outlined in
    yellow. z are the latents `d` was dissected over."""
    from ..data.images import to_uint8

    idx = d.top[unit, :top]
    lab = None if labels is None else labels[idx]
    with Trace(G, d.path) as tr:
        x = G(z[idx], lab)
    size = x.shape[-1]
    on = (upsample(tr.output.float()[:, unit:unit + 1], size)[:, 0] > d.thresholds[unit]).numpy()
    pics = to_uint8(x, rgb=True).copy()  # (k, S, S, 3)
    for i in range(len(pics)):
        pics[i][outline(on[i])] = (255, 221, 0)
    mean = F.interpolate(d.mean_maps[unit][None, None], size=(size, size), mode="bilinear",
                         align_corners=False)[0, 0].numpy()
    return heat(mean), pics


@torch.no_grad()
def points_unit_view(G: nn.Module, path: str, unit: int, px: int = 96, limit: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """For a 2D MLP generator with a 2-dimensional latent: (the unit's activation over the latent plane
    [-limit, limit]^2 (px, px, 3), the same activations drawn at G's output points on the data plane
    (px, px, 3))."""
    if G.latent_spec.z_dim != 2:
        raise ValueError("the latent-plane view needs a generator with a 2-dimensional latent")
    t = torch.linspace(-limit, limit, px)
    zz = torch.stack(torch.meshgrid(t, t.flip(0), indexing="xy"), -1).reshape(-1, 2)  # rows: y from top
    with Trace(G, path) as tr:
        pts = G(zz)
    a = tr.output.reshape(len(zz), -1)[:, unit].numpy()
    lat = heat(a.reshape(px, px))
    data = np.full((px, px, 3), 255, np.uint8)
    p = pts.numpy()
    lo, hi = p.min(0), p.max(0)
    ij = ((p - lo) / np.maximum(hi - lo, 1e-9) * (px - 1)).round().astype(int)
    colours = heat(a[None])[0]
    order = np.argsort(a)  # strongest drawn last
    data[px - 1 - ij[order, 1], ij[order, 0]] = colours[order]
    return lat, data

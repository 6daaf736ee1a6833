"""Pictures of the latent explorer, drawn with numpy (a frame costs milliseconds).

Image generators give tiles and grids of samples. A 2D generator has no image to show, so its point is
drawn GAN Lab style in two panels: on the left the latent plane through the current latent (spanned by
the first two slider directions) with a regular grid and the point; on the right the data plane with the
real points, generated points, that grid pushed through G (the warped grid) and G's output for the point.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .. import models
from ..data.images import grid as tile_grid
from ..data.images import to_uint8
from .plane import FAKE_RGB, GRID_RGB, REAL_RGB, Canvas

POINT_RGB = np.array([230, 97, 1], np.float32)  # the explored point (orange)
PATH_RGB = np.array([33, 102, 172], np.float32)  # an interpolation path (blue)
PANEL_PX = 300
LINES, LINE_PTS = 11, 48


def tile(x: torch.Tensor, scale: int = 1) -> np.ndarray:
    """One image (C, H, W) or (1, C, H, W) in [-1, 1] -> uint8 (H*scale, W*scale, 3)."""
    x = x.reshape(-1, *x.shape[-3:])[:1]
    if scale > 1:
        x = F.interpolate(x.float(), scale_factor=scale, mode="nearest")
    return to_uint8(x, rgb=True)[0]


def image_grid(images: torch.Tensor, cols: int, scale: int = 1, pad_value: int = 255) -> np.ndarray:
    """Images (N, C, H, W) in rows of `cols`, enlarged `scale` times, with thin light gutters."""
    x = images.float()
    if scale > 1:
        x = F.interpolate(x, scale_factor=scale, mode="nearest")
    return tile_grid(x, nrow=cols, padding=max(1, scale), pad_value=pad_value)


def _latent_limit(model) -> float:
    return 1.0 if model.spec.noise == "uniform" else 2.5


def plane_axes(model, dirs) -> torch.Tensor:
    """The (up to) two directions spanning the drawn latent plane, (k, z_dim) with k = min(2, z_dim)."""
    k = min(2, model.z_dim)
    if dirs is not None and len(dirs) >= k and dirs.space == "z":
        return dirs.vectors[:k]
    return torch.eye(model.z_dim)[:k]


class PlaneView:
    """Draws a 2D generator's point; caches what does not depend on the point (real and generated points)."""

    def __init__(self, model, size: int = PANEL_PX):
        self.model, self.size = model, size
        data = model.data
        self.ext = float(getattr(data, "extent", 1.5) or 1.5)
        gen = torch.Generator().manual_seed(1)
        self.real = None if data is None else data.sample(400, gen).numpy()
        z = models.sample_latent(model.spec, 400, torch.Generator().manual_seed(2))
        self.fake = model.generate(z).numpy()
        self._bg_key, self._bg = None, None

    def render(self, z: torch.Tensor, dirs=None, path: np.ndarray | None = None) -> np.ndarray:
        """(size, 2 * size + gap, 3) uint8: latent plane | data plane, for latent z (z_dim,)."""
        axes = plane_axes(self.model, dirs)  # (k, d)
        c = axes @ z  # the point in plane coordinates
        centre = z - c @ axes  # the plane passes through z
        left, right = (img.copy() for img in self._backgrounds(axes, centre))
        coords = c.numpy()
        lc, rc = Canvas(self.size, _latent_limit(self.model) * 1.15), Canvas(self.size, self.ext)
        lc.img, rc.img = left, right
        lc.points(np.array([[coords[0], coords[1] if len(coords) > 1 else 0.0]]), POINT_RGB, radius=5)
        if path is not None and len(path) > 1:
            rc.segments(path[:-1], path[1:], PATH_RGB, alpha=0.9)
        rc.points(self.model.generate(z[None]).numpy(), POINT_RGB, radius=5)
        gap = np.full((self.size, 8, 3), 255, np.uint8)
        return np.concatenate([lc.img, gap, rc.img], 1)

    def _backgrounds(self, axes: torch.Tensor, centre: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """The two panels without the point: the latent grid, and the data plane with real and generated
        points and the warped grid. They change only with the plane (always the same for z_dim <= 2), so
        the last pair is kept: dragging a slider redraws just the point."""
        key = (axes.numpy().tobytes(), (centre.numpy().round(4) + 0.0).tobytes())  # + 0.0: no -0.0
        if key == self._bg_key:
            return self._bg
        m, lim = self.model, _latent_limit(self.model)
        t = torch.linspace(-lim, lim, LINE_PTS)
        if len(axes) == 1:
            lines_z = (centre[None] + t[:, None] * axes[0][None])[None]  # (1, P, d)
            lines_2d = np.stack([t.numpy(), np.zeros(LINE_PTS)], 1)[None]
        else:
            v = torch.linspace(-lim, lim, LINES)
            a = t[None, :, None] * axes[0] + v[:, None, None] * axes[1]  # lines along axis 0
            b = v[:, None, None] * axes[0] + t[None, :, None] * axes[1]  # lines along axis 1
            lines_z = centre + torch.cat([a, b])  # (2L, P, d)
            ta, va = np.meshgrid(t.numpy(), v.numpy())
            lines_2d = np.concatenate([np.stack([ta, va], -1), np.stack([va, ta], -1)])
        warped = m.generate(lines_z.reshape(-1, m.z_dim)).reshape(len(lines_z), LINE_PTS, -1).numpy()
        left = Canvas(self.size, lim * 1.15)
        left.axes()
        for ln in lines_2d:
            left.segments(ln[:-1], ln[1:], GRID_RGB, alpha=0.35)
        right = Canvas(self.size, self.ext)
        right.axes()
        if self.real is not None:
            right.points(self.real, REAL_RGB, radius=1)
        right.points(self.fake, FAKE_RGB * 0.5 + 127, radius=1)
        for ln in warped:
            right.segments(ln[:-1], ln[1:], GRID_RGB, alpha=0.45)
        self._bg_key, self._bg = key, (left.img, right.img)
        return self._bg

    def scatter(self, points: np.ndarray, size: int | None = None) -> np.ndarray:
        """The data plane with real points and the given generated points (for truncation rows)."""
        c = Canvas(size or self.size // 2, self.ext)
        c.axes()
        if self.real is not None:
            c.points(self.real, REAL_RGB, radius=1)
        c.points(points, FAKE_RGB, radius=1)
        return c.img


def hstack(pictures: list[np.ndarray], gap: int = 6) -> np.ndarray:
    """Pictures of equal height side by side with white gaps."""
    h = max(p.shape[0] for p in pictures)
    out = []
    for i, p in enumerate(pictures):
        if p.shape[0] < h:
            p = np.concatenate([p, np.full((h - p.shape[0], p.shape[1], 3), 255, np.uint8)])
        out.append(p)
        if i < len(pictures) - 1:
            out.append(np.full((h, gap, 3), 255, np.uint8))
    return np.concatenate(out, 1)


def vstack(pictures: list[np.ndarray], gap: int = 6) -> np.ndarray:
    """Pictures stacked top to bottom (narrower ones padded white on the right)."""
    w = max(p.shape[1] for p in pictures)
    out = []
    for i, p in enumerate(pictures):
        if p.shape[1] < w:
            p = np.concatenate([p, np.full((p.shape[0], w - p.shape[1], 3), 255, np.uint8)], 1)
        out.append(p)
        if i < len(pictures) - 1:
            out.append(np.full((gap, w, 3), 255, np.uint8))
    return np.concatenate(out, 0)

"""The layered 2D view of GAN Lab, drawn straight into a numpy RGB array.

Layers: D's decision surface as a heatmap (green = looks real, purple = looks fake), real points,
generated points, the generator's manifold (a grid in noise space pushed through G), and arrows showing
the direction each generated point is pushed by G's loss gradient. Drawing with numpy keeps a frame at a
few milliseconds, so polling the live view at several frames a second barely slows training.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .. import losses, models
from ..models import copies

LAYERS = ("heatmap", "real", "fake", "manifold", "gradients")
REAL_RGB = np.array([27, 120, 55], np.float32)
FAKE_RGB = np.array([118, 42, 131], np.float32)
GRID_RGB = np.array([40, 40, 40], np.float32)
ARROW_RGB = np.array([230, 97, 1], np.float32)
_LUT_STOPS = np.array([[153, 112, 171], [247, 247, 247], [90, 174, 97]], np.float32)  # fake, 0.5, real


def _lut() -> np.ndarray:
    x = np.linspace(0, 1, 256)
    out = np.empty((256, 3), np.float32)
    for c in range(3):
        out[:, c] = np.interp(x, [0, 0.5, 1], _LUT_STOPS[:, c])
    return out


LUT = _lut().astype(np.uint8)


class PlaneRenderer:
    """Draws snapshots of one session; keeps its own copies of G and D so training is never disturbed."""

    def __init__(self, size: int = 480, n_points: int = 500, heat_res: int = 72):
        self.size, self.n_points, self.heat_res = size, n_points, heat_res
        self._key = None
        self._real_key = None
        self._loads = 0  # weight loads that changed G or D (never repeats: the layers' cache keys use it)
        self._g_ver = self._d_ver = -1  # the load that put the current G / D weights in
        self._cache: dict = {}  # layer name -> (what it was computed from, value)

    def _models(self, snap):
        key = (snap.cfg.family, tuple(sorted(snap.cfg.model.items())))
        if key != self._key:
            self.G, self.D, self._g_flat, self._d_flat = copies.trainer_layout(snap.cfg.family, snap.cfg.model,
                                                                               with_d=True)
            self.G.eval()
            self.D.eval()
            self._key = key
            self._g_ver = self._d_ver = -1
            self._cache.clear()
        # the renderer's copies live on the CPU, whatever device the session trains on; weights equal to
        # those already in are not loaded again, and what was computed from them stays valid
        if _changed(self._g_flat, snap.g_state) or self._g_ver < 0:
            self._loads += 1
            self._g_ver = self._loads
        if _changed(self._d_flat, snap.d_state) or self._d_ver < 0:
            self._loads += 1
            self._d_ver = self._loads
        return self.G, self.D

    def _cached(self, name: str, key: tuple, compute):
        """The layer `name` computed from `key` (the weights' loads and the settings it depends on):
        computed once, then reused while the key holds."""
        hit = self._cache.get(name)
        if hit is not None and hit[0] == key:
            return hit[1]
        value = compute()
        self._cache[name] = (key, value)
        return value

    def _latents(self, G) -> torch.Tensor:
        """The fixed latents of the fake points (the same at every frame, so points move only with G)."""
        if getattr(self, "_z_key", None) is not self._key:
            self._z = models.sample_latent(G.latent_spec, self.n_points, torch.Generator().manual_seed(2))
            self._z_key = self._key
        return self._z

    def _real(self, data) -> torch.Tensor:
        if self._real_key is not data:
            self._real_pts = data.sample(self.n_points, torch.Generator().manual_seed(1))
            self._real_key = data
        return self._real_pts

    def render(self, snap, layers=LAYERS) -> np.ndarray:
        """An (S, S, 3) uint8 picture of the snapshot with the chosen layers."""
        G, D = self._models(snap)
        ext = float(snap.data.extent)
        canvas = Canvas(self.size, ext)
        loss = snap.cfg.loss
        with torch.no_grad():
            if "heatmap" in layers:
                canvas.heatmap(self._surface(D, ext, loss))
            else:
                canvas.img[:] = 255
            canvas.axes()
            if "manifold" in layers:
                lines = _manifold_lines(G)
                canvas.segments(np.concatenate([ln[:-1] for ln in lines]),
                                np.concatenate([ln[1:] for ln in lines]), GRID_RGB, alpha=0.35)
            if "real" in layers:
                canvas.points(self._real(snap.data).numpy(), REAL_RGB)
            z = models.sample_latent(G.latent_spec, self.n_points, torch.Generator().manual_seed(2))
            fake = G(z)
        if "fake" in layers:
            canvas.points(fake.numpy(), FAKE_RGB)
        if "gradients" in layers:
            self._arrows(canvas, D, fake[:150], loss, ext)
        return canvas.img

    def _surface(self, D, ext: float, loss: str) -> np.ndarray:
        r = self.heat_res
        c = torch.linspace(-ext, ext, r)
        p = verdict(D, c, loss).reshape(1, 1, r, r)
        p = F.interpolate(p, size=(self.size, self.size), mode="bilinear", align_corners=True)
        return p[0, 0].numpy()

    def _arrows(self, canvas, D, pts: torch.Tensor, loss: str, ext: float) -> None:
        v = arrow_vectors(D, pts, loss, ext)
        p = pts.numpy()
        canvas.segments(p, p + v, ARROW_RGB, alpha=0.9)
        canvas.points(p + v, ARROW_RGB, radius=1)

    def frame_data(self, snap, layers=LAYERS, heat_res: int = 48) -> dict:
        """The picture's layers as data for a page to draw (the live view): `extent`, and for each chosen
        layer `heat` ((r, r) D's verdict in [0, 1] at cell centres, row 0 at the top), `real` / `fake`
        ((N, 2) points), `manifold` ((L, P, 2) polylines), `arrows` ((M, 2, 2) start and end points).
        The same models, points and scales as render(). Each layer is computed once per weights (D's for
        the heat map, G's for the points and the manifold, both for the arrows) and reused while the
        snapshots' weights stay the same (a paused session, one side stepped, the layers changed); the
        arrays are read-only."""
        G, D = self._models(snap)
        ext, loss = float(snap.data.extent), snap.cfg.loss
        g, d = self._g_ver, self._d_ver
        out: dict = {"extent": ext}

        def heat():
            h = 2 * ext / heat_res
            c = torch.linspace(-ext + h / 2, ext - h / 2, heat_res)
            with torch.no_grad():
                return _frozen(verdict(D, c, loss).numpy())

        def fake():
            with torch.no_grad():
                return _frozen(G(self._latents(G)).numpy())

        def manifold():
            with torch.no_grad():
                return _frozen(np.stack(_manifold_lines(G)))

        def arrows():
            p = torch.from_numpy(self._cached("fake", (g,), fake)[:150].copy())
            return _frozen(np.stack([p.numpy(), p.numpy() + arrow_vectors(D, p, loss, ext)], 1))

        if "heatmap" in layers:
            out["heat"] = self._cached("heat", (d, ext, loss, heat_res), heat)
        if "manifold" in layers:
            out["manifold"] = self._cached("manifold", (g,), manifold)
        if "real" in layers:
            out["real"] = _frozen(self._real(snap.data).numpy())
        if "fake" in layers:
            out["fake"] = self._cached("fake", (g,), fake)
        if "gradients" in layers:
            out["arrows"] = self._cached("arrows", (g, d, ext, loss), arrows)
        return out


def _changed(flat, state: torch.Tensor) -> bool:
    """Load a snapshot's flat weights into a renderer's copy unless it holds them already; whether it
    loaded them."""
    w = state.detach().reshape(-1).to("cpu", torch.float32)
    if w.numel() == flat.data.numel() and torch.equal(flat.data, w):
        return False
    copies.load_flat(flat, w)
    return True


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def verdict(D, c: torch.Tensor, loss: str) -> torch.Tensor:
    """D's verdict in [0, 1] (1 = looks real) on the grid c x c: (r, r), row 0 at y = c[-1] (the top).
    Probabilities for the logistic losses, clamped scores for LSGAN, and for critics the score centred
    on its median with its spread squashed."""
    r = len(c)
    yy, xx = torch.meshgrid(c.flip(0), c, indexing="ij")  # row 0 = top
    s = D.score_points(torch.stack([xx.reshape(-1), yy.reshape(-1)], 1)).reshape(r, r)
    if loss in ("minimax", "nonsaturating"):
        return torch.sigmoid(s)
    if loss == "lsgan":
        return s.clamp(0, 1)
    return torch.sigmoid((s - s.median()) / (s.std() + 1e-6) * 1.5)


def arrow_vectors(D, pts: torch.Tensor, loss: str, ext: float) -> np.ndarray:
    """(M, 2) moves G's loss asks of the points `pts`, scaled so the 95th percentile is 12 % of the extent."""
    x = pts.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        g = torch.autograd.grad(losses.g_loss(loss, D.score_points(x)), x)[0]
    v = -g.numpy()
    norm = np.linalg.norm(v, axis=1, keepdims=True)
    top = np.percentile(norm, 95) + 1e-12
    return v / top * 0.12 * ext


def _manifold_lines(G, n_lines: int = 13, n_pts: int = 60) -> list[np.ndarray]:
    spec = G.latent_spec
    lim = 1.0 if spec.noise == "uniform" else 2.5
    t = torch.linspace(-lim, lim, n_pts)
    if spec.z_dim == 1:
        return [G(t[:, None]).numpy()]
    v = torch.linspace(-lim, lim, n_lines)
    z = torch.zeros(2, n_lines, n_pts, spec.z_dim)  # (axis, line, point, z)
    z[0, :, :, 0], z[0, :, :, 1] = t[None, :], v[:, None]
    z[1, :, :, 1], z[1, :, :, 0] = t[None, :], v[:, None]
    x = G(z.reshape(-1, spec.z_dim)).reshape(2 * n_lines, n_pts, -1).numpy()
    return list(x)


class Canvas:
    """An RGB float canvas with world coordinates [-ext, ext]^2 (y up)."""

    def __init__(self, size: int, ext: float):
        self.size, self.ext = size, ext
        self.img = np.full((size, size, 3), 255, np.uint8)

    def to_px(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = self.size / (2 * self.ext)
        col = ((p[:, 0] + self.ext) * s).astype(np.int64)
        row = ((self.ext - p[:, 1]) * s).astype(np.int64)
        return row, col

    def heatmap(self, p: np.ndarray) -> None:
        idx = (np.clip(p, 0, 1) * 255).astype(np.uint8)
        self.img = np.take(LUT, idx, axis=0)

    def axes(self) -> None:
        s = self.size / (2 * self.ext)
        for v in range(int(-self.ext), int(self.ext) + 1):
            k = int(round((v + self.ext) * s))
            shade = 0.75 if v == 0 else 0.9
            if 0 <= k < self.size:
                self.img[:, k] = (self.img[:, k] * shade).astype(np.uint8)
                self.img[self.size - 1 - k] = (self.img[self.size - 1 - k] * shade).astype(np.uint8)

    def points(self, p: np.ndarray, rgb: np.ndarray, radius: int = 2) -> None:
        p = p[np.isfinite(p).all(1)]
        row, col = self.to_px(p)
        for dy in range(-radius, radius + 1):
            for dx in range(-radius, radius + 1):
                if dx * dx + dy * dy > radius * radius + 1:
                    continue
                r, c = row + dy, col + dx
                ok = (r >= 0) & (r < self.size) & (c >= 0) & (c < self.size)
                self.img[r[ok], c[ok]] = rgb.astype(np.uint8)

    def segments(self, a: np.ndarray, b: np.ndarray, rgb: np.ndarray, alpha: float = 1.0) -> None:
        """Straight segments a[i] -> b[i], sampled densely enough to look continuous."""
        ok = np.isfinite(a).all(1) & np.isfinite(b).all(1)
        a, b = a[ok], b[ok]
        if len(a) == 0:
            return
        seg_px = np.abs(b - a).max(1) * self.size / (2 * self.ext)
        k = int(np.clip(seg_px.max(), 2, 200))
        t = np.linspace(0, 1, k)[None, :, None]
        dense = (a[:, None] + (b - a)[:, None] * t).reshape(-1, 2)
        row, col = self.to_px(dense)
        ok = (row >= 0) & (row < self.size) & (col >= 0) & (col < self.size)
        row, col = row[ok], col[ok]
        cur = self.img[row, col].astype(np.float32)
        self.img[row, col] = (cur * (1 - alpha) + rgb * alpha).astype(np.uint8)

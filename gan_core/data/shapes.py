"""Procedural dSprites-like sprites: one coloured shape per image on a black background, RGB.

Each image has known ground-truth factors: shape (0-3: square, circle, triangle, heart), scale (0.5-1.0),
rotation (radians, [0, 2pi)), x and y (the sprite centre as a fraction of the image side, kept so the
sprite stays inside) and colour (an index into `PALETTE`). Sprites are drawn with vectorised
point-in-shape tests on a supersampled grid, then box-downsampled for antialiasing. A sprite at scale s
fits in a disc of radius `RADIUS * s` image sides around its centre.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .images import ImageDataset

SHAPES = ["square", "circle", "triangle", "heart"]
PALETTE = np.array([  # saturated RGB colours in [0, 1]
    [0.95, 0.15, 0.15],  # red
    [0.15, 0.85, 0.20],  # green
    [0.20, 0.40, 1.00],  # blue
    [1.00, 0.90, 0.10],  # yellow
    [0.90, 0.20, 0.90],  # magenta
    [0.10, 0.85, 0.95],  # cyan
], dtype=np.float32)
PALETTE_NAMES = ["red", "green", "blue", "yellow", "magenta", "cyan"]
SCALE_RANGE = (0.5, 1.0)
RADIUS = 0.3  # bounding radius of a scale-1 sprite, as a fraction of the image side
_HEART_FIT = 1.281  # heart curve (x^2+y^2-1)^3 = x^2 y^3, centred at y=0.2, fits a disc of this radius
_CHUNK_PIXELS = 1 << 22  # supersampled pixels per rendering chunk (bounds memory)


def _square(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.maximum(np.abs(u), np.abs(v)) <= 0.7


def _circle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return u * u + v * v <= 0.64


def _triangle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Equilateral, circumradius 1, apex up (v grows downwards)."""
    a = 0.5 * v
    b = 0.8660254 * u
    return (v <= 0.5) & (b - a <= 0.5) & (-b - a <= 0.5)


def _heart(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    x = u * _HEART_FIT
    y = 0.2 - v * _HEART_FIT
    x2 = x * x
    r = x2 + y * y - 1.0
    return r * r * r <= x2 * y * y * y


_TESTS = [_square, _circle, _triangle, _heart]


def _supersampling(size: int) -> int:
    return 4 if size <= 48 else 3


def _coverage(shape: int, scale: np.ndarray, rot: np.ndarray, x: np.ndarray, y: np.ndarray,
              size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Antialiased coverage (B, W, W) in [0, 1] of B sprites of one shape, in W-pixel windows.

    Returns (coverage, left, top): window b covers pixel columns left[b]..left[b]+W-1, rows likewise.
    """
    ss = _supersampling(size)
    w = min(size, math.ceil(2 * RADIUS * float(scale.max()) * size) + 2)
    left = np.clip(np.floor((x - RADIUS * scale) * size).astype(np.int64), 0, size - w)
    top = np.clip(np.floor((y - RADIUS * scale) * size).astype(np.int64), 0, size - w)
    sub = (np.arange(w * ss, dtype=np.float32) + 0.5) / np.float32(size * ss)
    inv_r = (1.0 / (RADIUS * scale)).astype(np.float32)[:, None, None]
    cos = np.cos(rot).astype(np.float32)[:, None, None] * inv_r
    sin = np.sin(rot).astype(np.float32)[:, None, None] * inv_r
    dx = (sub[None, :] + (left / size - x).astype(np.float32)[:, None])[:, None, :]  # (B, 1, S)
    dy = (sub[None, :] + (top / size - y).astype(np.float32)[:, None])[:, :, None]  # (B, S, 1)
    u = dx * cos + dy * sin  # sprite frame: the image rotated back by `rot`
    v = dy * cos - dx * sin
    inside = _TESTS[shape](u, v)
    hits = inside.view(np.uint8).reshape(len(x), w, ss, w, ss).sum(axis=(2, 4), dtype=np.uint8)
    return hits.astype(np.float32) * np.float32(1.0 / (ss * ss)), left, top


def render_shapes(shape: np.ndarray, scale: np.ndarray, rotation: np.ndarray, x: np.ndarray,
                  y: np.ndarray, colour: np.ndarray, size: int = 32) -> torch.Tensor:
    """Draw sprites from explicit factors (arrays of length N) -> (N, 3, size, size) float32 in [-1, 1]."""
    shape, colour = np.asarray(shape, np.int64), np.asarray(colour, np.int64)
    scale, rotation = np.asarray(scale, np.float64), np.asarray(rotation, np.float64)
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    cov = np.zeros((len(shape), size, size), np.float32)
    chunk = max(1, _CHUNK_PIXELS // (size * _supersampling(size)) ** 2)
    for k in range(len(SHAPES)):
        idx = np.flatnonzero(shape == k)
        idx = idx[np.argsort(scale[idx], kind="stable")]  # similar scales share a window size
        for lo in range(0, len(idx), chunk):
            j = idx[lo:lo + chunk]
            win, left, top = _coverage(k, scale[j], rotation[j], x[j], y[j], size)
            w = win.shape[-1]
            rows = (top[:, None] + np.arange(w))[:, :, None]
            cols = (left[:, None] + np.arange(w))[:, None, :]
            cov[j[:, None, None], rows, cols] = win
    img = np.multiply(cov[:, None], 2.0 * PALETTE[colour][:, :, None, None], dtype=np.float32)
    img -= 1.0
    return torch.from_numpy(img)


def sample_factors(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Random factors for n sprites; x, y keep the sprite's bounding disc inside the image."""
    rng = np.random.default_rng(seed)
    shape = rng.integers(0, len(SHAPES), n)
    scale = rng.uniform(*SCALE_RANGE, n)
    rotation = rng.uniform(0.0, 2 * math.pi, n)
    margin = RADIUS * scale
    x = margin + rng.uniform(0.0, 1.0, n) * (1 - 2 * margin)
    y = margin + rng.uniform(0.0, 1.0, n) * (1 - 2 * margin)
    colour = rng.integers(0, len(PALETTE), n)
    return {"shape": shape, "scale": scale, "rotation": rotation, "x": x, "y": y, "colour": colour}


def make_shapes(n: int, size: int = 32, seed: int = 0) -> ImageDataset:
    """n random sprites at `size` pixels (any size >= 8); labels are the shape index."""
    if n < 1 or size < 8:
        raise ValueError(f"need n >= 1 and size >= 8, got n={n}, size={size}")
    f = sample_factors(n, seed)
    images = render_shapes(f["shape"], f["scale"], f["rotation"], f["x"], f["y"], f["colour"], size)
    factors = {k: torch.from_numpy(v.astype(np.int64 if v.dtype.kind == "i" else np.float32))
               for k, v in f.items()}
    meta = {"source": "procedural shapes", "size": size, "channels": 3, "seed": seed,
            "palette": PALETTE.tolist(), "palette_names": list(PALETTE_NAMES), "radius": RADIUS}
    return ImageDataset("shapes", images, factors["shape"].clone(), list(SHAPES), factors=factors, meta=meta)

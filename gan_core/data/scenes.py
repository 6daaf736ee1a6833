"""Procedural landscapes with per-pixel class masks, for segmentation probes of generators.

Each RGB scene has a horizon, a sky (optionally with a sun and up to 3 clouds), optional mountains with a
jagged silhouette, grass below the horizon, optionally a water band or lake, optionally a house (wall and
roof) and 0-4 trees (crown and trunk). Things are painted back to front and every pixel's mask class is
the topmost thing drawn there, so masks agree with pixels exactly (no antialiasing across classes). Each
part has a colour family (`PART_COLOURS`): a base colour chosen per image, a per-image jitter
(`JITTER`) and per-pixel noise (`NOISE`), kept apart enough that a small segmenter can learn them.
"""

from __future__ import annotations

import numpy as np
import torch

from .images import ImageDataset

MASK_NAMES = ["sky", "cloud", "sun", "mountain", "grass", "water", "tree", "house"]

# Parts are what gets painted; several parts can share a mask class (crown + trunk = tree).
PARTS = ["sky", "cloud", "sun", "mountain", "grass", "water", "crown", "trunk", "wall", "roof"]
PART_CLASS = {"sky": "sky", "cloud": "cloud", "sun": "sun", "mountain": "mountain", "grass": "grass",
              "water": "water", "crown": "tree", "trunk": "tree", "wall": "house", "roof": "house"}
PART_COLOURS: dict[str, list[tuple[int, int, int]]] = {  # RGB 0-255; one base per image is picked
    "sky": [(95, 155, 230), (80, 140, 220)],  # blue; lighter towards the horizon (SKY_GLOW)
    "cloud": [(240, 242, 248), (225, 228, 236)],  # white / light grey
    "sun": [(255, 215, 40), (250, 200, 30)],  # yellow
    "mountain": [(125, 108, 95), (105, 115, 138)],  # greyish brown / greyish blue
    "grass": [(75, 150, 55), (95, 160, 60)],  # mid green
    "water": [(30, 70, 150), (25, 85, 140)],  # dark blue
    "crown": [(30, 100, 40), (25, 85, 35)],  # dark green
    "trunk": [(95, 60, 30), (80, 50, 28)],  # brown
    "wall": [(225, 205, 165), (210, 190, 150)],  # cream / tan
    "roof": [(175, 50, 40), (130, 65, 40)],  # red / brown
}
SKY_GLOW = (35, 25, 10)  # added to the sky colour at the horizon, fading to 0 at the top
JITTER = 12.0  # per-image, per-part colour offset: uniform in +-JITTER per channel
NOISE = 5.0  # per-pixel uniform noise, std in 0-255 units
MAX_TREES, MAX_CLOUDS, MAX_PEAKS = 4, 3, 3
_CHUNK = 256


def _u(a: np.ndarray) -> np.ndarray:
    """Per-image parameters (B,) -> (B, 1, 1) to broadcast against pixel grids."""
    return a[:, None, None]


def _sample_layout(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """All random geometry for n scenes, as arrays of shape (n,) or (n, slots). Fractions of the side."""
    p: dict[str, np.ndarray] = {}
    h = p["horizon"] = rng.uniform(0.4, 0.68, n)
    p["sun"] = rng.random(n) < 0.6
    p["sun_r"] = rng.uniform(0.06, 0.1, n)
    p["sun_x"] = rng.uniform(0.1, 0.9, n)
    p["sun_y"] = p["sun_r"] + 0.03 + rng.random(n) * (h - 2 * p["sun_r"] - 0.08)
    p["clouds"] = np.arange(MAX_CLOUDS)[None] < rng.integers(0, MAX_CLOUDS + 1, n)[:, None]
    p["cloud_x"] = rng.uniform(0.0, 1.0, (n, MAX_CLOUDS))
    p["cloud_y"] = rng.uniform(0.06, 1.0, (n, MAX_CLOUDS)) * (h[:, None] - 0.12) + 0.03
    p["cloud_rx"] = rng.uniform(0.08, 0.18, (n, MAX_CLOUDS))
    p["cloud_ry"] = rng.uniform(0.035, 0.07, (n, MAX_CLOUDS))
    p["mountains"] = rng.random(n) < 0.7
    p["peaks"] = np.arange(MAX_PEAKS)[None] < rng.integers(1, MAX_PEAKS + 1, n)[:, None]
    p["peak_x"] = rng.uniform(0.0, 1.0, (n, MAX_PEAKS))
    p["peak_h"] = rng.uniform(0.08, 0.3, (n, MAX_PEAKS))
    p["peak_slope"] = rng.uniform(0.9, 2.5, (n, MAX_PEAKS))
    p["jag_phase"] = rng.uniform(0.0, 2 * np.pi, (n, 2))
    p["water"] = rng.random(n) < 0.5
    p["lake"] = rng.random(n) < 0.6  # else a band along the horizon
    p["water_x"] = rng.uniform(0.2, 0.8, n)
    p["water_y"] = h + 0.1 + rng.random(n) * (0.88 - h - 0.1)
    p["water_rx"] = rng.uniform(0.12, 0.3, n)
    p["water_ry"] = rng.uniform(0.04, 0.08, n)
    p["band"] = rng.uniform(0.05, 0.12, n)
    p["house"] = rng.random(n) < 0.5
    p["house_x"] = rng.uniform(0.15, 0.85, n)
    p["house_y"] = h + 0.12 + rng.random(n) * (0.96 - h - 0.12)
    p["house_w"] = rng.uniform(0.16, 0.26, n)
    p["wall_h"] = rng.uniform(0.09, 0.14, n)
    p["roof_h"] = rng.uniform(0.06, 0.1, n)
    p["trees"] = np.arange(MAX_TREES)[None] < rng.integers(0, MAX_TREES + 1, n)[:, None]
    p["tree_x"] = rng.uniform(0.04, 0.96, (n, MAX_TREES))
    p["tree_y"] = h[:, None] + 0.04 + rng.random((n, MAX_TREES)) * (0.99 - h[:, None] - 0.04)
    p["crown_r"] = rng.uniform(0.045, 0.085, (n, MAX_TREES))
    p["trunk_h"] = rng.uniform(0.05, 0.09, (n, MAX_TREES))
    p["trunk_w"] = rng.uniform(0.02, 0.035, (n, MAX_TREES))
    p["colour_pick"] = rng.integers(0, 2, (n, len(PARTS)))
    p["jitter"] = rng.uniform(-JITTER, JITTER, (n, len(PARTS), 3))
    return p


def _sky_things(part: np.ndarray, p: dict, u: np.ndarray, v: np.ndarray) -> None:
    """Paint sun, clouds and mountains into `part` (B, S, S) in place."""
    h = _u(p["horizon"])
    sun = _u(p["sun"]) & ((u - _u(p["sun_x"])) ** 2 + (v - _u(p["sun_y"])) ** 2 <= _u(p["sun_r"]) ** 2)
    part[sun] = PARTS.index("sun")
    for k in range(MAX_CLOUDS):
        dx = (u - _u(p["cloud_x"][:, k])) / _u(p["cloud_rx"][:, k])
        dy = (v - _u(p["cloud_y"][:, k])) / _u(p["cloud_ry"][:, k])
        part[_u(p["clouds"][:, k]) & (dx * dx + dy * dy <= 1.0) & (v < h)] = PARTS.index("cloud")
    prof = np.full(u.shape, -1.0)
    for k in range(MAX_PEAKS):
        peak = _u(p["peak_h"][:, k]) - _u(p["peak_slope"][:, k]) * np.abs(u - _u(p["peak_x"][:, k]))
        prof = np.where(_u(p["peaks"][:, k]), np.maximum(prof, peak), prof)
    ph = p["jag_phase"]
    jag = 0.015 * np.sin(41.0 * u + _u(ph[:, 0])) + 0.01 * np.sin(97.0 * u + _u(ph[:, 1]))
    mountain = _u(p["mountains"]) & (prof > 0) & (v >= h - prof - jag) & (v < h)
    part[mountain] = PARTS.index("mountain")


def _ground_things(part: np.ndarray, p: dict, u: np.ndarray, v: np.ndarray, size: int) -> None:
    """Paint grass, water, the house and the trees (back to front) into `part` in place."""
    h = _u(p["horizon"])
    part[np.broadcast_to(v >= h, part.shape)] = PARTS.index("grass")
    ex = (u - _u(p["water_x"])) / _u(p["water_rx"])
    ey = (v - _u(p["water_y"])) / _u(p["water_ry"])
    lake = ex * ex + ey * ey <= 1.0
    band = v < h + _u(p["band"])
    part[_u(p["water"]) & (v >= h) & np.where(_u(p["lake"]), lake, band)] = PARTS.index("water")
    hx, base, half = _u(p["house_x"]), _u(p["house_y"]), _u(p["house_w"]) / 2
    eaves, ridge = base - _u(p["wall_h"]), base - _u(p["wall_h"]) - _u(p["roof_h"])
    wall = (np.abs(u - hx) <= half) & (v >= eaves) & (v <= base)
    roof = (v >= ridge) & (v < eaves) & (np.abs(u - hx) <= (half + 0.02) * (v - ridge) / (eaves - ridge))
    part[_u(p["house"]) & wall] = PARTS.index("wall")
    part[_u(p["house"]) & roof] = PARTS.index("roof")
    order = np.argsort(p["tree_y"], axis=1)  # far (higher up) trees first, near ones over them
    for k in range(MAX_TREES):
        t = {key: np.take_along_axis(p[key], order, 1)[:, k]
             for key in ("trees", "tree_x", "tree_y", "crown_r", "trunk_h", "trunk_w")}
        tx, ty, r = _u(t["tree_x"]), _u(t["tree_y"]), _u(t["crown_r"])
        top = ty - _u(t["trunk_h"])
        trunk = (np.abs(u - tx) <= np.maximum(_u(t["trunk_w"]), 1.01 / size) / 2) & (v >= top) & (v <= ty)
        crown = (u - tx) ** 2 + (v - (top - 0.6 * r)) ** 2 <= r * r
        part[_u(t["trees"]) & trunk] = PARTS.index("trunk")
        part[_u(t["trees"]) & crown] = PARTS.index("crown")


def _colours(part: np.ndarray, p: dict, v: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per-pixel RGB (B, 3, S, S) in 0-255 from the part map, with jitter, sky glow and noise."""
    n, n_parts = len(part), len(PARTS)
    bases = np.array([PART_COLOURS[name] for name in PARTS], np.float32)  # (parts, 2, 3)
    table = (bases[np.arange(n_parts), p["colour_pick"]] + p["jitter"]).astype(np.float32)  # (B, parts, 3)
    flat = part + (np.arange(n) * n_parts)[:, None, None]
    rgb = np.take(table.transpose(2, 0, 1).reshape(3, -1), flat, axis=1).transpose(1, 0, 2, 3)
    glow = (np.clip(v / _u(p["horizon"]), 0, 1) * (part == PARTS.index("sky"))).astype(np.float32)
    rgb += glow[:, None] * np.array(SKY_GLOW, np.float32)[:, None, None]
    noise = rng.random(rgb.shape, dtype=np.float32)  # uniform, std NOISE: cheaper than Gaussian
    noise -= np.float32(0.5)
    noise *= np.float32(NOISE * 12 ** 0.5)
    rgb += noise
    return np.clip(rgb, 0, 255, out=rgb)


def _render(p: dict, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """RGB (B, 3, S, S) float32 in 0-255 and masks (B, S, S) int64 for one chunk of layouts."""
    n = len(p["horizon"])
    c = (np.arange(size) + 0.5) / size
    u, v = c[None, None, :], c[None, :, None]
    part = np.zeros((n, size, size), np.int64)  # all sky
    _sky_things(part, p, u, v)
    _ground_things(part, p, u, v, size)
    to_class = np.array([MASK_NAMES.index(PART_CLASS[name]) for name in PARTS], np.int64)
    return _colours(part, p, v, rng), to_class[part]


def make_scenes(n: int, size: int = 32, seed: int = 0) -> ImageDataset:
    """n random landscapes at `size` pixels (32 and 64 are the intended sizes) with per-pixel masks."""
    if n < 1 or size < 16:
        raise ValueError(f"need n >= 1 and size >= 16, got n={n}, size={size}")
    rng = np.random.default_rng(seed)
    layout = _sample_layout(n, rng)
    images = np.empty((n, 3, size, size), np.float32)
    masks = np.empty((n, size, size), np.int64)
    for lo in range(0, n, _CHUNK):
        chunk = {k: val[lo:lo + _CHUNK] for k, val in layout.items()}
        rgb, masks[lo:lo + _CHUNK] = _render(chunk, size, rng)
        np.multiply(rgb, np.float32(1 / 127.5), out=images[lo:lo + _CHUNK])
    images -= np.float32(1.0)
    meta = {"source": "procedural scenes", "size": size, "channels": 3, "seed": seed,
            "part_colours": {k: [list(c) for c in v] for k, v in PART_COLOURS.items()}}
    return ImageDataset("scenes", torch.from_numpy(images), None, list(MASK_NAMES),
                        masks=torch.from_numpy(masks), mask_names=list(MASK_NAMES), meta=meta)

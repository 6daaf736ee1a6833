"""2D toy distributions for the GAN lab.

`ring` and `grid` follow the PacGAN benchmark (Lin et al. 2018): 8 Gaussians on the unit circle with
sigma 0.01, and 25 Gaussians at {-4,-2,0,2,4}^2 with sigma 0.05. Angles use endpoint=False so no two
ring modes coincide. The others (`spiral`, `moons`, `two-gaussians`, `line`) and user data (points from
a CSV file, or points sampled along strokes drawn on a canvas) are continuous or unlabelled shapes.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field

import numpy as np
import torch

MAX_USER_POINTS = 100_000
MAX_ABS_VALUE = 1e6  # user coordinates: beyond this, centring and scaling in float32 lose the shape or overflow


class PointsError(ValueError):
    """User-supplied 2D data that cannot be used; the message says why, in one line."""


@dataclass(frozen=True)
class Toy2D:
    """A 2D distribution: `sample(n, gen)` draws points; `modes`/`sigma` are set for mode-based metrics."""

    name: str
    modes: torch.Tensor | None = None  # (M, 2) mode centres, or None for continuous shapes
    sigma: float = 0.0  # per-mode standard deviation
    points: torch.Tensor | None = None  # (N, 2) an empirical point set (user data), sampled with jitter
    jitter: float = 0.0
    extent: float = 1.5  # half-width of the square view that shows the distribution
    meta: dict = field(default_factory=dict)

    def sample(self, n: int, gen: torch.Generator | None = None) -> torch.Tensor:
        """Draw n points, (n, 2) float32."""
        if self.modes is not None:
            idx = torch.randint(len(self.modes), (n,), generator=gen)
            return self.modes[idx] + self.sigma * torch.randn(n, 2, generator=gen)
        if self.points is not None:
            idx = torch.randint(len(self.points), (n,), generator=gen)
            return self.points[idx] + self.jitter * torch.randn(n, 2, generator=gen)
        return _CONTINUOUS[self.name](n, gen)


def ring(n_modes: int = 8, radius: float = 1.0, sigma: float = 0.01) -> Toy2D:
    ang = np.linspace(0, 2 * math.pi, n_modes, endpoint=False)
    modes = torch.tensor(np.stack([radius * np.cos(ang), radius * np.sin(ang)], 1), dtype=torch.float32)
    return Toy2D("ring", modes=modes, sigma=sigma, extent=1.5 * radius)


def grid(side: int = 5, spacing: float = 2.0, sigma: float = 0.05) -> Toy2D:
    c = (np.arange(side) - (side - 1) / 2) * spacing
    xx, yy = np.meshgrid(c, c, indexing="ij")
    modes = torch.tensor(np.stack([xx.ravel(), yy.ravel()], 1), dtype=torch.float32)
    return Toy2D("grid", modes=modes, sigma=sigma, extent=float(c.max()) + spacing * 0.75)


def two_gaussians() -> Toy2D:
    modes = torch.tensor([[-1.0, -0.5], [1.0, 0.5]])
    return Toy2D("two-gaussians", modes=modes, sigma=0.15, extent=2.0)


def _spiral(n: int, gen: torch.Generator | None) -> torch.Tensor:
    t = torch.rand(n, generator=gen).sqrt() * 3 * math.pi
    r = t / (3 * math.pi)
    pts = torch.stack([r * torch.cos(t), r * torch.sin(t)], 1)
    return pts + 0.02 * torch.randn(n, 2, generator=gen)


def _moons(n: int, gen: torch.Generator | None) -> torch.Tensor:
    upper = torch.rand(n, generator=gen) < 0.5
    t = torch.rand(n, generator=gen) * math.pi
    x = torch.where(upper, torch.cos(t), 1 - torch.cos(t))
    y = torch.where(upper, torch.sin(t), 0.5 - torch.sin(t))
    pts = torch.stack([x - 0.5, y - 0.25], 1) * 0.9
    return pts + 0.04 * torch.randn(n, 2, generator=gen)


def _line(n: int, gen: torch.Generator | None) -> torch.Tensor:
    x = torch.rand(n, generator=gen) * 2 - 1
    return torch.stack([x, 0.5 * x], 1) + 0.02 * torch.randn(n, 2, generator=gen)


_CONTINUOUS = {"spiral": _spiral, "moons": _moons, "line": _line}

BUILTIN = {
    "ring": ring,
    "grid": grid,
    "spiral": lambda: Toy2D("spiral", extent=1.3),
    "moons": lambda: Toy2D("moons", extent=1.3),
    "two-gaussians": two_gaussians,
    "line": lambda: Toy2D("line", extent=1.3),
}


def get(name: str) -> Toy2D:
    """A built-in distribution by name."""
    try:
        return BUILTIN[name]()
    except KeyError:
        raise PointsError(f"unknown 2D dataset {name!r}; choose one of {', '.join(BUILTIN)}") from None


def from_points(points: np.ndarray, name: str = "custom", jitter: float | None = None) -> Toy2D:
    """An empirical distribution from user points (N, 2), rescaled to fit about [-1, 1]^2."""
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise PointsError(f"expected N rows of 2 numbers (x, y), got an array of shape {pts.shape}")
    if len(pts) < 2:
        raise PointsError(f"need at least 2 points, got {len(pts)}")
    if len(pts) > MAX_USER_POINTS:
        raise PointsError(f"too many points: {len(pts)} (the limit is {MAX_USER_POINTS})")
    if not np.isfinite(pts).all():
        bad = int((~np.isfinite(pts).all(1)).argmax())
        raise PointsError(f"point {bad + 1} is not a finite number (NaN or inf)")
    if (np.abs(pts) > MAX_ABS_VALUE).any():
        bad = int((np.abs(pts) > MAX_ABS_VALUE).any(1).argmax())
        raise PointsError(f"point {bad + 1} is ({pts[bad, 0]:g}, {pts[bad, 1]:g}): values must be within "
                          f"+-{MAX_ABS_VALUE:,.0f}; rescale the data")
    centre = (pts.max(0) + pts.min(0)) / 2
    half = float(np.abs(pts - centre).max())
    if half == 0:
        raise PointsError("all points are the same; a distribution needs some spread")
    pts = (pts - centre) / half
    t = torch.tensor(pts, dtype=torch.float32)
    j = 0.01 if jitter is None else jitter
    return Toy2D(name, points=t, jitter=j, extent=1.3, meta={"n_points": len(pts)})


def parse_csv(text: str | bytes) -> np.ndarray:
    """Parse CSV text of x,y rows (an optional header row is skipped). Raises PointsError."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise PointsError("the file is not UTF-8 text; expected a CSV of x,y rows") from None
    rows: list[tuple[float, float]] = []
    sample = text[:4096]
    delim = ";" if sample.count(";") > sample.count(",") else ("\t" if "\t" in sample and "," not in sample else ",")
    for lineno, row in enumerate(csv.reader(io.StringIO(text), delimiter=delim), start=1):
        cells = [c.strip() for c in row if c.strip() != ""]
        if not cells:
            continue
        if len(cells) < 2:
            raise PointsError(f"line {lineno}: expected two numbers x,y, got {','.join(cells)!r}")
        try:
            x, y = float(cells[0]), float(cells[1])
        except ValueError:
            if not rows and lineno == 1:
                continue  # a header row
            raise PointsError(f"line {lineno}: {cells[0][:20]!r}, {cells[1][:20]!r} are not numbers") from None
        if not (math.isfinite(x) and math.isfinite(y)):
            raise PointsError(f"line {lineno}: {cells[0][:20]!r}, {cells[1][:20]!r} is NaN or infinite; every "
                              f"cell must be a finite number")
        if abs(x) > MAX_ABS_VALUE or abs(y) > MAX_ABS_VALUE:
            raise PointsError(f"line {lineno}: {cells[0][:20]!r}, {cells[1][:20]!r}: values must be within "
                              f"+-{MAX_ABS_VALUE:,.0f}; rescale the data")
        rows.append((x, y))
        if len(rows) > MAX_USER_POINTS:
            raise PointsError(f"too many points (the limit is {MAX_USER_POINTS})")
    if len(rows) < 2:
        raise PointsError(f"found {len(rows)} usable x,y rows; need at least 2")
    return np.array(rows)


def from_csv(text: str | bytes, name: str = "csv") -> Toy2D:
    return from_points(parse_csv(text), name=name)


def from_drawing(mask: np.ndarray, n_points: int = 4000, seed: int = 0) -> Toy2D:
    """Points sampled along strokes drawn on a canvas.

    `mask` is an (H, W) boolean (or numeric, >0 = ink) image; image row 0 is the top, so y is flipped.
    """
    m = np.asarray(mask)
    if m.ndim != 2:
        raise PointsError(f"expected a 2D drawing mask, got shape {m.shape}")
    ys, xs = np.nonzero(m > 0)
    if len(xs) < 3:
        raise PointsError("the drawing is empty: draw a few strokes on the canvas first")
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(xs), size=min(n_points, MAX_USER_POINTS))
    h, w = m.shape
    scale = max(h, w) / 2
    pts = np.stack([(xs[pick] - w / 2) / scale, -(ys[pick] - h / 2) / scale], 1)
    pts = pts + rng.uniform(-0.5, 0.5, pts.shape) / scale
    return from_points(pts, name="drawing", jitter=0.005)


def from_stored(name: str, points: torch.Tensor) -> Toy2D:
    """An empirical distribution restored from a checkpoint (points already normalised)."""
    return Toy2D(name, points=points.float(), jitter=0.01, extent=1.3, meta={"n_points": len(points)})

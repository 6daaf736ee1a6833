"""The factor reader (`FactorNet`, kind "factors"): reads every ground-truth factor of a procedural shapes
sprite as a bin: shape, scale, rotation, x, y and colour (see `FactorNetConfig` for the bins)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...data.images import ImageDataset
from ...data.shapes import PALETTE_NAMES, SCALE_RANGE, SHAPES
from ..base import ConfigMixin
from .common import (FACTOR_ACCURACY, FACTORS, HELD_OUT_FRAC, MIN_ACCURACY, ORDINAL, UNDEFINED,
                     WITHIN_ONE_BIN, Progress, _check_images, _train, _trunk, predict)


def _default_edges() -> dict[str, list[float]]:
    lo, hi = SCALE_RANGE
    return {"scale": [lo + (hi - lo) / 3, lo + 2 * (hi - lo) / 3], "rotation": [0.25, 0.5, 0.75],
            "x": [0.25, 0.5, 0.75], "y": [0.25, 0.5, 0.75]}


@dataclass
class FactorNetConfig(ConfigMixin):
    """A FactorNet's input and its bins. Every factor of a shapes sprite is read as a class:

    - shape: the shape index (square, circle, triangle, heart); colour: the palette index (the palette is
      discrete, so colour is read exactly, not as hue bins).
    - scale: 3 equal bins over the sampled range 0.5-1.0 (edges 2/3 and 5/6).
    - x, y: the sprite centre (as a fraction of the image side; y grows downwards) in image quarters
      (edges 0.25, 0.5, 0.75). Centres lie in [0.15, 0.85], so the outer quarters hold fewer sprites.
    - rotation: a rotation is only defined modulo the shape's rotational symmetry (`rotation_symmetry`,
      n-fold per shape: a square's rotation is defined mod 90 degrees, a triangle's mod 120, a heart's mod
      360), so the head reads the phase (rotation mod 360/n degrees) / (360/n degrees) in [0, 1), in 4
      bins (edges 0.25, 0.5, 0.75; circular, bin 3 neighbours bin 0). A circle (n = 0) has no rotation:
      its rotation bin is -1 and it is left out of the loss and of the accuracy.
    Bin edges are in `edges`; a value on an edge belongs to the upper bin."""

    in_channels: int = 3  # image channels: 1 or 3
    image_size: int = 32  # image side in pixels: 16, 32 or 64
    width: int = 16  # channels of the first stage, doubled per stage up to 4x (as the Classifier)
    feat_dim: int = 128  # size of the shared feature vector the heads read
    coord_channels: bool = True  # append x and y coordinate maps to the input (CoordConv, Liu et al. 2018)
    shape_names: list[str] = field(default_factory=lambda: list(SHAPES))
    colour_names: list[str] = field(default_factory=lambda: list(PALETTE_NAMES))
    rotation_symmetry: list[int] = field(default_factory=lambda: [4, 0, 3, 1])  # n-fold, per shape; 0: none
    edges: dict[str, list[float]] = field(default_factory=_default_edges)  # bin edges of the ordinal factors

    def __post_init__(self):
        if self.in_channels not in (1, 3) or self.image_size not in (16, 32, 64):
            raise ValueError(f"factor net takes 1 or 3 channels at 16, 32 or 64 px, got "
                             f"{self.in_channels} channels at {self.image_size} px")
        if len(self.rotation_symmetry) != len(self.shape_names) or min(self.rotation_symmetry, default=0) < 0:
            raise ValueError(f"need a symmetry order >= 0 for each of the {len(self.shape_names)} shapes, "
                             f"got {self.rotation_symmetry}")
        if sorted(self.edges) != sorted(ORDINAL):
            raise ValueError(f"need bin edges for {', '.join(ORDINAL)}, got {sorted(self.edges)}")
        for f, e in self.edges.items():
            if not e or any(b <= a for a, b in zip(e, e[1:])):
                raise ValueError(f"bin edges of {f} must be non-empty and increasing, got {e}")

    def n_bins(self) -> dict[str, int]:
        """Number of classes per factor, in FACTORS order."""
        n = {f: len(e) + 1 for f, e in self.edges.items()}
        n.update(shape=len(self.shape_names), colour=len(self.colour_names))
        return {f: n[f] for f in FACTORS}

    def bin_names(self) -> dict[str, list[str]]:
        """A readable name per bin of each factor, e.g. scale '0.50-0.67'; rotation bins are fractions of
        the shape's symmetry period."""
        span = {"scale": SCALE_RANGE, "x": (0.0, 1.0), "y": (0.0, 1.0), "rotation": (0.0, 1.0)}
        out = {}
        for f in FACTORS:
            if f == "shape" or f == "colour":
                out[f] = list(self.shape_names if f == "shape" else self.colour_names)
            else:
                b = [span[f][0], *self.edges[f], span[f][1]]
                out[f] = [f"{lo:.2f}-{hi:.2f}" for lo, hi in zip(b, b[1:])]
        return out


class FactorNet(nn.Module):
    """Images (B, C, S, S) in [-1, 1] -> the logits of every factor head, concatenated in FACTORS order:
    (B, sum of n_bins). `split` cuts them per factor; `features` gives the shared (B, feat_dim).

    The trunk is the Classifier's (3x3 conv + BatchNorm + ReLU stages, max-pooled to 4x4, a last conv,
    global average pooling, a linear embedding); two coordinate channels are appended to the input so that
    the globally pooled features can still tell where the sprite is."""

    kind = "factors"

    def __init__(self, cfg: FactorNetConfig):
        super().__init__()
        self.cfg = cfg
        cin = cfg.in_channels + (2 if cfg.coord_channels else 0)
        self.body, n_body = _trunk(cin, cfg.width, cfg.image_size)
        self.embed = nn.Sequential(nn.Linear(n_body, cfg.feat_dim), nn.ReLU())
        self.heads = nn.ModuleDict({f: nn.Linear(cfg.feat_dim, k) for f, k in cfg.n_bins().items()})
        side = (torch.arange(cfg.image_size, dtype=torch.float32) + 0.5) / cfg.image_size * 2 - 1
        s = cfg.image_size
        grid = torch.stack([side[None, :].expand(s, -1), side[:, None].expand(-1, s)])
        self.register_buffer("coords", grid[None], persistent=False)  # (1, 2, S, S): x, y in (-1, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        _check_images(x, self.cfg)
        if self.cfg.coord_channels:
            x = torch.cat([x, self.coords.to(x.dtype).expand(len(x), -1, -1, -1)], 1)
        return self.embed(self.body(x))  # (B, feat_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        return torch.cat([self.heads[f](h) for f in FACTORS], 1)  # (B, sum of n_bins)

    def split(self, logits: torch.Tensor) -> dict[str, torch.Tensor]:
        """Concatenated logits (B, sum of n_bins) -> {factor: (B, n_bins of that factor)}."""
        sizes = list(self.cfg.n_bins().values())
        return dict(zip(FACTORS, logits.split(sizes, dim=1)))

    def decode(self, logits: torch.Tensor) -> dict[str, torch.Tensor]:
        """Concatenated logits -> {factor: (B,) int64 bin}; rotation is -1 (UNDEFINED) where the predicted
        shape has no rotation (a circle)."""
        out = {f: v.argmax(1) for f, v in self.split(logits).items()}
        sym = torch.as_tensor(self.cfg.rotation_symmetry)[out["shape"]]
        out["rotation"] = torch.where(sym > 0, out["rotation"], torch.full_like(out["rotation"], UNDEFINED))
        return out


def factor_bins(cfg: FactorNetConfig, factors: dict) -> dict[str, torch.Tensor]:
    """Ground-truth factors (as `shapes.sample_factors` / `ImageDataset.factors` give them) -> the bins a
    FactorNet with this config reads: {factor: (N,) int64}; rotation is -1 where the shape has none."""
    shape = torch.as_tensor(np.asarray(factors["shape"])).long()
    out = {"shape": shape, "colour": torch.as_tensor(np.asarray(factors["colour"])).long()}
    for f in ("scale", "x", "y"):
        val = torch.as_tensor(np.asarray(factors[f]), dtype=torch.float64)
        out[f] = torch.bucketize(val, torch.tensor(cfg.edges[f], dtype=torch.float64), right=True)
    sym = torch.as_tensor(cfg.rotation_symmetry, dtype=torch.long)[shape]
    period = 2 * math.pi / sym.clamp_min(1).double()
    rot = torch.as_tensor(np.asarray(factors["rotation"]), dtype=torch.float64)
    phase = (torch.remainder(rot, period) / period).clamp(0.0, 1.0 - 1e-12)
    rbin = torch.bucketize(phase, torch.tensor(cfg.edges["rotation"], dtype=torch.float64), right=True)
    out["rotation"] = torch.where(sym > 0, rbin, torch.full_like(rbin, UNDEFINED))
    return {f: out[f] for f in FACTORS}



def evaluate_factors(model: FactorNet, data: ImageDataset) -> dict:
    """Per-factor accuracy of a FactorNet over `data` (which needs `factors`), against `factor_bins`.

    Each factor is scored on the sprites where it is defined (rotation: not on circles), reading its own
    head. `min_accuracy` is the lowest factor accuracy; `within_one_bin` (ordinal factors) counts a
    prediction one bin off as right (rotation circularly); `per_bin_accuracy` is by true bin."""
    if data.factors is None:
        raise ValueError(f"dataset {data.name!r} has no ground-truth factors to score a factor net on")
    logits = model.split(predict(model, data.images))
    true = factor_bins(model.cfg, data.factors)
    names = model.cfg.bin_names()
    acc, near, per_bin, counted = {}, {}, {}, {}
    for f in FACTORS:
        t, keep = true[f], true[f] != UNDEFINED
        p = logits[f].argmax(1)
        hit = (p == t)[keep].float()
        acc[f] = float(hit.mean()) if keep.any() else None
        counted[f] = int(keep.sum())
        per_bin[f] = {name: float((p == t)[t == k].float().mean()) if (t == k).any() else None
                      for k, name in enumerate(names[f])}
        if f in ORDINAL:
            d = (p - t).abs()
            if f == "rotation":
                d = torch.minimum(d, len(names[f]) - d)
            near[f] = float((d <= 1)[keep].float().mean()) if keep.any() else None
    return {MIN_ACCURACY: min(v for v in acc.values() if v is not None), FACTOR_ACCURACY: acc,
            WITHIN_ONE_BIN: near, "per_bin_accuracy": per_bin, "n_scored": counted}


def _factor_loss(model: FactorNet) -> Callable:
    """The sum over heads of each head's cross-entropy, over the sprites where its factor is defined."""
    sizes = list(model.cfg.n_bins().values())

    def loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # y: (B, len(FACTORS)), -1 undefined
        total = logits.new_zeros(())
        for h, part in enumerate(logits.split(sizes, dim=1)):
            t = y[:, h]
            n = (t != UNDEFINED).sum().clamp_min(1)
            total = total + F.cross_entropy(part, t, ignore_index=UNDEFINED, reduction="sum") / n
        return total

    return loss


def factor_definitions(cfg: FactorNetConfig) -> dict[str, str]:
    """What each factor head reads, in words (for the card)."""
    sym = ", ".join(f"{n}: {'none' if k == 0 else f'{360 // k} deg'}"
                    for n, k in zip(cfg.shape_names, cfg.rotation_symmetry))
    e = {f: [round(v, 4) for v in cfg.edges[f]] for f in ORDINAL}
    return {
        "shape": "the shape index",
        "colour": "the palette index (colours are discrete)",
        "scale": f"sprite scale ({SCALE_RANGE[0]}-{SCALE_RANGE[1]}) in {len(e['scale']) + 1} equal bins, "
                 f"edges {e['scale']}",
        "x": f"sprite centre, fraction of the image width from the left, edges {e['x']}",
        "y": f"sprite centre, fraction of the image height from the top, edges {e['y']}",
        "rotation": f"rotation modulo the shape's symmetry period ({sym}), as a fraction of that period, "
                    f"edges {e['rotation']} (circular); undefined (-1, not scored) for circles",
    }


def train_factor_net(dataset: ImageDataset, epochs: int = 8, seed: int = 0, progress: Progress | None = None,
                     width: int = 16) -> tuple[FactorNet, dict]:
    """Train a FactorNet on dataset.factors; returns (model in eval mode, report with held-out figures).

    Split with dataset.split(0.15, seed); no augmentation (a shift or a flip would change x, y and the
    rotation). Deterministic for a given seed (on one CPU thread)."""
    if dataset.factors is None or any(f not in dataset.factors for f in FACTORS):
        raise ValueError(f"dataset {dataset.name!r} lacks the factors {', '.join(FACTORS)}")
    train, held = dataset.split(HELD_OUT_FRAC, seed)
    torch.manual_seed(seed)
    cfg = FactorNetConfig(in_channels=dataset.channels, image_size=dataset.size, width=width)
    model = FactorNet(cfg)
    bins = factor_bins(cfg, train.factors)
    target = torch.stack([bins[f] for f in FACTORS], 1)  # (N, len(FACTORS))
    report = _train(model, evaluate_factors, train, held, target, epochs, seed, None, progress,
                    loss_fn=_factor_loss(model))
    return model, {"factors": factor_definitions(cfg), **report}

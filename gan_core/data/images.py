"""The shared image dataset container and helpers to show images.

`ImageDataset` holds images as (N, C, H, W) float32 in [-1, 1], with optional class labels, per-pixel
masks (procedural scenes) and ground-truth factors (procedural shapes). `to_uint8` and `grid` turn
image tensors into uint8 arrays for display (a grid is always 3-channel RGB).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import torch


@dataclass
class ImageDataset:
    """Images in [-1, 1] with their annotations; every per-image tensor has length N."""

    name: str
    images: torch.Tensor  # (N, C, H, W) float32 in [-1, 1]
    labels: torch.Tensor | None  # (N,) int64 class index, or None
    class_names: list[str]  # names for labels (or for mask classes for scenes)
    masks: torch.Tensor | None = None  # (N, H, W) int64 per-pixel class (scenes only)
    factors: dict[str, torch.Tensor] | None = None  # ground-truth factors (shapes): name -> (N,)
    mask_names: list[str] | None = None
    meta: dict = field(default_factory=dict)  # e.g. source, size, channels, seed

    def __post_init__(self) -> None:
        if self.images.ndim != 4:
            raise ValueError(f"images must be (N, C, H, W), got shape {tuple(self.images.shape)}")
        n = len(self.images)
        if self.labels is not None and self.labels.shape != (n,):
            raise ValueError(f"labels must be ({n},), got {tuple(self.labels.shape)}")
        if self.masks is not None and self.masks.shape != (n, *self.images.shape[2:]):
            raise ValueError(f"masks must be ({n}, H, W), got {tuple(self.masks.shape)}")
        for key, val in (self.factors or {}).items():
            if len(val) != n:
                raise ValueError(f"factor {key!r} has {len(val)} values for {n} images")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def channels(self) -> int:
        return int(self.images.shape[1])

    @property
    def size(self) -> int:
        """Image side in pixels (images are square)."""
        return int(self.images.shape[-1])

    def subset(self, idx: torch.Tensor | np.ndarray | list[int] | slice) -> ImageDataset:
        """A new dataset holding the images at `idx` (and their labels, masks and factors)."""
        if not isinstance(idx, slice):
            idx = torch.as_tensor(np.asarray(idx), dtype=torch.long)

        def take(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t[idx]

        factors = None if self.factors is None else {k: v[idx] for k, v in self.factors.items()}
        return replace(self, images=self.images[idx], labels=take(self.labels), masks=take(self.masks),
                       factors=factors, class_names=list(self.class_names),
                       mask_names=None if self.mask_names is None else list(self.mask_names),
                       meta=dict(self.meta))

    def split(self, frac: float = 0.1, seed: int = 0) -> tuple[ImageDataset, ImageDataset]:
        """Random (train, held_out) split; held_out gets round(frac * N) images (at least 1 if frac > 0)."""
        if not 0.0 <= frac < 1.0:
            raise ValueError(f"frac must be in [0, 1), got {frac}")
        n = len(self)
        n_out = min(n - 1, max(1, round(frac * n))) if frac > 0 and n > 1 else 0
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        held, train = perm[:n_out].sort().values, perm[n_out:].sort().values
        return self.subset(train), self.subset(held)


def to_uint8(images: torch.Tensor | np.ndarray, rgb: bool = False) -> np.ndarray:
    """(N, C, H, W) or (C, H, W) in [-1, 1] -> uint8 (N, H, W, C); `rgb` repeats grey to 3 channels."""
    x = torch.as_tensor(images).detach().to("cpu", torch.float32)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4:
        raise ValueError(f"expected (N, C, H, W) or (C, H, W) images, got shape {tuple(x.shape)}")
    if rgb and x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    out = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return out.permute(0, 2, 3, 1).contiguous().numpy()


def grid(images: torch.Tensor | np.ndarray, nrow: int = 8, padding: int = 1,
         pad_value: int = 48) -> np.ndarray:
    """Tile images (N, C, H, W) in [-1, 1] into one uint8 (H', W', 3) picture with `nrow` per row."""
    tiles = to_uint8(images, rgb=True)
    n, h, w, _ = tiles.shape
    cols = max(1, min(nrow, n))
    rows = max(1, -(-n // cols))
    out = np.full((rows * (h + padding) + padding, cols * (w + padding) + padding, 3), pad_value, np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        y, x = padding + r * (h + padding), padding + c * (w + padding)
        out[y:y + h, x:x + w] = tiles[i]
    return out

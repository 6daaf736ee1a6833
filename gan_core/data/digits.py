"""scikit-learn's 1,797 handwritten 8x8 digits as an image dataset (ships inside scikit-learn, no download).

Pixel values 0..16 (ink = 16) are scaled to [-1, 1] (background -1) and upsampled to 8, 16 or 32 pixels
with antialiased bilinear interpolation. The decoded tensors are cached per size in-process; each call
returns fresh clones, so callers may modify what they get.
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F

from .images import ImageDataset

SIZES = (8, 16, 32)


@lru_cache(maxsize=len(SIZES))
def _digits_tensors(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(images (1797, 1, size, size) in [-1, 1], labels (1797,)), scikit-learn's order; cached: read-only."""
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    x = torch.tensor(bunch.images, dtype=torch.float32)[:, None] / 8.0 - 1.0
    if size != 8:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return x.clamp_(-1.0, 1.0).contiguous(), torch.tensor(bunch.target, dtype=torch.int64)


def load_digits(size: int = 32, seed: int | None = 0) -> ImageDataset:
    """The 8x8 digits at `size` in {8, 16, 32}, 1 channel, labels 0-9.

    `seed` fixes the order of the images (a seeded shuffle, the same on every call); None keeps
    scikit-learn's order.
    """
    if size not in SIZES:
        raise ValueError(f"digits come at sizes {SIZES}, not {size}")
    images, labels = _digits_tensors(size)
    if seed is None:
        images, labels = images.clone(), labels.clone()
    else:
        perm = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
        images, labels = images[perm], labels[perm]
    meta = {"source": "sklearn.datasets.load_digits", "size": size, "channels": 1, "seed": seed,
            "native_size": 8}
    return ImageDataset("digits", images, labels, [str(d) for d in range(10)], meta=meta)

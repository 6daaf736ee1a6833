"""Image datasets as samplers for the trainer: `sample(n, gen) -> (x, labels or None)`."""

from __future__ import annotations

import torch

from .images import ImageDataset


class ImageSource:
    """Draws random minibatches (with replacement) from an ImageDataset held in memory."""

    kind = "image"

    def __init__(self, dataset: ImageDataset, device: str | torch.device = "cpu"):
        self.dataset = dataset
        self.name = dataset.name
        self.images = dataset.images.to(device).contiguous(memory_format=torch.channels_last)
        self.labels = None if dataset.labels is None else dataset.labels.to(device)

    def sample(self, n: int, gen: torch.Generator | None = None):
        idx = torch.randint(len(self.images), (n,), generator=gen).to(self.images.device)
        return self.images[idx], (None if self.labels is None else self.labels[idx])

    def __len__(self) -> int:
        return len(self.images)

"""The segmenter: a tiny two-level U-Net (Ronneberger et al. 2015) that labels every pixel of a procedural
scene for the segmentation probes of GAN Dissection (Bau et al. 2019); its globally pooled bottleneck is
its feature vector."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ...data.images import ImageDataset
from ..base import ConfigMixin
from .common import (HELD_OUT_FRAC, MEAN_IOU, PER_CLASS_IOU, PIXEL_ACCURACY, Progress, _check_images, _conv,
                     _flip_aug, _names, _train, predict)


@dataclass
class SegmenterConfig(ConfigMixin):
    in_channels: int = 3  # image channels: 1 or 3
    image_size: int = 32  # image side in pixels (a multiple of 4)
    n_classes: int = 8  # number of pixel classes
    width: int = 16  # channels at full resolution; 2x at 1/2, 4x at the 1/4 bottleneck
    class_names: list[str] = field(default_factory=list)  # a name per class

    def __post_init__(self):
        if self.in_channels not in (1, 3) or self.image_size % 4 or not 16 <= self.image_size <= 256:
            raise ValueError(f"segmenter takes 1 or 3 channels at a side in 16..256 divisible by 4, got "
                             f"{self.in_channels} channels at {self.image_size} px")
        if self.class_names and len(self.class_names) != self.n_classes:
            raise ValueError(f"{len(self.class_names)} class names for {self.n_classes} classes")


class Segmenter(nn.Module):
    """A two-level U-Net: images (B, C, S, S) -> per-pixel logits (B, n_classes, S, S)."""

    kind = "segmenter"

    def __init__(self, cfg: SegmenterConfig):
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        pool = nn.MaxPool2d(2)
        self.enc1 = nn.Sequential(_conv(cfg.in_channels, w), _conv(w, w))  # (B, w, S, S)
        self.enc2 = nn.Sequential(pool, _conv(w, 2 * w), _conv(2 * w, 2 * w))  # (B, 2w, S/2, S/2)
        self.mid = nn.Sequential(pool, _conv(2 * w, 4 * w), _conv(4 * w, 4 * w))  # (B, 4w, S/4, S/4)
        self.dec2 = nn.Sequential(_conv(6 * w, 2 * w), _conv(2 * w, 2 * w))
        self.dec1 = nn.Sequential(_conv(3 * w, w), _conv(w, w))
        self.head = nn.Conv2d(w, cfg.n_classes, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The bottleneck, globally average-pooled: (B, 4 * width)."""
        _check_images(x, self.cfg)
        return self.mid(self.enc2(self.enc1(x))).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_images(x, self.cfg)
        e1 = self.enc1(x)
        e2 = self.enc2(e1)
        m = F.interpolate(self.mid(e2), scale_factor=2.0, mode="nearest")
        d2 = F.interpolate(self.dec2(torch.cat([m, e2], 1)), scale_factor=2.0, mode="nearest")
        return self.head(self.dec1(torch.cat([d2, e1], 1)))  # (B, n_classes, S, S)


def evaluate_segmenter(model: Segmenter, data: ImageDataset) -> dict:
    """Per-class IoU from the pixel confusion over all of `data`; mean IoU over classes present in truth
    or prediction (a class absent from both has no IoU and is left out)."""
    k = model.cfg.n_classes
    conf = torch.zeros(k, k, dtype=torch.float64)
    for i in range(0, len(data), 256):
        pred = predict(model, data.images[i:i + 256]).argmax(1)
        conf += torch.bincount(data.masks[i:i + 256].flatten() * k + pred.flatten(),
                               minlength=k * k).reshape(k, k).double()
    inter = conf.diag()
    union = conf.sum(0) + conf.sum(1) - inter
    iou = [float(a / b) if b > 0 else None for a, b in zip(inter, union)]
    present = [v for v in iou if v is not None]
    return {MEAN_IOU: sum(present) / len(present), PER_CLASS_IOU: dict(zip(_names(model.cfg), iou)),
            PIXEL_ACCURACY: float(inter.sum() / conf.sum())}


def train_segmenter(dataset: ImageDataset, epochs: int = 4, seed: int = 0, progress: Progress | None = None,
                    width: int = 16) -> tuple[Segmenter, dict]:
    """Train a Segmenter on dataset.masks; returns (model in eval mode, report with held-out IoU).

    Split with dataset.split(0.15, seed). The cross-entropy weighs each class by 1 / sqrt(its pixel
    share), so small things (the sun, houses) are learnt too; batches are mirrored left-right at random
    (scenes are symmetric). Deterministic for a given seed (on one CPU thread)."""
    if dataset.masks is None:
        raise ValueError(f"dataset {dataset.name!r} has no masks to train a segmenter on")
    names = list(dataset.mask_names or dataset.class_names)
    train, held = dataset.split(HELD_OUT_FRAC, seed)
    torch.manual_seed(seed)
    model = Segmenter(SegmenterConfig(in_channels=dataset.channels, image_size=dataset.size,
                                      n_classes=len(names), width=width, class_names=names))
    freq = torch.bincount(train.masks.flatten(), minlength=len(names)).double() / train.masks.numel()
    weight = freq.clamp_min(1e-4).rsqrt()
    weight = (weight / (freq * weight).sum()).float()  # the average pixel weighs 1
    report = _train(model, evaluate_segmenter, train, held, train.masks, epochs, seed, _flip_aug, progress,
                    weight=weight)
    return model, report

"""The classifier: labels images (digits: the digit; shapes: the shape) for mode coverage; its penultimate
features give the Frechet distance (the role Inception-v3 plays for FID, at toy scale)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ...data.images import ImageDataset
from ..base import ConfigMixin
from .common import (ACCURACY, HELD_OUT_FRAC, Progress, _check_images, _names, _shift_aug, _train, _trunk,
                     predict)


@dataclass
class ClassifierConfig(ConfigMixin):
    in_channels: int = 1  # image channels: 1 or 3
    image_size: int = 32  # image side in pixels: 16, 32 or 64
    n_classes: int = 10  # number of classes
    width: int = 16  # channels of the first stage, doubled per stage up to 4x
    feat_dim: int = 128  # size of the penultimate feature vector (used for the Frechet distance)
    class_names: list[str] = field(default_factory=list)  # a name per class

    def __post_init__(self):
        if self.in_channels not in (1, 3) or self.image_size not in (16, 32, 64):
            raise ValueError(f"classifier takes 1 or 3 channels at 16, 32 or 64 px, got "
                             f"{self.in_channels} channels at {self.image_size} px")
        if self.class_names and len(self.class_names) != self.n_classes:
            raise ValueError(f"{len(self.class_names)} class names for {self.n_classes} classes")


class Classifier(nn.Module):
    """Images (B, C, S, S) in [-1, 1] -> class logits (B, n_classes); `features` gives (B, feat_dim)."""

    kind = "classifier"

    def __init__(self, cfg: ClassifierConfig):
        super().__init__()
        self.cfg = cfg
        self.body, n_body = _trunk(cfg.in_channels, cfg.width, cfg.image_size)
        self.embed = nn.Sequential(nn.Linear(n_body, cfg.feat_dim), nn.ReLU())
        self.head = nn.Linear(cfg.feat_dim, cfg.n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        _check_images(x, self.cfg)
        return self.embed(self.body(x))  # (B, feat_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # (B, n_classes)


def evaluate_classifier(model: Classifier, data: ImageDataset) -> dict:
    """Accuracy over `data` and per class (by true label)."""
    pred = predict(model, data.images).argmax(1)
    hit = (pred == data.labels).float()
    per = [float(hit[data.labels == k].mean()) if (data.labels == k).any() else None
           for k in range(model.cfg.n_classes)]
    return {ACCURACY: float(hit.mean()), "per_class_accuracy": dict(zip(_names(model.cfg), per))}


def train_classifier(dataset: ImageDataset, epochs: int = 20, seed: int = 0, progress: Progress | None = None,
                     width: int = 16, shift: bool = True) -> tuple[Classifier, dict]:
    """Train a Classifier on dataset.labels; returns (model in eval mode, report with held-out figures).

    The data is split with dataset.split(0.15, seed) into train and held-out parts; `shift` adds random
    translations of up to 2 pixels. Deterministic for a given seed (on one CPU thread)."""
    if dataset.labels is None:
        raise ValueError(f"dataset {dataset.name!r} has no labels to train a classifier on")
    train, held = dataset.split(HELD_OUT_FRAC, seed)
    torch.manual_seed(seed)
    model = Classifier(ClassifierConfig(in_channels=dataset.channels, image_size=dataset.size,
                                        n_classes=len(dataset.class_names), width=width,
                                        class_names=list(dataset.class_names)))
    report = _train(model, evaluate_classifier, train, held, train.labels, epochs, seed,
                    _shift_aug if shift else None, progress)
    return model, report

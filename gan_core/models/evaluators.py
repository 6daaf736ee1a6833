"""Small evaluator networks that judge generated images: a classifier, a segmenter and a factor reader,
trained on real data.

The classifier labels images (digits: the digit; shapes: the shape) for mode coverage and its penultimate
features give the Frechet distance (the role Inception-v3 plays for FID, Heusel et al. 2017, at toy
scale). The segmenter, a tiny U-Net (Ronneberger et al. 2015), labels every pixel of a procedural scene
for the segmentation probes of GAN Dissection (Bau et al. 2019); its globally pooled bottleneck is its
feature vector. The factor reader (`FactorNet`, kind "factors") reads every ground-truth factor of a
procedural shapes sprite as a bin: shape, scale, rotation, x, y and colour (see `FactorNetConfig` for the
bins). All use BatchNorm, so in eval mode every sample's output is independent of the batch.

Evaluators are saved like generator checkpoints: safetensors weights, metadata strings holding the
config and the card (class names, data, held-out metrics), and the card as JSON beside the file.
Build the shipped ones with `python -m gan_core.models.evaluators --which all --out checkpoints/`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from ..data.images import ImageDataset
from ..data.shapes import PALETTE_NAMES, SCALE_RANGE, SHAPES
from .base import ConfigMixin

FORMAT_VERSION = "1"
KINDS = ("classifier", "segmenter", "factors")
REQUIRED_META = ("format_version", "kind", "config", "card")
MAX_EVALUATOR_BYTES = 64 * 1024 * 1024
HELD_OUT_FRAC = 0.15  # share of a dataset held out to measure an evaluator
ACCURACY, MEAN_IOU, PER_CLASS_IOU, PIXEL_ACCURACY = "accuracy", "mean_iou", "per_class_iou", "pixel_accuracy"
MIN_ACCURACY, FACTOR_ACCURACY, WITHIN_ONE_BIN = "min_accuracy", "factor_accuracy", "within_one_bin"
FACTORS = ("shape", "scale", "rotation", "x", "y", "colour")  # the heads of a FactorNet, in this order
ORDINAL = ("scale", "rotation", "x", "y")  # factors binned from a continuous value (rotation: circularly)
UNDEFINED = -1  # the bin of a factor that is not defined for a sprite (the rotation of a circle)

Progress = Callable[[int, int], None]  # progress(steps_done, steps_total)


def _conv(cin: int, cout: int) -> nn.Sequential:
    """3x3 convolution (same size) + BatchNorm + ReLU."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


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
        stages, cin = [], cfg.in_channels
        for i in range(cfg.image_size.bit_length() - 3):  # pool down to 4x4
            cout = cfg.width * min(2 ** i, 4)
            convs = [_conv(cin, cout)] + ([_conv(cout, cout)] if i > 0 else [])  # one conv at full size
            stages += [*convs, nn.MaxPool2d(2)]
            cin = cout
        self.body = nn.Sequential(*stages, _conv(cin, cin * 2), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.embed = nn.Sequential(nn.Linear(cin * 2, cfg.feat_dim), nn.ReLU())
        self.head = nn.Linear(cfg.feat_dim, cfg.n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        _check_images(x, self.cfg)
        return self.embed(self.body(x))  # (B, feat_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # (B, n_classes)


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
        stages, cin = [], cfg.in_channels + (2 if cfg.coord_channels else 0)
        for i in range(cfg.image_size.bit_length() - 3):  # pool down to 4x4
            cout = cfg.width * min(2 ** i, 4)
            convs = [_conv(cin, cout)] + ([_conv(cout, cout)] if i > 0 else [])
            stages += [*convs, nn.MaxPool2d(2)]
            cin = cout
        self.body = nn.Sequential(*stages, _conv(cin, cin * 2), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.embed = nn.Sequential(nn.Linear(cin * 2, cfg.feat_dim), nn.ReLU())
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


MODELS = {"classifier": (ClassifierConfig, Classifier), "segmenter": (SegmenterConfig, Segmenter),
          "factors": (FactorNetConfig, FactorNet)}


def _check_images(x: torch.Tensor, cfg) -> None:
    want = (cfg.in_channels, cfg.image_size, cfg.image_size)
    if x.ndim != 4 or tuple(x.shape[1:]) != want:
        raise ValueError(f"evaluator takes images of shape (B, {want[0]}, {want[1]}, {want[2]}), "
                         f"got {tuple(x.shape)}")


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, batch: int = 256, fn: str = "forward") -> torch.Tensor:
    """model.forward (or model.features) over images in eval mode, in batches, on CPU float32."""
    was = model.training
    model.eval()
    try:
        param = next(model.parameters(), None)
        dev = param.device if param is not None else torch.device("cpu")
        outs = [getattr(model, fn)(images[i:i + batch].to(dev, torch.float32)).cpu()
                for i in range(0, len(images), batch)]
    finally:
        model.train(was)
    return torch.cat(outs) if outs else torch.empty(0)


def evaluate_classifier(model: Classifier, data: ImageDataset) -> dict:
    """Accuracy over `data` and per class (by true label)."""
    pred = predict(model, data.images).argmax(1)
    hit = (pred == data.labels).float()
    per = [float(hit[data.labels == k].mean()) if (data.labels == k).any() else None
           for k in range(model.cfg.n_classes)]
    return {ACCURACY: float(hit.mean()), "per_class_accuracy": dict(zip(_names(model.cfg), per))}


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


def _names(cfg) -> list[str]:
    return list(cfg.class_names) or [str(i) for i in range(cfg.n_classes)]


def _fit(model: nn.Module, data: ImageDataset, target: torch.Tensor, epochs: int, seed: int,
         augment: Callable | None, progress: Progress | None, batch: int = 64, lr: float = 2e-3,
         weight: torch.Tensor | None = None, loss_fn: Callable | None = None) -> None:
    """Adam with a one-cycle learning rate, (weighted) cross-entropy (or `loss_fn(output, target)`),
    shuffled mini-batches; in place."""
    gen = torch.Generator().manual_seed(seed)
    n = len(data)
    steps_per_epoch = max(1, n // batch)
    total = epochs * steps_per_epoch
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total, pct_start=0.15)
    model.train()
    done = 0
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        for j in range(steps_per_epoch):
            idx = perm[j * batch:(j + 1) * batch]
            x, y = data.images[idx], target[idx]
            if augment is not None:
                x, y = augment(x, y, gen)
            loss = F.cross_entropy(model(x), y, weight=weight) if loss_fn is None else loss_fn(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            done += 1
            if progress is not None:
                progress(done, total)
    model.eval()


def _shift_aug(x: torch.Tensor, y: torch.Tensor, gen: torch.Generator, pad: int = 2):
    """Translate the whole batch by up to `pad` pixels (edges replicated); labels stay."""
    side = x.shape[-1]
    dx, dy = torch.randint(0, 2 * pad + 1, (2,), generator=gen).tolist()
    return F.pad(x, (pad,) * 4, mode="replicate")[:, :, dy:dy + side, dx:dx + side], y


def _flip_aug(x: torch.Tensor, y: torch.Tensor, gen: torch.Generator):
    """Mirror the whole batch left-right half of the time (images and masks together)."""
    if torch.rand((), generator=gen) < 0.5:
        return x.flip(-1), y.flip(-1)
    return x, y


def _train(model: nn.Module, train: ImageDataset, held: ImageDataset, target: torch.Tensor, epochs: int,
           seed: int, augment: Callable | None, progress: Progress | None, **kw) -> dict:
    """Fit the model and report its held-out figures, the time taken and the sizes."""
    t0 = time.perf_counter()
    _fit(model, train, target, epochs, seed, augment, progress, **kw)
    seconds = round(time.perf_counter() - t0, 1)
    evaluate = {"classifier": evaluate_classifier, "segmenter": evaluate_segmenter,
                "factors": evaluate_factors}[model.kind]
    return {"held_out": evaluate(model, held), "train_seconds": seconds, "epochs": epochs, "seed": seed,
            "n_train": len(train), "n_held_out": len(held)}


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
    report = _train(model, train, held, train.labels, epochs, seed, _shift_aug if shift else None, progress)
    return model, report


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
    report = _train(model, train, held, train.masks, epochs, seed, _flip_aug, progress, weight=weight)
    return model, report


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
    report = _train(model, train, held, target, epochs, seed, None, progress, loss_fn=_factor_loss(model))
    return model, {"factors": factor_definitions(cfg), **report}


def save_evaluator(path: str, model: nn.Module, card: dict) -> str:
    """Write weights + metadata to `path` (.safetensors) and the card as JSON beside it.

    Returns the card's path. The card gets `kind`, `config` and `class_names` (a factor net: `bin_names`,
    per factor) from the model."""
    kind = getattr(model, "kind", None)
    if kind not in KINDS:
        raise ValueError(f"not an evaluator model: {type(model).__name__}")
    names = {"bin_names": model.cfg.bin_names()} if kind == "factors" else {"class_names": _names(model.cfg)}
    card = {"kind": kind, "config": model.cfg.to_dict(), **names, **card}
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    meta = {"format_version": FORMAT_VERSION, "kind": kind, "config": json.dumps(model.cfg.to_dict()),
            "card": json.dumps(card)}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    save_file(tensors, path, metadata=meta)
    card_path = os.path.splitext(path)[0] + ".json"
    with open(card_path, "w") as f:
        json.dump(card, f, indent=2)
        f.write("\n")
    return card_path


def load_evaluator(path: str, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """Load and validate an evaluator: (model in eval mode, card). A ValueError names what is wrong."""
    if not os.path.isfile(path):
        raise ValueError(f"no such evaluator file: {path}")
    if os.path.getsize(path) > MAX_EVALUATOR_BYTES:
        raise ValueError(f"evaluator file is too large ({os.path.getsize(path) / 2**20:.0f} MB)")
    try:
        with safe_open(path, framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise ValueError(f"not a valid safetensors file: {path} ({_short(e)})") from None
    missing = [k for k in REQUIRED_META if k not in meta]
    if missing:
        raise ValueError(f"not an evaluator file: metadata lacks {', '.join(missing)}")
    if meta["format_version"] != FORMAT_VERSION:
        raise ValueError(f"evaluator format {meta['format_version']} is not supported "
                         f"(this version reads format {FORMAT_VERSION})")
    if meta["kind"] not in MODELS:
        raise ValueError(f"unknown evaluator kind {meta['kind']!r}; known: {', '.join(KINDS)}")
    cfg_cls, model_cls = MODELS[meta["kind"]]
    try:
        model = model_cls(cfg_cls.from_dict(json.loads(meta["config"])))
        card = json.loads(meta["card"])
    except (ValueError, TypeError) as e:
        raise ValueError(f"evaluator metadata is malformed: {_short(e)}") from None
    want = model.state_dict()
    missing, extra = sorted(set(want) - set(tensors)), sorted(set(tensors) - set(want))
    if missing or extra:
        raise ValueError(f"evaluator weights do not match its config: missing {missing[:3]}, "
                         f"unexpected {extra[:3]}")
    for k, v in want.items():
        t = tensors[k]
        if t.shape != v.shape:
            raise ValueError(f"evaluator weight {k} has shape {tuple(t.shape)}, "
                             f"the config needs {tuple(v.shape)}")
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise ValueError(f"evaluator weight {k} contains NaN or inf values")
    model.load_state_dict(tensors)
    return model.to(device).eval(), card


def _short(e: Exception) -> str:
    return str(e).splitlines()[0][:120] if str(e) else type(e).__name__


# The shipped evaluators: what data each is trained on and how long.
RECIPES = {
    "digits": {"file": "eval-digits-classifier.safetensors",
               "data": {"name": "digits", "size": 32, "seed": 0},
               "kind": "classifier", "epochs": 20, "kwargs": {"shift": True}, "target": (ACCURACY, 0.97)},
    "shapes": {"file": "eval-shapes-classifier.safetensors",
               "data": {"name": "shapes", "n": 10000, "size": 32, "seed": 0},
               "kind": "classifier", "epochs": 6, "kwargs": {"shift": False}, "target": (ACCURACY, 0.95)},
    "scenes": {"file": "eval-scenes-segmenter.safetensors",
               "data": {"name": "scenes", "n": 6000, "size": 32, "seed": 0},
               "kind": "segmenter", "epochs": 4, "kwargs": {}, "target": (MEAN_IOU, 0.85)},
    # every factor of a shapes sprite as bins (see FactorNetConfig); the target is the worst factor's
    "shapes-factors": {"file": "eval-shapes-factors.safetensors",
                       "data": {"name": "shapes", "n": 10000, "size": 32, "seed": 0},
                       "kind": "factors", "epochs": 8, "kwargs": {}, "target": (MIN_ACCURACY, 0.9)},
}
TRAINERS = {"classifier": "train_classifier", "segmenter": "train_segmenter", "factors": "train_factor_net"}


def recipe_data(spec: dict) -> ImageDataset:
    """The dataset a recipe's `data` entry names (also used to re-measure shipped evaluators)."""
    from ..data import digits, scenes, shapes

    if spec["name"] == "digits":
        return digits.load_digits(spec["size"], seed=spec["seed"])
    maker = {"shapes": shapes.make_shapes, "scenes": scenes.make_scenes}[spec["name"]]
    return maker(spec["n"], size=spec["size"], seed=spec["seed"])


def build_shipped(which: str, out_dir: str, seed: int = 0) -> dict:
    """Train one shipped evaluator with tqdm progress on stderr, save it; returns its card."""
    from tqdm import tqdm

    r = RECIPES[which]
    data = recipe_data(r["data"])
    trainer = globals()[TRAINERS[r["kind"]]]
    with tqdm(desc=f"eval-{which}", unit="step", file=sys.stderr, mininterval=0.5) as bar:
        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        model, report = trainer(data, r["epochs"], seed, progress, **r["kwargs"])
    metric, target = r["target"]
    card = {"dataset": {**r["data"], "held_out_frac": HELD_OUT_FRAC, "split_seed": seed},
            "target": {metric: target}, **report}
    if r["kind"] == "factors":  # newer cards also say how to rebuild them
        card["command"] = f"python -m gan_core.models.evaluators --which {which} --out checkpoints"
    save_evaluator(os.path.join(out_dir, r["file"]), model, card)
    return card


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m gan_core.models.evaluators",
                                description="Train and save the shipped evaluator networks.")
    p.add_argument("--which", choices=[*RECIPES, "all"], default="all")
    p.add_argument("--out", default="checkpoints")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(max(1, args.threads))
    failed = False
    for which in RECIPES if args.which == "all" else [args.which]:
        card = build_shipped(which, args.out)
        metric, target = next(iter(card["target"].items()))
        got = card["held_out"][metric]
        failed |= not (got >= target)
        print(json.dumps({"evaluator": which, metric: round(got, 4), "target": target,
                          "train_seconds": card["train_seconds"]}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

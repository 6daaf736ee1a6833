"""Network dissection of a generator layer (GAN Dissection, Bau et al. 2019).

Over N generated samples, each unit (channel) of a named layer is read through a `Trace`:

- its activation quantiles over all samples and positions; the threshold t_u is the unit's quantile at
  `level` (the paper keeps the top 1 %, level 0.99);
- its map upsampled (bilinear) to the image and thresholded, `up_u > t_u`, compared with every class mask
  of a segmenter by IoU over all N samples: IoU(u, c) = |on_u & mask_c| / |on_u | mask_c|;
- a unit detects the class of its largest IoU when that IoU exceeds `IOU_THRESHOLD` (0.05, the paper's);
  `units_per_class` counts them (the paper's bar chart).

The quantile level for small layers: on an 8x8 map the top 1 % is 0.64 cells per sample, so a unit can
only match small things (sun, houses) and large classes (sky, grass) get no detector at all (measured on
the shipped scenes generator, 500 samples: sky 0 and grass 0 units at 0.99; 12 and 5 at 0.95, and every
class has at least two). `quantile_level(h, w)` keeps the paper's 0.99 for maps of 32x32 and more and uses
0.95 below.

Generators without a segmenter (digits, shapes, 2D) still get quantiles, mean maps and top samples (the
unit viewer); IoU needs class masks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .. import models
from .hooks import Trace

IOU_THRESHOLD = 0.05  # a unit detects a class when its IoU exceeds this (Bau et al. 2019)
PAPER_LEVEL, SMALL_LEVEL = 0.99, 0.95  # quantile levels: maps of >= 32x32 cells, smaller maps
BATCH = 250  # samples per generator call
MAX_SAMPLES = 20_000


def quantile_level(h: int, w: int) -> float:
    """The activation quantile that switches a unit on: 0.99 on maps of >= 1,024 cells, 0.95 below."""
    return PAPER_LEVEL if h * w >= 1024 else SMALL_LEVEL


def layer_path(G: nn.Module, layer: str | None, family: str | None = None) -> str:
    """The dotted module path of a feature layer: `layer` may be a name from `G.feature_layers()`
    ('block1') or a module path ('net.block1'); None picks the family's default dissection layer, else
    the middle feature layer. ValueError naming the feature layers otherwise."""
    feats = G.feature_layers()
    if layer is None and family is not None:
        layer = models.get(family).default_layer
    if layer is None:
        layer = list(feats)[len(feats) // 2]
    if not isinstance(layer, str) or not layer:
        raise ValueError("the layer must be a non-empty name")
    paths = {m: n for n, m in G.named_modules()}
    if layer in feats:
        return paths[feats[layer]]
    for name, m in feats.items():
        if paths.get(m) == layer:
            return layer
    raise ValueError(f"unknown layer {layer[:40]!r}; this generator's layers are {', '.join(feats)}")


def feature_name(G: nn.Module, path: str) -> str:
    """The feature-layer name ('block1') of a module path ('net.block1')."""
    paths = {m: n for n, m in G.named_modules()}
    return next((n for n, m in G.feature_layers().items() if paths.get(m) == path), path)


@torch.no_grad()
def run_traced(G: nn.Module, layer: str, z: torch.Tensor, labels: torch.Tensor | None = None,
               edit=None, batch: int = BATCH) -> tuple[torch.Tensor, torch.Tensor]:
    """(outputs, activations of `layer`) of G over z in batches; `edit(out, name)` edits the layer."""
    outs, acts = [], []
    for i in range(0, len(z), batch):
        with Trace(G, layer, edit_output=edit) as tr:
            outs.append(G(z[i:i + batch], None if labels is None else labels[i:i + batch]))
        acts.append(tr.output.float().contiguous())
    return torch.cat(outs), torch.cat(acts)


def unit_quantiles(acts: torch.Tensor, levels) -> torch.Tensor:
    """Per-unit quantiles over samples and positions: acts (N, C, ...) -> (C, len(levels))."""
    c = acts.shape[1]
    flat = acts.transpose(0, 1).reshape(c, -1)  # (C, N*h*w)
    q = torch.as_tensor(levels, dtype=torch.float32)
    step = max(1, (1 << 24) // max(flat.shape[1], 1))  # torch.quantile takes at most 2^24 values a call
    return torch.cat([torch.quantile(flat[i:i + step], q, dim=1).T for i in range(0, c, step)])


def upsample(acts: torch.Tensor, size: int) -> torch.Tensor:
    """Unit maps (N, C, h, w) upsampled to the image (N, C, size, size), bilinear."""
    return F.interpolate(acts, size=(size, size), mode="bilinear", align_corners=False)


def iou_table(acts: torch.Tensor, thresholds: torch.Tensor, labels: torch.Tensor, n_classes: int,
              chunk: int = 100) -> torch.Tensor:
    """IoU of every unit's thresholded upsampled map with every class mask over all samples: (C, K).

    acts (N, C, h, w), thresholds (C,), labels (N, S, S) int64 class per pixel."""
    n, c = acts.shape[:2]
    size = labels.shape[-1]
    inter = torch.zeros(c, n_classes, dtype=torch.float64)
    on_count = torch.zeros(c, dtype=torch.float64)
    mask_count = torch.zeros(n_classes, dtype=torch.float64)
    for i in range(0, n, chunk):
        on = (upsample(acts[i:i + chunk], size) > thresholds[None, :, None, None]).float()  # (b, C, S, S)
        onehot = F.one_hot(labels[i:i + chunk], n_classes).float()  # (b, S, S, K)
        b = len(on)
        inter += torch.bmm(on.reshape(b, c, -1), onehot.reshape(b, -1, n_classes)).sum(0).double()
        on_count += on.sum((0, 2, 3)).double()
        mask_count += onehot.sum((0, 1, 2)).double()
    union = on_count[:, None] + mask_count[None, :] - inter
    return (inter / union.clamp_min(1)).float()


def units_per_class(iou: torch.Tensor, threshold: float = IOU_THRESHOLD) -> list[int]:
    """How many units detect each class: a unit counts for its best class when that IoU > threshold."""
    best, cls = iou.max(1)
    return [int(((cls == k) & (best > threshold)).sum()) for k in range(iou.shape[1])]


@dataclass
class Dissection:
    """One layer of a generator dissected over `samples` samples."""

    layer: str  # the feature-layer name ('block1')
    path: str  # its module path ('net.block1')
    level: float  # the quantile level of the thresholds
    thresholds: torch.Tensor  # (C,) each unit's activation quantile at `level`
    quantiles: torch.Tensor  # (C, 3) each unit's 0.5, 0.99 and 0.999 quantiles (insertion uses 0.99)
    mean_maps: torch.Tensor  # (C, h, w) each unit's mean activation map
    top: torch.Tensor  # (C, TOP) sample indices where each unit's peak activation is largest
    mean: torch.Tensor  # (C,) each unit's mean activation
    samples: int  # N
    seconds: float  # wall time of the dissection
    class_names: list[str] = field(default_factory=list)  # segmenter classes ([] without one)
    iou: torch.Tensor | None = None  # (C, K) IoU per unit and class (None without a segmenter)
    class_share: list[float] = field(default_factory=list)  # pixel share per class over the samples

    @property
    def units(self) -> int:
        return len(self.thresholds)

    def class_index(self, name: str) -> int:
        if name not in self.class_names:
            raise ValueError(f"unknown class {str(name)[:30]!r}; the classes are {', '.join(self.class_names)}")
        return self.class_names.index(name)

    def ranked(self, name: str) -> list[int]:
        """Units ordered by IoU with class `name`, best first."""
        if self.iou is None:
            raise ValueError("this generator has no segmenter, so units have no classes")
        return self.iou[:, self.class_index(name)].argsort(descending=True).tolist()

    def counts(self, threshold: float = IOU_THRESHOLD) -> dict[str, int]:
        return dict(zip(self.class_names, units_per_class(self.iou, threshold))) if self.iou is not None else {}

    def iou_dict(self) -> dict[str, dict[str, float]]:
        """unit -> class -> IoU (rounded), as the CLI prints it."""
        if self.iou is None:
            return {}
        return {str(u): {c: round(float(v), 4) for c, v in zip(self.class_names, row)}
                for u, row in enumerate(self.iou)}


TOP = 8


def dissect(G: nn.Module, layer: str, z: torch.Tensor, segment=None, labels: torch.Tensor | None = None,
            level: float | None = None, progress=None) -> Dissection:
    """Dissect module path `layer` of G over latents z (N, z_dim). `segment` (a `Segmenter` from
    `segmenters.py`, or None) labels the images; without it there is no IoU. `progress(frac)` is called
    as batches finish."""
    t0 = time.perf_counter()
    if not 1 <= len(z) <= MAX_SAMPLES:
        raise ValueError(f"samples must be between 1 and {MAX_SAMPLES}, got {len(z)}")
    acts, seg = [], []
    for i in range(0, len(z), BATCH):
        x, a = run_traced(G, layer, z[i:i + BATCH], None if labels is None else labels[i:i + BATCH])
        acts.append(a)
        if segment is not None:
            seg.append(segment.labels(x))
        if progress is not None:
            progress(min(1.0, (i + BATCH) / len(z)))
    acts = torch.cat(acts)
    if acts.ndim == 2:  # an MLP layer: (N, C) -> (N, C, 1, 1)
        acts = acts[:, :, None, None]
    h, w = acts.shape[2:]
    level = quantile_level(h, w) if level is None else float(level)
    if not 0.5 <= level < 1:
        raise ValueError(f"the quantile level must be in [0.5, 1), got {level}")
    q = unit_quantiles(acts, [level, 0.5, 0.99, 0.999])
    peak = acts.flatten(2).amax(2)  # (N, C)
    d = Dissection(feature_name(G, layer), layer, level, q[:, 0], q[:, 1:], acts.mean(0),
                   peak.topk(min(TOP, len(z)), dim=0).indices.T.contiguous(), acts.mean((0, 2, 3)), len(z), 0.0)
    if segment is not None:
        lab = torch.cat(seg)
        d.class_names = list(segment.names)
        d.iou = iou_table(acts, d.thresholds, lab, len(d.class_names))
        d.class_share = (torch.bincount(lab.flatten(), minlength=len(d.class_names)).double()
                         / lab.numel()).tolist()
    d.seconds = time.perf_counter() - t0
    return d

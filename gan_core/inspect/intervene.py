"""Interventions on a generator layer (GAN Dissection, Bau et al. 2019): ablate units, insert them in a
region, and measure what changes in the segmented picture.

- **Ablation** sets a unit set to zero everywhere. The layers dissected here end in a ReLU, so zero is
  each unit's own "off" value, the value it takes wherever it does not fire; the paper ablates to zero
  too. Ablating to the unit's mean would paint the unit's average presence everywhere (a tree unit's mean
  is not "no tree"), so `mode="mean"` exists for comparison only.
- **Insertion** sets the units, inside a region of the layer's map, to a high quantile of their
  activation (the 99th percentile, as the paper) times a strength.
- The **average causal effect** of a unit set on class c (the paper's delta): the mean pixel share of c
  after inserting the units everywhere minus after ablating them.

All edits are `Trace` hooks that leave with their `with` block.
"""

from __future__ import annotations

import torch
from torch import nn

from .dissect import BATCH, Dissection
from .hooks import Trace

ABLATE_MODES = ("zero", "mean")
MAX_STRENGTH = 10.0


def check_units(units, n_units: int) -> list[int]:
    """Unit ids as a list of distinct ints in [0, n_units); ValueError naming the bad one."""
    out = []
    for u in units:
        if isinstance(u, bool) or not isinstance(u, (int, torch.Tensor)) and not float(u).is_integer():
            raise ValueError(f"unit ids are whole numbers, got {u!r}")
        u = int(u)
        if not 0 <= u < n_units:
            raise ValueError(f"unit {u} does not exist: this layer has units 0..{n_units - 1}")
        if u not in out:
            out.append(u)
    return out


def ablate_edit(units: list[int], mode: str = "zero", mean: torch.Tensor | None = None):
    """An edit_output that sets `units` to zero (or to their mean activation) everywhere."""
    if mode not in ABLATE_MODES:
        raise ValueError(f"ablation mode must be one of {ABLATE_MODES}, got {mode!r}")
    idx = torch.as_tensor(units, dtype=torch.long)

    def edit(out: torch.Tensor, name: str) -> torch.Tensor:
        out = out.clone()
        if mode == "zero":
            out[:, idx] = 0
        else:
            shape = (1, len(idx)) + (1,) * (out.ndim - 2)
            out[:, idx] = mean[idx].to(out.dtype).reshape(shape)
        return out

    return edit


def insert_edit(units: list[int], values: torch.Tensor, region: torch.Tensor | None = None,
                strength: float = 1.0):
    """An edit_output that sets `units` to values[units] * strength where region (h, w) is True (or
    (N, h, w) per sample; None: everywhere)."""
    idx = torch.as_tensor(units, dtype=torch.long)

    def edit(out: torch.Tensor, name: str) -> torch.Tensor:
        out = out.clone()
        v = (values[idx] * float(strength)).to(out.dtype)
        sub = out[:, idx]  # (B, k, h, w)
        target = v.reshape(1, -1, *([1] * (out.ndim - 2))).expand_as(sub)
        if region is None:
            out[:, idx] = target
        else:
            m = region.to(torch.bool)
            m = m[:, None] if m.ndim == 3 else m[None, None]
            out[:, idx] = torch.where(m, target, sub)
        return out

    return edit


def check_strength(strength: float) -> float:
    s = float(strength)
    if not 0 <= s <= MAX_STRENGTH:
        raise ValueError(f"strength must be between 0 and {MAX_STRENGTH:g}, got {strength}")
    return s


@torch.no_grad()
def generate(G: nn.Module, z: torch.Tensor, layer: str | None = None, edit=None,
             labels: torch.Tensor | None = None, batch: int = BATCH) -> torch.Tensor:
    """G(z) in batches, with `edit` on module path `layer` when given (its hook is gone afterwards)."""
    outs = []
    for i in range(0, len(z), batch):
        lab = None if labels is None else labels[i:i + batch]
        if edit is None:
            outs.append(G(z[i:i + batch], lab))
        else:
            e = edit
            if callable(getattr(edit, "for_batch", None)):
                e = edit.for_batch(i, i + batch)
            with Trace(G, layer, retain_output=False, edit_output=e):
                outs.append(G(z[i:i + batch], lab))
    return torch.cat(outs)


def class_counts(segment, images: torch.Tensor) -> torch.Tensor:
    """Pixels of each segmented class over images: (K,) float64."""
    return segment.counts(segment.labels(images))


def ablation_effect(G: nn.Module, d: Dissection, units: list[int], z: torch.Tensor, segment,
                    before: torch.Tensor | None = None, mode: str = "zero") -> dict[str, float]:
    """Relative change of each class's pixels when `units` are ablated: (after - before) / before
    (-1: the class is gone; 0: unchanged). `before` (class counts without the edit) saves a pass."""
    if before is None:
        before = class_counts(segment, generate(G, z))
    after = class_counts(segment, generate(G, z, d.path, ablate_edit(units, mode, d.mean)))
    return {c: float((a - b) / b) if b > 0 else 0.0 for c, a, b in zip(d.class_names, after, before)}


def average_causal_effect(G: nn.Module, d: Dissection, units: list[int], z: torch.Tensor,
                          segment) -> dict[str, float]:
    """Per class: pixel share after inserting `units` everywhere (at their 99th percentile) minus after
    ablating them (the paper's average causal effect)."""
    ins = class_counts(segment, generate(G, z, d.path, insert_edit(units, d.quantiles[:, 1])))
    abl = class_counts(segment, generate(G, z, d.path, ablate_edit(units)))
    return {c: float(a / ins.sum() - b / abl.sum()) for c, a, b in zip(d.class_names, ins, abl)}


def rank_by_effect(G: nn.Module, d: Dissection, name: str, z: torch.Tensor, segment,
                   candidates: int | None = None) -> list[int]:
    """Units ordered by the pixels of class `name` that ablating each one alone removes, most first.
    `candidates` limits the search to that many of the best units by IoU (the rest follow by IoU)."""
    k = d.class_index(name)
    by_iou = d.ranked(name)
    pool = by_iou[:candidates] if candidates else by_iou
    before = class_counts(segment, generate(G, z))[k]
    drop = []
    for u in pool:
        after = class_counts(segment, generate(G, z, d.path, ablate_edit([u])))[k]
        drop.append(float(before - after))
    order = [pool[i] for i in sorted(range(len(pool)), key=lambda i: -drop[i])]
    return order + [u for u in by_iou if u not in order]


def receptive_margin(G: nn.Module, path: str, z: torch.Tensor, labels: torch.Tensor | None = None) -> int:
    """How far (in image pixels) beyond a cell's own footprint a change at one cell of the layer reaches:
    measured by editing the middle cell of the map for one latent and seeing which pixels move."""
    with torch.no_grad(), Trace(G, path) as tr:
        x0 = G(z[:1], None if labels is None else labels[:1])
    a = tr.output
    if a.ndim != 4:
        return 0
    h, w = a.shape[2:]
    i, j = h // 2, w // 2

    def poke(out, name):
        out = out.clone()
        out[:, :, i, j] += 10.0 * (out.abs().max() + 1)
        return out

    with torch.no_grad(), Trace(G, path, retain_output=False, edit_output=poke):
        x1 = G(z[:1], None if labels is None else labels[:1])
    moved = ((x1 - x0).abs().amax(1)[0] > 1e-4).nonzero()
    if len(moved) == 0:
        return 0
    s = x0.shape[-1] // h  # pixels per cell
    lo, hi = i * s, (i + 1) * s - 1
    return int(max(lo - int(moved[:, 0].min()), int(moved[:, 0].max()) - hi,
                   j * s - int(moved[:, 1].min()), int(moved[:, 1].max()) - ((j + 1) * s - 1), 0))


def region_pixels(region: torch.Tensor, size: int, margin: int = 0) -> torch.Tensor:
    """A layer-cell region (h, w) as an image mask (size, size), grown by `margin` pixels."""
    m = torch.nn.functional.interpolate(region[None, None].float(), size=(size, size), mode="nearest")[0, 0]
    if margin > 0:
        m = torch.nn.functional.max_pool2d(m[None, None], 2 * margin + 1, 1, margin)[0, 0]
    return m > 0


def insertion_effect(G: nn.Module, d: Dissection, units: list[int], z: torch.Tensor, segment,
                     region: torch.Tensor, name: str, strength: float = 1.0, base: torch.Tensor | None = None,
                     margin: int | None = None) -> dict[str, float]:
    """Insert `units` in `region` (h, w cells) and measure class `name` (paper: 99th percentile values):
    `gain_inside` = class pixels inside the region after / before (before counted at least 1 pixel per
    sample so a region with none does not divide by zero), `change_inside` and `change_outside` = the
    share of pixels whose segmented class changed, inside the region and outside it grown by the layer's
    receptive margin. `base` (the unedited pictures' labels) and `margin` save passes when given."""
    k = d.class_index(name)
    x1 = generate(G, z, d.path, insert_edit(units, d.quantiles[:, 1], region, check_strength(strength)))
    l0 = segment.labels(generate(G, z)) if base is None else base
    l1 = segment.labels(x1)
    size = l0.shape[-1]
    inside = region_pixels(region, size)
    margin = receptive_margin(G, d.path, z) if margin is None else margin
    outside = ~region_pixels(region, size, margin)
    b = float((l0[:, inside] == k).sum())
    a = float((l1[:, inside] == k).sum())
    changed = l0 != l1
    return {"gain_inside": a / max(b, float(len(z))), "share_before": b / (len(z) * int(inside.sum())),
            "share_after": a / (len(z) * int(inside.sum())),
            "change_inside": float(changed[:, inside].double().mean()),
            "change_outside": float(changed[:, outside].double().mean()) if outside.any() else 0.0}

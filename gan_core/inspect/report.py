"""The dissection report of one generator layer (what `python -m gan_core dissect` prints).

Over N samples (latents drawn with `seed`): the dissection itself (IoU per unit and class, units per
class), then for every class with pixels the ablation of its top `k` units by IoU against `k` random
units of the same layer, the insertion of its top units in a fixed region, and the artifact units.

- `ablation[c]`: `k` (at most 15 % of the layer), `top_removed` = the share of class c's segmented pixels
  that ablating the top k units removes, `random_changed` = the mean over `RANDOM_DRAWS` sets of k random
  units (not among the top k) of |relative change| of class c's pixels.
- `artifacts`: artifact units (`artifacts.py`) searched in the widest feature layer of G.
- `insertion[c]`: the top k units set to their 99th percentile inside `insert_region` (the middle half of
  the lower half of the map, where the ground objects of a scene stand); see `intervene.insertion_effect`.
"""

from __future__ import annotations

import time

import torch
from torch import nn

from .. import models
from . import artifacts, intervene
from .dissect import dissect, layer_path

UNIT_SHARE = 0.10  # units ablated or inserted per class: this share of the layer's units
RANDOM_DRAWS = 3  # random unit sets averaged for the random baseline
SEED = 0


def units_for(n_units: int, share: float = UNIT_SHARE) -> int:
    return max(1, round(share * n_units))


def insert_region(h: int, w: int) -> torch.Tensor:
    """The insertion region in layer cells: rows h/2 .. 3h/4, columns w/4 .. 3w/4 (at least one cell)."""
    r = torch.zeros(h, w, dtype=torch.bool)
    r[h // 2:max(h // 2 + 1, 3 * h // 4), w // 4:max(w // 4 + 1, 3 * w // 4)] = True
    return r


def random_units(n_units: int, k: int, exclude: list[int], draw: int) -> list[int]:
    pool = torch.tensor([u for u in range(n_units) if u not in exclude])
    gen = torch.Generator().manual_seed(1000 + draw)
    return pool[torch.randperm(len(pool), generator=gen)[:k]].tolist()


def ablation_table(G: nn.Module, d, z: torch.Tensor, segment, k: int, progress=None) -> dict:
    before = intervene.class_counts(segment, intervene.generate(G, z))
    out = {}
    for ci, name in enumerate(d.class_names):
        if before[ci] <= 0:
            continue
        top = d.ranked(name)[:k]
        removed = -intervene.ablation_effect(G, d, top, z, segment, before)[name]
        rand = [abs(intervene.ablation_effect(G, d, random_units(d.units, k, top, r), z, segment, before)[name])
                for r in range(RANDOM_DRAWS)]
        out[name] = {"k": k, "units": top, "top_removed": round(removed, 4),
                     "random_changed": round(sum(rand) / len(rand), 4)}
        if progress:
            progress(f"ablation {name}")
    return out


def insertion_table(G: nn.Module, d, z: torch.Tensor, segment, k: int, progress=None) -> dict:
    h, w = d.mean_maps.shape[1:]
    region = insert_region(h, w)
    base = segment.labels(intervene.generate(G, z))
    margin = intervene.receptive_margin(G, d.path, z)
    out = {}
    for name in d.class_names:
        eff = intervene.insertion_effect(G, d, d.ranked(name)[:k], z, segment, region, name, base=base,
                                         margin=margin)
        out[name] = {"k": k, **{key: round(v, 4) for key, v in eff.items()}}
        if progress:
            progress(f"insertion {name}")
    return out


def full_report(G: nn.Module, family: str, dataset: str, layer: str | None, samples: int, segment,
                real: torch.Tensor | None, progress=None, seed: int = SEED) -> dict:
    """Everything the CLI prints for one layer of G (a frozen eval copy)."""
    path = layer_path(G, layer, family)
    z = models.sample_latent(G.latent_spec, samples, torch.Generator().manual_seed(seed))
    labels = None
    if G.latent_spec.n_classes:
        labels = torch.randint(G.latent_spec.n_classes, (samples,), generator=torch.Generator().manual_seed(seed))
    d = dissect(G, path, z, segment, labels)
    out = {"layer": d.layer, "units": d.units, "samples": samples, "quantile": d.level,
           "seconds_per_1000": round(d.seconds * 1000 / samples, 3)}
    if progress:
        progress("dissection")
    if segment is None or labels is not None:
        return out
    k = units_for(d.units)
    out["iou"] = d.iou_dict()
    out["units_per_class"] = d.counts()
    out["class_share"] = dict(zip(d.class_names, [round(s, 4) for s in d.class_share]))
    out["ablation"] = ablation_table(G, d, z, segment, k, progress)
    out["insertion"] = insertion_table(G, d, z, segment, k, progress)
    if real is not None:
        t0 = time.perf_counter()
        wide = artifacts.widest_layer(G)
        da = d if wide == d.path else dissect(G, wide, z[:min(samples, 200)])  # units and layer name only
        out["artifacts"] = artifacts.find_and_measure(G, da, real, samples, segment, seed=seed)
        out["artifacts"]["seconds"] = round(time.perf_counter() - t0, 2)
        if progress:
            progress("artifacts")
    return out

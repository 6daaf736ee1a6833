"""Artifact units (GAN Dissection, Bau et al. 2019, section 4.2): units whose removal makes the generated
set closer to the real one.

The paper scores images by realism and ablates the units that fire on the worst ones. Here each
generated image is scored by **its contribution to the FD** (the FD of the whole set minus the FD
without that image, leave-one-out, in the evaluator's features, against the same real images): an image
that raises the FD is an image that looks unlike the real set as the metrics see it. The FD is the one the
project reports everywhere, so the score and the figure it should lower are the same. (The
discriminator's realism would be the alternative; it is trained to be fooled, and on the shipped scenes
generator its logits did not pick out units whose ablation helps.)

1. Candidates: units ordered by the correlation between their peak activation on an image and that
   image's FD contribution, over a search set of latents (not the ones measured).
2. Each of the best `CANDIDATES` is ablated alone on the search set and kept when it lowers the FD; the
   kept units are added greedily, best first, while the search-set FD keeps falling (at most `max_units`).
3. Measured on other latents: FD before, after ablating the artifact units, and after ablating the same
   number of random units (mean of `RANDOM_DRAWS` sets), each against the same real images.

Units are ablated to zero, as the class ablations of `intervene` are. Ablating to each unit's mean was
tried on the shipped scenes generator and disturbs more: one random unit of `block0` set to its mean
raised the FD by 14 % on average (5 draws, 6-21 %), and the one unit the search kept raised it by 6 % on
the measured latents.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from . import intervene
from .dissect import Dissection, run_traced

CANDIDATES = 12  # units tried one by one
MAX_UNITS = 0.15  # at most this share of the layer's units
RANDOM_DRAWS = 5  # random unit sets; their FDs vary by several per cent, so more than a few


def _features(segment, images: torch.Tensor) -> np.ndarray:
    from ..metrics import classifier as cm

    return cm.features(segment.model, images)


def _fd(a: np.ndarray, b: np.ndarray) -> float:
    from ..metrics.classifier import frechet_distance

    return frechet_distance(a, b)


def fd_contributions(real_f: np.ndarray, fake_f: np.ndarray) -> np.ndarray:
    """Each fake image's contribution to the FD: FD(all) - FD(all but that image), (N,)."""
    full = _fd(real_f, fake_f)
    keep = np.ones(len(fake_f), dtype=bool)
    out = np.empty(len(fake_f))
    for i in range(len(fake_f)):
        keep[i] = False
        out[i] = full - _fd(real_f, fake_f[keep])
        keep[i] = True
    return out


def candidate_units(acts: torch.Tensor, score: np.ndarray) -> list[int]:
    """Units by the correlation of their peak activation (N, C, ...) with the images' scores, highest
    first."""
    peak = acts.flatten(2).amax(2).double()  # (N, C)
    s = torch.as_tensor(score, dtype=torch.float64)
    s = (s - s.mean()) / s.std().clamp_min(1e-12)
    p = (peak - peak.mean(0)) / peak.std(0).clamp_min(1e-12)
    return (p * s[:, None]).mean(0).argsort(descending=True).tolist()


def find_units(G: nn.Module, d: Dissection, z: torch.Tensor, real_f: np.ndarray, segment,
               max_units: int) -> tuple[list[int], float]:
    """The artifact units of layer d.path found on search latents z, and the search-set FD after them."""
    x, acts = run_traced(G, d.path, z)
    fake_f = _features(segment, x)
    base = _fd(real_f, fake_f)
    pool = candidate_units(acts, fd_contributions(real_f, fake_f))[:CANDIDATES]
    single = {}
    for u in pool:
        single[u] = _fd(real_f, _features(segment, intervene.generate(G, z, d.path, intervene.ablate_edit([u]))))
    chosen, best = [], base
    for u in sorted((u for u in pool if single[u] < base), key=single.get):
        if len(chosen) >= max_units:
            break
        f = _fd(real_f, _features(segment, intervene.generate(G, z, d.path, intervene.ablate_edit(chosen + [u]))))
        if f < best:
            chosen, best = chosen + [u], f
    return chosen, best


def widest_layer(G: nn.Module) -> str:
    """The module path of G's feature layer with the most units (the first of equals): there each unit
    is the smallest share of its layer, so removing one disturbs the picture least."""
    from .dissect import run_traced as _run

    z = torch.zeros(2, G.latent_spec.z_dim)
    lab = torch.zeros(2, dtype=torch.long) if G.latent_spec.n_classes else None
    paths = {m: n for n, m in G.named_modules()}
    best, width = None, -1
    for m in G.feature_layers().values():
        _, a = _run(G, paths[m], z, lab)
        if a.shape[1] > width:
            best, width = paths[m], a.shape[1]
    return best


def find_and_measure(G: nn.Module, d: Dissection, real: torch.Tensor, samples: int, segment,
                     seed: int = 0) -> dict:
    """Find artifact units of layer d.path on one set of latents, measure FD before / after / random on
    another (d supplies the layer and its unit count)."""
    from .. import models

    gen = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(real), generator=gen)[:samples]
    real_f = _features(segment, real[idx])
    z_search = models.sample_latent(G.latent_spec, samples, torch.Generator().manual_seed(seed + 1))
    z_eval = models.sample_latent(G.latent_spec, samples, torch.Generator().manual_seed(seed))
    units, _ = find_units(G, d, z_search, real_f, segment, max(1, int(MAX_UNITS * d.units)))
    before = _fd(real_f, _features(segment, intervene.generate(G, z_eval)))
    out = {"layer": d.layer, "k": len(units), "units": units, "fd_before": before, "fd_after": before, "fd_random": before,
           "score": "fd_contribution"}
    if not units:
        return out
    out["fd_after"] = _fd(real_f, _features(segment, intervene.generate(G, z_eval, d.path,
                                                                        intervene.ablate_edit(units))))
    rand = []
    for r in range(RANDOM_DRAWS):
        gen = torch.Generator().manual_seed(2000 + r)
        pool = torch.tensor([u for u in range(d.units) if u not in units])
        ru = pool[torch.randperm(len(pool), generator=gen)[:len(units)]].tolist()
        rand.append(_fd(real_f, _features(segment, intervene.generate(G, z_eval, d.path,
                                                                      intervene.ablate_edit(ru)))))
    out["fd_random"] = float(np.mean(rand))
    out["fd_random_draws"] = rand
    return out

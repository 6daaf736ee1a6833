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

`find_and_show` (the GANPaint tab's panel) adds what a person looks at: the measured images with the
largest FD contribution (`worst_indices`) before and after the ablation, in the widest layer by default.

Units are ablated to zero, as the class ablations of `intervene` are. Ablating to each unit's mean was
tried on the shipped scenes generator and disturbs more: one random unit of `block0` set to its mean
raised the FD by 14 % on average (5 draws, 6-21 %), and the one unit the search kept raised it by 6 % on
the measured latents.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch
from torch import nn

from . import intervene
from .dissect import Dissection, run_traced

CANDIDATES = 12  # units tried one by one
MAX_UNITS = 0.15  # at most this share of the layer's units
RANDOM_DRAWS = 5  # random unit sets; their FDs vary by several per cent, so more than a few
WORST = 8  # the images with the largest FD contribution that `find_and_show` draws before and after


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
               max_units: int, progress=None) -> tuple[list[int], float]:
    """The artifact units of layer d.path found on search latents z, and the search-set FD after them.
    `progress` (a `Steps`) counts each generate-and-score pass."""
    tick = progress or Steps()
    x, acts = run_traced(G, d.path, z)
    fake_f = _features(segment, x)
    base = _fd(real_f, fake_f)
    pool = candidate_units(acts, fd_contributions(real_f, fake_f))[:CANDIDATES]
    tick("scored the search images")
    single = {}
    for i, u in enumerate(pool):
        single[u] = _fd(real_f, _features(segment, intervene.generate(G, z, d.path, intervene.ablate_edit([u]))))
        tick(f"tried candidate unit {i + 1} of {len(pool)}")
    helpful = sorted((u for u in pool if single[u] < base), key=single.get)
    tick.expect(len(helpful), CANDIDATES)
    chosen, best = [], base
    for u in helpful:
        if len(chosen) >= max_units:
            break
        f = _fd(real_f, _features(segment, intervene.generate(G, z, d.path, intervene.ablate_edit(chosen + [u]))))
        tick(f"tried adding unit {u}")
        if f < best:
            chosen, best = chosen + [u], f
    return chosen, best


class Steps:
    """Progress over the generate-and-score passes of a search: `fn(fraction, what)` after each. The
    greedy passes are counted at their most (`CANDIDATES`) until `expect` tells how many there will be,
    so the fraction only grows."""

    def __init__(self, fn=None, total: int = 1):
        self.fn, self.total, self.done = fn, max(1, total), 0

    def __call__(self, what: str) -> None:
        self.done += 1
        if self.fn is not None:
            self.fn(min(1.0, self.done / self.total), what)

    def expect(self, n: int, assumed: int) -> None:
        self.total = max(self.done, self.total - assumed + n)


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


def _measure(G: nn.Module, d, real: torch.Tensor, samples: int, segment, seed: int, steps: Steps) -> tuple:
    """find_and_measure's figures, with what find_and_show draws: (figures, real features, measured
    latents, their images before and after the ablation (None without units), their features before and
    after)."""
    from .. import models

    gen = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(real), generator=gen)[:samples]
    real_f = _features(segment, real[idx])
    z_search = models.sample_latent(G.latent_spec, samples, torch.Generator().manual_seed(seed + 1))
    z_eval = models.sample_latent(G.latent_spec, samples, torch.Generator().manual_seed(seed))
    steps("read the real images")
    units, _ = find_units(G, d, z_search, real_f, segment, max(1, int(MAX_UNITS * d.units)), steps)
    x_before = intervene.generate(G, z_eval)
    before_f = _features(segment, x_before)
    before = _fd(real_f, before_f)
    steps("measured the FD before")
    out = {"layer": d.layer, "k": len(units), "units": units, "fd_before": before, "fd_after": before, "fd_random": before,
           "score": "fd_contribution"}
    if not units:
        return out, real_f, z_eval, x_before, None, before_f, None
    x_after = intervene.generate(G, z_eval, d.path, intervene.ablate_edit(units))
    after_f = _features(segment, x_after)
    out["fd_after"] = _fd(real_f, after_f)
    steps("measured the FD after removing the units")
    rand = []
    for r in range(RANDOM_DRAWS):
        gen = torch.Generator().manual_seed(2000 + r)
        pool = torch.tensor([u for u in range(d.units) if u not in units])
        ru = pool[torch.randperm(len(pool), generator=gen)[:len(units)]].tolist()
        rand.append(_fd(real_f, _features(segment, intervene.generate(G, z_eval, d.path,
                                                                      intervene.ablate_edit(ru)))))
        steps(f"measured random unit set {r + 1} of {RANDOM_DRAWS}")
    out["fd_random"] = float(np.mean(rand))
    out["fd_random_draws"] = rand
    return out, real_f, z_eval, x_before, x_after, before_f, after_f


def _passes() -> int:
    """Generate-and-score passes of a search at most: real, search, candidates, greedy, before, after,
    random sets."""
    return 1 + 1 + CANDIDATES + CANDIDATES + 1 + 1 + RANDOM_DRAWS


def find_and_measure(G: nn.Module, d: Dissection, real: torch.Tensor, samples: int, segment,
                     seed: int = 0, progress=None) -> dict:
    """Find artifact units of layer d.path on one set of latents, measure FD before / after / random on
    another (d supplies the layer and its unit count). `progress(fraction, what)` follows the passes."""
    return _measure(G, d, real, samples, segment, seed, Steps(progress, _passes()))[0]


def worst_indices(contributions: np.ndarray, n: int) -> list[int]:
    """The n images with the largest FD contribution, largest first (equal ones by index)."""
    return np.argsort(-np.asarray(contributions, dtype=np.float64), kind="stable")[:n].tolist()


def layer_of(G: nn.Module, path: str) -> SimpleNamespace:
    """What find_and_measure reads of a Dissection, without dissecting: the module path, the feature-layer
    name and the number of units."""
    from .dissect import feature_name

    lab = torch.zeros(1, dtype=torch.long) if G.latent_spec.n_classes else None
    _, a = run_traced(G, path, torch.zeros(1, G.latent_spec.z_dim), lab)
    return SimpleNamespace(path=path, layer=feature_name(G, path), units=int(a.shape[1]))


def find_and_show(G: nn.Module, real: torch.Tensor, samples: int, segment, seed: int = 0,
                  layer: str | None = None, worst: int = WORST, progress=None) -> dict:
    """find_and_measure on module path `layer` (default: the widest feature layer) with what a person
    looks at besides the figures: the `worst` measured images, those with the largest contribution to
    the FD before the ablation, drawn before and after it.

    Adds to find_and_measure's keys: `path` (module path), `layer_units` (units of the layer), `samples`,
    `seed`, `worst` (indices among the measured latents, seed `seed`, largest contribution first),
    `worst_share_before` / `worst_share_after` (each one's contribution to the FD of its set as a share of
    that FD; after: to the FD of the ablated set) and `images_before` / `images_after` (uint8 (n, H, W, 3);
    the same pictures when no unit was found)."""
    from ..data.images import to_uint8

    if G.latent_spec.n_classes:
        raise ValueError("artifact units are searched in unconditional generators; this one draws classes")
    d = layer_of(G, layer or widest_layer(G))
    steps = Steps(progress, _passes() + 1)
    out, real_f, _, x_before, x_after, before_f, after_f = _measure(G, d, real, samples, segment, seed, steps)
    c_before = fd_contributions(real_f, before_f)
    idx = worst_indices(c_before, worst)
    c_after = c_before if after_f is None else fd_contributions(real_f, after_f)
    x_after = x_before if x_after is None else x_after
    steps("ranked the images by their share of the FD")
    out.update({"path": d.path, "layer_units": d.units, "samples": samples, "seed": seed, "worst": idx,
                "worst_share_before": [float(c_before[i] / out["fd_before"]) for i in idx],
                "worst_share_after": [float(c_after[i] / out["fd_after"]) for i in idx],
                "images_before": to_uint8(x_before[idx], rgb=True),
                "images_after": to_uint8(x_after[idx], rgb=True)})
    return out

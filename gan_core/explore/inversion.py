"""Inversion of a generator: the latent whose image comes closest to a picture, and the memorisation
check built on it (minimum reconstruction error of training against held-out images, Webster et al. 2019).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from .. import models
from .latent import LatentModel, real_split

@dataclass
class Inversion:
    z: torch.Tensor  # (T, z_dim) best latent per target
    labels: torch.Tensor | None  # (T,) class of the best latent (conditional G)
    recon: torch.Tensor  # (T, C, H, W) G(z)
    mse: torch.Tensor  # (T,) mean squared error in [-1, 1] units
    psnr: torch.Tensor  # (T,) dB with images mapped to [0, 1]


def psnr_db(mse: torch.Tensor) -> torch.Tensor:
    """PSNR of images in [-1, 1] (peak-to-peak 2): 10 log10(4 / mse)."""
    return 10 * torch.log10(4.0 / mse.clamp_min(1e-12))


def invert(model: LatentModel, targets: torch.Tensor, restarts: int = 8, steps: int = 400, lr: float = 0.05,
           candidates: int = 64, label: int | None = None, seed: int = 0,
           progress: Callable[[float], None] | None = None) -> Inversion:
    """Find latents whose images are closest (mean squared error) to `targets` (T, C, H, W) in [-1, 1].

    For each target, `candidates` random latents are tried and the best `restarts` start an Adam
    optimisation of `steps` steps (learning rate decaying to zero), all targets and restarts at once;
    the best restart wins. A conditional G searches the classes too (restarts cycle through them) unless
    `label` fixes the class."""
    if model.kind != "image":
        raise ValueError("inversion needs an image generator")
    t = torch.as_tensor(targets, dtype=torch.float32)
    if t.ndim == 3:
        t = t[None]
    n_t = len(t)
    gen = torch.Generator().manual_seed(seed)
    # candidates: pick the best `restarts` starts per target by their error
    zc = models.sample_latent(model.spec, n_t * candidates, gen).reshape(n_t, candidates, -1)
    lc = _restart_labels(model, n_t, candidates, label)
    with torch.no_grad():
        xc = model.generate(zc.reshape(n_t * candidates, -1), labels=None if lc is None else lc.reshape(-1))
        err = ((xc.reshape(n_t, candidates, -1) - t.reshape(n_t, 1, -1)) ** 2).mean(2)
    r = min(restarts, candidates)
    best = err.argsort(1)[:, :r]  # (T, R)
    z = torch.gather(zc, 1, best[..., None].expand(-1, -1, zc.shape[2])).reshape(n_t * r, -1).clone()
    labels = None if lc is None else torch.gather(lc, 1, best).reshape(-1)
    z.requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 0.5 * (1 + math.cos(math.pi * i / steps)))
    target = t.repeat_interleave(r, 0)
    for i in range(steps):
        opt.zero_grad(set_to_none=True)
        x = model.G(z, labels)
        loss = ((x - target) ** 2).mean(dim=tuple(range(1, x.ndim)))
        loss.sum().backward()
        opt.step()
        sched.step()
        if progress is not None and (i % 20 == 0 or i == steps - 1):
            progress((i + 1) / steps)
    with torch.no_grad():
        z = z.detach()
        x = model.generate(z, labels=labels)
        mse = ((x - target) ** 2).mean(dim=tuple(range(1, x.ndim))).reshape(n_t, r)
        pick = mse.argmin(1)
        idx = torch.arange(n_t) * r + pick
        best_mse = mse[torch.arange(n_t), pick]
    return Inversion(z[idx], None if labels is None else labels[idx], x[idx], best_mse, psnr_db(best_mse))


def _restart_labels(model: LatentModel, n_t: int, n: int, label: int | None) -> torch.Tensor | None:
    if not model.n_classes:
        return None
    if label is not None:
        return model.labels_for(n_t * n, label).reshape(n_t, n)
    return (torch.arange(n) % model.n_classes).repeat(n_t, 1)


def nearest(images: torch.Tensor, pool: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For each image (T, ...) the index of its nearest neighbour in `pool` (N, ...) by mean squared
    error, and that error."""
    a, b = images.reshape(len(images), -1), pool.reshape(len(pool), -1)
    d = torch.cdist(a, b) ** 2 / a.shape[1]  # (T, N)
    err, idx = d.min(1)
    return idx, err


def minimum_reconstruction_error(model: LatentModel, images: torch.Tensor, **kw) -> torch.Tensor:
    """MRE per image (Webster et al. 2019): the smallest mean squared error any latent reaches, as found
    by `invert`. Training images that a GAN reconstructs much better than held-out ones are memorised."""
    return invert(model, images, **kw).mse


def inversion_report(model: LatentModel, n_generated: int = 64, n_real: int = 64, restarts: int = 4,
                     steps: int = 300, seed: int = 0, progress: Callable[[str, float], None] | None = None) -> dict:
    """How well the generator can be inverted, and whether it memorised its training images.

    - `inversion_psnr_median` (dB): inversion of n_generated of G's own images (fresh seeds); their exact
      latents exist, so this measures the optimiser.
    - `mre_train`, `mre_heldout`: median minimum reconstruction error (mean squared error in [-1, 1]
      units) of n_real training images and n_real images held out of training. A generator that
      memorises reconstructs training images much better (mre_ratio = held-out / train well above 1).
    - `nn_heldout`: median error of each held-out image's nearest training image, for scale."""
    kw = {"restarts": restarts, "steps": steps, "seed": seed}
    gen = torch.Generator().manual_seed(20_000 + seed)
    z = models.sample_latent(model.spec, n_generated, gen)
    labels = model.random_labels(n_generated, gen)
    x = model.generate(z, labels=labels)
    train, held = real_split(model)
    pick = torch.Generator().manual_seed(30_000 + seed)
    tr = train.images[torch.randperm(len(train), generator=pick)[:n_real]]
    ho = None if held is None else held.images[torch.randperm(len(held), generator=pick)[:n_real]]
    parts = [x, tr] + ([ho] if ho is not None else [])
    tick = (lambda f: progress("inverting", f)) if progress else None
    inv = invert(model, torch.cat(parts), progress=tick, **kw)
    n_g, n_t = len(x), len(tr)
    psnr = inv.psnr[:n_g]
    out = {"inversion_psnr_median": float(psnr.median()), "inversion_psnr_min": float(psnr.min()),
           "inversion_psnr_mean": float(psnr.mean()),
           "mre_train": float(inv.mse[n_g:n_g + n_t].median()),
           "mre_heldout": None, "mre_ratio": None, "nn_heldout": None,
           "n_generated": n_g, "n_train": n_t, "n_heldout": 0, "restarts": restarts, "steps": steps,
           "held_out_share": model.held_out}
    if ho is not None:
        mre_h = float(inv.mse[n_g + n_t:].median())
        out.update({"mre_heldout": mre_h, "mre_ratio": mre_h / max(out["mre_train"], 1e-12),
                    "nn_heldout": float(nearest(ho, train.images)[1].median()), "n_heldout": len(ho)})
    return out

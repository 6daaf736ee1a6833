"""Mode-coverage metrics for 2D mixtures, as defined for the PacGAN benchmark (Lin et al. 2018).

A sample is high quality when it lies within 3 sigma of its nearest mode; a mode is captured when it is
the nearest mode of at least one high-quality sample; reverse KL compares the histogram of high-quality
samples over modes with the uniform distribution. Evaluate on 2,500 samples. GAN Lab's KL and JS
divergences are computed between 2D histograms of real and generated points on a square grid.
"""

from __future__ import annotations

import math

import torch

EVAL_SAMPLES = 2500
MODES, HQ, REVERSE_KL, KL_GRID, JS_GRID = "modes", "hq", "reverse_kl", "kl_grid", "js_grid"


def mode_stats(samples: torch.Tensor, modes: torch.Tensor, sigma: float) -> dict[str, float]:
    """`modes` captured (int), `hq` fraction in [0, 1], `reverse_kl` in nats (log M when nothing is HQ)."""
    samples = samples.detach().float().cpu()
    if samples.numel() == 0 or not torch.isfinite(samples).all():
        return {MODES: 0, HQ: 0.0, REVERSE_KL: math.log(len(modes))}
    dist = torch.cdist(samples, modes.float())  # (N, M)
    dmin, nearest = dist.min(1)
    hq = dmin <= 3 * sigma
    counts = torch.bincount(nearest[hq], minlength=len(modes)).double()
    total = counts.sum()
    if total == 0:
        rkl = math.log(len(modes))
    else:
        p = counts / total
        nz = p > 0
        rkl = float((p[nz] * torch.log(p[nz] * len(modes))).sum())
    return {MODES: int((counts > 0).sum()), HQ: float(hq.float().mean()), REVERSE_KL: rkl,
            "mode_counts": [int(c) for c in counts]}


def grid_divergences(real: torch.Tensor, fake: torch.Tensor, extent: float, bins: int = 20,
                     eps: float = 1e-6) -> dict[str, float]:
    """KL(real || fake) and JS between 2D histograms on a bins x bins grid over [-extent, extent]^2."""
    def hist(x: torch.Tensor) -> torch.Tensor:
        x = x.detach().float().cpu()
        x = x[torch.isfinite(x).all(1)]
        idx = ((x + extent) / (2 * extent) * bins).floor().long().clamp_(0, bins - 1)
        h = torch.bincount(idx[:, 0] * bins + idx[:, 1], minlength=bins * bins).double() + eps
        return h / h.sum()

    p, q = hist(real), hist(fake)
    m = 0.5 * (p + q)
    kl = float((p * (p / q).log()).sum())
    js = float(0.5 * (p * (p / m).log()).sum() + 0.5 * (q * (q / m).log()).sum())
    return {KL_GRID: kl, JS_GRID: js}

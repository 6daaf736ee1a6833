"""Differentiable augmentation of D's inputs (DiffAugment, Zhao et al. 2020).

With few training images D memorises them and its gradient stops teaching G (the DiffAugment and ADA
papers show it on 10 % of CIFAR-10, about the size of the built-in procedural sets). Augmenting every
image D sees, real and fake alike, in D's and in G's update, keeps D from memorising while G still learns
the un-augmented distribution: each transformation is differentiable, so G's gradient passes through it,
and as the same random transformations apply to real and fake images, matching the augmented
distributions means matching the originals.

Policies (`TrainConfig.d_augment`, joined by '+'), each drawn per image from the trainer's random stream:
- `colour`: brightness (add a value in [-0.5, 0.5]), saturation (scale each pixel's distance from its
  grey by a factor in [0, 2]) and contrast (scale each image's distance from its mean by [0.5, 1.5]);
- `translation`: move by up to 1/8 of the side in x and y, filling with zeros;
- `cutout`: zero a square of half the side at a random place.
"""

from __future__ import annotations

import torch

POLICIES = ("colour", "translation", "cutout")
TRANSLATION = 0.125  # largest move, as a fraction of the image side
CUTOUT = 0.5  # side of the cut square, as a fraction of the image side


def check(policy: str) -> tuple[str, ...]:
    """The parts of a `d_augment` string ('' = none), or a ValueError naming the known ones."""
    if not isinstance(policy, str):
        raise ValueError(f"d_augment must be text, got {str(policy)[:40]!r}")
    parts = tuple(policy.split("+")) if policy else ()
    if any(p not in POLICIES for p in parts) or len(set(parts)) != len(parts):
        raise ValueError(f"d_augment must be empty or join distinct parts of {', '.join(POLICIES)} with '+', "
                         f"got {policy[:40]!r}")
    return parts


def _rand(n: int, gen: torch.Generator | None, like: torch.Tensor) -> torch.Tensor:
    return torch.rand((n, 1, 1, 1), generator=gen).to(like)


def colour(x: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
    n = len(x)
    x = x + (_rand(n, gen, x) - 0.5)
    grey = x.mean(1, keepdim=True)
    x = (x - grey) * (_rand(n, gen, x) * 2) + grey
    mean = x.mean((1, 2, 3), keepdim=True)
    return (x - mean) * (_rand(n, gen, x) + 0.5) + mean


def translation(x: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
    n, _, h, w = x.shape
    sy, sx = int(h * TRANSLATION + 0.5), int(w * TRANSLATION + 0.5)
    dy = torch.randint(-sy, sy + 1, (n, 1, 1), generator=gen).to(x.device)
    dx = torch.randint(-sx, sx + 1, (n, 1, 1), generator=gen).to(x.device)
    # output pixel (i, j) reads input (i - dy, j - dx) of the image padded by one zero pixel on every side
    rows = (torch.arange(h, device=x.device)[None, :, None] - dy + 1).clamp(0, h + 1)  # (n, h, 1)
    cols = (torch.arange(w, device=x.device)[None, None, :] - dx + 1).clamp(0, w + 1)  # (n, 1, w)
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1))
    b = torch.arange(n, device=x.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[b, rows, cols].permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
    n, _, h, w = x.shape
    ch, cw = int(h * CUTOUT + 0.5), int(w * CUTOUT + 0.5)
    oy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), generator=gen).to(x.device) - ch // 2
    ox = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), generator=gen).to(x.device) - cw // 2
    r = torch.arange(h, device=x.device)[None, :, None]
    c = torch.arange(w, device=x.device)[None, None, :]
    cut = (r >= oy) & (r < oy + ch) & (c >= ox) & (c < ox + cw)  # (n, h, w)
    return x * (~cut)[:, None].to(x.dtype)


_FUNCS = {"colour": colour, "translation": translation, "cutout": cutout}


def augment(x: torch.Tensor, policy: str, gen: torch.Generator | None = None) -> torch.Tensor:
    """Images (B, C, H, W) augmented by `policy` (see the module docstring); x itself when it is ''."""
    for part in check(policy):
        x = _FUNCS[part](x, gen)
    return x

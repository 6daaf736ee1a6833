"""The generator contract every family follows, so that training, checkpoints and every viewer (latent
explorer, grids, mixing, code knobs, dissection) handle any generator the same way.

A generator is an `nn.Module` with
- `latent_spec` (`LatentSpec`): what it takes (z size, noise, classes, InfoGAN codes);
- `output_spec` (`OutputSpec`): what it makes, 'points' (B, dims) or 'image' (B, C, S, S) in [-1, 1];
- `forward(z, c=None)`: callers pass `c` (class labels) always, None for an unconditional G;
- `feature_layers()`: its intermediate layers, named and ordered from the input to the output.

Style-based generators (StyleGAN, Karras et al. 2019) add a mapping network and a synthesis network:
`mapping(z, c=None) -> ws (N, num_ws, w_dim)`, `synthesis(ws) -> x`, `num_ws` and `w_avg` (the running
mean of w, the truncation centre). Mixing and truncation edit `ws` between the two calls, as in the
StyleGAN code base. `is_style_based(G)` tells them apart.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
from torch import nn

from .base import LatentSpec

OUTPUT_KINDS = ("points", "image")


@dataclass(frozen=True)
class OutputSpec:
    """What a generator makes: `kind` 'points' (B, channels) or 'image' (B, channels, size, size)."""

    kind: str  # 'points' or 'image'
    channels: int  # point dimensions, or image channels
    size: int = 0  # image side in pixels (0 for points)

    def __post_init__(self):
        if self.kind not in OUTPUT_KINDS:
            raise ValueError(f"output kind must be one of {OUTPUT_KINDS}, got {self.kind!r}")


@runtime_checkable
class Generator(Protocol):
    latent_spec: LatentSpec
    output_spec: OutputSpec

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor: ...

    def feature_layers(self) -> "OrderedDict[str, nn.Module]": ...


@runtime_checkable
class StyleGenerator(Generator, Protocol):
    num_ws: int
    w_dim: int
    w_avg: torch.Tensor

    def mapping(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor: ...

    def synthesis(self, ws: torch.Tensor, noise_mode: str = "const") -> torch.Tensor: ...


def is_style_based(G: nn.Module) -> bool:
    """Whether G has a mapping network and a synthesis network (W space)."""
    return all(hasattr(G, a) for a in ("mapping", "synthesis", "num_ws", "w_avg"))


def mean_latent(G: nn.Module) -> torch.Tensor:
    """The centre of G's latent distribution: w_avg (w_dim,) for a style-based G, else the mean of z
    (zero for the Gaussian and for uniform noise in [-1, 1]; InfoGAN codes included)."""
    if is_style_based(G):
        return G.w_avg.detach().clone()
    return torch.zeros(G.latent_spec.z_dim)

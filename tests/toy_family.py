"""A test-only family: a linear generator of 16x16 grey images and a linear discriminator, registered
with nothing but its registry entry (importing this module registers it as 'toy-linear')."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import nn

from gan_core.models import registry
from gan_core.models.base import ConfigMixin, LatentSpec
from gan_core.models.contract import OutputSpec

NAME = "toy-linear"


@dataclass
class ToyConfig(ConfigMixin):
    z_dim: int = 6  # latent size
    image_size: int = 16  # image side (the digits16 set)
    channels: int = 1  # grey images


class ToyGenerator(nn.Module):
    """x = tanh(W z + b), shaped (B, 1, 16, 16); `c` is ignored."""

    def __init__(self, cfg: ToyConfig):
        super().__init__()
        self.cfg = cfg
        self.latent_spec = LatentSpec(z_dim=cfg.z_dim)
        self.output_spec = OutputSpec("image", cfg.channels, cfg.image_size)
        self.fc = nn.Linear(cfg.z_dim, cfg.channels * cfg.image_size ** 2)
        self.act = nn.Tanh()

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        s = self.cfg.image_size
        return self.act(self.fc(z)).reshape(-1, self.cfg.channels, s, s)

    def feature_layers(self) -> "OrderedDict[str, nn.Module]":
        return OrderedDict(fc=self.fc, act=self.act)


class ToyDiscriminator(nn.Module):
    def __init__(self, cfg: ToyConfig):
        super().__init__()
        self.fc = nn.Linear(cfg.channels * cfg.image_size ** 2, 1)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return self.fc(x.reshape(len(x), -1))


FAMILY = registry.register(registry.Family(NAME, ToyConfig, ToyGenerator, ToyDiscriminator, output="image"))

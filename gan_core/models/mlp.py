"""Multilayer-perceptron generator and discriminator for 2D distributions (as in GAN Lab and PacGAN).

The discriminator optionally takes `pack` samples at once (PacGAN, Lin et al. 2018): its input is the
concatenation of `pack` points, which lets it see the variety of a set and penalise collapse.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import nn

from .base import ConfigMixin, LatentSpec
from .contract import OutputSpec

ACTIVATIONS = ("relu", "leaky_relu", "tanh")


@dataclass
class MLPConfig(ConfigMixin):
    z_dim: int = 2  # noise dimensions (GAN Lab offers 1 or 2)
    noise: str = "gaussian"  # 'gaussian' or 'uniform' in [-1, 1]
    x_dim: int = 2  # data dimensions
    g_hidden: int = 64  # generator width
    g_layers: int = 3  # generator hidden layers
    d_hidden: int = 64  # discriminator width
    d_layers: int = 3  # discriminator hidden layers
    activation: str = "relu"  # generator activation: relu | leaky_relu | tanh
    d_activation: str = "leaky_relu"  # discriminator activation
    pack: int = 1  # PacGAN packing degree (1 = plain discriminator)
    x_scale: float = 1.0  # data scale: G's output is multiplied by it and D's input divided by it

    def __post_init__(self):
        for name in ("activation", "d_activation"):
            if getattr(self, name) not in ACTIVATIONS:
                raise ValueError(f"{name} must be one of {ACTIVATIONS}, got {getattr(self, name)!r}")
        if self.noise not in ("gaussian", "uniform"):
            raise ValueError(f"noise must be 'gaussian' or 'uniform', got {self.noise!r}")
        if not (0 < self.x_scale <= 1000):
            raise ValueError(f"x_scale must be in (0, 1000], got {self.x_scale}")
        for name in ("z_dim", "g_hidden", "g_layers", "d_hidden", "d_layers", "pack"):
            v = getattr(self, name)
            if not (1 <= int(v) <= 1024):
                raise ValueError(f"{name} must be between 1 and 1024, got {v}")


def make_act(name: str) -> nn.Module:
    return {"relu": nn.ReLU(), "leaky_relu": nn.LeakyReLU(0.2), "tanh": nn.Tanh()}[name]


def _stack(n_in: int, hidden: int, layers: int, n_out: int, act: str) -> nn.Sequential:
    mods: list[tuple[str, nn.Module]] = []
    width = n_in
    for i in range(layers):
        mods += [(f"fc{i}", nn.Linear(width, hidden)), (f"act{i}", make_act(act))]
        width = hidden
    mods.append(("out", nn.Linear(width, n_out)))
    return nn.Sequential(OrderedDict(mods))


class MLPGenerator(nn.Module):
    """G(z, c=None): (B, z_dim) -> points (B, x_dim); c is ignored (no conditional MLP)."""

    def __init__(self, cfg: MLPConfig):
        super().__init__()
        self.cfg = cfg
        self.latent_spec = LatentSpec(z_dim=cfg.z_dim, noise=cfg.noise)
        self.output_spec = OutputSpec("points", cfg.x_dim)
        self.net = _stack(cfg.z_dim, cfg.g_hidden, cfg.g_layers, cfg.x_dim, cfg.activation)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        x = self.net(z)  # (B, z_dim) -> (B, x_dim)
        return x * self.cfg.x_scale if self.cfg.x_scale != 1 else x

    def feature_layers(self) -> "OrderedDict[str, nn.Module]":
        return OrderedDict((n, m) for n, m in self.net.named_children() if n.startswith("act"))

    def linears(self) -> list[nn.Linear]:
        return [m for m in self.net if isinstance(m, nn.Linear)]


class MLPDiscriminator(nn.Module):
    def __init__(self, cfg: MLPConfig):
        super().__init__()
        self.cfg = cfg
        self.pack = cfg.pack
        self.net = _stack(cfg.x_dim * cfg.pack, cfg.d_hidden, cfg.d_layers, 1, cfg.d_activation)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        # (B, x_dim) -> (B / pack, 1): consecutive `pack` samples form one discriminator input
        if self.cfg.x_scale != 1:
            x = x / self.cfg.x_scale
        return self.net(x.reshape(-1, x.shape[1] * self.pack))

    def score_points(self, x: torch.Tensor) -> torch.Tensor:
        """D's logit for single points (a packed D sees each point repeated `pack` times)."""
        return self.forward(x.repeat_interleave(self.pack, dim=0)).squeeze(1)  # (N, 2) -> (N,)

    def linears(self) -> list[nn.Linear]:
        return [m for m in self.net if isinstance(m, nn.Linear)]

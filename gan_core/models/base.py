"""Shared generator contract: `G(z, c=None) -> x` and `G.latent_spec` describing what G takes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class LatentSpec:
    """What a generator takes: z of `z_dim` numbers drawn from `noise` ('gaussian' or 'uniform' in [-1, 1]),
    plus optional conditioning: `n_classes` (one-hot label), `n_cat` categorical and `n_cont` continuous codes."""

    z_dim: int
    noise: str = "gaussian"
    n_classes: int = 0
    n_cat: int = 0
    n_cont: int = 0


def sample_latent(spec: LatentSpec, n: int, gen: torch.Generator | None = None,
                  device: torch.device | str = "cpu") -> torch.Tensor:
    """Draw n latents (n, z_dim) from the spec's noise distribution."""
    if spec.noise == "uniform":
        z = torch.rand(n, spec.z_dim, generator=gen) * 2 - 1
    else:
        z = torch.randn(n, spec.z_dim, generator=gen)
    return z.to(device)


class ConfigMixin:
    """Dataclass configs round-trip through plain dicts (checkpoint metadata), rejecting unknown keys."""

    @classmethod
    def from_dict(cls, d: dict):
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown config keys {unknown}")
        return cls(**d)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

"""Shared generator contract: `G(z, c=None) -> x` and `G.latent_spec` describing what G takes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class LatentSpec:
    """What a generator takes: a latent vector of `z_dim` numbers and, for a conditional G, a class label
    (`n_classes` > 0). The vector ends in InfoGAN codes when G has them: first `noise_dim` numbers drawn
    from `noise` ('gaussian' or 'uniform' in [-1, 1]), then a one-hot categorical code of `n_cat` entries
    (a uniformly random category), then `n_cont` continuous codes uniform in [-1, 1]."""

    z_dim: int
    noise: str = "gaussian"
    n_classes: int = 0
    n_cat: int = 0
    n_cont: int = 0

    @property
    def noise_dim(self) -> int:
        return self.z_dim - self.n_cat - self.n_cont

    @property
    def has_codes(self) -> bool:
        return bool(self.n_cat or self.n_cont)


def sample_latent(spec: LatentSpec, n: int, gen: torch.Generator | None = None,
                  device: torch.device | str = "cpu") -> torch.Tensor:
    """Draw n latents (n, z_dim): noise from the spec's distribution, then any InfoGAN codes."""
    if spec.noise == "uniform":
        z = torch.rand(n, spec.noise_dim, generator=gen) * 2 - 1
    else:
        z = torch.randn(n, spec.noise_dim, generator=gen)
    parts = [z]
    if spec.n_cat:
        parts.append(torch.nn.functional.one_hot(torch.randint(spec.n_cat, (n,), generator=gen), spec.n_cat).float())
    if spec.n_cont:
        parts.append(torch.rand(n, spec.n_cont, generator=gen) * 2 - 1)
    return (torch.cat(parts, 1) if len(parts) > 1 else z).to(device)


def split_codes(spec: LatentSpec, z: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """The InfoGAN codes in latents z (n, z_dim): (category index (n,) or None, continuous (n, n_cont) or None)."""
    k = spec.noise_dim
    cat = z[:, k:k + spec.n_cat].argmax(1) if spec.n_cat else None
    cont = z[:, k + spec.n_cat:] if spec.n_cont else None
    return cat, cont


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

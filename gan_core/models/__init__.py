"""Generator and discriminator families. `build(family, config)` makes a (G, D) pair from a config dict."""

from __future__ import annotations

from .base import LatentSpec, sample_latent, split_codes
from .dcgan import DCGANConfig, DCGANDiscriminator, DCGANGenerator
from .mlp import MLPConfig, MLPDiscriminator, MLPGenerator

FAMILIES: dict[str, tuple] = {"mlp": (MLPConfig, MLPGenerator, MLPDiscriminator)}


def register(name: str, cfg_cls, g_cls, d_cls) -> None:
    FAMILIES[name] = (cfg_cls, g_cls, d_cls)


register("dcgan", DCGANConfig, DCGANGenerator, DCGANDiscriminator)


def build(family: str, config: dict):
    """Build (G, D, cfg) for a family from a plain dict (as stored in checkpoints)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown model family {family!r}; known: {', '.join(sorted(FAMILIES))}")
    cfg_cls, g_cls, d_cls = FAMILIES[family]
    cfg = cfg_cls.from_dict(config)
    return g_cls(cfg), d_cls(cfg), cfg


__all__ = ["LatentSpec", "sample_latent", "split_codes", "MLPConfig", "MLPGenerator", "MLPDiscriminator",
           "DCGANConfig", "DCGANGenerator", "DCGANDiscriminator", "build", "FAMILIES"]

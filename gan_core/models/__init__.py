"""Generator and discriminator families. `build(family, config)` makes a (G, D, cfg) triple from a config
dict; the family registry (`models.registry`) says everything else that differs per family, and
`models.contract` what every generator offers."""

from __future__ import annotations

from .base import LatentSpec, sample_latent, split_codes
from .contract import OutputSpec, is_style_based, mean_latent
from .dcgan import DCGANConfig, DCGANDiscriminator, DCGANGenerator
from .mlp import MLPConfig, MLPDiscriminator, MLPGenerator
from .registry import FAMILIES, Family, build, get, output_kind, register

__all__ = ["LatentSpec", "sample_latent", "split_codes", "OutputSpec", "is_style_based", "mean_latent",
           "MLPConfig", "MLPGenerator", "MLPDiscriminator", "DCGANConfig", "DCGANGenerator",
           "DCGANDiscriminator", "build", "get", "output_kind", "register", "Family", "FAMILIES"]

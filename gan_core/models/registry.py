"""The family registry: everything that differs between generator families, in one table.

A family is a config dataclass, a generator and a discriminator built from it, and what the rest of the
code needs to know about it: the kind of output ('points' or 'image'), whether convolutions run
channels-last, which faster engine may train it (the trainer otherwise uses autograd), how many torch
threads a headless run of it uses, and the layer dissection reads by default. Nothing outside this module
compares family names: code asks the registry (`get(name).output`, `engine_for(...)`).

Adding a family: write its module (config, G following `models.contract`, D), then `register(Family(...))`
below or from any module imported before use (tests register a tiny linear family this way).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn

ENGINES = ("fused", "conv", "autograd")


def _no_engine(loss: str, model_cfg, device_type: str, has_codes: bool) -> str:
    return "autograd"


@dataclass(frozen=True)
class Family:
    name: str  # the name stored in configs and checkpoints
    config_cls: type  # dataclass config (ConfigMixin: from_dict rejects unknown keys)
    generator_cls: type  # G(cfg), following models.contract.Generator
    discriminator_cls: type  # D(cfg): D(x, c=None) -> logits (B, 1)
    output: str  # 'points' (2D lab) or 'image'
    channels_last: bool = False  # keep convolution weights and maps NHWC (faster on oneDNN and cuDNN)
    engine: Callable[[str, object, str, bool], str] = _no_engine  # (loss, model cfg, device type, codes) -> engine
    per_sample_d: Callable[[object], bool] = lambda cfg: False  # D judges each sample alone (one joint pass)
    train_threads: int | None = None  # torch threads for a headless run (None: all cores, at most 4)
    default_layer: str | None = None  # the layer dissection reads by default (None: the middle one)

    def build(self, config: dict) -> tuple[nn.Module, nn.Module, object]:
        cfg = self.config_cls.from_dict(config)
        return self.generator_cls(cfg), self.discriminator_cls(cfg), cfg

    @property
    def is_points(self) -> bool:
        return self.output == "points"


FAMILIES: dict[str, Family] = {}


def register(family: Family) -> Family:
    if family.output not in ("points", "image"):
        raise ValueError(f"family {family.name!r}: output must be 'points' or 'image', got {family.output!r}")
    FAMILIES[family.name] = family
    return family


def unregister(name: str) -> None:
    FAMILIES.pop(name, None)


def get(name: str) -> Family:
    """The registered family `name`; ValueError naming the known ones otherwise."""
    fam = FAMILIES.get(name) if isinstance(name, str) else None
    if fam is None:
        raise ValueError(f"unknown model family {str(name)[:40]!r}; known: {', '.join(sorted(FAMILIES))}")
    return fam


def build(name: str, config: dict):
    """(G, D, cfg) for a family from a plain dict (as stored in checkpoints)."""
    return get(name).build(config)


def output_kind(name: str) -> str:
    """'points' or 'image' for a family name."""
    return get(name).output


def names(output: str | None = None) -> list[str]:
    """Registered family names (of one output kind, when given)."""
    return [n for n, f in FAMILIES.items() if output is None or f.output == output]


# ----- the built-in families ------------------------------------------------------------------------------
def _mlp_engine(loss: str, cfg, device_type: str, has_codes: bool) -> str:
    # the fused MLP step has no second derivatives (WGAN-GP) and no Q head
    return "fused" if loss != "wgan-gp" and not has_codes else "autograd"


def _dcgan_per_sample(cfg) -> bool:
    # no BatchNorm and no minibatch-std in D: each sample is judged alone, real and fake go in one pass
    return not cfg.d_batchnorm and not cfg.minibatch_std


def _dcgan_engine(loss: str, cfg, device_type: str, has_codes: bool) -> str:
    # the DCGAN engine saves CPU per-op overhead; WGAN-GP needs second derivatives, CUDA keeps autograd,
    # and G's unit dropout and pixel normalisation are autograd's
    ok = _dcgan_per_sample(cfg) and loss != "wgan-gp" and device_type == "cpu" and not cfg.g_dropout \
        and not cfg.g_pixelnorm
    return "conv" if ok else "autograd"


def _register_builtin() -> None:
    from .dcgan import DCGANConfig, DCGANDiscriminator, DCGANGenerator
    from .mlp import MLPConfig, MLPDiscriminator, MLPGenerator

    register(Family("mlp", MLPConfig, MLPGenerator, MLPDiscriminator, output="points", engine=_mlp_engine,
                    train_threads=1, default_layer="act0"))
    register(Family("dcgan", DCGANConfig, DCGANGenerator, DCGANDiscriminator, output="image",
                    channels_last=True, engine=_dcgan_engine, per_sample_d=_dcgan_per_sample,
                    default_layer="block1"))


_register_builtin()


def _register_style() -> None:
    from .style import StyleConfig, StyleDiscriminator, StyleGenerator

    # D is the DCGAN discriminator with spectral norm and no BatchNorm: each sample is judged alone
    register(Family("style", StyleConfig, StyleGenerator, StyleDiscriminator, output="image", channels_last=True,
                    per_sample_d=lambda cfg: True, default_layer="synthesis_net.convs.conv16_1"))


_register_style()

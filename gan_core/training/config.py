"""The training configuration: one dataclass that, with the model config, rebuilds a run."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .. import losses
from ..data.registry import IMAGE_SETS

EDITABLE_LIVE = ("loss", "optimizer", "lr_d", "lr_g", "beta1", "beta2", "batch_size", "d_steps", "g_steps",
                 "unroll", "g_ema")


@dataclass
class TrainConfig:
    dataset: str = "ring"  # dataset name (2D: ring, grid, spiral, moons, two-gaussians, line)
    family: str = "mlp"  # model family, see gan_core.models.FAMILIES
    model: dict = field(default_factory=dict)  # the family's config (e.g. MLPConfig fields)
    loss: str = "nonsaturating"  # see gan_core.losses.LOSSES
    optimizer: str = "adam"  # adam | sgd
    lr_d: float = 1e-3  # discriminator learning rate
    lr_g: float = 1e-3  # generator learning rate
    beta1: float = 0.5  # Adam beta1
    beta2: float = 0.999  # Adam beta2
    batch_size: int = 128  # real (and fake) samples per step
    d_steps: int = 1  # discriminator updates per generator update (k)
    g_steps: int = 1  # generator updates per round, each on fresh noise against the same D
    unroll: int = 0  # unrolled-D steps for the generator update (Metz et al. 2017), 0 = off
    g_ema: float = 0.0  # exponential moving average of G's weights (0 = off), used for samples/metrics
    lr_final: float = 1.0  # learning rates decay linearly to this fraction at `steps` (1 = constant)
    steps: int = 5000  # length of a headless run
    eval_every: int = 500  # steps between metric evaluations
    eval_samples: int = 2500  # samples per evaluation
    log_every: int = 10  # steps between logged losses
    seed: int = 0
    held_out: float = 0.0  # image sets: fraction of the images never trained on (memorisation checks)

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        losses.check(self.loss)
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"optimizer must be adam or sgd, got {self.optimizer!r}")
        for name in ("lr_d", "lr_g"):
            v = getattr(self, name)
            if not (0 < v <= 10):
                raise ValueError(f"{name} must be in (0, 10], got {v}")
        checks = {"batch_size": (2, 8192), "d_steps": (1, 100), "g_steps": (1, 100), "unroll": (0, 50), "steps": (1, 10**8),
                  "eval_every": (1, 10**8), "eval_samples": (10, 100_000), "log_every": (1, 10**6)}
        for name, (lo, hi) in checks.items():
            v = getattr(self, name)
            if not (lo <= int(v) <= hi) or int(v) != v:
                raise ValueError(f"{name} must be an integer in [{lo}, {hi}], got {v}")
        if not (0 <= self.g_ema < 1):
            raise ValueError(f"g_ema must be in [0, 1), got {self.g_ema}")
        if not (0 < self.lr_final <= 1):
            raise ValueError(f"lr_final must be in (0, 1], got {self.lr_final}")
        if not (0 <= self.held_out <= 0.5):
            raise ValueError(f"held_out must be in [0, 0.5], got {self.held_out}")
        if self.held_out and self.dataset not in IMAGE_SETS:
            raise ValueError(f"held_out applies to the built-in image sets, not to {self.dataset!r}")
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise ValueError("beta1 and beta2 must be in [0, 1)")

    def replace(self, **changes) -> "TrainConfig":
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"unknown training settings: {sorted(unknown)}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"TrainConfig: unknown keys {unknown}")
        return cls(**d)

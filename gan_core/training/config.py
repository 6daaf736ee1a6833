"""The training configuration: one dataclass that, with the model config, rebuilds a run."""

from __future__ import annotations

import dataclasses
import json
import numbers
from dataclasses import dataclass, field

from .. import losses
from . import augment
from ..data.registry import IMAGE_SETS

EDITABLE_LIVE = ("loss", "optimizer", "lr_d", "lr_g", "beta1", "beta2", "batch_size", "d_steps", "g_steps",
                 "unroll", "g_ema")

# Integer settings: (lowest, highest) allowed. The upper bounds sit a little above what the app's sliders
# offer and far above any shipped preset, low enough that no config (typed, sent to the API or read from a
# checkpoint) can ask for minutes of work per step or gigabytes of memory.
RANGES = {
    "batch_size": (2, 4096),  # the 2D slider stops at 1024, image presets use 64; 4096 images of 64 px are ~200 MB
    "d_steps": (1, 20),  # the slider stops at 10: each D step is a full forward/backward pass
    "g_steps": (1, 20),  # likewise for G
    "unroll": (0, 20),  # the slider stops at 10: every unrolled step is an extra D update per round
    "steps": (1, 10**8),  # a headless run's length (the 2D presets run up to 50,000 steps)
    "eval_every": (1, 10**8),  # a value above `steps` means no scheduled evaluation (the benchmark uses 10**8)
    "eval_samples": (10, 20_000),  # samples held at once by an evaluation: 20,000 images of 64 px are ~1 GB
    "log_every": (1, 10_000),  # rows of the loss curves; the NaN guard runs every step regardless
    "seed": (0, 2**32 - 1),  # torch and numpy seeds
    "r1_every": (1, 1000),  # 1 = every D update; StyleGAN2 uses 16
    "pl_every": (1, 1000),  # 1 = every G update; StyleGAN2 uses 4
}


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
    lambda_cat: float = 1.0  # InfoGAN: weight of the categorical code's information term (the paper's lambda)
    lambda_cont: float = 1.0  # InfoGAN: weight of the continuous codes' term (Gaussian negative log-likelihood)
    lambda_cluster: float = 0.0  # InfoGAN: weight of Q's clustering of real images by its category (0 = off)
    lambda_shift: float = 0.0  # InfoGAN: weight of Q reading one category in a real image and in it shifted
    cluster_views: str = "shift"  # what that second reading may change, joined by '+' (losses.VIEWS)
    r1_gamma: float = 0.0  # R1 penalty on D (Mescheder et al. 2018): gamma / 2 x E ||grad D(real)||^2, 0 = off
    r1_every: int = 16  # R1 is applied every this many D updates, weighted by it (lazy regularisation)
    pl_weight: float = 0.0  # style-based G: path-length regularisation weight (StyleGAN2), 0 = off
    pl_every: int = 4  # path-length regularisation every this many G updates, weighted by it
    d_augment: str = ""  # images: DiffAugment of all D's inputs, '' or colour, translation, cutout joined by '+'

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        losses.check(self.loss)
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"optimizer must be adam or sgd, got {self.optimizer!r}")
        for name in ("lr_d", "lr_g", "beta1", "beta2", "g_ema", "lr_final", "held_out", "lambda_cat",
                     "lambda_cont", "lambda_cluster", "lambda_shift", "r1_gamma", "pl_weight"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise ValueError(f"{name} must be a number, got {str(v)[:40]!r}")
        for name in ("lr_d", "lr_g"):
            v = getattr(self, name)
            if not (0 < v <= 10):
                raise ValueError(f"{name} must be in (0, 10], got {v}")
        for name, (lo, hi) in RANGES.items():
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or v != v or not (lo <= v <= hi) \
                    or int(v) != v:
                raise ValueError(f"{name} must be an integer in [{lo}, {hi}], got {str(v)[:40]}")
        if not (0 <= self.g_ema < 1):
            raise ValueError(f"g_ema must be in [0, 1), got {self.g_ema}")
        if not (0 < self.lr_final <= 1):
            raise ValueError(f"lr_final must be in (0, 1], got {self.lr_final}")
        losses.check_views(self.cluster_views)
        augment.check(self.d_augment)
        for name in ("lambda_cat", "lambda_cont", "lambda_cluster", "lambda_shift"):
            if not (0 <= getattr(self, name) <= 100):
                raise ValueError(f"{name} must be in [0, 100], got {getattr(self, name)}")
        for name in ("r1_gamma", "pl_weight"):
            if not (0 <= getattr(self, name) <= 1000):
                raise ValueError(f"{name} must be in [0, 1000], got {getattr(self, name)}")
        if not (0 <= self.held_out <= 0.5):
            raise ValueError(f"held_out must be in [0, 0.5], got {self.held_out}")
        if not isinstance(self.dataset, str) or not 0 < len(self.dataset) <= 100:
            raise ValueError("dataset must be a name of 1 to 100 characters")
        if not isinstance(self.family, str) or not isinstance(self.model, dict):
            raise ValueError("family must be a name and model a dict of the family's settings")
        if self.held_out and self.dataset not in IMAGE_SETS:
            raise ValueError(f"held_out applies to the built-in image sets, not to {self.dataset!r}")
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise ValueError("beta1 and beta2 must be in [0, 1)")

    def replace(self, **changes) -> "TrainConfig":
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"unknown training settings: {sorted(unknown)}")
        return dataclasses.replace(self, **changes)

    def with_changes(self, changes: list[str]) -> "TrainConfig":
        """This config with "KEY=VALUE" changes (the CLI's `train --set`): KEY a training setting or
        model.NAME for one of the family's network settings; VALUE read as JSON, else as text. A
        ValueError names the first bad change."""
        top, model = {}, dict(self.model)
        for item in changes:
            key, eq, text = item.partition("=")
            if not eq or not key:
                raise ValueError(f"changes are KEY=VALUE, got {item[:60]!r}")
            try:
                value = json.loads(text)
            except ValueError:
                value = text
            if key.startswith("model."):
                model[key[6:]] = value
            elif key == "seed":
                raise ValueError("the seed is set on its own (train --seed), not as a change")
            elif key == "model" or key not in {f.name for f in dataclasses.fields(self)}:
                raise ValueError(f"{key!r} is not a training setting (network settings are model.NAME)")
            else:
                top[key] = value
        out = self.replace(model=model, **top)
        from ..models import registry

        family = registry.get(out.family)
        for key in [k for k in model if model[k] != self.model.get(k, object())]:
            try:  # each changed network setting alone, so that the message names it
                family.config_cls.from_dict({**self.model, key: model[key]})
            except (TypeError, ValueError, KeyError) as e:
                raise ValueError(f"model.{key}={str(model[key])[:40]}: {e}") from None
        mcfg = family.config_cls.from_dict(out.model)
        if out.d_augment and (family.is_points or getattr(mcfg, "n_cat", 0) or getattr(mcfg, "n_cont", 0)):
            raise ValueError("d_augment applies to image models without InfoGAN codes")
        if out.pl_weight and not all(hasattr(family.generator_cls, a) for a in ("mapping", "synthesis")):
            raise ValueError(f"pl_weight applies to style-based generators, not to family {out.family!r}")
        return out

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"TrainConfig: unknown keys {unknown}")
        return cls(**d)

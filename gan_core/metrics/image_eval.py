"""Image metrics for a trainer's evaluations, read through the shipped evaluator of its dataset.

digits and shapes use a classifier (class histogram, classes covered, entropy, confident share, FD in its
features with the real-vs-real floor, and for conditional generators the share of samples classified as
the requested class); scenes use a segmenter (FD in its features, per-class pixel shares real against
generated, and the segmenter's held-out mean IoU from its card). `evaluator("shapes-factors")` gives the
shapes factor evaluator (read with classifier.factor_predictions); the trainer's metrics do not use it.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import torch

from ..data import registry
from ..models.evaluators import load_evaluator
from . import classifier as cm

CHECKPOINTS = Path(os.environ.get("GAN_EXPLORER_CHECKPOINTS", Path(__file__).resolve().parents[2] / "checkpoints"))
EVALUATOR_FILES = {"digits": "eval-digits-classifier.safetensors", "shapes": "eval-shapes-classifier.safetensors",
                   "scenes": "eval-scenes-segmenter.safetensors",
                   "shapes-factors": "eval-shapes-factors.safetensors"}  # read by cm.factor_predictions
SEGMENTER_MIOU, CLASS_SHARE_ERR, CLASS_SHARES = "segmenter_miou", "class_share_rel_err", "class_shares"
FD_SAMPLES = 1000


def kind_of(dataset: str) -> str | None:
    """'digits', 'shapes' or 'scenes' for a registry image name (e.g. digits16 -> digits)."""
    entry = registry.IMAGE_SETS.get(dataset)
    return entry[0] if entry else None


@lru_cache(maxsize=8)
def evaluator(kind: str):
    """(model, card) of the shipped evaluator for a dataset kind (or 'shapes-factors'); ValueError when
    missing or broken."""
    path = CHECKPOINTS / EVALUATOR_FILES[kind]
    if not path.exists():
        raise ValueError(f"the evaluator {path.name} is missing from {CHECKPOINTS}; build it with "
                         f"`python -m gan_core.models.evaluators --which {kind}`")
    return load_evaluator(str(path))


def image_metrics(dataset: str, real: torch.Tensor, fake: torch.Tensor, G=None, seed: int = 0) -> dict:
    """All image metrics of `fake` (N, C, H, W) against `real` for the dataset's evaluator."""
    kind = kind_of(dataset)
    if kind is None:
        return {}
    model, card = evaluator(kind)
    fake = fake.float().cpu()
    feats = None if kind == "scenes" else cm.features(model, fake)  # for FD and, through the head, classes
    fd, floor = cm.fd_with_floor(model, real, fake, n=FD_SAMPLES, seed=seed, fake_features=feats)
    out = {cm.FD: fd, cm.FD_FLOOR: floor, "fd_ratio": fd / max(floor, 1e-12)}
    if kind == "scenes":
        table = cm.class_share_table(model, real[:FD_SAMPLES], fake[:FD_SAMPLES])
        out.update({SEGMENTER_MIOU: card["held_out"]["mean_iou"], CLASS_SHARE_ERR: cm.max_share_error(table),
                    CLASS_SHARES: table})
        return out
    with torch.no_grad():
        out.update(cm.histogram_of_logits(model.head(torch.from_numpy(feats).float())))
    if G is not None and G.latent_spec.n_classes:
        out[cm.CONDITIONAL_ACCURACY] = cm.conditional_accuracy(model, G, n_per_class=100, seed=seed)
    return out


def metric_fn_for(dataset: str):
    """A Trainer.metric_fn: evaluates the samples the trainer drew, with the EMA generator when on."""
    if kind_of(dataset) is None:
        return None
    real = registry.image_dataset(dataset).images

    def fn(trainer, fake: torch.Tensor) -> dict:
        with trainer.ema_weights(True):
            return image_metrics(dataset, real, fake, G=trainer.G)

    return fn

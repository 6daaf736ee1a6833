"""Training on uploaded images: the training config for a set of uploads, and trainers continuing from a
checkpoint of uploaded images (checkpoints do not store the images, so the visitor uploads them again)."""

from __future__ import annotations

from .. import checkpoint
from ..data.source import ImageSource
from . import presets
from .config import TrainConfig
from .trainer import Trainer, trainer_from_checkpoint

UPLOAD_PRESET = "shapes-dcgan"  # settings for uploads: the DCGAN paper's recipe (Adam 2e-4, beta1 0.5)


def upload_config(name: str, size: int, channels: int) -> TrainConfig:
    """A DCGAN training config for uploaded images named `name`, of `size` pixels and `channels` channels."""
    base = presets.get(UPLOAD_PRESET).config
    model = {"image_size": size, "channels": channels, "z_dim": 32 if size <= 16 else 64, "g_base": 32,
             "d_base": 32}
    return base.replace(dataset=name, model=model, held_out=0.0)  # uploads are all trained on


def fits_upload(ckpt: checkpoint.Checkpoint, source: ImageSource | None) -> bool:
    """Whether `source` holds images of the name, size and colour the checkpoint was trained on."""
    spec = ckpt.G.output_spec
    return (source is not None and source.name == ckpt.train_config.dataset
            and source.dataset.size == spec.size and source.dataset.channels == spec.channels)


def restore_on(ckpt: checkpoint.Checkpoint, source: ImageSource, device) -> Trainer:
    """A trainer on `source` (uploaded images, which checkpoints do not store) that continues from `ckpt`."""
    return trainer_from_checkpoint(ckpt, device=device, data=source)

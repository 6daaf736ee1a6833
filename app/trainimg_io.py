"""Files for the Train (images) tab: the shipped image checkpoints on offer, visitors' uploaded images
(read through the guarded loaders of gan_core.data.files) and trainers continuing from checkpoints of
uploaded images, which checkpoints do not store."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path

import torch

from gan_core import checkpoint, models
from gan_core.data import files
from gan_core.data.images import ImageDataset
from gan_core.data.source import ImageSource
from gan_core.training import presets
from gan_core.training.config import TrainConfig
from gan_core.training.trainer import Trainer, trainer_from_checkpoint

UPLOAD_PRESET = "shapes-dcgan"  # training settings for uploaded images: the DCGAN paper's recipe (Adam 2e-4, beta1 0.5)


def shipped_image_checkpoints(folder: Path) -> list[tuple[str, str]]:
    """(label, file name) of the image generator checkpoints in `folder`: readable, not of the 2D family
    'mlp', and not an evaluator (`eval-*`). Labels name the preset (from the model card) and the step."""
    found = []
    for p, meta in checkpoint.readable(folder):
        path = Path(p)
        if meta["family"] == "mlp" or meta["family"] not in models.FAMILIES:
            continue
        preset = presets.PRESETS.get(_card(path).get("preset", path.stem))
        title = preset.title if preset is not None else path.stem
        found.append((f"{title} ({meta['dataset']}, step {meta['step']})", path.name))
    return found


def _card(path: Path) -> dict:
    """The model card beside a checkpoint ({} when missing or unreadable)."""
    try:
        with open(path.with_suffix(".json")) as f:
            card = json.load(f)
    except (OSError, ValueError):
        return {}
    return card if isinstance(card, dict) else {}


def load_uploads(paths: list[str], size: int, channels: int) -> ImageDataset:
    """Uploaded zips and PNG/JPEG files -> one dataset, through the guarded loaders of gan_core.data.files
    (which refuse unsafe zip paths, zip bombs, oversized and fake images with a DataError)."""
    if not paths:
        raise files.DataError("no files were uploaded")
    if len(paths) > files.MAX_IMAGES:
        raise files.DataError(f"{len(paths):,} files, over the limit of {files.MAX_IMAGES:,} images")
    total = sum(os.path.getsize(p) for p in paths)
    if total > files.MAX_TOTAL_BYTES:
        raise files.DataError(f"the files take {total / 1e6:.1f} MB, over the limit of "
                              f"{files.MAX_TOTAL_BYTES / 1e6:.1f} MB")
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", Path(paths[0]).stem).strip("-")[:40] or "images"
    name = f"upload-{stem}"
    zips = [p for p in paths if p.lower().endswith(".zip")]
    if len(zips) == 1 and len(paths) == 1:  # one zip keeps its folder labels
        return dataclasses.replace(files.load_image_zip(zips[0], size, channels), name=name)
    parts = [files.load_image_zip(p, size, channels).images if p.lower().endswith(".zip")
             else files.load_image_file(p, size, channels)[None] for p in paths]
    images = torch.cat(parts)
    if len(images) > files.MAX_IMAGES:
        raise files.DataError(f"{len(images):,} images, over the limit of {files.MAX_IMAGES:,}")
    meta = {"source": "upload", "size": size, "channels": channels, "n_files": len(paths)}
    return ImageDataset(name, images, None, [], meta=meta)


def upload_config(name: str, size: int, channels: int) -> TrainConfig:
    """A DCGAN training config for uploaded images of `size` pixels and `channels` channels."""
    base = presets.get(UPLOAD_PRESET).config
    model = {"image_size": size, "channels": channels, "z_dim": 32 if size <= 16 else 64, "g_base": 32,
             "d_base": 32}
    return base.replace(dataset=name, model=model, held_out=0.0)  # uploads are all trained on


def restore_on(ckpt: checkpoint.Checkpoint, source: ImageSource, device) -> Trainer:
    """A trainer on `source` (uploaded images, which checkpoints do not store) that continues from `ckpt`."""
    return trainer_from_checkpoint(ckpt, device=device, data=source)

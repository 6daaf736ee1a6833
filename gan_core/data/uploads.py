"""Visitors' uploaded images as one dataset: zips and PNG/JPEG files read through the guarded loaders of
gan_core.data.files (which refuse unsafe zip paths, zip bombs, oversized and fake images with a
DataError), within the limits on file count, total size and image count."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import torch

from . import files
from .images import ImageDataset


def upload_name(paths: list[str]) -> str:
    """'upload-<stem of the first file>', reduced to safe characters."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", Path(paths[0]).stem).strip("-")[:40] or "images"
    return f"upload-{stem}"


def check_limits(paths: list[str]) -> None:
    """DataError when there are no files, too many, or too many bytes in all."""
    if not paths:
        raise files.DataError("no files were uploaded")
    if len(paths) > files.MAX_IMAGES:
        raise files.DataError(f"{len(paths):,} files, over the limit of {files.MAX_IMAGES:,} images")
    total = sum(os.path.getsize(p) for p in paths)
    if total > files.MAX_TOTAL_BYTES:
        raise files.DataError(f"the files take {total / 1e6:.1f} MB, over the limit of "
                              f"{files.MAX_TOTAL_BYTES / 1e6:.1f} MB")


def _file_pixels(paths: list[str]) -> int:
    """The summed pixels the image files' headers declare (nothing decoded), within the upload's budget."""
    total = 0
    for p in paths:
        with open(p, "rb") as f:
            head = f.read(files.MAX_FILE_BYTES + 1)
        total += files.header_pixels(head, Path(p).name)
        files.check_pixel_budget(total, files.MAX_UPLOAD_PIXELS)
    return total


def load_uploads(paths: list[str], size: int, channels: int) -> ImageDataset:
    """Uploaded zips and PNG/JPEG files -> one dataset of `size` px images with `channels` channels. One
    zip alone keeps its folder labels; anything else is unlabelled."""
    check_limits(paths)
    name = upload_name(paths)
    zips = [p for p in paths if p.lower().endswith(".zip")]
    if len(zips) == 1 and len(paths) == 1:  # one zip keeps its folder labels
        return dataclasses.replace(files.load_image_zip(zips[0], size, channels), name=name)
    budget = files.MAX_UPLOAD_PIXELS - _file_pixels([p for p in paths if p not in zips])
    parts = [files.load_image_file(p, size, channels)[None] for p in paths if p not in zips]
    for p in zips:  # each zip counts its headers against what is left of the upload's pixel budget
        ds = files.load_image_zip(p, size, channels, max_total_pixels=budget)
        budget -= ds.meta["pixels"]
        parts.append(ds.images)
    images = torch.cat(parts)  # (N, C, H, W)
    if len(images) > files.MAX_IMAGES:
        raise files.DataError(f"{len(images):,} images, over the limit of {files.MAX_IMAGES:,}")
    meta = {"source": "upload", "size": size, "channels": channels, "n_files": len(paths)}
    return ImageDataset(name, images, None, [], meta=meta)

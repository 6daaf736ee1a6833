"""MNIST-format IDX files (images and labels, plain or gzip), with size limits and header checks."""

from __future__ import annotations

import gzip
import io
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .image_files import MAX_TOTAL_BYTES, DataError, _check_args, _mb, _read_file
from .images import ImageDataset

_IDX_IMAGES, _IDX_LABELS = 0x00000803, 0x00000801


def _read_idx_bytes(path: Path, max_bytes: int) -> bytes:
    """The raw IDX bytes, gunzipped when the file is gzip (by name or magic), with a size limit."""
    raw = _read_file(path, max_bytes)
    if not (path.suffix == ".gz" or raw[:2] == b"\x1f\x8b"):
        return raw
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as g:
            data = g.read(max_bytes + 1)
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path.name}: broken gzip data ({e})") from None
    if len(data) > max_bytes:
        raise DataError(f"{path.name}: unpacks to more than {_mb(max_bytes)}; refused")
    return data


def _parse_idx(data: bytes, name: str, magic: int, ndim: int) -> np.ndarray:
    """Validate an unsigned-byte IDX file's magic, dims and length; return its (dims) uint8 array."""
    what = "images (0x00000803)" if magic == _IDX_IMAGES else "labels (0x00000801)"
    if len(data) < 4 + 4 * ndim:
        raise DataError(f"{name}: too short for an IDX header ({len(data)} bytes)")
    found = struct.unpack(">I", data[:4])[0]
    if found != magic:
        raise DataError(f"{name}: wrong IDX magic number 0x{found:08x}; expected unsigned-byte {what}")
    dims = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    if 0 in dims:
        raise DataError(f"{name}: IDX header has an empty dimension {dims}")
    expected = 4 + 4 * ndim + math.prod(dims)
    if len(data) != expected:
        shape = "x".join(str(d) for d in dims)
        kind = "truncated" if len(data) < expected else "has trailing bytes"
        raise DataError(f"{name}: file length {len(data):,} does not match its header ({shape} needs "
                        f"{expected:,} bytes): {kind}")
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _resize_tensor(x: torch.Tensor, size: int) -> torch.Tensor:
    """(N, C, H, W) -> shorter side `size`, centre-cropped square, antialiased bilinear."""
    h, w = x.shape[-2:]
    m = min(h, w)
    top, left = (h - m) // 2, (w - m) // 2
    x = x[..., top:top + m, left:left + m]
    if m != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return x.clamp(-1.0, 1.0)


def load_idx(images_path: str | os.PathLike, labels_path: str | os.PathLike | None = None,
             size: int | None = None, max_images: int = 100_000,
             max_total_bytes: int = MAX_TOTAL_BYTES) -> ImageDataset:
    """MNIST-format IDX images (and optional labels), plain or .gz -> 1-channel dataset in [-1, 1].

    `size` None keeps the native size; otherwise images are resized (shorter side) and centre-cropped.
    """
    ipath = Path(images_path)
    arr = _parse_idx(_read_idx_bytes(ipath, max_total_bytes), ipath.name, _IDX_IMAGES, 3)
    if len(arr) > max_images:
        raise DataError(f"{ipath.name}: {len(arr):,} images, over the limit of {max_images:,}")
    x = torch.from_numpy(arr.astype(np.float32))[:, None] / 127.5 - 1.0
    if size is not None:
        _check_args(size, 1)
        x = _resize_tensor(x, size)
    labels, class_names = None, []
    if labels_path is not None:
        lpath = Path(labels_path)
        lab = _parse_idx(_read_idx_bytes(lpath, max_total_bytes), lpath.name, _IDX_LABELS, 1)
        if len(lab) != len(arr):
            raise DataError(f"{lpath.name}: {len(lab):,} labels for {len(arr):,} images in {ipath.name}")
        labels = torch.from_numpy(lab.astype(np.int64))
        class_names = [str(i) for i in range(int(lab.max()) + 1)]
    stem = ipath.name.removesuffix(".gz")
    meta = {"source": f"idx:{ipath.name}", "size": int(x.shape[-1]), "channels": 1,
            "native_size": tuple(arr.shape[1:])}
    return ImageDataset(stem, x.contiguous(), labels, class_names, meta=meta)

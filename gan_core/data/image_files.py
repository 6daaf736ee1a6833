"""One image file: the limits every user-data loader enforces, `DataError`, and the guarded decoding of a
PNG or JPEG (header checked against the pixel limit before any pixel data is decoded; resized so the
shorter side is `size`, centre-cropped to a square, converted to grey ('L') or RGB and scaled to [-1, 1]).
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

MAX_IMAGES = 20_000
MAX_TOTAL_BYTES = 200 * 1024 * 1024
MAX_PIXELS = 4096 * 4096
MAX_FILE_BYTES = 64 * 1024 * 1024  # one uploaded image
MAX_RATIO = 200  # largest accepted uncompressed/compressed size ratio of a zip entry
MAX_DEPTH = 2  # subfolder levels searched below the top
# summed pixels of all images of one upload, read from their headers before anything is decoded: about
# 2,000 photos of 224 x 224, or 100,000 of 32 x 32; decoding that much takes about a second here
MAX_UPLOAD_PIXELS = 100_000_000
IMAGE_EXTS = (".png", ".jpg", ".jpeg")
FORMATS = ("PNG", "JPEG")

if Image.MAX_IMAGE_PIXELS is None:  # keep PIL's own decompression-bomb guard switched on
    Image.MAX_IMAGE_PIXELS = 2 * MAX_PIXELS


class DataError(ValueError):
    """User data that cannot be used; the message says why, in one line."""


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"



def _open_checked(data: bytes, name: str, max_pixels: int) -> Image.Image:
    """Open an image lazily (header only), refusing non-images and oversized ones before decoding."""
    try:
        img = Image.open(io.BytesIO(data), formats=FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DataError(f"{name}: the image is too large (over {max_pixels:,} pixels)") from None
    except UnidentifiedImageError:
        raise DataError(f"{name}: not a PNG or JPEG image (cannot read it as one)") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error) as e:
        raise DataError(f"{name}: corrupt image header ({e})") from None
    w, h = img.size
    if w < 1 or h < 1:
        raise DataError(f"{name}: the image has no pixels ({w}x{h})")
    if w * h > max_pixels:
        raise DataError(f"{name}: the image is too large ({w}x{h} = {w * h:,} pixels; "
                        f"the limit is {max_pixels:,})")
    return img


def header_pixels(data: bytes, name: str, max_pixels: int = MAX_PIXELS) -> int:
    """The pixel count an image's header declares (nothing is decoded); DataError for non-images and
    images over `max_pixels`."""
    w, h = _open_checked(data, name, max_pixels).size
    return w * h


def check_pixel_budget(total: int, budget: int) -> None:
    """DataError when an upload's images hold more than `budget` pixels in all."""
    if total > budget:
        raise DataError(f"the images hold {total:,} pixels in all, over the limit of {budget:,} for one "
                        "upload; upload fewer or smaller images")


def _to_mode(img: Image.Image, channels: int) -> Image.Image:
    """Convert to 'L' or 'RGB'; 16-bit and float greys are rescaled to 8 bits, alpha is dropped."""
    if img.mode.startswith("I") or img.mode == "F":
        a = np.asarray(img, dtype=np.float64)
        a = a / 257.0 if a.max(initial=0) > 255 else a
        img = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "L")
    if img.mode == "P" or img.mode.endswith("A"):
        img = img.convert("RGBA")
    return img.convert("L" if channels == 1 else "RGB")


def _resize_crop(img: Image.Image, size: int) -> Image.Image:
    """Resize so the shorter side is `size`, centre-cropping the longer side."""
    w, h = img.size
    m = min(w, h)
    left, top = (w - m) // 2, (h - m) // 2
    if m != w or m != h:
        img = img.crop((left, top, left + m, top + m))
    return img.resize((size, size), Image.Resampling.BICUBIC, reducing_gap=3.0)


def _decode(data: bytes, name: str, size: int, channels: int, max_pixels: int) -> torch.Tensor:
    """Bytes of one image -> (C, size, size) float32 in [-1, 1], or DataError naming `name`."""
    img = _open_checked(data, name, max_pixels)
    try:
        if img.format == "JPEG":
            img.draft("L" if channels == 1 else "RGB", (size, size))  # fast DCT-domain downscaling
        img.seek(0)
        img.load()
        img = _resize_crop(_to_mode(img, channels), size)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DataError(f"{name}: the image is too large (over {max_pixels:,} pixels)") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error) as e:
        raise DataError(f"{name}: truncated or corrupt image ({e})") from None
    a = np.asarray(img, dtype=np.float32)
    a = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(a / 127.5 - 1.0))


def _check_args(size: int, channels: int) -> None:
    if channels not in (1, 3):
        raise DataError(f"channels must be 1 (grey) or 3 (RGB), not {channels}")
    if not 4 <= size <= 512:
        raise DataError(f"image size must be between 4 and 512 pixels, not {size}")


def load_image_file(path_or_bytes: str | os.PathLike | bytes, size: int = 32, channels: int = 3,
                    max_pixels: int = MAX_PIXELS, max_bytes: int = MAX_FILE_BYTES) -> torch.Tensor:
    """One uploaded PNG/JPEG (a path or its bytes) -> (C, size, size) float32 in [-1, 1]."""
    _check_args(size, channels)
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        data, name = bytes(path_or_bytes), "uploaded image"
        if len(data) > max_bytes:
            raise DataError(f"{name}: the file is too large ({_mb(len(data))}; "
                            f"the limit is {_mb(max_bytes)})")
    else:
        path = Path(path_or_bytes)
        name = path.name
        data = _read_file(path, max_bytes)
    return _decode(data, name, size, channels, max_pixels)


def _read_file(path: Path, max_bytes: int) -> bytes:
    if not path.is_file():
        raise DataError(f"{path.name}: no such file")
    n = path.stat().st_size
    if n > max_bytes:
        raise DataError(f"{path.name}: the file is too large ({_mb(n)}; the limit is {_mb(max_bytes)})")
    with open(path, "rb") as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise DataError(f"{path.name}: the file grew past {_mb(max_bytes)} while reading")
    return data

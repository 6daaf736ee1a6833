"""User image data: folders of images, zip archives, single uploaded images and MNIST-format IDX files.

Every loader enforces limits (image count, total bytes, pixels per image) and turns any problem into a
`DataError` with a one-line message that names the file. Zip archives are read in memory, never
extracted: entries with absolute or '..' paths are refused, as are zip bombs (declared total size over
the limit, a compression ratio over `MAX_RATIO`, or more bytes read than declared or allowed). Image
headers are checked against the pixel limit before any pixel data is decoded. Images are resized so the
shorter side is `size`, centre-cropped to a square, converted to grey ('L') or RGB and scaled to [-1, 1].
Folders and zips: images may sit at the top or in subfolders up to 2 levels deep; when every image lies
in a subfolder, the first subfolder name is its class label (a single wrapping folder is ignored).
"""

from __future__ import annotations

import gzip
import io
import math
import os
import re
import struct
import zipfile
import zlib
from pathlib import Path, PurePosixPath

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

from .images import ImageDataset

MAX_IMAGES = 20_000
MAX_TOTAL_BYTES = 200 * 1024 * 1024
MAX_PIXELS = 4096 * 4096
MAX_FILE_BYTES = 64 * 1024 * 1024  # one uploaded image
MAX_RATIO = 200  # largest accepted uncompressed/compressed size ratio of a zip entry
MAX_DEPTH = 2  # subfolder levels searched below the top
IMAGE_EXTS = (".png", ".jpg", ".jpeg")
FORMATS = ("PNG", "JPEG")
_READ_CHUNK = 1 << 20

_JUNK_FILES = {"Thumbs.db", "desktop.ini"}

if Image.MAX_IMAGE_PIXELS is None:  # keep PIL's own decompression-bomb guard switched on
    Image.MAX_IMAGE_PIXELS = 2 * MAX_PIXELS


class DataError(ValueError):
    """User data that cannot be used; the message says why, in one line."""


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


# ---------------------------------------------------------------------------------------------- images


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


# ---------------------------------------------------------------------------------- folders and zips


def _is_hidden(parts: tuple[str, ...]) -> bool:
    return any(p.startswith(".") or p == "__MACOSX" for p in parts) or parts[-1] in _JUNK_FILES


def _folder_labels(relpaths: list[tuple[str, ...]]) -> list[str] | None:
    """Each image's first folder name (after one common wrapping folder), or None if some have none."""
    if relpaths and all(len(p) > 1 for p in relpaths) and len({p[0] for p in relpaths}) == 1:
        relpaths = [p[1:] for p in relpaths]
    if relpaths and all(len(p) > 1 for p in relpaths):
        return [p[0] for p in relpaths]
    return None


def _assemble(name: str, tensors: list[torch.Tensor], folders: list[str] | None, meta: dict) -> ImageDataset:
    images = torch.stack(tensors)
    if folders is None:
        return ImageDataset(name, images, None, [], meta=meta)
    class_names = sorted(set(folders))
    index = {c: i for i, c in enumerate(class_names)}
    labels = torch.tensor([index[f] for f in folders], dtype=torch.int64)
    return ImageDataset(name, images, labels, class_names, meta=meta)


def _check_count(n: int, where: str, max_images: int) -> None:
    if n == 0:
        raise DataError(f"{where}: no PNG or JPEG images found")
    if n > max_images:
        raise DataError(f"{where}: {n:,} images, over the limit of {max_images:,}")


def _scan_folder(root: Path) -> tuple[list[Path], list[Path]]:
    """Files up to MAX_DEPTH levels below root (no symlinks, no hidden files): (files, too_deep)."""
    files: list[Path] = []
    deep: list[Path] = []
    stack: list[tuple[Path, int]] = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        with os.scandir(folder) as it:
            for entry in it:
                if _is_hidden((entry.name,)) or entry.is_symlink():
                    continue
                if entry.is_dir():
                    if depth < MAX_DEPTH:
                        stack.append((Path(entry.path), depth + 1))
                    else:
                        deep.append(Path(entry.path))
                elif entry.is_file():
                    files.append(Path(entry.path))
    return sorted(files), deep


def load_image_folder(path: str | os.PathLike, size: int = 32, channels: int = 1,
                      max_images: int = MAX_IMAGES, max_total_bytes: int = MAX_TOTAL_BYTES,
                      max_pixels: int = MAX_PIXELS) -> ImageDataset:
    """PNG/JPEG images in a folder (and its subfolders, 2 levels deep); any other file is refused."""
    _check_args(size, channels)
    root = Path(path)
    if not root.is_dir():
        raise DataError(f"{root.name or root}: not a folder")
    files, deep = _scan_folder(root)
    for f in files:
        if f.suffix.lower() not in IMAGE_EXTS:
            raise DataError(f"{f.relative_to(root)}: not a PNG or JPEG image (by its name); remove it")
    _check_count(len(files), root.name, max_images)
    total = sum(f.stat().st_size for f in files)
    if total > max_total_bytes:
        raise DataError(f"{root.name}: the images take {_mb(total)}, "
                        f"over the limit of {_mb(max_total_bytes)}")
    folders = _folder_labels([f.relative_to(root).parts for f in files])
    tensors = []
    for f in files:
        tensors.append(_decode(_read_file(f, max_total_bytes), str(f.relative_to(root)), size, channels,
                               max_pixels))
    meta = {"source": f"folder:{root.name}", "size": size, "channels": channels, "n_files": len(files),
            "ignored_deeper_folders": len(deep)}
    return _assemble(root.name, tensors, folders, meta)


_DRIVE = re.compile(r"^[A-Za-z]:")


def _safe_parts(name: str) -> tuple[str, ...]:
    """The path parts of a zip entry name; DataError if it is absolute or walks up with '..'."""
    norm = name.replace("\\", "/")
    if norm.startswith("/") or _DRIVE.match(norm) or any(p == ".." for p in norm.split("/")):
        raise DataError(f"zip entry {name!r} has an unsafe path (absolute or with '..'); archive refused")
    return tuple(p for p in PurePosixPath(norm).parts if p not in ("", "."))


_Entries = list[tuple[zipfile.ZipInfo, tuple[str, ...]]]


def _zip_entries(zf: zipfile.ZipFile, max_images: int, max_total_bytes: int) -> _Entries:
    """The image entries to read, after every path, type and zip-bomb check (nothing is read yet).

    Entries more than MAX_DEPTH folders below a wrapping top folder are ignored.
    """
    infos = zf.infolist()
    if len(infos) > 4 * max_images + 1000:
        raise DataError(f"the zip lists {len(infos):,} entries, far over the limit of {max_images:,} images")
    keep = []
    for info in infos:
        parts = _safe_parts(info.filename)
        if info.is_dir() or not parts or _is_hidden(parts):
            continue
        if len(parts) - 1 > MAX_DEPTH + 1:  # one wrapping folder plus MAX_DEPTH levels
            continue
        if PurePosixPath(parts[-1]).suffix.lower() not in IMAGE_EXTS:
            raise DataError(f"{info.filename}: not a PNG or JPEG image (by its name); remove it from the zip")
        if info.flag_bits & 0x1:
            raise DataError(f"{info.filename}: encrypted zip entries are not supported")
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > MAX_RATIO and info.file_size > 1024:
            raise DataError(f"{info.filename}: compression ratio {ratio:.0f}:1 looks like a zip bomb "
                            f"(the limit is {MAX_RATIO}:1); archive refused")
        keep.append((info, parts))
    _check_count(len(keep), "the zip", max_images)
    total = sum(info.file_size for info, _ in keep)
    if total > max_total_bytes:
        raise DataError(f"the zip would unpack to {_mb(total)}, over the limit of {_mb(max_total_bytes)}")
    return keep


def _read_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> bytes:
    """Read one entry in chunks, never more than its declared size or the remaining byte budget."""
    limit = min(info.file_size, budget)
    buf = bytearray()
    try:
        with zf.open(info) as f:
            while True:
                chunk = f.read(min(_READ_CHUNK, limit + 1 - len(buf)))
                if not chunk:
                    break
                buf += chunk
                if len(buf) > limit:
                    raise DataError(f"{info.filename}: holds more data than declared or allowed; "
                                    "archive refused")
    except DataError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as e:
        raise DataError(f"{info.filename}: cannot be read from the zip ({e})") from None
    return bytes(buf)


def load_image_zip(path: str | os.PathLike | bytes, size: int = 32, channels: int = 1,
                   max_images: int = MAX_IMAGES, max_total_bytes: int = MAX_TOTAL_BYTES,
                   max_pixels: int = MAX_PIXELS) -> ImageDataset:
    """PNG/JPEG images in a zip archive (a path or its bytes), read in memory; never extracted."""
    _check_args(size, channels)
    is_bytes = isinstance(path, (bytes, bytearray))
    label = "uploaded zip" if is_bytes else Path(path).name
    try:
        zf = zipfile.ZipFile(io.BytesIO(path) if is_bytes else path)
    except FileNotFoundError:
        raise DataError(f"{label}: no such file") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as e:
        raise DataError(f"{label}: not a readable zip archive ({e})") from None
    with zf:
        entries = _zip_entries(zf, max_images, max_total_bytes)
        folders = _folder_labels([parts for _, parts in entries])
        tensors, used = [], 0
        for info, _ in entries:
            data = _read_entry(zf, info, max_total_bytes - used)
            used += len(data)
            tensors.append(_decode(data, info.filename, size, channels, max_pixels))
    meta = {"source": f"zip:{label}", "size": size, "channels": channels, "n_files": len(entries),
            "bytes_read": used}
    return _assemble(Path(label).stem, tensors, folders, meta)


# ------------------------------------------------------------------------------------------------ IDX

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

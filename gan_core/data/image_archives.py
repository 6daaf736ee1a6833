"""Many images at once: a folder (and its subfolders) or a zip archive, read in memory and never extracted.

Zip entries with absolute or '..' paths are refused, as are zip bombs (declared total size over the limit,
a compression ratio over `MAX_RATIO`, or more bytes read than declared or allowed). Images may sit at the
top or in subfolders up to 2 levels deep; when every image lies in a subfolder, the first subfolder name
is its class label (a single wrapping folder is ignored).
"""

from __future__ import annotations

import io
import os
import re
import zipfile
import zlib
from pathlib import Path, PurePosixPath

import torch

from .image_files import (IMAGE_EXTS, MAX_DEPTH, MAX_IMAGES, MAX_PIXELS, MAX_RATIO, MAX_TOTAL_BYTES,
                          MAX_UPLOAD_PIXELS, DataError, _check_args, _decode, _mb, _read_file,
                          check_pixel_budget, header_pixels)
from .images import ImageDataset

_READ_CHUNK = 1 << 20
_EOCD = b"PK\x05\x06"  # a zip's end-of-central-directory record


def declared_entries(path: str | os.PathLike | bytes) -> int | None:
    """The entry count a zip's end record declares, read from the file's last 64 KB before its whole
    directory is parsed (None when no end record is found there)."""
    if isinstance(path, (bytes, bytearray)):
        tail = bytes(path[-(65536 + 22):])
    else:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - (65536 + 22)))
            tail = f.read()
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) < at + 12:
        return None
    return int.from_bytes(tail[at + 10:at + 12], "little")


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return info.create_system == 3 and (info.external_attr >> 16) & 0o170000 == 0o120000
_JUNK_FILES = {"Thumbs.db", "desktop.ini"}

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
        if _is_symlink(info):
            raise DataError(f"{info.filename}: a symbolic link in the zip; archive refused")
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
                   max_pixels: int = MAX_PIXELS, max_total_pixels: int = MAX_UPLOAD_PIXELS) -> ImageDataset:
    """PNG/JPEG images in a zip archive (a path or its bytes), read in memory; never extracted. The entry
    count the archive declares is checked before its directory is parsed, and the summed pixels of the
    images' headers before any image is decoded."""
    _check_args(size, channels)
    is_bytes = isinstance(path, (bytes, bytearray))
    label = "uploaded zip" if is_bytes else Path(path).name
    try:
        declared = declared_entries(path)
        if declared is not None and declared > 4 * max_images + 1000:
            raise DataError(f"{label}: the zip declares {declared:,} entries, far over the limit of "
                            f"{max_images:,} images")
        zf = zipfile.ZipFile(io.BytesIO(path) if is_bytes else path)
    except FileNotFoundError:
        raise DataError(f"{label}: no such file") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as e:
        if isinstance(e, DataError):
            raise
        raise DataError(f"{label}: not a readable zip archive ({e})") from None
    with zf:
        entries = _zip_entries(zf, max_images, max_total_bytes)
        folders = _folder_labels([parts for _, parts in entries])
        blobs, used, pixels = [], 0, 0
        for info, _ in entries:  # read and count every header first: nothing decoded yet
            data = _read_entry(zf, info, max_total_bytes - used)
            used += len(data)
            pixels += header_pixels(data, info.filename, max_pixels)
            check_pixel_budget(pixels, max_total_pixels)
            blobs.append(data)
    tensors = [_decode(d, info.filename, size, channels, max_pixels) for d, (info, _) in zip(blobs, entries)]
    meta = {"source": f"zip:{label}", "size": size, "channels": channels, "n_files": len(entries),
            "bytes_read": used, "pixels": pixels}
    return _assemble(Path(label).stem, tensors, folders, meta)

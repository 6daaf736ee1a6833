"""Hostile files for the hostile-input suite: decompression and zip bombs, traversal and symlink
entries, renamed files, pickles, lying safetensors headers, huge checkpoint configs, bad CSV."""

from __future__ import annotations

import io
import json
import pickle
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def png_header(width: int, height: int, mode: int = 0) -> bytes:
    """A PNG whose header claims width x height pixels (grey), with almost no data behind it."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, mode, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


def blank_png(size: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.zeros((size, size), np.uint8)).save(buf, format="PNG", compress_level=9)
    return buf.getvalue()


def write_zip(path: Path, entries: dict, symlinks: tuple = ()) -> str:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(zipfile.ZipInfo(name), data, compress_type=zipfile.ZIP_DEFLATED)
        for name in symlinks:  # a symbolic link entry (unix mode 0o120777) pointing outside
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (0o120777 << 16)
            z.writestr(info, "/etc/passwd")
    return str(path)


def zip_bomb(path: Path) -> str:
    """One entry that inflates to 200 MB of zeros from a few hundred KB."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("bomb.png", b"\0" * (200 * 2**20))
    return str(path)


def many_large_pngs(path: Path, n: int = 300, size: int = 4096) -> str:
    """n blank size x size PNGs in one small zip: billions of pixels to decode."""
    png = blank_png(size)
    return write_zip(path, {f"img{i}.png": png for i in range(n)})


def pickle_named_safetensors(path: Path) -> str:
    path.write_bytes(pickle.dumps({"G": [1, 2, 3]}))
    return str(path)


def lying_safetensors(path: Path) -> str:
    """A header that says one tensor holds 10^12 floats at offsets far past the end of the file."""
    header = {"G.net.fc0.weight": {"dtype": "F32", "shape": [1000000, 1000000], "data_offsets": [0, 4 * 10**12]},
              "__metadata__": {"format_version": "1", "family": "mlp"}}
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * 16)
    return str(path)


def huge_config_checkpoint(path: Path, family: str = "mlp") -> str:
    """A real safetensors file (tiny) whose config claims 1,024 layers of width 1,024."""
    from safetensors.torch import save_file
    import torch

    model = {"g_hidden": 1024, "g_layers": 1024, "d_hidden": 1024, "d_layers": 1024}
    train = {"dataset": "ring", "family": family, "model": model}
    meta = {"format_version": "1", "family": family, "model_config": json.dumps(model),
            "train_config": json.dumps(train), "step": "0", "dataset": "ring"}
    save_file({"G.net.fc0.weight": torch.zeros(2, 2)}, str(path), metadata=meta)
    return str(path)


def csv_file(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)

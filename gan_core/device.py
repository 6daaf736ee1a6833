"""Device choice and CPU thread settings.

Small GANs on a 2-core CPU are bound by per-op overhead, and two trainings at two threads each
oversubscribe the cores (about 10x slower each); the helpers here make the thread count explicit, and
keep freed memory for reuse (`keep_freed_memory`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

import torch


def pick_device(name: str = "auto") -> torch.device:
    """`auto` picks CUDA when present, else CPU; `cpu`/`cuda` are taken as asked (cuda must exist)."""
    name = (name or "auto").lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' asked for, but no CUDA device is available here")
    if name not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {name!r}: use auto, cpu or cuda")
    return torch.device(name)


_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3  # glibc's mallopt parameters
_kept = None


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed memory for reuse instead of handing it back to the system.

    A training step allocates and frees the same few-MB tensors hundreds of times a second. By default
    glibc serves blocks from 128 KB up with fresh mmaps and trims the heap's free top, so each new tensor
    page-faults its memory in again: on the 2-core test machine the digits DCGAN step took 14-15 ms in a
    process that had already trained once and 12 ms with freed memory kept (the plain PyTorch loop of the
    benchmark: 21 ms and 19 ms). Large blocks up to 32 MB now come from the heap and the heap is not
    trimmed below 1 GB, so the process keeps its peak memory. Once per process; False where the C library
    is not glibc (nothing changes there)."""
    global _kept
    if _kept is None:
        _kept = False
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                _kept = bool(libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20) and libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30)
                             and libc.mallopt(_M_TOP_PAD, 64 << 20))
            except (OSError, AttributeError):
                _kept = False
    return _kept


def set_threads(n: int | None = None) -> int:
    """Set torch's intra-op threads (default: all cores, at most 4) and return the count; also keeps
    freed memory for reuse (`keep_freed_memory`), as every command that trains calls this first."""
    keep_freed_memory()
    if n is None:
        n = min(4, os.cpu_count() or 1)
    n = max(1, int(n))
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n

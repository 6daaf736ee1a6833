"""Device choice and CPU thread settings.

Small GANs on a 2-core CPU are bound by per-op overhead, and two trainings at two threads each
oversubscribe the cores (about 10x slower each); the helpers here make the thread count explicit.
"""

from __future__ import annotations

import os

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


def set_threads(n: int | None = None) -> int:
    """Set torch's intra-op threads (default: all cores, at most 4) and return the count."""
    if n is None:
        n = min(4, os.cpu_count() or 1)
    n = max(1, int(n))
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n

"""Parsing and bounding the explorer's text and number inputs: seed lists, psi lists, whole numbers in a
range. Each refuses anything else with a one-line message (a ValueError, shown by `guarded`)."""

from __future__ import annotations

import math
import re

from ...common.labels import quoted
from .state import PSI_MAX, check_psi

MAX_SEEDS = 16  # seeds per list (interpolation keys, arithmetic terms)
MAX_SEED = 2**31 - 1
PSI_LIST_MAX = 8
TARGET_KINDS = ("held-out image", "training image", "generated sample", "upload")


def parse_seeds(text, what: str = "seeds", at_least: int = 1) -> list[int]:
    """'3, 17 42' -> [3, 17, 42]; a clear message for anything else."""
    parts = [p for p in re.split(r"[,\s;]+", str(text or "").strip()) if p]
    if len(parts) < at_least:
        raise ValueError(f"{what}: give at least {at_least} seed{'s' if at_least > 1 else ''} (numbers such as 3, 17, 42)")
    if len(parts) > MAX_SEEDS:
        raise ValueError(f"{what}: at most {MAX_SEEDS} seeds, got {len(parts)}")
    out = []
    for p in parts:
        if not re.fullmatch(r"\d{1,10}", p) or int(p) > MAX_SEED:
            raise ValueError(f"{what}: {p[:20]!r} is not a seed (a whole number from 0 to {MAX_SEED})")
        out.append(int(p))
    return out


def parse_psis(text) -> list[float]:
    parts = [p for p in re.split(r"[,\s;]+", str(text or "").strip()) if p]
    if not parts:
        raise ValueError("psi values: give at least one, e.g. 1, 0.7, 0.4, 0")
    if len(parts) > PSI_LIST_MAX:
        raise ValueError(f"psi values: at most {PSI_LIST_MAX}, got {len(parts)}")
    out = []
    for p in parts:
        try:
            out.append(check_psi(float(p)))
        except ValueError:
            raise ValueError(f"psi values must be numbers between 0 and {PSI_MAX:g}, got {p[:20]!r}") from None
    return out


def int_in(v, lo: int, hi: int, what: str) -> int:
    """`v` as a whole number in [lo, hi]; the message names the widget (`what`, as its label reads) and
    quotes what was typed ("Seed must be a whole number, got an empty box")."""
    what = what[:1].upper() + what[1:]
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a whole number, got {quoted(v)}") from None
    if not math.isfinite(f) or f != int(f) or not lo <= f <= hi:
        raise ValueError(f"{what} must be a whole number from {lo} to {hi}, got {quoted(v)}")
    return int(f)

"""Curve data for plots: long-format tables (step, value, series) from history rows."""

from __future__ import annotations

import math


def curve_table(rows: list[dict], keys: tuple[str, ...], max_points: int = 1500) -> dict[str, list]:
    """Columns `step`, `value`, `series` for the given keys; thinned to at most max_points per series."""
    out: dict[str, list] = {"step": [], "value": [], "series": []}
    for key in keys:
        pts = [(r["step"], r[key]) for r in rows if key in r and _finite(r[key])]
        stride = max(1, math.ceil(len(pts) / max_points))
        for s, v in pts[::stride]:
            out["step"].append(s)
            out["value"].append(float(v))
            out["series"].append(key)
    return out


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)

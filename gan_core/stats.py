"""A bounded history of named scalars for plots and JSONL logs.

Rows are kept at full resolution until `max_points`; then every other row is dropped and only every
second new row is kept, so the history always spans the whole run with at most `max_points` rows.
Rows added with `keep=True` (evaluations: rare, and each one a point of a metric curve) are never
thinned and do not count against the stride.
"""

from __future__ import annotations

import json
import math
from typing import IO


class History:
    def __init__(self, max_points: int = 4000):
        self.max_points = max_points
        self.rows: list[dict] = []
        self._stride = 1
        self._seen = 0
        self._kept: set[int] = set()  # ids of rows added with keep=True

    def add(self, row: dict, keep: bool = False) -> None:
        if keep:
            self.rows.append(row)
            self._kept.add(id(row))
            return
        self._seen += 1
        if (self._seen - 1) % self._stride:
            return
        self.rows.append(row)
        if len(self.rows) - len(self._kept) > self.max_points:
            thin = [r for r in self.rows if id(r) not in self._kept][1::2]
            drop = {id(r) for r in thin}
            self.rows = [r for r in self.rows if id(r) not in drop]
            self._stride *= 2

    def column(self, key: str) -> tuple[list, list]:
        """(steps, values) of rows that have `key`."""
        xs, ys = [], []
        for r in self.rows:
            if key in r:
                xs.append(r["step"])
                ys.append(r[key])
        return xs, ys

    def last(self, key: str, default=None):
        for r in reversed(self.rows):
            if key in r:
                return r[key]
        return default

    def copy(self) -> "History":
        h = History(self.max_points)
        h.rows, h._stride, h._seen, h._kept = list(self.rows), self._stride, self._seen, set(self._kept)
        return h

    def write_jsonl(self, f: IO[str]) -> None:
        for r in self.rows:
            f.write(json.dumps({k: _clean(v) for k, v in r.items()}) + "\n")


def _clean(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v

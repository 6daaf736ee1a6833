"""A bounded history of named scalars for plots and JSONL logs.

Rows are kept at full resolution until `max_points`; then every other row is dropped and only every
second new row is kept, so the history always spans the whole run with at most `max_points` rows.
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

    def add(self, row: dict) -> None:
        self._seen += 1
        if (self._seen - 1) % self._stride:
            return
        self.rows.append(row)
        if len(self.rows) > self.max_points:
            self.rows = self.rows[::2]
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
        h.rows, h._stride, h._seen = list(self.rows), self._stride, self._seen
        return h

    def write_jsonl(self, f: IO[str]) -> None:
        for r in self.rows:
            f.write(json.dumps({k: _clean(v) for k, v in r.items()}) + "\n")


def _clean(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v

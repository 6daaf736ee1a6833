"""What the Teacher tab shows, from the session store's snapshots (never a live trainer): one row per
live training, every run's G loss, and one run's picture drawn with the tab's own renderers."""

from __future__ import annotations

import math
import threading

import pandas as pd

from gan_core import models
from gan_core.training import presets
from gan_core.viz.grid import GridRenderer
from gan_core.viz.plane import PlaneRenderer

from ...common import plots
from ...common.choices import STATE_LABELS

TRAININGS = {"train2d": "Train (2D)", "trainimg": "Train (images)"}  # slot -> the tab it trains on
COLUMNS = ("Student", "Tab", "Preset / data", "Step", "State", "Counter", "D loss", "G loss")
SNAPSHOT_WAIT_S = 0.1  # the table never waits long for a busy training


class Roster:
    """Anonymous, stable student numbers (in the order the teacher first sees them) and the live runs."""

    def __init__(self, store):
        self.store = store
        self._numbers: dict[str, int] = {}
        self._lock = threading.Lock()

    def number(self, key: str) -> int:
        with self._lock:
            if key not in self._numbers:
                self._numbers[key] = len(self._numbers) + 1
            return self._numbers[key]

    def runs(self) -> list[tuple[str, str, object]]:
        """(choice value 'N:slot', student label, snapshot) of every live training: running, waiting or
        trained at least one step. Peeking never counts as the student's activity."""
        out = []
        for slot, _ in TRAININGS.items():
            for key in sorted(self.store.keys(slot), key=self.number):
                held = self.store.peek(key, slot)
                if held is None:
                    continue
                snap = held.training.snapshot(wait=SNAPSHOT_WAIT_S)
                if snap.step > 0 or snap.state == "running":
                    n = self.number(key)
                    out.append((f"{n}:{slot}", f"Student {n}", snap))
        return sorted(out, key=lambda r: (int(r[0].split(":")[0]), r[0]))

    def find(self, value: str):
        """The snapshot and label of a choice value, or None when that run is gone."""
        for v, label, snap in self.runs():
            if v == value:
                return label, snap
        return None


def counter(snap) -> str:
    """Modes covered (2D mixtures), classes covered (evaluated image sets), or '-'."""
    m = snap.metrics
    modes = getattr(snap.data, "modes", None)
    if modes is not None and m.get("modes") is not None:
        return f"{m['modes']} / {len(modes)} modes"
    if m.get("classes_covered") is not None:
        return f"{m['classes_covered']} / {len(m.get('histogram') or ())} classes"
    return "-"


def preset_name(snap, slot: str) -> str:
    p = presets.preset_for(snap.cfg, "2d" if slot == "train2d" else "image")
    data = getattr(snap.data, "name", snap.cfg.dataset)
    return f"{p.name} ({data})" if p is not None else f"own settings ({data})"


def state_text(snap) -> str:
    waiting = snap.extra.get("waiting")
    if snap.state == "running" and waiting is not None:
        return f"waiting for CPU ({waiting} ahead)"
    return STATE_LABELS.get(snap.state, snap.state)


def _last(rows, key: str):
    for r in reversed(rows):
        v = r.get(key)
        if isinstance(v, (int, float)) and math.isfinite(v):
            return round(float(v), 3)
    return None


def table(runs) -> list[list]:
    return [[label, TRAININGS[value.split(":")[1]], preset_name(snap, value.split(":")[1]), snap.step,
             state_text(snap), counter(snap), _last(snap.rows, "d_loss"), _last(snap.rows, "g_loss")]
            for value, label, snap in runs]


def g_losses(runs) -> pd.DataFrame:
    """Every run's G loss over steps, one series per run."""
    frames = []
    names = []
    for value, label, snap in runs:
        name = f"{label} ({'2D' if value.endswith('train2d') else 'images'})"
        names.append(name)
        f = plots.frame(snap.rows, {"g_loss": name}, (name,))
        frames.append(f)
    if not frames:
        return plots.placeholders(["no live training"])
    return pd.concat(frames, ignore_index=True)


class Projector:
    """Draws one run's picture with the tab's own copies (the 2D view, or the fixed-noise grid)."""

    def __init__(self):
        self.plane, self.grid = PlaneRenderer(), GridRenderer()
        self.lock = threading.Lock()

    def picture(self, snap):
        with self.lock:
            if models.output_kind(snap.cfg.family) == "points":
                return self.plane.render(snap)
            return self.grid.render(snap)

"""A run's timeline: the fixed-noise grid at points spread over the run, kept in memory while a run trains
and stored in its checkpoint so that a loaded model can replay how it learned ("noise -> digits").

`Timeline` is the bounded in-memory record (the Train (images) tab keeps one per visitor);
`record_steps` says when a headless run draws a grid; `encode` / `decode` turn the grids into the
checkpoint's `timeline.*` tensors (PNG bytes, one offset table and the steps) and back, checking every
part of what a file claims before decoding anything.
"""

from __future__ import annotations

import bisect
import io
import math
from dataclasses import dataclass, field

import numpy as np
import torch

MAX_GRIDS = 64  # grids a checkpoint may hold
MAX_BYTES = 16 * 2**20  # their PNG bytes in all
MAX_GRID_PIXELS = 2048 * 2048  # pixels of one stored grid (a shipped 10x10 digits grid has 33k)
STORED_GRIDS = 48  # grids a headless run records (spread as `record_steps` says)


@dataclass
class Timeline:
    """A bounded record of (step, grid) over a whole run.

    A grid is kept when it is at least `every` steps after the last kept one. When the record outgrows
    its capacity (`max_items`, or fewer when the grids are large: `max_bytes` in all) every other grid is
    dropped and `every` doubles, so the kept grids stay evenly spread over the run."""

    max_items: int = 200  # grids kept at most
    max_bytes: int = 16 * 2**20  # their raw bytes at most
    every: int = 1  # steps between kept grids (doubles when the record is thinned)
    items: list = field(default_factory=list)  # [(step, (H, W, 3) uint8 grid)], steps increasing

    def capacity(self, grid: np.ndarray) -> int:
        return max(2, min(self.max_items, self.max_bytes // max(1, grid.nbytes)))

    def add(self, step: int, grid: np.ndarray) -> bool:
        """Keep `grid` for `step` when due; a step below the last kept one (a divergence rolled the
        weights back) first drops the later grids. Returns whether the grid was kept."""
        while self.items and self.items[-1][0] > step:
            self.items.pop()
        if self.items and step - self.items[-1][0] < self.every:
            return False
        self.items.append((step, grid))
        if len(self.items) > self.capacity(grid):
            self.items = self.items[::2]
            self.every *= 2
        return True

    def start_from(self, items: list) -> None:
        """Start from stored grids (a loaded checkpoint's); later grids are added at the stored spacing."""
        self.clear()
        self.items = [(int(s), g) for s, g in items]
        if self.items:
            self.items = thin(self.items, self.capacity(self.items[-1][1]))
        if len(self.items) >= 2:
            self.every = max(1, (self.items[-1][0] - self.items[0][0]) // (len(self.items) - 1))

    def clear(self) -> None:
        self.items, self.every = [], 1

    def steps(self) -> list[int]:
        return [s for s, _ in self.items]

    def nearest(self, step: float) -> tuple[int, np.ndarray] | None:
        """The kept grid whose step is nearest to `step` (None while nothing is kept)."""
        if not self.items:
            return None
        steps = self.steps()
        i = bisect.bisect_left(steps, step)
        near = [j for j in (i - 1, i) if 0 <= j < len(steps)]
        return self.items[min(near, key=lambda j: abs(steps[j] - step))]


def record_steps(total: int, n: int = STORED_GRIDS) -> list[int]:
    """About `n` steps in [0, total] at which a headless run draws its grid: half spread geometrically
    (a GAN changes most in its first hundreds of steps: blobs become strokes), half evenly (the slow
    sharpening later on). Always 0 and `total`."""
    if total <= 0:
        return [0]
    half = max(1, n // 2)
    geo = {int(round(math.exp(math.log(10) + (math.log(total) - math.log(10)) * i / (half - 1))))
           for i in range(half)} if total > 10 and half > 1 else set()
    even = {round(total * i / half) for i in range(half + 1)}
    return sorted(s for s in geo | even | {0, total} if 0 <= s <= total)


def thin(items: list, n: int = MAX_GRIDS) -> list:
    """At most `n` of `items`, evenly spread, the first and the last kept."""
    if len(items) <= n:
        return list(items)
    idx = sorted({round(i * (len(items) - 1) / (n - 1)) for i in range(n)})
    return [items[i] for i in idx]


def encode(items: list) -> dict[str, torch.Tensor]:
    """The checkpoint tensors for `items` [(step, (H, W, 3) uint8)]: `timeline.steps` (T,) int64,
    `timeline.offsets` (T + 1,) int64 and `timeline.png` (bytes,) uint8, the grids as PNG one after
    another. Thinned to MAX_GRIDS; empty dict when there is nothing to store."""
    from PIL import Image

    items = thin([(int(s), g) for s, g in items], MAX_GRIDS)
    if not items:
        return {}
    blobs = []
    for _, grid in items:
        buf = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(grid, dtype=np.uint8)).save(buf, format="PNG", optimize=True)
        blobs.append(buf.getvalue())
    while sum(map(len, blobs)) > MAX_BYTES and len(blobs) > 2:  # very large grids: keep fewer
        keep = thin(list(range(len(blobs))), max(2, len(blobs) // 2))
        items, blobs = [items[i] for i in keep], [blobs[i] for i in keep]
    offsets = np.cumsum([0] + [len(b) for b in blobs])
    return {"timeline.steps": torch.tensor([s for s, _ in items], dtype=torch.int64),
            "timeline.offsets": torch.tensor(offsets, dtype=torch.int64),
            "timeline.png": torch.frombuffer(bytearray(b"".join(blobs)), dtype=torch.uint8)}


KEYS = ("timeline.steps", "timeline.offsets", "timeline.png")


def check_header(shapes: dict[str, tuple[tuple, str]]) -> None:
    """Check the `timeline.*` entries of a safetensors header ({name: (shape, dtype)}) before reading
    them; ValueError naming what is wrong."""
    if not shapes:
        return
    missing = [k for k in KEYS if k not in shapes]
    if missing:
        raise ValueError(f"timeline lacks {missing[0]}")
    want = {"timeline.steps": "I64", "timeline.offsets": "I64", "timeline.png": "U8"}
    for k, dt in want.items():
        shape, dtype = shapes[k]
        if len(shape) != 1 or dtype != dt:
            raise ValueError(f"{k} must be a 1-D {dt} tensor, got shape {shape} of {dtype}")
    t = shapes["timeline.steps"][0][0]
    if not 1 <= t <= MAX_GRIDS:
        raise ValueError(f"timeline holds {t} grids, at most {MAX_GRIDS} are allowed")
    if shapes["timeline.offsets"][0][0] != t + 1:
        raise ValueError("timeline.offsets must have one entry more than timeline.steps")
    if shapes["timeline.png"][0][0] > MAX_BYTES:
        raise ValueError(f"timeline pictures exceed {MAX_BYTES // 2**20} MiB")


def read(f, keys: set, last_step: int) -> list[tuple[int, np.ndarray]]:
    """The timeline stored in an open safetensors file `f` (its tensor names `keys`), header checked
    before any byte is read; [] when it holds none. ValueError naming what is wrong."""
    present = [k for k in KEYS if k in keys]
    if not present:
        return []
    check_header({k: (tuple(f.get_slice(k).get_shape()), f.get_slice(k).get_dtype()) for k in present})
    return decode({k: f.get_tensor(k) for k in KEYS}, last_step)


def decode(tensors: dict[str, torch.Tensor], last_step: int) -> list[tuple[int, np.ndarray]]:
    """The stored grids [(step, (H, W, 3) uint8)]; ValueError naming what is wrong (steps not increasing
    or beyond the checkpoint's step, offsets outside the bytes, a picture that is not a PNG or too large)."""
    from PIL import Image

    if not tensors:
        return []
    steps = tensors["timeline.steps"].tolist()
    offsets = tensors["timeline.offsets"].tolist()
    raw = tensors["timeline.png"].numpy().tobytes()
    if any(s < 0 for s in steps) or any(b <= a for a, b in zip(steps, steps[1:])) or steps[-1] > last_step:
        raise ValueError("timeline steps must increase from 0 up to the checkpoint's step")
    if offsets[0] != 0 or offsets[-1] != len(raw) or any(b <= a for a, b in zip(offsets, offsets[1:])):
        raise ValueError("timeline offsets do not cut its pictures")
    out = []
    for step, a, b in zip(steps, offsets, offsets[1:]):
        try:
            img = Image.open(io.BytesIO(raw[a:b]))
            if img.format != "PNG":
                raise ValueError("not a PNG")
            if img.width * img.height > MAX_GRID_PIXELS:
                raise ValueError(f"{img.width}x{img.height} pixels")
            grid = np.asarray(img.convert("RGB"), dtype=np.uint8)
        except Exception as e:  # PIL raises many kinds for damaged bytes
            raise ValueError(f"timeline picture at step {step} cannot be read ({str(e)[:80]})") from None
        out.append((int(step), grid))
    return out


class Recorder:
    """Draws a training run's fixed-noise grid (the Train (images) tab's grid: same noise, same layout)
    at the steps `record_steps` spreads over [start, start + total], on its own copy of G, so the run it
    watches is not changed (the random state is left as it was)."""

    def __init__(self, start: int, total: int, n: int = STORED_GRIDS):
        from .grid import GridRenderer

        self.renderer = GridRenderer()
        self.due = [start + s for s in record_steps(total, n)]
        self.items: list[tuple[int, np.ndarray]] = []

    def __call__(self, trainer) -> None:
        """Draw the grid when the trainer has reached the next due step (call it as often as convenient)."""
        step = trainer.step_count
        if not self.due or step < self.due[0] or (self.items and self.items[-1][0] >= step):
            return
        while self.due and self.due[0] <= step:
            self.due.pop(0)
        g = trainer.ema if trainer.ema is not None else trainer.g_flat.data
        with torch.random.fork_rng(devices=[]):
            self.renderer.load(trainer.cfg.family, trainer.cfg.model, g.detach().clone())
            self.items.append((step, self.renderer.picture(scale=1)))


REPLAY_SECONDS = 12.0  # a replay lasts about this long, whatever the number of grids
MAX_REPLAY_FRAMES = 200


def replay_frames(items: list, enlarge_fn=None, caption=None) -> list[np.ndarray]:
    """The frames of a replay: each kept grid (enlarged by `enlarge_fn`) under a caption strip that
    reads "step N of M" (or `caption(step, last)`)."""
    from PIL import Image, ImageDraw, ImageFont

    items = thin(items, MAX_REPLAY_FRAMES)
    if not items:
        return []
    last = items[-1][0]
    frames = []
    font = ImageFont.load_default(size=22)
    for step, grid in items:
        pic = enlarge_fn(grid) if enlarge_fn is not None else grid
        h, w = pic.shape[:2]
        strip = 34
        canvas = Image.new("RGB", (w, h + strip), (255, 255, 255))
        canvas.paste(Image.fromarray(np.ascontiguousarray(pic, dtype=np.uint8)), (0, strip))
        text = caption(step, last) if caption else f"step {step:,} of {last:,}"
        ImageDraw.Draw(canvas).text((8, 5), text, fill=(0, 0, 0), font=font)
        frames.append(np.asarray(canvas))
    return frames


def replay_fps(n_frames: int) -> float:
    """Frames per second so that a replay of `n_frames` lasts about REPLAY_SECONDS (2 to 25 fps)."""
    return min(25.0, max(2.0, n_frames / REPLAY_SECONDS))

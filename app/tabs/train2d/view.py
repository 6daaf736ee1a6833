"""What the Train (2D) tab shows for a snapshot: the mode counter text, a status record, the legend, and
the conversion of a sketchpad drawing into an ink mask. Pure functions of their inputs; no gradio."""

from __future__ import annotations

import math

import numpy as np

from gan_core.metrics import modes as mode_metrics
from gan_core.training.session import Snapshot

from ...common.choices import ALERT_STATES, STATE_LABELS

LEGEND = """
**How to read the picture**

- **Background (heatmap)**: the discriminator's verdict at every point of the plane.
  <span style="color:#1b7837">**Green**</span> = D thinks "real",
  <span style="color:#762a83">**purple**</span> = D thinks "fake", white = undecided. For Wasserstein losses it shows the critic's score instead.
- <span style="color:#1b7837">**Green dots**</span>: samples of the real data.
- <span style="color:#762a83">**Purple dots**</span>: samples from the generator (fakes).
- **Grey grid (manifold)**: a regular grid of noise vectors pushed through G; it shows how G bends and
  stretches the noise space onto the plane.
- <span style="color:#e66101">**Orange arrows (gradients)**</span>: the direction G's loss pushes each fake
  point. Fakes move uphill on the heatmap, toward where D says "real".

**The counter and the right-hand curves**: a real cluster (mode) is *covered* when at least one fake
lands within 3 standard deviations of it; *high quality* is the share of fakes that land that close to
some mode (PacGAN's definitions, on 2,500 samples). For shapes without clusters the curves show the KL
and JS divergences between histograms of real and fake points on a 20 x 20 grid (0 = identical).

**Mode collapse** is when the purple dots pile onto a few of the real clusters: the counter above drops
below the number of modes. With the collapse preset, watch the fakes hop from mode to mode.
"""

def n_modes(data) -> int | None:
    modes = getattr(data, "modes", None)
    return None if modes is None else int(len(modes))


def _fmt(v, spec: str) -> str:
    if isinstance(v, (int, float)) and math.isfinite(v):
        return format(v, spec)
    return "not measured yet"


def headline(snap: Snapshot) -> tuple[str, str]:
    """The big line (modes covered, or the grid KL for shapes without modes) and a second figure."""
    m, total = snap.metrics, n_modes(snap.data)
    if total:
        covered = m.get(mode_metrics.MODES)
        hq = m.get(mode_metrics.HQ)
        hq_txt = _fmt(100 * hq, ".0f") + " %" if isinstance(hq, (int, float)) else "not measured yet"
        return f"modes covered {covered if covered is not None else '?'} / {total}", f"high quality {hq_txt}"
    return (f"KL {_fmt(m.get(mode_metrics.KL_GRID), '.3f')} · JS {_fmt(m.get(mode_metrics.JS_GRID), '.3f')}",
            "real vs fake histograms on a grid")


def counter_markdown(snap: Snapshot) -> str:
    """Mode counter, step, speed, state and the session's message (divergence advice included)."""
    state = STATE_LABELS.get(snap.state, snap.state)
    big, second = headline(snap)
    lines = [f"## {big}",
             f"**{second}** · **step {snap.step:,}** · {snap.steps_per_s:,.0f} steps/s · {state} · "
             f"dataset *{getattr(snap.data, 'name', snap.cfg.dataset)}* · loss *{snap.cfg.loss}*"]
    if snap.state in ALERT_STATES:
        lines.append(f"**⚠ {snap.message}**")
    elif snap.state != "running":
        lines.append(snap.message)
    return "\n\n".join(lines)


def status_record(snap: Snapshot) -> dict:
    """A JSON-friendly record of the snapshot (shown under Details, read by API clients)."""
    metrics = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
               for k, v in snap.metrics.items()}
    return {"step": snap.step, "state": snap.state, "message": snap.message,
            "dataset": getattr(snap.data, "name", snap.cfg.dataset), "n_modes": n_modes(snap.data),
            "steps_per_s": round(float(snap.steps_per_s), 1), "version": snap.version,
            "metrics": metrics, "config": snap.cfg.to_dict()}


MAX_LAYERS = 8  # drawing-pad layers accepted
MAX_LAYER_PIXELS = 2048 * 2048  # pixels of one layer (the pad itself is 320 x 320)


def check_drawing(value) -> None:
    """Refuse a drawing-pad value with too many or too large layers (ValueError naming the limit)."""
    layers = [x for x in (value.get("layers") or []) if x is not None] + [value.get("composite")]
    if len(layers) > MAX_LAYERS + 1:
        raise ValueError(f"the drawing has {len(layers) - 1} layers; at most {MAX_LAYERS} are accepted")
    for x in layers:
        a = np.asarray(x) if x is not None else None
        if a is not None and (a.ndim < 2 or a.shape[0] * a.shape[1] > MAX_LAYER_PIXELS):
            raise ValueError(f"a drawing layer of {'x'.join(map(str, a.shape[:2]))} pixels is over the limit "
                             f"of {MAX_LAYER_PIXELS:,} pixels")


def drawing_mask(value) -> np.ndarray | None:
    """(H, W) bool ink mask from a gr.Sketchpad value (numpy layers/composite); None when nothing is there."""
    if not isinstance(value, dict):
        return None
    check_drawing(value)
    masks = [_ink(layer, alpha_only=True) for layer in (value.get("layers") or []) if layer is not None]
    masks = [m for m in masks if m is not None]
    if not masks and value.get("composite") is not None:
        masks = [_ink(value["composite"], alpha_only=False)]
    masks = [m for m in masks if m is not None]
    if not masks:
        return None
    return np.logical_or.reduce(masks)


def _ink(img, alpha_only: bool) -> np.ndarray | None:
    a = np.asarray(img)
    if a.ndim == 2:
        return a < 128  # greyscale: dark = ink
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        return None
    dark = a[..., :3].sum(-1, dtype=np.uint16) < 384  # mean of the three channels < 128, no float copy
    if a.shape[2] == 4:
        opaque = a[..., 3] > 64
        return opaque if alpha_only else opaque & dark
    return dark

"""What the Train (images) tab shows for a snapshot, and what each browser session's tab remembers.

`ImageView` is one session's memory: its grid renderer, the timeline of earlier grids, whether the
picture follows the live grid, the visitor's uploaded images and the class histograms seen at each
evaluation. The rest are pure functions from a snapshot to text, records and plot frames; no gradio.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from gan_core.metrics import classifier as cm
from gan_core.metrics import image_eval
from gan_core.training.session import Snapshot
from gan_core.viz.grid import GridRenderer, display_scale, enlarge
from gan_core.viz.timeline import Timeline

from ...common import plots
from ...common.choices import ALERT_STATES, STATE_LABELS

MAX_HIST_LOG = 40  # evaluations kept for the histogram-over-time picture
FD_SERIES = {cm.FD: "FD", cm.FD_FLOOR: "real-vs-real floor"}  # the live FD canvas: key -> series
FD_COLORS = {"FD": "#e66101", "real-vs-real floor": "#8c8c8c"}
FD_LABEL = "Frechet distance (FD) and its floor"  # the picture's title; its legend names the colours
NO_EVALUATOR = ("No evaluator for uploaded images: only the losses are measured (the class histogram, FD "
                "and class shares need one of the built-in datasets).")

LEGEND = """
**How to read this tab**

- **The grid**: the same noise vectors pushed through the generator at every refresh, so changes in
  the grid are changes in G, not in the noise. For the conditional preset each row asks for one class
  (top row: class 0). For a generator with an InfoGAN code (Digits (DCGAN)) each row sets one category
  of the code and each column keeps its noise, so reading down a column shows what the code alone
  changes; the categories have no names, G and D agree on their meaning while training. With EMA on,
  the grid (and the metrics) use the moving average of G's weights, which smooths out G's step-to-step
  jitter; it averages over the steps so far at first, then over about 1 / (1 - EMA) steps (1,000 at
  0.999). Set EMA to 0 to watch G itself.
- **Timeline**: drag the slider back to see the grid at an earlier point of the run (0 = the start);
  drag it to 100 (or tick *Follow the live grid*) to follow training again.
- **Class histogram**: a small classifier trained on the real data labels 1,000 generated images at
  every evaluation. A healthy GAN fills every bar; **mode collapse** shows as bars emptying out while a
  few classes take over. The picture below the bars keeps the histograms over time: one column per
  evaluation, one row per class, bright = many samples; a collapsed GAN draws a few bright rows.
- **Classes covered (confidently)**: a class counts when at least 10 of the 1,000 samples (1 %) are
  read as it with at least 50 % confidence; blotchy samples fill the histogram but cover nothing.
- **FD** (Frechet distance in the classifier's features): lower is closer to the real data. The grey
  floor is the distance between two halves of the real data: the best a perfect generator could show.
- **Scenes**: a segmenter labels every pixel; the table compares how much of the picture each class
  covers in real and in generated scenes.
"""


class ImageView:
    """One visitor's image tab memory (its training slot keeps it as the renderer)."""

    def __init__(self):
        self.renderer = GridRenderer()
        self.timeline = Timeline()
        self.view_rev = 0  # increases whenever `following` changes (a live stream then sends a frame at once)
        self.following = True  # the picture shows the live grid (False once the visitor scrubs back)
        self.shown_step: int | None = None  # step of the grid on the page
        self.latest: tuple[int, np.ndarray] | None = None  # (step, grid) last drawn from a snapshot
        self.upload = None  # the visitor's uploaded images (an ImageSource), kept for Reset
        self.hist_log: list[tuple[int, list[int]]] = []  # (step, class histogram) per evaluation
        self.plots_key = None  # what the metric plots on the page show

    @property
    def following(self) -> bool:
        return self._following

    @following.setter
    def following(self, on: bool) -> None:
        if on != getattr(self, "_following", None):
            self.view_rev += 1
        self._following = on

    def new_run(self) -> None:
        """Forget the previous run's grids and histograms (a preset, reset, upload or checkpoint)."""
        self.timeline.clear()
        self.hist_log.clear()
        self.following, self.shown_step, self.latest, self.plots_key = True, None, None, None

    def draw(self, snap: Snapshot) -> np.ndarray:
        """The snapshot's grid at native resolution; kept in the timeline when due."""
        grid = self.renderer.render(snap, scale=1)
        self.latest = (snap.step, grid)
        self.timeline.add(snap.step, grid)
        return grid

    def display(self, grid: np.ndarray) -> np.ndarray:
        """A native-resolution grid enlarged for the page (tiles of about 64 pixels)."""
        return enlarge(grid, display_scale(self.renderer.G.output_spec.size))

    def record_metrics(self, metrics: dict) -> None:
        """Remember the class histogram of each evaluation seen (for the chart over time)."""
        hist, step = metrics.get(cm.HISTOGRAM), metrics.get("step")
        if hist is None or step is None:
            return
        while self.hist_log and self.hist_log[-1][0] > step:  # rolled back
            self.hist_log.pop()
        if self.hist_log and len(self.hist_log[-1][1]) != len(hist):  # another set of classes
            self.hist_log.clear()
        if not self.hist_log or self.hist_log[-1][0] != step:
            self.hist_log.append((int(step), list(hist)))
            del self.hist_log[:-MAX_HIST_LOG]


# --------------------------------------------------------------------------------------------- reading


def evaluator_kind(snap: Snapshot) -> str | None:
    """'classifier' (digits, shapes), 'segmenter' (scenes) or None (uploaded images: losses only)."""
    if not snap.extra.get("has_evaluator"):
        return None
    return "segmenter" if image_eval.kind_of(snap.cfg.dataset) == "scenes" else "classifier"


def class_names(snap: Snapshot) -> list[str]:
    """Names of the dataset's classes (the evaluator's labels for the built-in sets)."""
    names = list(getattr(getattr(snap.data, "dataset", None), "class_names", None) or [])
    hist = snap.metrics.get(cm.HISTOGRAM)
    if hist is not None and len(hist) != len(names):
        names = [str(i) for i in range(len(hist))]
    return names


def n_classes_asked(snap: Snapshot) -> int:
    """Classes a conditional generator takes (0 for an unconditional one)."""
    return int(snap.cfg.model.get("n_classes", 0) or 0)


def _fmt(v, spec: str, scale: float = 1.0) -> str:
    if isinstance(v, (int, float)) and math.isfinite(v):
        return format(v * scale, spec)
    return "?"


def headline(snap: Snapshot) -> tuple[str, str]:
    """The big line and the figures under it, by the kind of evaluator."""
    m, kind = snap.metrics, evaluator_kind(snap)
    if kind is None:
        return f"step {snap.step:,}", NO_EVALUATOR
    fd = f"FD {_fmt(m.get(cm.FD), '.2f')} (floor {_fmt(m.get(cm.FD_FLOOR), '.2f')})"
    when = (f"metrics at step {m['step']:,}, every {snap.cfg.eval_every:,} steps" if "step" in m
            else f"first evaluation at step {snap.cfg.eval_every:,}")
    if kind == "segmenter":
        err = _fmt(m.get(image_eval.CLASS_SHARE_ERR), ".0f", 100.0)
        return fd, f"largest class-share error {err} % · {when}"
    k = len(class_names(snap)) or "?"
    figures = [fd, f"confident {_fmt(m.get(cm.CONFIDENT), '.0f', 100.0)} %"]
    if n_classes_asked(snap):
        figures.append(f"conditional accuracy {_fmt(m.get(cm.CONDITIONAL_ACCURACY), '.0f', 100.0)} %")
    return f"classes covered (confidently) {m.get(cm.CLASSES_COVERED, '?')} / {k}", " · ".join(figures + [when])


def headline_markdown(snap: Snapshot) -> str:
    """Headline, the figures under it, step, speed, state, and the session's message."""
    big, second = headline(snap)
    state = STATE_LABELS.get(snap.state, snap.state)
    where = (f"**step {snap.step:,}** · {snap.steps_per_s:,.1f} steps/s · {state} · dataset "
             f"*{getattr(snap.data, 'name', snap.cfg.dataset)}* · loss *{snap.cfg.loss}*")
    lines = [f"## {big}", f"**{second}**", where]
    if snap.state in ALERT_STATES:
        lines.append(f"**⚠ {snap.message}**")
    elif snap.state != "running":
        lines.append(snap.message)
    return "\n\n".join(lines)


def grid_caption(view: ImageView, snap: Snapshot) -> str:
    """Which step the picture shows, and how the grid is laid out."""
    kept = len(view.timeline.items)
    if view.following or view.shown_step is None:
        where = f"Live grid, step {snap.step:,} ({kept} grid{'' if kept == 1 else 's'} kept on the timeline)."
    else:
        where = (f"Showing step {view.shown_step:,} of {snap.step:,}: scrubbed back, the grid no longer "
                 "follows training (drag the slider to the end or tick *Follow the live grid*).")
    k = n_classes_asked(snap)
    if k:
        names = class_names(snap) or [str(i) for i in range(k)]
        rows = view.renderer.shape()[0] if view.renderer.z is not None else k
        where += f" Each row asks for one class: {names[0]} (top) to {names[rows - 1]} (bottom)."
    elif int(snap.cfg.model.get("n_cat", 0) or 0) and view.renderer.z is not None:
        rows = view.renderer.shape()[0]
        where += (f" Each row sets one category of the InfoGAN code (0 at the top to {rows - 1}); each column "
                  "keeps its noise.")
    return "**Fixed-noise samples.** " + where


def status_record(snap: Snapshot, view: ImageView) -> dict:
    """A JSON-friendly record of the snapshot and the view (shown under Details, read by API clients)."""
    metrics = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
               for k, v in snap.metrics.items()}
    rows, cols = view.renderer.shape() if view.renderer.z is not None else (0, 0)
    return {"step": snap.step, "state": snap.state, "message": snap.message,
            "dataset": getattr(snap.data, "name", snap.cfg.dataset), "evaluator": evaluator_kind(snap),
            "class_names": class_names(snap), "steps_per_s": round(float(snap.steps_per_s), 1),
            "version": snap.version, "metrics": metrics, "min_classes": snap.extra.get("min_classes"),
            "grid": {"rows": rows, "cols": cols, "following": view.following, "shown_step": view.shown_step},
            "timeline": view.timeline.steps(), "histogram_steps": [s for s, _ in view.hist_log],
            "config": snap.cfg.to_dict()}


# ------------------------------------------------------------------------------------------ plot frames


def fd_picture(rows: list[dict], width: int = 440, height: int = 260) -> np.ndarray | None:
    """FD at each evaluation (orange points joined by a line) and its real-vs-real floor (a grey dashed
    line, labelled with its value), as a picture (uint8 RGB) that reads on a projector: both axes with
    their titles, y from 0, and margins so that no point sits on the frame. None before the first
    evaluation."""
    def finite(r, key):
        return isinstance(r.get(key), (int, float)) and math.isfinite(r[key])

    pts = [(r["step"], r[cm.FD]) for r in rows if finite(r, cm.FD)]
    if not pts:
        return None
    floors = [r[cm.FD_FLOOR] for r in rows if finite(r, cm.FD_FLOOR)]
    steps, fds = zip(*pts)
    fig = Figure(figsize=(width / 100, height / 100), dpi=100, layout="constrained")
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(steps, fds, "o-", color=FD_COLORS["FD"], lw=2, ms=6, label="FD")
    if floors:
        ax.axhline(floors[-1], color=FD_COLORS["real-vs-real floor"], ls="--", lw=2,
                   label=f"floor {floors[-1]:.2f} (real vs real)")
    top = max(max(fds), floors[-1] if floors else 0.0)
    ax.set_ylim(0, top * 1.12 or 1.0)
    lo, hi = min(steps), max(steps)
    pad = (hi - lo) * 0.06 or max(1.0, 0.06 * hi)
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_xlabel("step", fontsize=10)
    ax.set_ylabel("FD (lower is closer to real)", fontsize=10)
    ax.tick_params(labelsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc="upper right")
    ax.set_title(FD_LABEL, fontsize=10)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def hist_frame(hist: list[int] | None, names: list[str]) -> pd.DataFrame:
    """The current class histogram: one bar per class (zeros before the first evaluation)."""
    counts = list(hist) if hist is not None else [0] * len(names)
    return pd.DataFrame({"class": names[:len(counts)], "count": counts}).astype({"count": "int64"})


def class_history_picture(log: list[tuple[int, list[int]]], names: list[str], width: int = 520,
                          height: int = 300) -> np.ndarray | None:
    """The class histograms over time as a heatmap (uint8 RGB): one column per evaluation, one row per
    class, colour = share of the samples. The colour scale tops out at 3x the uniform share, so a
    balanced generator is mid-dark everywhere and a collapsed one shows a few bright rows."""
    if not log or not names:
        return None
    shares = np.array([h for _, h in log], np.float64).T[:len(names)]  # (K, T)
    shares = 100 * shares / np.clip(shares.sum(0, keepdims=True), 1, None)
    fig = Figure(figsize=(width / 100, height / 100), dpi=100, layout="constrained")
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    im = ax.imshow(shares, aspect="auto", cmap="magma", vmin=0, vmax=min(100.0, 300.0 / len(names)),
                   interpolation="nearest")
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ticks = np.unique(np.linspace(0, len(log) - 1, min(len(log), 6)).round().astype(int))
    ax.set_xticks(ticks, [f"{log[i][0]:,}" for i in ticks], fontsize=8)
    ax.set_xlabel("step of the evaluation", fontsize=8)
    ax.set_title("Class histogram over time", fontsize=9)
    fig.colorbar(im, ax=ax, label="% of samples").ax.tick_params(labelsize=8)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def share_table(metrics: dict) -> pd.DataFrame:
    """Scenes: per-class pixel share of real and generated scenes, in %, with the relative error."""
    rows = metrics.get(image_eval.CLASS_SHARES) or []
    return pd.DataFrame({
        "class": [r["name"] for r in rows],
        "real %": [round(100 * r["real_share"], 1) for r in rows],
        "generated %": [round(100 * r["fake_share"], 1) for r in rows],
        "relative error %": [None if r["rel_err"] is None else round(100 * r["rel_err"], 0) for r in rows],
    }, columns=["class", "real %", "generated %", "relative error %"])


# InfoGAN: the category's information lower bound against its ceiling H(c) = ln K, at each evaluation
MI_SERIES = {"mi_bound": "information bound", "mi_ceiling": "ceiling ln K"}
MI_COLORS = {"information bound": "#5e3c99", "ceiling ln K": "#8c8c8c"}
MI_LABEL = "InfoGAN: I(category; image) lower bound (purple) and its ceiling ln K (grey), nats"
MI_ALL = tuple(MI_SERIES.values())


def empty_mi_frame() -> pd.DataFrame:
    return plots.placeholders(MI_ALL)


def mi_frame(rows: list[dict]) -> pd.DataFrame:
    """The information bound of the categorical code and its ceiling at each evaluation."""
    return plots.frame(rows, MI_SERIES, MI_ALL)


def has_mi(snap: Snapshot) -> bool:
    """Whether the model has a categorical InfoGAN code (so the bound is measured)."""
    return "mi_bound" in snap.metrics or any("mi_bound" in r for r in snap.rows[-50:])

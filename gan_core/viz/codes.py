"""Pictures of what InfoGAN's codes learned (gan_core.metrics.codes.code_report): the confusion matrix of
categories against the labels the evaluator reads (rows in the order of the best matching), and the code x
factor correlation heat map. matplotlib's Agg canvas, returned as uint8 RGB arrays."""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def _rgb(fig: Figure) -> np.ndarray:
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def confusion_picture(report: dict, width: int = 520, height: int = 440) -> np.ndarray | None:
    """Categories (rows, labelled with their matched label) x labels read (columns), counts as shades."""
    conf = report.get("confusion")
    labels = report.get("labels")
    if not conf or not labels:
        return None
    conf = np.asarray(conf, np.float64)
    matching = report.get("matching") or [-1] * len(conf)
    order = sorted(range(len(conf)), key=lambda r: (matching[r] < 0, matching[r], r))  # matched label order
    shares = conf[order] / np.clip(conf[order].sum(1, keepdims=True), 1, None)
    fig = Figure(figsize=(width / 100, height / 100), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    im = ax.imshow(100 * shares, cmap="Blues", vmin=0, vmax=100, aspect="auto", interpolation="nearest")
    rows = [f"category {r} → {labels[matching[r]] if matching[r] >= 0 else '—'}" for r in order]
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    ax.set_xticks(range(len(labels)), labels, fontsize=8, rotation=45 if len(labels) > 10 else 0)
    ax.set_xlabel("what the evaluator reads", fontsize=8)
    for i in range(shares.shape[0]):
        for j in range(shares.shape[1]):
            if shares[i, j] >= 0.05:
                ax.text(j, i, f"{100 * shares[i, j]:.0f}", ha="center", va="center", fontsize=7,
                        color="white" if shares[i, j] > 0.5 else "black")
    acc = report.get("cat_accuracy")
    ax.set_title("% of each category's samples" + (f"; matched accuracy {100 * acc:.1f} %" if acc is not None
                                                    else ""), fontsize=9)
    fig.colorbar(im, ax=ax, label="% of samples").ax.tick_params(labelsize=8)
    return _rgb(fig)


def factor_heatmap(report: dict, width: int = 560, height: int = 320) -> np.ndarray | None:
    """Codes (rows) x factors (columns), coloured by r from -1 (blue) to +1 (red), values written in."""
    table = report.get("code_factor_r")
    if not table:
        return None
    codes = list(table)
    factors = list(next(iter(table.values())))
    r = np.array([[table[c].get(f, 0.0) for f in factors] for c in codes], np.float64)
    fig = Figure(figsize=(width / 100, height / 100), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    im = ax.imshow(r, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto", interpolation="nearest")
    ax.set_yticks(range(len(codes)), codes, fontsize=8)
    ax.set_xticks(range(len(factors)), factors, fontsize=8)
    for i in range(r.shape[0]):
        for j in range(r.shape[1]):
            ax.text(j, i, f"{r[i, j]:.2f}", ha="center", va="center", fontsize=8,
                    color="white" if abs(r[i, j]) > 0.6 else "black")
    ax.set_title("r (ordinal factors); eta or Cramér's V (shape, colour, digit)", fontsize=8)
    fig.colorbar(im, ax=ax).ax.tick_params(labelsize=8)
    return _rgb(fig)

"""GAN Lab's model overview graph as an SVG picture: noise -> G -> fake samples -> D <- real samples, D's
verdict on the plane, and the two losses, with small pictures of the data on each part; the parts at work
in a slow-motion sub-step are highlighted (orange outline) and the others dimmed.

`GraphView` holds what one picture shows (arrays and numbers, never a network). Views come from a
slow-motion sub-step (`view_of_substep`) or from a training snapshot (`GraphPainter.view`, which evaluates
its own copies of G and D, as gan_core.viz.plane does). `graph_svg(view)` draws it.
"""

from __future__ import annotations

import base64
import html
import io
import math
from dataclasses import dataclass, field

import numpy as np
import torch

from .. import models
from ..models import copies
from ..training.slowmo import PARTS, Round, SubStep, num
from . import plane
from .formula import g_gradient_sizes

WIDTH, HEIGHT = 760, 300
ACTIVE_RGB = "#e66101"
REAL, FAKE, ARROW = "#1b7837", "#762a83", "#e66101"
N_SHOWN = 150  # points drawn per picture
CURVE_ROWS = 120  # logged rows in each loss sparkline
HEAT_RES = 32


@dataclass(frozen=True)
class GraphView:
    """What one graph picture shows. Points are (n, 2) arrays in data units; `heat` is D's verdict in
    [0, 1] on a square grid (row 0 at the top); None leaves a picture empty."""

    loss: str  # the loss in force (names the loss boxes' formulas)
    extent: float  # the pictures span [-extent, extent]^2
    noise: np.ndarray | None = None  # (n, z) noise vectors (the first two numbers are drawn)
    noise_lim: float = 2.5  # the noise picture spans [-noise_lim, noise_lim]^2
    real: np.ndarray | None = None
    fake: np.ndarray | None = None
    fake_after: np.ndarray | None = None  # the fakes after G's step (drawn over the faded fakes)
    arrows: np.ndarray | None = None  # (n, 2) moves asked of the fakes (drawn scaled from each fake)
    heat: np.ndarray | None = None
    on_d: str = ""  # which points D's picture shows over its verdict: '', 'real' or 'fake'
    d_loss: float | None = None
    g_loss: float | None = None
    d_curve: tuple = ()  # recent logged D losses, oldest first
    g_curve: tuple = ()
    step: int = 0
    active: tuple = field(default_factory=tuple)  # the highlighted parts (names from slowmo.PARTS)
    title: str = ""  # a line under the graph (the sub-step's name, or the step)
    fake_values: np.ndarray | None = (
        None  # D's values on the fakes (probabilities or scores), for the G curve
    )
    grad_norm: float = float("nan")  # measured size of G's gradient under the loss in force
    grad_norm_ns: float = float("nan")  # ... and under the non-saturating loss, on the same fakes


def _png_uri(rgb: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _few(a: np.ndarray | None, n: int = N_SHOWN) -> np.ndarray | None:
    return None if a is None else np.asarray(a, np.float64)[:n]


def view_of_substep(rnd: Round, sub: SubStep, rows: list | tuple = ()) -> GraphView:
    """The graph at one sub-step of a slow-motion round; `rows`: the logged history for the sparklines."""
    a, v = sub.arrays, sub.values
    # the losses known at this sub-step: the round's own once computed, else those logged before the round
    d_curve, g_curve = _curves([r for r in rows if r.get("step", 0) < rnd.step])
    d_loss, g_loss = (d_curve[-1] if d_curve else None), (g_curve[-1] if g_curve else None)
    d_now = g_now = None
    for s in rnd.steps[: sub.number]:
        if "d_loss" in s.values:
            d_loss, d_now = (
                s.values["d_loss"],
                s.values["d_loss"] - s.values.get("gp", 0.0),
            )  # logged: no penalty
        if "g_loss" in s.values:
            g_loss = g_now = s.values["g_loss"]
    d_curve += () if d_now is None else (d_now,)
    g_curve += () if g_now is None else (g_now,)
    heat = a.get("heat_after") if sub.key == "d_step" else a.get("heat")
    on_d = "real" if sub.key == "d_real" else "fake" if sub.key in ("d_fake", "g_verdict") else ""
    noise = a.get("noise")
    return GraphView(
        loss=rnd.loss,
        extent=rnd.extent,
        noise=noise,
        noise_lim=_noise_lim(noise),
        real=a.get("real"),
        fake=a.get("fake"),
        fake_after=a.get("fake_after"),
        arrows=a.get("arrows"),
        heat=heat,
        on_d=on_d,
        d_loss=d_loss,
        g_loss=g_loss,
        d_curve=d_curve,
        g_curve=g_curve,
        step=rnd.step,
        active=sub.active,
        title=f"{sub.number}. {sub.title}",
        fake_values=a.get("d_fake") if sub.half == "g" else None,
        grad_norm=v.get("grad_norm", float("nan")),
        grad_norm_ns=v.get("grad_norm_ns", float("nan")),
    )


def _noise_lim(noise) -> float:
    if noise is None or not len(noise):
        return 2.5
    return 1.0 if float(np.abs(noise).max()) <= 1.0 else 2.5


def _curves(rows) -> tuple[tuple, tuple]:
    rows = [r for r in rows if "d_loss" in r and "g_loss" in r][-CURVE_ROWS:]
    return tuple(float(r["d_loss"]) for r in rows), tuple(float(r["g_loss"]) for r in rows)


class GraphPainter:
    """Graph views of one session's snapshots, from its own copies of G and D (never the live trainer)."""

    def __init__(self, n_points: int = N_SHOWN):
        self.n = n_points
        self._key = None
        self._real_key = None

    def view(self, snap) -> GraphView:
        cfg = snap.cfg
        key = (cfg.family, tuple(sorted(cfg.model.items())))
        if key != self._key:
            self.G, self.D, self._g, self._d = copies.trainer_layout(cfg.family, cfg.model, with_d=True)
            self.G.eval()
            self.D.eval()
            self.z = models.sample_latent(self.G.latent_spec, self.n, torch.Generator().manual_seed(2))
            self._key = key
        if self._real_key is not snap.data:
            self.real = snap.data.sample(self.n, torch.Generator().manual_seed(1)).numpy()
            self._real_key = snap.data
        copies.load_flat(self._g, snap.g_state)
        copies.load_flat(self._d, snap.d_state)
        ext = float(snap.data.extent)
        h = 2 * ext / HEAT_RES
        with torch.no_grad():
            fake = self.G(self.z).numpy()
            heat = plane.verdict(
                self.D, torch.linspace(-ext + h / 2, ext - h / 2, HEAT_RES), cfg.loss
            ).numpy()
        size, size_ns, values = g_gradient_sizes(self.G, self.D, self.z, cfg.loss)
        d_curve, g_curve = _curves(snap.rows)
        z = self.z.numpy()
        return GraphView(
            loss=cfg.loss,
            extent=ext,
            noise=z,
            noise_lim=_noise_lim(z),
            real=self.real,
            fake=fake,
            heat=heat,
            d_loss=d_curve[-1] if d_curve else None,
            g_loss=g_curve[-1] if g_curve else None,
            d_curve=d_curve,
            g_curve=g_curve,
            step=snap.step,
            title=f"step {snap.step:,}",
            fake_values=values,
            grad_norm=size,
            grad_norm_ns=size_ns,
        )


# ----- drawing ---------------------------------------------------------------------------------------------
BOX = 90  # picture size
LAYOUT = {  # part -> (x, y) of its picture or box
    "noise": (10, 150),
    "fake": (205, 150),
    "real": (205, 28),
    "D": (405, 90),
    "d_loss": (575, 28),
    "g_loss": (575, 170),
}
SHAPES = {"G": (130, 165, 175, 225), "D": (335, 105, 380, 165)}  # trapezoids: x0, y0, x1, y1
EDGE_PATHS = {
    "noise>G": "M100 195 L130 195",
    "G>fake": "M175 195 L205 195",
    "real>D": "M295 73 L335 120",
    "fake>D": "M295 195 L335 150",
    "D>d_loss": "M495 120 L575 75",
    "D>g_loss": "M495 150 L575 210",
}
UPDATE_PATHS = {
    "d_update": "M665 28 C665 4, 358 4, 358 105",
    "g_update": "M665 255 C665 296, 152 296, 152 225",
}
LABELS = {"noise": "noise z", "fake": "fake samples G(z)", "real": "real samples x", "D": "D's verdict"}


def graph_svg(view: GraphView) -> str:
    """The graph as an inline SVG string; each part is a <g data-part=NAME>, and the active ones carry
    class 'gx-active' (and an orange outline); the others are dimmed while something is active."""
    unknown = [p for p in view.active if p not in PARTS]
    if unknown:
        raise ValueError(f"unknown graph part {unknown[0]!r}")
    out = [
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {WIDTH} {HEIGHT}' width='100%' "
        f"style='max-width:{WIDTH}px;font-family:sans-serif' role='img' aria-label='the model graph'>",
        "<defs><marker id='gx-arrow' viewBox='0 0 10 10' refX='9' refY='5' markerWidth='6' markerHeight='6' "
        "orient='auto-start-reverse'><path d='M0 0 L10 5 L0 10 z' fill='#555'/></marker></defs>",
    ]
    if view.title:
        out.append(
            f"<text x='{WIDTH - 8}' y='{HEIGHT - 6}' text-anchor='end' font-size='12' fill='#333'>"
            f"{html.escape(view.title)}</text>"
        )
    out += _flow_arrows(view)
    out += _networks(view)
    for name in ("noise", "fake", "real"):
        out.append(_part(view, name, _picture_box(view, name)))
    for name in ("d_loss", "g_loss"):
        out.append(_part(view, name, _loss_box(view, name)))
    out.append("</svg>")
    return "".join(out)


def _flow_arrows(view: GraphView) -> list[str]:
    """The edges data flows along and the two dashed update arrows."""
    out = []
    for name, d in EDGE_PATHS.items():
        line = f"<path d='{d}' fill='none' stroke='{{stroke}}' stroke-width='{{width}}' "
        out.append(_part(view, name, line + "marker-end='url(#gx-arrow)'/>"))
    for name, d in UPDATE_PATHS.items():
        words = "update D's weights" if name == "d_update" else "update G's weights"
        x = 511 if name == "d_update" else 408
        y = 27 if name == "d_update" else 276
        line = f"<path d='{d}' fill='none' stroke='{{stroke}}' stroke-width='{{width}}' "
        out.append(_part(view, name, line + "stroke-dasharray='6 4' marker-end='url(#gx-arrow)'/>"
                         f"<text x='{x}' y='{y}' text-anchor='middle' font-size='11' fill='#555'>"
                         f"{words}</text>"))
    return out


def _networks(view: GraphView) -> list[str]:
    """G and D as trapezoids (D with its verdict picture beside it)."""
    out = []
    for name in ("G", "D"):
        x0, y0, x1, y1 = SHAPES[name]
        inset = 10
        pts = f"{x0},{y0} {x1},{y0 + inset} {x1},{y1 - inset} {x0},{y1}"
        inner = (
            f"<polygon points='{pts}' fill='#eef' stroke='{{stroke}}' stroke-width='{{width}}'/>"
            f"<text x='{(x0 + x1) / 2}' y='{(y0 + y1) / 2 + 6}' text-anchor='middle' font-size='18' "
            f"font-weight='bold' fill='#333'>{name}</text>"
        )
        if name == "D":
            inner += _picture_box(view, "D")
        out.append(_part(view, name, inner))
    return out


def _part(view: GraphView, name: str, inner: str) -> str:
    on = name in view.active
    dim = bool(view.active) and not on
    inner = inner.replace("{stroke}", ACTIVE_RGB if on else "#777").replace("{width}", "3" if on else "1.3")
    cls = "gx-part gx-active" if on else "gx-part"
    return f"<g data-part='{name}' class='{cls}' opacity='{0.35 if dim else 1}'>{inner}</g>"


def _to_box(p: np.ndarray, lim: float, x: float, y: float) -> tuple[np.ndarray, np.ndarray]:
    s = BOX / (2 * lim)
    return x + (p[:, 0] + lim) * s, y + (lim - p[:, 1]) * s


def _dots(
    p: np.ndarray | None, lim: float, x: float, y: float, color: str, r: float = 1.6, opacity: float = 0.85
) -> str:
    p = _few(p)
    if p is None or not len(p):
        return ""
    if p.shape[1] == 1:  # a 1-number noise: drawn on a line
        p = np.concatenate([p, np.zeros_like(p)], 1)
    cx, cy = _to_box(p[:, :2], lim, x, y)
    keep = (cx >= x) & (cx <= x + BOX) & (cy >= y) & (cy <= y + BOX) & np.isfinite(cx) & np.isfinite(cy)
    return "".join(
        f"<circle cx='{a:.1f}' cy='{b:.1f}' r='{r}' fill='{color}' fill-opacity='{opacity}'/>"
        for a, b in zip(cx[keep], cy[keep])
    )


def _arrows(view: GraphView, x: float, y: float) -> str:
    if view.arrows is None or view.fake is None:
        return ""
    p, v = _few(view.fake), _few(view.arrows)
    norm = np.linalg.norm(v, axis=1)
    top = float(np.percentile(norm, 95)) if len(norm) else 0.0
    if not math.isfinite(top) or top <= 0:
        return ""
    end = p + v / top * 0.15 * view.extent
    ax, ay = _to_box(p, view.extent, x, y)
    bx, by = _to_box(end, view.extent, x, y)
    return "".join(
        f"<line x1='{a:.1f}' y1='{b:.1f}' x2='{c:.1f}' y2='{d:.1f}' stroke='{ARROW}' stroke-width='1'/>"
        for a, b, c, d in zip(ax, ay, bx, by)
    )


def _heat_image(heat: np.ndarray | None, x: float, y: float) -> str:
    if heat is None:
        return ""
    idx = (np.clip(np.nan_to_num(np.asarray(heat, np.float64), nan=0.5), 0, 1) * 255).astype(np.uint8)
    rgb = np.take(plane.LUT, idx, axis=0)
    return (
        f"<image href='{_png_uri(rgb)}' x='{x}' y='{y}' width='{BOX}' height='{BOX}' "
        "preserveAspectRatio='none' style='image-rendering:auto'/>"
    )


def _picture_box(view: GraphView, name: str) -> str:
    x, y = LAYOUT[name]
    parts = [
        f"<rect x='{x}' y='{y}' width='{BOX}' height='{BOX}' fill='#fff' stroke='{{stroke}}' "
        f"stroke-width='{{width}}'/>"
    ]
    ext = view.extent
    if name == "noise":
        parts.append(_dots(view.noise, view.noise_lim, x, y, "#444"))
    elif name == "real":
        parts.append(_dots(view.real, ext, x, y, REAL))
    elif name == "fake":
        moved = view.fake_after is not None
        parts.append(_dots(view.fake, ext, x, y, FAKE, opacity=0.3 if moved else 0.85))
        parts.append(_arrows(view, x, y))
        if moved:
            parts.append(_dots(view.fake_after, ext, x, y, FAKE))
    elif name == "D":
        parts.append(_heat_image(view.heat, x, y))
        if view.on_d == "real":
            parts.append(_dots(view.real, ext, x, y, REAL))
        elif view.on_d == "fake":
            parts.append(_dots(view.fake, ext, x, y, FAKE))
        parts.append(
            f"<rect x='{x}' y='{y}' width='{BOX}' height='{BOX}' fill='none' stroke='{{stroke}}' "
            f"stroke-width='{{width}}'/>"
        )
    parts.append(
        f"<text x='{x + BOX / 2}' y='{y - 5}' text-anchor='middle' font-size='11' fill='#333'>"
        f"{LABELS[name]}</text>"
    )
    return "".join(parts)


def _loss_box(view: GraphView, name: str) -> str:
    x, y = LAYOUT[name]
    w, h = 170, 82
    value = view.d_loss if name == "d_loss" else view.g_loss
    curve = view.d_curve if name == "d_loss" else view.g_curve
    who = "D's loss" if name == "d_loss" else "G's loss"
    shown = "—" if value is None or not math.isfinite(value) else num(value)
    parts = [
        f"<rect x='{x}' y='{y}' width='{w}' height='{h}' rx='6' fill='#fafafa' stroke='{{stroke}}' "
        f"stroke-width='{{width}}'/>",
        f"<text x='{x + 8}' y='{y + 18}' font-size='13' fill='#333'>{who} = "
        f"<tspan font-weight='bold'>{shown}</tspan></text>",
    ]
    c = np.asarray([v for v in curve if math.isfinite(v)], np.float64)
    if len(c) >= 2:
        lo, hi = float(c.min()), float(c.max())
        span = hi - lo if hi > lo else 1.0
        xs = x + 8 + np.linspace(0, w - 16, len(c))
        ys = y + h - 8 - (c - lo) / span * (h - 36)
        pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(xs, ys))
        color = "#1f77b4" if name == "d_loss" else "#d62728"
        parts.append(f"<polyline points='{pts}' fill='none' stroke='{color}' stroke-width='1.3'/>")
    else:
        parts.append(
            f"<text x='{x + 8}' y='{y + 50}' font-size='11' fill='#777'>the curve starts with training</text>"
        )
    return "".join(parts)


def graph_html(view: GraphView) -> str:
    """The SVG in a block for a page (an HTML component)."""
    return f"<div class='gx-graph'>{graph_svg(view)}</div>"

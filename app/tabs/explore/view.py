"""What the latent explorer shows for a visitor's state: the live picture's HTML (an <img> fed by the
render route), the readout of the point in words, the sliders of the current page and the model's
description. `ExploreView` is the base of the tab's handler classes: it holds the app context and the
widgets and finds the caller's explorer state."""

from __future__ import annotations

import html
import math
from pathlib import Path

import gradio as gr

from gan_core.explore import readout

from .state import BASES, ROUTE, SLIDERS, SLOT, VIEW_PX, ExploreSession


class ExploreView:
    """Handlers' base: bound to the tab's widgets `w` and the app context `ctx`."""

    def __init__(self, ctx, w):
        self.ctx, self.w = ctx, w

    # ----- outputs ---------------------------------------------------------------------------------------
    @property
    def point_outputs(self) -> list:
        w = self.w
        return [w.view, w.readout, w.psi, w.page, *w.sliders]

    @property
    def model_outputs(self) -> list:
        w = self.w
        return [w.source, w.info, w.seed, w.label, w.basis, *self.point_outputs]

    def _state(self, request: gr.Request) -> ExploreSession:
        return self.ctx.sessions.slot(request, SLOT)

    def _out_dir(self, request) -> Path:
        d = self.ctx.session_dir(getattr(request, "session_hash", "") or "") / "explore"
        d.mkdir(parents=True, exist_ok=True)
        return d

    def view_html(self, s: ExploreSession) -> str:
        """The live picture: an <img> fed by the render route (the token is this visitor's own)."""
        if s.model is None:
            return "<div class='lx-empty'>No model yet.</div>"
        s.renders += 1
        aspect = 1 if s.model.kind == "image" else 2  # width / height (a 2D point's frame has two panels)
        # as large as the window allows (app.common.layout: --gx-pic-h), VIEW_PX high without it
        style = (f"width:calc(var(--gx-pic-h, {VIEW_PX}px) * {aspect});max-width:100%;"
                 "image-rendering:pixelated;border:1px solid #ccc")
        return (f"<img class='lx-img' data-token='{html.escape(s.token)}' alt='the generator at the current "
                f"point' src='{ROUTE.lstrip('/')}?t={html.escape(s.token)}&amp;r=s{s.renders}' style='{style};display:block'>"
                f"<canvas class='lx-canvas' style='{style};display:none'></canvas>")

    def readout(self, s: ExploreSession) -> str:
        """What the point is, in words: seed, slider moves, psi, and what the evaluator reads."""
        m = s.require()
        moves = []
        for basis in BASES:
            labels = s.direction_labels(basis)
            for lab, v in zip(labels, s.values(basis)):
                if abs(v) > 1e-6:
                    moves.append(f"{lab.split(' (')[0]} {v:+.2f}")
        base = f"seed {s.seed}" if s.extras.get("base") != "inverted" else "the inverted latent"
        txt = f"**Point:** {base}" + (f" + {', '.join(moves[:8])}" + (" …" if len(moves) > 8 else "") if moves else "")
        txt += f" · psi {s.psi:.2f}"
        if m.n_classes:
            txt += f" · class {s.label}"
        z = s.point()
        txt += f" · ‖z‖ = {float(z.norm()):.2f} (typical ‖z‖ ≈ {math.sqrt(m.z_dim):.1f})"
        read = readout.classify(m, s.output()) if m.kind == "image" else None
        if read:
            txt += f"  \nThe {read['kind']} classifier reads **{read['name']}** ({100 * read['confidence']:.0f} % sure)."
        if m.kind == "2d":
            txt += ("  \nLeft: the latent plane through the point (spanned by the first two directions) with a "
                    "regular grid. Right: the data plane with real points (green), generated points (light "
                    "purple), that grid pushed through G, and the point's output G(z) (orange).")
        return txt

    def point_view(self, s: ExploreSession, sliders: bool = True) -> dict:
        """Picture, readout and (optionally) the sliders of the current page."""
        w = self.w
        out = {w.view: self.view_html(s), w.readout: self.readout(s), w.psi: gr.Slider(value=s.psi)}
        if not sliders:
            return {**out, w.page: gr.skip(), **{sl: gr.skip() for sl in w.sliders}}
        labels, vals, sl = s.direction_labels(), s.values(), s.page_slice()
        pages = s.pages()
        out[w.page] = gr.Dropdown(choices=[(self._page_label(i, len(vals)), i) for i in range(pages)],
                                  value=s.page, visible=pages > 1)
        for i, slider in enumerate(w.sliders):
            j = sl.start + i
            if j < sl.stop:
                out[slider] = gr.Slider(value=float(vals[j]), label=labels[j], visible=True)
            else:
                out[slider] = gr.Slider(value=0, label=f"direction {i + 1}", visible=False)
        return out

    @staticmethod
    def _page_label(i: int, n: int) -> str:
        return f"Directions {i * SLIDERS + 1}-{min(n, (i + 1) * SLIDERS)} of {n}"

    def model_view(self, s: ExploreSession) -> dict:
        w, m = self.w, s.require()
        d = s.bases["pca"]
        top = ", ".join(f"{100 * float(e):.1f}" for e in d.explained[:4])
        where = "the latent samples" if d.source == "z" else f"G's layer `{d.source}`"
        info = (f"**{html.escape(m.name)}** · {m.family} generator at step {m.step} · z has {m.z_dim} dimensions"
                + (f" · {m.n_classes} classes" if m.n_classes else "")
                + (f" (the last {m.spec.n_cat + m.spec.n_cont} are InfoGAN codes: "
                   + ", ".join(p for p in (f"a {m.spec.n_cat}-way category" if m.spec.n_cat else "",
                                           f"{m.spec.n_cont} continuous" if m.spec.n_cont else "") if p) + ")"
                   if m.spec.has_codes else "")
                + f"  \nPrincipal directions: PCA of {where} (GANSpace), regressed back to z; the first "
                  f"explain {top} % of its variance.")
        choices = [(f"{k}", k) for k in range(m.n_classes)]
        return {w.source: s.source, w.info: info, w.seed: s.seed,
                w.label: gr.Dropdown(choices=choices, value=s.label, visible=bool(m.n_classes)),
                w.basis: gr.Radio(value=s.basis), **self.point_view(s)}


def tradeoff_picture(rows: list[dict], width: int = 480, height: int = 300):
    """Fidelity and variety against psi as a small plot (uint8 RGB): fidelity on the left axis (blue),
    variety on the right (orange), psi growing to the right; None when the rows hold neither."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = sorted(rows, key=lambda r: r["psi"])
    fid = next((k for k in (rows[0] if rows else {}) if k.startswith("fidelity")), None)
    var = next((k for k in (rows[0] if rows else {}) if k.startswith("variety")), None)
    if not rows or (fid is None and var is None):
        return None
    psi = [r["psi"] for r in rows]
    fig = Figure(figsize=(width / 100, height / 100), dpi=100, layout="constrained")
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_xlabel("psi (truncation; 1 = none)", fontsize=11)
    ax.grid(alpha=0.3)
    ax.margins(x=0.06, y=0.12)  # no point sits on the frame
    lines = []
    if fid is not None:
        lines += ax.plot(psi, [r[fid] for r in rows], "o-", color="#1f5fbf", lw=2.5, ms=7, label=fid)
        ax.set_ylabel(fid, color="#1f5fbf", fontsize=10)
        ax.tick_params(axis="y", colors="#1f5fbf")
    if var is not None:
        ax2 = ax.twinx() if fid is not None else ax
        ax2.margins(x=0.06, y=0.12)
        lines += ax2.plot(psi, [r[var] for r in rows], "s--", color="#e66101", lw=2.5, ms=7, label=var)
        ax2.set_ylabel(var, color="#e66101", fontsize=10)
        ax2.tick_params(axis="y", colors="#e66101")
    ax.set_title("Fidelity (blue) and variety (orange) against psi", fontsize=11)
    ax.tick_params(labelsize=10)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def tradeoff_table(rows: list[dict]):
    """The trade-off's numbers as a table (one row per psi)."""
    import pandas as pd

    cols = ["psi"] + [k for k in (rows[0] if rows else {}) if k != "psi"]
    return pd.DataFrame([[r.get(c) for c in cols] for r in rows], columns=cols)

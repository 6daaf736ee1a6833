"""What GANPaint shows for a visitor's state: the picture's HTML (an <img> of the current picture under a
canvas the page script draws on), the class-change table, the model's description and the unit viewer.
`PaintView` is the base of the tab's handler class."""

from __future__ import annotations

import html

import gradio as gr
import pandas as pd

from .state import ROUTE_RENDER, SLOT, VIEW_PX, PaintSession


def change_rows(rows: list[dict]) -> str:
    return "".join(f"<tr><td>{html.escape(r['class'])}</td><td>{r['before']}</td><td>{r['after']}</td>"
                   f"<td>{r['change']:+d}</td></tr>" for r in rows)


class PaintView:
    def __init__(self, ctx, w):
        self.ctx, self.w = ctx, w

    def _state(self, request: gr.Request) -> PaintSession:
        return self.ctx.sessions.slot(request, SLOT)

    def view_html(self, s: PaintSession) -> str:
        if s.painter is None:
            return "<div class='gp-empty'>" + ("This generator makes 2D points: there is no picture to paint; "
                                              "see its units in the unit viewer below." if s.model else
                                              "No model yet.") + "</div>"
        p = s.painter
        gh, gw = p.grid
        t = html.escape(s.token)
        style = f"width:{VIEW_PX}px;height:{VIEW_PX}px;image-rendering:pixelated"
        table = ""
        if p.brushes:
            table = ("<table class='gp-table' style='font-size:0.9em'><thead><tr><th>class</th><th>before</th>"
                     f"<th>after</th><th>change</th></tr></thead><tbody class='gp-change'>{change_rows(s.change())}"
                     "</tbody></table><div style='font-size:0.8em'>segmented pixels of the picture</div>")
        s.renders += 1
        n = f"{len(p.strokes)}-{s.renders}"
        return (f"<div style='display:flex;gap:12px;flex-wrap:wrap;align-items:flex-start'>"
                f"<div style='position:relative;{style};border:1px solid #ccc;touch-action:none'>"
                f"<img class='gp-img' alt='the painted picture' src='{ROUTE_RENDER.lstrip('/')}?t={t}&amp;r={n}-{s.seed}' "
                f"style='{style};position:absolute;top:0;left:0'>"
                f"<canvas class='gp-canvas' data-token='{t}' data-gh='{gh}' data-gw='{gw}' "
                f"style='{style};position:absolute;top:0;left:0;cursor:crosshair'></canvas></div>"
                f"<div>{table}<div class='gp-msg' style='color:#b2182b'></div></div></div>")

    def info(self, s: PaintSession) -> str:
        m = s.model
        if m is None:
            return ""
        txt = f"**{html.escape(m.name)}** · {m.family} generator at step {m.step}"
        p = s.painter
        if p is None:
            return txt + " · 2D points: the unit viewer shows each hidden unit over the latent and the data plane."
        d = p.d
        txt += (f" · layer `{d.layer}`: {d.units} units on a {p.grid[0]}x{p.grid[1]} map, thresholds at their "
                f"{100 * d.level:g}th percentile, dissected over {d.samples} samples")
        if not p.brushes:
            txt += " · no segmenter for this data, so no class brushes (the unit viewer still works)"
        a = s.artifacts
        if s.remove_artifacts and a and a["units"]:
            txt += f" · artifact units {', '.join(map(str, a['units']))} of `{a['layer']}` removed"
        return txt + f" · {len(p.strokes)} strokes"

    def counts_frame(self, s: PaintSession) -> pd.DataFrame:
        p = s.painter
        if p is None or p.d.iou is None:
            return pd.DataFrame({"class": [], "units": []})
        c = p.d.counts()
        return pd.DataFrame({"class": list(c), "units": list(c.values())})

    def picture_view(self, s: PaintSession) -> dict:
        return {self.w.view: self.view_html(s), self.w.info: self.info(s)}

    def model_view(self, s: PaintSession) -> dict:
        w, p = self.w, s.painter
        brushes = p.brushes if p is not None else []
        default = "tree" if "tree" in brushes else (brushes[0] if brushes else None)
        return {w.source: s.source, w.seed: s.seed,
                w.brush: gr.Radio(choices=brushes, value=default),
                w.rank_class: gr.Dropdown(choices=[("(unit number)", "")] + [(b, b) for b in brushes], value=""),
                w.counts: self.counts_frame(s), **self.artifact_view(s), **self.picture_view(s)}

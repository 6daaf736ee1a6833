"""GANPaint's event handlers. Each finds the caller's painter state, calls the core (gan_core.inspect.paint)
and returns widget values; bad input becomes a gr.Error naming the control, and the state is left as it
was. Strokes drawn with the pointer go through the fast route (.route); `stroke` here is the same
action for the keyboard and for scripts (a list of cells)."""

from __future__ import annotations

import re

import gradio as gr
import numpy as np
import torch

from gan_core.inspect import Trace, paint
from gan_core.inspect.dissect import layer_path

from ...common.guard import guarded
from .artifacts import ArtifactEvents
from .state import MAX_SEED, PaintSession
from .view import PaintView

CELL_RE = re.compile(r"^\s*(\d{1,3})\s*,\s*(\d{1,3})\s*$")


def parse_cells(text, grid: tuple[int, int]) -> torch.Tensor:
    """'row,col row,col ...' -> (h, w) bool; ValueError naming the Cells box."""
    h, w = grid
    text = str(text or "").strip()
    if not text:
        raise ValueError(f"Cells is empty: give row,col pairs of the {h}x{w} grid, e.g. 4,2 4,3")
    if len(text) > 4000:
        raise ValueError("Cells is too long")
    mask = torch.zeros(h, w, dtype=torch.bool)
    for part in text.replace(";", " ").split():
        m = CELL_RE.match(part)
        if not m:
            raise ValueError(f"Cells: {part[:20]!r} is not a row,col pair")
        r, c = int(m.group(1)), int(m.group(2))
        if not (0 <= r < h and 0 <= c < w):
            raise ValueError(f"Cells: {r},{c} is outside the {h}x{w} grid (rows and columns 0..{h - 1})")
        mask[r, c] = True
    return mask


def _int(v, lo: int, hi: int, label: str) -> int:
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{label} must be a whole number, got {str(v)[:20]!r}") from None
    if not x.is_integer() or not lo <= x <= hi:
        raise ValueError(f"{label} must be a whole number from {lo} to {hi}, got {v}")
    return int(x)


def _float(v, lo: float, hi: float, label: str) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{label} must be a number, got {str(v)[:20]!r}") from None
    if not lo <= x <= hi:
        raise ValueError(f"{label} must be between {lo:g} and {hi:g}, got {v}")
    return x


class PaintEvents(ArtifactEvents, PaintView):
    def _load(self, request, s: PaintSession, source: str) -> None:
        model, step = self.ctx.models.load(self.ctx.sessions.visitor(request), source)
        s.set_model(model, source, step)

    @guarded
    def init(self, request: gr.Request):
        """Tab opened: the scenes generator the first time (the one with brushes); a live model again
        when it trained since."""
        s = self._state(request)
        with s.lock:
            service = self.ctx.models
            if s.model is None:
                ckpts = [v for _, v in service.source_choices() if v.startswith("ckpt:")]
                scenes = [v for v in ckpts if "scenes" in v]
                self._load(request, s, (scenes or ckpts or ["live:image"])[0])
            elif service.is_live(s.source):
                snap = service.live_snapshot(self.ctx.sessions.visitor(request), s.source)
                if snap.step != s.source_step:
                    self._load(request, s, s.source)
            return self.model_view(s)

    @guarded
    def use_source(self, request: gr.Request, source):
        s = self._state(request)
        with s.lock:
            self._load(request, s, source)
            return self.model_view(s)

    @guarded
    def set_seed(self, request: gr.Request, seed):
        s = self._state(request)
        with s.lock:
            s.require()
            s.set_seed(_int(seed, 0, MAX_SEED, "Seed"))
            return {self.w.seed: s.seed, **self.picture_view(s)}

    @guarded
    def random_seed(self, request: gr.Request):
        return self.set_seed(request, int(np.random.default_rng().integers(0, 100_000)))

    @guarded
    def stroke(self, request: gr.Request, brush, action, strength, units, cells):
        s = self._state(request)
        with s.lock:
            p = s.require()
            if not p.brushes:
                raise ValueError("This generator has no segmenter, so there are no class brushes.")
            if brush not in p.brushes:
                raise ValueError(f"Brush must be one of {', '.join(p.brushes)}, got {str(brush)[:20]!r}")
            if action not in paint.ACTIONS:
                raise ValueError(f"Action must be add or remove, got {str(action)[:20]!r}")
            st = p.stroke(brush, action, parse_cells(cells, p.grid),
                          _float(strength, 0, 10, "Strength"), _int(units, 1, min(paint.MAX_UNITS, p.d.units), "Units"))
            s.apply(-1 - len(p.strokes), st)  # a fresh id: never the page's running stroke
            return self.picture_view(s)

    @guarded
    def undo(self, request: gr.Request):
        s = self._state(request)
        with s.lock:
            s.undo()
            return self.picture_view(s)

    @guarded
    def reset(self, request: gr.Request):
        s = self._state(request)
        with s.lock:
            s.reset()
            return self.picture_view(s)

    @guarded
    def show_unit(self, request: gr.Request, unit, rank_class):
        """The unit viewer: a unit by number, or the unit of that rank by IoU with a class."""
        s = self._state(request)
        with s.lock:
            if s.model is None:
                raise ValueError("No model yet: choose one under 'Model' first.")
            if s.painter is None:
                return self._points_unit(s, unit)
            d, G = s.painter.d, s.painter.G
            n = _int(unit, 0, d.units - 1, "Unit")
            what = f"Unit {n}"
            if rank_class:
                n = d.ranked(str(rank_class))[n]
                what = f"Unit {n} (number {_int(unit, 0, d.units - 1, 'Unit') + 1} by IoU with {rank_class})"
            mean, tops = paint.unit_views(G, d, s.painter.z, n, s.painter.labels)
            txt = f"{what}: threshold {float(d.thresholds[n]):.3g} (its {100 * d.level:g}th percentile)"
            if d.iou is not None:
                best = d.iou[n].argsort(descending=True)[:3].tolist()
                txt += " · IoU " + ", ".join(f"{d.class_names[k]} {float(d.iou[n, k]):.3f}" for k in best)
            scale = max(1, 128 // mean.shape[0])
            big = lambda a: np.kron(a, np.ones((scale, scale, 1), np.uint8))  # noqa: E731
            return {self.w.unit_info: txt, self.w.mean_map: big(mean), self.w.top: [big(t) for t in tops]}

    def _points_unit(self, s: PaintSession, unit):
        G = s.model.G
        path = layer_path(G, None, s.model.family)
        with torch.no_grad(), Trace(G, path) as tr:
            G(torch.zeros(1, G.latent_spec.z_dim))
        width = tr.output.shape[1]
        n = _int(unit, 0, width - 1, "Unit")
        lat, data = paint.points_unit_view(G, path, n)
        txt = (f"Unit {n} of layer `{path}` ({width} units): left, its activation over the latent plane "
               f"(z in [-3, 3]²); right, the same activations at G's output points on the data plane.")
        return {self.w.unit_info: txt, self.w.mean_map: lat, self.w.top: [data]}

"""Event handlers of the latent explorer tab for the model and the point: choosing a model, seed, class,
basis, page, slider moves, reset and saved directions. Each finds the caller's explorer state, calls the
core (gan_core.explore.latent) and returns widget values; bad input becomes a gr.Error with a one-line
reason and the state is left as it was.

The explorer works on a frozen copy of a model from the current-model service (app.common.models): the
visitor's live model on Train (images) or Train (2D) (copied again whenever the tab is opened after more
training) or a shipped checkpoint.
"""

from __future__ import annotations

import html
import re
import time

import gradio as gr
import numpy as np

from gan_core.explore import latent as lx

from ...common.guard import guarded
from .parse import MAX_SEED, int_in
from .state import BASES, PSI_MAX, SLIDER_MAX, ExploreSession, check_psi
from .view import ExploreView


class ExploreEvents(ExploreView):
    """The model and the point."""

    # ----- choosing a model ---------------------------------------------------------------------------------
    def _load_source(self, request, s: ExploreSession, source: str) -> None:
        model, step = self.ctx.models.load(self.ctx.sessions.visitor(request), source)
        s.set_model(model, source, step)

    @guarded
    def init(self, request: gr.Request):
        """Tab opened: choose a model the first time; copy a live model again if it trained since."""
        s = self._state(request)
        with s.lock:
            service, visitor = self.ctx.models, self.ctx.sessions.visitor(request)
            if s.model is None:
                self._load_source(request, s, service.default_source(visitor))
            elif service.is_live(s.source):
                snap = service.live_snapshot(visitor, s.source)
                if snap.step != s.source_step:
                    self._load_source(request, s, s.source)
            return self.model_view(s)

    @guarded
    def use_source(self, request: gr.Request, source):
        s = self._state(request)
        with s.lock:
            self._load_source(request, s, source)
            return self.model_view(s)

    # ----- the point -----------------------------------------------------------------------------------------
    @guarded
    def set_seed(self, request: gr.Request, seed):
        s = self._state(request)
        with s.lock:
            s.require()
            s.set_seed(int_in(seed, 0, MAX_SEED, "seed"))
            s.extras.pop("base", None)
            return {self.w.seed: s.seed, **self.point_view(s, sliders=False)}

    @guarded
    def random_seed(self, request: gr.Request):
        return self.set_seed(request, int(np.random.default_rng().integers(0, 100_000)))

    @guarded
    def set_label(self, request: gr.Request, label):
        s = self._state(request)
        with s.lock:
            m = s.require()
            if not m.n_classes:
                raise ValueError("this generator has no classes")
            s.label = int_in(label, 0, m.n_classes - 1, "class")
            return self.point_view(s, sliders=False)

    @guarded
    def set_basis(self, request: gr.Request, basis):
        s = self._state(request)
        with s.lock:
            s.require()
            if basis not in BASES:
                raise ValueError(f"basis must be one of {', '.join(BASES)}, got {str(basis)[:30]!r}")
            if basis not in s.bases and basis != "saved":
                raise ValueError(f"{BASES[basis]} need a style-based generator (one with a mapping network)")
            if basis == "saved" and not s.saved:
                raise ValueError("No saved directions yet: move some sliders, name the move and press "
                                 "'Save direction'.")
            s.basis, s.page = basis, 0
            return self.point_view(s)

    @guarded
    def set_page(self, request: gr.Request, page):
        s = self._state(request)
        with s.lock:
            s.require()
            s.page = int_in(page, 0, s.pages() - 1, "page")
            return self.point_view(s)

    @guarded
    def move(self, request: gr.Request, psi, *values):
        """Slider released (the live picture already follows the drag through the render route): keep the
        values and say what the point is."""
        s = self._state(request)
        with s.lock:
            s.require()
            try:
                s.psi = check_psi(float(psi))
            except (TypeError, ValueError):
                raise ValueError(f"psi must be a number between 0 and {PSI_MAX:g}, got {psi!r}") from None
            try:
                vals = [float(v) for v in values]
            except (TypeError, ValueError):
                raise ValueError(f"slider values must be numbers within +-{SLIDER_MAX:g}") from None
            s.set_page_values(vals)
            return {self.w.view: gr.skip(), self.w.readout: self.readout(s)}

    @guarded
    def reset(self, request: gr.Request):
        s = self._state(request)
        with s.lock:
            s.require()
            s.reset_sliders()
            return self.point_view(s)

    @guarded
    def save_direction(self, request: gr.Request, name):
        s = self._state(request)
        with s.lock:
            s.require()
            name = str(name or "").strip()
            if not re.fullmatch(r"[\w .+\-]{1,40}", name):
                raise ValueError("Name the direction first (1-40 letters, digits, spaces, . + -).")
            d = s.displacement()
            if float(d.norm()) < 1e-6:
                raise ValueError("All sliders are at 0: move some sliders to the change you want, then save it.")
            if len(s.saved) >= 32 and name not in s.saved:
                raise ValueError("32 directions are saved already; that is the limit.")
            s.saved[name] = d.clone()
            gr.Info(f"Saved direction '{name}' (length {float(d.norm()):.2f} in z). Choose 'Saved "
                    "directions' to apply it with a slider to any seed.")
            return {self.w.saved_list: self._saved_md(s)}

    @staticmethod
    def _saved_md(s: ExploreSession) -> str:
        if not s.saved:
            return "No saved directions yet."
        return "Saved: " + ", ".join(f"**{html.escape(k)}** (‖d‖ {float(v.norm()):.2f})" for k, v in s.saved.items())

    @guarded
    def download(self, request: gr.Request):
        s = self._state(request)
        with s.lock:
            pic = s.picture(scale=s.display_scale())
        path = self._out_dir(request) / f"point-seed{s.seed}-{time.strftime('%H%M%S')}.png"
        path.write_bytes(lx.png_bytes(pic, compress=6))
        return gr.DownloadButton(value=str(path), label=f"Download {path.name}", visible=True)

"""Event handlers of the Code knobs tab. Each finds the caller's knob state, calls the core
(gan_core.explore.codes, gan_core.metrics.codes, gan_core.viz.codes) and returns widget values; bad input
becomes a gr.Error with a one-line reason naming the control, and the state is left as it was.

The tab works on a frozen copy of a generator from the current-model service (app.common.models): the
visitor's live model on Train (images) (copied again whenever the tab is opened after more training) or a
shipped checkpoint, whose discriminator's Q head also gives the information bound.
"""

from __future__ import annotations

import html

import gradio as gr
import numpy as np
import torch

from gan_core import checkpoint
from gan_core.explore import codes as cx
from gan_core.explore import readout as rd
from gan_core.metrics import codes as mc
from gan_core.metrics import image_eval
from gan_core.viz import codes as vc
from gan_core.viz import explore as vx

from ...common.guard import guarded
from .state import KNOBS, MAX_SEED, ROUTE, SLOT, VIEW_PX, CodesSession

REPORT_SAMPLES = 1000


def _int_in(v, lo: int, hi: int, what: str) -> int:
    try:
        x = float(v)
        ok = x == int(x)
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok or not lo <= int(x) <= hi:
        raise ValueError(f"{what} must be a whole number from {lo} to {hi}, got {str(v)[:20]!r}")
    return int(x)


def _seeds(text, limit: int) -> list[int]:
    parts = [p for p in str(text or "").replace(" ", "").split(",") if p]
    if not 1 <= len(parts) <= limit:
        raise ValueError(f"Seeds must list 1 to {limit} whole numbers separated by commas, got {str(text)[:30]!r}")
    return [_int_in(p, 0, MAX_SEED, "Seeds") for p in parts]


class CodesEvents:
    def __init__(self, ctx, w):
        self.ctx, self.w = ctx, w

    def _state(self, request) -> CodesSession:
        return self.ctx.sessions.slot(request, SLOT)

    # ----- outputs -------------------------------------------------------------------------------------
    @property
    def model_outputs(self) -> list:
        w = self.w
        return [w.source, w.info, w.seed, w.cat, *w.knobs, w.view, w.readout, w.sweep_code]

    @property
    def point_outputs(self) -> list:
        return [self.w.view, self.w.readout]

    def view_html(self, s: CodesSession) -> str:
        s.renders += 1
        style = f"width:{VIEW_PX}px;max-width:100%;image-rendering:pixelated;border:1px solid #ccc"
        tok = html.escape(s.token)
        return (f"<img class='ck-img' data-token='{tok}' alt='the generator with the chosen codes' "
                f"src='{ROUTE.lstrip('/')}?t={tok}&amp;r=s{s.renders}' style='{style};display:block'>"
                f"<canvas class='ck-canvas' style='{style};display:none'></canvas>")

    def readout(self, s: CodesSession) -> str:
        m = s.require()
        spec = m.spec
        parts = [f"seed {s.seed}"]
        if spec.n_cat:
            parts.append(f"category {s.cat}")
        parts += [f"code {i + 1} {v:+.2f}" + (" (beyond training)" if abs(v) > cx.TRAIN_RANGE else "")
                  for i, v in enumerate(s.cont)]
        txt = "**Codes:** " + " · ".join(parts)
        read = rd.classify(m, m.generate(s.latent()))
        if read:
            sure = 100 * read["confidence"]
            txt += f"  \nThe {read['kind']} classifier reads **{read['name']}** ({sure:.0f} % sure)."
        return txt

    def point_view(self, s: CodesSession) -> dict:
        return {self.w.view: self.view_html(s), self.w.readout: self.readout(s)}

    def model_view(self, s: CodesSession) -> dict:
        w, m = self.w, s.require()
        spec = m.spec
        info = (f"**{html.escape(m.name)}** · step {m.step} · {spec.noise_dim} noise dimensions"
                + (f" · a {spec.n_cat}-way category" if spec.n_cat else "")
                + (f" · {spec.n_cont} continuous code{'s' if spec.n_cont != 1 else ''}" if spec.n_cont else "")
                + (f" (the first {KNOBS} have knobs)" if spec.n_cont > KNOBS else ""))
        mi = s.metrics.get(mc.MI_BOUND)
        if mi is not None and spec.n_cat:
            info += (f"  \nInformation bound at its last evaluation: {mi:.3f} of ln {spec.n_cat} = "
                     f"{np.log(spec.n_cat):.3f} nats.")
        out = {w.source: s.source, w.info: info, w.seed: s.seed,
               w.cat: gr.Radio(choices=[(str(k), k) for k in range(spec.n_cat)], value=s.cat if spec.n_cat else None,
                               visible=bool(spec.n_cat))}
        for i, k in enumerate(w.knobs):
            out[k] = gr.Slider(value=s.cont[i] if i < spec.n_cont else 0, visible=i < spec.n_cont)
        codes = ([("category (columns = categories)", "category")] if spec.n_cat else []) + \
            [(f"code {i + 1}", f"c{i + 1}") for i in range(spec.n_cont)]
        out[w.sweep_code] = gr.Dropdown(choices=codes, value=codes[-1][1] if codes else None)
        return {**out, **self.point_view(s)}

    # ----- the model -----------------------------------------------------------------------------------
    def _load(self, request, s: CodesSession, source: str) -> None:
        service, visitor = self.ctx.models, self.ctx.sessions.visitor(request)
        model, step = service.load(visitor, source)
        D, metrics = None, {}
        if service.is_live(source):
            metrics = service.live_snapshot(visitor, source).metrics
        else:
            ck = checkpoint.load(str(self.ctx.checkpoints_dir / source.split(":", 1)[1]), "cpu")
            D, metrics = (ck.D if mc.has_q(ck.D) else None), ck.metrics
        s.set_model(model, source, step, D, metrics)

    def _default_source(self, request) -> str:
        service, visitor = self.ctx.models, self.ctx.sessions.visitor(request)
        live = service.default_source(visitor)
        if service.is_live(live) and live == "live:image":
            return live
        ckpts = [v for _, v in service.source_choices() if v.startswith("ckpt:")]
        for name in ("digits-infogan", "shapes-infogan", "digits-dcgan"):
            found = [v for v in ckpts if name in v]
            if found:
                return found[0]
        return "live:image"

    @guarded
    def init(self, request: gr.Request):
        """Tab opened: choose a model the first time; copy a live model again if it trained since."""
        s = self._state(request)
        with s.lock:
            service = self.ctx.models
            if s.model is None:
                self._load(request, s, self._default_source(request))
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

    # ----- the knobs -----------------------------------------------------------------------------------
    @guarded
    def set_seed(self, request: gr.Request, seed):
        s = self._state(request)
        with s.lock:
            s.require()
            s.set_seed(_int_in(seed, 0, MAX_SEED, "Seed"))
            return {self.w.seed: s.seed, **self.point_view(s)}

    @guarded
    def random_seed(self, request: gr.Request):
        return self.set_seed(request, int(np.random.default_rng().integers(0, 100_000)))

    @guarded
    def move(self, request: gr.Request, cat, *values):
        """A knob released or the category picked (the picture already follows through the render route):
        keep the values and say what the codes are."""
        s = self._state(request)
        with s.lock:
            m = s.require()
            s.set_knobs(cat if m.spec.n_cat else None, list(values)[:m.spec.n_cont])
            return self.point_view(s)

    @guarded
    def reset(self, request: gr.Request):
        s = self._state(request)
        with s.lock:
            m = s.require()
            s.cont = [0.0] * m.spec.n_cont
            return {**{k: gr.Slider(value=0) for k in self.w.knobs}, **self.point_view(s)}

    # ----- sweeps and the report -----------------------------------------------------------------------
    @guarded
    def sweep(self, request: gr.Request, code, rows, seeds, cols, lo, hi):
        s = self._state(request)
        with s.lock:
            m = s.require()
            spec = m.spec
            n_cols = _int_in(cols, 2, cx.MAX_COLUMNS, "Columns")
            try:
                lo, hi = float(lo), float(hi)
            except (TypeError, ValueError):
                raise ValueError(f"From and To must be numbers from -{cx.KNOB_MAX:g} to {cx.KNOB_MAX:g}") from None
            if not (-cx.KNOB_MAX <= lo < hi <= cx.KNOB_MAX):
                raise ValueError(f"From and To must lie within -{cx.KNOB_MAX:g} to {cx.KNOB_MAX:g}, From below To")
            seed_list = _seeds(seeds, cx.MAX_ROWS)
            seeds_z = m.latents(seed_list)
            if code == "category":
                z = cx.category_latents(spec, s.base_z, seeds_z, s.cont)
                n_cols = spec.n_cat
                what = f"rows = seeds {', '.join(map(str, seed_list))}; columns = categories 0-{spec.n_cat - 1}"
            else:
                names = [f"c{i + 1}" for i in range(spec.n_cont)]
                if code not in names:
                    raise ValueError(f"Code along the columns must be one of {', '.join(names) or 'none'}, "
                                     f"got {str(code)[:20]!r}")
                values = cx.sweep_values(n_cols, lo, hi)
                idx = names.index(code)
                z = cx.sweep_latents(spec, s.base_z, rows, idx, values, seeds_z, s.cat, s.cont)
                rows_txt = (f"categories 0-{spec.n_cat - 1} (seed {s.seed})" if rows == "categories"
                            else f"seeds {', '.join(map(str, seed_list))} (category {s.cat})")
                what = (f"rows = {rows_txt}; columns = code {idx + 1} from {lo:+.2f} to {hi:+.2f}"
                        f" (trained on ±{cx.TRAIN_RANGE:g})")
            x = m.generate(z)
            scale = max(1, 48 // int(m.G.output_spec.size))
            return vx.image_grid(x, n_cols, scale), f"**Sweep:** {what}."

    @guarded
    def learn(self, request: gr.Request):
        s = self._state(request)
        with s.lock:
            m = s.require()
            kind = image_eval.kind_of(m.dataset) if getattr(m, "dataset", None) else None
            with torch.no_grad():
                rep = mc.code_report(m.G, s.D, kind, n=REPORT_SAMPLES, seed=0)
            if mc.MI_BOUND not in rep and mc.MI_BOUND in s.metrics:  # a live model: its last evaluation's
                rep[mc.MI_BOUND], rep[mc.MI_CEILING] = s.metrics[mc.MI_BOUND], s.metrics.get(mc.MI_CEILING)
            s.report = rep
            return (self.summary(rep, kind), vc.confusion_picture(rep), vc.factor_heatmap(rep), rep)

    @staticmethod
    def summary(rep: dict, kind: str | None) -> str:
        lines = []
        if mc.MI_BOUND in rep and rep.get(mc.MI_CEILING):
            lines.append(f"**Information bound** of the category: {rep[mc.MI_BOUND]:.3f} nats of its ceiling "
                         f"ln K = {rep[mc.MI_CEILING]:.3f} (Q reads the category back "
                         f"{'almost always' if rep[mc.MI_CEILING] - rep[mc.MI_BOUND] < 0.1 else 'only partly'}).")
        if mc.CAT_ACCURACY in rep:
            labels = rep["labels"]
            pairs = ", ".join(f"{c}→{labels[j]}" for c, j in enumerate(rep["matching"]) if j >= 0)
            what = "digit" if kind == "digits" else "shape"
            lines.append(f"**Category accuracy** against the {what} the evaluator reads, after the best "
                         f"matching: {100 * rep[mc.CAT_ACCURACY]:.1f} % (category→{what}: {pairs}).")
        table = rep.get(mc.CODE_FACTOR_R) or {}
        for code, row in table.items():
            if code == "category" or not row:
                continue
            fac, r = max(row.items(), key=lambda kv: abs(kv[1]))
            lines.append(f"**{code}** follows **{fac}** most (r = {r:+.2f}).")
        if kind is None:
            lines.append("No evaluator reads this dataset, so only the information bound is shown.")
        return "  \n".join(lines) or "Nothing to report."

"""The Mixing tab: style mixing on a style-based generator (StyleGAN's figure 3 and figure 4).

- The single large mix: A's styles with B's on the crossover layers (coarse, middle, fine or one
  checkbox per w), truncation psi with a layer cutoff, noise constant / random / off. While a control
  moves, the picture comes from the fast render route (.route, app/static/render_live.js), as the latent
  explorer's; on release `mixing_set` stores the values and updates the readout.
- The grid: A seeds as rows, B seeds as columns, the sources on the edges and the mixes inside.
- Stochastic variation: one w, many noises: the samples and the per-pixel standard deviation.

It works on the visitor's live model from Train (images) when that is style-based (preset
Shapes (style-based) or Scenes (style-based)) and on shipped style-based checkpoints.
"""

from __future__ import annotations

import html

import gradio as gr

from gan_core import models
from gan_core.explore import mixing as mx
from gan_core.explore import readout

from ...common.choices import QUIET
from ...common.render_route import live_script
from ...common.guard import guarded
from .route import make_routes
from .state import (MAX_SEED, NOISE_CHOICES, ROUTE, SLOT, VIEW_PX, MixingSession, check_settings,
                    slot_kind, whole)

TITLE = "Style mixing"
ORDER = 35
PREFIX = "mixing_"
__all__ = ["TITLE", "ORDER", "PREFIX", "build", "routes", "slot_kind"]

INTRO = ("A style-based generator maps z to **w**, and each synthesis layer takes its own copy of w as its "
         "*style*. Mixing gives the layers of A's image some of B's styles: B's **coarse** styles (4x4 and "
         "8x8) bring its shape and position, the **fine** ones (32x32) its colour. Noise adds per-pixel "
         "randomness that should change only details. Train one on *Train (images)* with the preset "
         "*Shapes (style-based)*, or use a shipped one.")
CROSS_LABELS = [("Coarse (4x4-8x8)", "coarse"), ("Middle (16x16)", "middle"), ("Fine (32x32)", "fine"),
                ("Custom (tick below)", "custom")]
MAX_GRID_SEEDS = mx.MAX_SEEDS


def live_js() -> str:
    """The page-side script of the fast path (app/static/render_live.js): the mixing controls."""
    return live_script("__mx", "mx", ROUTE, """
    const set = (k, v) => { if (v !== null && v !== '') p.set(k, v); };
    set('a', val('mx-a')); set('b', val('mx-b')); set('psi', val('mx-psi')); set('cut', val('mx-cut'));
    set('ns', val('mx-noise-seed')); set('cross', checked('mx-cross')); set('noise', checked('mx-noise'));
    const ws = Array.from(document.querySelectorAll('#mx-layers input:checked')).map((e) => e.value);
    p.set('w', ws.join(','));""", events=("input", "change"))


def style_sources(ctx) -> list[tuple[str, str]]:
    """The model sources that may be style-based: the live image model, and shipped style checkpoints."""
    out = []
    for label, value in ctx.models.source_choices():
        if value == "live:image":
            out.append((label, value))
        elif value.startswith("ckpt:"):
            from gan_core import checkpoint

            try:
                fam = models.get(checkpoint.read_meta(str(ctx.models.checkpoints_dir / value[5:]))["family"])
            except Exception:  # unreadable or unknown family: not offered
                continue
            if hasattr(fam.generator_cls, "mapping"):
                out.append((label, value))
    return out


def parse_seeds(text, what: str) -> list[int]:
    import re

    parts = [p for p in re.split(r"[,\s;]+", str(text or "").strip()) if p]
    if not parts:
        raise ValueError(f"{what}: give 1 to {MAX_GRID_SEEDS} seeds, such as 1, 2, 3")
    if len(parts) > MAX_GRID_SEEDS:
        raise ValueError(f"{what}: at most {MAX_GRID_SEEDS} seeds, got {len(parts)}")
    return [_seed(p, what) for p in parts]


def _seed(p: str, what: str) -> int:
    if not p.isdigit() or int(p) > MAX_SEED:
        raise ValueError(f"{what}: {p[:20]!r} is not a seed (a whole number from 0 to {MAX_SEED})")
    return int(p)


class Widgets:
    pass


def layout(ctx) -> Widgets:
    w = Widgets()
    gr.Markdown(INTRO)
    with gr.Row(equal_height=True):
        w.source = gr.Dropdown(style_sources(ctx), value=None, label="Model", scale=4, elem_id="mx-source")
        w.use = gr.Button("Use", variant="primary", scale=1, min_width=80, elem_id="mx-use")
    w.info = gr.Markdown("", elem_id="mx-info")
    with gr.Row(equal_height=False):
        with gr.Column(scale=4, min_width=300):
            with gr.Row():
                w.a = gr.Number(1, label="A seed", precision=0, minimum=0, elem_id="mx-a", elem_classes=["mx-live"])
                w.b = gr.Number(5, label="B seed", precision=0, minimum=0, elem_id="mx-b", elem_classes=["mx-live"])
            w.view = gr.HTML("<div>Loading…</div>", elem_id="mx-view", js_on_load=live_js(), padding=False)
            w.readout = gr.Markdown("", elem_id="mx-readout")
        with gr.Column(scale=4, min_width=300):
            w.cross = gr.Radio(CROSS_LABELS, value="coarse", label="Styles from B", elem_id="mx-cross",
                               elem_classes=["mx-live"])
            w.layers = gr.CheckboxGroup([], value=[], label="Custom styles from B (one box per w)",
                                        elem_id="mx-layers", elem_classes=["mx-live"])
            w.psi = gr.Slider(0, 1, value=1.0, step=0.01, label="Truncation psi (1 = none, 0 = w_avg)",
                              elem_id="mx-psi", elem_classes=["mx-live"])
            w.cutoff = gr.Slider(0, 8, value=8, step=1, label="Truncate the first … styles", elem_id="mx-cut",
                                 elem_classes=["mx-live"])
            w.noise = gr.Radio(list(NOISE_CHOICES), value="constant", label="Noise", elem_id="mx-noise",
                               elem_classes=["mx-live"])
            w.noise_seed = gr.Number(0, label="Noise seed (random noise)", precision=0, minimum=0,
                                     elem_id="mx-noise-seed", elem_classes=["mx-live"])
    with gr.Tab("Grid"):
        gr.Markdown("Rows: A seeds; columns: B seeds. Each mix has its row's styles, except the crossover's "
                    "from its column (the StyleGAN paper's figure 3).")
        with gr.Row(equal_height=True):
            w.grid_a = gr.Textbox("1, 2, 3, 4", label="A seeds (rows)", elem_id="mx-grid-a", scale=2)
            w.grid_b = gr.Textbox("5, 6, 7, 8", label="B seeds (columns)", elem_id="mx-grid-b", scale=2)
            w.grid_go = gr.Button("Mix", variant="primary", scale=1, elem_id="mx-grid-go")
        w.grid = gr.Image(label="Mixing grid", type="numpy", interactive=False, elem_id="mx-grid")
        w.grid_caption = gr.Markdown("", elem_id="mx-grid-caption")
    with gr.Tab("Stochastic variation"):
        gr.Markdown("One w (the A seed, truncated as above), many random noises: what the noise alone changes. "
                    "Right: the per-pixel standard deviation over the samples (white = most variation).")
        with gr.Row(equal_height=True):
            w.var_n = gr.Slider(2, mx.MAX_VARIATION, value=16, step=1, label="Samples", elem_id="mx-var-n")
            w.var_go = gr.Button("Show variation", variant="primary", elem_id="mx-var-go")
        w.var = gr.Image(label="Stochastic variation", type="numpy", interactive=False, elem_id="mx-var")
        w.var_caption = gr.Markdown("", elem_id="mx-var-caption")
    return w


class MixingEvents:
    def __init__(self, ctx, w):
        self.ctx, self.w = ctx, w

    def _state(self, request) -> MixingSession:
        return self.ctx.sessions.slot(request, SLOT)

    @property
    def model_outputs(self) -> list:
        w = self.w
        return [w.source, w.info, w.layers, w.cutoff, w.view, w.readout]

    def _load(self, request, s: MixingSession, source: str) -> None:
        known = {v for _, v in style_sources(self.ctx)}
        if source not in known:
            raise ValueError(f"Model: no style-based model source named {str(source)[:60]!r}")
        model, step = self.ctx.models.load(self.ctx.sessions.visitor(request), source)
        try:
            s.set_model(model, source, step)
        except ValueError:
            raise ValueError(f"{model.name} is not style-based: train the preset Shapes (style-based) on "
                             "Train (images), or choose a shipped style-based model") from None

    def _default(self, request) -> str | None:
        choices = [v for _, v in style_sources(self.ctx)]
        visitor = self.ctx.sessions.visitor(request)
        held = visitor.peek("trainimg")
        if held is not None and "live:image" in choices:
            snap = held.training.snapshot(wait=2.0)
            if snap.step > 0 and hasattr(models.get(snap.cfg.family).generator_cls, "mapping"):
                return "live:image"
        shipped = [v for v in choices if v.startswith("ckpt:")]
        return (([v for v in shipped if "shapes-style" in v]) or shipped or [None])[0]

    def view_html(self, s: MixingSession) -> str:
        if s.model is None:
            return "<div>No model yet.</div>"
        s.renders += 1
        style = f"width:{VIEW_PX}px;max-width:100%;image-rendering:pixelated;border:1px solid #ccc"
        tok = html.escape(s.token)
        return (f"<img class='mx-img' data-token='{tok}' alt='the mix of A and B' "
                f"src='{ROUTE.lstrip('/')}?t={tok}&amp;r=s{s.renders}' style='{style};display:block'>"
                f"<canvas class='mx-canvas' style='{style};display:none'></canvas>")

    def readout(self, s: MixingSession) -> str:
        m, st = s.require(), s.settings
        names = mx.layer_names(m)
        idx = mx.layers_of(m, s.crossover())
        which = ", ".join(names[i] for i in idx) if idx else "none (A unchanged)"
        txt = (f"**Mix:** seed {st.a} with seed {st.b}'s styles on {which} · psi {st.psi:.2f} on the first "
               f"{st.cutoff} styles · noise {st.noise}")
        read = readout.classify(m, s.single())
        if read:
            txt += f"  \nThe {read['kind']} classifier reads **{read['name']}** ({100 * read['confidence']:.0f} % sure)."
        return txt

    def model_view(self, s: MixingSession) -> dict:
        w, m = self.w, s.require()
        n = m.G.num_ws
        info = (f"**{html.escape(m.name)}** · {m.family} generator at step {m.step} · {n} styles "
                f"(w has {m.G.w_dim} numbers) · z has {m.z_dim}")
        names = mx.layer_names(m)
        return {w.source: s.source, w.info: info,
                w.layers: gr.CheckboxGroup(choices=[(names[i], i) for i in range(n)],
                                           value=list(s.settings.layers)),
                w.cutoff: gr.Slider(maximum=n, value=s.settings.cutoff),
                w.view: self.view_html(s), w.readout: self.readout(s)}

    @guarded
    def init(self, request: gr.Request):
        s = self._state(request)
        with s.lock:
            service = self.ctx.models
            if s.model is None:
                src = self._default(request)
                if src is None:
                    return {self.w.info: "No style-based model yet: train the preset Shapes (style-based) on "
                                         "Train (images), then press Use."}
                self._load(request, s, src)
            elif service.is_live(s.source):
                snap = service.live_snapshot(self.ctx.sessions.visitor(request), s.source)
                if snap.step != s.source_step:
                    self._load(request, s, s.source)
            return self.model_view(s)

    @guarded
    def use(self, request: gr.Request, source):
        s = self._state(request)
        with s.lock:
            self._load(request, s, source)
            return self.model_view(s)

    def _settings(self, s, a, b, cross, layers, psi, cutoff, noise, noise_seed):
        return check_settings(s.require(), a, b, cross, layers, psi, cutoff, noise, noise_seed)

    @guarded
    def set(self, request: gr.Request, a, b, cross, layers, psi, cutoff, noise, noise_seed):
        s = self._state(request)
        with s.lock:
            s.settings = self._settings(s, a, b, cross, layers, psi, cutoff, noise, noise_seed)
            return self.view_html(s), self.readout(s)

    @guarded
    def grid(self, request: gr.Request, a_seeds, b_seeds, cross, layers, psi, cutoff, noise, noise_seed):
        s = self._state(request)
        with s.lock:
            st = self._settings(s, 0, 0, cross, layers, psi, cutoff, noise, noise_seed)
            a, b = parse_seeds(a_seeds, "A seeds"), parse_seeds(b_seeds, "B seeds")
            m = s.require()
            cross_v = list(st.layers) if st.crossover == "custom" else st.crossover
            ia, ib, mixes = mx.mix_grid(m, a, b, cross_v, st.psi, st.cutoff, st.noise, st.noise_seed)
            names = mx.layer_names(m)
            which = ", ".join(names[i] for i in mx.layers_of(m, cross_v)) or "none"
            return (mx.figure(ia, ib, mixes, scale=max(1, 64 // int(m.G.output_spec.size))),
                    f"Rows: A seeds {', '.join(map(str, a))}; columns: B seeds {', '.join(map(str, b))}; "
                    f"B's styles on {which}.")

    @guarded
    def variation(self, request: gr.Request, a, n, psi, cutoff, noise_seed):
        s = self._state(request)
        with s.lock:
            st = self._settings(s, a, 0, "coarse", [], psi, cutoff, "random", noise_seed)
            m = s.require()
            samples, std = mx.variation(m, st.a, whole(n, 2, mx.MAX_VARIATION, "Samples"), st.psi, st.cutoff,
                                        st.noise_seed)
            scale = max(1, 64 // int(m.G.output_spec.size))
            return (mx.variation_figure(samples, std, scale),
                    f"Seed {st.a}, {len(samples)} noises: mean per-pixel standard deviation "
                    f"{float(std.mean()):.4f}, largest {float(std.max()):.4f} (images in [-1, 1]).")


def build(ctx) -> None:
    w = layout(ctx)
    ev = MixingEvents(ctx, w)
    opened = ctx.tab.select if getattr(ctx, "tab", None) is not None else ctx.demo.load
    opened(ev.init, None, ev.model_outputs, api_name="mixing_init", **QUIET)
    w.use.click(ev.use, [w.source], ev.model_outputs, api_name="mixing_use", show_progress="minimal")
    controls = [w.a, w.b, w.cross, w.layers, w.psi, w.cutoff, w.noise, w.noise_seed]
    gr.on([w.a.submit, w.b.submit, w.cross.input, w.layers.input, w.psi.release, w.cutoff.release, w.noise.input,
           w.noise_seed.submit], ev.set, controls, [w.view, w.readout], api_name="mixing_set",
          trigger_mode="always_last", **QUIET)
    w.grid_go.click(ev.grid, [w.grid_a, w.grid_b, w.cross, w.layers, w.psi, w.cutoff, w.noise, w.noise_seed],
                    [w.grid, w.grid_caption], api_name="mixing_grid")
    w.var_go.click(ev.variation, [w.a, w.var_n, w.psi, w.cutoff, w.noise_seed], [w.var, w.var_caption],
                   api_name="mixing_variation")


def routes(ctx) -> list:
    return make_routes(ctx.sessions)

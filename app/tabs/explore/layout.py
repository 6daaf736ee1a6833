"""The Latent explorer tab's layout: the model row, then the Sliders, Truncation, Interpolation,
Arithmetic and Inversion sub-tabs. The live picture loads the page-side script app/static/render_live.js
(read here, with the slider count and the route filled in). Components only; wiring in .wiring."""

from __future__ import annotations

from dataclasses import dataclass, field

import gradio as gr

from ...common.render_route import live_script
from ...common.layout import CONTROLS, main_column, notes, picture_classes
from .parse import TARGET_KINDS
from .state import BASES, PSI_MAX, ROUTE, SLIDER_MAX, SLIDERS

INTRO = ("Every picture here comes from the generator you choose under **Model**: your model from a Train "
         "tab (copied when you open this tab; press *Use* again to copy newer weights) or a shipped one. "
         "Sliders move the latent **z** along principal directions found as GANSpace does (PCA of the "
         "generator's first layer, regressed back to z), in units of each direction's standard deviation, "
         "or along single latent dimensions. The picture follows the slider as you drag.")


def live_js() -> str:
    """The page-side script of the fast path (app/static/render_live.js): psi and the page's sliders."""
    return live_script("__lx", "lx", ROUTE, f"""
    const psi = q('#lx-psi input[type=range]');
    if (psi) p.set('psi', psi.value);
    for (let i = 0; i < {SLIDERS}; i++) {{
      const el = q('#lx-s' + i + ' input[type=range]');
      if (el) p.set('v' + i, el.value);
    }}""")


@dataclass
class Widgets:
    sliders: list = field(default_factory=list)


def _model_row(w: Widgets, ctx) -> None:
    choices = ctx.models.source_choices()
    with gr.Row(equal_height=True):
        w.source = gr.Dropdown(choices, value=None, label="Model", scale=4, elem_id="lx-source")
        w.use = gr.Button("Use", variant="primary", scale=1, min_width=90, elem_id="lx-use")
    w.info = gr.Markdown("", elem_id="lx-info", elem_classes=["gx-small"])


def _sliders_tab(w: Widgets) -> None:
    with gr.Row(equal_height=False):
        with main_column(scale=5, min_width=340):  # stays in view while the sliders beside it scroll
            w.view = gr.HTML("<div class='lx-empty'>Loading…</div>", elem_id="lx-view", js_on_load=live_js(),
                             padding=False, elem_classes=picture_classes())
            w.readout = gr.Markdown("", elem_id="lx-readout")
            with gr.Row():
                w.download = gr.Button("Save picture", size="sm", elem_id="lx-save-picture")
                w.download_file = gr.DownloadButton("Download", visible=False, size="sm", elem_id="lx-download")
        with gr.Column(scale=4, min_width=300, elem_classes=[CONTROLS]):
            with gr.Row(equal_height=True):
                w.seed = gr.Number(0, label="Seed", precision=0, minimum=0, elem_id="lx-seed", scale=3)
                w.random = gr.Button("Random seed", elem_id="lx-random", scale=1, min_width=80)
            w.label = gr.Dropdown([], value=None, label="Class (conditional generator)", visible=False,
                                  elem_id="lx-label")
            w.basis = gr.Radio([(v, k) for k, v in BASES.items()], value="pca", label="Sliders move along",
                               elem_id="lx-basis")
            w.page = gr.Dropdown([("Directions 1-8", 0)], value=0, label="Page", visible=False, elem_id="lx-page")
            w.psi = gr.Slider(0, PSI_MAX, value=1.0, step=0.01, label="Truncation psi (1 = none, 0 = the mean)",
                              elem_id="lx-psi", elem_classes=["lx-live"])
            for i in range(SLIDERS):
                w.sliders.append(gr.Slider(-SLIDER_MAX, SLIDER_MAX, value=0, step=0.01, label=f"direction {i + 1}",
                                           elem_id=f"lx-s{i}", elem_classes=["lx-live"]))
            w.reset = gr.Button("Reset sliders", size="sm", elem_id="lx-reset")
            with gr.Row(equal_height=True):
                w.dir_name = gr.Textbox(label="Name this move", placeholder="e.g. thicker strokes", scale=3,
                                        elem_id="lx-dir-name")
                w.save_dir = gr.Button("Save direction", scale=1, min_width=100, elem_id="lx-save-dir")
            w.saved_list = gr.Markdown("No saved directions yet.", elem_id="lx-saved")


TRUNC_NOTE = ("The truncation trick pulls latents toward the mean: psi = 1 samples as trained, smaller psi "
              "gives more typical, cleaner but less varied samples (BigGAN's fidelity/variety trade-off), "
              "psi > 1 exaggerates. InfoGAN codes are kept, so a truncated sample keeps its category. "
              "The plot measures 256 samples per psi: fidelity is the classifier's mean confidence, variety "
              "the mean distance between two samples.")
INTERP_NOTE = ("Walk from seed to seed. Spherical interpolation (slerp) keeps the latent at a typical "
               "length; linear (lerp) cuts through the middle, where latents are short and images blander.")
ARITH_NOTE = ("Vector arithmetic as in the DCGAN paper: pick a few seeds for each term (browse below), the "
              "mean latent of each term stands for its concept, and **mean(A) - mean(B) + mean(C)** carries "
              "A's difference from B over to C. *Suggest a recipe* lets the classifier choose the seeds: the "
              "thickest and the thinnest confidently read 7s and the thinnest 1s (\"thick 7\" - \"thin 7\" + "
              "\"thin 1\"), which should give a thick 1.")
INV_NOTE = ("Find the latent whose image comes closest to a picture (64 random starts, the best 8 optimised "
            "with Adam). Inverting the generator's own samples should be near perfect. For real images, "
            "compare with the nearest training image, and compare the minimum reconstruction error (MRE) of "
            "training images with that of images the GAN never saw: a GAN that memorises reconstructs its "
            "training images much better.")


def _truncation_tab(w: Widgets) -> None:
    with gr.Row(equal_height=True, elem_classes=[CONTROLS]):
        w.trunc_psis = gr.Textbox("1.5, 1, 0.75, 0.5, 0.25, 0", label="psi values", elem_id="lx-trunc-psis")
        w.trunc_first = gr.Number(0, label="First seed", precision=0, minimum=0, elem_id="lx-trunc-first")
        w.trunc_n = gr.Slider(1, 16, value=8, step=1, label="Seeds per row", elem_id="lx-trunc-n")
        w.trunc_go = gr.Button("Show the trade-off", variant="primary", elem_id="lx-trunc-go")
    with gr.Row(equal_height=False):
        with main_column(scale=3):
            w.trunc_picture = gr.Image(label="One row of samples per psi", type="numpy", format="png",
                                       interactive=False, buttons=["download"], elem_id="lx-trunc-picture",
                                       elem_classes=picture_classes())
            w.trunc_caption = gr.Markdown("", elem_id="lx-trunc-caption")
        with gr.Column(scale=2, min_width=300):
            w.trunc_plot = gr.Image(label="Fidelity and variety against psi", type="numpy", format="png",
                                    interactive=False, buttons=["download"], elem_id="lx-trunc-plot")
            with gr.Accordion("The numbers", open=False):
                w.trunc_table = gr.Dataframe(label="Fidelity and variety per psi", interactive=False,
                                             elem_id="lx-trunc-table")
            notes(TRUNC_NOTE, "About truncation")


def _interp_tab(w: Widgets) -> None:
    with gr.Row(equal_height=True, elem_classes=[CONTROLS]):
        w.interp_seeds = gr.Textbox("1, 2, 3, 4", label="Seeds to pass through", elem_id="lx-interp-seeds")
        w.interp_frames = gr.Slider(2, 128, value=32, step=1, label="Frames", elem_id="lx-interp-frames")
        w.interp_mode = gr.Radio(["slerp", "lerp"], value="slerp", label="Interpolation", elem_id="lx-interp-mode")
        w.interp_go = gr.Button("Interpolate", variant="primary", elem_id="lx-interp-go")
    with gr.Row(equal_height=False):
        with main_column(scale=3):
            w.interp_gif = gr.Image(label="Animation", type="filepath", interactive=False,
                                    elem_id="lx-interp-gif", elem_classes=picture_classes())
        with gr.Column(scale=2, min_width=300):
            w.interp_strip = gr.Image(label="All frames", type="numpy", format="png", interactive=False,
                                      buttons=["download"], elem_id="lx-interp-strip")
            w.interp_caption = gr.Markdown("", elem_id="lx-interp-caption")
            w.interp_download = gr.DownloadButton("Download GIF", visible=False, elem_id="lx-interp-download")
            notes(INTERP_NOTE, "About interpolation")


def _arith_tab(w: Widgets) -> None:
    with gr.Row(equal_height=True, elem_classes=[CONTROLS]):
        w.arith_a = gr.Textbox("1, 2, 3", label="A (seeds)", elem_id="lx-arith-a")
        w.arith_b = gr.Textbox("4, 5, 6", label="- B (seeds)", elem_id="lx-arith-b")
        w.arith_c = gr.Textbox("7, 8, 9", label="+ C (seeds)", elem_id="lx-arith-c")
        w.arith_suggest = gr.Button("Suggest a recipe", variant="primary", elem_id="lx-arith-suggest")
        w.arith_go = gr.Button("Compute A - B + C", elem_id="lx-arith-go")
    with gr.Row(equal_height=False):
        with main_column(scale=3):
            w.arith_picture = gr.Image(label="A - B + C", type="numpy", format="png", interactive=False,
                                       buttons=["download"], elem_id="lx-arith-picture",
                                       elem_classes=picture_classes())
        with gr.Column(scale=2, min_width=300):
            w.arith_caption = gr.Markdown("", elem_id="lx-arith-caption")
            notes(ARITH_NOTE, "About latent arithmetic")
    with gr.Accordion("Browse seeds", open=False):
        with gr.Row(equal_height=True):
            w.browse_first = gr.Number(0, label="First seed", precision=0, minimum=0, elem_id="lx-browse-first")
            w.browse_go = gr.Button("Show 24 seeds", elem_id="lx-browse-go")
        w.gallery = gr.Gallery(label="Seeds", columns=8, height="auto", elem_id="lx-gallery")


def _inversion_tab(w: Widgets) -> None:
    with gr.Row(elem_classes=[CONTROLS]):
        w.inv_kind = gr.Radio(list(TARGET_KINDS), value=TARGET_KINDS[0], label="Target", elem_id="lx-inv-kind")
        w.inv_index = gr.Number(0, label="Image number (or seed)", precision=0, minimum=0, elem_id="lx-inv-index")
        w.inv_upload = gr.File(label="Upload (PNG/JPEG)", file_types=[".png", ".jpg", ".jpeg"], type="filepath",
                               elem_id="lx-inv-upload")
    with gr.Row():
        w.inv_go = gr.Button("Invert", variant="primary", elem_id="lx-inv-go")
        w.inv_use = gr.Button("Explore this latent with the sliders", elem_id="lx-inv-use")
    with gr.Row(equal_height=False):
        with main_column(scale=3):
            w.inv_picture = gr.Image(label="Target | reconstruction | error | nearest training image",
                                     type="numpy", format="png", interactive=False, buttons=["download"],
                                     elem_id="lx-inv-picture", elem_classes=picture_classes())
        with gr.Column(scale=2, min_width=300):
            w.inv_readout = gr.Markdown("", elem_id="lx-inv-readout")
            notes(INV_NOTE, "About inversion")
    with gr.Accordion("Memorisation check: MRE on training vs held-out images", open=False):
        with gr.Row(equal_height=True):
            w.mre_n = gr.Slider(4, 128, value=32, step=4, label="Images per group", elem_id="lx-mre-n")
            w.mre_go = gr.Button("Measure", elem_id="lx-mre-go")
        w.mre_table = gr.JSON(label="Median reconstruction error per group", elem_id="lx-mre-table")
        w.mre_readout = gr.Markdown("", elem_id="lx-mre-readout")


def layout(ctx) -> Widgets:
    w = Widgets()
    _model_row(w, ctx)
    with gr.Tabs():
        with gr.Tab("Sliders", id="lx-sliders"):
            _sliders_tab(w)
        with gr.Tab("Truncation", id="lx-truncation"):
            _truncation_tab(w)
        with gr.Tab("Interpolation", id="lx-interpolation"):
            _interp_tab(w)
        with gr.Tab("Arithmetic", id="lx-arithmetic"):
            _arith_tab(w)
        with gr.Tab("Inversion", id="lx-inversion"):
            _inversion_tab(w)
    notes(INTRO, "About this tab", elem_id="lx-intro")
    return w

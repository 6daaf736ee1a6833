"""The Code knobs tab's layout: the model row, the knobs with the live picture, the sweep grids and the
"what did each code learn" panel. The live picture loads app/static/render_live.js (with the knob count and
the route filled in). Components only; wiring in the package's __init__."""

from __future__ import annotations

from dataclasses import dataclass, field

import gradio as gr

from gan_core.explore.codes import KNOB_MAX, MAX_COLUMNS, MAX_ROWS, TRAIN_RANGE

from ...common.render_route import live_script
from .state import KNOBS, ROUTE

INTRO = ("InfoGAN splits the generator's input into noise **z** and **codes**: a category and continuous "
         "codes. A head Q on the discriminator learns to read the codes back from the picture, and the "
         "generator is rewarded when it can, so each code comes to control something visible, without "
         "labels. Keep the noise fixed (the seed) and turn the knobs: the picture follows as you drag. "
         f"Continuous codes were trained on [-{TRAIN_RANGE:g}, {TRAIN_RANGE:g}] (the middle half of each "
         f"slider's track); the knobs go to ±{KNOB_MAX:g} to see whether a code still means something beyond it.")


def live_js() -> str:
    """The page-side script of the fast path (app/static/render_live.js): the category and the shown
    code knobs."""
    return live_script("__ck", "ck", ROUTE, f"""
    const cat = q('#ck-cat input:checked');
    if (cat) p.set('cat', cat.value);
    for (let i = 0; i < {KNOBS}; i++) {{
      const el = q('#ck-c' + i + ' input[type=range]');
      if (el && el.closest('.block') && el.closest('.block').offsetParent !== null) p.set('c' + i, el.value);
    }}""")


@dataclass
class Widgets:
    knobs: list = field(default_factory=list)


def layout(ctx) -> Widgets:
    w = Widgets()
    gr.Markdown(INTRO, elem_id="ck-intro")
    with gr.Row(equal_height=True):
        w.source = gr.Dropdown(ctx.models.source_choices(), value=None, label="Model", scale=4, elem_id="ck-source")
        w.use = gr.Button("Use", variant="primary", scale=1, min_width=80, elem_id="ck-use")
    w.info = gr.Markdown("", elem_id="ck-info")
    with gr.Tabs():
        with gr.Tab("Knobs", id="ck-knobs-tab"):
            _knobs(w)
        with gr.Tab("Sweeps", id="ck-sweeps-tab"):
            _sweeps(w)
        with gr.Tab("What did each code learn?", id="ck-learned-tab"):
            _learned(w)
    return w


def _knobs(w: Widgets) -> None:
    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=300):
            w.view = gr.HTML("<div>Loading…</div>", elem_id="ck-view", js_on_load=live_js(), padding=False)
            w.readout = gr.Markdown("", elem_id="ck-readout")
        with gr.Column(scale=4, min_width=300, elem_id="ck-knobs"):
            with gr.Row(equal_height=True):
                w.seed = gr.Number(0, label="Seed (the fixed noise z)", precision=0, minimum=0,
                                   elem_id="ck-seed", scale=3)
                w.random = gr.Button("Random seed", elem_id="ck-random", scale=1, min_width=80)
            w.cat = gr.Radio([], value=None, label="Category", elem_id="ck-cat", elem_classes=["ck-live"])
            for i in range(KNOBS):
                w.knobs.append(gr.Slider(-KNOB_MAX, KNOB_MAX, value=0, step=0.01, label=f"Code {i + 1}",
                                         info=f"trained on [-{TRAIN_RANGE:g}, {TRAIN_RANGE:g}]: the middle "
                                              "half of the track; the outer quarters go beyond",
                                         elem_id=f"ck-c{i}", elem_classes=["ck-live"], visible=False))
            w.reset = gr.Button("Codes to 0", size="sm", elem_id="ck-reset")


def _sweeps(w: Widgets) -> None:
    gr.Markdown("As the InfoGAN paper's figures: the noise stays fixed, one code changes along each "
                "row. Rows of **categories** use the seed of the Knobs tab; rows of **seeds** keep the "
                "category of the Knobs tab and change the noise. The columns sweep one continuous code "
                "(or, with 'category' chosen, go through the categories).")
    with gr.Row():
        w.sweep_code = gr.Dropdown([], value=None, label="Code along the columns", elem_id="ck-sweep-code")
        w.sweep_rows = gr.Radio([("Categories", "categories"), ("Seeds", "seeds")], value="categories",
                                label="Rows", elem_id="ck-sweep-rows")
    with gr.Row():
        w.sweep_seeds = gr.Textbox("0, 1, 2, 3, 4", label=f"Seeds (rows of seeds; up to {MAX_ROWS})",
                                   elem_id="ck-sweep-seeds")
        w.sweep_cols = gr.Slider(2, MAX_COLUMNS, value=9, step=1, label="Columns", elem_id="ck-sweep-cols")
        w.sweep_lo = gr.Number(-KNOB_MAX, label="From", elem_id="ck-sweep-lo")
        w.sweep_hi = gr.Number(KNOB_MAX, label="To", elem_id="ck-sweep-hi")
    w.sweep_go = gr.Button("Draw the sweep", variant="primary", elem_id="ck-sweep-go")
    w.sweep_picture = gr.Image(label="Sweep grid", type="numpy", format="png", interactive=False,
                               buttons=["download"], elem_id="ck-sweep-picture")
    w.sweep_caption = gr.Markdown("", elem_id="ck-sweep-caption")


def _learned(w: Widgets) -> None:
    gr.Markdown("Draws 1,000 samples and reads them with the shipped evaluator. **Digits**: the best "
                "one-to-one matching of categories to the digits the classifier reads (Hungarian "
                "algorithm), its accuracy and the confusion matrix. **Shapes**: every code against "
                "every ground-truth factor the factor evaluator reads (shape, scale, rotation, x, y, "
                "colour). The information bound I(c; G(z, c)) >= ln K - cross-entropy of Q is shown "
                "against its ceiling ln K.")
    w.learn_go = gr.Button("Measure", variant="primary", elem_id="ck-learn-go")
    w.learn_summary = gr.Markdown("", elem_id="ck-learn-summary")
    with gr.Row(equal_height=False):
        w.learn_confusion = gr.Image(label="Category x digit", type="numpy", format="png",
                                     interactive=False, elem_id="ck-learn-confusion")
        w.learn_heatmap = gr.Image(label="Code x factor", type="numpy", format="png",
                                   interactive=False, elem_id="ck-learn-heatmap")
    w.learn_table = gr.JSON(label="Report", elem_id="ck-learn-table")

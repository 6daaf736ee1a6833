"""GANPaint's layout: the model row, the painted picture beside the brush controls, then the unit viewer
and the artifact units.
The picture loads the page-side script app/static/paint_live.js (read here, with the route filled in).
Components only; wiring in .wiring."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pandas as pd

from gan_core.inspect.intervene import MAX_STRENGTH
from gan_core.inspect.paint import MAX_UNITS

from .artifacts import DEFAULT_SAMPLES, FD_SETS, SAMPLE_CHOICES
from .state import ROUTE_STROKE

INTRO = ("Paint with the generator's own units (GANPaint, Bau et al. 2019). The tab dissects one layer of "
         "the model you choose (which units' activation maps coincide with which segmented class, by IoU "
         "over 200 samples); a **class brush** then sets that class's top units, inside the cells you draw "
         "over, to a high activation (**add**) or to zero (**remove**). Draw on the picture; the table "
         "beside it counts the segmented pixels of every class before and after. Brushes need a segmenter "
         "(the scenes generators); the unit viewer below works for any generator.")

STATIC = Path(__file__).resolve().parents[2] / "static"


def live_js() -> str:
    lines = (STATIC / "paint_live.js").read_text(encoding="utf-8").splitlines()
    while lines and lines[0].startswith("//"):
        lines.pop(0)
    return "\n".join(lines) % {"route": ROUTE_STROKE.lstrip("/")}


def empty_counts() -> pd.DataFrame:
    return pd.DataFrame({"class": [], "units": []})


def layout(ctx) -> SimpleNamespace:
    w = SimpleNamespace()
    gr.Markdown(INTRO)
    with gr.Row(equal_height=True):
        w.source = gr.Dropdown(ctx.models.source_choices(), value=None, label="Model", scale=4, elem_id="gp-source")
        w.use = gr.Button("Use", variant="primary", scale=1, min_width=80, elem_id="gp-use")
    w.info = gr.Markdown("", elem_id="gp-info")
    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=340):
            w.view = gr.HTML("<div class='gp-empty'>Loading…</div>", elem_id="gp-view", js_on_load=live_js(),
                             padding=False)
        with gr.Column(scale=4, min_width=300):
            with gr.Row(equal_height=True):
                w.seed = gr.Number(0, label="Seed", precision=0, minimum=0, scale=3, elem_id="gp-seed")
                w.random = gr.Button("Random seed", scale=1, min_width=80, elem_id="gp-random")
            w.brush = gr.Radio([], value=None, label="Brush", elem_id="gp-brush")
            w.action = gr.Radio([("Add", "add"), ("Remove", "remove")], value="add", label="Action",
                                elem_id="gp-action")
            w.strength = gr.Slider(0, MAX_STRENGTH, value=1.0, step=0.1, label="Strength", elem_id="gp-strength")
            w.units = gr.Slider(1, MAX_UNITS, value=6, step=1, label="Units", elem_id="gp-units")
            with gr.Row():
                w.undo = gr.Button("Undo", size="sm", elem_id="gp-undo")
                w.reset = gr.Button("Reset", size="sm", elem_id="gp-reset")
            with gr.Accordion("Stroke by cells (keyboard, scripts)", open=False):
                w.cells = gr.Textbox(label="Cells", placeholder="row,col pairs, e.g. 4,2 4,3 5,2 5,3",
                                     elem_id="gp-cells")
                w.apply = gr.Button("Apply stroke", size="sm", elem_id="gp-apply")
    with gr.Accordion("Unit viewer and dissection", open=False):
        with gr.Row(equal_height=True):
            w.unit = gr.Number(0, label="Unit", precision=0, minimum=0, scale=2, elem_id="gp-unit")
            w.rank_class = gr.Dropdown([], value=None, label="Rank units by IoU with", scale=2,
                                       elem_id="gp-rank-class")
            w.show = gr.Button("Show unit", scale=1, min_width=80, elem_id="gp-show")
        w.unit_info = gr.Markdown("", elem_id="gp-unit-info")
        with gr.Row(equal_height=False):
            w.mean_map = gr.Image(label="Mean map", type="numpy", height=200, interactive=False,
                                  elem_id="gp-mean-map")
            w.top = gr.Gallery(label="Where it fires most (its region outlined)", columns=6, height=200,
                               elem_id="gp-top")
        w.counts = gr.BarPlot(empty_counts(), x="class", y="units", label="Units per class (IoU > 0.05)",
                              elem_id="gp-counts")
    artifacts_section(w)
    return w


def artifacts_section(w: SimpleNamespace) -> None:
    """The Artifact units accordion (its components go into `w`)."""
    with gr.Accordion("Artifact units", open=False, elem_id="gp-artifacts"):
        gr.Markdown("Units whose removal makes the generated pictures closer to the real images (GAN "
                    "Dissection, section 4.2). Each generated picture is scored by its share of the FD, the "
                    "units that fire on the worst ones are tried one by one in the widest layer, and those "
                    "whose removal lowers the FD are kept; the FDs are then measured on other samples.")
        with gr.Row(equal_height=True):
            w.art_samples = gr.Dropdown(list(SAMPLE_CHOICES), value=DEFAULT_SAMPLES, label="Samples",
                                        allow_custom_value=True, scale=2, elem_id="gp-art-samples")
            w.art_find = gr.Button("Find artifact units", variant="primary", scale=1, min_width=120,
                                   elem_id="gp-art-find")
        with gr.Row(equal_height=False):
            w.art_info = gr.Markdown("", elem_id="gp-art-info")
            w.art_plot = gr.BarPlot(None, x="pictures", y="FD", y_lim=[0, None], sort=list(FD_SETS),
                                    height=240, label="FD against the real images (lower is closer)",
                                    elem_id="gp-art-plot")
        w.art_gallery = gr.Gallery(label="The worst pictures: as generated (left), without the units (right)",
                                   columns=4, object_fit="contain", format="png", elem_id="gp-art-gallery")
        w.art_remove = gr.Checkbox(False, label="Remove these units while painting", interactive=False,
                                   elem_id="gp-art-remove")

"""The Train (2D) tab's layout: the data, training and model panels, the controls, the data-space picture
with its mode counter, the loss and coverage plots, and the checkpoint panel. Components only; the
wiring is in .wiring, the handlers in .events."""

from __future__ import annotations

from dataclasses import dataclass, field

import gradio as gr

from gan_core.data import toy2d
from gan_core.models.mlp import ACTIVATIONS, MLPConfig
from gan_core.training import presets
from gan_core.viz.plane import LAYERS

from ...common import plots
from ...common.checkpoints import checkpoint_panel, shipped_picker
from ...common.controls import control_buttons, live_js, training_panel
from ...common.layout import CONTROLS, PLOT, main_column, notes, picture_classes
from ...common.live import curve_html
from . import howitworks
from .live import view_html
from .state import DEFAULT_PRESET, default_config, default_data, shipped_checkpoints
from .view import LEGEND, n_modes

DEFAULT_LAYERS = ["heatmap", "real", "fake"]
DEFAULT_SHIPPED = "stable-ring.safetensors"  # the shipped model first offered: the default preset's data
DATASETS = [(name, name) for name in toy2d.BUILTIN] + [("draw your own", "draw"), ("upload CSV", "csv")]
POLL_SECONDS = 0.3


@dataclass
class Widgets:
    """The tab's components, grouped; handlers return dicts keyed by these."""

    model: dict = field(default_factory=dict)  # MLP settings, applied on Reset
    train: dict = field(default_factory=dict)  # training settings, applied live


def _preset_choices() -> list[tuple[str, str]]:
    return [(p.title, p.name) for p in presets.PRESETS.values() if p.kind == "2d"]


def _data_panel(w: Widgets, ctx) -> None:
    cfg = default_config()
    w.preset = gr.Dropdown(_preset_choices(), value=DEFAULT_PRESET, label="Preset (choosing one loads it)",
                           elem_id="preset-select")
    w.load_preset = gr.Button("↺ Start this preset again", size="sm", elem_id="load-preset")
    w.preset_info = notes(presets.get(DEFAULT_PRESET).description, "About this preset", elem_id="preset-info")
    w.shipped_picker = shipped_picker(shipped_checkpoints(ctx.checkpoints_dir), "Or load a trained model",
                                      default=DEFAULT_SHIPPED)
    w.dataset = gr.Dropdown(DATASETS, value=cfg.dataset, label="Dataset", elem_id="dataset-select")
    with gr.Group(visible=False) as w.draw_group:
        w.sketch = gr.Sketchpad(label="Draw the real data: pick the brush, draw, then press Use drawing",
                                canvas_size=(320, 320), type="numpy", layers=False, elem_id="sketch",
                                brush=gr.Brush(colors=["#000000"], color_mode="fixed", default_size=6))
        w.use_drawing = gr.Button("Use drawing", elem_id="use-drawing")
    with gr.Group(visible=False) as w.csv_group:
        w.csv_file = gr.File(label="CSV of x,y rows (a header row is allowed)", file_types=[".csv", ".txt"],
                             type="filepath", elem_id="csv-upload")


def _model_panel(w: Widgets) -> None:
    m = MLPConfig(**default_config().model)
    with gr.Accordion("Model (applied on Reset)", open=False):
        w.model["g_hidden"] = gr.Slider(2, 256, value=m.g_hidden, step=2, label="G width")
        w.model["g_layers"] = gr.Slider(1, 6, value=m.g_layers, step=1, label="G hidden layers")
        w.model["d_hidden"] = gr.Slider(2, 256, value=m.d_hidden, step=2, label="D width")
        w.model["d_layers"] = gr.Slider(1, 6, value=m.d_layers, step=1, label="D hidden layers")
        w.model["activation"] = gr.Dropdown(list(ACTIVATIONS), value=m.activation, label="G activation")
        w.model["d_activation"] = gr.Dropdown(list(ACTIVATIONS), value=m.d_activation, label="D activation")
        w.model["z_dim"] = gr.Slider(1, 32, value=m.z_dim, step=1, label="Noise dimensions")
        w.model["noise"] = gr.Radio(["gaussian", "uniform"], value=m.noise, label="Noise type")
        w.model["pack"] = gr.Slider(1, 4, value=m.pack, step=1, label="PacGAN pack (D sees this many points)")


def _train_panel(w: Widgets) -> None:
    training_panel(w, default_config(), batch_max=1024, unroll=True)


def _buttons(w: Widgets) -> None:
    control_buttons(w, "")


def _view_panel(w: Widgets) -> None:
    w.counter = gr.Markdown("## modes covered ? / ?", elem_id="mode-counter", elem_classes=["gx-headline"])
    # the page draws the plane on a canvas from the live channel; the picture stays for API clients
    w.live = gr.HTML(view_html(None), label="Data space", elem_id="plane-live", js_on_load=live_js(),
                     padding=False, elem_classes=picture_classes())
    w.plane = gr.Image(label="Data space", type="numpy", format="png", interactive=False, height=480,
                       width=480, buttons=["download"], elem_id="plane", visible=False)
    w.layers = gr.CheckboxGroup(list(LAYERS), value=DEFAULT_LAYERS, label="Layers", elem_id="layers")


def _plots_panel(w: Widgets) -> None:
    common = {"x": "step", "y": "value", "color": "series", "x_title": "step", "height": 280,
              "colors_in_legend": [], "elem_classes": [PLOT]}  # colours are named in the labels
    # the page draws the curves on canvases, appended with each live frame; the plots stay for API clients
    w.loss_live = gr.HTML(curve_html("2d", "loss", plots.LOSS_LABEL), elem_id="loss-live", padding=False)
    w.cover_live = gr.HTML(curve_html("2d", "cover", plots.coverage_label(n_modes(default_data()))),
                           elem_id="coverage-live", padding=False)
    w.loss_plot = gr.LinePlot(plots.empty_loss_frame(), color_map=plots.LOSS_COLORS, label=plots.LOSS_LABEL,
                              y_title="loss", elem_id="loss-plot", visible=False, **common)
    w.cover_plot = gr.LinePlot(plots.empty_coverage_frame(), color_map=plots.COVERAGE_COLORS, y_title=" ",
                               label=plots.coverage_label(n_modes(default_data())), elem_id="coverage-plot",
                               visible=False, **common)
    notes(LEGEND, "How to read this tab", open=False, elem_id="legend")


def layout(ctx) -> Widgets:
    w = Widgets()
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=280, elem_classes=[CONTROLS]):
            _data_panel(w, ctx)
            _train_panel(w)
            _model_panel(w)
        with main_column(scale=5, min_width=460):  # the counter, the buttons and the plane stay together
            _buttons(w)
            _view_panel(w)
        with gr.Column(scale=4, min_width=340):
            _plots_panel(w)
    howitworks.panel(w)  # closed: the first view stays as it was
    w.ckpt = checkpoint_panel(shipped_checkpoints(ctx.checkpoints_dir), "Shipped 2D checkpoints",
                              picker=w.shipped_picker)
    with gr.Accordion("Details (raw status)", open=False):
        w.status = gr.JSON(label="Session status", elem_id="status-json")
    w.timer = gr.Timer(POLL_SECONDS, active=False)
    return w

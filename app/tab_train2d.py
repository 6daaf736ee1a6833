"""The Train (2D) tab: GAN Lab's experience. Pick a preset or a 2D dataset (or draw / upload one), train a
small MLP GAN live, and watch D's decision surface, the real and fake points, G's manifold and gradients,
the mode counter and the loss curves. Layout first, then the wiring; handlers live in train2d_events."""

from __future__ import annotations

from dataclasses import dataclass, field

import gradio as gr

from gan_core.data import toy2d
from gan_core.losses import LOSSES
from gan_core.models.mlp import ACTIVATIONS, MLPConfig
from gan_core.training import presets
from gan_core.training.config import TrainConfig
from gan_core.training.session import SPEEDS
from gan_core.viz.plane import LAYERS

from . import plots
from .train2d_events import Train2DEvents, shipped_checkpoints
from .train2d_view import LEGEND, n_modes

TITLE = "Train (2D)"
ORDER = 10
DEFAULT_PRESET = "collapse-ring"
DEFAULT_LAYERS = ["heatmap", "real", "fake"]
LR_CHOICES = [1e-5, 3e-5, 1e-4, 2e-4, 3e-4, 5e-4, 1e-3, 2e-3, 3e-3, 5e-3, 1e-2, 3e-2, 0.1]
EMA_CHOICES = [0.0, 0.9, 0.99, 0.995, 0.999, 0.9999]
DATASETS = [(name, name) for name in toy2d.BUILTIN] + [("draw your own", "draw"), ("upload CSV", "csv")]
POLL_SECONDS = 0.3


@dataclass
class Widgets:
    """The tab's components, grouped; handlers return dicts keyed by these."""

    model: dict = field(default_factory=dict)  # MLP settings, applied on Reset
    train: dict = field(default_factory=dict)  # training settings, applied live


def default_config() -> TrainConfig:
    return presets.get(DEFAULT_PRESET).config


def default_data() -> toy2d.Toy2D:
    return toy2d.get(default_config().dataset)


def _preset_choices() -> list[tuple[str, str]]:
    return [(p.title, p.name) for p in presets.PRESETS.values() if p.kind == "2d"]


def _data_panel(w: Widgets) -> None:
    cfg = default_config()
    w.preset = gr.Dropdown(_preset_choices(), value=DEFAULT_PRESET, label="Preset", elem_id="preset-select")
    w.preset_info = gr.Markdown(presets.get(DEFAULT_PRESET).description, elem_id="preset-info")
    w.load_preset = gr.Button("Load preset", variant="primary", elem_id="load-preset")
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
    c = default_config()
    with gr.Accordion("Training (applied live)", open=True):
        w.train["loss"] = gr.Dropdown(list(LOSSES), value=c.loss, label="Loss")
        w.train["optimizer"] = gr.Radio(["adam", "sgd"], value=c.optimizer, label="Optimizer")
        with gr.Row():
            w.train["lr_d"] = gr.Dropdown(LR_CHOICES, value=c.lr_d, label="D learning rate",
                                          allow_custom_value=True)
            w.train["lr_g"] = gr.Dropdown(LR_CHOICES, value=c.lr_g, label="G learning rate",
                                          allow_custom_value=True)
        w.train["d_steps"] = gr.Slider(1, 10, value=c.d_steps, step=1, label="k: D steps per G step")
        w.train["batch_size"] = gr.Slider(16, 1024, value=c.batch_size, step=16, label="Batch size")
        w.train["unroll"] = gr.Slider(0, 10, value=c.unroll, step=1, label="Unrolled D steps (0 = off)")
        w.train["g_ema"] = gr.Dropdown(EMA_CHOICES, value=c.g_ema, label="G weight EMA (0 = off)",
                                       allow_custom_value=True)
        w.speed = gr.Radio(list(SPEEDS), value="full", label="Speed")


def _buttons(w: Widgets) -> None:
    with gr.Row():
        w.play = gr.Button("▶ Train", variant="primary", elem_id="train-play", min_width=80)
        w.pause = gr.Button("Pause", elem_id="train-pause", min_width=80)
        w.reset = gr.Button("↺ Reset", elem_id="train-reset", min_width=80)
    with gr.Row():
        w.step_d = gr.Button("Step D", size="sm", elem_id="step-d", min_width=60)
        w.step_g = gr.Button("Step G", size="sm", elem_id="step-g", min_width=60)
        w.step_both = gr.Button("Step both", size="sm", elem_id="step-both", min_width=60)


def _view_panel(w: Widgets) -> None:
    w.counter = gr.Markdown("## modes covered ? / ?", elem_id="mode-counter")
    w.plane = gr.Image(label="Data space", type="numpy", format="png", interactive=False, height=480,
                       width=480, buttons=["download"], elem_id="plane")
    w.layers = gr.CheckboxGroup(list(LAYERS), value=DEFAULT_LAYERS, label="Layers", elem_id="layers")


def _plots_panel(w: Widgets) -> None:
    common = {"x": "step", "y": "value", "color": "series", "x_title": "step", "height": 280,
              "colors_in_legend": []}  # colours are named in the labels
    w.loss_plot = gr.LinePlot(plots.empty_loss_frame(), color_map=plots.LOSS_COLORS, label=plots.LOSS_LABEL,
                              y_title="loss", elem_id="loss-plot", **common)
    w.cover_plot = gr.LinePlot(plots.empty_coverage_frame(), color_map=plots.COVERAGE_COLORS, y_title=" ",
                               label=plots.coverage_label(n_modes(default_data())), elem_id="coverage-plot",
                               **common)
    gr.Markdown(LEGEND, elem_id="legend")


def _checkpoint_panel(w: Widgets, ctx) -> None:
    shipped = shipped_checkpoints(ctx.checkpoints_dir)
    with gr.Accordion("Checkpoints", open=False):
        with gr.Row():
            with gr.Column():
                w.save = gr.Button("Save checkpoint", elem_id="save-checkpoint")
                w.download = gr.DownloadButton("Download", visible=False, elem_id="download-checkpoint")
            w.upload = gr.File(label="Load a checkpoint (.safetensors)", file_types=[".safetensors"],
                               type="filepath", elem_id="checkpoint-upload")
            with gr.Column():
                w.shipped = gr.Dropdown(shipped, value=shipped[0][1] if shipped else None,
                                        label="Shipped 2D checkpoints", elem_id="shipped-select")
                w.load_shipped = gr.Button("Load shipped checkpoint", elem_id="load-shipped")


def layout(ctx) -> Widgets:
    w = Widgets()
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=280):
            _data_panel(w)
            _train_panel(w)
            _model_panel(w)
        with gr.Column(scale=5, min_width=500):
            _buttons(w)
            _view_panel(w)
        with gr.Column(scale=4, min_width=340):
            _plots_panel(w)
    _checkpoint_panel(w, ctx)
    with gr.Accordion("Details (raw status)", open=False):
        w.status = gr.JSON(label="Session status", elem_id="status-json")
    w.timer = gr.Timer(POLL_SECONDS, active=False)
    return w


def wire(w: Widgets, ev: Train2DEvents, demo: gr.Blocks) -> None:
    shown = ev.display
    quiet = {"show_progress": "hidden"}  # errors show as toasts; the picture stays in place
    model_in, train_in = list(w.model.values()), list(w.train.values())
    demo.load(ev.init, [w.layers], shown, api_name="init_2d", **quiet)
    w.timer.tick(ev.poll, [w.layers], shown, api_name="poll_2d", trigger_mode="once", concurrency_limit=4,
                 **quiet)
    w.layers.change(ev.poll, [w.layers], shown, api_name="set_layers", **quiet)
    w.preset.input(ev.describe_preset, [w.preset], [w.preset_info], api_name="describe_preset", **quiet)
    w.load_preset.click(ev.load_preset, [w.preset, w.layers], [*ev.config_widgets, w.preset_info, *shown],
                        api_name="load_preset", **quiet)
    groups = [w.draw_group, w.csv_group]
    w.dataset.input(ev.choose_dataset, [w.dataset, w.layers, *model_in], [*groups, *shown],
                    api_name="choose_dataset", **quiet)
    w.use_drawing.click(ev.use_drawing, [w.sketch, w.layers, *model_in], shown, api_name="use_drawing",
                        **quiet)
    w.csv_file.upload(ev.upload_csv, [w.csv_file, w.layers, *model_in], shown, api_name="upload_csv",
                      **quiet)
    w.play.click(ev.play, [w.layers], shown, api_name="train_play", **quiet)
    w.pause.click(ev.pause, [w.layers], shown, api_name="train_pause", **quiet)
    w.reset.click(ev.reset, [w.layers, *model_in], shown, api_name="train_reset", **quiet)
    w.step_both.click(ev.step_both, [w.layers], shown, api_name="train_step", **quiet)
    w.step_d.click(ev.step_d, [w.layers], shown, api_name="train_step_d", **quiet)
    w.step_g.click(ev.step_g, [w.layers], shown, api_name="train_step_g", **quiet)
    triggers = [c.release if isinstance(c, gr.Slider) else c.input for c in train_in]
    gr.on(triggers, ev.set_hparams, [w.layers, *train_in], shown, api_name="set_hparams", **quiet)
    w.speed.input(ev.set_speed, [w.speed], None, api_name="set_speed", **quiet)
    w.save.click(ev.save_checkpoint, None, [w.download], api_name="save_checkpoint", **quiet)
    loaded = [*ev.config_widgets, w.preset, w.preset_info, *shown]
    w.upload.upload(ev.load_checkpoint, [w.upload, w.layers], loaded, api_name="load_checkpoint", **quiet)
    w.load_shipped.click(ev.load_shipped, [w.shipped, w.layers], loaded, api_name="load_shipped", **quiet)


def build(ctx) -> None:
    """Add the tab's contents to the current gr.Tab (called by app.server.build_app)."""
    w = layout(ctx)
    wire(w, Train2DEvents(ctx, w), ctx.demo)


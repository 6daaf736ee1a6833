"""The Train (images) tab's layout: presets and uploads, the training panel, the controls, the live
sample grid with its timeline, the loss / FD / class plots and the checkpoint panel. Components only;
the wiring is in .wiring, the handlers in .events."""

from __future__ import annotations

from dataclasses import dataclass, field

import gradio as gr

from gan_core.training import presets

from ...common import plots
from ...common.checkpoints import checkpoint_panel
from ...common.controls import control_buttons, live_js, training_panel
from ...common.live import curve_html
from .live import HIST_TITLE, view_html
from .state import DEFAULT_PRESET, default_config, shipped_image_checkpoints
from .view import FD_COLORS, FD_LABEL, LEGEND, MI_COLORS, MI_LABEL, empty_fd_frame, empty_mi_frame, hist_frame

UPLOAD_TYPES = [".zip", ".png", ".jpg", ".jpeg"]
POLL_SECONDS = 0.5
PLAY_NOTE = ("Training here pauses your *Train (2D)* session if it is running: two trainings on the same "
             "2 CPU cores slow each other down about 10x. The page stays live while a model trains; "
             "evaluations (class histogram, FD) run every few hundred steps and take a few seconds.")
UPLOAD_NOTE = ("A zip of PNG/JPEG images (subfolders name classes) or several image files, up to 20,000 "
               "images. Images are cropped to a square and resized. Nothing judges your images, so only "
               "the losses are measured.")


@dataclass
class Widgets:
    """The tab's components, grouped; handlers return dicts keyed by these."""

    train: dict = field(default_factory=dict)  # training settings, applied live


def _preset_choices() -> list[tuple[str, str]]:
    return [(p.title, p.name) for p in presets.PRESETS.values() if p.kind == "image"]


def _data_panel(w: Widgets) -> None:
    w.preset = gr.Dropdown(_preset_choices(), value=DEFAULT_PRESET, label="Preset",
                           elem_id="img-preset-select")
    w.preset_info = gr.Markdown(presets.get(DEFAULT_PRESET).description, elem_id="img-preset-info")
    w.load_preset = gr.Button("Load preset", variant="primary", elem_id="img-load-preset")
    with gr.Accordion("Your own images", open=False):
        gr.Markdown(UPLOAD_NOTE)
        with gr.Row():
            w.upload_size = gr.Radio([16, 32], value=32, label="Size (pixels)", elem_id="img-upload-size")
            w.upload_colour = gr.Radio(["grey", "colour"], value="colour", label="Colour",
                                       elem_id="img-upload-colour")
        w.upload = gr.File(label="Upload images", file_count="multiple", file_types=UPLOAD_TYPES,
                           type="filepath", elem_id="img-upload")


def _train_panel(w: Widgets) -> None:
    training_panel(w, default_config(), batch_max=256, beta1=True)


def _buttons(w: Widgets) -> None:
    control_buttons(w, "img-")
    gr.Markdown(PLAY_NOTE, elem_id="img-play-note")


def _grid_panel(w: Widgets) -> None:
    w.headline = gr.Markdown("## classes covered (confidently) ? / ?", elem_id="img-headline")
    # the page draws the grid on a canvas from the live channel; the picture stays for API clients
    w.live = gr.HTML(view_html(None), label="Fixed-noise samples", elem_id="img-grid-live",
                     js_on_load=live_js(), padding=False)
    w.grid = gr.Image(label="Fixed-noise samples", type="numpy", format="png", interactive=False, height=560,
                      buttons=["download"], elem_id="img-grid", visible=False)
    w.caption = gr.Markdown("", elem_id="img-grid-caption")
    with gr.Row():
        w.timeline = gr.Slider(0, 100, value=100, step=0.5, label="Timeline: % of the run (100 = live)",
                               scale=4, elem_id="img-timeline")
        w.follow = gr.Checkbox(value=True, label="Follow the live grid", scale=1, elem_id="img-follow")
        w.replay = gr.Button("Replay the run", scale=1, elem_id="img-replay")
    w.replay_view = gr.Image(label="Replay", type="filepath", interactive=False, visible=False, height=560,
                             buttons=["download"], elem_id="img-replay-view")


def _plots_panel(w: Widgets) -> None:
    common = {"x": "step", "y": "value", "color": "series", "x_title": "step", "height": 240,
              "colors_in_legend": []}  # colours are named in the labels
    # the page draws the loss and FD curves and the histogram on canvases with each live frame; the
    # plots stay (hidden) for API clients
    w.loss_live = gr.HTML(curve_html("img", "loss", plots.LOSS_LABEL), elem_id="img-loss-live", padding=False)
    w.loss_plot = gr.LinePlot(plots.empty_loss_frame(), color_map=plots.LOSS_COLORS, label=plots.LOSS_LABEL,
                              y_title="loss", elem_id="img-loss-plot", visible=False, **common)
    with gr.Column() as w.metric_panel:  # points, not lines: the first evaluation is a single point
        w.fd_live = gr.HTML(curve_html("img", "fd", FD_LABEL), elem_id="img-fd-live", padding=False)
        w.fd_plot = gr.ScatterPlot(empty_fd_frame(), color_map=FD_COLORS, label=FD_LABEL, y_title="FD",
                                   y_lim=[0, None], elem_id="img-fd-plot", visible=False, **common)
    with gr.Column(visible=False) as w.mi_panel:  # models with an InfoGAN category
        w.mi_plot = gr.ScatterPlot(empty_mi_frame(), color_map=MI_COLORS, label=MI_LABEL, y_title="nats",
                                   elem_id="img-mi-plot", **common)
    with gr.Column() as w.class_panel:
        w.hist_live = gr.HTML(curve_html("img", "hist", HIST_TITLE, bars=True), elem_id="img-hist-live",
                              padding=False)
        w.hist_plot = gr.BarPlot(hist_frame(None, [str(i) for i in range(10)]), x="class", y="count",
                                 y_lim=[0, None], elem_id="img-hist-plot", visible=False, label=HIST_TITLE)
        w.hist_time = gr.Image(label="Class histogram over time", show_label=False, type="numpy",
                               format="png", interactive=False, height=300, buttons=["download"],
                               elem_id="img-hist-time")  # the picture carries its own title
    with gr.Column(visible=False) as w.scene_panel:
        w.share_table = gr.Dataframe(label="Scenes: share of pixels per class, real vs generated",
                                     interactive=False, elem_id="img-share-table")
    gr.Markdown(LEGEND, elem_id="img-legend")


def layout(ctx) -> Widgets:
    w = Widgets()
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=280):
            _data_panel(w)
            _train_panel(w)
        with gr.Column(scale=5, min_width=500):
            _buttons(w)
            _grid_panel(w)
        with gr.Column(scale=4, min_width=340):
            _plots_panel(w)
    w.ckpt = checkpoint_panel(shipped_image_checkpoints(ctx.checkpoints_dir), "Load a shipped image checkpoint",
                              prefix="img-")
    with gr.Accordion("Details (raw status)", open=False):
        w.status = gr.JSON(label="Session status", elem_id="img-status-json")
    w.timer = gr.Timer(POLL_SECONDS, active=False)
    return w

"""The Train (images) tab's layout: presets and uploads, the training panel, the controls, the live
sample grid with its timeline, the loss / FD / class plots and the checkpoint panel. Components only;
the wiring is in .wiring, the handlers in .events."""

from __future__ import annotations

from dataclasses import dataclass, field

import gradio as gr

from gan_core.training import presets

from ...common import plots
from ...common.checkpoints import checkpoint_panel, shipped_picker
from ...common.controls import control_buttons, live_js, training_panel
from ...common.layout import CONTROLS, PLOT, main_column, notes, picture_classes
from ...common.live import curve_html
from .live import HIST_TITLE, view_html
from .state import DEFAULT_PRESET, default_config, shipped_image_checkpoints
from .view import FD_LABEL, LEGEND, MI_COLORS, MI_LABEL, empty_mi_frame, hist_frame

UPLOAD_TYPES = [".zip", ".png", ".jpg", ".jpeg"]
POLL_SECONDS = 0.5
DEFAULT_SHIPPED = "digits-dcgan.safetensors"  # the shipped model first offered: the default preset's
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


def _data_panel(w: Widgets, ctx) -> None:
    w.preset = gr.Dropdown(_preset_choices(), value=DEFAULT_PRESET, label="Preset (choosing one loads it)",
                           elem_id="img-preset-select")
    w.load_preset = gr.Button("↺ Start this preset again", size="sm", elem_id="img-load-preset")
    w.preset_info = notes(presets.get(DEFAULT_PRESET).description, "About this preset",
                          elem_id="img-preset-info")
    w.shipped_picker = shipped_picker(shipped_image_checkpoints(ctx.checkpoints_dir),
                                      "Or load a trained model", prefix="img-", default=DEFAULT_SHIPPED)
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


def _grid_panel(w: Widgets) -> None:
    w.headline = gr.Markdown("## classes covered (confidently) ? / ?", elem_id="img-headline",
                             elem_classes=["gx-headline"])
    # the page draws the grid on a canvas from the live channel; the picture stays for API clients
    w.live = gr.HTML(view_html(None), label="Fixed-noise samples", elem_id="img-grid-live",
                     js_on_load=live_js(), padding=False,
                     elem_classes=picture_classes())
    # no label over the picture (it covered the top-left samples): the caption under it names the grid
    w.grid = gr.Image(label="Fixed-noise samples", show_label=False, type="numpy", format="png",
                      interactive=False, height=560, buttons=["download"], elem_id="img-grid",
                      elem_classes=picture_classes(), visible=False)
    w.caption = gr.Markdown("", elem_id="img-grid-caption")
    with gr.Row():
        w.timeline = gr.Slider(0, 100, value=100, step=0.5, label="Timeline: % of the run (100 = live)",
                               scale=4, elem_id="img-timeline")
        w.follow = gr.Checkbox(value=True, label="Follow the live grid", scale=1, elem_id="img-follow")
        w.replay = gr.Button("Replay the run", scale=1, elem_id="img-replay")
    w.replay_view = gr.Image(label="Replay", type="filepath", interactive=False, visible=False, height=560,
                             buttons=["download"], elem_id="img-replay-view", elem_classes=picture_classes())
    notes(PLAY_NOTE, "While a model trains", open=False, elem_id="img-play-note")


def _plots_panel(w: Widgets) -> None:
    common = {"x": "step", "y": "value", "color": "series", "x_title": "step", "height": 240,
              "colors_in_legend": [], "elem_classes": [PLOT]}  # colours are named in the labels
    # the page draws the loss and FD curves and the histogram on canvases with each live frame; the
    # plots stay (hidden) for API clients
    w.loss_live = gr.HTML(curve_html("img", "loss", plots.LOSS_LABEL), elem_id="img-loss-live", padding=False)
    w.loss_plot = gr.LinePlot(plots.empty_loss_frame(), color_map=plots.LOSS_COLORS, label=plots.LOSS_LABEL,
                              y_title="loss", elem_id="img-loss-plot", visible=False, **common)
    with gr.Column() as w.metric_panel:
        w.fd_live = gr.HTML(curve_html("img", "fd", FD_LABEL), elem_id="img-fd-live", padding=False)
        # for API clients: a drawn picture with axes, margins and the floor line
        w.fd_plot = gr.Image(label=FD_LABEL, show_label=False, type="numpy", format="png", interactive=False,
                             height=270, buttons=["download"], elem_id="img-fd-plot", visible=False)
    with gr.Column(visible=False) as w.mi_panel:  # models with an InfoGAN category
        w.mi_plot = gr.ScatterPlot(empty_mi_frame(), color_map=MI_COLORS, label=MI_LABEL, y_title="nats",
                                   elem_id="img-mi-plot", **common)
    with gr.Column() as w.class_panel:
        w.hist_live = gr.HTML(curve_html("img", "hist", HIST_TITLE, bars=True), elem_id="img-hist-live",
                              padding=False)
        w.hist_plot = gr.BarPlot(hist_frame(None, [str(i) for i in range(10)]), x="class", y="count",
                                 y_lim=[0, None], elem_id="img-hist-plot", visible=False, label=HIST_TITLE,
                                 elem_classes=[PLOT])
        w.hist_time = gr.Image(label="Class histogram over time", show_label=False, type="numpy",
                               format="png", interactive=False, height=300, buttons=["download"],
                               elem_id="img-hist-time")  # the picture carries its own title
    with gr.Column(visible=False) as w.scene_panel:
        w.share_table = gr.Dataframe(label="Scenes: share of pixels per class, real vs generated",
                                     interactive=False, elem_id="img-share-table")
    notes(LEGEND, "How to read this tab", open=False, elem_id="img-legend")


def layout(ctx) -> Widgets:
    w = Widgets()
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=280, elem_classes=[CONTROLS]):
            _data_panel(w, ctx)
            _train_panel(w)
        with main_column(scale=5, min_width=460):  # the buttons, the headline and the whole grid together
            _buttons(w)
            _grid_panel(w)
        with gr.Column(scale=4, min_width=340):
            _plots_panel(w)
    w.ckpt = checkpoint_panel(shipped_image_checkpoints(ctx.checkpoints_dir), "Load a shipped image checkpoint",
                              prefix="img-", picker=w.shipped_picker)
    with gr.Accordion("Details (raw status)", open=False):
        w.status = gr.JSON(label="Session status", elem_id="img-status-json")
    w.timer = gr.Timer(POLL_SECONDS, active=False)
    return w

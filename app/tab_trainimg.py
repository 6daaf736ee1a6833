"""The Train (images) tab: train a DCGAN on digits, shapes, scenes or your own images and watch a
fixed-noise sample grid refresh live, scrub back through earlier grids, and follow the losses, the class
histogram and the Frechet distance: mode collapse in images made visible. Layout first, then the wiring;
handlers live in trainimg_events, what is shown in trainimg_view."""

from __future__ import annotations

from dataclasses import dataclass, field

import gradio as gr

from gan_core.losses import LOSSES
from gan_core.training import presets
from gan_core.training.session import SPEEDS, TrainingSession

from . import plots
from .tab_train2d import EMA_CHOICES, LR_CHOICES
from .trainimg_events import ImageEvents
from .trainimg_io import shipped_image_checkpoints
from .trainimg_view import FD_COLORS, FD_LABEL, LEGEND, ImageView, empty_fd_frame, hist_frame

TITLE = "Train (images)"
ORDER = 20
DEFAULT_PRESET = "digits-dcgan"
BETA1_CHOICES = [0.0, 0.5, 0.9]
UPLOAD_TYPES = [".zip", ".png", ".jpg", ".jpeg"]
POLL_SECONDS = 0.5
CHUNK_STEPS = 2  # DCGAN steps per hold of the session lock: a poll waits at most about this long
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


def default_config():
    return presets.get(DEFAULT_PRESET).config


def new_session(device: str) -> TrainingSession:
    """A visitor's image session: the default preset, not yet evaluated (an evaluation takes seconds;
    the first one runs on the eval_every schedule), training a few steps per hold of its lock."""
    return TrainingSession(default_config(), device=device, chunk=CHUNK_STEPS, evaluate=False)


def new_view() -> ImageView:
    return ImageView()


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
    c = default_config()
    with gr.Accordion("Training (applied live)", open=True):
        w.train["loss"] = gr.Dropdown(list(LOSSES), value=c.loss, label="Loss")
        w.train["optimizer"] = gr.Radio(["adam", "sgd"], value=c.optimizer, label="Optimizer")
        w.train["beta1"] = gr.Dropdown(BETA1_CHOICES, value=c.beta1, label="Adam beta1 (momentum)",
                                       allow_custom_value=True)
        with gr.Row():
            w.train["lr_d"] = gr.Dropdown(LR_CHOICES, value=c.lr_d, label="D learning rate",
                                          allow_custom_value=True)
            w.train["lr_g"] = gr.Dropdown(LR_CHOICES, value=c.lr_g, label="G learning rate",
                                          allow_custom_value=True)
        w.train["d_steps"] = gr.Slider(1, 10, value=c.d_steps, step=1, label="k: D steps per G step")
        w.train["batch_size"] = gr.Slider(16, 256, value=c.batch_size, step=16, label="Batch size")
        w.train["g_ema"] = gr.Dropdown(EMA_CHOICES, value=c.g_ema, label="G weight EMA (0 = off)",
                                       allow_custom_value=True)
        w.speed = gr.Radio(list(SPEEDS), value="full", label="Speed")


def _buttons(w: Widgets) -> None:
    with gr.Row():
        w.play = gr.Button("▶ Train", variant="primary", elem_id="img-train-play", min_width=80)
        w.pause = gr.Button("Pause", elem_id="img-train-pause", min_width=80)
        w.reset = gr.Button("↺ Reset", elem_id="img-train-reset", min_width=80)
    with gr.Row():
        w.step_d = gr.Button("Step D", size="sm", elem_id="img-step-d", min_width=60)
        w.step_g = gr.Button("Step G", size="sm", elem_id="img-step-g", min_width=60)
        w.step_both = gr.Button("Step both", size="sm", elem_id="img-step-both", min_width=60)
    gr.Markdown(PLAY_NOTE, elem_id="img-play-note")


def _grid_panel(w: Widgets) -> None:
    w.headline = gr.Markdown("## classes covered ? / ?", elem_id="img-headline")
    w.grid = gr.Image(label="Fixed-noise samples", type="numpy", format="png", interactive=False, height=560,
                      buttons=["download"], elem_id="img-grid")
    w.caption = gr.Markdown("", elem_id="img-grid-caption")
    with gr.Row():
        w.timeline = gr.Slider(0, 100, value=100, step=0.5, label="Timeline: % of the run (100 = live)",
                               scale=4, elem_id="img-timeline")
        w.follow = gr.Checkbox(value=True, label="Follow the live grid", scale=1, elem_id="img-follow")


def _plots_panel(w: Widgets) -> None:
    common = {"x": "step", "y": "value", "color": "series", "x_title": "step", "height": 240,
              "colors_in_legend": []}  # colours are named in the labels
    w.loss_plot = gr.LinePlot(plots.empty_loss_frame(), color_map=plots.LOSS_COLORS, label=plots.LOSS_LABEL,
                              y_title="loss", elem_id="img-loss-plot", **common)
    with gr.Column() as w.metric_panel:  # points, not lines: the first evaluation is a single point
        w.fd_plot = gr.ScatterPlot(empty_fd_frame(), color_map=FD_COLORS, label=FD_LABEL, y_title="FD",
                                   y_lim=[0, None], elem_id="img-fd-plot", **common)
    with gr.Column() as w.class_panel:
        w.hist_plot = gr.BarPlot(hist_frame(None, [str(i) for i in range(10)]), x="class", y="count",
                                 y_lim=[0, None], elem_id="img-hist-plot",
                                 label="Class histogram of 1,000 samples at the last evaluation")
        w.hist_time = gr.Image(label="Class histogram over time", show_label=False, type="numpy",
                               format="png", interactive=False, height=300, buttons=["download"],
                               elem_id="img-hist-time")  # the picture carries its own title
    with gr.Column(visible=False) as w.scene_panel:
        w.share_table = gr.Dataframe(label="Scenes: share of pixels per class, real vs generated",
                                     interactive=False, elem_id="img-share-table")
    gr.Markdown(LEGEND, elem_id="img-legend")


def _checkpoint_panel(w: Widgets, ctx) -> None:
    shipped = shipped_image_checkpoints(ctx.checkpoints_dir)
    with gr.Accordion("Checkpoints", open=False), gr.Row():
        with gr.Column():
            w.save = gr.Button("Save checkpoint", elem_id="img-save-checkpoint")
            w.download = gr.DownloadButton("Download", visible=False, elem_id="img-download-checkpoint")
        w.ckpt_upload = gr.File(label="Load a checkpoint (.safetensors)", file_types=[".safetensors"],
                                type="filepath", elem_id="img-checkpoint-upload")
        with gr.Column():
            w.shipped = gr.Dropdown(shipped, value=shipped[0][1] if shipped else None,
                                    label="Load a shipped image checkpoint", elem_id="img-shipped-select")
            w.load_shipped = gr.Button("Load shipped checkpoint", elem_id="img-load-shipped")


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
    _checkpoint_panel(w, ctx)
    with gr.Accordion("Details (raw status)", open=False):
        w.status = gr.JSON(label="Session status", elem_id="img-status-json")
    w.timer = gr.Timer(POLL_SECONDS, active=False)
    return w


def wire(w: Widgets, ev: ImageEvents, ctx) -> None:
    shown, config = ev.display, ev.config_widgets
    quiet = {"show_progress": "hidden"}  # errors show as toasts; the picture stays in place
    train_in = list(w.train.values())
    opened = ctx.tab.select if getattr(ctx, "tab", None) is not None else ctx.demo.load
    opened(ev.init, None, [*config, *shown], api_name="img_init", **quiet)  # nothing is built before
    w.timer.tick(ev.poll, None, shown, api_name="img_poll", trigger_mode="once", concurrency_limit=4, **quiet)
    w.preset.input(ev.describe_preset, [w.preset], [w.preset_info], api_name="img_describe_preset", **quiet)
    w.load_preset.click(ev.load_preset, [w.preset], [*config, w.preset_info, *shown],
                        api_name="img_load_preset", **quiet)
    w.upload.upload(ev.upload_images, [w.upload, w.upload_size, w.upload_colour], [*config, *shown],
                    api_name="img_upload", **quiet)
    w.play.click(ev.play, None, shown, api_name="img_play", **quiet)
    w.pause.click(ev.pause, None, shown, api_name="img_pause", **quiet)
    w.reset.click(ev.reset, None, shown, api_name="img_reset", **quiet)
    w.step_both.click(ev.step_both, None, shown, api_name="img_step", **quiet)
    w.step_d.click(ev.step_d, None, shown, api_name="img_step_d", **quiet)
    w.step_g.click(ev.step_g, None, shown, api_name="img_step_g", **quiet)
    triggers = [c.release if isinstance(c, gr.Slider) else c.input for c in train_in]
    gr.on(triggers, ev.set_hparams, train_in, shown, api_name="img_set_hparams", **quiet)
    w.speed.input(ev.set_speed, [w.speed], None, api_name="img_set_speed", **quiet)
    w.timeline.release(ev.scrub, [w.timeline], shown, api_name="img_scrub", **quiet)
    w.follow.input(ev.follow, [w.follow], shown, api_name="img_follow", **quiet)
    w.save.click(ev.save_checkpoint, None, [w.download], api_name="img_save_checkpoint", **quiet)
    loaded = [*config, w.preset, w.preset_info, *shown]
    w.ckpt_upload.upload(ev.load_checkpoint, [w.ckpt_upload], loaded, api_name="img_load_checkpoint", **quiet)
    w.load_shipped.click(ev.load_shipped, [w.shipped], loaded, api_name="img_load_shipped", **quiet)


def build(ctx) -> None:
    """Add the tab's contents to the current gr.Tab (called by app.server.build_app)."""
    w = layout(ctx)
    wire(w, ImageEvents(ctx, w), ctx)

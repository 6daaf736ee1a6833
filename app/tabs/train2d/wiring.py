"""The Train (2D) tab's wiring: every event gets an api name with the tab's prefix (`t2d_...`) and keeps
answering under the name it had before the prefix (`poll_2d`, `train_play`, ...)."""

from __future__ import annotations

import gradio as gr

from ...common.api import alias
from ...common.choices import QUIET
from . import howitworks

PREFIX = "t2d_"
OLD_NAMES = {  # new name (without the prefix) -> the name it answered to before
    "init": "init_2d", "poll": "poll_2d", "set_layers": "set_layers", "describe_preset": "describe_preset",
    "load_preset": "load_preset", "choose_dataset": "choose_dataset", "use_drawing": "use_drawing",
    "upload_csv": "upload_csv", "play": "train_play", "pause": "train_pause", "reset": "train_reset",
    "step": "train_step", "step_d": "train_step_d", "step_g": "train_step_g", "set_hparams": "set_hparams",
    "set_speed": "set_speed", "save_checkpoint": "save_checkpoint", "load_checkpoint": "load_checkpoint",
    "load_shipped": "load_shipped",
}


def listen(trigger, fn, inputs, outputs, name: str, **kwargs):
    """`trigger(fn, ...)` as `t2d_<name>`, and the same handler under its old api name; returns the
    event (for `.failure`)."""
    kwargs = {**QUIET, **kwargs}
    event = trigger(fn, inputs, outputs, api_name=PREFIX + name, **kwargs)
    alias(fn, inputs, outputs, OLD_NAMES[name], **kwargs)
    return event


def wire(w, ev, demo: gr.Blocks) -> None:
    shown, layers = ev.display, [w.layers]
    model_in, train_in = list(w.model.values()), list(w.train.values())
    listen(demo.load, ev.init, layers, shown, "init")
    demo.load(ev.live_view, None, [w.live], api_name=PREFIX + "live_view", **QUIET)
    # API clients poll the picture and the plots; the page's timer refreshes the rest (the live channel
    # draws the picture and the curves there)
    polled = gr.Button(visible=False, render=True)
    listen(polled.click, ev.poll, layers, shown, "poll", trigger_mode="once", concurrency_limit=4,
           concurrency_id="t2d_poll")
    w.timer.tick(ev.poll_page, layers, [*shown, w.live], api_name=PREFIX + "poll_page", trigger_mode="once",
                 concurrency_limit=4, concurrency_id="t2d_poll", **QUIET)
    listen(w.layers.change, ev.poll, layers, shown, "set_layers")
    listen(w.preset.input, ev.describe_preset, [w.preset], [w.preset_info], "describe_preset")
    listen(w.load_preset.click, ev.load_preset, [w.preset, w.layers],
           [*ev.config_widgets, w.preset_info, *shown], "load_preset")
    # choosing a preset loads it (Train then trains what the menu shows)
    w.preset.input(ev.load_preset, [w.preset, w.layers], [*ev.config_widgets, w.preset_info, *shown],
                   api_name=PREFIX + "choose_preset", **QUIET)
    listen(w.dataset.input, ev.choose_dataset, [w.dataset, w.layers, *model_in],
           [w.draw_group, w.csv_group, *shown], "choose_dataset")
    listen(w.use_drawing.click, ev.use_drawing, [w.sketch, w.layers, *model_in], shown, "use_drawing")
    listen(w.csv_file.upload, ev.upload_csv, [w.csv_file, w.layers, *model_in], shown, "upload_csv")
    listen(w.play.click, ev.play, layers, shown, "play")
    listen(w.pause.click, ev.pause, layers, shown, "pause")
    listen(w.reset.click, ev.reset, [w.layers, *model_in], shown, "reset")
    listen(w.step_both.click, ev.step_both, layers, shown, "step")
    listen(w.step_d.click, ev.step_d, layers, shown, "step_d")
    listen(w.step_g.click, ev.step_g, layers, shown, "step_g")
    triggers = [c.release if isinstance(c, gr.Slider) else c.input for c in train_in]

    def any_setting(fn, inputs, outputs, **kwargs):  # a trigger for every training setting
        return gr.on(triggers, fn, inputs, outputs, **kwargs)

    changed = listen(any_setting, ev.set_hparams, [w.layers, *train_in], shown, "set_hparams")
    # a refused setting: its error shows, then the widgets go back to the settings in force
    changed.failure(ev.settings_in_force, None, train_in, api_visibility="private", **QUIET)
    listen(w.speed.input, ev.set_speed, [w.speed], None, "set_speed")
    panel, loaded = w.ckpt, [*ev.config_widgets, w.preset, w.preset_info, *shown]
    listen(panel.save.click, ev.save_checkpoint, None, [panel.download], "save_checkpoint")
    listen(panel.upload.upload, ev.load_checkpoint, [panel.upload, w.layers], loaded, "load_checkpoint")
    listen(panel.load_shipped.click, ev.load_shipped, [panel.shipped, w.layers], loaded, "load_shipped")
    howitworks.wire(w, howitworks.HowItWorks(ev.ctx, w), PREFIX)  # the model graph, slow motion, the formula

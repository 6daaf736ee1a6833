"""The Train (images) tab's wiring: every event has an api name starting with `img_`."""

from __future__ import annotations

import gradio as gr

from ...common.choices import QUIET

PREFIX = "img_"


def wire(w, ev, ctx) -> None:
    shown, config = ev.display, ev.config_widgets
    train_in = list(w.train.values())
    opened = ctx.tab.select if getattr(ctx, "tab", None) is not None else ctx.demo.load
    opened(ev.init, None, [*config, *shown], api_name="img_init", **QUIET)  # nothing is built before
    opened(ev.live_view, None, [w.live], api_name="img_live_view", **QUIET)
    # API clients poll the picture and the plots; the page's timer refreshes the rest (the live channel
    # draws the grid, the curves and the histogram there)
    polled = gr.Button(visible=False, render=True)
    polled.click(ev.poll, None, shown, api_name="img_poll", trigger_mode="once", concurrency_limit=4,
                 concurrency_id="img_poll", **QUIET)
    w.timer.tick(ev.poll_page, None, shown, api_name="img_poll_page", trigger_mode="once",
                 concurrency_limit=4, concurrency_id="img_poll", **QUIET)
    w.preset.input(ev.describe_preset, [w.preset], [w.preset_info], api_name="img_describe_preset", **QUIET)
    w.load_preset.click(ev.load_preset, [w.preset], [*config, w.preset_info, *shown],
                        api_name="img_load_preset", **QUIET)
    # choosing a preset loads it (Train then trains what the menu shows)
    w.preset.input(ev.load_preset, [w.preset], [*config, w.preset_info, *shown], api_name="img_choose_preset",
                   **QUIET)
    w.upload.upload(ev.upload_images, [w.upload, w.upload_size, w.upload_colour], [*config, *shown],
                    api_name="img_upload", **QUIET)
    w.play.click(ev.play, None, shown, api_name="img_play", **QUIET)
    w.pause.click(ev.pause, None, shown, api_name="img_pause", **QUIET)
    w.reset.click(ev.reset, None, shown, api_name="img_reset", **QUIET)
    w.step_both.click(ev.step_both, None, shown, api_name="img_step", **QUIET)
    w.step_d.click(ev.step_d, None, shown, api_name="img_step_d", **QUIET)
    w.step_g.click(ev.step_g, None, shown, api_name="img_step_g", **QUIET)
    triggers = [c.release if isinstance(c, gr.Slider) else c.input for c in train_in]
    changed = gr.on(triggers, ev.set_hparams, train_in, shown, api_name="img_set_hparams", **QUIET)
    # a refused setting: its error shows, then the widgets go back to the settings in force
    changed.failure(ev.settings_in_force, None, train_in, api_visibility="private", **QUIET)
    w.speed.input(ev.set_speed, [w.speed], None, api_name="img_set_speed", **QUIET)
    w.timeline.release(ev.scrub, [w.timeline], shown, api_name="img_scrub", **QUIET)
    w.follow.input(ev.follow, [w.follow], shown, api_name="img_follow", **QUIET)
    w.replay.click(ev.replay, None, [w.replay_view], api_name="img_replay", **QUIET)
    panel, loaded = w.ckpt, [*config, w.preset, w.preset_info, *shown]
    panel.save.click(ev.save_checkpoint, None, [panel.download], api_name="img_save_checkpoint", **QUIET)
    panel.upload.upload(ev.load_checkpoint, [panel.upload], loaded, api_name="img_load_checkpoint", **QUIET)
    panel.load_shipped.click(ev.load_shipped, [panel.shipped], loaded, api_name="img_load_shipped", **QUIET)

"""Event handlers of the Train (images) tab. Each one finds the caller's image session, calls one core
function and returns widget values; bad input becomes a gr.Error with a one-line reason, and the session
keeps going.

Trainers for a new run (a preset, a reset, uploaded images, a checkpoint) are built and, for checkpoints,
evaluated before they replace the session's trainer, so a poll never waits for them. Grids are drawn
from snapshots by the session's own GridRenderer, never from the live trainer.
"""

from __future__ import annotations

import gradio as gr

from gan_core import atomic, checkpoint
from gan_core.explore.interpolate import gif_bytes
from gan_core.viz import timeline
from gan_core.data import registry as data_registry
from gan_core.data.source import ImageSource
from gan_core.data.uploads import load_uploads
from gan_core.device import set_threads
from gan_core.training import presets
from gan_core.training.trainer import Trainer, TrainingDiverged, trainer_from_checkpoint
from gan_core.training.uploads import fits_upload, restore_on, upload_config

from ...common import plots
from ...common.choices import ALERT_STATES
from ...common.sessions import VIEW_WAIT_S
from ...common.checkpoints import save_training, shipped_file, uploaded
from ...common.guard import guarded
from ...common.models import require_output, start_training
from ...common.settings import apply_settings, in_force
from .live import view_html
from .state import SLOT, shipped_image_checkpoints
from .view import (
    ImageView,
    class_history_picture,
    class_names,
    evaluator_kind,
    fd_picture,
    grid_caption,
    headline_markdown,
    hist_frame,
    share_table,
    status_record,
)
from .view import has_mi, mi_frame

TRAIN_FIELDS = ("loss", "optimizer", "beta1", "lr_d", "lr_g", "d_steps", "batch_size", "g_ema")
# torch's intra-op thread count is process-wide (set in one thread, it holds in every thread), so one
# visitor's DCGAN on two threads would oversubscribe the cores for every other training and every render
# (measured: about 10x slower each). Each training therefore runs on one thread, as launch.py sets.
TRAIN_THREADS = 1
SNAPSHOT_WAIT_S = 0.25  # a poll waits this long for the training lock, then shows the previous snapshot


class ImageEvents:
    """Handlers bound to the tab's widgets `w` and the app context `ctx` (session store, folders, device)."""

    def __init__(self, ctx, w):
        self.ctx, self.w = ctx, w

    # ----- shared views ------------------------------------------------------------------------------
    @property
    def picture(self) -> list:
        w = self.w
        return [w.grid, w.timeline, w.follow, w.caption]

    @property
    def display(self) -> list:
        w = self.w
        return [w.headline, *self.picture, w.loss_plot, w.fd_plot, w.mi_plot, w.hist_plot, w.hist_time,
                w.share_table, w.metric_panel, w.mi_panel, w.class_panel, w.scene_panel, w.status, w.timer]

    @property
    def config_widgets(self) -> list:
        return list(self.w.train.values())

    def view(self, us, force: bool = False, page: bool = False) -> dict:
        """Display values for the session now; the picture and the plots are skipped when unchanged. The
        page's own refresh (`page`) never draws the grid, the losses, FD or the histogram: the live
        channel draws them there."""
        w, mem = self.w, us.renderer
        snap = us.training.snapshot(wait=SNAPSHOT_WAIT_S)
        if snap.state in ALERT_STATES and us.last_state != snap.state:
            gr.Warning(snap.message)
        us.last_state = snap.state
        out = {w.headline: headline_markdown(snap), w.timer: gr.Timer(active=snap.state == "running")}
        key = (snap.version, snap.step, snap.state, snap.cfg.g_ema, id(snap.data))
        with us.render_lock:
            if force or key != us.last_view:
                grid = None if page else mem.draw(snap)
                mem.record_metrics(snap.metrics)
                us.last_view = key
                out.update(self._picture(mem, snap, grid))
                out.update(self._metric_plots(mem, snap, force))
                if page:
                    out.update({c: gr.skip() for c in (w.loss_plot, w.fd_plot, w.hist_plot)})
            else:
                out.update({c: gr.skip() for c in self.display if c not in (w.headline, w.timer)})
            out[w.status] = status_record(snap, mem)
        return out

    def _picture(self, mem: ImageView, snap, grid) -> dict:
        """The grid when following the live grid (the timeline slider then sits at 100 %: polls never
        move it, so they cannot fight a visitor dragging it), and the caption."""
        w = self.w
        if mem.following:
            if grid is None:  # the page: the live channel draws the grid
                return {w.grid: gr.skip(), w.timeline: 100, w.follow: True,
                        w.caption: grid_caption(mem, snap)}
            mem.shown_step = snap.step
            return {w.grid: mem.display(grid), w.timeline: 100, w.follow: True,
                    w.caption: grid_caption(mem, snap)}
        return {w.grid: gr.skip(), w.timeline: gr.skip(), w.follow: gr.skip(),
                w.caption: grid_caption(mem, snap)}

    def _metric_plots(self, mem: ImageView, snap, force: bool) -> dict:
        """Losses always; FD, histograms and the share table when an evaluation is new (or forced)."""
        w = self.w
        out = {w.loss_plot: plots.loss_frame(snap.rows)}
        kind, names = evaluator_kind(snap), class_names(snap)
        key = (snap.metrics.get("step"), kind, tuple(names), len(mem.hist_log))
        if not force and key == mem.plots_key:
            return {**out, **{c: gr.skip() for c in (w.fd_plot, w.hist_plot, w.hist_time, w.share_table,
                                                       w.metric_panel, w.class_panel, w.scene_panel)},
                    w.mi_plot: gr.skip(), w.mi_panel: gr.skip()}
        mem.plots_key = key
        return {**out, w.fd_plot: fd_picture(snap.rows),
                w.hist_plot: hist_frame(snap.metrics.get("histogram"), names),
                w.hist_time: class_history_picture(mem.hist_log, names) if kind == "classifier" else None,
                w.share_table: share_table(snap.metrics),
                w.mi_plot: mi_frame(snap.rows), w.mi_panel: gr.Column(visible=has_mi(snap)),
                w.metric_panel: gr.Column(visible=kind is not None),
                w.class_panel: gr.Column(visible=kind == "classifier"),
                w.scene_panel: gr.Column(visible=kind == "segmenter")}

    def config_values(self, cfg) -> dict:
        """Widget values that show a config (after a preset, an upload or a checkpoint)."""
        return {self.w.train[k]: getattr(cfg, k) for k in TRAIN_FIELDS}

    def _session(self, request: gr.Request):
        return self.ctx.sessions.slot(request, SLOT)

    def _install(self, us, trainer: Trainer, message: str) -> None:
        """Make `trainer` the session's (paused) trainer and start a new timeline."""
        us.training.replace_trainer(trainer, message)
        with us.render_lock:
            us.renderer.new_run()
            for row in trainer.history.rows:  # a loaded run's earlier evaluations, for the picture over time
                us.renderer.record_metrics(row)
        us.invalidate()

    # ----- page and presets ------------------------------------------------------------------------------
    @guarded
    def init(self, request: gr.Request):
        us = self._session(request)
        us.invalidate()
        cfg = us.training.snapshot(wait=SNAPSHOT_WAIT_S).cfg
        return {**self.config_values(cfg), **self.view(us, force=True)}

    @guarded
    def poll(self, request: gr.Request):
        return self.view(self._session(request))

    @guarded
    def poll_page(self, request: gr.Request):
        """The page's refresh: everything but the grid, the losses, FD and the histogram (the live
        channel draws those)."""
        return self.view(self._session(request), page=True)

    @guarded
    def live_view(self, request: gr.Request):
        """The live canvas with this visitor's own token."""
        return view_html(self._session(request).token)

    def describe_preset(self, name):
        p = presets.PRESETS.get(name)
        return p.description if p is not None else f"Unknown preset {name!r}."

    @guarded
    def load_preset(self, request: gr.Request, name):
        us, p = self._session(request), presets.get(name)
        if p.kind != "image":
            raise ValueError(f"preset {name!r} is not an image preset")
        us.training.pause()
        self._install(us, Trainer(p.config, device=self.ctx.device),
                      f"Loaded {p.title}. Press Train to start.")
        if p.promise is not None:  # a demo pauses at its length, saying whether its phenomenon showed
            us.training.pause_at(p.promise.until or p.config.steps, p.promise)
        return {**self.config_values(p.config), self.w.preset_info: p.description,
                **self.view(us, force=True)}

    # ----- training controls -----------------------------------------------------------------------------
    @guarded
    def play(self, request: gr.Request):
        set_threads(TRAIN_THREADS)
        visitor = self.ctx.sessions.visitor(request)
        notice = start_training(visitor, SLOT)
        if notice:
            gr.Info(notice)
        return self.view(visitor.slot(SLOT))

    @guarded
    def pause(self, request: gr.Request):
        us = self._session(request)
        us.training.pause()
        return self.view(us)

    def _step(self, request, mode: str):
        us = self._session(request)
        us.training.step(mode, scheduled_eval=True)
        return self.view(us)

    @guarded
    def step_both(self, request: gr.Request):
        return self._step(request, "both")

    @guarded
    def step_d(self, request: gr.Request):
        return self._step(request, "d")

    @guarded
    def step_g(self, request: gr.Request):
        return self._step(request, "g")

    @guarded
    def reset(self, request: gr.Request):
        """Fresh weights with the current settings, on the same data (uploaded images stay)."""
        us = self._session(request)
        us.training.pause()
        snap, upload = us.training.snapshot(wait=VIEW_WAIT_S), us.renderer.upload
        data = upload if upload is not None and snap.data is upload else None
        self._install(us, Trainer(snap.cfg, data=data, device=self.ctx.device),
                      "Reset to fresh weights with the current settings. Press Train to start.")
        return self.view(us, force=True)

    @guarded
    def set_hparams(self, request: gr.Request, *values):
        us = self._session(request)
        apply_settings(us.training, TRAIN_FIELDS, values)
        return self.view(us)

    @guarded
    def settings_in_force(self, request: gr.Request):
        """The training widgets showing the settings in force (after a refused change)."""
        return in_force(self._session(request).training, self.w.train)

    @guarded
    def set_speed(self, request: gr.Request, speed):
        self._session(request).training.set_speed(speed)

    # ----- timeline ----------------------------------------------------------------------------------------
    @guarded
    def scrub(self, request: gr.Request, percent):
        """Show the kept grid nearest to `percent` % of the run so far; at 100 %, follow training again."""
        us = self._session(request)
        mem, snap = us.renderer, us.training.snapshot(wait=SNAPSHOT_WAIT_S)
        percent = min(100.0, max(0.0, float(percent if percent is not None else 100)))
        with us.render_lock:
            entry = mem.timeline.nearest(percent / 100 * snap.step)
            mem.following = entry is None or percent >= 100
            if not mem.following:
                mem.shown_step = entry[0]
                return {self.w.grid: mem.display(entry[1]), self.w.follow: False,
                        self.w.caption: grid_caption(mem, snap), self.w.status: status_record(snap, mem)}
        us.invalidate()
        return self.view(us, force=True)

    @guarded
    def follow(self, request: gr.Request, on):
        """Tick: show the live grid again; untick: keep the picture where it is (the live grid stops)."""
        us = self._session(request)
        mem = us.renderer
        if on:
            mem.following = True
            us.invalidate()
            return self.view(us, force=True)
        snap = us.training.snapshot(wait=SNAPSHOT_WAIT_S)
        with us.render_lock:
            mem.following = False
            return {self.w.caption: grid_caption(mem, snap), self.w.status: status_record(snap, mem)}

    @guarded
    def replay(self, request: gr.Request):
        """An animated GIF of the kept grids, from the first to the last (about 12 seconds)."""
        us = self._session(request)
        mem = us.renderer
        with us.render_lock:
            frames = timeline.replay_frames(list(mem.timeline.items), mem.display)
        if len(frames) < 2:
            raise gr.Error("Nothing to replay yet: the timeline keeps a grid every so often while training "
                           "runs. Train a while, or load a shipped model (they carry their run's grids).")
        first, last = mem.timeline.items[0][0], mem.timeline.items[-1][0]
        path = self.ctx.session_dir(us.key) / f"replay-step{first}-{last}-{len(frames)}.gif"
        data = gif_bytes(frames, fps=timeline.replay_fps(len(frames)), loop=False)
        atomic.write_bytes(path, data)
        return gr.Image(value=str(path), visible=True,
                        label=f"Replay: {len(frames)} grids, step {first:,} to {last:,}")

    # ----- user images -------------------------------------------------------------------------------------
    @guarded
    def upload_images(self, request: gr.Request, paths, size, colour):
        paths = [paths] if isinstance(paths, str) else [str(p) for p in (paths or [])]
        size, channels = int(size), (1 if colour == "grey" else 3)
        dataset = load_uploads(paths, size, channels)
        source = ImageSource(dataset, device=self.ctx.device)
        us = self._session(request)
        us.training.pause()
        cfg = upload_config(dataset.name, size, channels)
        trainer = Trainer(cfg, data=source, device=self.ctx.device)
        with us.render_lock:
            us.renderer.upload = source
        what = f"{len(dataset):,} uploaded images ({size}x{size}, {'grey' if channels == 1 else 'colour'})"
        self._install(us, trainer, f"Loaded {what}. There is no evaluator for your images: only the losses "
                                   "are measured. Press Train to start.")
        gr.Info(f"Loaded {what}.")
        return {**self.config_values(cfg), **self.view(us, force=True)}

    # ----- checkpoints -------------------------------------------------------------------------------------
    @guarded
    def save_checkpoint(self, request: gr.Request):
        us = self._session(request)
        folder = self.ctx.session_dir(us.key)
        return save_training(us, folder, "gan-images", "GAN Explorer, Train (images) tab")

    def _trainer_for(self, ckpt: checkpoint.Checkpoint, upload: ImageSource | None, what: str) -> Trainer:
        """A trainer continuing from `ckpt`: on its built-in dataset, or on the visitor's uploaded images
        when it was trained on images of that name, size and colour."""
        cfg, dev = ckpt.train_config, self.ctx.device
        try:
            if cfg.dataset in data_registry.IMAGE_SETS:
                return trainer_from_checkpoint(ckpt, dev)
            spec = ckpt.G.output_spec
            if not fits_upload(ckpt, upload):
                colour = "grey" if spec.channels == 1 else "colour"
                raise checkpoint.CheckpointError(
                    f"{what} was trained on uploaded images ({cfg.dataset!r}), which checkpoints do not "
                    f"store: upload the same images ({spec.size} px, {colour}) first, then load it")
            return restore_on(ckpt, upload, dev)
        except TrainingDiverged as e:
            raise checkpoint.CheckpointError(f"{what} produces invalid samples: {e}") from None

    def _load(self, request, path: str, what: str):
        us = self._session(request)
        require_output(checkpoint.read_meta(path), "image", what, "a 2D model; load it on the Train (2D) tab")
        ckpt = checkpoint.load(path, self.ctx.device)
        us.training.pause()
        trainer = self._trainer_for(ckpt, us.renderer.upload, what)
        self._install(us, trainer, f"Loaded {what} at step {trainer.step_count}.")
        if ckpt.timeline:  # the run's stored grids: the timeline replays how it learned
            with us.render_lock:
                us.renderer.timeline.start_from(ckpt.timeline)
                us.renderer.following = True
        p = presets.preset_for(trainer.cfg, "image")  # the preset menu and its text follow the loaded model
        menu = {self.w.preset: p.name if p else gr.update(), self.w.preset_info: p.description if p else
                f"A checkpoint trained on {trainer.cfg.dataset!r}, not made from a preset."}
        return {**self.config_values(trainer.cfg), **menu, **self.view(us, force=True)}

    @guarded
    def load_checkpoint(self, request: gr.Request, path):
        return self._load(request, *uploaded(path))

    @guarded
    def load_shipped(self, request: gr.Request, name):
        offered = shipped_image_checkpoints(self.ctx.checkpoints_dir)
        return self._load(request, *shipped_file(self.ctx.checkpoints_dir, name, offered, "image"))

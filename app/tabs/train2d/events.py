"""Event handlers of the Train (2D) tab. Each one finds the caller's session, calls one core function and
returns widget values; bad input becomes a gr.Error with a one-line reason, and the session keeps going."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import gradio as gr

from gan_core import checkpoint, models
from gan_core.data import toy2d
from gan_core.training import presets
from gan_core.training.trainer import TrainingDiverged, trainer_from_checkpoint

from ...common import plots
from ...common.choices import ALERT_STATES
from ...common.sessions import VIEW_WAIT_S
from ...common.checkpoints import save_training, shipped_file, uploaded
from ...common.guard import guarded, parse_fields
from ...common.models import require_output, start_training
from ...common.settings import apply_settings, in_force
from .state import SLOT, shipped_checkpoints
from .live import view_html
from .view import counter_markdown, drawing_mask, n_modes, status_record

log = logging.getLogger(__name__)

MODEL_FIELDS = ("g_hidden", "g_layers", "d_hidden", "d_layers", "activation", "d_activation", "z_dim",
                "noise", "pack")
TRAIN_FIELDS = ("loss", "optimizer", "lr_d", "lr_g", "d_steps", "batch_size", "unroll", "g_ema")
MAX_CSV_BYTES = 10 * 2**20
TOKEN_RESEND_S = 2.0  # the live canvas's token is handed over again after this, until the canvas uses it
class Train2DEvents:
    """Handlers bound to the tab's widgets `w` and the app context `ctx` (session store, folders, device)."""

    def __init__(self, ctx, w):
        self.ctx, self.w = ctx, w

    # ----- shared views ------------------------------------------------------------------------------
    @property
    def display(self) -> list:
        w = self.w
        return [w.plane, w.counter, w.status, w.loss_plot, w.cover_plot, w.timer]

    @property
    def config_widgets(self) -> list:
        w = self.w
        return [*w.model.values(), *w.train.values(), w.dataset]

    def view(self, us, layers, force: bool = False, page: bool = False) -> dict:
        """Display values for the session now; picture and plots are skipped when nothing changed, and
        always for the page's own refresh (`page`: the live channel draws them there)."""
        w, snap = self.w, us.training.snapshot(wait=VIEW_WAIT_S)
        key = (snap.version, snap.step, snap.state, tuple(layers or ()), snap.cfg.loss, id(snap.data))
        # the timer also ticks once after the visitor's first real use (a preset, a step): its refresh
        # hands the live canvas its token
        out = {w.counter: counter_markdown(snap), w.status: status_record(snap),
               w.timer: gr.Timer(active=snap.state == "running" or self._canvas_waits(us))}
        if snap.state in ALERT_STATES and us.last_state != snap.state:
            gr.Warning(snap.message)
        us.last_state = snap.state
        if page or (not force and key == us.last_view):
            return {**out, w.plane: gr.skip(), w.loss_plot: gr.skip(), w.cover_plot: gr.skip()}
        with us.render_lock:
            picture = us.renderer.render(snap, tuple(layers or ()))
        us.last_view = key
        modes = n_modes(snap.data)
        cover = plots.coverage_frame(snap.rows, modes)
        if force:  # the data may have changed kind: name the curves that apply
            cover = gr.LinePlot(cover, label=plots.coverage_label(modes))
        return {**out, w.plane: picture, w.loss_plot: plots.loss_frame(snap.rows), w.cover_plot: cover}

    def config_values(self, cfg, data=None) -> dict:
        """Widget values that show a config (after a preset or checkpoint load)."""
        w, spec = self.w, models.get(cfg.family).config_cls.from_dict(cfg.model).to_dict()
        out = {w.model[k]: spec[k] for k in MODEL_FIELDS}
        out.update({w.train[k]: getattr(cfg, k) for k in TRAIN_FIELDS})
        name = getattr(data, "name", cfg.dataset)
        out[w.dataset] = name if name in toy2d.BUILTIN else gr.skip()
        return out

    def _reset(self, us, model_values, data, layers) -> dict:
        """Reset the session with the model widgets' settings on `data` (default: the current data)."""
        snap = us.training.snapshot(wait=VIEW_WAIT_S)
        data = data if data is not None else snap.data
        spec = {**snap.cfg.model, **parse_fields(MODEL_FIELDS, model_values, snap.cfg.model)}
        models.get(snap.cfg.family).config_cls.from_dict(spec)  # validate before touching the session
        name = getattr(data, "name", snap.cfg.dataset)
        us.training.reset(snap.cfg.replace(model=spec, dataset=name), data=data)
        us.invalidate()
        return self.view(us, layers, force=True)

    def _session(self, request: gr.Request):
        return self.ctx.sessions.slot(request, SLOT)

    def _shown(self, request: gr.Request):
        """The visitor's slot, or, before their first real use, the class-wide preview of the default
        preset (loading the page takes no place in the class)."""
        us = self.ctx.sessions.peek(getattr(request, "session_hash", None), SLOT)
        if us is None:
            us = self.ctx.preview(SLOT)
            us.invalidate()
        return us

    # ----- page and presets ------------------------------------------------------------------------------
    @guarded
    def init(self, request: gr.Request, layers):
        us = self._shown(request)
        us.invalidate()
        return self.view(us, layers, force=True)

    @guarded
    def poll(self, request: gr.Request, layers):
        return self.view(self._shown(request), layers)

    @guarded
    def poll_page(self, request: gr.Request, layers):
        """The page's refresh: counter, status and timer (the live channel draws picture and curves);
        the live canvas with its token once the visitor's slot exists (opening the page makes none),
        again every TOKEN_RESEND_S until the canvas has asked for a frame with it (an update can be lost
        or overtaken by an older refresh's)."""
        us = self._shown(request)
        out = self.view(us, layers, page=True)
        token = getattr(us, "token", None) if us is not self.ctx.preview(SLOT) else None
        now = time.monotonic()
        fresh = (token is not None and not us.live_seen
                 and now - getattr(us, "live_sent", 0.0) >= TOKEN_RESEND_S)
        if fresh:
            us.live_sent = now
        if token is not None and not us.live_seen:  # the page's own refresh goes on until the canvas has it
            out[self.w.timer] = gr.Timer(active=True)
        return {**out, self.w.live: view_html(token) if fresh else gr.skip()}

    def _canvas_waits(self, us) -> bool:
        """True once, on the first view after the visitor's slot exists while the page's canvas has not
        asked for a frame: the timer then ticks and its refresh (`poll_page`) hands the token over, and
        keeps ticking until the canvas has used it."""
        if (us is self.ctx.preview(SLOT) or getattr(us, "token", None) is None
                or getattr(us, "live_seen", False) or getattr(us, "canvas_nudged", False)):
            return False
        us.canvas_nudged = True
        return True

    @guarded
    def live_view(self, request: gr.Request):
        """The live canvas with this visitor's own token (a waiting canvas before their first real use:
        the page's refresh hands it the token then)."""
        us = self.ctx.sessions.peek(getattr(request, "session_hash", None), SLOT)
        if us is not None:
            us.live_sent = time.monotonic()
        return view_html(us.token if us is not None else None)

    def describe_preset(self, name):
        p = presets.PRESETS.get(name)
        return p.description if p is not None else f"Unknown preset {name!r}."

    @guarded
    def load_preset(self, request: gr.Request, name, layers):
        us, p = self._session(request), presets.get(name)
        if p.kind != "2d":
            raise ValueError(f"preset {name!r} is not a 2D preset")
        data = toy2d.get(p.config.dataset)
        us.training.reset(p.config, data=data)
        if p.promise is not None:  # a demo pauses at its length, saying whether its phenomenon held
            us.training.pause_at(p.promise.until or p.config.steps, p.promise)
        us.invalidate()
        return {**self.config_values(p.config, data), self.w.preset_info: p.description,
                **self.view(us, layers, force=True)}

    # ----- data ------------------------------------------------------------------------------------------
    @guarded
    def choose_dataset(self, request: gr.Request, name, layers, *model_values):
        w = self.w
        shown = {w.draw_group: gr.Group(visible=name == "draw"), w.csv_group: gr.Group(visible=name == "csv")}
        if name in ("draw", "csv"):
            return shown
        us = self._session(request)
        return {**shown, **self._reset(us, model_values, toy2d.get(name), layers)}

    @guarded
    def use_drawing(self, request: gr.Request, sketch, layers, *model_values):
        mask = drawing_mask(sketch)
        if mask is None:
            raise toy2d.PointsError("the drawing is empty: draw a few strokes on the canvas first")
        data = toy2d.from_drawing(mask)
        return self._reset(self._session(request), model_values, data, layers)

    @guarded
    def upload_csv(self, request: gr.Request, path, layers, *model_values):
        if not path:
            raise toy2d.PointsError("no file was uploaded")
        if os.path.getsize(path) > MAX_CSV_BYTES:
            raise toy2d.PointsError(f"the CSV file is larger than {MAX_CSV_BYTES // 2**20} MB")
        with open(path, "rb") as f:
            data = toy2d.from_csv(f.read(), name="csv")
        gr.Info(f"Loaded {data.meta['n_points']} points from {Path(path).name}.")
        return self._reset(self._session(request), model_values, data, layers)

    # ----- training controls -----------------------------------------------------------------------------
    @guarded
    def play(self, request: gr.Request, layers):
        visitor = self.ctx.sessions.visitor(request)
        notice = start_training(visitor, SLOT)  # two trainings would share 2 cores
        if notice:
            gr.Info(notice)
        return self.view(visitor.slot(SLOT), layers)

    @guarded
    def pause(self, request: gr.Request, layers):
        us = self._session(request)
        us.training.pause()
        return self.view(us, layers)

    def _step(self, request, layers, mode: str):
        us = self._session(request)
        us.training.step(mode)
        return self.view(us, layers)

    @guarded
    def step_both(self, request: gr.Request, layers):
        return self._step(request, layers, "both")

    @guarded
    def step_d(self, request: gr.Request, layers):
        return self._step(request, layers, "d")

    @guarded
    def step_g(self, request: gr.Request, layers):
        return self._step(request, layers, "g")

    @guarded
    def reset(self, request: gr.Request, layers, *model_values):
        return self._reset(self._session(request), model_values, None, layers)

    @guarded
    def set_hparams(self, request: gr.Request, layers, *values):
        us = self._session(request)
        apply_settings(us.training, TRAIN_FIELDS, values)
        return self.view(us, layers)

    @guarded
    def settings_in_force(self, request: gr.Request):
        """The training widgets showing the settings in force (after a refused change)."""
        return in_force(self._session(request).training, self.w.train)

    @guarded
    def set_speed(self, request: gr.Request, speed):
        self._session(request).training.set_speed(speed)

    # ----- checkpoints -----------------------------------------------------------------------------------
    @guarded
    def save_checkpoint(self, request: gr.Request):
        us = self._session(request)
        return save_training(us, self.ctx.session_dir(us.key), "gan2d", "GAN Explorer, Train (2D) tab")

    def _load(self, request, path: str, what: str, layers):
        us = self._session(request)
        require_output(checkpoint.read_meta(path), "points", what,
                       "an image model; this tab trains 2D models (load it on the Train (images) tab)")
        try:
            trainer = trainer_from_checkpoint(checkpoint.load(path, self.ctx.device), self.ctx.device)
        except TrainingDiverged as e:
            raise checkpoint.CheckpointError(f"{what} produces invalid samples: {e}") from None
        us.training.replace_trainer(trainer, f"Loaded {what} at step {trainer.step_count}.")
        us.invalidate()
        p = presets.preset_for(trainer.cfg, "2d")  # the preset menu and its text follow the loaded model
        menu = {self.w.preset: p.name if p else gr.update(),
                self.w.preset_info: p.description if p else "A 2D GAN checkpoint not made from a preset."}
        return {**self.config_values(trainer.cfg, trainer.data), **menu, **self.view(us, layers, force=True)}

    @guarded
    def load_checkpoint(self, request: gr.Request, path, layers):
        return self._load(request, *uploaded(path), layers)

    @guarded
    def load_shipped(self, request: gr.Request, name, layers):
        offered = shipped_checkpoints(self.ctx.checkpoints_dir)
        path, what = shipped_file(self.ctx.checkpoints_dir, name, offered, "2D")
        return self._load(request, path, what, layers)

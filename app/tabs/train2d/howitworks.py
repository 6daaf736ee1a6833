"""The Train (2D) tab's "How it works" accordion: GAN Lab's model overview graph, slow-motion training and
the formula view.

- `#t2d-graph`: the model graph (gan_core.viz.graph) of the visitor's training, drawn from snapshots while
  the accordion is open (its own timer, every REFRESH_S seconds, only when the training changed);
- `#t2d-slowmo` ("Slow-motion step", api `t2d_slowmo`): pauses the visitor's training, plays one real
  round (gan_core.training.slowmo) and streams its sub-steps at `#t2d-slowmo-speed` seconds each: the
  graph with the active parts highlighted and `#t2d-substep` (number, name, sentence; the last ends with
  "round played");
- `#t2d-formula`: the loss in force in LaTeX with the last logged step's numbers; `#t2d-gcurve`: G's loss
  against D(G(z)) with the fakes marked and the measured size of G's gradient (gan_core.viz.formula).

A lesson may open the accordion, click `#t2d-slowmo` and wait for "round played" in `#t2d-substep`.
"""

from __future__ import annotations

import asyncio
import math
import numbers
import threading
import time

import gradio as gr

from gan_core.data import toy2d
from gan_core.training import slowmo
from gan_core.training.slowmo import Round
from gan_core.viz import formula, graph

from ...common.choices import QUIET
from ...common.guard import guarded, guarded_stream
from ...common.sessions import VIEW_WAIT_S
from .state import SLOT, default_config
from .view import counter_markdown, status_record

TITLE = "How it works: the model graph, slow motion and the formula"
REFRESH_S = 1.5  # the open accordion redraws the graph at most this often (when the training changed)
CURVE_EVERY_S = 6.0  # ... and G's loss curve at most this often while training runs
SPEED_MIN, SPEED_MAX, SPEED_DEFAULT = 0.0, 5.0, 1.5  # seconds per sub-step
SPEED_LABEL = "Seconds per sub-step"
PLAYED = "round played"  # the last sub-step's text ends with this (a lesson waits for it)
BUSY = "Slow motion is already playing a round for you: wait until it says round played."
STARTING = "Playing one round in slow motion: your training pauses first..."
INTRO = (
    "Press **Slow-motion step** to play one round of training (D's update, then G's) sub-step by "
    "sub-step; the graph lights up the part at work. Your training pauses first."
)


def panel(w) -> None:
    """The accordion and its elements (closed: the tab's first view stays as it was)."""
    cfg = default_config()
    data = toy2d.get(cfg.dataset)
    with gr.Accordion(TITLE, open=False, elem_id="t2d-howitworks") as w.howitworks:
        w.graph = gr.HTML(
            graph.graph_html(graph.GraphView(loss=cfg.loss, extent=float(data.extent))),
            elem_id="t2d-graph",
            padding=False,
        )
        with gr.Row(equal_height=True):
            w.slowmo = gr.Button("Slow-motion step", variant="primary", elem_id="t2d-slowmo", scale=1)
            w.slowmo_speed = gr.Slider(
                SPEED_MIN,
                SPEED_MAX,
                value=SPEED_DEFAULT,
                step=0.25,
                label=SPEED_LABEL,
                elem_id="t2d-slowmo-speed",
                scale=2,
            )
        w.substep = gr.Markdown(INTRO, elem_id="t2d-substep")
        with gr.Row(equal_height=False):
            w.formula = gr.Markdown(
                formula.formula_markdown(cfg.loss, []),
                elem_id="t2d-formula",
                latex_delimiters=formula.LATEX_DELIMITERS,
            )
            w.gcurve = gr.Image(
                formula.gcurve_picture(cfg.loss),
                label="G's loss against D(G(z))",
                show_label=False,
                type="numpy",
                format="png",
                interactive=False,
                elem_id="t2d-gcurve",
                buttons=["download"],
            )
    w.howitworks_timer = gr.Timer(REFRESH_S, active=False)


def check_speed(value) -> float:
    """The speed slider's value as seconds per sub-step; a ValueError naming the slider otherwise."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, str)):
        raise ValueError(f"{SPEED_LABEL} must be a number, got {str(value)[:20]!r}")
    try:
        v = float(value)
    except ValueError:
        raise ValueError(f"{SPEED_LABEL} must be a number, got {str(value)[:20]!r}") from None
    if not (math.isfinite(v) and SPEED_MIN <= v <= SPEED_MAX):
        raise ValueError(
            f"{SPEED_LABEL} must be between {SPEED_MIN:g} and {SPEED_MAX:g}, got {str(value)[:20]}"
        )
    return v


def substep_markdown(rnd: Round, i: int) -> str:
    """Sub-step i (from 0) as the page shows it; the last one ends with PLAYED."""
    s = rnd.steps[i]
    text = f"**Sub-step {s.number} of {len(rnd.steps)}: {s.title}**\n\n{s.sentence}"
    if i == len(rnd.steps) - 1:
        text += f"\n\nStep {rnd.step:,} is done: {PLAYED}"
    return text


class HowItWorks:
    """Handlers of the accordion, bound to the tab's widgets `w` and the app context `ctx`."""

    def __init__(self, ctx, w):
        self.ctx, self.w = ctx, w

    def _shown(self, request: gr.Request):
        """The visitor's 2D slot, or before their first real use the class-wide preview."""
        us = self.ctx.sessions.peek(getattr(request, "session_hash", None), SLOT)
        return us if us is not None else self.ctx.preview(SLOT)

    @staticmethod
    def _painter(us):
        """The slot's graph painter and its lock (made on first use)."""
        if getattr(us, "graph_painter", None) is None:
            us.graph_lock = threading.Lock()
            us.graph_painter = graph.GraphPainter()
        return us.graph_painter, us.graph_lock

    def _render(self, us, curve: bool = True) -> dict:
        """Graph and formula of the slot's training now, and with `curve` G's loss curve (a matplotlib
        picture, the costly part: the timer redraws it at most every CURVE_EVERY_S seconds)."""
        snap = us.training.snapshot(wait=VIEW_WAIT_S)
        painter, lock = self._painter(us)
        with lock:
            view = painter.view(snap)
        us.howitworks_key = self._key(snap)
        w = self.w
        out = {
            w.graph: graph.graph_html(view),
            w.formula: formula.formula_markdown(snap.cfg.loss, snap.rows),
            w.gcurve: gr.skip(),
        }
        if curve:
            out[w.gcurve] = formula.gcurve_picture(
                snap.cfg.loss, view.fake_values, view.grad_norm, view.grad_norm_ns
            )
            us.gcurve_at = time.monotonic()
        else:  # the next tick draws again, with the curve once it is due
            us.howitworks_key = None
        return out

    @staticmethod
    def _key(snap) -> tuple:
        return (snap.version, snap.step, snap.cfg.loss, snap.extra.get("run"), id(snap.data))

    @guarded
    def open(self, request: gr.Request):
        """The accordion opens: draw the visitor's training and start the refresh timer."""
        us = self._shown(request)
        if getattr(us, "slowmo_busy", False):
            return {self.w.howitworks_timer: gr.Timer(active=True)}
        return {**self._render(us), self.w.howitworks_timer: gr.Timer(active=True)}

    @guarded
    def close(self):
        return gr.Timer(active=False)

    @guarded
    def refresh(self, request: gr.Request):
        """The open accordion's timer: redraw when the training changed (never while slow motion plays)."""
        us, w = self._shown(request), self.w
        skip = {w.graph: gr.skip(), w.formula: gr.skip(), w.gcurve: gr.skip()}
        if getattr(us, "slowmo_busy", False):
            return skip
        snap = us.training.snapshot(wait=VIEW_WAIT_S)
        if self._key(snap) == getattr(us, "howitworks_key", None):
            return skip
        due = time.monotonic() - getattr(us, "gcurve_at", 0.0) >= CURVE_EVERY_S or snap.state != "running"
        return self._render(us, curve=due)

    @guarded_stream
    async def slowmo(self, request: gr.Request, speed):
        """Pause the visitor's training, play one round and stream its sub-steps, `speed` s apart."""
        seconds = check_speed(speed)
        us = self.ctx.sessions.slot(request, SLOT)
        with _busy_lock:
            if getattr(us, "slowmo_busy", False):
                raise ValueError(BUSY)
            us.slowmo_busy = True
        try:
            async for update in self._play(us, seconds):
                yield update
        finally:
            us.slowmo_busy = False

    async def _play(self, us, seconds: float):
        w = self.w
        yield {w.substep: STARTING}  # at once: the last round's "round played" goes before this one plays
        rnd = await asyncio.to_thread(slowmo.slow_round, us.training)
        snap = us.training.snapshot(wait=VIEW_WAIT_S)
        if rnd is None:  # diverged or failed: the session's message says what happened and what to do
            raise ValueError(snap.message)
        rows = list(snap.rows)
        last = len(rnd.steps) - 1
        for i, sub in enumerate(rnd.steps):
            view = graph.view_of_substep(rnd, sub, rows)
            update = {w.graph: graph.graph_html(view), w.substep: substep_markdown(rnd, i)}
            if sub.key == "g_loss":  # G's loss now: where the fakes sit on its curve, and its gradient
                update[w.gcurve] = await asyncio.to_thread(
                    formula.gcurve_picture, rnd.loss, view.fake_values, view.grad_norm, view.grad_norm_ns
                )
            if i == last:
                update.update(
                    {
                        w.formula: formula.formula_markdown(rnd.loss, rows),
                        w.counter: counter_markdown(snap),
                        w.status: status_record(snap),
                    }
                )
                us.howitworks_key = self._key(snap)
            yield update
            if i < last and seconds > 0:
                await asyncio.sleep(seconds)


_busy_lock = threading.Lock()


def wire(w, how: HowItWorks, prefix: str) -> None:
    """The accordion's events, each with an api name under the tab's prefix."""
    shown = [w.graph, w.formula, w.gcurve]
    w.howitworks.expand(how.open, None, [*shown, w.howitworks_timer], api_name=prefix + "howitworks", **QUIET)
    w.howitworks.collapse(
        how.close, None, [w.howitworks_timer], api_name=prefix + "howitworks_close", **QUIET
    )
    w.howitworks_timer.tick(
        how.refresh, None, shown, api_name=prefix + "howitworks_poll", trigger_mode="once", **QUIET
    )
    w.slowmo.click(
        how.slowmo,
        [w.slowmo_speed],
        [w.graph, w.substep, w.formula, w.gcurve, w.counter, w.status],
        api_name=prefix + "slowmo",
        concurrency_limit=None,
        trigger_mode="once",
        **QUIET,
    )

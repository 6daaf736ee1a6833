"""The Code knobs tab: turn an InfoGAN generator's codes (a category picker, one slider per continuous code
from -2 to +2 with the training range [-1, 1] marked) on fixed noise and watch the picture follow; sweep
grids as the InfoGAN paper's figures; and "what did each code learn", read by the shipped evaluators
(digits: Hungarian matching of categories to digits, accuracy, confusion matrix; shapes: code x factor
correlations). Works on the visitor's live model from Train (images) and on shipped checkpoints.

While a knob moves, the picture goes through a small render route (.route; app/static/render_live.js),
not Gradio's event queue, as in the latent explorer; on release a normal event (`codes_move`) stores the
values and updates the readout.
"""

from __future__ import annotations

import gradio as gr

from ...common.choices import QUIET
from .events import CodesEvents
from .layout import layout
from .route import make_routes
from .state import slot_kind

TITLE = "Code knobs"
ORDER = 35
PREFIX = "codes_"

__all__ = ["TITLE", "ORDER", "PREFIX", "build", "routes", "slot_kind"]


def build(ctx) -> None:
    w = layout(ctx)
    ev = CodesEvents(ctx, w)
    opened = ctx.tab.select if getattr(ctx, "tab", None) is not None else ctx.demo.load
    opened(ev.init, None, ev.model_outputs, api_name="codes_init", **QUIET)
    w.use.click(ev.use_source, [w.source], ev.model_outputs, api_name="codes_use", show_progress="minimal")
    w.seed.submit(ev.set_seed, [w.seed], [w.seed, *ev.point_outputs], api_name="codes_seed", **QUIET)
    w.random.click(ev.random_seed, None, [w.seed, *ev.point_outputs], api_name="codes_random", **QUIET)
    gr.on([w.cat.input, *(k.release for k in w.knobs)], ev.move, [w.cat, *w.knobs], ev.point_outputs,
          api_name="codes_move", trigger_mode="always_last", **QUIET)
    w.reset.click(ev.reset, None, [*w.knobs, *ev.point_outputs], api_name="codes_reset", **QUIET)
    w.sweep_go.click(ev.sweep, [w.sweep_code, w.sweep_rows, w.sweep_seeds, w.sweep_cols, w.sweep_lo, w.sweep_hi],
                     [w.sweep_picture, w.sweep_caption], api_name="codes_sweep")
    w.learn_go.click(ev.learn, None, [w.learn_summary, w.learn_confusion, w.learn_heatmap, w.learn_table],
                     api_name="codes_learn")


def routes(ctx) -> list:
    return make_routes(ctx.sessions)

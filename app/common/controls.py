"""The controls both Train tabs show: the live training settings and the play / pause / reset / step
buttons. Each tab passes its element-id prefix and what differs (the batch-size range, extra settings)."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from gan_core.losses import LOSSES
from gan_core.training.session import SPEED_LABELS, SPEEDS

from .choices import EMA_CHOICES, LR_CHOICES

BETA1_CHOICES = [0.0, 0.5, 0.9]


def training_panel(w, cfg, batch_max: int, beta1: bool = False, unroll: bool = False) -> None:
    """The 'Training (applied live)' accordion: fills `w.train` (setting name -> component) and `w.speed`.
    `beta1` adds Adam's momentum, `unroll` the unrolled-D steps."""
    with gr.Accordion("Training (applied live)", open=True):
        w.train["loss"] = gr.Dropdown(list(LOSSES), value=cfg.loss, label="Loss")
        w.train["optimizer"] = gr.Radio(["adam", "sgd"], value=cfg.optimizer, label="Optimizer")
        if beta1:
            w.train["beta1"] = gr.Dropdown(BETA1_CHOICES, value=cfg.beta1, label="Adam beta1 (momentum)",
                                           allow_custom_value=True)
        with gr.Row():
            w.train["lr_d"] = gr.Dropdown(LR_CHOICES, value=cfg.lr_d, label="D learning rate",
                                          allow_custom_value=True)
            w.train["lr_g"] = gr.Dropdown(LR_CHOICES, value=cfg.lr_g, label="G learning rate",
                                          allow_custom_value=True)
        w.train["d_steps"] = gr.Slider(1, 10, value=cfg.d_steps, step=1, label="k: D steps per G step")
        w.train["batch_size"] = gr.Slider(16, batch_max, value=cfg.batch_size, step=16, label="Batch size")
        if unroll:
            w.train["unroll"] = gr.Slider(0, 10, value=cfg.unroll, step=1, label="Unrolled D steps (0 = off)")
        w.train["g_ema"] = gr.Dropdown(EMA_CHOICES, value=cfg.g_ema, label="G weight EMA (0 = off)",
                                       allow_custom_value=True)
        w.speed = gr.Radio([(SPEED_LABELS[k], k) for k in SPEEDS], value="full",
                           label="Speed (training rounds per frame of the live view)")


def control_buttons(w, prefix: str = "") -> None:
    """Train / Pause / Reset and the single steps of D, G or both (`w.play`, ... `w.step_both`), with
    element ids `<prefix>train-play`, ... `<prefix>step-both`."""
    with gr.Row():
        w.play = gr.Button("▶ Train", variant="primary", elem_id=f"{prefix}train-play", min_width=80)
        w.pause = gr.Button("Pause", elem_id=f"{prefix}train-pause", min_width=80)
        w.reset = gr.Button("↺ Reset", elem_id=f"{prefix}train-reset", min_width=80)
    with gr.Row():
        w.step_d = gr.Button("Step D", size="sm", elem_id=f"{prefix}step-d", min_width=60)
        w.step_g = gr.Button("Step G", size="sm", elem_id=f"{prefix}step-g", min_width=60)
        w.step_both = gr.Button("Step both", size="sm", elem_id=f"{prefix}step-both", min_width=60)


LIVE_JS = Path(__file__).resolve().parents[1] / "static" / "train_live.js"


def live_js() -> str:
    """The Train tabs' page script (app/static/train_live.js): draws the live channel's frames."""
    lines = LIVE_JS.read_text(encoding="utf-8").splitlines()
    while lines and lines[0].startswith("//"):  # the header comment stays in the file
        lines.pop(0)
    return "\n".join(lines)

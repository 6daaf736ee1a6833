"""Second api names for events: an endpoint renamed keeps answering under its old name."""

from __future__ import annotations

import gradio as gr


def alias(fn, inputs, outputs, api_name: str, **kwargs) -> None:
    """Register `fn` with the same inputs and outputs under a second api name: a hidden button's click
    (never shown, so only API clients call it)."""
    gr.Button(visible=False, render=True).click(fn, inputs, outputs, api_name=api_name, **kwargs)

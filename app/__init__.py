"""GAN Explorer's Gradio front end: one module per tab, a per-session registry and plot helpers."""

from .server import build_app

__all__ = ["build_app"]

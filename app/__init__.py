"""GAN Explorer's Gradio front end: one package per tab (app/tabs/), the parts they share (app/common/)
and the page-side scripts (app/static/)."""

from .server import build_app

__all__ = ["build_app"]

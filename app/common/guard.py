"""Handler hygiene shared by every tab: `guarded` turns expected failures into a one-line gr.Error (and
logs anything unexpected), `parse_fields` turns widget values into typed settings."""

from __future__ import annotations

import functools
import logging
import re

import gradio as gr

from gan_core import checkpoint
from gan_core.data import toy2d

from .labels import LABELS, in_words, quoted, show

log = logging.getLogger(__name__)

EXPECTED = (toy2d.PointsError, checkpoint.CheckpointError, ValueError, TypeError, KeyError)
INT_FIELDS = {"g_hidden", "g_layers", "d_hidden", "d_layers", "z_dim", "pack", "d_steps", "batch_size",
              "unroll"}
FLOAT_FIELDS = {"lr_d", "lr_g", "g_ema", "beta1"}


_PATH = re.compile(r"(?:[A-Za-z]:)?(?:[\\/][^\s'\"\\/:]+)+[\\/]([^\s'\"\\/]+)")


def public_message(text: str, limit: int = 300) -> str:
    """A message fit for a visitor: folders of absolute paths removed (the file name stays), settings
    named by their labels (app.common.labels), one line, at most `limit` characters."""
    text = in_words(_PATH.sub(r"\1", str(text)).strip())
    if len(text) > 1 and text[0] == text[-1] and text[0] in "'\"":  # a KeyError's message comes quoted
        text = text[1:-1]
    line = text.splitlines()[0] if text else ""
    return line if len(line) <= limit else line[:limit - 1] + "…"


def guarded(fn):
    """Turn expected failures into a gr.Error carrying their message (without server paths); log anything
    else and tell the visitor only that it happened (no internal exception text)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except EXPECTED as e:
            raise gr.Error(public_message(e)) from None
        except Exception as e:
            log.exception("unexpected error in %s", fn.__name__)
            raise gr.Error(f"Something went wrong ({type(e).__name__}); the server's log has the details. "
                           "Try again, or press Reset.") from None
    return wrapper


def parse_fields(names: tuple[str, ...], values, current: dict | None = None, labels: dict = LABELS,
                 ints=INT_FIELDS, floats=FLOAT_FIELDS) -> dict:
    """Widget values -> typed settings. A value that is not a number raises a ValueError naming the
    widget's label (`labels`), quoting what was typed and, given the settings in force (`current`), the
    value that is kept: "D learning rate must be a number, got 'abc'; keeping 0.001"."""
    out = {}
    for name, v in zip(names, values):
        try:
            out[name] = int(float(v)) if name in ints else float(v) if name in floats else v
        except (TypeError, ValueError, OverflowError):
            kept = f"; keeping {show(current[name])}" if current and name in current else ""
            what = "a whole number" if name in ints else "a number"
            raise ValueError(f"{labels.get(name, name)} must be {what}, got {quoted(v)}{kept}") from None
    return out


def guarded_stream(fn):
    """`guarded` for an async generator handler (a handler that streams updates): expected failures
    become a gr.Error with their one-line message, anything else is logged and reported in one line."""
    @functools.wraps(fn)
    async def wrapper(*args, **kwargs):
        try:
            async for item in fn(*args, **kwargs):
                yield item
        except gr.Error:
            raise
        except EXPECTED as e:
            raise gr.Error(public_message(e)) from None
        except Exception as e:
            log.exception("unexpected error in %s", fn.__name__)
            raise gr.Error(f"Something went wrong ({type(e).__name__}); the server's log has the details. "
                           "Try again, or press Reset.") from None
    return wrapper

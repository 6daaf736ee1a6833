"""Live training settings from the page: parse the widgets' values, apply them between steps, and speak
in the words on the screen.

A refused value (not a number, or outside what the core accepts) raises a ValueError whose message names
the widget's label, quotes what was typed and says which value stays in force; the handler's gr.Error
shows it, and each Train tab chains a `.failure` event that puts the values in force back into the
widgets (`in_force`), so the box never keeps a value that is not used. An accepted value outside the
sensible range (app.common.labels.SENSIBLE) is applied with a gr.Warning.
"""

from __future__ import annotations

import gradio as gr

from .guard import parse_fields
from .labels import far_out, refusal


def apply_settings(training, names: tuple[str, ...], values) -> dict:
    """Apply the widgets' `values` (in the order of `names`) to `training` (a TrainingSession) live;
    returns the changes applied ({name: value}, only those that differ from the settings in force)."""
    cfg = training.trainer.cfg
    current = {k: getattr(cfg, k) for k in names}
    parsed = parse_fields(names, values, current)
    changed = {k: v for k, v in parsed.items() if v != current[k]}
    try:
        training.set_hparams(**parsed)
    except ValueError as e:
        name = _named(str(e), parsed, changed)
        typed = dict(zip(names, values)).get(name, parsed.get(name))
        raise ValueError(refusal(str(e), name, typed, current.get(name))) from None
    for name, v in changed.items():
        warning = far_out(name, v)
        if warning:
            gr.Warning(warning)
    return changed


def _named(message: str, parsed: dict, changed: dict) -> str:
    """The setting a core message is about: its first word when that is a setting, else the first
    changed one (a refused change is one widget's change)."""
    first = message.split(" ", 1)[0]
    return first if first in parsed else next(iter(changed or parsed))


def in_force(training, widgets: dict) -> dict:
    """Widget values showing the settings in force ({component: value} for `widgets`, name -> component)."""
    cfg = training.trainer.cfg
    return {c: getattr(cfg, k) for k, c in widgets.items()}

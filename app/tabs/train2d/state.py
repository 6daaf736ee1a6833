"""What the Train (2D) tab keeps and starts from: the default preset a new visitor trains, the visitor's
training slot in the session store, and the shipped 2D checkpoints on offer."""

from __future__ import annotations

from pathlib import Path

from gan_core.data import toy2d
from gan_core.training import presets
from gan_core.training.config import TrainConfig
from gan_core.training.session import TrainingSession
from gan_core.viz.plane import PlaneRenderer

from ...common import models
from ...common.sessions import SlotKind, training_kind

SLOT = "train2d"  # the visitor's slot in the session store
DEFAULT_PRESET = "collapse-ring"


def default_config() -> TrainConfig:
    return presets.get(DEFAULT_PRESET).config


def default_data() -> toy2d.Toy2D:
    return toy2d.get(default_config().dataset)


def slot_kind(ctx) -> SlotKind:
    """A visitor's 2D training, starting on the default preset, drawn by its own PlaneRenderer."""
    return training_kind(SLOT, lambda: TrainingSession(default_config(), device=ctx.device), PlaneRenderer,
                         ctx.caps.get(SLOT, 16))


def shipped_checkpoints(folder: Path) -> list[tuple[str, str]]:
    """(label, file name) of the 2D model checkpoints in `folder`; unreadable files are left out."""
    return [(f"{Path(p).stem} ({meta['dataset']}, step {meta['step']})", Path(p).name)
            for p, meta in models.shipped(folder, "points")]

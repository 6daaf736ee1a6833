"""What the Train (images) tab keeps and starts from: the default preset, the visitor's image training
slot in the session store (a session and its view memory), and the shipped image checkpoints on offer.
Uploaded images become a dataset in gan_core.data.uploads and a config in gan_core.training.uploads."""

from __future__ import annotations

from pathlib import Path

from gan_core.training import presets
from gan_core.training.session import TrainingSession

from ...common import models
from ...common.checkpoints import read_card
from ...common.sessions import SlotKind, training_kind
from .view import ImageView

SLOT = "trainimg"  # the visitor's slot in the session store
DEFAULT_PRESET = "digits-dcgan"
CHUNK_STEPS = 2  # DCGAN steps per hold of the session lock: a poll waits at most about this long


def default_config():
    return presets.get(DEFAULT_PRESET).config


def new_session(device: str) -> TrainingSession:
    """A visitor's image session: the default preset, not yet evaluated (an evaluation takes seconds;
    the first one runs on the eval_every schedule), training a few steps per hold of its lock."""
    return TrainingSession(default_config(), device=device, chunk=CHUNK_STEPS, evaluate=False)


def slot_kind(ctx) -> SlotKind:
    """A visitor's image training; a DCGAN session weighs more than a 2D one, so the cap is lower."""
    return training_kind(SLOT, lambda: new_session(ctx.device), ImageView, ctx.caps.get(SLOT, 8))


def shipped_image_checkpoints(folder: Path) -> list[tuple[str, str]]:
    """(label, file name) of the image generator checkpoints in `folder`: readable, of a known image
    family, and not an evaluator (`eval-*`). Labels name the preset (from the model card) and the step."""
    found = []
    for p, meta in models.shipped(folder, "image"):
        path = Path(p)
        preset = presets.PRESETS.get(read_card(path).get("preset", path.stem))
        title = preset.title if preset is not None else path.stem
        found.append((f"{title} ({meta['dataset']}, step {meta['step']})", path.name))
    return found



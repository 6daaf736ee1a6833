"""The checkpoint panel both Train tabs show (save / download, upload, a menu of shipped checkpoints) and
the file handling behind it: where a visitor's saved checkpoints go and the checks on an uploaded file."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from gan_core import checkpoint

from .sessions import VIEW_WAIT_S


@dataclass
class CheckpointPanel:
    """The panel's components."""

    save: gr.Button  # writes a checkpoint into the visitor's session folder
    download: gr.DownloadButton  # shown once a checkpoint is saved
    upload: gr.File  # a .safetensors file to load
    shipped: gr.Dropdown  # shipped checkpoints on offer
    load_shipped: gr.Button  # loads the one chosen in `shipped`


def checkpoint_panel(shipped: list[tuple[str, str]], shipped_label: str, prefix: str = "",
                     picker: tuple[gr.Dropdown, gr.Button] | None = None) -> CheckpointPanel:
    """An accordion with the panel; `prefix` starts every elem_id (e.g. 'img-'). With `picker` (from
    `shipped_picker`, placed where it is used) the accordion holds only saving and uploading."""
    with gr.Accordion("Checkpoints", open=False), gr.Row():
        with gr.Column():
            save = gr.Button("Save checkpoint", elem_id=f"{prefix}save-checkpoint")
            download = gr.DownloadButton("Download", visible=False, elem_id=f"{prefix}download-checkpoint")
        upload = gr.File(label="Load a checkpoint (.safetensors)", file_types=[".safetensors"],
                         type="filepath", elem_id=f"{prefix}checkpoint-upload")
        if picker is None:
            with gr.Column():
                picker = shipped_picker(shipped, shipped_label, prefix)
    return CheckpointPanel(save, download, upload, *picker)


def shipped_picker(shipped: list[tuple[str, str]], label: str, prefix: str = "",
                   default: str | None = None) -> tuple[gr.Dropdown, gr.Button]:
    """The menu of shipped checkpoints and its Load button, where the tab places them; `default` (a file
    name) is chosen first when on offer, else the first entry."""
    names = [n for _, n in shipped]
    value = default if default in names else (names[0] if names else None)
    menu = gr.Dropdown(shipped, value=value, label=label, elem_id=f"{prefix}shipped-select")
    load = gr.Button("Load this model", size="sm", elem_id=f"{prefix}load-shipped")
    return menu, load


def save_training(slot, folder: Path, stem: str, source: str) -> gr.DownloadButton:
    """Save the slot's training as <folder>/<stem>-<data>-step<N>-<time>.safetensors; a download button."""
    snap = slot.training.snapshot(wait=VIEW_WAIT_S)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", getattr(snap.data, "name", "data"))
    path = folder / f"{stem}-{name}-step{snap.step}-{time.strftime('%H%M%S')}.safetensors"
    view = getattr(slot, "renderer", None)  # an image tab keeps the run's timeline of grids: it goes along
    timeline = None
    if hasattr(view, "timeline"):
        with slot.render_lock:
            timeline = list(view.timeline.items)
    slot.training.save_checkpoint(str(path), card={"source": source}, timeline=timeline)
    gr.Info(f"Saved step {snap.step}; use the download button to keep the file.")
    return gr.DownloadButton(value=str(path), visible=True, label=f"Download {path.name}")


def uploaded(path) -> tuple[str, str]:
    """(path, description) of an uploaded checkpoint; CheckpointError when none or not .safetensors."""
    if not path:
        raise checkpoint.CheckpointError("no file was uploaded")
    if not str(path).endswith(".safetensors"):
        raise checkpoint.CheckpointError(f"{Path(path).name} is not a .safetensors file")
    return str(path), f"the uploaded file {Path(path).name}"


def shipped_file(folder: Path, name, offered: list[tuple[str, str]], what: str) -> tuple[str, str]:
    """(path, description) of a shipped checkpoint on offer; CheckpointError for any other name."""
    if not name or name not in {n for _, n in offered}:
        raise checkpoint.CheckpointError(f"no shipped {what} checkpoint named {name!r}")
    return str(folder / name), f"checkpoint {name}"


def read_card(path: Path) -> dict:
    """The model card beside a checkpoint ({} when missing or unreadable)."""
    try:
        with open(Path(path).with_suffix(".json")) as f:
            card = json.load(f)
    except (OSError, ValueError):
        return {}
    return card if isinstance(card, dict) else {}

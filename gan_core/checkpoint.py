"""Checkpoints: weights in safetensors, the configs that rebuild the model in its metadata, a JSON model card.

A checkpoint holds `G.*` (the generator used for samples: the moving average when EMA is on), `D.*`, and
optionally `data.points` (user-drawn or uploaded 2D data). The metadata (all strings, as safetensors
wants) holds `format_version`, `family`, `model_config`, `train_config`, `step`, `dataset`, `metrics`,
and `history`: the run's logged losses and evaluations (JSON rows of scalars, thinned to at most
MAX_HISTORY_ROWS loss rows, every evaluation kept with its class histogram), so that a loaded checkpoint
shows how it was trained. Loading checks
every part and names what does not match. Pickles are never read.
"""

from __future__ import annotations

import json
import os
import math
from dataclasses import dataclass, field

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from . import models
from .training.config import TrainConfig

FORMAT_VERSION = "1"
REQUIRED_META = ("format_version", "family", "model_config", "train_config", "step", "dataset")
MAX_CHECKPOINT_BYTES = 512 * 1024 * 1024
MAX_HISTORY_ROWS = 1000  # loss rows stored (evaluation rows are all kept)
LOSS_KEYS = ("d_loss", "g_loss")  # a history row with one of these is a loss row, else an evaluation
HISTOGRAM_KEY, MAX_CLASSES = "histogram", 1000  # the one list an evaluation row keeps: class counts


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded; the message says what is wrong, in one line."""


@dataclass
class Checkpoint:
    G: torch.nn.Module
    D: torch.nn.Module
    train_config: TrainConfig
    step: int
    metrics: dict
    meta: dict
    data_points: torch.Tensor | None = None
    history: list[dict] = field(default_factory=list)  # logged rows of the run, oldest first


def save(path: str, trainer, card: dict | None = None) -> str:
    """Write `path` (.safetensors) and its model card (`.json` beside it). Returns the card path."""
    tensors = {}
    with trainer.ema_weights(True):
        tensors.update({f"G.{k}": v.detach().clone().contiguous().cpu() for k, v in trainer.G.state_dict().items()})
    tensors.update({f"D.{k}": v.detach().clone().contiguous().cpu() for k, v in trainer.D.state_dict().items()})
    pts = getattr(trainer.data, "points", None)
    if pts is not None:
        tensors["data.points"] = pts.detach().clone().contiguous().cpu()
    cfg = trainer.cfg
    meta = {
        "format_version": FORMAT_VERSION,
        "family": cfg.family,
        "model_config": json.dumps(trainer.model_cfg.to_dict()),
        "train_config": json.dumps(cfg.to_dict()),
        "step": str(trainer.step_count),
        "dataset": getattr(trainer.data, "name", cfg.dataset),
        "metrics": json.dumps(_jsonable(trainer.metrics)),
        "history": json.dumps(history_rows(trainer.history.rows)),
    }
    os.makedirs(os.path.dirname(os.path.abspath(path)) or ".", exist_ok=True)
    save_file(tensors, path, metadata=meta)
    card_path = os.path.splitext(path)[0] + ".json"
    full = {"family": cfg.family, "dataset": meta["dataset"], "step": trainer.step_count,
            "model_config": trainer.model_cfg.to_dict(), "train_config": cfg.to_dict(),
            "metrics": _jsonable(trainer.metrics), **(card or {})}
    with open(card_path, "w") as f:
        json.dump(full, f, indent=2)
    return card_path


def is_loss_row(row: dict) -> bool:
    return any(k in row for k in LOSS_KEYS)


def _is_histogram(v) -> bool:
    return (isinstance(v, list) and len(v) <= MAX_CLASSES
            and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in v))


def history_rows(rows: list[dict], max_rows: int = MAX_HISTORY_ROWS) -> list[dict]:
    """Rows to store: every evaluation row, loss rows thinned evenly to at most `max_rows` (the last one
    kept), scalar values only (and an evaluation's class histogram), non-finite numbers as null."""
    loss = [i for i, r in enumerate(rows) if is_loss_row(r)]
    stride = max(1, math.ceil(len(loss) / max_rows))
    keep = set(loss[::-1][::stride]) | {i for i, r in enumerate(rows) if not is_loss_row(r)}
    out = []
    for i in sorted(keep):
        row = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
               for k, v in rows[i].items() if isinstance(v, (int, float, str, bool)) or v is None
               or (k == HISTOGRAM_KEY and _is_histogram(v))}
        if isinstance(row.get("step"), int):
            out.append(row)
    return out


def _parse_history(text: str | None) -> list[dict]:
    """The stored history rows; CheckpointError when they are not a list of rows with integer steps."""
    if text is None:
        return []
    try:
        rows = json.loads(text)
    except ValueError as e:
        raise CheckpointError(f"checkpoint history is not JSON: {_short(e)}") from None
    ok = isinstance(rows, list) and all(
        isinstance(r, dict) and isinstance(r.get("step"), int) and not isinstance(r.get("step"), bool)
        and all(_is_histogram(v) if k == HISTOGRAM_KEY else isinstance(v, (int, float, str, bool)) or v is None
                for k, v in r.items()) for r in rows)
    if not ok:
        raise CheckpointError("checkpoint history must be a list of rows with an integer 'step' and "
                              "scalar values (and class counts under 'histogram')")
    return rows


def _jsonable(d):
    if isinstance(d, dict):
        return {k: _jsonable(v) for k, v in d.items()}
    if isinstance(d, (list, tuple)):
        return [_jsonable(v) for v in d]
    if isinstance(d, float) and d != d:
        return None
    if isinstance(d, torch.Tensor):
        return d.tolist()
    return d


def read_meta(path: str) -> dict:
    """The metadata of a checkpoint, validated; raises CheckpointError."""
    if not os.path.isfile(path):
        raise CheckpointError(f"no such checkpoint file: {path}")
    size = os.path.getsize(path)
    if size > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(f"checkpoint is too large ({size / 2**20:.0f} MB, limit "
                              f"{MAX_CHECKPOINT_BYTES / 2**20:.0f} MB)")
    try:
        with safe_open(path, framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"not a valid safetensors file ({_short(e)})") from None
    missing = [k for k in REQUIRED_META if k not in meta]
    if missing:
        raise CheckpointError(f"not a GAN Explorer checkpoint: metadata lacks {', '.join(missing)}")
    if meta["format_version"] != FORMAT_VERSION:
        raise CheckpointError(f"checkpoint format {meta['format_version']} is not supported "
                              f"(this version reads format {FORMAT_VERSION})")
    return meta


def readable(folder: str | os.PathLike, evaluators: bool = False) -> list[tuple[str, dict]]:
    """(path, metadata) of the checkpoints in `folder` that read as ours, sorted by name; evaluator
    checkpoints (`eval-*`) are left out unless `evaluators`. Broken files are skipped silently (lists for
    menus: loading one still reports what is wrong)."""
    found = []
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        if not name.endswith(".safetensors") or (name.startswith("eval-") and not evaluators):
            continue
        path = os.path.join(folder, name)
        try:
            found.append((path, read_meta(path)))
        except CheckpointError:
            continue
    return found


def load(path: str, device: str | torch.device = "cpu") -> Checkpoint:
    """Load and validate a checkpoint; raises CheckpointError naming what is wrong."""
    meta = read_meta(path)
    try:
        model_cfg = json.loads(meta["model_config"])
        train_cfg = TrainConfig.from_dict(json.loads(meta["train_config"]))
        metrics = json.loads(meta.get("metrics", "{}"))
        step = int(meta["step"])
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"checkpoint metadata is malformed: {_short(e)}") from None
    history = _parse_history(meta.get("history"))
    try:
        G, D, _ = models.build(meta["family"], model_cfg)
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"checkpoint model config does not build: {_short(e)}") from None
    with safe_open(path, framework="pt") as f:
        keys = set(f.keys())
        for prefix, net in (("G", G), ("D", D)):
            _load_into(f, keys, prefix, net)
        points = f.get_tensor("data.points") if "data.points" in keys else None
    return Checkpoint(G.to(device), D.to(device), train_cfg, step, metrics, meta, points, history)


def _load_into(f, keys: set, prefix: str, net: torch.nn.Module) -> None:
    want = net.state_dict()
    have = {k[len(prefix) + 1:] for k in keys if k.startswith(prefix + ".")}
    missing, extra = sorted(set(want) - have), sorted(have - set(want))
    if missing or extra:
        raise CheckpointError(f"{prefix} weights do not match its config: missing {missing[:3]}, "
                              f"unexpected {extra[:3]}")
    state = {}
    for k, v in want.items():
        t = f.get_tensor(f"{prefix}.{k}")
        if tuple(t.shape) != tuple(v.shape):
            raise CheckpointError(f"{prefix}.{k} has shape {tuple(t.shape)}, the config needs {tuple(v.shape)}")
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise CheckpointError(f"{prefix}.{k} contains NaN or inf values")
        state[k] = t
    net.load_state_dict(state)


def _short(e: Exception) -> str:
    return str(e).splitlines()[0][:160] if str(e) else type(e).__name__

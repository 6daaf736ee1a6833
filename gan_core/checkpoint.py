"""Checkpoints: weights in safetensors, the configs that rebuild the model in its metadata, a JSON model card.

A checkpoint holds `G.*` (the generator used for samples: the moving average when EMA is on), `D.*`, and
optionally `data.points` (user-drawn or uploaded 2D data) and `timeline.*` (the fixed-noise grid at up to
64 points of the run, as PNG bytes: see gan_core.viz.timeline). The metadata (all strings, as safetensors
wants) holds `format_version`, `family`, `model_config`, `train_config`, `step`, `dataset`, `metrics`,
and `history`: the run's logged losses and evaluations (JSON rows of scalars, thinned to at most
MAX_HISTORY_ROWS loss rows, every evaluation kept with its class histogram), so that a loaded checkpoint
shows how it was trained. Loading checks
every part and names what does not match. Pickles are never read.
"""

from __future__ import annotations

import json
import math
import os
import threading
from dataclasses import dataclass, field

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch.overrides import TorchFunctionMode
from torch.nn.modules.module import (register_module_buffer_registration_hook,
                                     register_module_parameter_registration_hook)

from . import atomic, models
from .data.registry import IMAGE_SETS
from .data.toy2d import MAX_USER_POINTS
from .training.config import TrainConfig
from .viz import timeline as timeline_mod

FORMAT_VERSION = "1"
REQUIRED_META = ("format_version", "family", "model_config", "train_config", "step", "dataset")
MAX_CHECKPOINT_BYTES = 512 * 1024 * 1024
MAX_HISTORY_ROWS = 1000  # loss rows stored (evaluation rows are all kept)
LOSS_KEYS = ("d_loss", "g_loss")  # a history row with one of these is a loss row, else an evaluation
HISTOGRAM_KEY, MAX_CLASSES = "histogram", 1000  # the one list an evaluation row keeps: class counts
MAX_EVAL_ROWS = 5000  # evaluation rows stored (thinned evenly beyond that, the last one kept)
# What a loaded checkpoint may claim, checked before anything is built or read:
MAX_PARAMS = 20_000_000  # G + D parameters and buffers (the largest shipped model, shapes-dcgan, has 0.46 M)
MAX_STEP = 10**9  # the step count (TrainConfig.steps allows runs of 10**8 steps; training may go on)
MAX_META_CHARS = {"model_config": 65_536, "train_config": 65_536, "metrics": 1 << 20, "history": 64 << 20}
DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16",
          torch.int64: "I64", torch.int32: "I32", torch.bool: "BOOL"}


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
    timeline: list = field(default_factory=list)  # [(step, (H, W, 3) uint8 grid)] over the run, oldest first


def save(path: str, trainer, card: dict | None = None, timeline: list | None = None) -> str:
    """Write `path` (.safetensors) and its model card (`.json` beside it). Returns the card path.
    `timeline`: [(step, grid)] of the run (grids after the trainer's step are left out)."""
    tensors = {}
    with trainer.ema_weights(True):
        tensors.update({f"G.{k}": v.detach().clone().contiguous().cpu() for k, v in trainer.G.state_dict().items()})
    tensors.update({f"D.{k}": v.detach().clone().contiguous().cpu() for k, v in trainer.D.state_dict().items()})
    pts = getattr(trainer.data, "points", None)
    if pts is not None:
        tensors["data.points"] = pts.detach().clone().contiguous().cpu()
    if timeline:
        tensors.update(timeline_mod.encode([(s, g) for s, g in timeline if s <= trainer.step_count]))
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
    # both files go through a temporary file and a rename: a crash or kill mid-save keeps the previous ones
    with atomic.replacing(path) as tmp:
        save_file(tensors, tmp, metadata=meta)
    card_path = os.path.splitext(path)[0] + ".json"
    full = {"family": cfg.family, "dataset": meta["dataset"], "step": trainer.step_count,
            "model_config": trainer.model_cfg.to_dict(), "train_config": cfg.to_dict(),
            "metrics": _jsonable(trainer.metrics), **(card or {})}
    atomic.write_text(card_path, json.dumps(full, indent=2))
    return card_path


def is_loss_row(row: dict) -> bool:
    return any(k in row for k in LOSS_KEYS)


def _is_histogram(v) -> bool:
    return (isinstance(v, list) and len(v) <= MAX_CLASSES
            and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in v))


def history_rows(rows: list[dict], max_rows: int = MAX_HISTORY_ROWS) -> list[dict]:
    """Rows to store: every evaluation row, loss rows thinned evenly to at most `max_rows` (the last one
    kept; evaluation rows likewise beyond MAX_EVAL_ROWS), scalar values only (and an evaluation's class histogram), non-finite numbers as null."""
    loss = [i for i, r in enumerate(rows) if is_loss_row(r)]
    evals = [i for i, r in enumerate(rows) if not is_loss_row(r)]
    stride = max(1, math.ceil(len(loss) / max_rows))
    eval_stride = max(1, math.ceil(len(evals) / MAX_EVAL_ROWS))
    keep = set(loss[::-1][::stride]) | set(evals[::-1][::eval_stride])
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
    if ok and len(rows) > MAX_HISTORY_ROWS + MAX_EVAL_ROWS + 2:
        raise CheckpointError(f"checkpoint history has {len(rows)} rows, more than a checkpoint stores "
                              f"({MAX_HISTORY_ROWS + MAX_EVAL_ROWS + 2})")
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
    """Load and validate a checkpoint; raises CheckpointError naming what is wrong.

    Everything a file claims is checked before memory is spent on it: the configs are parsed and
    range-checked, the networks are built on the `meta` device (shapes only, no memory) to learn the
    expected tensor shapes and the parameter count, and those are compared with the safetensors header
    (no tensor data read). Only then are the networks built for real and the weights read."""
    meta = read_meta(path)
    family, model_cfg, train_cfg, step, metrics = _parse_meta(meta)
    history = _parse_history(meta.get("history"))
    G0, D0 = _build_on_meta(family, model_cfg)
    want = {p: {k: (tuple(v.shape), v.dtype) for k, v in net.state_dict().items()} for p, net in (("G", G0), ("D", D0))}
    _check_dataset(train_cfg, family, getattr(G0, "output_spec", None))
    del G0, D0
    try:
        with safe_open(path, framework="pt") as f:
            keys = set(f.keys())
            for prefix, part in want.items():
                _check_header(f, keys, prefix, part)
            points_shape = _check_points(f, keys)
            try:
                G, D, _ = family.build(model_cfg)
            except (ValueError, TypeError) as e:
                raise CheckpointError(f"checkpoint model config does not build: {_short(e)}") from None
            for prefix, net in (("G", G), ("D", D)):
                _load_into(f, prefix, net)
            points = None
            if points_shape is not None:
                points = f.get_tensor("data.points")
                if not torch.isfinite(points).all():
                    raise CheckpointError("data.points contains NaN or inf values")
            try:
                grids = timeline_mod.read(f, keys, step)
            except ValueError as e:
                raise CheckpointError(str(e)) from None
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"checkpoint weights cannot be read ({_short(e)})") from None
    return Checkpoint(G.to(device), D.to(device), train_cfg, step, metrics, meta, points, history, grids)


class _TooLarge(Exception):
    pass


class _ShapesOnly(TorchFunctionMode):
    """Skips work that only fills values on `meta` tensors: initialisers and the steps of spectral norm's
    power iteration (`normalize`, `mv`, `vdot`, arithmetic), whose first use on `meta` imports torch's compiler (seconds)."""

    SKIP = {torch.Tensor.normal_, torch.Tensor.uniform_, torch.Tensor.fill_, torch.Tensor.zero_,
            torch.nn.functional.normalize}
    ELEMENTWISE = {torch.div, torch.Tensor.div, torch.Tensor.__truediv__, torch.mul, torch.Tensor.mul,
                   torch.Tensor.__mul__, torch.add, torch.Tensor.add, torch.Tensor.__add__, torch.sub,
                   torch.Tensor.sub, torch.Tensor.__sub__}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        t = args[0] if args else kwargs.get("tensor", kwargs.get("input"))
        if isinstance(t, torch.Tensor) and t.is_meta:
            if func in self.SKIP or getattr(func, "__module__", "") == "torch.nn.init":
                return t
            if func is torch.mv:  # matrix x vector: a vector of the matrix's rows
                return torch.empty(t.shape[:1], dtype=t.dtype, device="meta")
            if func in (torch.vdot, torch.dot):  # vector . vector: a scalar
                return torch.empty((), dtype=t.dtype, device="meta")
            if func in self.ELEMENTWISE:  # broadcasting arithmetic
                shapes = [a.shape for a in args if isinstance(a, torch.Tensor)]
                return torch.empty(torch.broadcast_shapes(*shapes), dtype=t.dtype, device="meta")
        return func(*args, **kwargs)


def _build_on_meta(family, model_cfg: dict):
    """G and D built on the `meta` device (shapes without memory). The parameters and buffers are counted
    as modules register them, and the build stops as soon as they pass MAX_PARAMS: building thousands of
    layers even on `meta` takes seconds."""
    owner, count = threading.get_ident(), [0]

    def counted(module, name, tensor):
        if tensor is not None and threading.get_ident() == owner:
            count[0] += tensor.numel()
            if count[0] > MAX_PARAMS:
                raise _TooLarge
        return None

    hooks = [register_module_parameter_registration_hook(counted),
             register_module_buffer_registration_hook(counted)]
    try:
        with torch.device("meta"), _ShapesOnly():
            G0, D0, _ = family.build(model_cfg)
    except _TooLarge:
        raise CheckpointError(f"checkpoint model has more than {MAX_PARAMS:,} parameters, the most this app "
                              f"loads: lower the widths or layers in its model config") from None
    except Exception as e:  # a family that cannot build on the meta device says so here, still without memory
        raise CheckpointError(f"checkpoint model config does not build: {_short(e)}") from None
    finally:
        for h in hooks:
            h.remove()
    n = sum(t.numel() for net in (G0, D0) for t in net.state_dict().values())
    if n > MAX_PARAMS:  # tensors made outside register_parameter/register_buffer
        raise CheckpointError(f"checkpoint model has {n:,} parameters, more than the {MAX_PARAMS:,} this app "
                              f"loads: lower the widths or layers in its model config")
    return G0, D0


def _parse_meta(meta: dict):
    """(family, model config dict, TrainConfig, step, metrics) from the metadata, every value checked."""
    for key, limit in MAX_META_CHARS.items():
        if len(meta.get(key) or "") > limit:
            raise CheckpointError(f"checkpoint {key} is too long ({len(meta[key]):,} characters, limit {limit:,})")
    try:
        family = models.get(meta["family"])
    except ValueError as e:
        raise CheckpointError(f"checkpoint {_short(e)}") from None
    try:
        model_dict, train_dict = json.loads(meta["model_config"]), json.loads(meta["train_config"])
        metrics = json.loads(meta.get("metrics") or "{}")
    except ValueError as e:
        raise CheckpointError(f"checkpoint metadata is malformed: {_short(e)}") from None
    if not isinstance(model_dict, dict) or not isinstance(train_dict, dict) or not isinstance(metrics, dict):
        raise CheckpointError("checkpoint metadata is malformed: model_config, train_config and metrics "
                              "must be JSON objects")
    try:
        model_cfg = family.config_cls.from_dict(model_dict)  # the family's own ranges
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"checkpoint model config is refused: {_short(e)}") from None
    try:
        train_cfg = TrainConfig.from_dict(train_dict)  # the ranges of TrainConfig.validate
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"checkpoint train config is refused: {_short(e)}") from None
    if train_cfg.family != family.name:
        raise CheckpointError(f"checkpoint train config names family {train_cfg.family[:40]!r}, its metadata "
                              f"{family.name!r}")
    text = meta["step"].strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 10 and int(text) <= MAX_STEP):
        raise CheckpointError(f"checkpoint step must be a whole number in [0, {MAX_STEP}], got {text[:20]!r}")
    return family, model_cfg.to_dict(), train_cfg, int(text), metrics


def _check_dataset(train_cfg: TrainConfig, family, spec) -> None:
    """A checkpoint of a built-in dataset must make its kind of output: its images' size and channels."""
    name = train_cfg.dataset
    if name not in IMAGE_SETS:
        return
    if not family.output == "image":
        raise CheckpointError(f"checkpoint trains {family.name!r} ({family.output}) on the image set {name!r}")
    kind, size = IMAGE_SETS[name]
    channels = 1 if kind == "digits" else 3
    if spec is not None and (spec.size, spec.channels) != (size, channels):
        raise CheckpointError(f"checkpoint model makes {spec.size}x{spec.size} images with {spec.channels} "
                              f"channel(s), but its dataset {name!r} has {size}x{size} with {channels}: set "
                              f"image_size {size} and channels {channels}")


def _check_header(f, keys: set, prefix: str, want: dict) -> None:
    """Compare the header's tensor names, shapes and dtypes with what the config builds (no data read)."""
    have = {k[len(prefix) + 1:] for k in keys if k.startswith(prefix + ".")}
    missing, extra = sorted(set(want) - have), sorted(have - set(want))
    if missing or extra:
        raise CheckpointError(f"{prefix} weights do not match its config: missing {missing[:3]}, "
                              f"unexpected {extra[:3]}")
    for k, (shape, dtype) in want.items():
        sl = f.get_slice(f"{prefix}.{k}")
        got = tuple(sl.get_shape())
        if got != shape:
            raise CheckpointError(f"{prefix}.{k} has shape {got}, the config needs {shape}")
        if sl.get_dtype() != DTYPES.get(dtype, str(dtype)):
            raise CheckpointError(f"{prefix}.{k} has dtype {sl.get_dtype()}, the config needs "
                                  f"{DTYPES.get(dtype, dtype)}")


def _check_points(f, keys: set) -> tuple | None:
    """The shape of stored 2D points (N, 2) float32 with 2 <= N <= MAX_USER_POINTS, or None; no data read."""
    extra = sorted(k for k in keys if not k.startswith(("G.", "D.")) and k != "data.points"
                   and k not in timeline_mod.KEYS)
    if extra:
        raise CheckpointError(f"checkpoint holds unexpected tensors {extra[:3]}")
    if "data.points" not in keys:
        return None
    sl = f.get_slice("data.points")
    shape = tuple(sl.get_shape())
    if len(shape) != 2 or shape[1] != 2 or not 2 <= shape[0] <= MAX_USER_POINTS or sl.get_dtype() != "F32":
        raise CheckpointError(f"data.points must be 2 to {MAX_USER_POINTS} rows of (x, y) float32, got "
                              f"shape {shape} of {sl.get_dtype()}")
    return shape


def _load_into(f, prefix: str, net: torch.nn.Module) -> None:
    """Read `prefix.*` into `net` (names, shapes and dtypes already checked against the header)."""
    state = {}
    for k in net.state_dict():
        t = f.get_tensor(f"{prefix}.{k}")
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise CheckpointError(f"{prefix}.{k} contains NaN or inf values")
        state[k] = t
    net.load_state_dict(state)


def _short(e: Exception) -> str:
    return str(e).splitlines()[0][:160] if str(e) else type(e).__name__

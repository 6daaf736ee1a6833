"""Evaluator files: safetensors weights with metadata strings holding the config and the card (class
names, data, held-out metrics), and the card as JSON beside the file. Loading validates everything and
names what is wrong in a ValueError."""

from __future__ import annotations

import json
import os

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from .classifier import Classifier, ClassifierConfig
from .common import KINDS, _names
from .factors import FactorNet, FactorNetConfig
from .segmenter import Segmenter, SegmenterConfig

FORMAT_VERSION = "1"
REQUIRED_META = ("format_version", "kind", "config", "card")
MAX_EVALUATOR_BYTES = 64 * 1024 * 1024

MODELS = {"classifier": (ClassifierConfig, Classifier), "segmenter": (SegmenterConfig, Segmenter),
          "factors": (FactorNetConfig, FactorNet)}


def save_evaluator(path: str, model: nn.Module, card: dict) -> str:
    """Write weights + metadata to `path` (.safetensors) and the card as JSON beside it.

    Returns the card's path. The card gets `kind`, `config` and `class_names` (a factor net: `bin_names`,
    per factor) from the model."""
    kind = getattr(model, "kind", None)
    if kind not in KINDS:
        raise ValueError(f"not an evaluator model: {type(model).__name__}")
    names = {"bin_names": model.cfg.bin_names()} if kind == "factors" else {"class_names": _names(model.cfg)}
    card = {"kind": kind, "config": model.cfg.to_dict(), **names, **card}
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    meta = {"format_version": FORMAT_VERSION, "kind": kind, "config": json.dumps(model.cfg.to_dict()),
            "card": json.dumps(card)}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    save_file(tensors, path, metadata=meta)
    card_path = os.path.splitext(path)[0] + ".json"
    with open(card_path, "w") as f:
        json.dump(card, f, indent=2)
        f.write("\n")
    return card_path


def load_evaluator(path: str, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """Load and validate an evaluator: (model in eval mode, card). A ValueError names what is wrong."""
    if not os.path.isfile(path):
        raise ValueError(f"no such evaluator file: {path}")
    if os.path.getsize(path) > MAX_EVALUATOR_BYTES:
        raise ValueError(f"evaluator file is too large ({os.path.getsize(path) / 2**20:.0f} MB)")
    try:
        with safe_open(path, framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise ValueError(f"not a valid safetensors file: {path} ({_short(e)})") from None
    missing = [k for k in REQUIRED_META if k not in meta]
    if missing:
        raise ValueError(f"not an evaluator file: metadata lacks {', '.join(missing)}")
    if meta["format_version"] != FORMAT_VERSION:
        raise ValueError(f"evaluator format {meta['format_version']} is not supported "
                         f"(this version reads format {FORMAT_VERSION})")
    if meta["kind"] not in MODELS:
        raise ValueError(f"unknown evaluator kind {meta['kind']!r}; known: {', '.join(KINDS)}")
    cfg_cls, model_cls = MODELS[meta["kind"]]
    try:
        model = model_cls(cfg_cls.from_dict(json.loads(meta["config"])))
        card = json.loads(meta["card"])
    except (ValueError, TypeError) as e:
        raise ValueError(f"evaluator metadata is malformed: {_short(e)}") from None
    want = model.state_dict()
    missing, extra = sorted(set(want) - set(tensors)), sorted(set(tensors) - set(want))
    if missing or extra:
        raise ValueError(f"evaluator weights do not match its config: missing {missing[:3]}, "
                         f"unexpected {extra[:3]}")
    for k, v in want.items():
        t = tensors[k]
        if t.shape != v.shape:
            raise ValueError(f"evaluator weight {k} has shape {tuple(t.shape)}, "
                             f"the config needs {tuple(v.shape)}")
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise ValueError(f"evaluator weight {k} contains NaN or inf values")
    model.load_state_dict(tensors)
    return model.to(device).eval(), card


def _short(e: Exception) -> str:
    return str(e).splitlines()[0][:120] if str(e) else type(e).__name__

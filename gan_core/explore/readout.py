"""What the latent explorer reads off a generator: the truncation trade-off (BigGAN's fidelity against
variety, measured on a fixed set of latents) and the readout classifier (what the shipped evaluator sees
in one image). Pure functions of a `LatentModel`; they never import gradio.

Fidelity on 2D data is the share of high-quality samples (PacGAN's definition, see metrics.modes); on
digits and shapes it is the evaluator's mean confidence. Variety is the mean per-coordinate standard
deviation of the samples (points or pixels).
"""

from __future__ import annotations

import torch

from .. import models
from ..metrics import image_eval
from ..metrics import modes as mode_metrics
from ..metrics.classifier import fit_images
from .latent import LatentModel, truncate

TRADEOFF_SAMPLES = 256  # samples measured per psi
TRADEOFF_SEED = 99  # the latents measured are the same for every psi and every call
CLASSIFIED = ("digits", "shapes")  # dataset kinds with a shipped classifier
COVERED_AT_LEAST = 3  # a class counts as covered with at least this many of the samples


def sample_latents(model: LatentModel, n: int, seed: int = TRADEOFF_SEED) -> torch.Tensor:
    """(n, z_dim) latents drawn from the model's latent distribution with a fixed seed."""
    return models.sample_latent(model.spec, n, torch.Generator().manual_seed(seed))


def classifier_for(model: LatentModel):
    """(kind, evaluator model, card) for generators of digits or shapes; None when there is none."""
    kind = image_eval.kind_of(model.dataset)
    if kind not in CLASSIFIED:
        return None
    try:
        evaluator, card = image_eval.evaluator(kind)
    except ValueError:  # the evaluator file is missing or broken
        return None
    return kind, evaluator, card


def tradeoff(model: LatentModel, psi: float, label: int | None = None,
             n: int = TRADEOFF_SAMPLES) -> dict:
    """Variety and fidelity of `n` samples truncated to `psi` (keys name the measure in words)."""
    z = truncate(sample_latents(model, n), psi, model.mean_latent())
    x = model.generate(z, label)
    if model.kind == "2d":
        out = {"variety (spread of points)": round(float(x.std(0).mean()), 4)}
        data = model.data
        if getattr(data, "modes", None) is not None:
            st = mode_metrics.mode_stats(x, data.modes, data.sigma)
            out.update({"fidelity (high-quality share)": round(float(st[mode_metrics.HQ]), 3),
                        "modes": st[mode_metrics.MODES]})
        return out
    out = {"variety (pixel std across samples)": round(float(x.std(0).mean()), 4)}
    found = classifier_for(model)
    if found is not None:
        _, evaluator, _ = found
        with torch.no_grad():
            p = evaluator(fit_images(evaluator, x)).softmax(1)  # (n, K)
        out["fidelity (classifier confidence)"] = round(float(p.max(1).values.mean()), 3)
        counts = torch.bincount(p.argmax(1), minlength=p.shape[1])
        out["classes covered"] = int((counts >= COVERED_AT_LEAST).sum())
    return out


def classify(model: LatentModel, x: torch.Tensor) -> dict | None:
    """What the evaluator reads in the first image of `x` (B, C, H, W): {'kind', 'name', 'confidence'}
    (confidence in [0, 1]); None for generators without a classifier."""
    found = classifier_for(model)
    if found is None:
        return None
    kind, evaluator, card = found
    with torch.no_grad():
        p = evaluator(fit_images(evaluator, x)).softmax(1)[0]  # (K,)
    k = int(p.argmax())
    names = card.get("class_names") or [str(i) for i in range(len(p))]
    return {"kind": kind, "name": names[k] if k < len(names) else str(k), "confidence": float(p[k])}

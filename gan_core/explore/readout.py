"""What the latent explorer reads off a generator: the truncation trade-off (BigGAN's fidelity against
variety, measured on a fixed set of latents) and the readout classifier (what the shipped evaluator sees
in one image). Pure functions of a `LatentModel`; they never import gradio.

Fidelity on 2D data is the share of high-quality samples (PacGAN's definition, see metrics.modes); on
digits and shapes it is the evaluator's mean confidence. Variety is the mean per-coordinate standard
deviation of 2D points, and for images the mean distance between two samples (root mean square pixel
difference). Classes count as covered by the training metrics' rule (confidently classified samples only).
On the shipped digits models confidence rises and variety falls as psi goes from 1.5 to 0 (docs/figures.md).
"""

from __future__ import annotations

import torch

from .. import models
from ..metrics import image_eval
from ..metrics import modes as mode_metrics
from ..metrics.classifier import CLASSES_COVERED, fit_images, histogram_of_logits
from .latent import LatentModel

TRADEOFF_SAMPLES = 256  # samples measured per psi
TRADEOFF_SEED = 99  # the latents measured are the same for every psi and every call
CLASSIFIED = ("digits", "shapes")  # dataset kinds with a shipped classifier
VARIETY = "variety (pairwise pixel distance)"  # the trade-off's keys, in the words shown on screen
FIDELITY = "fidelity (classifier confidence)"
COVERED = "classes covered (confidently)"  # by the training metrics' rule (classifier.histogram_of_logits)


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
    z = model.truncate(sample_latents(model, n), psi)
    x = model.generate(z, label)
    if model.kind == "2d":
        out = {"variety (spread of points)": round(float(x.std(0).mean()), 4)}
        data = model.data
        if getattr(data, "modes", None) is not None:
            st = mode_metrics.mode_stats(x, data.modes, data.sigma)
            out.update({"fidelity (high-quality share)": round(float(st[mode_metrics.HQ]), 3),
                        "modes": st[mode_metrics.MODES]})
        return out
    out = {VARIETY: round(pairwise_distance(x), 4)}
    found = classifier_for(model)
    if found is not None:
        _, evaluator, _ = found
        with torch.no_grad():
            logits = evaluator(fit_images(evaluator, x)).double()  # (n, K)
        out[FIDELITY] = round(float(logits.softmax(1).max(1).values.mean()), 3)
        out[COVERED] = histogram_of_logits(logits)[CLASSES_COVERED]
    return out


def pairwise_distance(x: torch.Tensor) -> float:
    """The mean distance between two different samples of `x` (B, ...), as the root mean square of the
    per-pixel difference (0 when all samples are equal; about 1 for unrelated images in [-1, 1])."""
    flat = x.reshape(len(x), -1).double()
    if len(flat) < 2:
        return 0.0
    return float(torch.pdist(flat).mean() / flat.shape[1] ** 0.5)


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


RECIPE_SEEDS = 400  # seeds the recipe chooses from (0 .. 399)
RECIPE_TERM = 3  # seeds per term
RECIPE_SURE = 0.9  # only samples the classifier reads with at least this confidence are chosen
RECIPE_CLASSES = ("7", "1")  # the preferred concept pair: "thick 7" - "thin 7" + "thin 1" (digits)


def ink(x: torch.Tensor) -> torch.Tensor:
    """How much of each image (B, C, H, W) in [-1, 1] is drawn: the mean brightness in [0, 1] (digits are
    white strokes on black, so thicker strokes mean more ink)."""
    return ((x.reshape(len(x), -1) + 1) / 2).mean(1)


def suggest_recipe(model: LatentModel, label: int | None = None, n: int = RECIPE_SEEDS,
                   per_term: int = RECIPE_TERM) -> dict | None:
    """A latent-arithmetic recipe chosen by the classifier among seeds 0..n-1: A = the thickest confidently
    read samples of one class X, B = the thinnest of X, C = the thinnest of another class Y, so that
    mean(A) - mean(B) + mean(C) should be a thick Y ("thick 7" - "thin 7" + "thin 1"). X and Y are 7 and 1
    when the classifier names them, else its two classes with the most confident samples; a conditional
    generator draws one class (`label`), so there Y = X. Returns the seeds of each term, the words, and
    what the classifier reads in the result (its class, confidence and ink against C's); None for
    generators without a classifier or with too few confident samples."""
    found = classifier_for(model)
    if found is None or model.kind != "image":
        return None
    _, evaluator, card = found
    seeds = list(range(n))
    x = model.generate(model.latents(seeds), label)
    with torch.no_grad():
        p = evaluator(fit_images(evaluator, x)).softmax(1)
    top, cls = p.max(1)
    amount = ink(x)
    names = card.get("class_names") or [str(i) for i in range(p.shape[1])]
    sure = top >= RECIPE_SURE
    counts = torch.bincount(cls[sure], minlength=p.shape[1])
    wanted = [names.index(c) for c in RECIPE_CLASSES if c in names]
    order = [int(k) for k in torch.argsort(counts, descending=True)]
    picks = [k for k in wanted if counts[k] >= 2 * per_term] or []
    picks += [k for k in order if k not in picks]
    kx = picks[0]
    ky = kx if model.n_classes else picks[1]
    if counts[kx] < 2 * per_term or counts[ky] < per_term:
        return None

    def by_ink(k: int) -> list[int]:  # confident seeds of class k, thinnest first
        idx = [i for i in range(n) if sure[i] and int(cls[i]) == k]
        return sorted(idx, key=lambda i: float(amount[i]))

    xs, ys = by_ink(kx), by_ink(ky)
    a, b = xs[-per_term:][::-1], xs[:per_term]
    c = [i for i in ys if i not in b][:per_term]
    r = arithmetic(model, a, b, c)
    out = model.generate(r["result"][None], label)
    read = classify(model, out)
    return {"a": a, "b": b, "c": c,
            "words": f'"thick {names[kx]}" - "thin {names[kx]}" + "thin {names[ky]}"',
            "expected": names[ky], "read": read["name"], "confidence": read["confidence"],
            "ink": float(ink(out)[0]), "ink_c": float(amount[c].mean())}


from .interpolate import arithmetic  # noqa: E402

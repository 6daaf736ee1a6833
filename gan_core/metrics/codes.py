"""What InfoGAN's codes learned, read without labels from generated samples.

- Mutual-information lower bound (Chen et al. 2016, eq. 4): for the categorical code,
  I(c; G(z, c)) >= H(c) - E[-log Q(c | x)] = ln K - cross-entropy of Q's logits; it never exceeds its
  ceiling H(c) = ln K (a uniform K-way code), and reaches it when Q reads every category back for sure.
  For each continuous code (uniform in [-1, 1], entropy ln 2) the same bound with Q's Gaussian:
  ln 2 - E[0.5 ln(2 pi) + 0.5 logvar + 0.5 (c - mean)^2 / exp(logvar)] (no ceiling: a continuous code
  read back ever more precisely has an unbounded mutual information).
- Category accuracy: the generated samples' categories against the label the dataset's evaluator reads
  (the digit for digits, the shape factor for shapes), after the best one-to-one matching of
  categories to labels (the Hungarian algorithm on the confusion matrix), as in unsupervised
  clustering accuracy. With more categories than labels, the unmatched categories count as errors.
- Code x factor table: for shapes, every code against every ground-truth factor as the shipped factor
  evaluator reads it. Ordinal factors (scale, rotation, x, y) are taken as the expected bin under the
  evaluator's softmax (rotation over samples not read as circles); a continuous code against an ordinal
  factor gives Pearson's r (signed), a continuous code against a nominal factor (shape, colour, digit) the
  correlation ratio eta (0..1), the category against an ordinal factor eta of the factor across
  categories, and the category against a nominal factor Cramer's V (0..1). For digits the one factor is
  the digit.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from ..models.base import LatentSpec, sample_latent, split_codes
from ..models.evaluators import FACTORS, ORDINAL, predict
from . import classifier as cm

LN2 = math.log(2.0)
HALF_LN_2PI = 0.5 * math.log(2 * math.pi)
CAT_ACCURACY, MI_BOUND, MI_CEILING, MI_BOUND_CONT = "cat_accuracy", "mi_bound", "mi_ceiling", "mi_bound_cont"
CODE_FACTOR_R = "code_factor_r"
MAX_SAMPLES = 20_000  # samples a report may draw (about 80 MB of 32 px RGB images)


def code_names(spec: LatentSpec) -> list[str]:
    """'category' (when there is one) then 'c1', 'c2', ... for the continuous codes."""
    return (["category"] if spec.n_cat else []) + [f"c{i + 1}" for i in range(spec.n_cont)]


def has_q(D) -> bool:
    """Whether D carries InfoGAN's Q head."""
    return getattr(D, "q_head", None) is not None


@torch.no_grad()
def q_outputs(D, x: torch.Tensor, batch: int = 256) -> torch.Tensor:
    """Q's outputs (N, n_cat + 2 n_cont) for images x, with D in eval mode (no power iteration, running
    BatchNorm statistics), as float64 on the CPU."""
    if not has_q(D):
        raise ValueError("this model has no Q head: it was trained without InfoGAN codes")
    was = D.training
    D.eval()
    try:
        dev = next(D.parameters()).device
        out = [D.forward_with_q(x[i:i + batch].to(dev))[1].double().cpu() for i in range(0, len(x), batch)]
    finally:
        D.train(was)
    return torch.cat(out)


def mi_bounds(q: torch.Tensor, z: torch.Tensor, spec: LatentSpec) -> dict:
    """The information lower bounds of the codes in latents z, from Q's outputs q on G(z)."""
    cat, cont = split_codes(spec, z.cpu())
    q = q.double()
    out: dict = {}
    if cat is not None:
        ce = torch.nn.functional.cross_entropy(q[:, :spec.n_cat], cat)
        out[MI_CEILING] = math.log(spec.n_cat)
        out[MI_BOUND] = math.log(spec.n_cat) - float(ce)
    if cont is not None:
        k, n_cat = spec.n_cont, spec.n_cat
        from ..losses import LOGVAR_MAX, LOGVAR_MIN

        mean, logvar = q[:, n_cat:n_cat + k], q[:, n_cat + k:].clamp(LOGVAR_MIN, LOGVAR_MAX)
        nll = HALF_LN_2PI + 0.5 * logvar + 0.5 * (cont.double() - mean) ** 2 * torch.exp(-logvar)
        out[MI_BOUND_CONT] = [LN2 - float(v) for v in nll.mean(0)]
    return out


def hungarian_accuracy(pred_cat: np.ndarray, labels: np.ndarray, n_cat: int, n_labels: int) -> dict:
    """Best one-to-one matching of categories to labels: `cat_accuracy` (share of samples whose category's
    matched label is the label read), `matching` (per category its label index, or -1 when unmatched) and
    `confusion` (n_cat x n_labels counts)."""
    conf = np.zeros((n_cat, n_labels), dtype=np.int64)
    np.add.at(conf, (np.asarray(pred_cat), np.asarray(labels)), 1)
    rows, cols = linear_sum_assignment(-conf)
    matching = [-1] * n_cat
    for r, c in zip(rows, cols):
        matching[int(r)] = int(c)
    total = max(int(conf.sum()), 1)
    return {CAT_ACCURACY: float(conf[rows, cols].sum()) / total, "matching": matching,
            "confusion": conf.tolist()}


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    den = math.sqrt(float((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 0 else 0.0


def _eta(values: np.ndarray, groups: np.ndarray) -> float:
    """Correlation ratio: sqrt(between-group variance / total variance) of values grouped by groups."""
    v = values - values.mean()
    total = float((v * v).sum())
    if total <= 0:
        return 0.0
    between = sum(len(v[groups == g]) * float(v[groups == g].mean()) ** 2 for g in np.unique(groups))
    return math.sqrt(min(1.0, between / total))


def _cramers_v(a: np.ndarray, b: np.ndarray) -> float:
    ua, ia = np.unique(a, return_inverse=True)
    ub, ib = np.unique(b, return_inverse=True)
    if len(ua) < 2 or len(ub) < 2:
        return 0.0
    table = np.zeros((len(ua), len(ub)))
    np.add.at(table, (ia, ib), 1)
    n = table.sum()
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    return math.sqrt(chi2 / (n * (min(table.shape) - 1)))


def code_factor_table(spec: LatentSpec, z: torch.Tensor, factors: dict[str, tuple[np.ndarray, bool]]) -> dict:
    """{code: {factor: r}} (see the module's docstring); factors: name -> (values per sample, ordinal),
    with NaN where a factor is undefined for a sample (rotation of a circle)."""
    cat, cont = split_codes(spec, z.cpu())
    table: dict = {}
    for name in code_names(spec):
        row = {}
        for fac, (vals, ordinal) in factors.items():
            ok = ~np.isnan(vals)
            if ok.sum() < 3:
                row[fac] = 0.0
                continue
            v = vals[ok]
            if name == "category":
                c = cat.numpy()[ok]
                row[fac] = _eta(v, c) if ordinal else _cramers_v(c, v.astype(np.int64))
            else:
                x = cont[:, int(name[1:]) - 1].double().numpy()[ok]
                row[fac] = _pearson(x, v) if ordinal else _eta(x, v.astype(np.int64))
        table[name] = {k: round(float(r), 4) for k, r in row.items()}
    return table


def evaluator_readings(kind: str, x: torch.Tensor) -> dict:
    """What the dataset's evaluator reads in images x: `labels` (N,) for the category matching, `label_names`,
    and `factors` (name -> (values, ordinal)) for the code x factor table. kind: 'digits' or 'shapes'."""
    from .image_eval import evaluator

    if kind == "digits":
        model, card = evaluator("digits")
        logits = predict(model, cm.fit_images(model, x), 256)
        labels = logits.argmax(1).numpy()
        k = logits.shape[1]
        return {"labels": labels, "label_names": [str(i) for i in range(k)],
                "factors": {"digit": (labels.astype(np.float64), False)}}
    if kind == "shapes":
        model, card = evaluator("shapes-factors")
        probs = cm.factor_predictions(model, x, probs=True)
        names = model.cfg.bin_names()
        shape = probs["shape"].argmax(1).numpy()
        sym = np.asarray(model.cfg.rotation_symmetry)[shape]
        factors = {}
        for f in FACTORS:
            p = probs[f].numpy()
            if f in ORDINAL:
                vals = p @ np.arange(p.shape[1], dtype=np.float64)  # expected bin
                if f == "rotation":
                    vals = np.where(sym > 0, vals, np.nan)
                factors[f] = (vals, True)
            else:
                factors[f] = (p.argmax(1).astype(np.float64), False)
        return {"labels": shape, "label_names": list(names["shape"]), "factors": factors}
    raise ValueError(f"no evaluator reads codes for {kind!r} images (digits and shapes only)")


def eval_metrics(D, spec: LatentSpec, z: torch.Tensor, x: torch.Tensor, kind: str | None) -> dict:
    """The figures a trainer's evaluation logs for a model with codes: the MI bounds, and the category
    accuracy when the dataset has an evaluator (kind 'digits' or 'shapes')."""
    if not spec.has_codes or not has_q(D):
        return {}
    out = mi_bounds(q_outputs(D, x), z, spec)
    if spec.n_cat and kind in ("digits", "shapes"):
        read = evaluator_readings(kind, x)
        cat = split_codes(spec, z.cpu())[0].numpy()
        out[CAT_ACCURACY] = hungarian_accuracy(cat, read["labels"], spec.n_cat, len(read["label_names"]))[CAT_ACCURACY]
    return out


@torch.no_grad()
def generate(G, z: torch.Tensor, batch: int = 256) -> torch.Tensor:
    """G(z) in eval mode, float32 CPU."""
    was = G.training
    G.eval()
    try:
        dev = next(G.parameters()).device
        return torch.cat([G(z[i:i + batch].to(dev)).float().cpu() for i in range(0, len(z), batch)])
    finally:
        G.train(was)


def code_report(G, D, kind: str | None, n: int = 2000, seed: int = 0) -> dict:
    """Everything the codes learned, from n samples of G (seeded): the MI bounds (when D has Q), and with
    an evaluator (kind 'digits' or 'shapes') the category accuracy, matching, confusion matrix and the
    code x factor table. ValueError when G has no codes or n is out of range."""
    spec = G.latent_spec
    if not getattr(spec, "has_codes", False):
        raise ValueError("this model has no InfoGAN codes (train a preset with codes, e.g. digits-infogan)")
    if not 10 <= n <= MAX_SAMPLES:
        raise ValueError(f"samples must be between 10 and {MAX_SAMPLES}, got {n}")
    z = sample_latent(spec, n, torch.Generator().manual_seed(seed))
    x = generate(G, z)
    out: dict = {"codes": code_names(spec), "samples": n, "seed": seed}
    if has_q(D):
        out.update(mi_bounds(q_outputs(D, x), z, spec))
    if kind in ("digits", "shapes"):
        read = evaluator_readings(kind, x)
        out["labels"] = read["label_names"]
        if spec.n_cat:
            cat = split_codes(spec, z)[0].numpy()
            out.update(hungarian_accuracy(cat, read["labels"], spec.n_cat, len(read["label_names"])))
        out[CODE_FACTOR_R] = code_factor_table(spec, z, read["factors"])
    return out

"""Image metrics read through an evaluator network (gan_core.models.evaluators).

- Mode coverage: a classifier trained on real data labels generated samples; the class histogram, the
  classes covered, its entropy and the share of confidently classified samples (in the spirit of the
  mode counts of Metz et al. 2017 and Srivastava et al. 2017, with a small classifier as the judge).
- Frechet distance (Heusel et al. 2017) between Gaussians fitted to the classifier's penultimate
  features of real and generated sets, reported beside the distance between two disjoint halves of the
  real data of the same size (the floor: what sampling noise alone gives).
- Conditional accuracy: the share of samples G(z, c) that the classifier labels c.
- Segmentation class shares: how much of the picture each class covers, real against generated, as the
  segmentation statistics of GAN Dissection (Bau et al. 2019).
- Shapes factors: a factor evaluator (evaluators.FactorNet) reads every ground-truth factor of a shapes
  sprite as a bin (shape, scale, rotation, x, y, colour); `factor_predictions` gives the bins per image
  and `factor_histograms` how generated samples spread over each factor's bins.

Images are (N, C, H, W) in [-1, 1] (or an ImageDataset); they are resized to the evaluator's input size
when they differ (bilinear, antialiased). Evaluators run in eval mode, so figures do not depend on the
batch size.
"""

from __future__ import annotations

import weakref

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.images import ImageDataset
from ..models.evaluators import FACTORS, UNDEFINED, predict

CLASSES_COVERED, CLASS_ENTROPY = "classes_covered", "class_entropy"
CONFIDENT, HISTOGRAM = "confident", "histogram"
FD, FD_FLOOR, CONDITIONAL_ACCURACY = "fd", "fd_floor", "conditional_accuracy"
MAX_SHARE_ERR = "max_share_rel_err"
# A class is covered when at least max(COVER_MIN, COVER_FRAC of the samples) samples are classified into
# it with a top softmax probability >= COVER_P: blotchy samples the classifier only half reads as a digit
# do not count (10 of 1,000 samples at an evaluation).
COVER_P, COVER_FRAC, COVER_MIN = 0.5, 0.01, 3
CONFIDENT_P = 0.9  # a sample is confidently classified when its top softmax probability is >= this
MIN_SHARE = 0.01  # class-share errors count only for classes covering at least this share of real pixels


def fit_images(model: nn.Module, images: torch.Tensor | ImageDataset) -> torch.Tensor:
    """Images as float32 CPU (N, C, S, S) at the evaluator's size; ValueError when channels differ."""
    x = images.images if isinstance(images, ImageDataset) else torch.as_tensor(images)
    x = x.detach().to("cpu", torch.float32)
    if x.ndim != 4 or len(x) == 0:
        raise ValueError(f"expected a non-empty batch of images (N, C, H, W), got shape {tuple(x.shape)}")
    cfg = getattr(model, "cfg", None)
    if cfg is None:
        return x
    if x.shape[1] != cfg.in_channels:
        raise ValueError(f"the evaluator takes {cfg.in_channels}-channel images, got {x.shape[1]} channels")
    if tuple(x.shape[2:]) != (cfg.image_size, cfg.image_size):
        x = F.interpolate(x, size=(cfg.image_size, cfg.image_size), mode="bilinear", align_corners=False,
                          antialias=x.shape[-1] > cfg.image_size)
    return x


def _run(model: nn.Module, x: torch.Tensor, batch: int, fn: str = "forward") -> torch.Tensor:
    """model.forward / model.features over x in eval mode, in batches of `batch`, as float64."""
    return predict(model, x, batch, fn).double()


def features(model: nn.Module, images, batch: int = 256) -> np.ndarray:
    """The evaluator's feature vectors (N, D) as float64."""
    return _run(model, fit_images(model, images), batch, "features").numpy()


def class_histogram(model: nn.Module, images, batch: int = 256) -> dict:
    """Label images by argmax of the classifier's logits.

    Returns `histogram` (list of counts per class), `classes_covered` (classes into which at least
    max(3, 1% of the samples) are classified with a top softmax probability >= 0.5), `class_entropy`
    (entropy in nats of the argmax histogram; ln K when K classes are equally frequent) and `confident`
    (share of samples whose top softmax probability is >= 0.9)."""
    logits = _run(model, fit_images(model, images), batch)  # (N, K)
    return histogram_of_logits(logits)


def histogram_of_logits(logits: torch.Tensor) -> dict:
    """class_histogram's figures from the classifier's logits (N, K)."""
    logits = logits.double()
    n, k = logits.shape
    prob = logits.softmax(1)
    top, label = prob.max(1)
    counts = torch.bincount(label, minlength=k)
    sure = torch.bincount(label[top >= COVER_P], minlength=k)
    p = counts.double() / n
    nz = p[p > 0]
    return {
        HISTOGRAM: [int(c) for c in counts],
        CLASSES_COVERED: int((sure >= max(COVER_MIN, COVER_FRAC * n)).sum()),
        CLASS_ENTROPY: float(-(nz * nz.log()).sum()) + 0.0,
        CONFIDENT: float((top >= CONFIDENT_P).double().mean()),
    }


def _sqrt_psd(m: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix (tiny negative eigenvalues clipped to 0)."""
    w, v = np.linalg.eigh((m + m.T) / 2)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(feats_a: np.ndarray | torch.Tensor, feats_b: np.ndarray | torch.Tensor) -> float:
    """||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)) between Gaussians fitted to two feature sets.

    Computed in float64 without scipy: tr((S_a S_b)^(1/2)) = tr((A S_b A)^(1/2)) with A = S_a^(1/2), a
    symmetric PSD matrix whose eigenvalues are clipped at 0. Covariances use N - 1 (as pytorch-fid)."""
    a = np.asarray(torch.as_tensor(feats_a).detach().cpu().double())
    b = np.asarray(torch.as_tensor(feats_b).detach().cpu().double())
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(f"need two feature sets (N >= 2, D) of equal D, got {a.shape} and {b.shape}")
    mu = a.mean(0) - b.mean(0)
    sa, sb = np.cov(a, rowvar=False).reshape(a.shape[1], -1), np.cov(b, rowvar=False).reshape(b.shape[1], -1)
    root_a = _sqrt_psd(sa)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ sb @ root_a), 0.0, None)).sum()
    return max(0.0, float(mu @ mu + np.trace(sa) + np.trace(sb) - 2.0 * cross))


def fd_with_floor(model: nn.Module, real, fake, n: int = 1000, seed: int = 0,
                  fake_features: np.ndarray | None = None) -> tuple[float, float]:
    """(fd, floor): FD between m real and m generated images, and between those m real images and m
    other real images (disjoint), with m = min(n, len(fake), len(real) // 2), all drawn with `seed`.

    Both figures use sets of the same size, so the floor is the distance sampling noise alone gives.
    `fake_features` (features(model, fake), when the caller has them) saves computing them again."""
    real = real.images if isinstance(real, ImageDataset) else torch.as_tensor(real)
    fake = fake.images if isinstance(fake, ImageDataset) else torch.as_tensor(fake)
    n_fake = len(fake)
    m = min(n, n_fake, len(real) // 2)
    if m < 2:
        raise ValueError(f"need at least 2 fake and 4 real images, got {n_fake} and {len(real)}")
    gen = torch.Generator().manual_seed(seed)
    perm_r = torch.randperm(len(real), generator=gen)
    perm_f = torch.randperm(n_fake, generator=gen)[:m]
    fa, floor = _real_side(model, real, perm_r[:2 * m], m, seed)
    if fake_features is not None and len(fake_features) == n_fake:
        ff = fake_features[perm_f.numpy()]
    else:
        ff = features(model, fit_images(model, fake)[perm_f])
    return frechet_distance(fa[:m], ff), floor


_REAL_SIDE: dict = {}  # id(real) -> (weakrefs to real and model, key, real features, floor)


def _real_side(model: nn.Module, real: torch.Tensor, idx: torch.Tensor, m: int,
               seed: int) -> tuple[np.ndarray, float]:
    """Features of real[idx] and their real-vs-real FD, remembered between calls with the same real set,
    evaluator weights, m and seed: a training run evaluates against the same real images every time,
    and they are half of an evaluation's work. Any in-place change to the images or the weights (their
    version counters) computes afresh."""
    key = (id(model), sum(p._version for p in model.parameters()), real._version, tuple(real.shape), m, seed)
    hit = _REAL_SIDE.get(id(real))
    if hit is not None and hit[0]() is real and hit[1]() is model and hit[2] == key:
        return hit[3], hit[4]
    fa = features(model, fit_images(model, real[idx]))
    floor = frechet_distance(fa[:m], fa[m:])
    if len(_REAL_SIDE) > 8:
        _REAL_SIDE.clear()
    _REAL_SIDE[id(real)] = (weakref.ref(real), weakref.ref(model), key, fa, floor)
    return fa, floor


@torch.no_grad()
def conditional_accuracy(model: nn.Module, G: nn.Module, n_per_class: int = 100, seed: int = 0,
                         batch: int = 256) -> float:
    """Share of samples G(z, c), n_per_class for each class c, that the classifier labels c."""
    from ..models.base import sample_latent

    k = G.latent_spec.n_classes
    if k == 0:
        raise ValueError("conditional accuracy needs a class-conditional generator (n_classes > 0)")
    model_k = getattr(getattr(model, "cfg", None), "n_classes", k)
    if model_k != k:
        raise ValueError(f"the generator has {k} classes but the classifier knows {model_k}")
    gen = torch.Generator().manual_seed(seed)
    z = sample_latent(G.latent_spec, k * n_per_class, gen)
    c = torch.arange(k).repeat_interleave(n_per_class)
    param = next(G.parameters(), None)
    dev = param.device if param is not None else torch.device("cpu")
    was = G.training
    G.eval()
    try:
        fake = torch.cat([G(z[i:i + batch].to(dev), c[i:i + batch].to(dev)).float().cpu()
                          for i in range(0, len(z), batch)])
    finally:
        G.train(was)
    logits = _run(model, fit_images(model, fake), batch)  # (K * n_per_class, K)
    if logits.shape[1] != k:
        raise ValueError(f"the generator has {k} classes but the classifier gives {logits.shape[1]}")
    pred = logits.argmax(1)
    return float((pred == c).double().mean())


def class_shares(segmenter: nn.Module, images, batch: int = 64) -> list[float]:
    """Share of all pixels that the segmenter assigns (argmax) to each class; sums to 1."""
    x = fit_images(segmenter, images)
    counts = 0
    for i in range(0, len(x), batch):
        logits = _run(segmenter, x[i:i + batch], batch)  # (b, K, S, S)
        counts = counts + torch.bincount(logits.argmax(1).flatten(), minlength=logits.shape[1]).double()
    return (counts / counts.sum()).tolist()


def class_share_table(segmenter: nn.Module, real, fake) -> list[dict]:
    """One row per class: `name`, `real_share`, `fake_share`, `rel_err` = |fake - real| / real (None when
    the real share is 0) and `counted` (real share >= 1%: the rows `max_share_error` uses).

    Both sets are labelled by the segmenter (not by ground-truth masks), so its own errors mostly cancel."""
    rs, fs = class_shares(segmenter, real), class_shares(segmenter, fake)
    k = len(rs)
    names = list(getattr(getattr(segmenter, "cfg", None), "class_names", None) or [])
    names = names or [str(i) for i in range(k)]
    rows = []
    for name, r, f in zip(names, rs, fs):
        err = abs(f - r) / r if r > 0 else None
        rows.append({"name": name, "real_share": r, "fake_share": f, "rel_err": err,
                     "counted": r >= MIN_SHARE})
    return rows


def max_share_error(table: list[dict]) -> float:
    """The largest relative share error over classes whose real share is >= 1% (0.0 when there are none)."""
    return max((row["rel_err"] for row in table if row["real_share"] >= MIN_SHARE), default=0.0)


def factor_predictions(model: nn.Module, images, batch: int = 256,
                       probs: bool = False) -> dict[str, torch.Tensor]:
    """The factor evaluator's reading of each image: {factor: (N,) int64 bin} for shape, scale, rotation, x,
    y and colour (bins as in the model's `cfg.bin_names()`; rotation is -1 where the predicted shape is a
    circle, which has no rotation). With `probs`, {factor: (N, bins) float64 softmax} instead."""
    if not hasattr(model, "split"):
        raise ValueError(f"{type(model).__name__} is not a factor evaluator (kind 'factors')")
    logits = _run(model, fit_images(model, images), batch)
    if probs:
        return {f: v.softmax(1) for f, v in model.split(logits).items()}
    return model.decode(logits)


def factor_histograms(model: nn.Module, images, batch: int = 256) -> dict[str, list[int]]:
    """Images per bin of each factor, as the factor evaluator reads them (rotation leaves out the images
    read as circles)."""
    pred = factor_predictions(model, images, batch)
    sizes = [len(v) for v in model.cfg.bin_names().values()]
    return {f: [int(c) for c in torch.bincount(pred[f][pred[f] != UNDEFINED], minlength=k)]
            for f, k in zip(FACTORS, sizes)}

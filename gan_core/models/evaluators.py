"""Small evaluator networks that judge generated images: a classifier and a segmenter, trained on real data.

The classifier labels images (digits: the digit; shapes: the shape) for mode coverage and its penultimate
features give the Frechet distance (the role Inception-v3 plays for FID, Heusel et al. 2017, at toy
scale). The segmenter, a tiny U-Net (Ronneberger et al. 2015), labels every pixel of a procedural scene
for the segmentation probes of GAN Dissection (Bau et al. 2019); its globally pooled bottleneck is its
feature vector. Both use BatchNorm, so in eval mode every sample's output is independent of the batch.

Evaluators are saved like generator checkpoints: safetensors weights, metadata strings holding the
config and the card (class names, data, held-out metrics), and the card as JSON beside the file.
Build the shipped ones with `python -m gan_core.models.evaluators --which all --out checkpoints/`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from ..data.images import ImageDataset
from .base import ConfigMixin

FORMAT_VERSION = "1"
KINDS = ("classifier", "segmenter")
REQUIRED_META = ("format_version", "kind", "config", "card")
MAX_EVALUATOR_BYTES = 64 * 1024 * 1024
HELD_OUT_FRAC = 0.15  # share of a dataset held out to measure an evaluator
ACCURACY, MEAN_IOU, PER_CLASS_IOU, PIXEL_ACCURACY = "accuracy", "mean_iou", "per_class_iou", "pixel_accuracy"

Progress = Callable[[int, int], None]  # progress(steps_done, steps_total)


def _conv(cin: int, cout: int) -> nn.Sequential:
    """3x3 convolution (same size) + BatchNorm + ReLU."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


@dataclass
class ClassifierConfig(ConfigMixin):
    in_channels: int = 1  # image channels: 1 or 3
    image_size: int = 32  # image side in pixels: 16, 32 or 64
    n_classes: int = 10  # number of classes
    width: int = 16  # channels of the first stage, doubled per stage up to 4x
    feat_dim: int = 128  # size of the penultimate feature vector (used for the Frechet distance)
    class_names: list[str] = field(default_factory=list)  # a name per class

    def __post_init__(self):
        if self.in_channels not in (1, 3) or self.image_size not in (16, 32, 64):
            raise ValueError(f"classifier takes 1 or 3 channels at 16, 32 or 64 px, got "
                             f"{self.in_channels} channels at {self.image_size} px")
        if self.class_names and len(self.class_names) != self.n_classes:
            raise ValueError(f"{len(self.class_names)} class names for {self.n_classes} classes")


class Classifier(nn.Module):
    """Images (B, C, S, S) in [-1, 1] -> class logits (B, n_classes); `features` gives (B, feat_dim)."""

    kind = "classifier"

    def __init__(self, cfg: ClassifierConfig):
        super().__init__()
        self.cfg = cfg
        stages, cin = [], cfg.in_channels
        for i in range(cfg.image_size.bit_length() - 3):  # pool down to 4x4
            cout = cfg.width * min(2 ** i, 4)
            convs = [_conv(cin, cout)] + ([_conv(cout, cout)] if i > 0 else [])  # one conv at full size
            stages += [*convs, nn.MaxPool2d(2)]
            cin = cout
        self.body = nn.Sequential(*stages, _conv(cin, cin * 2), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.embed = nn.Sequential(nn.Linear(cin * 2, cfg.feat_dim), nn.ReLU())
        self.head = nn.Linear(cfg.feat_dim, cfg.n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        _check_images(x, self.cfg)
        return self.embed(self.body(x))  # (B, feat_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # (B, n_classes)


@dataclass
class SegmenterConfig(ConfigMixin):
    in_channels: int = 3  # image channels: 1 or 3
    image_size: int = 32  # image side in pixels (a multiple of 4)
    n_classes: int = 8  # number of pixel classes
    width: int = 16  # channels at full resolution; 2x at 1/2, 4x at the 1/4 bottleneck
    class_names: list[str] = field(default_factory=list)  # a name per class

    def __post_init__(self):
        if self.in_channels not in (1, 3) or self.image_size % 4 or not 16 <= self.image_size <= 256:
            raise ValueError(f"segmenter takes 1 or 3 channels at a side in 16..256 divisible by 4, got "
                             f"{self.in_channels} channels at {self.image_size} px")
        if self.class_names and len(self.class_names) != self.n_classes:
            raise ValueError(f"{len(self.class_names)} class names for {self.n_classes} classes")


class Segmenter(nn.Module):
    """A two-level U-Net: images (B, C, S, S) -> per-pixel logits (B, n_classes, S, S)."""

    kind = "segmenter"

    def __init__(self, cfg: SegmenterConfig):
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        pool = nn.MaxPool2d(2)
        self.enc1 = nn.Sequential(_conv(cfg.in_channels, w), _conv(w, w))  # (B, w, S, S)
        self.enc2 = nn.Sequential(pool, _conv(w, 2 * w), _conv(2 * w, 2 * w))  # (B, 2w, S/2, S/2)
        self.mid = nn.Sequential(pool, _conv(2 * w, 4 * w), _conv(4 * w, 4 * w))  # (B, 4w, S/4, S/4)
        self.dec2 = nn.Sequential(_conv(6 * w, 2 * w), _conv(2 * w, 2 * w))
        self.dec1 = nn.Sequential(_conv(3 * w, w), _conv(w, w))
        self.head = nn.Conv2d(w, cfg.n_classes, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The bottleneck, globally average-pooled: (B, 4 * width)."""
        _check_images(x, self.cfg)
        return self.mid(self.enc2(self.enc1(x))).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_images(x, self.cfg)
        e1 = self.enc1(x)
        e2 = self.enc2(e1)
        m = F.interpolate(self.mid(e2), scale_factor=2.0, mode="nearest")
        d2 = F.interpolate(self.dec2(torch.cat([m, e2], 1)), scale_factor=2.0, mode="nearest")
        return self.head(self.dec1(torch.cat([d2, e1], 1)))  # (B, n_classes, S, S)


MODELS = {"classifier": (ClassifierConfig, Classifier), "segmenter": (SegmenterConfig, Segmenter)}


def _check_images(x: torch.Tensor, cfg) -> None:
    want = (cfg.in_channels, cfg.image_size, cfg.image_size)
    if x.ndim != 4 or tuple(x.shape[1:]) != want:
        raise ValueError(f"evaluator takes images of shape (B, {want[0]}, {want[1]}, {want[2]}), "
                         f"got {tuple(x.shape)}")


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, batch: int = 256, fn: str = "forward") -> torch.Tensor:
    """model.forward (or model.features) over images in eval mode, in batches, on CPU float32."""
    was = model.training
    model.eval()
    try:
        param = next(model.parameters(), None)
        dev = param.device if param is not None else torch.device("cpu")
        outs = [getattr(model, fn)(images[i:i + batch].to(dev, torch.float32)).cpu()
                for i in range(0, len(images), batch)]
    finally:
        model.train(was)
    return torch.cat(outs) if outs else torch.empty(0)


def evaluate_classifier(model: Classifier, data: ImageDataset) -> dict:
    """Accuracy over `data` and per class (by true label)."""
    pred = predict(model, data.images).argmax(1)
    hit = (pred == data.labels).float()
    per = [float(hit[data.labels == k].mean()) if (data.labels == k).any() else None
           for k in range(model.cfg.n_classes)]
    return {ACCURACY: float(hit.mean()), "per_class_accuracy": dict(zip(_names(model.cfg), per))}


def evaluate_segmenter(model: Segmenter, data: ImageDataset) -> dict:
    """Per-class IoU from the pixel confusion over all of `data`; mean IoU over classes present in truth
    or prediction (a class absent from both has no IoU and is left out)."""
    k = model.cfg.n_classes
    conf = torch.zeros(k, k, dtype=torch.float64)
    for i in range(0, len(data), 256):
        pred = predict(model, data.images[i:i + 256]).argmax(1)
        conf += torch.bincount(data.masks[i:i + 256].flatten() * k + pred.flatten(),
                               minlength=k * k).reshape(k, k).double()
    inter = conf.diag()
    union = conf.sum(0) + conf.sum(1) - inter
    iou = [float(a / b) if b > 0 else None for a, b in zip(inter, union)]
    present = [v for v in iou if v is not None]
    return {MEAN_IOU: sum(present) / len(present), PER_CLASS_IOU: dict(zip(_names(model.cfg), iou)),
            PIXEL_ACCURACY: float(inter.sum() / conf.sum())}


def _names(cfg) -> list[str]:
    return list(cfg.class_names) or [str(i) for i in range(cfg.n_classes)]


def _fit(model: nn.Module, data: ImageDataset, target: torch.Tensor, epochs: int, seed: int,
         augment: Callable | None, progress: Progress | None, batch: int = 64, lr: float = 2e-3,
         weight: torch.Tensor | None = None) -> None:
    """Adam with a one-cycle learning rate, (weighted) cross-entropy, shuffled mini-batches; in place."""
    gen = torch.Generator().manual_seed(seed)
    n = len(data)
    steps_per_epoch = max(1, n // batch)
    total = epochs * steps_per_epoch
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total, pct_start=0.15)
    model.train()
    done = 0
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        for j in range(steps_per_epoch):
            idx = perm[j * batch:(j + 1) * batch]
            x, y = data.images[idx], target[idx]
            if augment is not None:
                x, y = augment(x, y, gen)
            loss = F.cross_entropy(model(x), y, weight=weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            done += 1
            if progress is not None:
                progress(done, total)
    model.eval()


def _shift_aug(x: torch.Tensor, y: torch.Tensor, gen: torch.Generator, pad: int = 2):
    """Translate the whole batch by up to `pad` pixels (edges replicated); labels stay."""
    side = x.shape[-1]
    dx, dy = torch.randint(0, 2 * pad + 1, (2,), generator=gen).tolist()
    return F.pad(x, (pad,) * 4, mode="replicate")[:, :, dy:dy + side, dx:dx + side], y


def _flip_aug(x: torch.Tensor, y: torch.Tensor, gen: torch.Generator):
    """Mirror the whole batch left-right half of the time (images and masks together)."""
    if torch.rand((), generator=gen) < 0.5:
        return x.flip(-1), y.flip(-1)
    return x, y


def _train(model: nn.Module, train: ImageDataset, held: ImageDataset, target: torch.Tensor, epochs: int,
           seed: int, augment: Callable | None, progress: Progress | None, **kw) -> dict:
    """Fit the model and report its held-out figures, the time taken and the sizes."""
    t0 = time.perf_counter()
    _fit(model, train, target, epochs, seed, augment, progress, **kw)
    seconds = round(time.perf_counter() - t0, 1)
    evaluate = evaluate_classifier if model.kind == "classifier" else evaluate_segmenter
    return {"held_out": evaluate(model, held), "train_seconds": seconds, "epochs": epochs, "seed": seed,
            "n_train": len(train), "n_held_out": len(held)}


def train_classifier(dataset: ImageDataset, epochs: int = 20, seed: int = 0, progress: Progress | None = None,
                     width: int = 16, shift: bool = True) -> tuple[Classifier, dict]:
    """Train a Classifier on dataset.labels; returns (model in eval mode, report with held-out figures).

    The data is split with dataset.split(0.15, seed) into train and held-out parts; `shift` adds random
    translations of up to 2 pixels. Deterministic for a given seed (on one CPU thread)."""
    if dataset.labels is None:
        raise ValueError(f"dataset {dataset.name!r} has no labels to train a classifier on")
    train, held = dataset.split(HELD_OUT_FRAC, seed)
    torch.manual_seed(seed)
    model = Classifier(ClassifierConfig(in_channels=dataset.channels, image_size=dataset.size,
                                        n_classes=len(dataset.class_names), width=width,
                                        class_names=list(dataset.class_names)))
    report = _train(model, train, held, train.labels, epochs, seed, _shift_aug if shift else None, progress)
    return model, report


def train_segmenter(dataset: ImageDataset, epochs: int = 4, seed: int = 0, progress: Progress | None = None,
                    width: int = 16) -> tuple[Segmenter, dict]:
    """Train a Segmenter on dataset.masks; returns (model in eval mode, report with held-out IoU).

    Split with dataset.split(0.15, seed). The cross-entropy weighs each class by 1 / sqrt(its pixel
    share), so small things (the sun, houses) are learnt too; batches are mirrored left-right at random
    (scenes are symmetric). Deterministic for a given seed (on one CPU thread)."""
    if dataset.masks is None:
        raise ValueError(f"dataset {dataset.name!r} has no masks to train a segmenter on")
    names = list(dataset.mask_names or dataset.class_names)
    train, held = dataset.split(HELD_OUT_FRAC, seed)
    torch.manual_seed(seed)
    model = Segmenter(SegmenterConfig(in_channels=dataset.channels, image_size=dataset.size,
                                      n_classes=len(names), width=width, class_names=names))
    freq = torch.bincount(train.masks.flatten(), minlength=len(names)).double() / train.masks.numel()
    weight = freq.clamp_min(1e-4).rsqrt()
    weight = (weight / (freq * weight).sum()).float()  # the average pixel weighs 1
    report = _train(model, train, held, train.masks, epochs, seed, _flip_aug, progress, weight=weight)
    return model, report


def save_evaluator(path: str, model: nn.Module, card: dict) -> str:
    """Write weights + metadata to `path` (.safetensors) and the card as JSON beside it.

    Returns the card's path. The card gets `kind`, `config` and `class_names` from the model."""
    kind = getattr(model, "kind", None)
    if kind not in KINDS:
        raise ValueError(f"not an evaluator model: {type(model).__name__}")
    card = {"kind": kind, "config": model.cfg.to_dict(), "class_names": _names(model.cfg), **card}
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


# The shipped evaluators: what data each is trained on and how long.
RECIPES = {
    "digits": {"file": "eval-digits-classifier.safetensors",
               "data": {"name": "digits", "size": 32, "seed": 0},
               "kind": "classifier", "epochs": 20, "kwargs": {"shift": True}, "target": (ACCURACY, 0.97)},
    "shapes": {"file": "eval-shapes-classifier.safetensors",
               "data": {"name": "shapes", "n": 10000, "size": 32, "seed": 0},
               "kind": "classifier", "epochs": 6, "kwargs": {"shift": False}, "target": (ACCURACY, 0.95)},
    "scenes": {"file": "eval-scenes-segmenter.safetensors",
               "data": {"name": "scenes", "n": 6000, "size": 32, "seed": 0},
               "kind": "segmenter", "epochs": 4, "kwargs": {}, "target": (MEAN_IOU, 0.85)},
}


def recipe_data(spec: dict) -> ImageDataset:
    """The dataset a recipe's `data` entry names (also used to re-measure shipped evaluators)."""
    from ..data import digits, scenes, shapes

    if spec["name"] == "digits":
        return digits.load_digits(spec["size"], seed=spec["seed"])
    maker = {"shapes": shapes.make_shapes, "scenes": scenes.make_scenes}[spec["name"]]
    return maker(spec["n"], size=spec["size"], seed=spec["seed"])


def build_shipped(which: str, out_dir: str, seed: int = 0) -> dict:
    """Train one shipped evaluator with tqdm progress on stderr, save it; returns its card."""
    from tqdm import tqdm

    r = RECIPES[which]
    data = recipe_data(r["data"])
    trainer = train_classifier if r["kind"] == "classifier" else train_segmenter
    with tqdm(desc=f"eval-{which}", unit="step", file=sys.stderr, mininterval=0.5) as bar:
        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        model, report = trainer(data, r["epochs"], seed, progress, **r["kwargs"])
    metric, target = r["target"]
    card = {"dataset": {**r["data"], "held_out_frac": HELD_OUT_FRAC, "split_seed": seed},
            "target": {metric: target}, **report}
    save_evaluator(os.path.join(out_dir, r["file"]), model, card)
    return card


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m gan_core.models.evaluators",
                                description="Train and save the shipped evaluator networks.")
    p.add_argument("--which", choices=[*RECIPES, "all"], default="all")
    p.add_argument("--out", default="checkpoints")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(max(1, args.threads))
    failed = False
    for which in RECIPES if args.which == "all" else [args.which]:
        card = build_shipped(which, args.out)
        metric, target = next(iter(card["target"].items()))
        got = card["held_out"][metric]
        failed |= not (got >= target)
        print(json.dumps({"evaluator": which, metric: round(got, 4), "target": target,
                          "train_seconds": card["train_seconds"]}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""What the three evaluators share: names of their figures, the conv block, the input check, batched
prediction and the training loop."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ...data.images import ImageDataset

KINDS = ("classifier", "segmenter", "factors")
HELD_OUT_FRAC = 0.15  # share of a dataset held out to measure an evaluator
ACCURACY, MEAN_IOU, PER_CLASS_IOU, PIXEL_ACCURACY = "accuracy", "mean_iou", "per_class_iou", "pixel_accuracy"
MIN_ACCURACY, FACTOR_ACCURACY, WITHIN_ONE_BIN = "min_accuracy", "factor_accuracy", "within_one_bin"
FACTORS = ("shape", "scale", "rotation", "x", "y", "colour")  # the heads of a FactorNet, in this order
ORDINAL = ("scale", "rotation", "x", "y")  # factors binned from a continuous value (rotation: circularly)
UNDEFINED = -1  # the bin of a factor that is not defined for a sprite (the rotation of a circle)

Progress = Callable[[int, int], None]  # progress(steps_done, steps_total)


def _conv(cin: int, cout: int) -> nn.Sequential:
    """3x3 convolution (same size) + BatchNorm + ReLU."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


def _trunk(cin: int, width: int, image_size: int) -> tuple[nn.Sequential, int]:
    """The Classifier's (and FactorNet's) body: conv stages max-pooled down to 4x4 (one conv at full size,
    two after), a last conv doubling the channels, global average pooling, flattened.
    Returns (body, its output size)."""
    stages = []
    for i in range(image_size.bit_length() - 3):  # pool down to 4x4
        cout = width * min(2 ** i, 4)
        convs = [_conv(cin, cout)] + ([_conv(cout, cout)] if i > 0 else [])  # one conv at full size
        stages += [*convs, nn.MaxPool2d(2)]
        cin = cout
    return nn.Sequential(*stages, _conv(cin, cin * 2), nn.AdaptiveAvgPool2d(1), nn.Flatten()), cin * 2


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




def _names(cfg) -> list[str]:
    return list(cfg.class_names) or [str(i) for i in range(cfg.n_classes)]


def _fit(model: nn.Module, data: ImageDataset, target: torch.Tensor, epochs: int, seed: int,
         augment: Callable | None, progress: Progress | None, batch: int = 64, lr: float = 2e-3,
         weight: torch.Tensor | None = None, loss_fn: Callable | None = None) -> None:
    """Adam with a one-cycle learning rate, (weighted) cross-entropy (or `loss_fn(output, target)`),
    shuffled mini-batches; in place."""
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
            loss = F.cross_entropy(model(x), y, weight=weight) if loss_fn is None else loss_fn(model(x), y)
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


def _train(model: nn.Module, evaluate: Callable[[nn.Module, ImageDataset], dict], train: ImageDataset,
           held: ImageDataset, target: torch.Tensor, epochs: int, seed: int, augment: Callable | None,
           progress: Progress | None, **kw) -> dict:
    """Fit the model and report its held-out figures (`evaluate(model, held)`), the time taken and the
    sizes."""
    t0 = time.perf_counter()
    _fit(model, train, target, epochs, seed, augment, progress, **kw)
    seconds = round(time.perf_counter() - t0, 1)
    return {"held_out": evaluate(model, held), "train_seconds": seconds, "epochs": epochs, "seed": seed,
            "n_train": len(train), "n_held_out": len(held)}

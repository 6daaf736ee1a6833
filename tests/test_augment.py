"""DiffAugment of D's inputs (gan_core/training/augment.py): each policy does exactly its transformation,
is differentiable, and the trainer applies it through the autograd engine, repeatably."""

from __future__ import annotations

import pytest
import torch

from gan_core.training import TrainConfig, Trainer, augment


def shift_with_zeros(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    out = torch.zeros_like(x)
    h, w = x.shape[-2:]
    out[..., max(0, dy):h + min(0, dy), max(0, dx):w + min(0, dx)] = \
        x[..., max(0, -dy):h + min(0, -dy), max(0, -dx):w + min(0, -dx)]
    return out


def test_translation_moves_each_image_by_at_most_an_eighth_filling_zeros():
    x = torch.rand(64, 3, 16, 16) + 1  # no zeros of its own
    y = augment.translation(x, torch.Generator().manual_seed(0))
    seen = set()
    for a, b in zip(x, y):
        hits = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if torch.equal(shift_with_zeros(a, dy, dx), b)]
        assert len(hits) == 1  # exactly one shift of at most 2 = 16 / 8 pixels explains it
        seen.add(hits[0])
    assert len(seen) > 10  # drawn per image


def test_cutout_zeroes_one_half_side_square_per_image_and_nothing_else():
    x = torch.ones(64, 1, 16, 16)
    y = augment.cutout(x, torch.Generator().manual_seed(0))
    for b in y[:, 0]:
        rows, cols = torch.nonzero(b == 0, as_tuple=True)
        assert 0 < len(rows) <= 64 and set(b.unique().tolist()) <= {0.0, 1.0}
        h, w = int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)
        assert len(rows) == h * w and h <= 8 and w <= 8  # one rectangle: the 8x8 square, clipped at a border


def test_colour_is_affine_per_image_and_everything_is_differentiable():
    x = torch.rand(8, 1, 8, 8).expand(8, 3, 8, 8).contiguous()  # grey images: saturation leaves them alone
    y = augment.colour(x, torch.Generator().manual_seed(0))
    assert torch.allclose(y[:, 0], y[:, 1]) and torch.allclose(y[:, 1], y[:, 2], atol=1e-6)
    for a, b in zip(x[:, 0].flatten(1), y[:, 0].flatten(1)):  # b = slope x a + offset for each image
        slope = (b[1] - b[0]) / (a[1] - a[0])
        assert torch.allclose(b, slope * (a - a[0]) + b[0], atol=1e-5) and 0.5 <= slope <= 1.5 + 1e-6
    x = torch.randn(4, 3, 8, 8, requires_grad=True)
    y = augment.augment(x, "colour+translation+cutout", torch.Generator().manual_seed(1))
    (g,) = torch.autograd.grad(y.square().sum(), x)
    assert g.abs().sum() > 0 and augment.augment(x, "") is x
    for bad in ("flip", "colour+colour", 3):
        with pytest.raises(ValueError, match="d_augment"):
            augment.check(bad)


def test_the_trainer_augments_through_autograd_repeatably_and_refuses_codes_and_points():
    model = {"image_size": 16, "g_base": 8, "d_base": 8, "z_dim": 8, "d_batchnorm": False}
    cfg = TrainConfig(dataset="digits16", family="dcgan", model=model, batch_size=8,
                      d_augment="translation+cutout")
    t, t2, plain = Trainer(cfg), Trainer(cfg), Trainer(cfg.replace(d_augment=""))
    assert t.engine == "autograd" and plain.engine == "conv-engine"
    t.run(3)
    t2.run(3)
    plain.use_engine("autograd")
    plain.run(3)
    assert torch.equal(t.d_flat.data, t2.d_flat.data)  # the transformations come from the trainer's stream
    assert not torch.equal(t.d_flat.data, plain.d_flat.data)  # and they change what D learns
    with pytest.raises(ValueError, match="InfoGAN codes"):
        Trainer(cfg.replace(model={**model, "n_cat": 2}))
    with pytest.raises(ValueError, match="d_augment"):
        Trainer(TrainConfig(dataset="ring", d_augment="cutout"))
    with pytest.raises(ValueError, match="d_augment"):
        TrainConfig(d_augment="rotate")

"""The fixed-noise grid renderer: layout, determinism, and that its own generator copy computes exactly
what the trainer's generator computes under the same (flat, channels-last) weights."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from gan_core.training import presets
from gan_core.training.trainer import Trainer
from gan_core.viz.grid import GridRenderer, display_scale, enlarge

torch.set_num_threads(1)


def trained(name: str, steps: int = 2, **changes) -> Trainer:
    """A trainer of an image preset after a few steps (weights no longer at their initial values)."""
    cfg = presets.get(name).config
    t = Trainer(cfg.replace(**changes) if changes else cfg)
    for _ in range(steps):
        t.step()
    return t


def snapshot_of(t: Trainer) -> SimpleNamespace:
    """What GridRenderer.render reads from a training snapshot."""
    g = (t.ema if t.ema is not None else t.g_flat.data).clone()
    return SimpleNamespace(cfg=t.cfg, g_state=g, step=t.step_count)


PLAIN = {**presets.get("digits-dcgan").config.model, "n_cat": 0}  # the preset's DCGAN without InfoGAN codes


@pytest.fixture(scope="module")
def digits() -> Trainer:
    return trained("digits-dcgan", model=PLAIN)


def test_grid_layout_and_enlarging(digits):
    r = GridRenderer()
    picture = r.render(snapshot_of(digits))  # 16 px digits enlarged 4x, 1 px gutters become 4 px
    assert picture.dtype == np.uint8 and picture.shape == (8 * 68 + 4, 8 * 68 + 4, 3)
    assert r.shape() == (8, 8)
    assert (display_scale(16), display_scale(32), display_scale(64)) == (4, 2, 1)
    native = r.picture(scale=1)
    assert native.shape == (8 * 17 + 1, 8 * 17 + 1, 3)
    assert np.array_equal(enlarge(native, 4), picture), "enlarging the native grid gives the display grid"
    assert (picture[:4] == 48).all() and (picture[:, 68:72] == 48).all(), "gutters are dark grey"


def test_grid_is_deterministic_for_fixed_noise(digits):
    snap = snapshot_of(digits)
    a, b = GridRenderer(), GridRenderer()
    first = a.render(snap)
    assert np.array_equal(first, a.render(snap)), "drawing again gives the same grid"
    assert np.array_equal(first, b.render(snap)), "another renderer gives the same grid"
    assert not np.array_equal(first, GridRenderer(seed=1).render(snap)), "other noise, another grid"


def test_renderer_matches_the_trainers_generator(digits):
    r = GridRenderer()
    r.load(digits.cfg.family, digits.cfg.model, snapshot_of(digits).g_state)
    mine = r.samples()
    with torch.no_grad(), digits.ema_weights(True):
        digits.G.train()  # BatchNorm over the batch, as the renderer draws it
        theirs = digits.G(r.z)
    assert torch.equal(mine, theirs), "same flat weights, same layout: the same images"

    digits.recalibrate_bn()  # the trainer's own samples: eval mode, recalibrated BatchNorm statistics
    ref = digits.sample(len(r.z), seed=r.seed)
    assert mine.shape == ref.shape and (mine - ref).abs().mean() < 0.05


def test_weights_follow_the_snapshot(digits):
    r = GridRenderer()
    before = r.render(snapshot_of(digits))
    later = trained("digits-dcgan", steps=5, g_ema=0.0, model=PLAIN)
    assert not np.array_equal(r.render(snapshot_of(later)), before)
    with pytest.raises(ValueError, match="generator weights"):
        r.load("dcgan", digits.cfg.model, torch.zeros(10))


def test_conditional_grid_has_one_class_per_row():
    t = trained("digits-conditional")
    r = GridRenderer()
    picture = r.render(snapshot_of(t))
    assert r.shape() == (10, 8) and picture.shape == (10 * 68 + 4, 8 * 68 + 4, 3)
    assert (r.labels.reshape(10, 8) == torch.arange(10)[:, None]).all(), "row r asks for class r"
    with torch.no_grad(), t.ema_weights(True):
        t.G.train()
        theirs = t.G(r.z, r.labels)
    assert torch.equal(r.samples(), theirs)


def test_infogan_grid_has_one_category_per_row_and_shared_noise_per_column():
    t = trained("digits-dcgan", model={**presets.get("digits-dcgan").config.model, "n_cat": 4, "n_cont": 1})
    r = GridRenderer()
    r.render(snapshot_of(t))
    spec = t.G.latent_spec
    assert r.shape() == (4, 8) and r.labels is None
    z = r.z.reshape(4, 8, -1)
    k = spec.noise_dim
    assert (z[:, :, k:k + 4].argmax(-1) == torch.arange(4)[:, None]).all(), "row r holds category r"
    assert torch.equal(z[:, :, :k], z[:1, :, :k].expand(4, -1, -1))  # the same noise down a column
    assert torch.equal(z[:, :, k + 4:], z[:1, :, k + 4:].expand(4, -1, -1))  # and the same continuous code


def test_colour_images_keep_their_channels():
    t = trained("shapes-dcgan", steps=1)
    picture = GridRenderer().render(snapshot_of(t))
    assert picture.shape == (8 * 66 + 2, 8 * 66 + 2, 3)  # 32 px sprites enlarged 2x
    tiles = GridRenderer()
    tiles.load(t.cfg.family, t.cfg.model, snapshot_of(t).g_state)
    assert tiles.samples().shape == (64, 3, 32, 32)

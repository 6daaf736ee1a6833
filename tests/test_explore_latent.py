"""The latent explorer's core (gan_core.explore.latent): frozen model copies, principal directions,
truncation, interpolation, arithmetic, inversion and the files it writes."""

from __future__ import annotations

import io
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import toy_family
from gan_core import checkpoint
from gan_core.data import registry
from gan_core.explore import latent as lx
from gan_core.models.base import LatentSpec
from gan_core.training import presets
from gan_core.training.config import TrainConfig
from gan_core.training.session import TrainingSession
from gan_core.training.trainer import Trainer

REPO = Path(__file__).resolve().parent.parent
SHIPPED_DIGITS = REPO / "checkpoints" / "digits-dcgan.safetensors"


class LinearG(nn.Module):
    """A linear toy generator x = W z + b, shaped as a 1x4x4 image."""

    def __init__(self, z_dim: int = 6):
        super().__init__()
        self.latent_spec = LatentSpec(z_dim=z_dim)
        self.fc = nn.Linear(z_dim, 16)
        self.cfg = type("Cfg", (), {"image_size": 4, "channels": 1})()

    def forward(self, z, c=None):
        return self.fc(z).reshape(-1, 1, 4, 4)

    def feature_layers(self):
        return OrderedDict(fc=self.fc)


@pytest.fixture(scope="module")
def digits_model():
    """A small DCGAN on digits16 after a few steps (its weights are not trained: shapes matter here)."""
    cfg = presets.get("digits-dcgan").config
    t = Trainer(cfg)
    for _ in range(3):
        t.step()
    return t


@pytest.fixture(scope="module")
def shipped():
    return lx.LatentModel.from_checkpoint(checkpoint.load(str(SHIPPED_DIGITS)), "digits-dcgan")


def test_snapshot_copy_matches_the_checkpoint_and_is_per_sample(digits_model, tmp_path):
    session = TrainingSession(digits_model.cfg, evaluate=False)
    session.replace_trainer(digits_model)
    from_snap = lx.LatentModel.from_snapshot(session.snapshot())
    path = tmp_path / "d.safetensors"
    checkpoint.save(str(path), digits_model)
    from_ckpt = lx.LatentModel.from_checkpoint(checkpoint.load(str(path)))
    z = from_snap.latents(range(5))
    a, b = from_snap.generate(z), from_ckpt.generate(z)
    assert a.shape == (5, 1, 16, 16)
    assert torch.allclose(a, b, atol=1e-5)  # the trainer's channels-last flat layout is read correctly
    # eval mode: an image depends on its own latent only (batch of one = row of a batch)
    assert torch.allclose(from_snap.generate(z[2:3]), a[2:3], atol=1e-5)
    assert torch.equal(from_snap.latent(7), from_snap.latent(7))
    assert not torch.equal(from_snap.latent(7), from_snap.latent(8))
    session.close()


@pytest.mark.parametrize("source", ["z", "layer"])
def test_pca_directions_orthonormal_and_ordered(shipped, source):
    d = lx.pca_directions(shipped, k=12, source=source, n=2048)
    assert d.vectors.shape == (12, shipped.z_dim)
    gram = d.vectors @ d.vectors.T
    assert torch.allclose(gram, torch.eye(12), atol=1e-5)
    assert torch.all(d.explained[:-1] >= d.explained[1:] - 1e-7)  # ordered by variance explained
    assert 0 < float(d.explained.sum()) <= 1.0 + 1e-6
    assert torch.all(d.std > 0.5) and torch.all(d.std < 1.5)  # latents are standard normal
    if source == "z":
        assert torch.all(d.std[:-1] >= d.std[1:] - 1e-6)
    else:
        assert d.source == "block0" and d.explained[0] > 0.05  # an even share would be 1 / 2048


def test_pca_directions_of_a_2d_generator():
    t = Trainer(presets.get("stable-ring").config)
    m = lx.LatentModel(t.G, "mlp", t.data)
    d = lx.pca_directions(m)
    assert len(d) == m.z_dim
    assert torch.allclose(d.vectors @ d.vectors.T, torch.eye(len(d)), atol=1e-5)
    assert m.generate(m.latents([1, 2])).shape == (2, 2)


def test_axis_directions_move_one_coordinate(shipped):
    d = lx.axis_directions(shipped.z_dim)
    offsets = torch.zeros(shipped.z_dim)
    offsets[3] = 1.5
    z = lx.compose(shipped, 11, offsets, d)
    diff = z - shipped.latent(11)
    assert torch.allclose(diff[3], torch.tensor(1.5)) and float(diff.abs().sum()) == pytest.approx(1.5)


def test_truncation_psi_zero_gives_the_mean_noise_and_keeps_the_codes(shipped):
    """psi = 0 pulls the noise to the mean latent; the InfoGAN category stays the seed's own, so a
    truncated sample keeps its category (pulling the one-hot code to its mean would blend them)."""
    nd = shipped.spec.noise_dim
    assert shipped.spec.n_cat == 10 and nd == shipped.z_dim - 10
    z5 = shipped.latent(5)
    at_zero = lx.compose(shipped, 5, psi=0.0)
    assert torch.equal(at_zero[:nd], shipped.mean_latent()[:nd]) and torch.equal(at_zero[nd:], z5[nd:])
    half = shipped.truncate(z5[None], 0.5)[0]
    assert torch.allclose(half[:nd], 0.5 * z5[:nd]) and torch.equal(half[nd:], z5[nd:])
    seeds = [1, 2, 3, 4]
    grid = lx.truncation_grid(shipped, seeds, [1.0, 0.0])
    assert grid.shape == (8, 1, 16, 16)
    zs = shipped.latents(seeds)
    zs[:, :nd] = 0  # the mean noise with each seed's category
    assert torch.allclose(grid[4:], shipped.generate(zs), atol=1e-6)
    assert torch.allclose(grid[:4], shipped.generate(shipped.latents(seeds)), atol=1e-6)
    assert float((grid[0] - grid[1]).abs().max()) > 0.1  # psi = 1 keeps the variety


def test_truncation_trades_variety_for_fidelity_on_the_shipped_digits(shipped):
    """From psi 1.5 to 0 the classifier grows surer and the samples less varied (docs/figures.md)."""
    from gan_core.explore import readout

    if readout.classifier_for(shipped) is None:
        pytest.skip("the digits evaluator is not shipped in this checkout")
    rows = [readout.tradeoff(shipped, p) for p in (1.5, 1.0, 0.5, 0.0)]
    fid = [r[readout.FIDELITY] for r in rows]
    var = [r[readout.VARIETY] for r in rows]
    assert fid == sorted(fid) and fid[-1] - fid[0] > 0.03, fid
    assert var == sorted(var, reverse=True) and var[0] - var[-1] > 0.1, var


def test_suggested_recipe_gives_a_thick_one(shipped):
    """"thick 7" - "thin 7" + "thin 1", chosen by the classifier: the result reads as 1 with more ink."""
    from gan_core.explore import readout

    if readout.classifier_for(shipped) is None:
        pytest.skip("the digits evaluator is not shipped in this checkout")
    r = readout.suggest_recipe(shipped)
    assert r["words"] == '"thick 7" - "thin 7" + "thin 1"'
    assert len(r["a"]) == len(r["b"]) == len(r["c"]) == 3 and not set(r["a"]) & set(r["b"])
    x = shipped.generate(shipped.latents(r["a"] + r["b"]))
    assert readout.ink(x[:3]).min() > readout.ink(x[3:]).max()  # A thicker than B
    assert r["read"] == "1" and r["confidence"] > 0.5 and r["ink"] > r["ink_c"]


def test_slerp_and_lerp_end_exactly_and_slerp_keeps_the_norm():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(32, generator=g), torch.randn(32, generator=g)
    for f in (lx.slerp, lx.lerp):
        assert torch.equal(f(a, b, 0.0), a) and torch.equal(f(a, b, 1.0), b)
    mid = lx.slerp(a, b, 0.5)
    assert abs(float(mid.norm()) - float((a.norm() + b.norm()) / 2)) < 0.1 * float(a.norm())
    assert float(lx.lerp(a, b, 0.5).norm()) < float(mid.norm())  # lerp cuts through the middle


def test_interpolation_passes_through_every_key_exactly(shipped):
    keys = shipped.latents([3, 1, 4, 5])
    frames = lx.interpolate(keys, 32, "slerp")
    assert frames.shape == (32, shipped.z_dim)
    assert torch.equal(frames[0], keys[0]) and torch.equal(frames[-1], keys[-1])
    hits = [i for i in range(32) for k in keys[1:3] if torch.equal(frames[i], k)]
    assert len(hits) == 2  # the inner keys are frames too
    images = shipped.generate_each(frames)
    assert torch.equal(images[0], shipped.generate(keys[:1])[0])  # endpoints reproduce the seeds' images
    assert torch.equal(images[-1], shipped.generate(keys[-1:])[0])
    with pytest.raises(ValueError, match="at least two"):
        lx.interpolate(keys[:1], 8)
    with pytest.raises(ValueError, match="mode"):
        lx.interpolate(keys, 8, "cubic")


def test_arithmetic_on_a_linear_generator_is_exact():
    G = LinearG()
    m = lx.LatentModel(G, toy_family.NAME)
    r = lx.arithmetic(m, [1, 2, 3], [4, 5], [6])
    za, zb, zc = m.latents([1, 2, 3]).mean(0), m.latents([4, 5]).mean(0), m.latent(6)
    assert torch.equal(r["result"], za - zb + zc)
    x = m.generate(r["result"][None])[0]
    expected = (G.fc.weight @ (za - zb + zc) + G.fc.bias).reshape(1, 4, 4)
    assert torch.allclose(x, expected, atol=1e-6)
    # linear G: the image of the sum is the sum of the images
    ga, gb, gc = (m.generate(v[None])[0] for v in (za, zb, zc))
    assert torch.allclose(x, ga - gb + gc, atol=1e-5)
    with pytest.raises(ValueError, match="term B"):
        lx.arithmetic(m, [1], [], [2])


@pytest.mark.slow
def test_inversion_recovers_generated_digits(shipped):
    z = shipped.latents([101, 202, 303, 404])
    targets = shipped.generate(z)
    inv = lx.invert(shipped, targets, restarts=4, steps=300)
    assert inv.z.shape == (4, shipped.z_dim) and inv.recon.shape == targets.shape
    assert float(inv.psnr.median()) >= 30.0
    assert torch.allclose(inv.psnr, lx.psnr_db(((inv.recon - targets) ** 2).mean((1, 2, 3))), atol=1e-3)


@pytest.mark.slow
def test_inversion_searches_classes_of_a_conditional_generator():
    t = Trainer(presets.get("digits-conditional").config)
    m = lx.LatentModel(t.G, "dcgan", dataset="digits16")
    target = m.generate(m.latents([9]), label=7)
    inv = lx.invert(m, target, restarts=10, steps=60, candidates=20)
    assert inv.labels is not None and inv.labels.shape == (1,)
    fixed = lx.invert(m, target, restarts=2, steps=5, candidates=4, label=3)
    assert int(fixed.labels[0]) == 3


def test_real_split_is_disjoint_and_matches_training(shipped):
    train, held = lx.real_split(shipped)
    full = registry.image_dataset("digits16")
    assert shipped.held_out == 0.15 and len(train) + len(held) == len(full)
    assert len(held) == round(0.15 * len(full))
    flat = lambda d: {tuple(x.flatten().tolist()) for x in d.images[:200]}  # noqa: E731
    assert not flat(held) & {tuple(x.flatten().tolist()) for x in train.images}
    trainer = Trainer(presets.get("digits-dcgan").config)
    assert len(trainer.data) == len(train)  # the trainer never sees the held-out images


def test_held_out_is_validated():
    with pytest.raises(ValueError, match="held_out"):
        TrainConfig(dataset="ring", held_out=0.1)
    with pytest.raises(ValueError, match="held_out"):
        TrainConfig(dataset="digits16", family="dcgan", held_out=0.9)


def test_inversion_report_has_the_figures(shipped):
    r = lx.inversion_report(shipped, n_generated=3, n_real=3, restarts=2, steps=40)
    for key in ("inversion_psnr_median", "mre_train", "mre_heldout", "mre_ratio", "nn_heldout"):
        assert isinstance(r[key], float) and r[key] > 0, key
    assert r["n_heldout"] == 3


def test_gif_has_every_frame_and_png_round_trips(shipped):
    from gan_core.viz import explore as vx

    frames = shipped.generate(lx.interpolate(shipped.latents([1, 2, 3, 4]), 32))
    pics = [vx.tile(f, 4) for f in frames]
    gif = Image.open(io.BytesIO(lx.gif_bytes(pics, fps=10)))
    assert gif.n_frames == 32 and gif.size == (64, 64)
    png = Image.open(io.BytesIO(lx.png_bytes(pics[0])))
    assert (np.asarray(png.convert("RGB")) == pics[0]).all()


def test_plane_view_draws_both_panels_and_moves_the_point():
    from gan_core.viz import explore as vx

    t = Trainer(presets.get("stable-ring").config)
    m = lx.LatentModel(t.G, "mlp", t.data)
    view = vx.PlaneView(m)
    a, b = view.render(m.latent(1)), view.render(m.latent(1) + 1.0)
    assert a.shape == (vx.PANEL_PX, 2 * vx.PANEL_PX + 8, 3)
    assert (a != b).any()  # the point moved

"""The explorer's readout measures (gan_core.explore.readout): the truncation trade-off on 2D and image
generators, and the readout classifier."""

from __future__ import annotations

import pytest
import torch

from gan_core.explore import latent as lx
from gan_core.explore import readout
from gan_core.training import presets
from gan_core.training.trainer import Trainer


@pytest.fixture(scope="module")
def ring_model():
    t = Trainer(presets.get("stable-ring").config)
    return lx.LatentModel(t.G, "mlp", t.data, dataset=t.cfg.dataset)


@pytest.fixture(scope="module")
def digits_model():
    t = Trainer(presets.get("digits-dcgan").config)
    return lx.LatentModel(t.G, t.cfg.family, dataset=t.cfg.dataset)


def test_sample_latents_are_fixed(ring_model):
    a, b = readout.sample_latents(ring_model, 8), readout.sample_latents(ring_model, 8)
    assert a.shape == (8, ring_model.z_dim) and torch.equal(a, b)
    assert not torch.equal(a, readout.sample_latents(ring_model, 8, seed=1))


def test_tradeoff_on_points(ring_model):
    full, mean = readout.tradeoff(ring_model, 1.0), readout.tradeoff(ring_model, 0.0)
    assert set(full) == {"variety (spread of points)", "fidelity (high-quality share)", "modes"}
    assert 0.0 <= full["fidelity (high-quality share)"] <= 1.0
    assert mean["variety (spread of points)"] == pytest.approx(0.0, abs=1e-4), "psi 0: all at the mean"
    assert full["variety (spread of points)"] > mean["variety (spread of points)"]


def test_tradeoff_and_classify_on_images(digits_model):
    out = readout.tradeoff(digits_model, 0.5, n=32)
    assert out["variety (pixel std across samples)"] >= 0
    if readout.classifier_for(digits_model) is None:
        pytest.skip("the digits evaluator is not shipped in this checkout")
    assert 0.0 <= out["fidelity (classifier confidence)"] <= 1.0
    assert 0 <= out["classes covered"] <= 10
    x = digits_model.generate(digits_model.latents([3]))
    read = readout.classify(digits_model, x)
    assert read["kind"] == "digits" and 0.0 <= read["confidence"] <= 1.0 and read["name"]


def test_no_classifier_for_points(ring_model):
    assert readout.classifier_for(ring_model) is None
    assert readout.classify(ring_model, torch.zeros(1, 2)) is None

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
    assert out[readout.VARIETY] >= 0
    if readout.classifier_for(digits_model) is None:
        pytest.skip("the digits evaluator is not shipped in this checkout")
    assert 0.0 <= out[readout.FIDELITY] <= 1.0
    assert 0 <= out[readout.COVERED] <= 10
    x = digits_model.generate(digits_model.latents([3]))
    read = readout.classify(digits_model, x)
    assert read["kind"] == "digits" and 0.0 <= read["confidence"] <= 1.0 and read["name"]


def test_no_classifier_for_points(ring_model):
    assert readout.classifier_for(ring_model) is None
    assert readout.classify(ring_model, torch.zeros(1, 2)) is None


def test_classes_covered_counts_only_confident_samples(digits_model, monkeypatch):
    """The explorer's "classes covered (confidently)" is the training metrics' count: samples read at
    under 50 % confidence cover nothing, however many there are."""
    if readout.classifier_for(digits_model) is None:
        pytest.skip("the digits evaluator is not shipped in this checkout")
    kind, ev, card = readout.classifier_for(digits_model)

    class Unsure(torch.nn.Module):  # reads every image as class k with 40 % (the rest spread evenly)
        cfg = ev.cfg

        def forward(self, x):
            k = torch.arange(len(x)) % 10
            p = torch.full((len(x), 10), 0.6 / 9).scatter(1, k[:, None], 0.4)
            return p.log()

    monkeypatch.setattr(readout, "classifier_for", lambda m: (kind, Unsure(), card))
    out = readout.tradeoff(digits_model, 1.0, n=100)
    assert out[readout.COVERED] == 0 and out[readout.FIDELITY] == pytest.approx(0.4, abs=1e-3)


def test_pairwise_distance():
    assert readout.pairwise_distance(torch.zeros(5, 1, 4, 4)) == 0.0
    x = torch.stack([torch.full((1, 4, 4), -1.0), torch.full((1, 4, 4), 1.0)])
    assert readout.pairwise_distance(x) == pytest.approx(2.0)  # every pixel differs by 2

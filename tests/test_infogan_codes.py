"""InfoGAN codes in the DCGAN family: latent layout, Q head, the information loss, and that training makes
the categorical code readable from the images."""

from __future__ import annotations

import math

import pytest
import torch

from gan_core import checkpoint, losses, models
from gan_core.training.config import TrainConfig
from gan_core.training.trainer import Trainer, trainer_from_checkpoint

torch.set_num_threads(1)
SMALL = {"g_base": 8, "d_base": 8, "z_dim": 16, "image_size": 16}


def test_latent_layout_noise_then_one_hot_then_continuous():
    spec = models.LatentSpec(z_dim=16 + 10 + 2, n_cat=10, n_cont=2)
    assert spec.noise_dim == 16 and spec.has_codes
    z = models.sample_latent(spec, 5000, torch.Generator().manual_seed(0))
    assert z.shape == (5000, 28)
    one_hot = z[:, 16:26]
    assert torch.equal(one_hot.sum(1), torch.ones(5000)) and set(one_hot.unique().tolist()) == {0.0, 1.0}
    counts = torch.bincount(one_hot.argmax(1), minlength=10).float()
    assert counts.min() > 400 and counts.max() < 600  # uniform over the 10 categories
    cont = z[:, 26:]
    assert cont.min() >= -1 and cont.max() <= 1 and cont.std() > 0.5  # uniform in [-1, 1]: std 0.577
    cat, c = models.split_codes(spec, z)
    assert torch.equal(cat, one_hot.argmax(1)) and torch.equal(c, cont)
    assert models.split_codes(models.LatentSpec(z_dim=8), z[:, :8]) == (None, None)
    # the same seed gives the same latent, codes included
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    assert torch.equal(models.sample_latent(spec, 4, g()), models.sample_latent(spec, 4, g()))


def test_generator_takes_the_codes_and_q_reads_them():
    torch.manual_seed(0)
    G, D, cfg = models.build("dcgan", {**SMALL, "n_cat": 10, "n_cont": 2})
    assert G.latent_spec.z_dim == 28 and G.latent_spec.n_cat == 10 and G.latent_spec.n_cont == 2
    G.eval()
    z = models.sample_latent(G.latent_spec, 1, torch.Generator().manual_seed(1)).repeat(10, 1)
    z[:, 16:26] = torch.eye(10)  # the same noise with each category
    x = G(z)
    assert x.shape == (10, 1, 16, 16)
    assert (x[1:] - x[0]).abs().amax(dim=(1, 2, 3)).min() > 0  # every category changes the image
    logits, q = D.forward_with_q(x)
    assert logits.shape == (10, 1) and q.shape == (10, 14)  # 10 logits, a mean and a log-variance per code
    assert torch.equal(logits, D(x))  # the same pass as plain D
    with pytest.raises(ValueError, match="z must have shape"):
        G(torch.randn(2, 16))  # the codes are part of the latent
    _, D0, _ = models.build("dcgan", SMALL)
    assert D0.q_head is None
    with pytest.raises(ValueError, match="no Q head"):
        D0.forward_with_q(x)
    with pytest.raises(ValueError, match="n_cat must be between 0 and 100, got 101"):
        models.build("dcgan", {**SMALL, "n_cat": 101})


def test_spectral_norm_leaves_q_alone():
    _, D, _ = models.build("dcgan", {**SMALL, "n_cat": 4, "spectral_norm": True})
    assert hasattr(D.head, "parametrizations")
    assert not any(hasattr(m, "parametrizations") for m in D.q_head.modules())


def test_info_loss_values():
    cat = torch.tensor([0, 1, 2, 3])
    sure = torch.full((4, 4), -30.0)
    sure[torch.arange(4), cat] = 30.0
    assert losses.info_loss(sure, cat, None) < 1e-6  # Q certain and right: the bound is tight
    assert losses.info_loss(torch.zeros(4, 4), cat, None).item() == pytest.approx(math.log(4))  # Q guessing
    cont = torch.tensor([[0.5, -1.0], [0.0, 0.0], [1.0, 1.0], [-0.5, 0.25]])
    unit = torch.zeros(4, 2)  # log-variance 0: Q's Gaussians have unit variance
    q = torch.cat([sure, cont + 1.0, unit], 1)  # every continuous prediction off by 1
    assert losses.info_loss(q, cat, cont).item() == pytest.approx(0.5 * 2, abs=1e-5)
    assert losses.info_loss(torch.cat([cont + 1.0, unit], 1), None, cont).item() == pytest.approx(1.0)
    # learned variance: 0.5 logvar + 0.5 d^2 / var per code; lambdas weight each code type
    q = torch.cat([torch.zeros(4, 4), cont + 1.0, torch.full((4, 2), math.log(4.0))], 1)
    want_cont = 2 * (0.5 * math.log(4.0) + 0.5 / 4)
    assert losses.info_loss(q, cat, cont, 2.0, 0.5).item() == pytest.approx(2 * math.log(4) + 0.5 * want_cont)


@pytest.mark.slow
def test_training_makes_the_category_readable():
    cfg = TrainConfig(dataset="digits16", family="dcgan", model={**SMALL, "n_cat": 4}, loss="hinge",
                      lr_d=1e-3, lr_g=5e-4, beta1=0.0, beta2=0.9, batch_size=32, steps=150,
                      eval_every=10**6)
    t = Trainer(cfg)
    spec = t.G.latent_spec

    def q_accuracy() -> float:
        z = models.sample_latent(spec, 512, torch.Generator().manual_seed(5))
        with torch.no_grad():
            _, q = t.D.forward_with_q(t.G(z))
        return float((q[:, :4].argmax(1) == models.split_codes(spec, z)[0]).float().mean())

    before = q_accuracy()
    t.run(150)
    after = q_accuracy()
    assert before < 0.45  # chance is 0.25
    assert after > 0.9, (before, after)  # G made its category visible and Q learned to read it


@pytest.mark.slow
def test_checkpoint_round_trip_keeps_codes_and_q(tmp_path):
    cfg = TrainConfig(dataset="digits16", family="dcgan", model={**SMALL, "n_cat": 3, "n_cont": 1},
                      batch_size=16, steps=3, eval_every=10**6)
    t = Trainer(cfg)
    t.run(3)
    path = str(tmp_path / "info.safetensors")
    checkpoint.save(path, t, {"preset": "test"})
    u = trainer_from_checkpoint(checkpoint.load(path))
    assert u.G.latent_spec == t.G.latent_spec
    assert torch.equal(u.g_flat.data, t.g_flat.data) and torch.equal(u.d_flat.data, t.d_flat.data)
    for a, b in zip(t.D.q_head.state_dict().values(), u.D.q_head.state_dict().values()):
        assert torch.equal(a, b)
    again = trainer_from_checkpoint(checkpoint.load(path))
    assert torch.equal(u.sample(6, seed=2), again.sample(6, seed=2))

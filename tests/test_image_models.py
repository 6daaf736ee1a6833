"""DCGAN family: shapes for every size and channel count, conditioning, D's options, named layers."""

from __future__ import annotations

import pytest
import torch

from gan_core import models
from gan_core.models.dcgan import DCGANConfig, DCGANGenerator, d_widths, g_widths

torch.set_num_threads(1)
SMALL = {"g_base": 8, "d_base": 8, "z_dim": 16}


def build(**kw):
    torch.manual_seed(0)
    return models.build("dcgan", {**SMALL, **kw})


@pytest.mark.parametrize("size", [16, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_for_each_size_and_channels(size, channels):
    G, D, cfg = build(image_size=size, channels=channels)
    z = torch.randn(5, cfg.z_dim)
    x = G(z)
    assert x.shape == (5, channels, size, size)
    assert x.min() >= -1 and x.max() <= 1  # tanh output
    assert D(x).shape == (5, 1)
    assert G.latent_spec == models.LatentSpec(z_dim=16, noise="gaussian", n_classes=0)


@pytest.mark.parametrize("size", [16, 32, 64])
def test_feature_layers_names_and_shapes(size):
    G, _, cfg = build(image_size=size)
    layers = G.feature_layers()
    assert list(layers) == [f"block{i}" for i in range(cfg.n_up)]
    seen = {}
    hooks = [m.register_forward_hook(lambda m, i, o, n=n: seen.__setitem__(n, o.shape))
             for n, m in layers.items()]
    try:
        G(torch.randn(2, cfg.z_dim))
    finally:
        for h in hooks:
            h.remove()
    for i, width in enumerate(g_widths(cfg)):
        side = 4 * 2**i
        assert seen[f"block{i}"] == (2, width, side, side)
    assert 4 * 2 ** (cfg.n_up - 1) == size // 2


def test_conditional_labels_change_the_output_and_are_required():
    G, D, cfg = build(n_classes=10)
    assert G.latent_spec.n_classes == 10
    G.eval()
    z = torch.randn(1, cfg.z_dim).repeat(10, 1)  # the same z for every class
    x = G(z, torch.arange(10))
    assert x.shape == (10, 1, 32, 32)
    scale = x.abs().max()  # tiny at initialisation (weights ~ N(0, 0.02)), so compare relatively
    assert (x[1:] - x[0]).abs().amax(dim=(1, 2, 3)).min() > 1e-2 * scale  # every label gives another image
    D.eval()
    logits = D(x, torch.arange(10))
    assert logits.shape == (10, 1)
    assert not torch.allclose(D(x, torch.zeros(10, dtype=torch.long)), logits)  # D reads the label
    with pytest.raises(ValueError, match="conditional"):
        G(z)
    with pytest.raises(ValueError, match="conditional"):
        D(x)
    with pytest.raises(ValueError, match="int64"):
        G(z, torch.arange(10).float())
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        G(z, torch.full((10,), 10))
    G0, D0, _ = build()
    with pytest.raises(ValueError, match="unconditional"):
        G0(z, torch.arange(10))


def test_spectral_norm_and_minibatch_std_variants():
    _, D_plain, _ = build()
    _, D_sn, _ = build(spectral_norm=True)
    _, D_both, _ = build(spectral_norm=True, minibatch_std=True)
    x = torch.rand(8, 1, 32, 32) * 2 - 1
    for D in (D_plain, D_sn, D_both):
        D.eval()
        assert D(x).shape == (8, 1)
    assert not torch.allclose(D_plain(x), D_sn(x))  # same initial weights, divided by their spectral norms
    assert D_both.head.in_features == (d_widths(D_both.cfg)[-1] + 1) * 16  # one extra 4x4 feature map
    # the minibatch-std map makes a sample's logit depend on the other samples of its group
    y = x.clone()
    y[1:] = torch.rand(7, 1, 32, 32) * 2 - 1
    assert not torch.allclose(D_both(x)[0], D_both(y)[0])
    assert torch.allclose(D_sn(x)[0], D_sn(y)[0])
    assert D_both(x[:6]).shape == (6, 1) and D_both(x[:1]).shape == (1, 1)  # batches not divisible by 4


def test_one_training_step_reaches_every_parameter():
    G, D, cfg = build(n_classes=3, spectral_norm=True, minibatch_std=True, channels=3, image_size=16)
    c = torch.randint(0, 3, (4,))
    loss = D(G(torch.randn(4, cfg.z_dim), c), c).mean()
    loss.backward()
    for net in (G, D):
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


def test_config_round_trip_and_validation():
    cfg = DCGANConfig(image_size=64, channels=3, n_classes=4, spectral_norm=True)
    assert DCGANConfig.from_dict(cfg.to_dict()) == cfg
    for bad in ({"image_size": 48}, {"channels": 2}, {"noise": "cauchy"}, {"g_base": 0}, {"colour": 1}):
        with pytest.raises(ValueError, match=next(iter(bad))):  # the message names the bad key
            models.build("dcgan", bad)
    with pytest.raises(ValueError, match="z must have shape"):
        DCGANGenerator(DCGANConfig(**SMALL))(torch.randn(2, 3))
    _, D, _ = build()
    with pytest.raises(ValueError, match="images must have shape"):
        D(torch.zeros(2, 3, 32, 32))


def test_unit_dropout_zeroes_whole_4x4_units_in_training_only_and_trains_with_autograd():
    from gan_core.models.registry import get
    from gan_core.training import presets
    from gan_core.training.trainer import Trainer
    torch.manual_seed(0)
    G = DCGANGenerator(DCGANConfig(image_size=16, g_base=16, g_dropout=0.25))
    z = torch.randn(32, G.latent_spec.z_dim)
    seen = {}
    G.feature_layers()["block0"].register_forward_hook(lambda m, i, o: seen.update(out=o.detach().clone()))
    G.train()
    G(z)
    off = seen["out"].amax((2, 3)) == 0  # (B, units): a unit off over the whole 4x4 map of a sample
    plain = DCGANGenerator(DCGANConfig(image_size=16, g_base=16))
    plain.load_state_dict(G.state_dict())
    plain.train()
    plain.feature_layers()["block0"].register_forward_hook(lambda m, i, o: seen.update(plain=o.detach()))
    plain(z)
    lit = seen["plain"].amax((2, 3)) > 0
    share = float((off & lit).sum() / lit.sum())
    assert 0.15 < share < 0.35  # about g_dropout of the units that fire are dropped, each whole
    plain.load_state_dict(G.state_dict())  # the training passes moved BatchNorm's running statistics
    G.eval(), plain.eval()
    assert torch.equal(G(z), plain(z))  # sampling never drops
    for bad in (0.7, -0.1, "a", True):
        with pytest.raises(ValueError, match="g_dropout must be in"):
            DCGANConfig(g_dropout=bad)
    cfg = presets.get("scenes-dcgan").config
    assert get("dcgan").engine(cfg.loss, DCGANConfig.from_dict(cfg.model), "cpu", False) == "conv"
    drop = cfg.with_changes(["model.g_dropout=0.1", "batch_size=8"])
    assert Trainer(drop).engine == "autograd"


def test_pixel_norm_gives_every_pixel_unit_rms_features_and_absorbs_a_removed_units_strength():
    from gan_core.inspect import intervene
    from gan_core.models.registry import get
    from gan_core.training import presets
    from gan_core.training.trainer import Trainer
    torch.manual_seed(0)
    G = DCGANGenerator(DCGANConfig(image_size=16, g_base=16, g_pixelnorm=2)).eval()  # both blocks of 16 px
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in G.modules())
    z = torch.randn(8, G.latent_spec.z_dim)
    seen = {}
    for name, block in G.feature_layers().items():
        block.register_forward_hook(lambda m, i, o, name=name: seen.__setitem__(name, o.detach().clone()))
    G(z)
    for name, a in seen.items():
        rms = a.pow(2).mean(1).sqrt()  # (B, H, W)
        assert torch.allclose(rms, torch.ones_like(rms), atol=1e-4), name
    before = seen["block1"].clone()
    intervene.generate(G, z, "net.block0", intervene.ablate_edit(list(range(8))))  # an eighth of 64 units
    after = seen["block1"]
    assert not torch.allclose(after, before, atol=1e-3)  # what the next block draws changes...
    assert torch.allclose(after.pow(2).mean(1), torch.ones(after.shape[0], *after.shape[2:]), atol=1e-4)
    part = DCGANGenerator(DCGANConfig(image_size=32, g_base=8, g_pixelnorm=1))  # only the 4x4 block
    kinds = [[type(m).__name__ for m in b] for b in part.feature_layers().values()]
    assert "PixelNorm" in kinds[0] and "BatchNorm2d" not in kinds[0]
    assert all("BatchNorm2d" in k and "PixelNorm" not in k for k in kinds[1:])
    for bad in (True, 4, -1, 1.5, "2"):
        with pytest.raises(ValueError, match="g_pixelnorm must be a number of G's blocks, 0 to 3"):
            DCGANConfig(g_pixelnorm=bad)
    cfg = presets.get("scenes-dcgan").config.with_changes(["model.g_pixelnorm=2", "batch_size=8"])
    assert get("dcgan").engine(cfg.loss, DCGANConfig.from_dict(cfg.model), "cpu", False) == "autograd"
    assert Trainer(cfg).engine == "autograd"

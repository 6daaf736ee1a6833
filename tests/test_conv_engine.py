"""The hand-written discriminator passes (training/conv_engine.py) and G's few-channel last layer compute
what autograd computes through the stock modules."""

import copy

import pytest
import torch

from gan_core import losses, models
from gan_core.models.dcgan import ToImage
from gan_core.training import presets
from gan_core.training.conv_engine import DiscriminatorEngine, info_grads
from gan_core.models.params import FlatParams
from gan_core.training.trainer import Trainer


def close(a, b, tol=1e-5):
    return torch.allclose(a, b, rtol=tol, atol=tol * float(b.detach().abs().max().clamp_min(1e-12)))


@pytest.mark.parametrize("channels", [1, 3])
def test_to_image_equals_stock_transposed_convolution(channels):
    torch.manual_seed(0)
    ours = ToImage(16, channels, 4, 2, 1)
    stock = torch.nn.ConvTranspose2d(16, channels, 4, 2, 1)
    stock.load_state_dict(ours.state_dict())
    x = torch.randn(5, 16, 8, 8).contiguous(memory_format=torch.channels_last).requires_grad_()
    y1, y2 = ours(x), stock(x)
    assert y1.shape == y2.shape == (5, channels, 16, 16) and close(y1, y2)
    g = torch.randn_like(y1)
    a = torch.autograd.grad(y1, [x, ours.weight, ours.bias], g)
    b = torch.autograd.grad(y2, [x, stock.weight, stock.bias], g)
    assert all(close(p, q) for p, q in zip(a, b))
    assert type(models.build("dcgan", {"image_size": 16})[0].net.to_image.conv) is ToImage


def _pair(model: dict, batch: int = 6, seed: int = 0):
    """A discriminator with the engine over its flat parameters, and a stock copy with the same state."""
    _, D, cfg = models.build("dcgan", model)
    torch.manual_seed(seed)
    with torch.no_grad():  # weights and biases away from their initial zeros
        for p in D.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    D = D.to(memory_format=torch.channels_last)
    ref = copy.deepcopy(D)
    flat = FlatParams(D)
    x = torch.randn(batch, cfg.channels, cfg.image_size, cfg.image_size)
    c = torch.arange(batch) % cfg.n_classes if cfg.n_classes else None
    return DiscriminatorEngine(D, flat), D, ref, flat, x, c, cfg


MODELS = {
    "sn+q": {"image_size": 16, "g_base": 8, "d_base": 8, "z_dim": 8, "d_batchnorm": False, "spectral_norm": True,
             "n_cat": 3, "n_cont": 2},
    "plain": {"image_size": 32, "channels": 3, "d_base": 8, "d_batchnorm": False},
    "conditional": {"image_size": 16, "d_base": 8, "d_batchnorm": False, "n_classes": 4, "spectral_norm": True},
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_engine_weight_gradients_equal_autograd(name):
    eng, D, ref, flat, x, c, cfg = _pair(MODELS[name])
    q_from = 2 if D.q_head is not None else None
    out, q, state = eng.forward(x, c, q_from)
    # reference: the stock module (its parametrisation runs the same power iteration on the same u, v)
    if D.q_head is not None:
        r_out, r_q = ref.forward_with_q(x, c)
        r_q = r_q[q_from:]
    else:
        r_out, r_q = (ref(x, c) if c is not None else ref(x)), None
    assert close(out, r_out)
    for (a, b) in zip(D.buffers(), ref.buffers()):  # the power iteration moved u and v alike
        assert close(a, b)
    g_out = torch.randn_like(out)
    g_q = torch.randn_like(q) if q is not None else None
    loss = (r_out * g_out).sum() + ((r_q * g_q).sum() if r_q is not None else 0)
    want = torch.autograd.grad(loss, list(ref.parameters()))
    assert eng.backward(state, g_out, g_q, weights=True, inputs=False) is None
    for w, g in zip(want, flat.grad_views):
        assert close(g, w, 1e-4), name
    assert flat.grad.abs().sum() > 0


@pytest.mark.parametrize("name", sorted(MODELS))
def test_engine_input_gradient_equals_autograd(name):
    eng, D, ref, flat, x, c, cfg = _pair(MODELS[name], seed=1)
    flat.grad.fill_(7.0)
    q_from = 0 if D.q_head is not None else None
    out, q, state = eng.forward(x, c, q_from)
    xr = x.clone().requires_grad_()
    r_out, r_q = ref.forward_with_q(xr, c) if D.q_head is not None else ((ref(xr, c) if c is not None else ref(xr)), None)
    g_out, g_q = torch.randn_like(out), (torch.randn_like(q) if q is not None else None)
    loss = (r_out * g_out).sum() + ((r_q * g_q).sum() if r_q is not None else 0)
    (want,) = torch.autograd.grad(loss, [xr])
    got = eng.backward(state, g_out, g_q, weights=False, inputs=True)
    assert got.shape == x.shape and close(got, want, 1e-4)
    assert bool((flat.grad == 7.0).all())  # D's gradient buffer untouched by an input-only pass


def test_info_grads_match_the_info_loss():
    spec = models.build("dcgan", MODELS["sn+q"])[0].latent_spec
    z = models.sample_latent(spec, 9, torch.Generator().manual_seed(0))
    q = torch.randn(9, 7, requires_grad=True)  # 3 category logits, 2 means, 2 log-variances
    want_loss = losses.info_loss(q, *models.split_codes(spec, z))
    (want,) = torch.autograd.grad(want_loss, [q])
    loss, g = info_grads(q.detach(), spec, z)
    assert close(loss, want_loss.detach()) and close(g, want)


def test_trainer_uses_the_engine_only_where_it_applies_and_steps_as_autograd_does():
    cfg = presets.get("digits-dcgan").config.replace(batch_size=16, g_ema=0.0)
    t = Trainer(cfg)
    assert t.engine == "conv-engine"
    assert Trainer(cfg.replace(loss="wgan-gp")).engine == "autograd"  # second derivatives: autograd
    assert Trainer(cfg.replace(model={**cfg.model, "d_batchnorm": True})).engine == "autograd"
    a = Trainer(cfg)
    a.use_engine("autograd")  # the same trainer through autograd
    out_t, out_a = t.step(), a.step()  # one round from the same state: D's update, then G's through it
    for ours, want in ((t.d_flat.grad, a.d_flat.grad), (t.g_flat.grad, a.g_flat.grad)):
        assert float((ours - want).norm() / want.norm()) < 1e-5
    assert abs(out_t["d_loss"] - out_a["d_loss"]) < 1e-5 and abs(out_t["g_loss"] - out_a["g_loss"]) < 1e-5
    assert t.engine == "conv-engine" and a.engine == "autograd"
    assert not torch.equal(t.d_flat.data, Trainer(cfg).d_flat.data)  # and it did train


def test_engine_refuses_discriminators_it_does_not_cover():
    for model in ({"d_batchnorm": True}, {"d_batchnorm": False, "minibatch_std": True}):
        _, D, _ = models.build("dcgan", {"image_size": 16, **model})
        with pytest.raises(ValueError, match="engine needs a discriminator without BatchNorm"):
            DiscriminatorEngine(D, FlatParams(D))


G_MODELS = {
    "digits": {"image_size": 16, "g_base": 8, "z_dim": 8, "n_cat": 3, "n_cont": 1},
    "no-bn": {"image_size": 16, "g_base": 8, "z_dim": 8, "g_batchnorm": False},
    "conditional-rgb64": {"image_size": 64, "channels": 3, "g_base": 8, "z_dim": 8, "n_classes": 4},
}


@pytest.mark.parametrize("name", sorted(G_MODELS))
def test_generator_engine_equals_the_module_under_autograd(name):
    from gan_core.training.conv_engine import GeneratorEngine

    G, _, cfg = models.build("dcgan", G_MODELS[name])
    G = G.to(memory_format=torch.channels_last)
    with torch.no_grad():
        for p in G.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    ref = copy.deepcopy(G)
    flat = FlatParams(G)
    z = models.sample_latent(G.latent_spec, 6, torch.Generator().manual_seed(0))
    c = torch.arange(6) % cfg.n_classes if cfg.n_classes else None
    eng = GeneratorEngine(G, flat)
    for _ in range(2):  # twice: BatchNorm's running averages move alike
        x, state = eng.forward(z, c)
        want = ref(z, c)
        assert x.shape == want.shape and close(x, want)
        for a, b in zip(G.buffers(), ref.buffers()):
            assert close(a.float(), b.float()), name
    g_x = torch.randn_like(x)
    eng.backward(state, g_x)
    grads = torch.autograd.grad(want, list(ref.parameters()), g_x)
    for g, view in zip(grads, flat.grad_views):
        assert close(view, g, 1e-4), name
    assert flat.grad.abs().sum() > 0


def test_freed_memory_is_kept_once_per_process():
    import platform

    from gan_core import device

    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert device.keep_freed_memory() is True
    assert device.keep_freed_memory() is device.keep_freed_memory()  # set once, then remembered
    n = torch.get_num_threads()
    assert device.set_threads(n) == n and device._kept is not None

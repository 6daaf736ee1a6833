"""Losses against hand-computed values, and the closed-form logit gradients against autograd."""

import math

import pytest
import torch

from gan_core import losses

LN2 = math.log(2)


@pytest.mark.parametrize("name,real,fake,d_expected,g_expected", [
    ("nonsaturating", 0.0, 0.0, 2 * LN2, LN2),
    ("minimax", 0.0, 0.0, 2 * LN2, -LN2),
    ("lsgan", 0.0, 0.0, 0.5, 0.5),
    ("lsgan", 1.0, 1.0, 0.5, 0.0),
    ("wgan", 2.0, -1.0, -3.0, 1.0),
    ("wgan-gp", 0.5, 0.25, -0.25, -0.25),
    ("hinge", 0.0, 0.0, 2.0, 0.0),
    ("hinge", 2.0, -3.0, 0.0, 3.0),
    ("hinge", 0.5, 0.5, 0.5 + 1.5, -0.5),
])
def test_loss_values(name, real, fake, d_expected, g_expected):
    r, f = torch.full((4, 1), real), torch.full((4, 1), fake)
    assert losses.d_loss(name, r, f).item() == pytest.approx(d_expected, abs=1e-6)
    assert losses.g_loss(name, f).item() == pytest.approx(g_expected, abs=1e-6)


def test_nonsaturating_value_at_known_logit():
    # -log sigmoid(1) = log(1 + e^-1)
    assert losses.g_loss("nonsaturating", torch.tensor([[1.0]])).item() == pytest.approx(math.log1p(math.exp(-1)))


def test_minimax_saturates_where_nonsaturating_does_not():
    # D confidently rejects fakes (logit -8): the minimax gradient nearly vanishes, the NS one does not.
    f = torch.full((1, 1), -8.0, requires_grad=True)
    (gm,) = torch.autograd.grad(losses.g_loss("minimax", f), f)
    (gn,) = torch.autograd.grad(losses.g_loss("nonsaturating", f), f)
    assert abs(gm.item()) < 1e-3 < abs(gn.item())


@pytest.mark.parametrize("name", losses.LOSSES)
def test_closed_form_grads_match_autograd(name):
    g = torch.Generator().manual_seed(0)
    r = (torch.randn(16, 1, generator=g) * 2).requires_grad_(True)
    f = (torch.randn(16, 1, generator=g) * 2).requires_grad_(True)
    ar, af = torch.autograd.grad(losses.d_loss(name, r, f), (r, f))
    cr, cf = losses.d_grads(name, r.detach(), f.detach())
    assert torch.allclose(ar, cr, atol=1e-7) and torch.allclose(af, cf, atol=1e-7)
    (ag,) = torch.autograd.grad(losses.g_loss(name, f), f)
    assert torch.allclose(ag, losses.g_grads(name, f.detach()), atol=1e-7)


def test_gradient_penalty_zero_for_unit_slope_critic():
    # D(x) = x . w with |w| = 1 has gradient norm exactly 1 everywhere: penalty 0.
    lin = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[0.6, 0.8]]))
    real, fake = torch.randn(32, 2), torch.randn(32, 2)
    assert losses.gradient_penalty(lin, real, fake).item() == pytest.approx(0.0, abs=1e-10)
    with torch.no_grad():
        lin.weight.mul_(2)  # norm 2: penalty 10 * (2 - 1)^2 = 10
    assert losses.gradient_penalty(lin, real, fake).item() == pytest.approx(10.0, rel=1e-5)


def test_unknown_loss_is_refused():
    with pytest.raises(ValueError, match="unknown loss"):
        losses.check("wasserstein-ish")


def test_r1_penalty_of_a_linear_critic_is_half_gamma_times_its_squared_slope():
    # D(x) = x . w + b has gradient w everywhere: R1 = gamma / 2 * |w|^2, whatever the samples
    lin = torch.nn.Linear(3, 1)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0, -2.0, 2.0]]))
    real = torch.randn(16, 3)
    assert losses.r1_penalty(lin, real, gamma=0.5).item() == pytest.approx(0.25 * 9.0, rel=1e-6)
    assert not real.requires_grad  # the caller's batch is left alone
    (g,) = torch.autograd.grad(losses.r1_penalty(lin, real, gamma=2.0), lin.weight)
    assert torch.allclose(g, 2.0 * lin.weight.detach())  # d/dw (|w|^2) = 2 w: it reaches D's weights


def test_path_lengths_are_the_norm_of_the_jacobian_transpose_times_noise():
    """||J_w^T y|| with y Gaussian noise / sqrt(pixels), averaged over the ws' layers as StyleGAN2 does,
    against the Jacobian computed in full."""
    from gan_core import models

    torch.manual_seed(0)
    G = models.build("style", {"image_size": 16, "channels": 1, "g_base": 4, "g_max": 8, "z_dim": 4,
                               "w_dim": 4, "mapping_layers": 1})[0].eval()
    ws = G.mapping(torch.randn(3, 4)).detach()
    got = losses.path_lengths(G, ws, torch.Generator().manual_seed(5))
    y = torch.randn((3, 1, 16, 16), generator=torch.Generator().manual_seed(5)) / 16.0
    for i in range(3):
        jac = torch.autograd.functional.jacobian(lambda w: G.synthesis(w[None], "const")[0], ws[i])
        jty = torch.einsum("chw,chwlk->lk", y[i], jac)  # (num_ws, w_dim)
        want = jty.square().sum(1).mean().sqrt()
        assert got[i].item() == pytest.approx(want.item(), rel=1e-4)
    assert got.requires_grad  # differentiable in G's weights

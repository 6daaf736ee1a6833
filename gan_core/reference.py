"""A plain, textbook PyTorch GAN loop (as in PyTorch's DCGAN example), used as the benchmark reference.

Same networks, batch, loss and optimiser as the trainer; ordinary autograd, `torch.optim.Adam`,
`zero_grad()`/`backward()`/`step()`, fresh samples drawn each step. The networks are built by the same
code with the same weights, and run as stock `torch.nn` layers: the few-channel transposed convolution
that ends the project's DCGAN generator (`models.dcgan.ToImage`) runs as the `nn.ConvTranspose2d` it is.
"""

from __future__ import annotations

import time

import torch

from . import losses, models
from .training.config import TrainConfig


class PlainImages:
    """Images as a textbook loop holds them: one contiguous NCHW tensor, random minibatches."""

    def __init__(self, dataset):
        self.images = dataset.images.contiguous()
        self.labels = dataset.labels

    def sample(self, n: int):
        idx = torch.randint(len(self.images), (n,))
        return self.images[idx], (None if self.labels is None else self.labels[idx])


def _build(cfg: TrainConfig, device: str):
    """The networks (seeded, stock layers) and their Adam optimisers: (G, D, opt_g, opt_d)."""
    torch.manual_seed(cfg.seed)
    G, D, _ = models.build(cfg.family, cfg.model)
    G, D = G.to(device), D.to(device)
    for m in G.modules():  # stock layers, as a textbook loop has them
        if isinstance(m, torch.nn.ConvTranspose2d):
            m.__class__ = torch.nn.ConvTranspose2d
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2))
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2))
    return G, D, opt_g, opt_d


def _d_step(cfg: TrainConfig, G, D, opt_d, data, batch: int, device: str):
    """One discriminator update on fresh real and fake samples; returns (fake, fake_c, z) for the G step
    (fake_c is None unless the model is conditional)."""
    spec = G.latent_spec
    k = spec.n_classes
    real = data.sample(batch)
    real, real_c = real if isinstance(real, tuple) else (real, None)
    real = real.to(device)
    z = models.sample_latent(spec, batch, device=device)
    info, fake_c = None, None
    if k:  # conditional: real labels for real images, random labels for fakes
        fake_c = torch.randint(k, (batch,), device=device)
        fake = G(z, fake_c)
        out_real, out_fake = D(real, real_c.to(device)), D(fake.detach(), fake_c)
    elif spec.has_codes:  # InfoGAN: Q reads the codes back from the fakes
        fake = G(z)
        out_real, (out_fake, q) = D(real), D.forward_with_q(fake.detach())
        info = losses.info_loss(q, *models.split_codes(spec, z))
    else:
        fake = G(z)
        out_real, out_fake = D(real), D(fake.detach())
    opt_d.zero_grad()
    loss_d = losses.d_loss(cfg.loss, out_real, out_fake)
    if info is not None:
        loss_d = loss_d + info
    loss_d.backward()
    opt_d.step()
    return fake, fake_c, z


def _g_step(cfg: TrainConfig, G, D, opt_g, fake, fake_c, z) -> None:
    """One generator update through the last discriminator step's fakes."""
    spec = G.latent_spec
    opt_g.zero_grad()
    if spec.has_codes:
        out, q = D.forward_with_q(fake)
        loss_g = losses.g_loss(cfg.loss, out) + losses.info_loss(q, *models.split_codes(spec, z))
    else:
        loss_g = losses.g_loss(cfg.loss, D(fake, fake_c) if spec.n_classes else D(fake))
    loss_g.backward()
    opt_g.step()


def plain_loop(cfg: TrainConfig, data, steps: int, device: str = "cpu", count_flops: bool = False) -> float:
    """Train `steps` rounds the textbook way; returns steps per second (with `count_flops`, the
    floating-point operations of one round instead, counted by torch's FlopCounterMode)."""
    G, D, opt_g, opt_d = _build(cfg, device)
    pack = getattr(D, "pack", 1)
    batch = max(pack, cfg.batch_size // pack * pack)
    if count_flops:
        from torch.utils.flop_counter import FlopCounterMode

        steps = 1
        counter = FlopCounterMode(display=False)
        counter.__enter__()
    t0 = time.perf_counter()
    for _ in range(steps):
        for _ in range(cfg.d_steps):
            fake, fake_c, z = _d_step(cfg, G, D, opt_d, data, batch, device)
        _g_step(cfg, G, D, opt_g, fake, fake_c, z)
    if count_flops:
        counter.__exit__(None, None, None)
        return float(counter.get_total_flops())
    return steps / (time.perf_counter() - t0)

"""DCGAN generator and discriminator for small images (Radford et al. 2016), with optional extras.

The generator maps z through a linear layer to a 4x4 map, then doubles the resolution with strided
transposed convolutions + BatchNorm + ReLU and ends in a tanh; the discriminator mirrors it with strided
convolutions + BatchNorm + LeakyReLU(0.2), no pooling, and a linear head on the 4x4 map. Options:

- `n_classes > 0`: a conditional GAN (Mirza & Osindero 2014). G sees z joined to a one-hot label; D sees
  the image joined to `n_classes` constant feature planes (the one-hot label broadcast over pixels).
- `spectral_norm`: spectral normalisation of D's convolutions and linear head (Miyato et al. 2018).
- `minibatch_std`: a minibatch-standard-deviation feature map before D's head (Karras et al. 2018,
  ProGAN), in groups of up to 4 samples, which lets D notice a batch with too little variety.
- `n_cat`, `n_cont`: InfoGAN codes (Chen et al. 2016). G's latent ends in a one-hot categorical code and
  continuous codes; a small head Q on D's features predicts them back from the image (category logits;
  a Gaussian with learned mean and log-variance per continuous code), and the trainer
  adds Q's error (a lower bound on the mutual information between codes and images) to both players'
  losses. No labels are used, yet on digits most categories come to hold one digit or two look-alikes:
  G's input space is split into regions instead of one continuous blob with blends between digits.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .base import ConfigMixin, LatentSpec
from .contract import OutputSpec

IMAGE_SIZES = (16, 32, 64)
CHANNELS = (1, 3)
MBSTD_GROUP = 4  # ProGAN's minibatch-std group size


@dataclass
class DCGANConfig(ConfigMixin):
    z_dim: int = 64  # noise dimensions
    noise: str = "gaussian"  # 'gaussian' or 'uniform' in [-1, 1]
    image_size: int = 32  # image side in pixels: 16, 32 or 64
    channels: int = 1  # image channels: 1 (grey) or 3 (RGB)
    g_base: int = 32  # generator width multiplier: its 4x4 map has 4 * g_base channels (64 = DCGAN paper)
    d_base: int = 32  # discriminator width multiplier: its first layer has d_base channels
    n_classes: int = 0  # > 0 makes a conditional GAN over that many classes (labels 0..n_classes-1)
    spectral_norm: bool = False  # spectral normalisation on D's convolutions and linear head
    minibatch_std: bool = False  # ProGAN's minibatch-std feature map before D's head
    d_batchnorm: bool = True  # BatchNorm in D's inner layers (turn off for per-sample losses such as WGAN-GP)
    g_batchnorm: bool = True  # BatchNorm in G (the DCGAN paper found G collapses to one point without it)
    n_cat: int = 0  # InfoGAN categorical code: number of categories (0 = none)
    n_cont: int = 0  # InfoGAN continuous codes, each uniform in [-1, 1]
    g_dropout: float = 0.0  # training only: share of G's 4x4 units zeroed per sample (none indispensable)
    g_pixelnorm: int = 0  # ProGAN's pixelwise feature normalisation instead of BatchNorm in G's first this many blocks

    def __post_init__(self):
        if self.image_size not in IMAGE_SIZES:
            raise ValueError(f"image_size must be one of {IMAGE_SIZES}, got {self.image_size}")
        if self.channels not in CHANNELS:
            raise ValueError(f"channels must be one of {CHANNELS}, got {self.channels}")
        if self.noise not in ("gaussian", "uniform"):
            raise ValueError(f"noise must be 'gaussian' or 'uniform', got {self.noise!r}")
        limits = (("z_dim", 1, 1024), ("g_base", 4, 512), ("d_base", 4, 512), ("n_classes", 0, 1000),
                  ("n_cat", 0, 100), ("n_cont", 0, 16))
        if isinstance(self.g_pixelnorm, bool) or not isinstance(self.g_pixelnorm, int) \
                or not 0 <= self.g_pixelnorm <= self.n_up:
            raise ValueError(f"g_pixelnorm must be a number of G's blocks, 0 to {self.n_up}, "
                             f"got {str(self.g_pixelnorm)[:40]!r}")
        if isinstance(self.g_dropout, bool) or not isinstance(self.g_dropout, (int, float)) \
                or not (0 <= self.g_dropout <= 0.5):
            raise ValueError(f"g_dropout must be in [0, 0.5], got {self.g_dropout}")
        for name, lo, hi in limits:
            v = getattr(self, name)
            if not (lo <= int(v) <= hi):
                raise ValueError(f"{name} must be between {lo} and {hi}, got {v}")

    @property
    def n_up(self) -> int:
        """Resolution doublings from 4x4 to the image: 2 (16 px), 3 (32 px), 4 (64 px)."""
        return self.image_size.bit_length() - 3


def _init_dcgan(module: nn.Module) -> None:
    """DCGAN initialisation: weights ~ N(0, 0.02), BatchNorm scales ~ N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def check_labels(c: torch.Tensor | None, n_classes: int, batch: int, who: str) -> None:
    """Raise ValueError unless c is int64 labels (batch,) in [0, n_classes), given iff n_classes > 0."""
    if n_classes == 0:
        if c is not None:
            raise ValueError(f"{who} is unconditional (n_classes=0) but class labels were given")
        return
    if c is None:
        raise ValueError(f"{who} is conditional (n_classes={n_classes}): "
                         f"pass class labels c of shape ({batch},)")
    if c.dtype != torch.int64 or tuple(c.shape) != (batch,):
        raise ValueError(f"{who}: c must be int64 labels of shape ({batch},), got {c.dtype} {tuple(c.shape)}")
    if batch and (int(c.min()) < 0 or int(c.max()) >= n_classes):
        raise ValueError(f"{who}: labels must be in [0, {n_classes}), got [{int(c.min())}, {int(c.max())}]")


class _SlowConvTranspose(torch.autograd.Function):
    """conv_transpose2d through PyTorch's own im2col kernel (`slow_conv_transpose2d`); backward as usual."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding):
        ctx.save_for_backward(x, weight)
        ctx.conf = (stride, padding, bias is not None)
        return torch._C._nn.slow_conv_transpose2d(x, weight, weight.shape[2:], bias, stride, padding)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        stride, padding, has_bias = ctx.conf
        need = ctx.needs_input_grad
        gx, gw, gb = torch.ops.aten.convolution_backward(
            grad, x, weight, [weight.shape[1]] if has_bias else None, stride, padding, [1, 1], True, [0, 0], 1,
            [need[0], need[1], has_bias and need[2]])
        return gx, gw, gb, None, None


class ToImage(nn.ConvTranspose2d):
    """G's last layer: a transposed convolution to the image's 1 or 3 channels.

    On CPU, oneDNN computes a convolution with so few output channels slowly (on the 2-core test machine
    0.7 ms for G's 16x16 digits at batch 64, 8 MFLOP); PyTorch's im2col kernel takes 0.23 ms. Same
    parameters, same values up to float rounding; elsewhere (CUDA) the stock path."""

    def forward(self, x: torch.Tensor, output_size=None) -> torch.Tensor:
        if x.device.type != "cpu" or output_size is not None or tuple(self.output_padding) != (0, 0):
            return super().forward(x, output_size)
        return _SlowConvTranspose.apply(x, self.weight, self.bias, list(self.stride), list(self.padding))


def g_widths(cfg: DCGANConfig) -> list[int]:
    """Channels of G's feature maps at 4x4, 8x8, ... up to image_size/2 (halving, at least g_base // 2)."""
    return [max(cfg.g_base * 4 >> i, cfg.g_base // 2) for i in range(cfg.n_up)]


def d_widths(cfg: DCGANConfig) -> list[int]:
    """Channels of D's feature maps at image_size/2, ..., 4x4 (doubling, at most 8 * d_base)."""
    return [min(cfg.d_base << i, cfg.d_base * 8) for i in range(cfg.n_up)]


class PixelNorm(nn.Module):
    """ProGAN's pixelwise feature normalisation: each pixel's feature vector scaled to unit root mean square.
    The next layer then sees features of the same size whichever units fire, so removing a few units
    (an ablation) changes what it draws, not how strongly."""

    def __init__(self, eps: float = 1e-8):
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(1, keepdim=True) + self.eps)


class DCGANGenerator(nn.Module):
    """G(z, c=None): (B, z_dim) [+ labels (B,)] -> images (B, channels, S, S) in [-1, 1]."""

    def __init__(self, cfg: DCGANConfig):
        super().__init__()
        self.cfg = cfg
        codes = cfg.n_cat + cfg.n_cont
        self.latent_spec = LatentSpec(z_dim=cfg.z_dim + codes, noise=cfg.noise, n_classes=cfg.n_classes,
                                      n_cat=cfg.n_cat, n_cont=cfg.n_cont)
        self.output_spec = OutputSpec("image", cfg.channels, cfg.image_size)
        widths = g_widths(cfg)
        blocks: list[tuple[str, nn.Module]] = [("block0", nn.Sequential(OrderedDict([
            ("fc", nn.Linear(cfg.z_dim + codes + cfg.n_classes, widths[0] * 16, bias=cfg.g_pixelnorm > 0)),
            ("unflatten", nn.Unflatten(1, (widths[0], 4, 4))),
            ("bn", nn.BatchNorm2d(widths[0]) if cfg.g_batchnorm and cfg.g_pixelnorm < 1 else nn.Identity()),
            ("act", nn.ReLU(inplace=True)),
            *([("pnorm", PixelNorm())] if cfg.g_pixelnorm >= 1 else []),
            *([("drop", nn.Dropout2d(cfg.g_dropout))] if cfg.g_dropout else []),
        ])))]
        for i in range(1, len(widths)):
            blocks.append((f"block{i}", nn.Sequential(OrderedDict([
                ("conv", nn.ConvTranspose2d(widths[i - 1], widths[i], 4, 2, 1, bias=cfg.g_pixelnorm > i)),
                ("bn", nn.BatchNorm2d(widths[i]) if cfg.g_batchnorm and cfg.g_pixelnorm <= i else nn.Identity()),
                ("act", nn.ReLU(inplace=True)),
                *([("pnorm", PixelNorm())] if cfg.g_pixelnorm > i else []),
            ]))))
        blocks.append(("to_image", nn.Sequential(OrderedDict([
            ("conv", ToImage(widths[-1], cfg.channels, 4, 2, 1)),
            ("tanh", nn.Tanh()),
        ]))))
        self.net = nn.Sequential(OrderedDict(blocks))
        _init_dcgan(self)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        cfg = self.cfg
        width = self.latent_spec.z_dim
        if z.ndim != 2 or z.shape[1] != width:
            raise ValueError(f"z must have shape (B, {width}), got {tuple(z.shape)}")
        check_labels(c, cfg.n_classes, len(z), "DCGANGenerator")
        if cfg.n_classes:
            z = torch.cat([z, F.one_hot(c, cfg.n_classes).to(z.dtype)], 1)  # (B, z_dim + n_classes)
        x = self.net(z)  # (B, C, S, S)
        assert x.shape[1:] == (cfg.channels, cfg.image_size, cfg.image_size), x.shape
        return x

    def feature_layers(self) -> "OrderedDict[str, nn.Module]":
        """Intermediate blocks by name: block0 (4x4), block1 (8x8), ... up to image_size/2."""
        return OrderedDict((n, m) for n, m in self.net.named_children() if n.startswith("block"))


class MinibatchStd(nn.Module):
    """Append one feature map: the mean standard deviation of features within groups of samples (ProGAN)."""

    def __init__(self, group_size: int = MBSTD_GROUP):
        super().__init__()
        self.group_size = group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, ch, h, w = x.shape  # (B, C, H, W)
        g = max(d for d in range(1, min(self.group_size, b) + 1) if b % d == 0)  # largest divisor <= 4
        y = x.reshape(g, b // g, ch, h, w)  # sample i belongs to group i % (B // g)
        y = (y.var(0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # (B // g,)
        y = y.reshape(-1, 1, 1, 1).repeat(g, 1, h, w)  # (B, 1, H, W)
        return torch.cat([x, y], 1)  # (B, C + 1, H, W)


class DCGANDiscriminator(nn.Module):
    """D(x, c=None): images (B, channels, S, S) [+ labels (B,)] -> logits (B, 1)."""

    def __init__(self, cfg: DCGANConfig):
        super().__init__()
        self.cfg = cfg
        widths = d_widths(cfg)
        layers: list[tuple[str, nn.Module]] = []
        width = cfg.channels + cfg.n_classes
        for i, out in enumerate(widths):
            norm = i > 0 and cfg.d_batchnorm
            block = [("conv", nn.Conv2d(width, out, 4, 2, 1, bias=not norm))]
            if norm:
                block.append(("bn", nn.BatchNorm2d(out)))
            block.append(("act", nn.LeakyReLU(0.2)))
            layers.append((f"block{i}", nn.Sequential(OrderedDict(block))))
            width = out
        if cfg.minibatch_std:
            layers.append(("mbstd", MinibatchStd()))
            width += 1
        layers.append(("flatten", nn.Flatten()))
        self.features = nn.Sequential(OrderedDict(layers))
        self.head = nn.Linear(width * 16, 1)
        n_codes = cfg.n_cat + 2 * cfg.n_cont  # category logits, then a mean and a log-variance per continuous code
        self.q_head = nn.Sequential(OrderedDict([  # InfoGAN's Q: codes back from D's features
            ("fc", nn.Linear(width * 16, 128)), ("act", nn.LeakyReLU(0.2)), ("out", nn.Linear(128, n_codes)),
        ])) if n_codes else None
        _init_dcgan(self)
        if cfg.spectral_norm:  # after initialisation: the parametrised weight is computed, not stored
            for m in [*self.features.modules(), self.head]:  # not Q: it is a classifier, not a critic
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.utils.parametrizations.spectral_norm(m)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self._features(x, c))  # (B, 1)

    def forward_with_q(self, x: torch.Tensor, c: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits (B, 1), Q's code predictions (B, n_cat + 2 n_cont)) from one pass; needs InfoGAN codes.

        Q's columns: n_cat category logits, then n_cont means and n_cont log-variances of a Gaussian over
        each continuous code (a factored Gaussian Q with learned variance, as the InfoGAN paper)."""
        if self.q_head is None:
            raise ValueError("this discriminator has no Q head (n_cat = n_cont = 0)")
        h = self._features(x, c)
        return self.head(h), self.q_head(h)

    def _features(self, x: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        cfg = self.cfg
        if x.ndim != 4 or x.shape[1:] != (cfg.channels, cfg.image_size, cfg.image_size):
            raise ValueError(f"images must have shape (B, {cfg.channels}, {cfg.image_size}, "
                             f"{cfg.image_size}), got {tuple(x.shape)}")
        check_labels(c, cfg.n_classes, len(x), "DCGANDiscriminator")
        if cfg.n_classes:
            planes = F.one_hot(c, cfg.n_classes).to(x.dtype)[:, :, None, None]  # (B, K, 1, 1)
            x = torch.cat([x, planes.expand(-1, -1, *x.shape[2:])], 1)  # (B, C + K, S, S)
        return self.features(x)  # (B, F)

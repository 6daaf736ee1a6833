"""A small style-based generator (StyleGAN, Karras et al. 2019; layers as in StyleGAN2, Karras et al. 2020).

G = synthesis(mapping(z)):

- mapping f: Z -> W: z normalised to unit mean square (pixel norm), then `mapping_layers` fully connected
  layers with leaky ReLU. Its learning rate is `mapping_lr_mul` (0.01, as in the paper) times the
  synthesis network's: every layer keeps equalised learning rates (weights stored as N(0, 1) / lr_mul and
  scaled at run time by lr_mul / sqrt(fan_in)), so one Adam step moves the mapping net's effective weights
  lr_mul times as far. The trainer's one optimiser needs nothing special.
- synthesis: a learned constant 4x4 map, then two styled 3x3 convolutions per resolution (4x4, 8x8, ... up
  to the image size; the first of each doubling upsamples bilinearly), so `num_ws` = 2 x resolutions
  (8 at 32x32). Each convolution has its own learned affine transform "A" from its w to per-input-channel
  styles, per-pixel noise scaled by learned per-channel factors "B", a bias and leaky ReLU. Each
  resolution adds its RGB output to the upsampled image so far (the skip architecture), drawn by a 1x1
  modulated convolution with the resolution's second w; the sum ends in tanh (images in [-1, 1]).
  `architecture='orig'` keeps only the last resolution's RGB layer (StyleGAN's own layout, StyleGAN2's
  'orig'): then the coarse and middle styles shape features and only the finest styles say how features
  turn into colour, so a fine crossover carries the colour (docs/figures.md measures both layouts).

**Modulation and demodulation, not AdaIN.** A style scales the convolution's input channels, and the
output channels are divided by the norm the modulated weights would give unit-variance inputs (StyleGAN2's
weight demodulation). It injects a style at every layer and wipes the previous layer's scale as AdaIN
does (so each w still controls only its layer), but it normalises by the expected statistics instead of
the measured ones of each feature map: StyleGAN2 traced AdaIN's water-droplet artefacts to G hiding a
strong spike in one spot to beat the per-map normalisation, and demodulation removes that incentive.
Computed as input scaling, one shared convolution and output scaling (the "non-fused" form), it costs a
plain convolution on CPU, with no grouped per-sample kernels.

Noise: 'random' (fresh per-pixel noise, during training), 'const' (a fixed noise map per layer, drawn
from `noise_seed`, so a w gives one image; the default in eval mode) or 'none' (noise off). Noise enters the
convolutions from `noise_min_res` on (4: all of them, as in the paper); starting it at 16 keeps it out of
the layers that place and shape things, so that it can only add detail.

Training extras inside G: with probability `mixing_prob` (0.9, as in the paper) a training batch is drawn
with style-mixing regularisation: the w of another latent of the batch (z rolled by one) takes over from
a random crossover layer on, so neighbouring styles cannot rely on each other. `w_avg`, the running mean of
w (decay `w_avg_beta`), is tracked in training mode as the truncation centre. Both use the module's own
random stream, seeded when the module is built (under the trainer's seed), so runs repeat. `w_avg` is a
parameter that never gets a gradient (the optimiser leaves it alone) so it travels in the trainer's flat
weight snapshots with everything else.

The discriminator is the DCGAN discriminator (`dcgan.DCGANDiscriminator`) with spectral normalisation
and no BatchNorm: each sample is judged alone.
"""

from __future__ import annotations

import copy
import math
from collections import OrderedDict
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .base import ConfigMixin, LatentSpec
from .contract import OutputSpec
from .dcgan import DCGANConfig, DCGANDiscriminator

IMAGE_SIZES = (16, 32, 64)
CHANNELS = (1, 3)
NOISE_MODES = ("random", "const", "none")
ARCHITECTURES = ("skip", "orig")  # where RGB is drawn: at every resolution, or only at the last
LRELU_GAIN = math.sqrt(2.0)


@dataclass
class StyleConfig(ConfigMixin):
    z_dim: int = 64  # latent size
    w_dim: int = 64  # size of w (the intermediate latent) and of the mapping network's layers
    mapping_layers: int = 4  # fully connected layers of the mapping network (8 in the paper)
    mapping_lr_mul: float = 0.01  # the mapping network's learning rate relative to the synthesis network's
    image_size: int = 32  # image side in pixels: 16, 32 or 64
    channels: int = 3  # image channels: 1 (grey) or 3 (RGB)
    g_base: int = 16  # synthesis channels at the image size; doubling at each halving up to g_max
    g_max: int = 64  # most synthesis channels at any resolution
    d_base: int = 32  # discriminator width multiplier (the DCGAN discriminator's first layer)
    mixing_prob: float = 0.9  # share of training batches with style-mixing regularisation
    w_avg_beta: float = 0.995  # decay of the running mean of w tracked during training
    noise_seed: int = 0  # seed of the fixed noise maps of noise mode 'const'
    d_spectral_norm: bool = True  # spectral normalisation in D (off: StyleGAN2's plain D, with r1_gamma set)
    noise_min_res: int = 4  # per-pixel noise enters the convolutions of this resolution and finer ones
    architecture: str = "skip"  # 'skip': RGB added at each resolution; 'orig': one RGB layer at the end

    def __post_init__(self):
        if self.image_size not in IMAGE_SIZES:
            raise ValueError(f"image_size must be one of {IMAGE_SIZES}, got {self.image_size}")
        if self.channels not in CHANNELS:
            raise ValueError(f"channels must be one of {CHANNELS}, got {self.channels}")
        limits = (("z_dim", 1, 1024), ("w_dim", 1, 1024), ("mapping_layers", 1, 8), ("g_base", 4, 512),
                  ("g_max", 4, 512), ("d_base", 4, 512), ("noise_seed", 0, 2**31 - 1))
        for name, lo, hi in limits:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise ValueError(f"{name} must be an integer between {lo} and {hi}, got {v!r}")
        for name, lo, hi in (("mapping_lr_mul", 1e-4, 1.0), ("mixing_prob", 0.0, 1.0), ("w_avg_beta", 0.0, 1.0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
                raise ValueError(f"{name} must be a number between {lo} and {hi}, got {v!r}")
        if self.noise_min_res not in (*self.resolutions, 2 * self.image_size) or isinstance(self.noise_min_res, bool):
            raise ValueError(f"noise_min_res must be one of the resolutions {self.resolutions} (or "
                             f"{2 * self.image_size}: no noise), got {self.noise_min_res!r}")
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {', '.join(ARCHITECTURES)}, "
                             f"got {str(self.architecture)[:40]!r}")
        if not isinstance(self.d_spectral_norm, bool):
            raise ValueError(f"d_spectral_norm must be true or false, got {self.d_spectral_norm!r}")

    @property
    def resolutions(self) -> list[int]:
        """4, 8, ... up to image_size."""
        return [4 << i for i in range(self.image_size.bit_length() - 2)]

    def width(self, res: int) -> int:
        return min(self.g_max, self.g_base * self.image_size // res)


class EqualLinear(nn.Module):
    """A linear layer with equalised learning rate (weights N(0, 1) / lr_mul, scaled at run time)."""

    def __init__(self, n_in: int, n_out: int, bias_init: float = 0.0, lr_mul: float = 1.0, act: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_out, n_in) / lr_mul)
        self.bias = nn.Parameter(torch.full((n_out,), float(bias_init) / lr_mul))
        self.w_gain, self.lr_mul, self.act = lr_mul / math.sqrt(n_in), lr_mul, act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.linear(x, self.weight * self.w_gain, self.bias * self.lr_mul)
        return F.leaky_relu(y, 0.2) * LRELU_GAIN if self.act else y


class MappingNetwork(nn.Module):
    """z (B, z_dim) -> w (B, w_dim): pixel norm, then fully connected layers with leaky ReLU."""

    def __init__(self, cfg: StyleConfig):
        super().__init__()
        dims = [cfg.z_dim] + [cfg.w_dim] * cfg.mapping_layers
        self.layers = nn.Sequential(*[EqualLinear(a, b, lr_mul=cfg.mapping_lr_mul, act=True)
                                      for a, b in zip(dims[:-1], dims[1:])])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = z * torch.rsqrt(z.square().mean(1, keepdim=True) + 1e-8)
        return self.layers(z)


class StyledConv(nn.Module):
    """Modulated (and demodulated) 3x3 convolution + per-pixel noise x per-channel scale + bias + lrelu.

    forward(x (B, C_in, H, W), w (B, w_dim), noise_mode) -> (B, C_out, H', W') with H' = 2H when `up`."""

    def __init__(self, n_in: int, n_out: int, w_dim: int, res: int, up: bool, noise_seed: int,
                 noisy: bool = True):
        super().__init__()
        self.noisy = noisy  # False: no per-pixel noise at this layer (StyleConfig.noise_min_res)
        self.affine = EqualLinear(w_dim, n_in, bias_init=1.0)  # "A": w -> styles, one per input channel
        self.weight = nn.Parameter(torch.randn(n_out, n_in, 3, 3))
        self.bias = nn.Parameter(torch.zeros(n_out))
        self.noise_strength = nn.Parameter(torch.zeros(n_out))  # "B": per-channel noise scales
        self.register_buffer("noise_const", torch.randn(1, 1, res, res, generator=torch.Generator().manual_seed(noise_seed)))
        self.w_gain, self.up, self.res = 1.0 / math.sqrt(n_in * 9), up, res
        self.rng: torch.Generator | None = None  # set by the generator: the training noise stream

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        s = self.affine(w)  # (B, C_in)
        weight = self.weight * self.w_gain  # (C_out, C_in, 3, 3)
        demod = torch.rsqrt(s.square() @ weight.square().sum((2, 3)).t() + 1e-8)  # (B, C_out)
        x = x * s[:, :, None, None]
        if self.up:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        x = F.conv2d(x, weight, padding=1) * demod[:, :, None, None]
        if self.noisy and noise_mode == "random":
            noise = torch.randn(len(x), 1, self.res, self.res, generator=self.rng, device=x.device)
            x = x + noise * self.noise_strength[None, :, None, None]
        elif self.noisy and noise_mode == "const":
            x = x + self.noise_const * self.noise_strength[None, :, None, None]
        return F.leaky_relu(x + self.bias[None, :, None, None], 0.2) * LRELU_GAIN


class ToRGB(nn.Module):
    """A modulated 1x1 convolution (no demodulation) to the image channels, plus a bias."""

    def __init__(self, n_in: int, n_out: int, w_dim: int):
        super().__init__()
        self.affine = EqualLinear(w_dim, n_in, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(n_out, n_in, 1, 1))
        self.bias = nn.Parameter(torch.zeros(n_out))
        self.w_gain = 1.0 / math.sqrt(n_in)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        s = self.affine(w) * self.w_gain
        return F.conv2d(x * s[:, :, None, None], self.weight) + self.bias[None, :, None, None]


class SynthesisNetwork(nn.Module):
    """ws (B, num_ws, w_dim) -> images (B, channels, S, S) in [-1, 1]; w 2k and 2k+1 style resolution k."""

    def __init__(self, cfg: StyleConfig):
        super().__init__()
        self.cfg = cfg
        res = cfg.resolutions
        self.const = nn.Parameter(torch.randn(1, cfg.width(4), 4, 4))
        convs, rgbs = OrderedDict(), OrderedDict()
        n_in = cfg.width(4)
        for k, r in enumerate(res):
            n_out = cfg.width(r)
            noisy = r >= cfg.noise_min_res
            convs[f"conv{r}_0"] = StyledConv(n_in, n_out, cfg.w_dim, r, up=k > 0, noise_seed=cfg.noise_seed + 2 * k,
                                             noisy=noisy)
            convs[f"conv{r}_1"] = StyledConv(n_out, n_out, cfg.w_dim, r, up=False,
                                             noise_seed=cfg.noise_seed + 2 * k + 1, noisy=noisy)
            if cfg.architecture == "skip" or r == res[-1]:
                rgbs[f"rgb{r}"] = ToRGB(n_out, cfg.channels, cfg.w_dim)
            n_in = n_out
        self.convs = nn.ModuleDict(convs)
        self.rgbs = nn.ModuleDict(rgbs)
        self.out = nn.Tanh()
        self.num_ws = 2 * len(res)

    def forward(self, ws: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        x = self.const.expand(len(ws), -1, -1, -1)
        img = None
        convs = list(self.convs.values())
        for k, r in enumerate(self.cfg.resolutions):
            x = convs[2 * k](x, ws[:, 2 * k], noise_mode)
            x = convs[2 * k + 1](x, ws[:, 2 * k + 1], noise_mode)
            if f"rgb{r}" not in self.rgbs:  # 'orig': only the last resolution draws RGB
                continue
            y = self.rgbs[f"rgb{r}"](x, ws[:, 2 * k + 1])
            img = y if img is None else F.interpolate(img, scale_factor=2, mode="bilinear", align_corners=False) + y
        return self.out(img)


class StyleGenerator(nn.Module):
    """G(z, c=None) = synthesis(mapping(z)); follows `contract.StyleGenerator` (`c` must be None)."""

    def __init__(self, cfg: StyleConfig):
        super().__init__()
        self.cfg = cfg
        self.latent_spec = LatentSpec(z_dim=cfg.z_dim)
        self.output_spec = OutputSpec("image", cfg.channels, cfg.image_size)
        self.mapping_net = MappingNetwork(cfg)
        self.synthesis_net = SynthesisNetwork(cfg)
        self.num_ws, self.w_dim = self.synthesis_net.num_ws, cfg.w_dim
        # the running mean of w: a parameter without gradients, so flat weight snapshots carry it
        self.w_avg = nn.Parameter(torch.zeros(cfg.w_dim))
        # the training random stream (mixing and noise), seeded from the global stream at build time
        self._rng_seed = int(torch.randint(0, 2**62, (1,), device="cpu"))
        self._rng: torch.Generator | None = None

    @property
    def rng(self) -> torch.Generator:
        if self._rng is None:
            self._rng = torch.Generator().manual_seed(self._rng_seed)
        return self._rng

    def mapping(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """z (B, z_dim) -> ws (B, num_ws, w_dim), the same w for every layer."""
        if c is not None:
            raise ValueError("the style generator is unconditional: class labels were given")
        if z.ndim != 2 or z.shape[1] != self.cfg.z_dim:
            raise ValueError(f"z must have shape (B, {self.cfg.z_dim}), got {tuple(z.shape)}")
        w = self.mapping_net(z)
        return w[:, None, :].repeat(1, self.num_ws, 1)  # own memory: callers edit ws in place

    def synthesis(self, ws: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        """ws (B, num_ws, w_dim) -> images (B, channels, S, S); noise 'random', 'const' or 'none'."""
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise mode must be one of {', '.join(NOISE_MODES)}, got {noise_mode!r}")
        if ws.ndim != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise ValueError(f"ws must have shape (B, {self.num_ws}, {self.w_dim}), got {tuple(ws.shape)}")
        # training noise comes from the module's own stream; in eval mode from torch's global one (callers
        # seed it for reproducible 'random' noise)
        rng = self.rng if self.training else None
        for m in self.synthesis_net.convs.values():
            m.rng = rng
        return self.synthesis_net(ws, noise_mode)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        ws = self.mapping(z, c)
        if not self.training:
            return self.synthesis(ws, "const")
        with torch.no_grad():
            self.w_avg.lerp_(ws[:, 0].detach().mean(0), 1.0 - self.cfg.w_avg_beta)
        if len(z) > 1 and float(torch.rand((), generator=self.rng)) < self.cfg.mixing_prob:
            cut = int(torch.randint(1, self.num_ws, (), generator=self.rng))
            ws2 = self.mapping(z.roll(1, 0))
            ws = torch.cat([ws[:, :cut], ws2[:, cut:]], 1)
        return self.synthesis(ws, "random")

    def feature_layers(self) -> "OrderedDict[str, nn.Module]":
        """The styled convolutions by name, input to output: synthesis_net.convs.conv4_0 ... conv32_1."""
        return OrderedDict((f"synthesis_net.convs.{n}", m) for n, m in self.synthesis_net.convs.items())

    def __deepcopy__(self, memo):
        """A copy with its own (fresh) training stream: torch.Generator state is not shared."""
        cls = self.__class__
        new = cls.__new__(cls)
        memo[id(self)] = new
        for k, v in self.__dict__.items():
            setattr(new, k, None if k == "_rng" else copy.deepcopy(v, memo))
        for m in new.synthesis_net.convs.values():
            m.rng = None
        return new


class StyleDiscriminator(DCGANDiscriminator):
    """The DCGAN discriminator with spectral normalisation and no BatchNorm (each sample judged alone)."""

    def __init__(self, cfg: StyleConfig):
        super().__init__(DCGANConfig(z_dim=cfg.z_dim, image_size=cfg.image_size, channels=cfg.channels,
                                     d_base=cfg.d_base, spectral_norm=cfg.d_spectral_norm, d_batchnorm=False))


# ----- mixing and truncation on ws (the edits between mapping and synthesis) -------------------------------
CROSSOVERS = ("coarse", "middle", "fine")


def crossover_layers(num_ws: int, which: str) -> list[int]:
    """The w indices a crossover name copies: coarse = 4x4 and 8x8, middle = 16x16, fine = the rest."""
    if which not in CROSSOVERS:
        raise ValueError(f"crossover must be one of {', '.join(CROSSOVERS)}, got {which!r}")
    if which == "coarse":
        return list(range(min(4, num_ws)))
    if which == "middle":
        return list(range(4, min(6, num_ws)))
    return list(range(6, num_ws))


def mix(ws_a: torch.Tensor, ws_b: torch.Tensor, layers) -> torch.Tensor:
    """A's ws with B's at `layers` (w indices): (N, num_ws, w_dim) each, broadcast over N."""
    out = ws_a.clone()
    idx = list(layers)
    if idx:
        out[:, idx] = ws_b.expand_as(ws_a)[:, idx]
    return out


def truncate(ws: torch.Tensor, w_avg: torch.Tensor, psi: float, cutoff: int | None = None) -> torch.Tensor:
    """w_avg + psi (w - w_avg) on the first `cutoff` ws (all when None); psi = 1 leaves ws unchanged."""
    if psi == 1.0:
        return ws
    n = ws.shape[1] if cutoff is None else cutoff
    out = ws.clone()
    out[:, :n] = w_avg + psi * (ws[:, :n] - w_avg)
    return out

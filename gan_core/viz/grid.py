"""The live sample grid of an image GAN: a fixed batch of latents pushed through a copy of the generator.

The grid is drawn from a training snapshot (its flat generator weights, the moving average when EMA is
on), never from the live trainer, so drawing never waits for or disturbs training. The renderer keeps its
own generator with the same parameter layout as the trainer's flat buffer (channels-last convolution
weights inside one flat tensor, see gan_core.training.flat): loading a snapshot is one copy.

BatchNorm runs in training mode over the whole fixed batch, as during training (the DCGAN paper's
samples are drawn this way too): the grid then needs no recalibrated running statistics and is still
deterministic, since the batch never changes. A conditional generator gets one class per row, so each
row of the grid shows what G draws when asked for that class.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .. import models
from ..data.images import grid as tile_grid
from ..models import copies
from ..models.params import FlatParams

GUTTER = 1  # pixels between tiles at native resolution (scaled with the grid)
GUTTER_VALUE = 48  # dark grey gutters
TILE_PX = 64  # tiles are enlarged (nearest neighbour) to about this many pixels a side by default
MAX_ROWS = 16  # a conditional grid shows at most this many classes


def display_scale(image_size: int, tile_px: int = TILE_PX) -> int:
    """The integer nearest-neighbour factor that brings `image_size` tiles to about `tile_px` pixels."""
    return max(1, tile_px // max(1, int(image_size)))


def enlarge(picture: np.ndarray, factor: int) -> np.ndarray:
    """(H, W, 3) uint8 -> (H*f, W*f, 3) by pixel repetition (nearest neighbour keeps pixels sharp)."""
    if factor <= 1:
        return picture
    return np.repeat(np.repeat(picture, factor, axis=0), factor, axis=1)


class GridRenderer:
    """Draws the fixed-noise grid for snapshots of one session (one renderer per session: not shared).

    An unconditional grid holds `n` samples in rows of `cols`; a conditional grid holds one row per class
    (up to MAX_ROWS) of `cols` samples, so its row r is class r. A generator with an InfoGAN categorical
    code gets one row per category, the same noise down each column, so a column shows what the code
    alone changes."""

    def __init__(self, n: int = 64, cols: int = 8, seed: int = 0):
        if n < 1 or cols < 1:
            raise ValueError(f"a grid needs n >= 1 and cols >= 1, got n={n}, cols={cols}")
        self.n, self.cols, self.seed = n, cols, seed
        self._key = None
        self.G = None
        self.flat: FlatParams | None = None
        self.z: torch.Tensor | None = None  # (N, z_dim) the fixed latents
        self.labels: torch.Tensor | None = None  # (N,) class per sample (conditional G), else None

    def shape(self) -> tuple[int, int]:
        """(rows, cols) of the current grid."""
        return len(self.z) // self.cols, self.cols

    def _build(self, family: str, model: dict) -> None:
        """A fresh G laid out as the trainer's (channels-last for convolutions), its latents and labels."""
        G, flat = copies.trainer_layout(family, model)
        self.G, self.flat = G, flat
        spec = G.latent_spec
        gen = torch.Generator().manual_seed(self.seed)
        if spec.n_classes:
            rows = min(spec.n_classes, MAX_ROWS)
            self.z = models.sample_latent(spec, rows * self.cols, gen)
            self.labels = torch.arange(rows).repeat_interleave(self.cols)  # row r asks for class r
        elif spec.n_cat:  # InfoGAN: row r sets the categorical code to r; a column keeps its noise
            rows = min(spec.n_cat, MAX_ROWS)
            self.z = models.sample_latent(spec, self.cols, gen).repeat(rows, 1)
            k = spec.noise_dim
            self.z[:, k:k + spec.n_cat] = F.one_hot(torch.arange(rows).repeat_interleave(self.cols),
                                                    spec.n_cat).float()
            self.labels = None
        else:
            self.z = models.sample_latent(spec, -(-self.n // self.cols) * self.cols, gen)
            self.labels = None

    def load(self, family: str, model: dict, g_state: torch.Tensor) -> None:
        """Use the weights `g_state` (a trainer's flat G buffer) for the `family` model built from `model`."""
        key = (family, tuple(sorted((k, repr(v)) for k, v in model.items())))
        if key != self._key:
            self._build(family, model)
            self._key = key
        copies.load_flat(self.flat, g_state)

    @torch.no_grad()
    def samples(self) -> torch.Tensor:
        """The grid's images (N, C, H, W) in [-1, 1], BatchNorm over the fixed batch (training mode)."""
        if self.G is None:
            raise ValueError("no generator loaded: call load() first")
        self.G.train()
        x = self.G(self.z, self.labels) if self.labels is not None else self.G(self.z)
        return x.float()

    def picture(self, scale: int = 1) -> np.ndarray:
        """The grid as one uint8 (H, W, 3) picture with gutters, enlarged `scale` times."""
        tiles = self.samples()
        if scale > 1:
            tiles = F.interpolate(tiles, scale_factor=scale, mode="nearest")
        return tile_grid(tiles, nrow=self.cols, padding=GUTTER * scale, pad_value=GUTTER_VALUE)

    def render(self, snap, scale: int | None = None) -> np.ndarray:
        """The grid of a training snapshot; `scale` None enlarges tiles to about TILE_PX pixels."""
        self.load(snap.cfg.family, snap.cfg.model, snap.g_state)
        size = int(self.G.output_spec.size)
        return self.picture(display_scale(size) if scale is None else scale)

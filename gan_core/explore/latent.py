"""Latent-space exploration of one generator: the frozen model, its seeds and latents, and the point the
explorer shows.

Everything works on a `LatentModel`: a frozen copy of a generator (taken from a training snapshot or a
checkpoint through `models.copies`) in eval mode, so that an image depends only on its own latent.
Copying means exploring never waits for or disturbs a training that keeps running. BatchNorm statistics
are re-estimated once for the copied weights (a fixed set of random latents, so the copy is deterministic).

A point of the explorer is `seed + offsets along directions`, pulled toward the mean latent by the
truncation psi: z = mean + psi * (z_seed + sum_k a_k * std_k * u_k - mean), where u_k are orthonormal
directions and a_k slider values in units of each direction's standard deviation. A direction lives in
a space (`Directions.space`): 'z' moves the latent; 'w' (style-based generators) moves the styles w of
the layers `Directions.layers`, after the mapping network, and truncation then pulls w toward `w_avg`
(`LatentModel.render`).

Directions (`directions.py`), interpolation and arithmetic (`interpolate.py`) and inversion
(`inversion.py`) live beside this module; their public names are re-exported here.
"""

from __future__ import annotations

import torch
from torch import nn

from .. import models
from ..inspect import Trace
from ..models import copies

MAX_BATCH = 1024  # generator calls are chunked to at most this many latents


class LatentModel:
    """A frozen generator for exploration. `kind` is 'image' ((B, C, H, W) in [-1, 1]) or '2d' ((B, 2)
    points), from the family's output kind; `space` is 'w' for a style-based generator, else 'z'; `data`
    is the training data when known (2D points are drawn under the moved point; image sets give nearest
    neighbours)."""

    def __init__(self, G: nn.Module, family: str, data=None, name: str = "", step: int = 0,
                 dataset: str = "", held_out: float = 0.0):
        self.G = G.eval()
        for p in self.G.parameters():
            p.requires_grad_(False)
        self.family, self.data, self.name, self.step = family, data, name, step
        self.dataset, self.held_out = dataset, held_out  # the training set's registry name and held-out share
        self.spec = G.latent_spec
        self.kind = "2d" if models.output_kind(family) == "points" else "image"
        self.space = "w" if models.is_style_based(G) else "z"

    # ----- construction ----------------------------------------------------------------------------------
    @classmethod
    def from_snapshot(cls, snap, name: str = "") -> "LatentModel":
        """The generator of a training snapshot (its EMA weights when EMA is on), copied to the CPU."""
        G = copies.frozen_generator(snap.cfg.family, snap.cfg.model, g_state=snap.g_state)
        return cls(G, snap.cfg.family, snap.data, name, snap.step, snap.cfg.dataset, snap.cfg.held_out)

    @classmethod
    def from_checkpoint(cls, ckpt, name: str = "", data=None) -> "LatentModel":
        G = copies.frozen_generator(ckpt.train_config.family, {}, G=ckpt.G)
        if data is None:
            data = _builtin_data(ckpt.train_config.dataset, ckpt.data_points)
        tc = ckpt.train_config
        return cls(G, tc.family, data, name, ckpt.step, tc.dataset, tc.held_out)

    # ----- latents -----------------------------------------------------------------------------------------
    @property
    def z_dim(self) -> int:
        return self.spec.z_dim

    @property
    def n_classes(self) -> int:
        return self.spec.n_classes

    def random_labels(self, n: int, gen: torch.Generator | None = None) -> torch.Tensor | None:
        return copies.random_labels(self.G, n, gen)

    def latent(self, seed: int) -> torch.Tensor:
        """The latent of `seed` (z_dim,): the same seed always gives the same latent."""
        return models.sample_latent(self.spec, 1, torch.Generator().manual_seed(int(seed)))[0]

    def latents(self, seeds) -> torch.Tensor:
        return torch.stack([self.latent(s) for s in seeds]) if len(seeds) else torch.zeros(0, self.z_dim)

    def mean_latent(self) -> torch.Tensor:
        """The centre of z (zero for the Gaussian and for uniform noise in [-1, 1]): the truncation centre
        of z-space generators."""
        return torch.zeros(self.z_dim)

    def truncate(self, z: torch.Tensor, psi: float) -> torch.Tensor:
        """z (..., z_dim) truncated by psi toward the mean latent; InfoGAN codes are kept (only the noise
        part moves), so a truncated sample keeps its category."""
        return truncate(z, psi, self.mean_latent(), self.spec.noise_dim)

    def truncation_centre(self) -> torch.Tensor:
        """Where truncation pulls toward: w_avg for a style-based generator, else the mean latent."""
        return models.mean_latent(self.G)

    def labels_for(self, n: int, label: int | None) -> torch.Tensor | None:
        """Class labels for n latents of a conditional G (all `label`, 0 if None); None when unconditional."""
        if not self.n_classes:
            return None
        k = 0 if label is None else int(label)
        if not 0 <= k < self.n_classes:
            raise ValueError(f"class must be in 0..{self.n_classes - 1}, got {label}")
        return torch.full((n,), k, dtype=torch.int64)

    @torch.no_grad()
    def generate(self, z: torch.Tensor, label: int | None = None, labels: torch.Tensor | None = None) -> torch.Tensor:
        """G(z) for z (B, z_dim): images (B, C, H, W) in [-1, 1] or points (B, 2)."""
        z = torch.as_tensor(z, dtype=torch.float32).reshape(-1, self.z_dim)
        if labels is None:
            labels = self.labels_for(len(z), label)
        out = [self.G(z[i:i + MAX_BATCH], None if labels is None else labels[i:i + MAX_BATCH])
               for i in range(0, len(z), MAX_BATCH)]
        return torch.cat(out) if out else torch.zeros(0)

    @torch.no_grad()
    def generate_each(self, z: torch.Tensor, label: int | None = None) -> torch.Tensor:
        """Like generate, one latent at a time: each image is bit-for-bit the one the explorer shows for
        that latent alone (a batched convolution may round differently in the last bit)."""
        z = torch.as_tensor(z, dtype=torch.float32).reshape(-1, self.z_dim)
        return torch.cat([self.generate(zi[None], label) for zi in z]) if len(z) else torch.zeros(0)

    @torch.no_grad()
    def render(self, base: torch.Tensor, moves=(), psi: float = 1.0, label: int | None = None) -> torch.Tensor:
        """The explorer's output for one point: the base latent (z_dim,) moved by `moves` (a list of
        (Directions, slider values)), each in its own space, truncated by psi. z directions move z; for a
        style-based G, w directions move the styles of their layers after the mapping network and psi
        pulls w toward w_avg. Returns G's output for the point, (1, ...)."""
        z_moves = [(d, v) for d, v in moves if d is not None and d.space == "z"]
        w_moves = [(d, v) for d, v in moves if d is not None and d.space == "w"]
        z = base + displacement(z_moves, self.z_dim)
        if self.space == "z":
            if w_moves:
                raise ValueError("W directions need a style-based generator")
            return self.generate(self.truncate(z, psi)[None], label)
        labels = self.labels_for(1, label)
        ws = self.G.mapping(z[None], labels)  # (1, num_ws, w_dim)
        ws = truncate(ws, psi, self.G.w_avg)
        for d, v in w_moves:
            lo, hi = d.layers if d.layers is not None else (0, self.G.num_ws)
            ws[:, lo:hi] += displacement([(d, v)], ws.shape[-1])
        return self.G.synthesis(ws)

    @torch.no_grad()
    def features(self, z: torch.Tensor, layer: str, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The activations of G's feature layer `layer` for z, flattened to (B, F); the forward pass stops
        after that layer."""
        layers = self.G.feature_layers()
        if layer not in layers:
            raise ValueError(f"unknown layer {layer!r}; this generator has {', '.join(layers)}")
        path = next(n for n, m in self.G.named_modules() if m is layers[layer])
        z = torch.as_tensor(z, dtype=torch.float32).reshape(-1, self.z_dim)
        got = []
        for i in range(0, len(z), MAX_BATCH):
            with Trace(self.G, path, stop=True) as tr:
                self.G(z[i:i + MAX_BATCH], None if labels is None else labels[i:i + MAX_BATCH])
            got.append(tr.output.reshape(len(tr.output), -1))
        return torch.cat(got)

    def default_layer(self) -> str:
        """The layer GANSpace reads for directions: the first feature layer after the input."""
        return next(iter(self.G.feature_layers()))


def real_split(model: LatentModel):
    """(training images, held-out images or None) of the model's built-in image set, as it was trained;
    ValueError for models of uploaded images (their images are not stored) and 2D models."""
    from ..data import registry

    if model.kind != "image" or model.dataset not in registry.IMAGE_SETS:
        raise ValueError("real images are known only for generators of the built-in image sets "
                         f"({', '.join(registry.IMAGE_SETS)}); this one was trained on {model.dataset or 'unknown data'!r}")
    train, held = registry.image_split(model.dataset, model.held_out)
    return train, (held if len(held) else None)


def _builtin_data(dataset: str, points=None):
    from ..data import registry, toy2d

    if points is not None:
        return toy2d.from_stored(dataset, points)
    if dataset in registry.IMAGE_SETS:
        return registry.image_dataset(dataset)
    if dataset in toy2d.BUILTIN:
        return toy2d.get(dataset)
    return None


# ----- composing a point ---------------------------------------------------------------------------------
def truncate(z: torch.Tensor, psi: float, mean: torch.Tensor, keep_from: int | None = None) -> torch.Tensor:
    """The truncation trick: move z toward the mean latent, z' = mean + psi (z - mean). Coordinates from
    `keep_from` on (InfoGAN codes) stay as they are: pulling a one-hot category toward its mean would
    blend the categories (blurred mixtures of digits instead of cleaner ones)."""
    out = mean + float(psi) * (z - mean)
    if keep_from is not None and keep_from < z.shape[-1]:
        out[..., keep_from:] = z[..., keep_from:]
    return out


def displacement(moves, dim: int) -> torch.Tensor:
    """The sum of slider moves: `moves` is a list of (Directions, slider values) pairs; each value a_k moves
    the latent by a_k * std_k along direction u_k. Returns a (dim,) displacement."""
    total = torch.zeros(dim)
    for dirs, values in moves:
        if dirs is None:
            continue
        a = torch.as_tensor(values, dtype=torch.float32).reshape(-1)
        if len(a) != len(dirs):
            raise ValueError(f"{len(dirs)} slider values expected, got {len(a)}")
        if a.numel():
            total = total + (a * dirs.std) @ dirs.vectors
    return total


def point(model: LatentModel, base: torch.Tensor, moved: torch.Tensor, psi: float = 1.0) -> torch.Tensor:
    """The explorer's point: a base latent plus a displacement, truncated by psi toward the mean latent."""
    return model.truncate(base + moved, psi)


def compose(model: LatentModel, seed: int, offsets=None, dirs=None,
            psi: float = 1.0) -> torch.Tensor:
    """The explorer's point: the seed's latent moved by offsets (slider units) along dirs, then truncated."""
    moves = [(dirs, offsets)] if dirs is not None and offsets is not None else []
    return point(model, model.latent(seed), displacement(moves, model.z_dim), psi)


def truncation_grid(model: LatentModel, seeds, psis, label: int | None = None) -> torch.Tensor:
    """Images for each psi (rows) and seed (columns): (len(psis) * len(seeds), ...) row-major."""
    z = model.latents(seeds)
    zz = torch.cat([model.truncate(z, p) for p in psis])
    return model.generate(zz, label)


from .directions import Directions, axis_directions, pca_directions  # noqa: E402
from .interpolate import arithmetic, gif_bytes, interpolate, lerp, png_bytes, slerp  # noqa: E402
from .inversion import (  # noqa: E402
    Inversion, invert, inversion_report, minimum_reconstruction_error, nearest, psnr_db,
)

__all__ = ["LatentModel", "real_split", "truncate", "displacement", "point", "compose", "truncation_grid",
           "Directions", "axis_directions", "pca_directions", "arithmetic", "gif_bytes", "interpolate", "lerp",
           "png_bytes", "slerp", "Inversion", "invert", "inversion_report", "minimum_reconstruction_error",
           "nearest", "psnr_db"]

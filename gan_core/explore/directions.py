"""Slider directions in a generator's latent space: the latent dimensions themselves, and principal
directions as GANSpace finds them (Harkonen et al. 2020).

A `Directions` carries the space it lives in ('z', or 'w' for style-based generators) and the range of
synthesis layers a W direction applies to (None = all); the explorer applies each direction in its space.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .. import models

@dataclass(frozen=True)
class Directions:
    """K orthonormal directions (rows of `vectors`, (K, z_dim)) ordered by variance, the standard
    deviation of latents along each (slider unit) and the share of variance each explains.

    `space` is where the directions live ('z', or 'w' for style-based generators) and `source` what the
    PCA was taken of ('z' or a layer name); `layers` is the range of synthesis layers a W direction
    applies to (None = all)."""

    vectors: torch.Tensor
    std: torch.Tensor
    explained: torch.Tensor
    source: str = "z"
    space: str = "z"
    layers: tuple[int, int] | None = None

    def __len__(self) -> int:
        return len(self.vectors)

    def labels(self) -> list[str]:
        return [f"PC{k + 1} ({100 * float(e):.1f} %)" for k, e in enumerate(self.explained)]


def axis_directions(z_dim: int) -> Directions:
    """The latent dimensions themselves as directions (unit std: the noise is standard normal)."""
    return Directions(torch.eye(z_dim), torch.ones(z_dim), torch.full((z_dim,), 1.0 / z_dim), "axes")


def pca_directions(model, k: int | None = None, source: str = "layer", n: int = 4096,
                   seed: int = 0) -> Directions:
    """GANSpace's principal directions of `model` (see `_pca_directions`), computed once per model and
    arguments and kept on the model: a shipped model shared by a class is analysed once, not per student.
    Directions are never changed in place, so they are shared as they are."""
    memo = model.__dict__.setdefault("_pca_memo", {}) if hasattr(model, "__dict__") else {}
    key = (k, source, n, seed)
    if key not in memo:
        memo[key] = _pca_directions(model, k, source, n, seed)
    return memo[key]


def _pca_directions(model, k: int | None = None, source: str = "layer", n: int = 4096,
                    seed: int = 0) -> Directions:
    """Principal directions in latent space, as GANSpace finds them (Harkonen et al. 2020).

    source 'z': PCA of n sampled latents. source 'layer' (or a layer name): PCA of the activations
    y_i = layer(z_i) of G's first feature layer; each latent is regressed on its principal coordinates
    x_i = V^T (y_i - mean) (least squares z ~ x U), and the rows u_k of U are the latent directions that
    move the layer along its principal axes. They are made orthonormal in order (Gram-Schmidt, so the
    first is unchanged), and each carries the standard deviation of the sampled latents along it and the
    share of the layer's variance its component explains."""
    d = model.z_dim
    k = min(d, int(k or min(d, 16)))
    if k < 1:
        raise ValueError("k must be at least 1")
    gen = torch.Generator().manual_seed(seed)
    z = models.sample_latent(model.spec, max(n, 4 * d), gen)
    if source == "z":
        zc = z - z.mean(0)
        _, s, vt = torch.linalg.svd(zc, full_matrices=False)
        var = s ** 2
        return Directions(vt[:k].contiguous(), s[:k] / math.sqrt(len(z) - 1), (var / var.sum())[:k], "z")
    layer = model.default_layer() if source == "layer" else source
    y = model.features(z, layer, labels=model.random_labels(len(z), gen)).double()
    y = y - y.mean(0)
    q = min(k + 8, min(y.shape))
    _, s, v = torch.svd_lowrank(y, q=q, niter=4, M=None)  # y ~ U diag(s) V^T, top q components
    total = (y ** 2).sum()
    x = y @ v[:, :k]  # (N, k) principal coordinates
    u = torch.linalg.lstsq(x, (z - z.mean(0)).double()).solution  # (k, d): z ~ x u
    q_mat, r = torch.linalg.qr(u.T)  # (d, k) orthonormal columns spanning u's rows in order
    vecs = (q_mat * torch.sign(torch.diagonal(r))[None]).T.float().contiguous()  # keep u_k's orientation
    std = (z @ vecs.T).std(0)
    explained = (s[:k] ** 2 / total).float()
    return Directions(vecs, std, explained, layer)


def w_pca_directions(model, k: int | None = None, layers: tuple[int, int] | None = None, n: int = 4096,
                     seed: int = 0) -> Directions:
    """Principal directions in W (GANSpace on a style-based generator, Harkonen et al. 2020, section 3.1):
    PCA of n sampled w = mapping(z). The explorer adds them to the styles of the synthesis layers
    `layers` = (first, last + 1) only (None = every layer), e.g. (0, 4) for the coarse styles."""
    G = model.G
    if not models.is_style_based(G):
        raise ValueError("W directions need a style-based generator")
    if layers is not None and not 0 <= layers[0] < layers[1] <= G.num_ws:
        raise ValueError(f"W direction layers must lie in 0..{G.num_ws}, got {layers}")
    k = min(G.w_dim, int(k or min(G.w_dim, 16)))
    gen = torch.Generator().manual_seed(seed)
    z = models.sample_latent(model.spec, max(n, 4 * G.w_dim), gen)
    with torch.no_grad():
        w = G.mapping(z)[:, 0].double()
    wc = w - w.mean(0)
    _, s, vt = torch.linalg.svd(wc, full_matrices=False)
    var = s ** 2
    return Directions(vt[:k].float().contiguous(), (s[:k] / math.sqrt(len(w) - 1)).float(),
                      (var / var.sum())[:k].float(), "w", space="w", layers=layers)

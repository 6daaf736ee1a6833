"""Latent-space exploration of one generator: seeds, principal directions, truncation, interpolation,
latent arithmetic and inversion.

Everything works on a `LatentModel`: a frozen copy of a generator (taken from a training snapshot or a
checkpoint) in eval mode, so that an image depends only on its own latent. Copying means exploring never
waits for or disturbs a training that keeps running. BatchNorm statistics are re-estimated once for the
copied weights (a fixed set of random latents, so the copy is deterministic).

A point of the explorer is `seed + offsets along directions`, pulled toward the mean latent by the
truncation psi: z = mean + psi * (z_seed + sum_k a_k * std_k * u_k - mean), where u_k are orthonormal
directions and a_k slider values in units of each direction's standard deviation. Style-based generators
will edit W instead of z; `Directions.space` names the space a direction lives in and `layers` the layer
range it applies to, so the same interface carries them.
"""

from __future__ import annotations

import copy
import io
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

from .. import models

BN_CALIBRATION = (8, 256)  # batches x samples used to re-estimate BatchNorm statistics
MAX_BATCH = 1024  # generator calls are chunked to at most this many latents


class LatentModel:
    """A frozen generator for exploration. `kind` is 'image' (DCGAN-like: (B, C, H, W) in [-1, 1]) or
    '2d' (MLP: (B, 2) points); `data` is the training data when known (2D points are drawn under the
    moved point; image sets give nearest neighbours)."""

    def __init__(self, G: nn.Module, family: str, data=None, name: str = "", step: int = 0,
                 dataset: str = "", held_out: float = 0.0):
        self.G = G.eval()
        for p in self.G.parameters():
            p.requires_grad_(False)
        self.family, self.data, self.name, self.step = family, data, name, step
        self.dataset, self.held_out = dataset, held_out  # the training set's registry name and held-out share
        self.spec = G.latent_spec
        self.kind = "2d" if family == "mlp" else "image"
        self._recalibrate()

    # ----- construction ----------------------------------------------------------------------------------
    @classmethod
    def from_snapshot(cls, snap, name: str = "") -> "LatentModel":
        """The generator of a training snapshot (its EMA weights when EMA is on), copied to the CPU."""
        from ..training.flat import FlatParams

        family, cfg = snap.cfg.family, snap.cfg.model
        G, _, _ = models.build(family, cfg)
        if family != "mlp":
            G.to(memory_format=torch.channels_last)  # the trainer's flat layout
        flat = FlatParams(G)
        if snap.g_state.numel() != flat.data.numel():
            raise ValueError(f"the snapshot holds {snap.g_state.numel()} generator weights, its model config "
                             f"needs {flat.data.numel()}")
        flat.data.copy_(snap.g_state.detach().reshape(-1).to("cpu", torch.float32))
        with torch.no_grad():  # own, dense parameters in the default layout (fastest for batch 1)
            for p in G.parameters():
                p.data = p.data.clone(memory_format=torch.contiguous_format)
        return cls(G, family, snap.data, name, snap.step, snap.cfg.dataset, snap.cfg.held_out)

    @classmethod
    def from_checkpoint(cls, ckpt, name: str = "", data=None) -> "LatentModel":
        G = copy.deepcopy(ckpt.G).to("cpu")
        if data is None:
            data = _builtin_data(ckpt.train_config.dataset, ckpt.data_points)
        tc = ckpt.train_config
        return cls(G, tc.family, data, name, ckpt.step, tc.dataset, tc.held_out)

    def _recalibrate(self) -> None:
        bns = [m for m in self.G.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        if not bns:
            return
        gen = torch.Generator().manual_seed(1234)
        for m in bns:
            m.reset_running_stats()
            m.momentum = None  # a cumulative average over the calibration batches
        self.G.train()
        with torch.no_grad():
            for _ in range(BN_CALIBRATION[0]):
                z = models.sample_latent(self.spec, BN_CALIBRATION[1], gen)
                self.G(z, self.random_labels(len(z), gen))
        self.G.eval()

    # ----- latents -----------------------------------------------------------------------------------------
    @property
    def z_dim(self) -> int:
        return self.spec.z_dim

    @property
    def n_classes(self) -> int:
        return self.spec.n_classes

    def random_labels(self, n: int, gen: torch.Generator | None = None) -> torch.Tensor | None:
        return torch.randint(self.n_classes, (n,), generator=gen) if self.n_classes else None

    def latent(self, seed: int) -> torch.Tensor:
        """The latent of `seed` (z_dim,): the same seed always gives the same latent."""
        return models.sample_latent(self.spec, 1, torch.Generator().manual_seed(int(seed)))[0]

    def latents(self, seeds) -> torch.Tensor:
        return torch.stack([self.latent(s) for s in seeds]) if len(seeds) else torch.zeros(0, self.z_dim)

    def mean_latent(self) -> torch.Tensor:
        """The mean of the latent distribution (zero for the Gaussian and for uniform noise in [-1, 1])."""
        return torch.zeros(self.z_dim)

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

    def features(self, z: torch.Tensor, layer: str, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The activations of G's feature layer `layer` for z, flattened to (B, F)."""
        layers = self.G.feature_layers()
        if layer not in layers:
            raise ValueError(f"unknown layer {layer!r}; this generator has {', '.join(layers)}")
        got = []
        hook = layers[layer].register_forward_hook(lambda m, i, o: got.append(o.detach().reshape(len(o), -1)))
        try:
            self.generate(z, labels=labels)
        finally:
            hook.remove()
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


# ----- directions -------------------------------------------------------------------------------------------
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


def pca_directions(model: LatentModel, k: int | None = None, source: str = "layer", n: int = 4096,
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


# ----- composing a point ---------------------------------------------------------------------------------------
def truncate(z: torch.Tensor, psi: float, mean: torch.Tensor) -> torch.Tensor:
    """The truncation trick: move z toward the mean latent, z' = mean + psi (z - mean)."""
    return mean + float(psi) * (z - mean)


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
    return truncate(base + moved, psi, model.mean_latent())


def compose(model: LatentModel, seed: int, offsets=None, dirs: Directions | None = None,
            psi: float = 1.0) -> torch.Tensor:
    """The explorer's point: the seed's latent moved by offsets (slider units) along dirs, then truncated."""
    moves = [(dirs, offsets)] if dirs is not None and offsets is not None else []
    return point(model, model.latent(seed), displacement(moves, model.z_dim), psi)


def truncation_grid(model: LatentModel, seeds, psis, label: int | None = None) -> torch.Tensor:
    """Images for each psi (rows) and seed (columns): (len(psis) * len(seeds), ...) row-major."""
    z = model.latents(seeds)
    mean = model.mean_latent()
    zz = torch.cat([truncate(z, p, mean) for p in psis])
    return model.generate(zz, label)


# ----- interpolation -------------------------------------------------------------------------------------------
def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation from a (t=0) to b (t=1), exactly a and b at the ends (White 2016)."""
    if t <= 0:
        return a.clone()
    if t >= 1:
        return b.clone()
    na, nb = a.norm(), b.norm()
    if na == 0 or nb == 0:
        return torch.lerp(a, b, t)
    cos = torch.clamp((a @ b) / (na * nb), -1.0, 1.0)
    omega = torch.arccos(cos)
    if omega.abs() < 1e-4:
        return torch.lerp(a, b, t)
    so = torch.sin(omega)
    return torch.sin((1 - t) * omega) / so * a + torch.sin(t * omega) / so * b


def lerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    if t <= 0:
        return a.clone()
    if t >= 1:
        return b.clone()
    return torch.lerp(a, b, t)


def interpolate(keys: torch.Tensor, frames: int, mode: str = "slerp") -> torch.Tensor:
    """`frames` latents passing through every key latent (M, z_dim) in order; the first frame is keys[0],
    the last keys[-1], and every key is one of the frames (exactly), frames spread evenly per segment."""
    if mode not in ("slerp", "lerp"):
        raise ValueError(f"mode must be 'slerp' or 'lerp', got {mode!r}")
    m = len(keys)
    if m < 2:
        raise ValueError("interpolation needs at least two latents")
    if frames < m:
        raise ValueError(f"{frames} frames cannot pass through {m} latents")
    f = slerp if mode == "slerp" else lerp
    per = np.diff(np.round(np.linspace(0, frames - 1, m)).astype(int))  # frames per segment, sum = frames - 1
    out = []
    for i, n in enumerate(per):
        out += [f(keys[i], keys[i + 1], j / n) for j in range(n)]
    out.append(keys[-1].clone())
    return torch.stack(out)


# ----- arithmetic ------------------------------------------------------------------------------------------------
def arithmetic(model: LatentModel, a_seeds, b_seeds, c_seeds) -> dict:
    """The DCGAN paper's vector arithmetic: mean(A) - mean(B) + mean(C), each term the mean latent of a
    few seeds. Returns the term means, the result latent and the seeds' latents."""
    terms = {}
    for name, seeds in (("a", a_seeds), ("b", b_seeds), ("c", c_seeds)):
        if not len(seeds):
            raise ValueError(f"term {name.upper()} needs at least one seed")
        terms[name] = model.latents(seeds)
    means = {k: v.mean(0) for k, v in terms.items()}
    return {"latents": terms, "means": means, "result": means["a"] - means["b"] + means["c"]}


# ----- inversion ---------------------------------------------------------------------------------------------
@dataclass
class Inversion:
    z: torch.Tensor  # (T, z_dim) best latent per target
    labels: torch.Tensor | None  # (T,) class of the best latent (conditional G)
    recon: torch.Tensor  # (T, C, H, W) G(z)
    mse: torch.Tensor  # (T,) mean squared error in [-1, 1] units
    psnr: torch.Tensor  # (T,) dB with images mapped to [0, 1]


def psnr_db(mse: torch.Tensor) -> torch.Tensor:
    """PSNR of images in [-1, 1] (peak-to-peak 2): 10 log10(4 / mse)."""
    return 10 * torch.log10(4.0 / mse.clamp_min(1e-12))


def invert(model: LatentModel, targets: torch.Tensor, restarts: int = 8, steps: int = 400, lr: float = 0.05,
           candidates: int = 64, label: int | None = None, seed: int = 0,
           progress: Callable[[float], None] | None = None) -> Inversion:
    """Find latents whose images are closest (mean squared error) to `targets` (T, C, H, W) in [-1, 1].

    For each target, `candidates` random latents are tried and the best `restarts` start an Adam
    optimisation of `steps` steps (learning rate decaying to zero), all targets and restarts at once;
    the best restart wins. A conditional G searches the classes too (restarts cycle through them) unless
    `label` fixes the class."""
    if model.kind != "image":
        raise ValueError("inversion needs an image generator")
    t = torch.as_tensor(targets, dtype=torch.float32)
    if t.ndim == 3:
        t = t[None]
    n_t = len(t)
    gen = torch.Generator().manual_seed(seed)
    # candidates: pick the best `restarts` starts per target by their error
    zc = models.sample_latent(model.spec, n_t * candidates, gen).reshape(n_t, candidates, -1)
    lc = _restart_labels(model, n_t, candidates, label)
    with torch.no_grad():
        xc = model.generate(zc.reshape(n_t * candidates, -1), labels=None if lc is None else lc.reshape(-1))
        err = ((xc.reshape(n_t, candidates, -1) - t.reshape(n_t, 1, -1)) ** 2).mean(2)
    r = min(restarts, candidates)
    best = err.argsort(1)[:, :r]  # (T, R)
    z = torch.gather(zc, 1, best[..., None].expand(-1, -1, zc.shape[2])).reshape(n_t * r, -1).clone()
    labels = None if lc is None else torch.gather(lc, 1, best).reshape(-1)
    z.requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 0.5 * (1 + math.cos(math.pi * i / steps)))
    target = t.repeat_interleave(r, 0)
    for i in range(steps):
        opt.zero_grad(set_to_none=True)
        x = model.G(z, labels)
        loss = ((x - target) ** 2).mean(dim=tuple(range(1, x.ndim)))
        loss.sum().backward()
        opt.step()
        sched.step()
        if progress is not None and (i % 20 == 0 or i == steps - 1):
            progress((i + 1) / steps)
    with torch.no_grad():
        z = z.detach()
        x = model.generate(z, labels=labels)
        mse = ((x - target) ** 2).mean(dim=tuple(range(1, x.ndim))).reshape(n_t, r)
        pick = mse.argmin(1)
        idx = torch.arange(n_t) * r + pick
        best_mse = mse[torch.arange(n_t), pick]
    return Inversion(z[idx], None if labels is None else labels[idx], x[idx], best_mse, psnr_db(best_mse))


def _restart_labels(model: LatentModel, n_t: int, n: int, label: int | None) -> torch.Tensor | None:
    if not model.n_classes:
        return None
    if label is not None:
        return model.labels_for(n_t * n, label).reshape(n_t, n)
    return (torch.arange(n) % model.n_classes).repeat(n_t, 1)


def nearest(images: torch.Tensor, pool: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For each image (T, ...) the index of its nearest neighbour in `pool` (N, ...) by mean squared
    error, and that error."""
    a, b = images.reshape(len(images), -1), pool.reshape(len(pool), -1)
    d = torch.cdist(a, b) ** 2 / a.shape[1]  # (T, N)
    err, idx = d.min(1)
    return idx, err


def minimum_reconstruction_error(model: LatentModel, images: torch.Tensor, **kw) -> torch.Tensor:
    """MRE per image (Webster et al. 2019): the smallest mean squared error any latent reaches, as found
    by `invert`. Training images that a GAN reconstructs much better than held-out ones are memorised."""
    return invert(model, images, **kw).mse


# ----- pictures and files ------------------------------------------------------------------------------------
def png_bytes(picture: np.ndarray, compress: int = 1) -> bytes:
    """A uint8 (H, W) or (H, W, 3) picture as PNG bytes (fast compression: pictures are small)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(picture).save(buf, format="PNG", compress_level=compress)
    return buf.getvalue()


def gif_bytes(frames: list[np.ndarray], fps: float = 12.0, loop: bool = True) -> bytes:
    """An animated GIF of uint8 (H, W, 3) frames; durations in whole milliseconds as GIF stores them."""
    from PIL import Image

    if not frames:
        raise ValueError("a GIF needs at least one frame")
    images = [Image.fromarray(f) for f in frames]
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:],
                   duration=max(20, int(round(1000 / fps))), loop=0 if loop else 1, disposal=1)
    return buf.getvalue()


# ----- the inversion report (CLI: eval --inversion) ----------------------------------------------------------
def inversion_report(model: LatentModel, n_generated: int = 64, n_real: int = 64, restarts: int = 4,
                     steps: int = 300, seed: int = 0, progress: Callable[[str, float], None] | None = None) -> dict:
    """How well the generator can be inverted, and whether it memorised its training images.

    - `inversion_psnr_median` (dB): inversion of n_generated of G's own images (fresh seeds); their exact
      latents exist, so this measures the optimiser.
    - `mre_train`, `mre_heldout`: median minimum reconstruction error (mean squared error in [-1, 1]
      units) of n_real training images and n_real images held out of training. A generator that
      memorises reconstructs training images much better (mre_ratio = held-out / train well above 1).
    - `nn_heldout`: median error of each held-out image's nearest training image, for scale."""
    kw = {"restarts": restarts, "steps": steps, "seed": seed}
    gen = torch.Generator().manual_seed(20_000 + seed)
    z = models.sample_latent(model.spec, n_generated, gen)
    labels = model.random_labels(n_generated, gen)
    x = model.generate(z, labels=labels)
    train, held = real_split(model)
    pick = torch.Generator().manual_seed(30_000 + seed)
    tr = train.images[torch.randperm(len(train), generator=pick)[:n_real]]
    ho = None if held is None else held.images[torch.randperm(len(held), generator=pick)[:n_real]]
    parts = [x, tr] + ([ho] if ho is not None else [])
    tick = (lambda f: progress("inverting", f)) if progress else None
    inv = invert(model, torch.cat(parts), progress=tick, **kw)
    n_g, n_t = len(x), len(tr)
    psnr = inv.psnr[:n_g]
    out = {"inversion_psnr_median": float(psnr.median()), "inversion_psnr_min": float(psnr.min()),
           "inversion_psnr_mean": float(psnr.mean()),
           "mre_train": float(inv.mse[n_g:n_g + n_t].median()),
           "mre_heldout": None, "mre_ratio": None, "nn_heldout": None,
           "n_generated": n_g, "n_train": n_t, "n_heldout": 0, "restarts": restarts, "steps": steps,
           "held_out_share": model.held_out}
    if ho is not None:
        mre_h = float(inv.mse[n_g + n_t:].median())
        out.update({"mre_heldout": mre_h, "mre_ratio": mre_h / max(out["mre_train"], 1e-12),
                    "nn_heldout": float(nearest(ho, train.images)[1].median()), "n_heldout": len(ho)})
    return out

"""Style mixing on a style-based generator (StyleGAN, Karras et al. 2019, section 3.1 and figure 3).

Seeds give latents z (`LatentModel.latent`), the mapping network gives each a w per synthesis layer
(`ws`, (N, num_ws, w_dim)); a mix takes A's ws and replaces those of the chosen layers by B's. The
crossover names follow the paper: coarse = the 4x4 and 8x8 styles, middle = 16x16, fine = 32x32 (and up).
Truncation pulls the ws of the first `cutoff` layers toward `w_avg` (psi = 1: no truncation, psi = 0:
G(w_avg) on those layers). Noise is 'const' (one fixed noise map per layer: a w gives one image),
'random' (fresh noise drawn from `noise_seed`) or 'none' (noise off).

`mixing_report` measures what mixing copies with the shapes factor evaluator (`metrics.classifier`): for
pairs (A, B), the share of mixes whose factor reads as B's value, per crossover; the share of images
whose shape, position and colour survive a change of noise alone; and the perceptual path length in Z
and in W (the paper's section 4.1, with the shapes classifier's features as the distance).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from .. import models
from ..models.style import CROSSOVERS, crossover_layers, mix, truncate
from .latent import LatentModel

NOISE_MODES = {"random": "random", "constant": "const", "const": "const", "off": "none", "none": "none"}
MAX_SEEDS = 8  # seeds per side of a mixing grid
MAX_VARIATION = 64  # samples of a stochastic-variation view
MIX_FACTORS = ("shape", "scale", "rotation", "x", "y", "colour")


def require_style(model: LatentModel) -> None:
    if not models.is_style_based(model.G):
        raise ValueError(f"{model.name or 'this model'} is not style-based (it has no mapping network): "
                         "mixing needs a style-based generator such as Shapes (style-based)")


def layers_of(model: LatentModel, crossover) -> list[int]:
    """The w indices B provides: a crossover name ('coarse', 'middle', 'fine') or a list of indices."""
    n = model.G.num_ws
    if isinstance(crossover, str):
        return crossover_layers(n, crossover)
    idx = sorted({int(i) for i in crossover})
    if any(not 0 <= i < n for i in idx):
        raise ValueError(f"style layers must be between 0 and {n - 1}, got {idx}")
    return idx


def layer_names(model: LatentModel) -> list[str]:
    """A label per w: its resolution and whether it is the first or second style there."""
    res = model.G.cfg.resolutions if hasattr(model.G, "cfg") and hasattr(model.G.cfg, "resolutions") else None
    if res is None:
        return [f"w{i}" for i in range(model.G.num_ws)]
    return [f"w{i} ({res[i // 2]}x{res[i // 2]})" for i in range(model.G.num_ws)]


def noise_mode(name: str) -> str:
    """The generator's noise mode for a control value: random, constant (const) or off (none)."""
    if name not in NOISE_MODES:
        raise ValueError(f"noise must be random, constant or off, got {str(name)[:20]!r}")
    return NOISE_MODES[name]


@torch.no_grad()
def seed_ws(model: LatentModel, seeds, psi: float = 1.0, cutoff: int | None = None) -> torch.Tensor:
    """The ws (N, num_ws, w_dim) of seeds, truncated by psi on the first `cutoff` layers."""
    require_style(model)
    ws = model.G.mapping(model.latents(list(seeds)))
    return truncate(ws, model.G.w_avg, float(psi), cutoff)


@torch.no_grad()
def synthesize(model: LatentModel, ws: torch.Tensor, noise: str = "const", noise_seed: int = 0) -> torch.Tensor:
    """Images of ws; 'random' noise is drawn from `noise_seed` (the same seed, the same noise)."""
    mode = noise_mode(noise)
    if mode != "random":
        return model.G.synthesis(ws, mode)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(noise_seed))
        return model.G.synthesis(ws, mode)


def _check_psi(psi: float, cutoff: int | None, num_ws: int) -> None:
    if not 0.0 <= float(psi) <= 1.0:
        raise ValueError(f"truncation psi must be between 0 and 1, got {psi}")
    if cutoff is not None and not 0 <= int(cutoff) <= num_ws:
        raise ValueError(f"truncation cutoff must be between 0 and {num_ws} layers, got {cutoff}")


def mix_grid(model: LatentModel, a_seeds, b_seeds, crossover="coarse", psi: float = 1.0,
             cutoff: int | None = None, noise: str = "const", noise_seed: int = 0):
    """The StyleGAN figure: A's images (Na, C, H, W), B's (Nb, ...) and the mixes (Na, Nb, C, H, W) where
    mix[i, j] has A_i's styles except B_j's on the crossover layers. One synthesis call for all."""
    require_style(model)
    a_seeds, b_seeds = list(a_seeds), list(b_seeds)
    for side, s in (("A", a_seeds), ("B", b_seeds)):
        if not 1 <= len(s) <= MAX_SEEDS:
            raise ValueError(f"give 1 to {MAX_SEEDS} {side} seeds, got {len(s)}")
    _check_psi(psi, cutoff, model.G.num_ws)
    layers = layers_of(model, crossover)
    ws = seed_ws(model, a_seeds + b_seeds, psi, cutoff)
    na, nb = len(a_seeds), len(b_seeds)
    wa, wb = ws[:na], ws[na:]
    mixed = mix(wa.repeat_interleave(nb, 0), wb.repeat(na, 1, 1), layers)
    img = synthesize(model, torch.cat([ws, mixed]), noise, noise_seed)
    return img[:na], img[na:na + nb], img[na + nb:].reshape(na, nb, *img.shape[1:])


def mix_one(model: LatentModel, a_seed: int, b_seed: int, crossover="coarse", psi: float = 1.0,
            cutoff: int | None = None, noise: str = "const", noise_seed: int = 0) -> torch.Tensor:
    """One mix (1, C, H, W): A's styles with B's on the crossover layers."""
    require_style(model)
    _check_psi(psi, cutoff, model.G.num_ws)
    ws = seed_ws(model, [a_seed, b_seed], psi, cutoff)
    return synthesize(model, mix(ws[:1], ws[1:], layers_of(model, crossover)), noise, noise_seed)


def variation(model: LatentModel, seed: int, n: int = 8, psi: float = 1.0, cutoff: int | None = None,
              noise_seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Stochastic variation (the paper's figure 4): one w, n random noises. Returns the samples
    (n, C, H, W) and the per-pixel standard deviation over them, averaged over channels, (H, W)."""
    require_style(model)
    if not 2 <= int(n) <= MAX_VARIATION:
        raise ValueError(f"samples must be between 2 and {MAX_VARIATION}, got {n}")
    _check_psi(psi, cutoff, model.G.num_ws)
    ws = seed_ws(model, [seed], psi, cutoff).expand(int(n), -1, -1)
    x = synthesize(model, ws, "random", noise_seed)
    return x, x.std(0).mean(0)


# ----- measuring what mixing does (shapes factors) -------------------------------------------------------
def _reads_as(f: str, got: torch.Tensor, want: torch.Tensor, n_bins: int) -> torch.Tensor:
    """Whether a factor reading equals `want` (within one bin for continuous factors; rotation circular)."""
    if f in ("shape", "colour"):
        return got == want
    d = (got - want).abs()
    if f == "rotation":
        d = torch.minimum(d, n_bins - d)
    return d <= 1


def _distinct(f: str, a: torch.Tensor, b: torch.Tensor, n_bins: int) -> torch.Tensor:
    """Pairs whose A and B readings can be told apart: different categories, or continuous bins more
    than one bin apart (both defined)."""
    ok = (a >= 0) & (b >= 0)
    return ok & ~_reads_as(f, a, b, n_bins)


@torch.no_grad()
def mixing_report(model: LatentModel, n_pairs: int = 500, seed: int = 0, ppl_samples: int = 1000,
                  eps: float = 1e-2, progress=None) -> dict:
    """What mixing copies, measured with the shapes evaluators (the model must draw shapes sprites).

    - `mixing`: crossover -> factor -> share of mixes (A's styles, B's on the crossover layers; noise
      constant, no truncation) whose factor reads as B's value, over the pairs where A's and B's readings
      differ (continuous factors: by more than one bin; a mix then counts as B's within one bin);
      `mixing_pairs` the number of such pairs per crossover and factor.
    - `noise_unchanged`: the share of seeds whose shape, x, y and colour readings are the same under two
      different random noises.
    - `ppl_z`, `ppl_w`: perceptual path length (Karras et al. 2019, 4.1) with interpolation in Z (slerp)
      and in W (lerp): E[d(G(t), G(t + eps)) / eps^2], d the squared distance of the shapes classifier's
      features, t uniform in [0, 1], the 1 % extremes left out as in the paper.
    - `grid_ms`: the median wall time of a 4x4 mixing grid with its 8 sources (24 images, CPU)."""
    from ..metrics import classifier as cm
    from ..metrics.image_eval import evaluator

    require_style(model)
    if not 10 <= int(n_pairs) <= 10_000:
        raise ValueError(f"pairs must be between 10 and 10000, got {n_pairs}")
    factors, _ = evaluator("shapes-factors")
    clf, _ = evaluator("shapes")
    bins = {f: len(v) for f, v in factors.cfg.bin_names().items()}
    G = model.G
    ws = G.mapping(models.sample_latent(model.spec, 2 * n_pairs, torch.Generator().manual_seed(seed)))
    wa, wb = ws[:n_pairs], ws[n_pairs:]
    step = lambda what, k, total: progress and progress(what, k / total)  # noqa: E731
    read = lambda x: cm.factor_predictions(factors, x)  # noqa: E731
    pa, pb = read(G.synthesis(wa, "const")), read(G.synthesis(wb, "const"))
    table, pairs = {}, {}
    for k, cross in enumerate(CROSSOVERS):
        step("mixing", k, 5)
        pm = read(G.synthesis(mix(wa, wb, crossover_layers(G.num_ws, cross)), "const"))
        table[cross], pairs[cross] = {}, {}
        for f in MIX_FACTORS:
            keep = _distinct(f, pa[f], pb[f], bins[f])
            hit = _reads_as(f, pm[f], pb[f], bins[f]) & keep
            pairs[cross][f] = int(keep.sum())
            table[cross][f] = round(float(hit.sum()) / max(1, int(keep.sum())), 4)
    step("noise", 3, 5)
    n1 = read(synthesize(model, wa, "random", seed + 1))
    n2 = read(synthesize(model, wa, "random", seed + 2))
    same = torch.ones(n_pairs, dtype=torch.bool)
    for f in ("shape", "x", "y", "colour"):
        same &= n1[f] == n2[f]
    step("path length", 4, 5)
    ppl = path_lengths(model, clf, ppl_samples, seed, eps)
    return {"mixing": table, "mixing_pairs": pairs, "noise_unchanged": round(float(same.float().mean()), 4),
            **ppl, "grid_ms": round(grid_time_ms(model), 2), "pairs": int(n_pairs)}


def _slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    a, b = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
    d = (a * b).sum(1, keepdim=True).clamp(-1, 1)
    p = t * torch.acos(d)
    c = b - d * a
    c = c / c.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return a * torch.cos(p) + c * torch.sin(p)


@torch.no_grad()
def path_lengths(model: LatentModel, clf, n: int = 1000, seed: int = 0, eps: float = 1e-2) -> dict:
    """Perceptual path length in Z and in W (see `mixing_report`)."""
    from ..metrics import classifier as cm

    G = model.G
    gen = torch.Generator().manual_seed(seed + 7)
    z0, z1 = (models.sample_latent(model.spec, n, gen) for _ in range(2))
    t = torch.rand(n, 1, generator=gen) * (1 - eps)
    feats = lambda x: torch.from_numpy(cm.features(clf, x))  # noqa: E731

    def ppl(x0: torch.Tensor, x1: torch.Tensor) -> float:
        d = ((feats(x0) - feats(x1)) ** 2).sum(1) / eps ** 2
        lo, hi = np.percentile(d.numpy(), [1, 99])
        keep = (d >= lo) & (d <= hi)
        return float(d[keep].mean())

    za, zb = _slerp(z0, z1, t), _slerp(z0, z1, t + eps)
    out = {"ppl_z": ppl(G.synthesis(G.mapping(za), "const"), G.synthesis(G.mapping(zb), "const"))}
    w0, w1 = G.mapping(z0)[:, 0], G.mapping(z1)[:, 0]
    wa, wb = torch.lerp(w0, w1, t), torch.lerp(w0, w1, t + eps)
    rep = lambda w: w[:, None].expand(-1, G.num_ws, -1)  # noqa: E731
    out["ppl_w"] = ppl(G.synthesis(rep(wa), "const"), G.synthesis(rep(wb), "const"))
    return {k: round(v, 4) for k, v in out.items()}


def grid_time_ms(model: LatentModel, repeats: int = 7) -> float:
    """Median wall time (ms) of a 4x4 mixing grid with its 8 sources."""
    mix_grid(model, [1, 2, 3, 4], [5, 6, 7, 8], "coarse")  # warm-up: first calls set up kernels
    times = []
    for r in range(repeats):
        t0 = time.perf_counter()
        mix_grid(model, [1, 2, 3, 4], [5, 6, 7, 8], "coarse")
        times.append(1000 * (time.perf_counter() - t0))
    return float(np.median(times))


# ----- pictures ----------------------------------------------------------------------------------------------
def figure(a: torch.Tensor, b: torch.Tensor, mixes: torch.Tensor, scale: int = 2, gap: int = 2) -> np.ndarray:
    """The StyleGAN mixing figure as uint8 (H, W, 3): B's images along the top, A's down the left, the mix
    of row i and column j inside; the top-left corner is blank, a wider gutter sets the sources apart."""
    from ..viz.explore import tile

    na, nb = len(a), len(b)
    t = tile(a[0], scale)
    h, w = t.shape[:2]
    H = (na + 1) * h + na * gap + 2 * gap
    W = (nb + 1) * w + nb * gap + 2 * gap
    out = np.full((H, W, 3), 255, np.uint8)

    def put(img, i, j):  # i, j: row and column in the figure (0 = the sources' row / column)
        y = i * (h + gap) + (2 * gap if i else 0)
        x = j * (w + gap) + (2 * gap if j else 0)
        out[y:y + h, x:x + w] = tile(img, scale)

    for j in range(nb):
        put(b[j], 0, j + 1)
    for i in range(na):
        put(a[i], i + 1, 0)
        for j in range(nb):
            put(mixes[i, j], i + 1, j + 1)
    return out


def variation_figure(samples: torch.Tensor, std: torch.Tensor, scale: int = 2, cols: int = 8) -> np.ndarray:
    """Samples in rows of `cols`, then the per-pixel standard deviation (white = most variation)."""
    from ..viz.explore import image_grid

    grid = image_grid(samples, min(cols, len(samples)), scale)
    s = std / std.max().clamp_min(1e-8)
    heat = (s * 2 - 1)[None, None].expand(1, 3, -1, -1)
    heat_img = image_grid(heat, 1, scale * 2)
    h = max(grid.shape[0], heat_img.shape[0])
    pad = lambda x: np.pad(x, ((0, h - x.shape[0]), (0, 0), (0, 0)), constant_values=255)  # noqa: E731
    return np.concatenate([pad(grid), np.full((h, 8, 3), 255, np.uint8), pad(heat_img)], 1)

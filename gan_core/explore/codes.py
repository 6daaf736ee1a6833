"""Turning InfoGAN's code knobs on a frozen generator: a latent with the noise of one seed and chosen codes,
and the paper's sweep grids (rows = categories or seeds, columns = values of one code, the noise fixed).

Continuous codes are trained uniform in [-1, 1]; the knobs reach +-2 (KNOB_MAX), where the InfoGAN paper
shows codes still meaningful beyond their training range.
"""

from __future__ import annotations

import math

import torch

from ..models.base import LatentSpec

KNOB_MAX = 2.0  # continuous knobs and sweep values go from -KNOB_MAX to +KNOB_MAX
TRAIN_RANGE = 1.0  # continuous codes are drawn uniform in [-TRAIN_RANGE, TRAIN_RANGE] in training
MAX_COLUMNS = 16  # values along a sweep
MAX_ROWS = 16  # rows of a sweep grid (categories or seeds)


def require_codes(spec: LatentSpec) -> None:
    if not getattr(spec, "has_codes", False):
        raise ValueError("this generator has no InfoGAN codes: choose a model trained with codes "
                         "(e.g. the digits-infogan or shapes-infogan preset)")


def check_category(spec: LatentSpec, cat) -> int:
    """The category as an int in [0, n_cat); ValueError naming the Category control otherwise."""
    if spec.n_cat == 0:
        raise ValueError("this generator has no categorical code")
    try:
        c = int(cat)
        ok = float(cat) == c
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok or not 0 <= c < spec.n_cat:
        raise ValueError(f"Category must be a whole number from 0 to {spec.n_cat - 1}, got {str(cat)[:20]!r}")
    return c


def check_knob(value, i: int) -> float:
    """A continuous knob's value as a float in [-2, 2]; ValueError naming the knob (Code i+1) otherwise."""
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        v = float("nan")
    if not math.isfinite(v) or abs(v) > KNOB_MAX:
        raise ValueError(f"Code {i + 1} must be a number from -{KNOB_MAX:g} to {KNOB_MAX:g}, got {str(value)[:20]!r}")
    return v


def with_codes(spec: LatentSpec, z: torch.Tensor, cat: int | None, cont) -> torch.Tensor:
    """Latents z (n, z_dim) with their codes replaced: one-hot `cat` (when the model has a category) and
    the continuous values `cont` (n_cont numbers, or None to keep z's own)."""
    require_codes(spec)
    z = z.clone()
    k = spec.noise_dim
    if spec.n_cat and cat is not None:
        z[:, k:k + spec.n_cat] = 0.0
        z[:, k + check_category(spec, cat)] = 1.0
    if spec.n_cont and cont is not None:
        vals = [check_knob(v, i) for i, v in enumerate(cont)]
        if len(vals) != spec.n_cont:
            raise ValueError(f"expected {spec.n_cont} continuous code values, got {len(vals)}")
        z[:, k + spec.n_cat:] = torch.tensor(vals, dtype=z.dtype)
    return z


def sweep_values(n: int, lo: float = -KNOB_MAX, hi: float = KNOB_MAX) -> list[float]:
    """n values evenly from lo to hi (the sweep's columns)."""
    if not 2 <= n <= MAX_COLUMNS:
        raise ValueError(f"Columns must be between 2 and {MAX_COLUMNS}, got {n}")
    if not (-KNOB_MAX <= lo < hi <= KNOB_MAX):
        raise ValueError(f"the sweep range must lie within -{KNOB_MAX:g} to {KNOB_MAX:g}, low below high")
    return [lo + (hi - lo) * i / (n - 1) for i in range(n)]


def sweep_latents(spec: LatentSpec, base: torch.Tensor, rows: str, code: int, values: list[float],
                  seeds_z: torch.Tensor | None = None, cat: int | None = None,
                  cont=None) -> torch.Tensor:
    """Latents of a sweep grid, row-major (R * C, z_dim): columns are `values` of continuous code `code`
    (0-based); rows are every category (rows='categories', the noise of `base`) or the noise of each
    latent in `seeds_z` (rows='seeds', category `cat`). Other continuous codes stay at `cont`."""
    require_codes(spec)
    if not 0 <= code < spec.n_cont:
        raise ValueError(f"Code to sweep must be between 1 and {spec.n_cont}, got {code + 1}")
    cont = [0.0] * spec.n_cont if cont is None else list(cont)
    if rows == "categories":
        if not spec.n_cat:
            raise ValueError("rows of categories need a categorical code; choose rows of seeds")
        starts = [with_codes(spec, base.reshape(1, -1), c, cont) for c in range(spec.n_cat)]
    elif rows == "seeds":
        if seeds_z is None or not 1 <= len(seeds_z) <= MAX_ROWS:
            raise ValueError(f"rows of seeds need 1 to {MAX_ROWS} seeds")
        starts = [with_codes(spec, z.reshape(1, -1), cat if spec.n_cat else None, cont) for z in seeds_z]
    else:
        raise ValueError(f"Rows must be 'categories' or 'seeds', got {str(rows)[:20]!r}")
    out = []
    col = spec.noise_dim + spec.n_cat + code
    for s in starts:
        for v in values:
            z = s.clone()
            z[0, col] = float(v)
            out.append(z)
    return torch.cat(out)


def category_latents(spec: LatentSpec, base: torch.Tensor, seeds_z: torch.Tensor, cont=None) -> torch.Tensor:
    """Rows = seeds (their noise), columns = categories, continuous codes at `cont` (the paper's figure of
    a categorical code): (R * K, z_dim)."""
    require_codes(spec)
    if not spec.n_cat:
        raise ValueError("this generator has no categorical code to sweep")
    cont = [0.0] * spec.n_cont if cont is None else list(cont)
    return torch.cat([with_codes(spec, z.reshape(1, -1), c, cont) for z in seeds_z for c in range(spec.n_cat)])

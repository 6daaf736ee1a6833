"""Mode metrics on hand-made sample sets: perfect, collapsed, off-mode."""

import math

import pytest
import torch

from gan_core.data import toy2d
from gan_core.metrics.modes import grid_divergences, mode_stats


def test_perfect_samples_cover_every_mode():
    d = toy2d.ring()
    x = d.modes.repeat(100, 1)  # exactly on the modes, equal counts
    m = mode_stats(x, d.modes, d.sigma)
    assert m["modes"] == 8 and m["hq"] == 1.0 and m["reverse_kl"] == pytest.approx(0.0, abs=1e-12)


def test_collapsed_samples_cover_one_mode():
    d = toy2d.grid()
    x = d.modes[7].repeat(2500, 1) + 0.01 * torch.randn(2500, 2)
    m = mode_stats(x, d.modes, d.sigma)
    assert m["modes"] == 1 and m["hq"] == 1.0
    assert m["reverse_kl"] == pytest.approx(math.log(25))


def test_off_mode_samples_are_not_high_quality():
    d = toy2d.ring()
    x = torch.zeros(2500, 2)  # the centre of the ring: 1.0 away from every mode
    m = mode_stats(x, d.modes, d.sigma)
    assert m["modes"] == 0 and m["hq"] == 0.0 and m["reverse_kl"] == pytest.approx(math.log(8))


def test_three_sigma_boundary():
    d = toy2d.ring()
    inside = d.modes[:1] + torch.tensor([[0.0299, 0.0]])
    outside = d.modes[:1] + torch.tensor([[0.0301, 0.0]])
    assert mode_stats(inside, d.modes, d.sigma)["hq"] == 1.0
    assert mode_stats(outside, d.modes, d.sigma)["hq"] == 0.0


def test_half_coverage_reverse_kl_is_log2():
    d = toy2d.ring()
    x = d.modes[:4].repeat(50, 1)
    assert mode_stats(x, d.modes, d.sigma)["reverse_kl"] == pytest.approx(math.log(2))


def test_nan_samples_read_as_nothing_covered():
    d = toy2d.ring()
    assert mode_stats(torch.full((10, 2), float("nan")), d.modes, d.sigma)["modes"] == 0


def test_grid_divergences_zero_for_identical_sets_and_positive_otherwise():
    g = torch.Generator().manual_seed(0)
    d = toy2d.ring()
    a = d.sample(5000, g)
    same = grid_divergences(a, a, d.extent)
    assert same["kl_grid"] == pytest.approx(0, abs=1e-9) and same["js_grid"] == pytest.approx(0, abs=1e-9)
    other = grid_divergences(a, torch.zeros(5000, 2), d.extent)
    assert other["kl_grid"] > 1 and 0 < other["js_grid"] <= math.log(2) + 1e-9

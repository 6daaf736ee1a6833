"""2D datasets: the PacGAN ring and grid exactly, seeded sampling, and user data validation."""

import math

import numpy as np
import pytest
import torch

from gan_core.data import toy2d


def test_ring_modes_and_sigma():
    d = toy2d.ring()
    assert d.modes.shape == (8, 2) and d.sigma == 0.01
    radii = d.modes.norm(dim=1)
    assert torch.allclose(radii, torch.ones(8), atol=1e-6)
    # endpoint=False: 8 distinct angles 45 degrees apart, no two modes coincide
    ang = torch.atan2(d.modes[:, 1], d.modes[:, 0]).sort().values
    assert torch.allclose(ang.diff(), torch.full((7,), math.pi / 4), atol=1e-5)


def test_grid_modes_and_sigma():
    d = toy2d.grid()
    assert d.modes.shape == (25, 2) and d.sigma == 0.05
    assert sorted(set(d.modes[:, 0].tolist())) == [-4, -2, 0, 2, 4]


def test_samples_have_the_right_spread():
    d = toy2d.ring()
    x = d.sample(20000, torch.Generator().manual_seed(0))
    dist = torch.cdist(x, d.modes).min(1).values
    assert (dist <= 3 * d.sigma).float().mean() > 0.98  # a 2D Gaussian: P(r <= 3 sigma) = 0.989
    counts = torch.bincount(torch.cdist(x, d.modes).argmin(1), minlength=8)
    assert counts.min() > 20000 / 8 * 0.9


def test_sampling_is_seeded():
    for name in toy2d.BUILTIN:
        d = toy2d.get(name)
        a = d.sample(100, torch.Generator().manual_seed(3))
        b = d.sample(100, torch.Generator().manual_seed(3))
        c = d.sample(100, torch.Generator().manual_seed(4))
        assert torch.equal(a, b) and not torch.equal(a, c), name
        assert a.shape == (100, 2) and torch.isfinite(a).all()


def test_csv_with_header_and_semicolons():
    pts = toy2d.parse_csv("x;y\n1;2\n3;4\n5;6\n")
    assert pts.tolist() == [[1, 2], [3, 4], [5, 6]]
    d = toy2d.from_csv("0,0\n2,2\n")
    assert d.points.abs().max().item() == pytest.approx(1.0)


@pytest.mark.parametrize("text,message", [
    ("1,2\nfoo,bar\n", "line 2"),
    ("1,2\n3,nan\n", "NaN"),
    ("1,2\n", "at least 2"),
    ("1\n2\n", "expected two numbers"),
    (b"\x89PNG\r\n\x1a\n\x00\xff\xfe", "not UTF-8"),
    ("", "at least 2"),
])
def test_bad_csv_gets_a_clear_message(text, message):
    with pytest.raises(toy2d.PointsError, match=message):
        toy2d.from_csv(text)


def test_points_validation():
    with pytest.raises(toy2d.PointsError, match="same"):
        toy2d.from_points(np.ones((5, 2)))
    with pytest.raises(toy2d.PointsError, match="not a finite"):
        toy2d.from_points(np.array([[0, 0], [np.inf, 1]]))


def test_drawing_samples_along_strokes():
    mask = np.zeros((100, 100), bool)
    mask[50, 10:90] = True  # one horizontal stroke through the middle
    d = toy2d.from_drawing(mask)
    x = d.sample(1000, torch.Generator().manual_seed(0))
    assert x[:, 1].abs().max() < 0.1  # all points near the stroke's height
    assert x[:, 0].min() < -0.8 and x[:, 0].max() > 0.8  # spread along it


def test_empty_drawing_is_refused():
    with pytest.raises(toy2d.PointsError, match="empty"):
        toy2d.from_drawing(np.zeros((64, 64)))

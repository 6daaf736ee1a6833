"""The shapes factor evaluator: its bins, its file format, and the shipped one's held-out figures, checked
again on fresh sprites and on crafted ones whose factors are known."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
import torch

from gan_core.data import shapes
from gan_core.metrics import classifier as mc
from gan_core.metrics import image_eval
from gan_core.models import evaluators as ev

torch.set_num_threads(1)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PATH = os.path.join(ROOT, "checkpoints", ev.RECIPES["shapes-factors"]["file"])
SQUARE, CIRCLE, TRIANGLE, HEART = range(4)


@pytest.fixture(scope="module")
def shipped():
    if not os.path.isfile(PATH):
        pytest.fail(f"shipped evaluator {PATH} is missing; build it with "
                    "`python -m gan_core.models.evaluators --which shapes-factors --out checkpoints`")
    return ev.load_evaluator(PATH)


def crafted(n: int, seed: int, **fixed) -> tuple[torch.Tensor, dict]:
    """n random sprites with some factors fixed (e.g. scale=0.6); x, y stay inside the image."""
    f = shapes.sample_factors(n, seed)
    for k, v in fixed.items():
        f[k] = np.full(n, v, dtype=f[k].dtype)
    if "x" not in fixed or "y" not in fixed:  # re-place the sprites for the scales they now have
        margin = shapes.RADIUS * f["scale"]
        u = np.random.default_rng(seed + 1).uniform(0, 1, (2, n))
        for k, uk in zip(("x", "y"), u):
            if k not in fixed:
                f[k] = margin + uk * (1 - 2 * margin)
    return shapes.render_shapes(f["shape"], f["scale"], f["rotation"], f["x"], f["y"], f["colour"]), f


def test_factor_bins_follow_the_definitions():
    cfg = ev.FactorNetConfig()
    deg = math.pi / 180
    f = {"shape": [SQUARE, SQUARE, TRIANGLE, TRIANGLE, HEART, HEART, CIRCLE],
         "rotation": [10 * deg, 100 * deg, 130 * deg, 250 * deg, 100 * deg, 300 * deg, 45 * deg],
         "scale": [0.5, 0.66, 0.67, 0.8, 0.84, 0.99, 0.75], "x": [0.15, 0.3, 0.5, 0.6, 0.8, 0.85, 0.25],
         "y": [0.85, 0.7, 0.49, 0.4, 0.2, 0.15, 0.75], "colour": [0, 1, 2, 3, 4, 5, 0]}
    b = {k: v.tolist() for k, v in ev.factor_bins(cfg, f).items()}
    # square: mod 90 (10 -> 0.11, 100 -> 0.11); triangle: mod 120 (130 -> 0.08, 250 -> 0.08);
    # heart: mod 360 (100 -> 0.28, 300 -> 0.83); a circle has no rotation
    assert b["rotation"] == [0, 0, 0, 0, 1, 3, ev.UNDEFINED]
    assert b["scale"] == [0, 0, 1, 1, 2, 2, 1]  # edges 2/3 and 5/6
    assert b["x"] == [0, 1, 2, 2, 3, 3, 1] and b["y"] == [3, 2, 1, 1, 0, 0, 3]  # quarters, edge -> upper
    assert b["shape"] == f["shape"] and b["colour"] == f["colour"]
    names = cfg.bin_names()
    assert names["scale"] == ["0.50-0.67", "0.67-0.83", "0.83-1.00"] and len(names["rotation"]) == 4
    assert list(cfg.n_bins().values()) == [4, 3, 4, 4, 4, 6]
    with pytest.raises(ValueError, match="edges"):
        ev.FactorNetConfig(edges={"scale": [0.8, 0.6], "x": [0.5], "y": [0.5], "rotation": [0.5]})


def test_factor_net_trains_deterministically_and_round_trips(tmp_path):
    data = shapes.make_shapes(160, size=16, seed=5)
    m1, rep1 = ev.train_factor_net(data, epochs=1, seed=2, width=4)
    m2, _ = ev.train_factor_net(data, epochs=1, seed=2, width=4)
    for (k, a), b in zip(m1.state_dict().items(), m2.state_dict().values()):
        assert torch.equal(a, b), f"training is not deterministic for {k}"
    assert set(rep1["held_out"][ev.FACTOR_ACCURACY]) == set(ev.FACTORS)
    path = str(tmp_path / "factors.safetensors")
    card_path = ev.save_evaluator(path, m1, {"held_out": rep1["held_out"]})
    m3, card = ev.load_evaluator(path)
    assert card == json.load(open(card_path)) and card["kind"] == "factors"
    assert card["bin_names"]["colour"] == shapes.PALETTE_NAMES
    x = data.images[:6]
    assert torch.allclose(m1(x), m3(x))
    pred = mc.factor_predictions(m3, x)
    assert set(pred) == set(ev.FACTORS) and all(v.shape == (6,) for v in pred.values())
    assert (pred["rotation"][pred["shape"] == CIRCLE] == ev.UNDEFINED).all()
    probs = mc.factor_predictions(m3, x, probs=True)
    assert probs["colour"].shape == (6, 6)
    assert torch.allclose(probs["scale"].sum(1), torch.ones(6, dtype=torch.float64))
    with pytest.raises(ValueError, match="factor evaluator"):
        mc.factor_predictions(torch.nn.Identity(), x)


def test_shipped_factor_evaluator_loads_and_its_card_meets_the_target(shipped):
    model, card = shipped
    assert isinstance(model, ev.FactorNet) and card["kind"] == "factors"
    assert os.path.getsize(PATH) < 2**20, "the factor evaluator stays under 1 MB"
    assert card["command"] == "python -m gan_core.models.evaluators --which shapes-factors --out checkpoints"
    assert card["epochs"] >= 1 and card["train_seconds"] > 0 and card["n_held_out"] == 1500
    target = card["target"][ev.MIN_ACCURACY]
    assert target >= 0.9
    acc = card["held_out"][ev.FACTOR_ACCURACY]
    assert set(acc) == set(ev.FACTORS) and set(card["factors"]) == set(ev.FACTORS)
    assert all(a >= target for a in acc.values()), acc
    assert card["held_out"][ev.MIN_ACCURACY] == min(acc.values())
    assert image_eval.evaluator("shapes-factors")[1] == card


@pytest.mark.slow
def test_shipped_factor_evaluator_meets_its_card_on_fresh_shapes(shipped):
    model, card = shipped
    fresh = shapes.make_shapes(1500, size=card["dataset"]["size"], seed=4321)
    pred = mc.factor_predictions(model, fresh)
    true = ev.factor_bins(model.cfg, fresh.factors)
    for f in ev.FACTORS:
        keep = true[f] != ev.UNDEFINED
        acc = float((pred[f] == true[f])[keep].float().mean())
        assert acc >= card["held_out"][ev.FACTOR_ACCURACY][f] - 0.03, f
        assert acc >= card["target"][ev.MIN_ACCURACY] - 0.02, f
    assert ev.evaluate_factors(model, fresh)[ev.MIN_ACCURACY] >= card["target"][ev.MIN_ACCURACY] - 0.02


@pytest.mark.parametrize("scale,want", [(0.55, 0), (0.75, 1), (0.95, 2)])
def test_one_known_scale_reads_as_its_bin(shipped, scale, want):
    model, _ = shipped
    images, _ = crafted(120, seed=11, scale=scale)
    hist = mc.factor_histograms(model, images)["scale"]
    assert hist[want] >= 0.95 * 120, hist


def test_known_position_colour_and_rotation_read_as_their_bins(shipped):
    model, _ = shipped
    images, _ = crafted(120, seed=12, x=0.375, y=0.625, scale=0.7)  # in quarters 1 and 2
    pred = mc.factor_predictions(model, images)
    assert (pred["x"] == 1).float().mean() >= 0.95 and (pred["y"] == 2).float().mean() >= 0.95
    for c in range(len(shapes.PALETTE)):
        images, _ = crafted(30, seed=20 + c, colour=c)
        assert (mc.factor_predictions(model, images)["colour"] == c).all()
    deg = math.pi / 180
    for shape, rot, want in ((SQUARE, 11 * deg, 0), (SQUARE, 56 * deg, 2), (TRIANGLE, 75 * deg, 2),
                             (HEART, 225 * deg, 2), (HEART, 315 * deg, 3)):  # period centres of the bins
        images, _ = crafted(40, seed=30, shape=shape, rotation=rot, scale=0.9)
        got = mc.factor_predictions(model, images)["rotation"]
        assert (got == want).float().mean() >= 0.9, (shape, rot / deg, got.tolist())
    images, _ = crafted(40, seed=31, shape=CIRCLE)
    assert (mc.factor_predictions(model, images)["rotation"] == ev.UNDEFINED).all()

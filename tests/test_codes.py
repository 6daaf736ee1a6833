"""InfoGAN's codes: the engine's closed-form gradient of the Gaussian Q term, the information bound and its
ceiling, Hungarian category accuracy, the code x factor table, knob validation, sweep latents, and on the
shipped digits model that the category changes the digit the classifier reads more than the noise does."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from gan_core import checkpoint, losses, models
from gan_core.explore import codes as cx
from gan_core.metrics import codes as mc
from gan_core.training.config import TrainConfig
from gan_core.training.conv_engine import info_grads

CHECKPOINTS = Path(__file__).resolve().parent.parent / "checkpoints"
SPEC = models.LatentSpec(z_dim=8 + 4 + 2, n_cat=4, n_cont=2)


def test_engine_gradient_of_the_gaussian_q_term_matches_autograd():
    z = models.sample_latent(SPEC, 32, torch.Generator().manual_seed(0)).double()
    q = (torch.randn(32, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 3).requires_grad_()
    loss = losses.info_loss(q, *models.split_codes(SPEC, z), 0.7, 1.3)
    (grad,) = torch.autograd.grad(loss, q)
    loss2, grad2 = info_grads(q.detach(), SPEC, z, 0.7, 1.3)
    assert float(loss2) == pytest.approx(float(loss.detach()), rel=1e-12)
    assert torch.allclose(grad, grad2, atol=1e-12)
    assert (grad2[:, 4 + 2:][q.detach()[:, 6:].abs() > 4] == 0).all()  # clamped log-variances get no gradient


def test_lambdas_are_validated():
    with pytest.raises(ValueError, match="lambda_cont must be in"):
        TrainConfig(lambda_cont=-1.0)
    with pytest.raises(ValueError, match="lambda_shift must be in"):
        TrainConfig(lambda_shift=101.0)
    assert TrainConfig.from_dict({"lambda_cat": 2.0}).lambda_cat == 2.0


def test_cluster_loss_rewards_confident_balanced_categories_that_survive_a_shift():
    k, bal = 5, losses.CLUSTER_BALANCE
    sure = torch.eye(k).repeat(4, 1) * 30  # every image sure of its category, each category used as often
    assert float(losses.cluster_loss(sure, None)) == pytest.approx(-bal * math.log(k), abs=1e-5)  # H(Y|X) = 0
    unsure = float(losses.cluster_loss(torch.zeros(20, k), None))
    assert unsure == pytest.approx((1 - bal) * math.log(k), abs=1e-5)
    one = torch.zeros(20, k)
    one[:, 0] = 30  # sure, but all of one category
    assert float(losses.cluster_loss(one, None)) == pytest.approx(0.0, abs=1e-5)
    assert -bal * math.log(k) < unsure < 0  # the sure, balanced sorting is the best of the three
    logits = torch.randn(20, k, generator=torch.Generator().manual_seed(0))
    assert float(losses.cluster_loss(logits, logits, 1.0, 3.0)) == pytest.approx(
        float(losses.cluster_loss(logits, None)), abs=1e-6)  # the same reading after the shift costs nothing
    moved = torch.roll(logits, 1, 1)
    assert float(losses.cluster_loss(logits, moved, 0.0, 1.0)) > 0.1
    g_real, g_shift = losses.cluster_grads(logits, moved, 0.7, 1.3)
    a, b = logits.clone().requires_grad_(), moved.clone().requires_grad_()
    want = torch.autograd.grad(losses.cluster_loss(a, b, 0.7, 1.3), [a, b])
    assert torch.allclose(g_real, want[0], atol=1e-7) and torch.allclose(g_shift, want[1], atol=1e-7)
    x = torch.randn(3, 1, 8, 8)
    for seed in range(8):
        y = losses.shifted(x, torch.Generator().manual_seed(seed))
        r = range(-losses.SHIFT_PX, losses.SHIFT_PX + 1)
        hits = [(dy, dx) for dy in r for dx in r if torch.equal(y, torch.roll(x, (dy, dx), (2, 3)))]
        assert hits  # a whole-batch move of at most SHIFT_PX pixels in x and y


def test_other_views_turn_zoom_and_recolour_each_image_and_are_validated():
    from gan_core.data.shapes import PALETTE, render_shapes
    n = 64
    rng = np.random.default_rng(0)
    x = render_shapes(rng.integers(0, 4, n), np.full(n, 0.8), rng.uniform(0, 6.28, n), np.full(n, 0.5),
                      np.full(n, 0.5), rng.integers(0, len(PALETTE), n))
    y = losses.other_view(x, "turn+colour", torch.Generator().manual_seed(0))
    turns = set()
    for a, b in zip(x, y):
        hits = [(r, f, p) for r in range(4) for f in (False, True) for p in ((0, 1, 2), (0, 2, 1), (1, 0, 2),
                (1, 2, 0), (2, 0, 1), (2, 1, 0)) if torch.equal(
                    b, (lambda t: torch.flip(t, (2,)) if f else t)(torch.rot90(a, r, (1, 2)))[list(p)])]
        assert hits  # each image turned by a multiple of 90 degrees, maybe mirrored, its channels permuted
        turns.add(hits[0][:2])
    assert len(turns) >= 6  # drawn per image, not once for the batch
    assert sum(not torch.equal(a, b) for a, b in zip(x, y)) > n // 2
    assert torch.equal(losses.other_view(x[:, :1], "colour"), x[:, :1])  # grey images keep their channel
    circles = render_shapes(np.ones(n, int), np.full(n, 0.7), np.zeros(n), np.full(n, 0.5), np.full(n, 0.5),
                            np.zeros(n, int))
    area = ((circles[:, 0] + 1) / 2).sum((1, 2))
    zoomed = losses.other_view(circles, "zoom", torch.Generator().manual_seed(1))
    ratio = ((zoomed[:, 0] + 1) / 2).sum((1, 2)) / area  # the sprite's area scales by the zoom squared
    z2 = losses.ZOOM ** 2
    assert 0.95 / z2 < float(ratio.min()) < 0.9 and 1.1 < float(ratio.max()) < 1.05 * z2
    for bad in ("", "spin", "shift+shift", 3):
        with pytest.raises(ValueError, match="cluster_views must join"):
            TrainConfig(cluster_views=bad)


def test_clustering_real_images_trains_the_same_through_every_engine():
    from gan_core.training import presets
    from gan_core.training.trainer import Trainer
    cfg = presets.get("digits-infogan").config.replace(batch_size=16, g_ema=0.0, lambda_cluster=1.0,
                                                        lambda_shift=2.0)
    t, a = Trainer(cfg), Trainer(cfg)
    a.use_engine("autograd")
    assert t.engine == "conv-engine"
    t.step(), a.step()  # one round from the same state, the same shift drawn
    for ours, want in ((t.d_flat.grad, a.d_flat.grad), (t.g_flat.grad, a.g_flat.grad)):
        assert float((ours - want).norm() / want.norm()) < 1e-5
    plain = Trainer(cfg.replace(lambda_cluster=0.0, lambda_shift=0.0))
    plain.step()

    def q_grad(tr):
        return next(v for v, p in zip(tr.d_flat.grad_views, tr.d_flat.params) if p is tr.D.q_head.out.weight)
    assert not torch.allclose(q_grad(t), q_grad(plain))  # the real images' terms reach Q


def test_mi_bound_never_exceeds_its_ceiling():
    z = models.sample_latent(SPEC, 500, torch.Generator().manual_seed(2))
    cat, _ = models.split_codes(SPEC, z)
    for scale in (0.0, 1.0, 10.0, 100.0):
        q = torch.randn(500, 8, generator=torch.Generator().manual_seed(3)) * scale
        b = mc.mi_bounds(q, z, SPEC)
        assert b["mi_ceiling"] == pytest.approx(math.log(4)) and b["mi_bound"] <= b["mi_ceiling"]
    q = torch.zeros(500, 8)
    assert mc.mi_bounds(q, z, SPEC)["mi_bound"] == pytest.approx(0.0, abs=1e-9)  # Q guessing: no information
    q[torch.arange(500), cat] = 50.0
    assert mc.mi_bounds(q, z, SPEC)["mi_bound"] == pytest.approx(math.log(4), abs=1e-6)  # Q sure and right
    assert len(mc.mi_bounds(q, z, SPEC)["mi_bound_cont"]) == 2


def test_hungarian_accuracy_finds_the_best_matching():
    cat = np.array([0] * 10 + [1] * 10 + [2] * 10)
    lab = np.array([2] * 9 + [0] + [0] * 10 + [1] * 5 + [2] * 5)
    r = mc.hungarian_accuracy(cat, lab, 3, 3)
    assert r["matching"] == [2, 0, 1] and r["cat_accuracy"] == pytest.approx((9 + 10 + 5) / 30)
    assert np.array(r["confusion"]).sum() == 30
    r = mc.hungarian_accuracy(np.array([0, 1, 2, 3]), np.array([0, 0, 1, 1]), 4, 2)  # more categories than labels
    assert sorted(j for j in r["matching"] if j >= 0) == [0, 1] and r["cat_accuracy"] == 0.5


def test_code_factor_table_reads_r_eta_and_cramers_v():
    z = models.sample_latent(SPEC, 400, torch.Generator().manual_seed(4))
    cat, cont = models.split_codes(SPEC, z)
    factors = {"x": (cont[:, 0].double().numpy() * 3 + 1, True),  # c1 is x exactly
               "shape": (cat.double().numpy(), False),  # the category is the shape
               "noise": (np.random.default_rng(0).normal(size=400), True)}
    t = mc.code_factor_table(SPEC, z, factors)
    assert set(t) == {"category", "c1", "c2"}
    assert t["c1"]["x"] == pytest.approx(1.0) and abs(t["c2"]["x"]) < 0.2
    assert t["category"]["shape"] == pytest.approx(1.0) and abs(t["c1"]["noise"]) < 0.2


def test_knob_values_are_checked_and_set():
    z = torch.zeros(1, SPEC.z_dim)
    out = cx.with_codes(SPEC, z, 2, [1.5, -2.0])
    assert out[0, 8:12].tolist() == [0, 0, 1, 0] and out[0, 12:].tolist() == [1.5, -2.0]
    for bad, msg in (((4, None), "Category must be a whole number from 0 to 3"),
                     ((1.5, None), "Category must be a whole number"),
                     ((0, [2.5, 0]), "Code 1 must be a number from -2 to 2"),
                     ((0, [0, float("nan")]), "Code 2 must be a number"),
                     ((0, ["x", 0]), "Code 1 must be a number")):
        with pytest.raises(ValueError, match=msg):
            cx.with_codes(SPEC, z, *bad)
    with pytest.raises(ValueError, match="no InfoGAN codes"):
        cx.with_codes(models.LatentSpec(z_dim=8), torch.zeros(1, 8), 0, None)


def test_sweep_latents_have_the_promised_layout():
    base = models.sample_latent(SPEC, 1, torch.Generator().manual_seed(5))[0]
    vals = cx.sweep_values(5)
    assert vals == [-2.0, -1.0, 0.0, 1.0, 2.0]
    z = cx.sweep_latents(SPEC, base, "categories", 1, vals).reshape(4, 5, -1)  # rows = categories
    assert torch.equal(z[..., :8], base[:8].expand(4, 5, 8))  # the noise is fixed everywhere
    assert (z[..., 8:12].argmax(-1) == torch.arange(4)[:, None]).all()
    assert torch.equal(z[..., 13], torch.tensor(vals).expand(4, 5)) and (z[..., 12] == 0).all()
    seeds = models.sample_latent(SPEC, 3, torch.Generator().manual_seed(6))
    z = cx.sweep_latents(SPEC, base, "seeds", 0, vals, seeds, cat=2).reshape(3, 5, -1)  # rows = seeds
    assert torch.equal(z[:, 0, :8], seeds[:, :8]) and (z[..., 8:12].argmax(-1) == 2).all()
    z = cx.category_latents(SPEC, base, seeds).reshape(3, 4, -1)  # columns = categories
    assert (z[..., 8:12].argmax(-1) == torch.arange(4)).all()
    with pytest.raises(ValueError, match="Columns must be between 2 and 16"):
        cx.sweep_values(40)


@pytest.mark.slow
def test_the_category_changes_the_digit_more_than_the_noise_does():
    """On the shipped digits model with a 10-way code: with the noise fixed, the categories give different
    digits (as the classifier reads them); with the category fixed, the noise mostly keeps the digit."""
    from gan_core.metrics.classifier import fit_images
    from gan_core.metrics.image_eval import evaluator
    from gan_core.models.evaluators import predict

    path = CHECKPOINTS / "digits-infogan.safetensors"
    path = path if path.exists() else CHECKPOINTS / "digits-dcgan.safetensors"
    ck = checkpoint.load(str(path))
    G = ck.G.eval()
    spec = G.latent_spec
    clf, _ = evaluator("digits")
    seeds = models.sample_latent(spec, 40, torch.Generator().manual_seed(7))
    with torch.no_grad():
        by_cat = G(cx.category_latents(spec, seeds[0], seeds)).reshape(40, spec.n_cat, 1, 16, 16)
    digits = predict(clf, fit_images(clf, by_cat.reshape(-1, 1, 16, 16))).argmax(1).reshape(40, spec.n_cat)
    across_categories = np.mean([len(set(row.tolist())) for row in digits])  # distinct digits per seed
    across_noise = np.mean([len(set(col.tolist())) for col in digits[:spec.n_cat].T])  # per category, 10 seeds
    assert across_categories >= 6, across_categories
    assert across_categories > across_noise + 2, (across_categories, across_noise)


@pytest.mark.slow
def test_eval_codes_keys_and_ranges(tmp_path):
    import json
    import subprocess
    import sys

    path = CHECKPOINTS / "digits-dcgan.safetensors"
    p = subprocess.run([sys.executable, "-m", "gan_core", "eval", str(path), "--codes", "--samples", "500",
                        "--json"], capture_output=True, text=True, timeout=600,
                       cwd=Path(__file__).resolve().parent.parent)
    assert p.returncode == 0, p.stderr[-500:]
    r = json.loads(p.stdout.strip().splitlines()[-1])
    assert 0.5 <= r["cat_accuracy"] <= 1 and r["samples"] == 500
    assert r["mi_ceiling"] == pytest.approx(math.log(10)) and r["mi_bound"] <= r["mi_ceiling"]
    assert r["mi_ceiling"] - r["mi_bound"] < 0.1  # Q reads the shipped model's category back
    assert set(r["code_factor_r"]) == {"category"} and 0 <= r["code_factor_r"]["category"]["digit"] <= 1
    assert np.array(r["confusion"]).shape == (10, 10) and sorted(r["matching"]) == list(range(10))
    bad = subprocess.run([sys.executable, "-m", "gan_core", "eval", str(CHECKPOINTS / "stable-ring.safetensors"),
                          "--codes", "--json"], capture_output=True, text=True, timeout=300,
                         cwd=Path(__file__).resolve().parent.parent)
    assert bad.returncode == 2 and "--codes needs an image generator" in bad.stderr

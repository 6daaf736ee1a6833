"""GAN dissection: IoU of unit maps with class masks, ablation and insertion through hooks that leave no
trace, artifact-unit scoring, messages for bad layers and units, and (slow) the effects on the shipped
scenes generator and the `dissect` command's JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from gan_core import models
from gan_core.inspect import artifacts, intervene
from gan_core.inspect import dissect as ds
from gan_core.inspect import report
from gan_core.models.dcgan import DCGANConfig, DCGANGenerator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCENES = os.path.join(ROOT, "checkpoints", "scenes-dcgan.safetensors")


@pytest.fixture(scope="module")
def G():
    torch.manual_seed(0)
    return DCGANGenerator(DCGANConfig(image_size=32, channels=3, g_base=8)).eval()


def _hooks(m: torch.nn.Module) -> int:
    return sum(len(x._forward_hooks) + len(x._forward_pre_hooks) for x in m.modules())


def test_layer_names_and_messages(G):
    assert ds.layer_path(G, "block1") == "net.block1"
    assert ds.layer_path(G, "net.block1") == "net.block1"
    assert ds.layer_path(G, None, "dcgan") == "net.block1"  # the registry's default layer
    with pytest.raises(ValueError, match="unknown layer 'nope'.*block0, block1, block2"):
        ds.layer_path(G, "nope")
    with pytest.raises(ValueError, match="unit 99 does not exist: this layer has units 0..15"):
        intervene.check_units([1, 99], 16)
    with pytest.raises(ValueError, match="whole numbers"):
        intervene.check_units([1.5], 16)
    assert intervene.check_units([3, 3, 1], 16) == [3, 1]
    with pytest.raises(ValueError, match="strength must be between 0 and 10"):
        intervene.check_strength(11)


def test_ablation_zeroes_the_channel_in_the_traced_output(G):
    from gan_core.inspect import Trace

    z = torch.randn(4, G.latent_spec.z_dim)
    with torch.no_grad(), Trace(G, "net.block1") as clean:
        G(z)
    with torch.no_grad(), Trace(G, "net.block1", edit_output=intervene.ablate_edit([3, 5])) as tr:
        G(z)
    assert float(clean.output[:, 3].abs().sum()) > 0
    assert float(tr.output[:, [3, 5]].abs().sum()) == 0
    keep = [c for c in range(tr.output.shape[1]) if c not in (3, 5)]
    assert torch.equal(tr.output[:, keep], clean.output[:, keep])
    mean = torch.arange(tr.output.shape[1], dtype=torch.float32)
    with torch.no_grad(), Trace(G, "net.block1", edit_output=intervene.ablate_edit([2], "mean", mean)) as tr:
        G(z)
    assert torch.all(tr.output[:, 2] == 2.0)
    assert _hooks(G) == 0


def test_insertion_changes_pixels_mostly_inside_the_region(G):
    z = torch.randn(8, G.latent_spec.z_dim)
    region = torch.zeros(8, 8, dtype=torch.bool)
    region[2:4, 2:4] = True
    x0 = intervene.generate(G, z)
    values = torch.full((16,), 5.0)
    x1 = intervene.generate(G, z, "net.block1", intervene.insert_edit(list(range(16)), values, region))
    diff = (x1 - x0).abs().amax(1)  # (N, 32, 32)
    margin = intervene.receptive_margin(G, "net.block1", z)
    assert 0 < margin <= 12
    inside = intervene.region_pixels(region, 32)
    outside = ~intervene.region_pixels(region, 32, margin)
    assert float(diff[:, inside].mean()) > 0.05
    assert float(diff[:, outside].max()) < 1e-5  # nothing moves beyond the receptive field
    assert _hooks(G) == 0


def test_hooks_are_removed_after_an_error(G):
    z = torch.randn(2, G.latent_spec.z_dim)

    def broken(out, name):
        raise RuntimeError("edit failed")

    with pytest.raises(RuntimeError, match="edit failed"):
        intervene.generate(G, z, "net.block1", broken)
    assert _hooks(G) == 0
    with pytest.raises(ValueError, match="unknown layer"):
        intervene.generate(G, z, "net.nothing", broken)
    assert _hooks(G) == 0


def test_iou_of_a_unit_equal_to_a_class_mask_is_one():
    gen = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 4, (6, 16, 16), generator=gen)
    acts = torch.rand(6, 3, 16, 16, generator=gen)
    acts[:, 1] = (labels == 2).float()  # unit 1 fires exactly on class 2
    iou = ds.iou_table(acts, torch.tensor([2.0, 0.5, 2.0]), labels, 4)
    assert iou.shape == (3, 4)
    assert float(iou[1, 2]) == pytest.approx(1.0)
    assert float(iou[1, 0]) == 0.0 and float(iou[0].sum()) == 0.0  # a unit never on has IoU 0
    assert ds.units_per_class(iou) == [0, 0, 1, 0]


def test_quantiles_and_levels():
    acts = torch.arange(1000, dtype=torch.float32).reshape(10, 1, 10, 10).repeat(1, 2, 1, 1)
    q = ds.unit_quantiles(acts, [0.5, 0.99])
    assert q.shape == (2, 2) and float(q[0, 1]) == pytest.approx(989.01, abs=0.01)
    assert ds.quantile_level(8, 8) == ds.SMALL_LEVEL and ds.quantile_level(32, 32) == ds.PAPER_LEVEL


def test_dissect_without_segmenter_gives_unit_views(G):
    z = torch.randn(20, G.latent_spec.z_dim)
    d = ds.dissect(G, "net.block1", z)
    assert d.units == 16 and d.mean_maps.shape == (16, 8, 8) and d.top.shape == (16, 8)
    assert d.iou is None and d.counts() == {}
    with pytest.raises(ValueError, match="no segmenter"):
        d.ranked("tree")


def test_fd_contributions_single_out_the_outlier():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(200, 3))
    fake = rng.normal(size=(60, 3))
    fake[7] = 12.0  # one image far from the real set
    c = artifacts.fd_contributions(real, fake)
    assert int(np.argmax(c)) == 7 and c[7] > 0
    acts = torch.zeros(60, 4, 2, 2)
    acts[7, 2] = 5.0  # unit 2 fires on the outlier only
    assert artifacts.candidate_units(acts, c)[0] == 2


@pytest.fixture(scope="module")
def scenes():
    from gan_core import checkpoint
    from gan_core.inspect import segment
    from gan_core.models import copies

    ck = checkpoint.load(SCENES)
    G = copies.frozen_generator("dcgan", {}, G=ck.G)
    seg = segment.for_dataset("scenes")
    z = models.sample_latent(G.latent_spec, 200, torch.Generator().manual_seed(0))
    return G, seg, z, ds.dissect(G, "net.block1", z, seg)


@pytest.mark.slow
def test_ablating_tree_units_removes_trees_random_units_do_not(scenes):
    G, seg, z, d = scenes
    assert d.class_names[6] == "tree" and d.iou.shape == (64, 8)
    k = report.units_for(d.units)
    table = report.ablation_table(G, d, z, seg, k)
    assert table["tree"]["top_removed"] >= 0.7
    assert table["tree"]["random_changed"] <= 0.15
    assert k <= 0.15 * d.units
    assert _hooks(G) == 0


@pytest.mark.slow
def test_inserting_tree_units_adds_trees_inside_the_region(scenes):
    G, seg, z, d = scenes
    region = report.insert_region(8, 8)
    eff = intervene.insertion_effect(G, d, d.ranked("tree")[:6], z, seg, region, "tree")
    assert eff["gain_inside"] >= 3
    assert eff["change_outside"] < eff["change_inside"]
    assert _hooks(G) == 0


@pytest.mark.slow
def test_dissect_command_json_keys(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1")
    p = subprocess.run([sys.executable, "-m", "gan_core", "dissect", SCENES, "--samples", "40", "--threads", "1",
                        "--json"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stderr[-500:]
    r = json.loads(p.stdout.strip().splitlines()[-1])
    for key in ("layer", "units", "seconds_per_1000", "iou", "ablation", "insertion", "artifacts"):
        assert key in r
    assert r["layer"] == "block1" and r["units"] == 64
    assert set(r["iou"]["0"]) == {"sky", "cloud", "sun", "mountain", "grass", "water", "tree", "house"}
    assert {"k", "top_removed", "random_changed"} <= set(r["ablation"]["tree"])
    assert {"gain_inside", "change_outside"} <= set(r["insertion"]["tree"])
    assert {"k", "fd_before", "fd_after", "fd_random"} <= set(r["artifacts"])
    bad = subprocess.run([sys.executable, "-m", "gan_core", "dissect", SCENES, "--layer", "nope", "--samples", "20",
                          "--json"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "unknown layer 'nope'" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_worst_indices_are_the_largest_fd_contributions():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(200, 3))
    fake = rng.normal(size=(60, 3))
    fake[20], fake[7], fake[33] = 6.0, 12.0, -9.0  # three images far from the real set, at three distances
    c = artifacts.fd_contributions(real, fake)
    idx = artifacts.worst_indices(c, 3)
    assert idx == [7, 33, 20]
    assert list(c[idx]) == sorted(c, reverse=True)[:3]
    assert artifacts.worst_indices(np.array([1.0, 3.0, 3.0, 2.0]), 3) == [1, 2, 3]  # equal ones by index


class _ColourStats(torch.nn.Module):
    """A stand-in evaluator: each image's mean and spread per channel as its features."""

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x.mean((2, 3)), x.std((2, 3))], 1)


def test_find_and_show_draws_the_worst_measured_images(G):
    from types import SimpleNamespace

    from gan_core.data.images import to_uint8

    seg = SimpleNamespace(model=_ColourStats())
    real = torch.rand(80, 3, 32, 32, generator=torch.Generator().manual_seed(3)) * 2 - 1
    steps = []
    r = artifacts.find_and_show(G, real, 40, seg, worst=5, progress=lambda f, what: steps.append(f))
    assert {"layer", "k", "units", "fd_before", "fd_after", "fd_random", "score"} <= set(r)
    assert r["path"] == artifacts.widest_layer(G) and r["layer_units"] == 32 and r["layer"] == "block0"
    assert r["k"] == len(r["units"]) and all(0 <= u < r["layer_units"] for u in r["units"])
    # the worst images are the measured images (latents of seed 0) with the largest FD contributions
    pick = torch.randperm(80, generator=torch.Generator().manual_seed(0))[:40]  # as find_and_measure draws
    real_f = artifacts._features(seg, real[pick])
    z = models.sample_latent(G.latent_spec, 40, torch.Generator().manual_seed(0))
    x = G(z)
    c = artifacts.fd_contributions(real_f, artifacts._features(seg, x))
    assert r["worst"] == np.argsort(-c)[:5].tolist()
    assert r["fd_before"] == pytest.approx(artifacts._fd(real_f, artifacts._features(seg, x)))
    assert r["worst_share_before"] == pytest.approx((c[r["worst"]] / r["fd_before"]).tolist())
    assert r["images_before"].shape == r["images_after"].shape == (5, 32, 32, 3)
    assert np.array_equal(r["images_before"], to_uint8(x[r["worst"]], rgb=True))
    assert r["units"]  # this set-up has artifact units; the pictures after are drawn without them
    after = intervene.generate(G, z[r["worst"]], r["path"], intervene.ablate_edit(r["units"]))
    assert np.array_equal(r["images_after"], to_uint8(after, rgb=True))
    assert not np.array_equal(r["images_after"], r["images_before"])
    assert steps == sorted(steps) and 0 < steps[-1] <= 1.0
    assert _hooks(G) == 0

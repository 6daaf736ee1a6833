"""The style-based family (gan_core/models/style.py) and style mixing (gan_core/explore/mixing.py): the
generator contract, each w reaching only its layers, mixing and truncation exactly, noise modes, the
family training and round-tripping through a checkpoint, and, on the shipped shapes-style checkpoint, that
a coarse crossover copies B's shape."""

from __future__ import annotations

import os

import pytest
import torch
from torch.nn import utils as nn_utils

from gan_core import checkpoint, models
from gan_core.explore import latent as lx
from gan_core.explore import mixing as mx
from gan_core.inspect import TraceDict
from gan_core.models import copies
from gan_core.models.style import crossover_layers, mix, truncate
from gan_core.training import TrainConfig, Trainer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED = os.path.join(ROOT, "checkpoints", "shapes-style.safetensors")
SMALL = {"image_size": 16, "channels": 1, "g_base": 4, "g_max": 16, "d_base": 8, "z_dim": 8, "w_dim": 8,
         "mapping_layers": 2}


def small_model(noise: float = 0.0) -> lx.LatentModel:
    torch.manual_seed(0)
    G = models.build("style", SMALL)[0]
    with torch.no_grad():
        G.w_avg.normal_()
        for m in G.synthesis_net.convs.values():
            m.noise_strength.fill_(noise)
    return lx.LatentModel(copies.frozen_generator("style", SMALL, G=G), "style", name="small")


def test_style_generator_follows_the_contract():
    G, D, cfg = models.build("style", SMALL)
    assert isinstance(G, models.contract.StyleGenerator) and models.is_style_based(G)
    assert G.num_ws == 6 and G.w_dim == 8  # 4x4, 8x8, 16x16: two styles each
    z = torch.randn(5, 8)
    ws = G.mapping(z)
    assert ws.shape == (5, 6, 8) and torch.equal(ws[:, 0], ws[:, 5])
    G.eval()
    x = G.synthesis(ws)
    assert x.shape == (5, 1, 16, 16) and x.abs().max() <= 1
    assert torch.equal(G(z), x) and D(x).shape == (5, 1)
    assert list(G.feature_layers())[0] == "synthesis_net.convs.conv4_0"
    assert torch.equal(models.mean_latent(G), G.w_avg)
    with pytest.raises(ValueError, match="unconditional"):
        G.mapping(z, torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match="noise mode"):
        G.synthesis(ws, "loud")
    with pytest.raises(ValueError, match="mapping_lr_mul"):
        models.build("style", {"mapping_lr_mul": 2.0})
    assert nn_utils.parametrize.is_parametrized(D.head)  # spectral normalisation by default
    plain = models.build("style", {**SMALL, "d_spectral_norm": False})[1]
    assert not any(nn_utils.parametrize.is_parametrized(m) for m in plain.modules())
    with pytest.raises(ValueError, match="d_spectral_norm"):
        models.build("style", {"d_spectral_norm": "no"})


def test_each_w_reaches_only_its_layers():
    m = small_model()
    G = m.G
    names = list(G.feature_layers())
    ws = G.mapping(torch.randn(2, 8))
    for i in range(G.num_ws):
        moved = ws.clone()
        moved[:, i] += 1.0
        with TraceDict(G, names) as before:
            G.synthesis(ws)
        with TraceDict(G, names) as after:
            G.synthesis(moved)
        changed = [not torch.equal(before[n].output, after[n].output) for n in names]
        assert changed == [k >= i for k in range(len(names))], (i, changed)  # layer i first, none before


def test_mixing_with_all_a_or_all_b_styles_reproduces_a_or_b_exactly():
    m = small_model(noise=0.3)
    n = m.G.num_ws
    ws = mx.seed_ws(m, [3, 9])
    a, b = ws[:1], ws[1:]
    xa, xb = m.G.synthesis(a), m.G.synthesis(b)
    assert torch.equal(m.G.synthesis(mix(a, b, [])), xa)
    assert torch.equal(m.G.synthesis(mix(a, b, range(n))), xb)
    assert torch.equal(mx.mix_one(m, 3, 9, []), xa) and torch.equal(mx.mix_one(m, 3, 9, list(range(n))), xb)
    assert not torch.equal(mx.mix_one(m, 3, 9, "coarse"), xa)
    ia, ib, grid = mx.mix_grid(m, [3, 4], [9, 10, 11], "fine")
    assert grid.shape == (2, 3, 1, 16, 16)
    assert torch.allclose(grid[0, 0], mx.mix_one(m, 3, 9, "fine")[0], atol=1e-5)
    assert crossover_layers(8, "coarse") == [0, 1, 2, 3] and crossover_layers(8, "middle") == [4, 5]
    assert crossover_layers(8, "fine") == [6, 7]


def test_noise_off_is_deterministic_and_random_noise_follows_its_seed():
    m = small_model(noise=0.5)
    ws = mx.seed_ws(m, [1])
    off1, off2 = mx.synthesize(m, ws, "off"), mx.synthesize(m, ws, "off")
    assert torch.equal(off1, off2)
    r1, r1b, r2 = (mx.synthesize(m, ws, "random", s) for s in (1, 1, 2))
    assert torch.equal(r1, r1b) and not torch.equal(r1, r2)
    const = mx.synthesize(m, ws, "constant")
    assert torch.equal(const, m.G.synthesis(ws)) and not torch.equal(const, off1)
    samples, std = mx.variation(m, 1, n=6)
    assert samples.shape == (6, 1, 16, 16) and std.shape == (16, 16) and float(std.max()) > 0
    assert float(mx.variation(small_model(noise=0.0), 1, n=3)[1].max()) == 0.0  # no noise, no variation


def test_noise_from_noise_min_res_leaves_the_coarser_layers_alone():
    torch.manual_seed(0)
    G = models.build("style", {**SMALL, "noise_min_res": 16})[0].eval()
    with torch.no_grad():
        for m in G.synthesis_net.convs.values():
            m.noise_strength.fill_(0.5)
    names = list(G.feature_layers())
    ws = G.mapping(torch.randn(2, 8))
    outs = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        with TraceDict(G, names) as tr:
            G.synthesis(ws, "random")
        outs.append({n: tr[n].output for n in names})
    changed = [not torch.equal(outs[0][n], outs[1][n]) for n in names]
    assert changed == [False] * 4 + [True] * 2  # 4x4 and 8x8 noiseless; 16x16 noisy
    with pytest.raises(ValueError, match="noise_min_res"):
        models.build("style", {**SMALL, "noise_min_res": 12})


def test_truncation_psi_zero_gives_the_image_of_w_avg():
    m = small_model()
    G = m.G
    avg = G.synthesis(G.w_avg.expand(1, G.num_ws, -1))
    assert torch.allclose(mx.mix_one(m, 5, 6, "coarse", psi=0.0), avg, atol=1e-6)
    ws = mx.seed_ws(m, [5])
    part = truncate(ws, G.w_avg, 0.0, cutoff=2)
    assert torch.equal(part[:, :2], G.w_avg.expand(1, 2, -1)) and torch.equal(part[:, 2:], ws[:, 2:])


def test_bad_mixing_input_gets_a_clear_message():
    m = small_model()
    with pytest.raises(ValueError, match="give 1 to 8 A seeds"):
        mx.mix_grid(m, [], [1])
    with pytest.raises(ValueError, match="psi must be between 0 and 1"):
        mx.mix_one(m, 1, 2, psi=1.5)
    with pytest.raises(ValueError, match="cutoff must be between 0 and 6"):
        mx.mix_one(m, 1, 2, cutoff=9)
    with pytest.raises(ValueError, match="style layers must be between 0 and 5"):
        mx.mix_one(m, 1, 2, [7])
    with pytest.raises(ValueError, match="crossover must be one of"):
        mx.mix_one(m, 1, 2, "sideways")
    with pytest.raises(ValueError, match="noise must be random, constant or off"):
        mx.mix_one(m, 1, 2, noise="loud")
    dc = lx.LatentModel(models.build("dcgan", {"image_size": 16})[0], "dcgan", name="a DCGAN")
    with pytest.raises(ValueError, match="not style-based"):
        mx.mix_one(dc, 1, 2)


@pytest.mark.slow
def test_style_family_trains_tracks_w_avg_and_round_trips(tmp_path):
    cfg = TrainConfig(dataset="digits16", family="style", model=SMALL, loss="hinge", batch_size=8, steps=4,
                      eval_every=4, eval_samples=100, g_ema=0.9)
    t = Trainer(cfg)
    assert t.engine == "autograd"
    g0 = t.g_flat.data.clone()
    avg0 = t.G.w_avg.detach().clone()
    t.run(4)
    assert not torch.equal(t.g_flat.data, g0) and not torch.equal(t.G.w_avg, avg0)  # w_avg tracked
    assert "fd" in t.metrics
    path = tmp_path / "style.safetensors"
    checkpoint.save(str(path), t)
    ck = checkpoint.load(str(path))
    with t.ema_weights():  # checkpoints hold G's moving average (w_avg's too)
        for k, v in t.G.state_dict().items():
            assert torch.equal(ck.G.state_dict()[k], v), k
    snap_G = copies.frozen_generator("style", SMALL, g_state=t.g_flat.data)
    assert torch.equal(snap_G.w_avg, t.G.w_avg)  # the flat snapshot carries w_avg
    t2 = Trainer(cfg)  # the same seed trains the same weights (mixing and noise use G's own stream)
    t2.run(4)
    assert torch.equal(t2.g_flat.data, t.g_flat.data)


@pytest.mark.slow
def test_shipped_model_coarse_mix_copies_b_shape_and_position():
    """B's coarse styles bring B's position and, far more often than its fine styles, B's shape; B's fine
    styles bring B's colour, its coarse ones almost never."""
    from gan_core.metrics import classifier as cm
    from gan_core.metrics.image_eval import evaluator

    if not os.path.isfile(SHIPPED):
        pytest.fail("checkpoints/shapes-style.safetensors is missing")
    m = lx.LatentModel.from_checkpoint(checkpoint.load(SHIPPED), "shapes-style")
    factors, _ = evaluator("shapes-factors")
    ws = mx.seed_ws(m, list(range(0, 200)) + list(range(1000, 1200)))
    wa, wb = ws[:200], ws[200:]
    read = lambda x: cm.factor_predictions(factors, x)  # noqa: E731
    pa, pb = read(m.G.synthesis(wa)), read(m.G.synthesis(wb))
    share = {}
    for cross in ("coarse", "fine"):
        pm = read(m.G.synthesis(mix(wa, wb, crossover_layers(m.G.num_ws, cross))))
        differ = pa["shape"] != pb["shape"]
        far = (pa["x"] - pb["x"]).abs() > 1
        hue = pa["colour"] != pb["colour"]
        assert int(differ.sum()) >= 50 and int(far.sum()) >= 10 and int(hue.sum()) >= 50
        share[cross] = (float((pm["shape"] == pb["shape"])[differ].float().mean()),
                        float(((pm["x"] - pb["x"]).abs() <= 1)[far].float().mean()),
                        float((pm["colour"] == pb["colour"])[hue].float().mean()))
    assert share["coarse"][0] >= 0.5 and share["coarse"][0] > 3 * share["fine"][0], share
    assert share["coarse"][1] >= 0.85 and share["fine"][1] <= 0.3, share
    assert share["fine"][2] >= 0.7 and share["coarse"][2] <= 0.15, share


@pytest.mark.slow
def test_eval_mixing_cli_prints_the_table_and_refuses_other_families():
    import json
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": ROOT, "OMP_NUM_THREADS": "1"}
    run = lambda *a: subprocess.run([sys.executable, "-m", "gan_core", "eval", *a, "--json"], cwd=ROOT,  # noqa: E731
                                    capture_output=True, text=True, env=env, timeout=900)
    bad = run("checkpoints/shapes-dcgan.safetensors", "--mixing")
    assert bad.returncode == 2 and "--mixing needs a style-based generator" in bad.stderr
    ok = run("checkpoints/shapes-style.safetensors", "--mixing", "--pairs", "40")
    out = json.loads(ok.stdout.strip().splitlines()[-1])
    assert set(out["mixing"]) == {"coarse", "middle", "fine"}
    assert set(out["mixing"]["coarse"]) == {"shape", "scale", "rotation", "x", "y", "colour"}
    assert all(0 <= v <= 1 for row in out["mixing"].values() for v in row.values())
    assert 0 <= out["noise_unchanged"] <= 1 and out["ppl_w"] > 0 and out["ppl_z"] > 0 and out["grid_ms"] > 0
    assert "fd" in out and "histogram" in out


def test_orig_architecture_draws_rgb_only_at_the_last_resolution():
    torch.manual_seed(0)
    skip = models.build("style", SMALL)[0].eval()
    torch.manual_seed(0)
    G = models.build("style", {**SMALL, "architecture": "orig"})[0].eval()
    assert list(skip.synthesis_net.rgbs) == ["rgb4", "rgb8", "rgb16"]
    assert list(G.synthesis_net.rgbs) == ["rgb16"]
    ws = G.mapping(torch.randn(3, 8))
    x = G.synthesis(ws)
    assert x.shape == (3, 1, 16, 16) and x.abs().max() <= 1
    # the image is the last layer's features through the one RGB layer, with the last w as its style
    with TraceDict(G, ["synthesis_net.convs.conv16_1"]) as tr:
        G.synthesis(ws)
    rgb = G.synthesis_net.rgbs["rgb16"](tr["synthesis_net.convs.conv16_1"].output, ws[:, -1])
    assert torch.allclose(x, torch.tanh(rgb), atol=1e-6)
    with pytest.raises(ValueError, match="architecture"):
        models.build("style", {**SMALL, "architecture": "resnet"})

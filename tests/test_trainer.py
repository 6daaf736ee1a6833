"""Trainer: the fused engine agrees with autograd, step semantics, determinism, divergence guard, learning."""

import math

import pytest
import torch

from gan_core import losses
from gan_core.training import TrainConfig, Trainer, TrainingDiverged, presets
from gan_core.training.engines import AutogradEngine, FusedEngine

SMALL = {"g_hidden": 16, "d_hidden": 16, "g_layers": 2, "d_layers": 2, "z_dim": 2}


@pytest.mark.parametrize("loss", [n for n in losses.LOSSES if n != "wgan-gp"])
@pytest.mark.parametrize("model", [
    {**SMALL, "activation": "relu", "d_activation": "leaky_relu"},
    {**SMALL, "g_layers": 3, "d_layers": 1, "z_dim": 4, "activation": "tanh", "d_activation": "relu"},
    {**SMALL, "pack": 2, "activation": "leaky_relu", "d_activation": "tanh"},
    {**SMALL, "pack": 2, "x_scale": 4.0},
])
def test_fused_engine_gradients_equal_autograd(loss, model):
    t = Trainer(TrainConfig(loss=loss, model=model, batch_size=16))
    assert t.engine == "fused"
    real, z = t.real_sampler.next().clone(), t.noise_sampler.next().clone()
    fused, auto = FusedEngine(t), AutogradEngine(t)  # same trainer, same weights
    fused.d_step(real, z)
    gd = t.d_flat.grad.clone()
    fused.g_step()
    gg = t.g_flat.grad.clone()
    auto.d_step(real, z)
    assert torch.allclose(t.d_flat.grad, gd, atol=1e-6, rtol=1e-5)
    auto.g_step()
    assert torch.allclose(t.g_flat.grad, gg, atol=1e-6, rtol=1e-5)


def test_wgan_gp_uses_autograd_and_wgan_clips():
    t = Trainer(TrainConfig(loss="wgan-gp", model=SMALL))
    assert t.engine == "autograd"
    t.step()
    w = Trainer(TrainConfig(loss="wgan", model=SMALL, lr_d=0.5))
    w.step()
    assert w.d_flat.data.abs().max().item() <= losses.WGAN_CLIP + 1e-9


def test_single_steps_touch_only_their_network():
    t = Trainer(TrainConfig(model=SMALL))
    g0, d0 = t.g_flat.data.clone(), t.d_flat.data.clone()
    out = t.step("d")
    assert t.step_count == 1 and "d_loss" in out and "g_loss" not in out
    assert torch.equal(t.g_flat.data, g0) and not torch.equal(t.d_flat.data, d0)
    d1 = t.d_flat.data.clone()
    out = t.step("g")
    assert t.step_count == 2 and "g_loss" in out
    assert torch.equal(t.d_flat.data, d1) and not torch.equal(t.g_flat.data, g0)
    t.step("both")
    assert t.step_count == 3


def test_k_d_steps_per_g_step():
    t = Trainer(TrainConfig(model=SMALL, d_steps=3))
    t.step()
    assert int(t.opt_d.step_t) == 3 and int(t.opt_g.step_t) == 1


def test_unrolled_step_leaves_d_as_it_was_after_its_own_update():
    a = Trainer(TrainConfig(model=SMALL, unroll=5, seed=1))
    b = Trainer(TrainConfig(model=SMALL, unroll=0, seed=1))
    a.step()
    b.step()
    assert torch.equal(a.d_flat.data, b.d_flat.data)  # the unrolled updates were undone
    assert not torch.equal(a.g_flat.data, b.g_flat.data)  # but G saw the unrolled D


def test_same_seed_same_weights():
    a, b = Trainer(TrainConfig(model=SMALL, seed=5)), Trainer(TrainConfig(model=SMALL, seed=5))
    a.run(50)
    b.run(50)
    assert torch.equal(a.g_flat.data, b.g_flat.data) and torch.equal(a.d_flat.data, b.d_flat.data)
    c = Trainer(TrainConfig(model=SMALL, seed=6))
    c.run(50)
    assert not torch.equal(a.g_flat.data, c.g_flat.data)


def test_divergence_is_caught_and_weights_restored():
    t = Trainer(TrainConfig(model=SMALL, loss="lsgan", lr_d=10.0, lr_g=10.0, optimizer="sgd", log_every=1))
    good = t.g_flat.data.clone()
    with pytest.raises(TrainingDiverged, match="Lower the learning rates"):
        for _ in range(200):
            t.step()
    assert torch.isfinite(t.g_flat.data).all() and torch.isfinite(t.d_flat.data).all()
    assert torch.equal(t.g_flat.data, good)  # the last good state (step 0 evaluation) is back


def test_hyperparameters_change_between_steps():
    t = Trainer(TrainConfig(model=SMALL))
    t.run(20)
    t.set_hparams(loss="wgan-gp", lr_g=1e-4, d_steps=2)
    assert t.engine == "autograd" and t.opt_g.lr == 1e-4
    t.step()
    assert int(t.opt_d.step_t) == 22
    with pytest.raises(ValueError, match="unknown loss"):
        t.set_hparams(loss="bogus")
    with pytest.raises(ValueError, match="lr_d"):
        t.set_hparams(lr_d=-1)


def test_ema_changes_the_sampled_generator():
    t = Trainer(TrainConfig(model=SMALL, g_ema=0.99))
    t.run(100)
    assert not torch.equal(t.ema, t.g_flat.data)
    live = t.g_flat.data.clone()
    with t.ema_weights():
        assert torch.equal(t.g_flat.data, t.ema)
    assert torch.equal(t.g_flat.data, live)


@pytest.mark.slow
def test_short_training_covers_most_ring_modes():
    cfg = presets.get("stable-ring").config.replace(steps=6000, eval_every=2000)
    t = Trainer(cfg)
    m = t.run()
    assert m["modes"] >= 6, m
    assert m["hq"] > 0.5, m


@pytest.mark.slow
def test_collapse_preset_collapses():
    cfg = presets.get("collapse-ring").config.replace(steps=2000)
    t = Trainer(cfg)
    t.run()
    assert t.max_modes is not None and t.min_modes is not None and t.min_modes <= 2


@pytest.mark.parametrize("codes", [{}, {"n_cat": 3}])
def test_joint_d_pass_equals_separate_passes(codes):
    """A D without cross-sample layers judges real and fake in one batch: the same gradient as two passes."""
    model = {"image_size": 16, "g_base": 8, "d_base": 8, "z_dim": 8, "d_batchnorm": False, **codes}
    t = Trainer(TrainConfig(dataset="digits16", family="dcgan", model=model, batch_size=8))
    eng = AutogradEngine(t)  # autograd here; tests/test_conv_engine.py checks the engine against autograd
    assert eng.joint
    real, z = t.real_sampler.next(), t.noise_sampler.next()
    r1, f1 = eng.d_step(real, z)
    joint = t.d_flat.grad.clone()
    eng.joint = False
    r2, f2 = eng.d_step(real, z)
    assert torch.allclose(r1, r2, atol=1e-6) and torch.allclose(f1, f2, atol=1e-6)
    assert torch.allclose(joint, t.d_flat.grad, atol=1e-6) and joint.abs().sum() > 0
    for bn, mbstd in ((True, False), (False, True)):  # BatchNorm or minibatch-std: separate passes
        m = {**model, "d_batchnorm": bn, "minibatch_std": mbstd}
        assert not AutogradEngine(Trainer(TrainConfig(dataset="digits16", family="dcgan", model=m,
                                                      batch_size=8))).joint


def test_channels_last_hooks_keep_layouts_and_change_no_value():
    t = Trainer(presets.get("digits-dcgan").config.replace(g_ema=0.0))
    t.use_engine("autograd")  # the hooks serve D's module forward under autograd
    seen = {}
    t.G.net.block1.conv.register_forward_hook(lambda m, i, o: seen.__setitem__("g_map", i[0]))

    def grad_layout(m, i, o):
        if o.requires_grad:
            o.register_hook(lambda g: seen.__setitem__("d_grad", g))

    t.D.features.block1.conv.register_forward_hook(grad_layout)
    t.step()
    assert seen["g_map"].is_contiguous(memory_format=torch.channels_last)  # G's 4x4 map after Unflatten
    assert seen["d_grad"].is_contiguous(memory_format=torch.channels_last)  # the gradient back from Flatten
    # the same weights in networks without the hooks compute the same images, logits and gradients
    from gan_core import models

    G, D, _ = models.build(t.cfg.family, t.cfg.model)
    G.load_state_dict(t.G.state_dict())
    D.load_state_dict(t.D.state_dict())
    G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
    z = models.sample_latent(G.latent_spec, 16, torch.Generator().manual_seed(0))
    ours, plain = t.D(t.G(z)).sum(), D(G(z)).sum()
    assert torch.allclose(ours, plain, rtol=1e-5, atol=1e-6)
    g_ours = torch.autograd.grad(ours, list(t.G.parameters()))
    g_plain = torch.autograd.grad(plain, list(G.parameters()))
    assert all(torch.allclose(a, b, rtol=1e-4, atol=1e-6) for a, b in zip(g_ours, g_plain))


def test_preset_for_finds_the_preset_of_a_config_whatever_its_training_settings():
    for name in ("digits-dcgan", "digits-conditional", "scenes-dcgan", "stable-ring"):
        cfg = presets.get(name).config
        assert presets.preset_for(cfg).name == name
        assert presets.preset_for(cfg.replace(lr_g=1e-5, batch_size=32, seed=3)).name == name
    other = presets.get("digits-dcgan").config.replace(held_out=0.0, dataset="my-photos")  # uploaded images
    assert presets.preset_for(other) is None
    wider = presets.get("digits-dcgan").config
    assert presets.preset_for(wider.replace(model={**wider.model, "g_base": 64})) is None


def test_preset_for_tells_presets_with_the_same_networks_apart_by_their_settings():
    ring = [p for p in presets.PRESETS.values() if p.config.dataset == "ring"
            and p.config.model == presets.get("stable-ring").config.model]
    assert len(ring) >= 3  # stable-ring, wgan-gp, least-squares share data and networks
    for p in ring:
        assert presets.preset_for(p.config).name == p.name


def test_a_promise_is_judged_at_every_evaluation_after_the_warm_up():
    from gan_core.training.presets import Promise

    rows = [{"step": 10, "d_loss": 1.0}, {"step": 100, "modes": 5}, {"step": 200, "modes": 1},
            {"step": 300, "modes": 2}, {"step": 400, "modes": 3}, {"step": 500, "modes": 0}]
    p = Promise("modes", high=2, after=200)
    assert p.check(rows) == {"holds": False, "evaluations": 4, "first_broken": 400, "worst": 3}
    assert p.check(rows[:5])["holds"] is False and p.check(rows[:4])["holds"] is True
    end = Promise("modes", low=1, when="end")
    assert end.check(rows[:5]) == {"holds": True, "evaluations": 1, "first_broken": None, "worst": 3}
    assert end.check(rows)["holds"] is False and end.check([])["holds"] is False, "no evaluation keeps no promise"
    once = Promise("modes", high=1, when="any", after=200)
    assert once.check(rows) == {"holds": True, "evaluations": 4, "first_broken": None, "worst": 0, "seen_at": 200}
    assert once.check(rows[:2])["holds"] is False, "an evaluation before the warm-up ends does not count"
    assert Promise("modes", high=0, when="any").check(rows[:5])["holds"] is False


def test_every_demo_promise_names_a_metric_its_runs_report():
    from gan_core.training import presets

    demos = [p for p in presets.PRESETS.values() if p.promise is not None]
    assert "collapse-ring" in {p.name for p in demos}
    for p in demos:
        assert p.promise.text and p.promise.when in ("every", "end", "any")
        assert p.promise.metric in ("modes", "hq", "classes_covered", "fd_ratio"), p.name


def test_a_demo_pauses_at_its_length_and_says_whether_its_promise_held():
    import time

    from gan_core.training import TrainConfig
    from gan_core.training.presets import Promise
    from gan_core.training.session import TrainingSession

    small = {"g_hidden": 16, "d_hidden": 16, "g_layers": 2, "d_layers": 2, "z_dim": 2}
    s = TrainingSession(TrainConfig(model=small, eval_samples=200, eval_every=10), chunk=7)
    try:
        s.pause_at(30, Promise("modes", high=8, text="at most 8 modes"))
        s.play()
        deadline = time.time() + 120
        while s.snapshot().state == "running" and time.time() < deadline:
            time.sleep(0.05)
        snap = s.snapshot()
        assert (snap.state, snap.step) == ("paused", 30), "paused exactly at the demo's length"
        assert "end of this demo" in snap.message and "kept its promise all along: at most 8 modes" in snap.message
        s.play()  # Train again: on past the length, no second pause
        while s.snapshot().step < 60 and time.time() < deadline:
            time.sleep(0.05)
        assert s.snapshot().state == "running" and s.snapshot().step >= 60
        s.pause()
        s.reset()
        s.pause_at(20, Promise("modes", high=-1, text="never"))
        s.play()
        while s.snapshot().state == "running" and time.time() < deadline:
            time.sleep(0.05)
        assert s.snapshot().step == 20 and "Its promise (never) broke at step 0" in s.snapshot().message
    finally:
        s.close()


def test_the_pause_message_says_when_a_come_and_go_phenomenon_showed():
    from gan_core.training.presets import Promise
    from gan_core.training.presets import promise_said

    rows = [{"step": 250, "classes_covered": 7}, {"step": 500, "classes_covered": 2},
            {"step": 750, "classes_covered": 8}]
    once = Promise("classes_covered", high=3, when="any", text="3 classes or fewer once")
    assert promise_said(once, once.check(rows)) == " It showed what it promised at step 500: 3 classes or fewer once."
    never = Promise("classes_covered", high=1, when="any", text="one class")
    assert "did not show what it promised (one class) in 3 evaluations" in promise_said(never, never.check(rows))
    every = Promise("classes_covered", high=3, text="few")
    assert promise_said(every, every.check([])) == " Its promise (few) was not judged: no evaluation yet."
    assert "broke at step 250" in promise_said(every, every.check(rows))


def test_r1_is_added_to_d_gradient_on_every_r1_every_th_round_only():
    """The R1 term changes D's gradient by exactly the gradient of r1_penalty (weighted by r1_every) in
    rounds 0, k, 2k, ..., and not in between; it takes the DCGAN family off its faster engine."""
    model = {"image_size": 16, "g_base": 8, "d_base": 8, "z_dim": 8, "d_batchnorm": False}
    base = TrainConfig(dataset="digits16", family="dcgan", model=model, batch_size=8)
    assert Trainer(base).engine == "conv-engine"
    t = Trainer(base.replace(r1_gamma=3.0, r1_every=2))
    assert t.engine == "autograd"
    real, z = t.real_sampler.next(), t.noise_sampler.next()
    eng = t._engine
    grads = {}
    for gamma, step in ((0.0, 0), (3.0, 0), (3.0, 1)):
        t.cfg, t.step_count = t.cfg.replace(r1_gamma=gamma), step
        eng.d_step(real, z)
        grads[gamma, step] = [v.clone() for v in t.d_flat.grad_views]
    penalty = losses.r1_penalty(t.D, real[0], None, 3.0 * 2)
    want = torch.autograd.grad(penalty, t.d_flat.params, allow_unused=True)
    for on, off, w in zip(grads[3.0, 0], grads[0.0, 0], want):
        assert torch.allclose(on - off, torch.zeros_like(on) if w is None else w, atol=1e-8)
    assert sum(float(w.abs().sum()) for w in want if w is not None) > 0
    assert all(torch.equal(a, b) for a, b in zip(grads[3.0, 1], grads[0.0, 0]))  # an off round: no R1
    with pytest.raises(ValueError, match="autograd engine"):
        t.use_engine("conv")


def test_path_length_regulariser_tracks_its_mean_and_is_refused_for_non_style_families():
    style = {"image_size": 16, "channels": 1, "g_base": 4, "g_max": 16, "d_base": 8, "z_dim": 8, "w_dim": 8,
             "mapping_layers": 2}
    cfg = TrainConfig(dataset="digits16", family="style", model=style, loss="hinge", batch_size=8,
                      pl_weight=2.0, pl_every=2, r1_gamma=0.1)
    t = Trainer(cfg)
    t.step()
    first = t.pl_mean
    assert first > 0  # round 0 regularises: the running mean moved off zero by PL_DECAY x the lengths
    t.step()
    assert t.pl_mean == first  # round 1 does not
    t.step()
    assert t.pl_mean != first
    t2 = Trainer(cfg)  # the noise image y comes from the trainer's stream: runs repeat
    t2.run(3)
    assert torch.equal(t2.g_flat.data, t.g_flat.data) and t2.pl_mean == t.pl_mean
    with pytest.raises(ValueError, match="pl_weight applies to style-based"):
        Trainer(TrainConfig(dataset="digits16", family="dcgan", model={"image_size": 16}, pl_weight=1.0))
    for bad, what in (({"r1_gamma": -1.0}, "r1_gamma"), ({"pl_every": 0}, "pl_every"),
                      ({"pl_weight": "x"}, "pl_weight")):
        with pytest.raises(ValueError, match=what):
            TrainConfig(**bad)

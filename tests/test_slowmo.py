"""Slow motion, the model graph and the formula view: a slow-motion round is a real round (the weights and
optimiser state equal trainer.step("both") with the autograd engine), its sub-steps and sentences, the
graph's highlight, the formula's numbers and G's loss curve."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from gan_core import losses
from gan_core.training import TrainConfig, Trainer, TrainingDiverged
from gan_core.training.session import TrainingSession
from gan_core.training.slowmo import D_KEYS, G_KEYS, PARTS, num, play_round, slow_round
from gan_core.viz import formula, graph

SMALL = {"g_hidden": 16, "d_hidden": 16, "g_layers": 2, "d_layers": 2, "z_dim": 2}


def pair(**kw) -> tuple[Trainer, Trainer]:
    """Two trainers in the same state after 3 rounds; the second uses the autograd engine (the reference)."""
    cfg = TrainConfig(model=kw.pop("model", SMALL), batch_size=kw.pop("batch_size", 16), **kw)
    a, b = Trainer(cfg), Trainer(cfg)
    for t in (a, b):
        for _ in range(3):
            t.step()
    b.use_engine("autograd")
    return a, b


def same_state(a: Trainer, b: Trainer) -> None:
    assert torch.equal(a.g_flat.data, b.g_flat.data), "G's weights differ"
    assert torch.equal(a.d_flat.data, b.d_flat.data), "D's weights differ"
    for x, y in ((a.opt_g, b.opt_g), (a.opt_d, b.opt_d)):
        for k, v in x.state().items():
            assert torch.equal(v, y.state()[k]), f"optimiser state {k} differs"
    assert a.step_count == b.step_count
    assert torch.equal(a.gen.get_state(), b.gen.get_state()), "the random stream moved differently"
    if a.ema is not None:
        assert torch.equal(a.ema, b.ema)


@pytest.mark.parametrize(
    "kw",
    [
        {"loss": "nonsaturating"},
        {"loss": "minimax", "d_steps": 3},
        {"loss": "wgan-gp", "d_steps": 2},
        {"loss": "wgan"},
        {"loss": "lsgan", "unroll": 2},
        {"loss": "hinge", "g_steps": 2},
        {"loss": "nonsaturating", "model": {**SMALL, "pack": 2}, "g_ema": 0.9},
    ],
    ids=lambda kw: (
        "-".join(f"{k}={v}" for k, v in kw.items() if k != "model") + ("-pack2" if "model" in kw else "")
    ),
)
def test_a_slow_motion_round_is_a_real_round(kw):
    a, b = pair(**kw)
    engine = a.engine
    played = play_round(a)
    logged = b.step("both")
    same_state(a, b)
    assert dict(played.out) == logged == a.history.rows[-1]  # logged in the history like trainer.step
    assert a.engine == engine, "the trainer's own engine is back after the round"
    # and the next ordinary rounds go on from the same state
    b.use_engine(engine)
    a.step()
    b.step()
    assert torch.allclose(a.g_flat.data, b.g_flat.data, atol=0) and torch.equal(a.d_flat.data, b.d_flat.data)


def test_sub_steps_sentences_and_arrays():
    a, _ = pair(loss="minimax", d_steps=2)
    r = play_round(a)
    keys = [s.key for s in r.steps]
    assert keys == list(D_KEYS) * 2 + list(G_KEYS)
    assert [s.number for s in r.steps] == list(range(1, len(keys) + 1))
    assert [s.title for s in r.steps[:6]] == [
        "Sample noise (D update 1 of 2)",
        "G forward (D update 1 of 2)",
        "D on real (D update 1 of 2)",
        "D on fake (D update 1 of 2)",
        "D's loss (D update 1 of 2)",
        "D's gradient step (D update 1 of 2)",
    ]
    assert [s.title for s in r.steps[-4:]] == ["G forward", "D's verdict", "G's loss", "G's gradient step"]
    by = {(s.key, s.update): s for s in r.steps}
    for s in r.steps:
        assert set(s.active) <= set(PARTS) and s.active
        assert "_" not in s.sentence, f"an internal name in {s.sentence!r}"
        for arr in s.arrays.values():
            assert not arr.flags.writeable
    # the numbers quoted are the round's own: D's loss as logged for the last D update, G's loss as logged
    last_d = by[("d_loss", 2)]
    assert math.isclose(last_d.values["d_loss"], r.out["d_loss"], rel_tol=1e-6)
    assert num(r.out["d_loss"]) in last_d.sentence
    g = by[("g_loss", 1)]
    assert (
        math.isclose(g.values["g_loss"], r.out["g_loss"], rel_tol=1e-6) and num(r.out["g_loss"]) in g.sentence
    )
    assert f"{r.grad_norm:.3g}" in g.sentence and f"{r.grad_norm_ns:.3g}" in g.sentence
    d_real = by[("d_real", 2)]  # D's probabilities on the real points, their mean in the sentence
    probs = d_real.arrays["d_real"]
    assert probs.min() >= 0 and probs.max() <= 1 and f"{probs.mean():.3f}" in d_real.sentence
    assert d_real.arrays["real"].shape == (16, 2) and d_real.arrays["noise"].shape == (16, 2)
    # G's step: the fakes moved as G's new weights map the same noise, along the arrows
    step = by[("g_step", 1)]
    before, after, arrows = step.arrays["fake"], step.arrays["fake_after"], step.arrays["arrows"]
    with torch.no_grad():
        expect = a.G(torch.from_numpy(np.array(step.arrays["noise"]))).numpy()
    assert np.allclose(after, expect, atol=1e-6)
    moved = (after - before).ravel()
    assert float(np.dot(moved, arrows.ravel())) > 0, "the fakes move along the arrows (down G's loss)"
    # D's step changed D's verdict on the plane
    d_step = by[("d_step", 1)]
    assert not np.array_equal(d_step.arrays["heat"], d_step.arrays["heat_after"])
    assert d_step.values["after"] < d_step.values["before"], (
        "one step down D's loss lowers it on the same points"
    )


def test_wgan_gp_sentence_names_the_penalty():
    a, _ = pair(loss="wgan-gp")
    r = play_round(a)
    d = next(s for s in r.steps if s.key == "d_loss")
    assert d.values["gp"] > 0 and "gradient penalty" in d.sentence
    assert math.isclose(d.values["d_loss"] - d.values["gp"], r.out["d_loss"], rel_tol=1e-5, abs_tol=1e-6)


def test_slow_motion_refuses_image_models_and_guards_divergence():
    from types import SimpleNamespace

    images = SimpleNamespace(data=SimpleNamespace(kind="image"), cfg=SimpleNamespace(family="dcgan"))
    with pytest.raises(ValueError, match="2D GANs"):
        play_round(images)
    bad = Trainer(TrainConfig(model=SMALL, loss="lsgan", lr_d=10.0, lr_g=10.0, optimizer="sgd"))
    with pytest.raises(TrainingDiverged):
        for _ in range(200):
            play_round(bad)
    assert torch.isfinite(bad.g_flat.data).all()


def test_session_slow_round_pauses_and_counts_one_step():
    s = TrainingSession(TrainConfig(model=SMALL, batch_size=16, eval_samples=200), evaluate=False)
    try:
        r = slow_round(s)
        snap = s.snapshot()
        assert r is not None and snap.step == r.step == 1 and snap.state == "paused"
        assert "slow motion" in snap.message and snap.version == 1
    finally:
        s.close()


# ----- the graph --------------------------------------------------------------------------------------------
def test_graph_highlights_the_active_parts():
    a, _ = pair(loss="nonsaturating")
    r = play_round(a)
    sub = next(s for s in r.steps if s.key == "d_real")
    svg = graph.graph_svg(graph.view_of_substep(r, sub, a.history.rows))
    active = set(re.findall(r"data-part='([^']+)' class='gx-part gx-active'", svg))
    assert active == set(sub.active) == {"real", "real>D", "D"}
    assert set(re.findall(r"data-part='([^']+)'", svg)) == set(PARTS)
    assert svg.count("data:image/png;base64,") == 1  # D's verdict
    assert svg.count("<circle") >= 2 * 16  # the real points in their box and on D's verdict
    g_step = next(s for s in r.steps if s.key == "g_step")
    svg = graph.graph_svg(graph.view_of_substep(r, g_step, a.history.rows))
    assert "class='gx-part gx-active'" in svg and svg.count("<line") >= 16  # the arrows on the fakes
    # the loss boxes show what is known at each sub-step: before D's loss, the last logged round's
    before = [row for row in a.history.rows if row["step"] < r.step][-1]
    first = graph.view_of_substep(r, r.steps[0], a.history.rows)
    assert (first.d_loss, first.g_loss) == (before["d_loss"], before["g_loss"])
    d_loss = next(s for s in r.steps if s.key == "d_loss")
    at = graph.view_of_substep(r, d_loss, a.history.rows)
    assert at.d_loss == d_loss.values["d_loss"] and at.g_loss == before["g_loss"]
    assert f"D's loss = <tspan font-weight='bold'>{num(at.d_loss)}</tspan>" in graph.graph_svg(at)
    with pytest.raises(ValueError, match="unknown graph part"):
        graph.graph_svg(graph.GraphView(loss="minimax", extent=2.0, active=("nope",)))


def test_graph_of_a_snapshot_has_no_highlight():
    s = TrainingSession(TrainConfig(model=SMALL, batch_size=16, eval_samples=200), evaluate=False)
    try:
        s.step()
        view = graph.GraphPainter().view(s.snapshot())
    finally:
        s.close()
    svg = graph.graph_svg(view)
    assert "gx-active" not in svg and "opacity='0.35'" not in svg
    assert view.fake.shape == (graph.N_SHOWN, 2) and view.heat.shape == (graph.HEAT_RES, graph.HEAT_RES)
    assert math.isfinite(view.grad_norm) and view.grad_norm == pytest.approx(
        view.grad_norm_ns
    )  # non-saturating


# ----- the formula view -------------------------------------------------------------------------------------
@pytest.mark.parametrize("loss", losses.LOSSES)
def test_formula_plugs_in_the_last_logged_losses(loss):
    t = Trainer(TrainConfig(model=SMALL, batch_size=16, loss=loss))
    empty = formula.formula_markdown(loss, [])
    assert formula.D_LATEX[loss] in empty and "first training step" in empty
    play_round(t)
    t.step()
    row = t.history.rows[-1]
    md = formula.formula_markdown(loss, t.history.rows)
    assert f"\\mathbf{{{num(row['g_loss'])}}}" in md
    assert num(row["d_loss"]) in md and num(row["g_loss"]) in md and f"Step {row['step']:,}" in md
    assert formula.D_LATEX[loss] in md and formula.G_LATEX[loss] in md
    if loss == "wgan":  # D's loss is exactly mean score on fakes minus mean score on reals
        assert f"{num(row['d_fake'])} - ({num(row['d_real'])})" in md


def test_gcurve_caption_compares_with_non_saturating():
    a, _ = pair(loss="minimax")
    r = play_round(a)
    g = next(s for s in r.steps if s.key == "g_loss")
    cap = formula.gcurve_caption("minimax", r.grad_norm, r.grad_norm_ns, g.arrays["d_fake"])
    assert f"{r.grad_norm:.3g}" in cap and f"{r.grad_norm_ns:.3g}" in cap and "non-saturating" in cap
    # minimax's gradient is sigma(f) against non-saturating's 1 - sigma(f): smaller where D rejects the fakes
    mean = float(np.mean(g.arrays["d_fake"]))
    assert (r.grad_norm < r.grad_norm_ns) == (mean < 0.5)
    pic = formula.gcurve_picture("minimax", g.arrays["d_fake"], r.grad_norm, r.grad_norm_ns)
    assert pic.dtype == np.uint8 and pic.shape == (340, 560, 3)
    critic = formula.gcurve_caption("wgan-gp", 0.2, 0.1)
    assert "not marked" in critic


def test_gradient_sizes_on_copies_match_the_round():
    """The graph painter's measurement (copies, fixed noise) equals autograd on the trainer's networks."""
    t = Trainer(TrainConfig(model=SMALL, batch_size=16, loss="minimax"))
    z = torch.randn(32, 2, generator=torch.Generator().manual_seed(0))
    size, size_ns, values = formula.g_gradient_sizes(t.G, t.D, z, "minimax")
    t.G.zero_grad()
    losses.g_loss("minimax", t.D(t.G(z))).backward()
    norm = math.sqrt(sum(float(p.grad.pow(2).sum()) for p in t.G.parameters()))
    assert size == pytest.approx(norm, rel=1e-5) and values.shape == (32,) and (0 <= values).all()
    assert size_ns > 0


# ----- the command line -------------------------------------------------------------------------------------
def test_cli_slowmo_measures_the_saturating_gradient(capsys):
    import json

    from gan_core.__main__ import main

    assert main(["slowmo", "--preset", "saturating", "--steps", "20", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["step"] == 21 and out["loss"] == "minimax"
    assert [s["key"] for s in out["substeps"]] == list(D_KEYS) * 3 + list(G_KEYS)
    # D (3 steps per G step, 10x G's rate) rejects the fakes: minimax's gradient is the smaller one
    assert out["d_fake_mean"] < 0.2 and out["g_grad_ratio"] > 2
    assert main(["slowmo", "--preset", "digits-dcgan"]) == 2
    assert "2D presets" in capsys.readouterr().err


def test_session_slow_round_reports_a_divergence():
    cfg = TrainConfig(model=SMALL, loss="lsgan", lr_d=10.0, lr_g=10.0, optimizer="sgd", eval_samples=200)
    s = TrainingSession(cfg, evaluate=False)
    try:
        for _ in range(200):
            if slow_round(s) is None:
                break
        snap = s.snapshot()
        assert snap.state == "diverged" and "Lower the learning rates" in snap.message
        assert torch.isfinite(snap.g_state).all()
    finally:
        s.close()


def test_guarded_stream_turns_failures_into_one_line_messages():
    import asyncio

    import gradio as gr

    from app.common.guard import guarded_stream

    @guarded_stream
    async def plays(fail):
        yield 1
        raise fail

    async def drain(fail):
        return [x async for x in plays(fail)]

    with pytest.raises(gr.Error, match="Seconds per sub-step must be a number"):
        asyncio.run(drain(ValueError("Seconds per sub-step must be a number\nsecond line")))
    with pytest.raises(gr.Error, match="Something went wrong \\(ZeroDivisionError\\)"):
        asyncio.run(drain(ZeroDivisionError("internal")))

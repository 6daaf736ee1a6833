"""The Train (2D) tab's slow motion through gradio_client: `t2d_slowmo` plays exactly one real round on the
caller's own training (the weights equal one `trainer.step` from the same start), ends with "round
played", and bad speeds get a one-line message naming the slider."""

from __future__ import annotations

import pytest
import torch

from apihelpers import expect_app_error
from gan_core.training import presets
from gan_core.training.trainer import Trainer

LAYERS = ["heatmap", "real", "fake"]


def status(result) -> dict:
    return [r for r in result if isinstance(r, dict) and {"step", "state", "config"} <= set(r)][0]


def is_skipped(output) -> bool:
    return isinstance(output, dict) and output.get("__type__") == "update" and "value" not in output


def test_slowmo_plays_exactly_one_round(app, client):
    sessions = app.app_context.sessions
    known = sessions.keys("train2d")
    client.predict("collapse-ring", LAYERS, api_name="/t2d_load_preset")
    (key,) = sessions.keys("train2d") - known
    trainer = sessions.peek(key, "train2d").training.trainer
    assert trainer.step_count == 0
    g0 = trainer.g_flat.data.clone()

    graph, substep, formula, gcurve, counter, record = client.predict(0, api_name="/t2d_slowmo")
    assert substep.rstrip().endswith("round played"), substep
    assert "Sub-step 10 of 10: G's gradient step" in substep
    assert (record["step"], record["state"]) == (1, "paused")
    assert "step 1" in counter and "data-part='G'" in graph and "L_G" in formula

    # the reference: a fresh trainer of the same preset, one ordinary round with the autograd engine
    ref = Trainer(presets.get("collapse-ring").config)
    assert torch.equal(ref.g_flat.data, g0)
    ref.use_engine("autograd")
    ref.step("both")
    live = sessions.peek(key, "train2d").training.trainer
    assert live.step_count == 1
    assert torch.equal(live.g_flat.data, ref.g_flat.data) and torch.equal(live.d_flat.data, ref.d_flat.data)
    assert torch.equal(live.opt_d.exp_avg, ref.opt_d.exp_avg) and torch.equal(
        live.opt_g.exp_avg, ref.opt_g.exp_avg
    )

    opened = client.predict(api_name="/t2d_howitworks")  # the accordion opens on the same training
    assert "step 1" in opened[0] and opened[3]["active"] is True
    polled = client.predict(api_name="/t2d_howitworks_poll")
    assert all(is_skipped(x) for x in polled), "nothing changed: nothing is redrawn"
    client.predict(LAYERS, api_name="/t2d_step")
    graph, formula, gcurve = client.predict(api_name="/t2d_howitworks_poll")
    assert "step 2" in graph and "Step 2" in formula and not is_skipped(gcurve)


def test_slowmo_refuses_a_bad_speed_and_keeps_serving(client):
    client.predict("collapse-ring", LAYERS, api_name="/t2d_load_preset")
    expect_app_error(
        client, "greater than maximum value 5", 99, api_name="/t2d_slowmo"
    )  # the slider's own check
    s = status(client.predict(LAYERS, api_name="/t2d_poll"))
    assert (s["step"], s["state"]) == (0, "idle"), "a refused slow motion changes nothing"


def test_speed_check_names_the_slider():
    from app.tabs.train2d.howitworks import check_speed

    assert check_speed(1.5) == 1.5 and check_speed("0") == 0.0
    for bad, words in (
        (99, "between 0 and 5"),
        (-1, "between 0 and 5"),
        ("fast", "must be a number"),
        (float("nan"), "between 0 and 5"),
        (None, "must be a number"),
        (True, "must be a number"),
    ):
        with pytest.raises(ValueError, match=f"Seconds per sub-step {words}" if "number" in words else words):
            check_speed(bad)

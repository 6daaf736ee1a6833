"""The Train (2D) tab through gradio_client: training controls, live settings, session isolation, user
data and checkpoints, including hostile inputs that must give a clear error while the app keeps serving."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch
from gradio_client import handle_file
from PIL import Image
from safetensors import safe_open
from safetensors.torch import save_file

import gradio as gr
from app.common.models import start_training
from app.common.sessions import training_kind
from app.common.store import SessionStore

from apihelpers import expect_app_error, wait_until
from gan_core.training import presets

LAYERS = ["heatmap", "real", "fake"]


def status(result) -> dict:
    """The session status record among an endpoint's outputs."""
    found = [r for r in result if isinstance(r, dict) and {"step", "state", "config"} <= set(r)]
    assert len(found) == 1, f"no status record in {result!r}"
    return found[0]


def timer_active(result) -> bool | None:
    """The refresh timer's `active` flag among an endpoint's outputs."""
    return [r for r in result if isinstance(r, dict) and "active" in r][0]["active"]


def is_skipped(output) -> bool:
    return isinstance(output, dict) and output.get("__type__") == "update" and "value" not in output


def call(client, api_name: str, *args) -> dict:
    return status(client.predict(*args, api_name=api_name))


def poll(client) -> dict:
    return call(client, "/t2d_poll", LAYERS)


def wait_for(client, pred, timeout: float = 30.0) -> dict:
    return wait_until(lambda: poll(client), pred, timeout)


def expect_error(client, fragment: str, *args, api_name: str) -> str:
    return expect_app_error(client, fragment, *args, api_name=api_name,
                            still_answers=lambda: poll(client)["state"] in ("idle", "paused"))


def write(path, data: bytes | str) -> str:
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(path, mode) as f:
        f.write(data)
    return str(path)


# ----------------------------------------------------------------------------------- training controls


@pytest.mark.slow
def test_play_poll_pause_step_reset(client):
    s = call(client, "/t2d_load_preset", "collapse-ring", LAYERS)
    assert (s["step"], s["state"], s["dataset"], s["n_modes"]) == (0, "idle", "ring", 8)

    played = client.predict(LAYERS, api_name="/t2d_play")
    assert timer_active(played) is True, "the refresh timer runs while training"
    running = wait_for(client, lambda s: s["step"] > 0)
    assert running["state"] == "running"

    paused = client.predict(LAYERS, api_name="/t2d_pause")
    assert timer_active(paused) is False, "the refresh timer stops with the training"
    paused = status(paused)
    assert paused["state"] == "paused" and paused["step"] >= running["step"]
    first, second = client.predict(LAYERS, api_name="/t2d_poll"), client.predict(LAYERS, api_name="/t2d_poll")
    assert status(first)["step"] == status(second)["step"] == paused["step"]
    assert is_skipped(second[0]), "an unchanged snapshot is not drawn again"

    step = paused["step"]
    for api in ("/t2d_step_d", "/t2d_step_g", "/t2d_step"):
        s = call(client, api, LAYERS)
        assert s["step"] == step + 1, f"{api} moved the step from {step} to {s['step']}"
        assert s["state"] == "paused"
        step = s["step"]

    s = call(client, "/t2d_reset", LAYERS)
    assert (s["step"], s["state"]) == (0, "idle")


def test_set_hparams_is_reflected_and_validated(client):
    call(client, "/t2d_load_preset", "collapse-ring", LAYERS)
    s = call(client, "/t2d_set_hparams", LAYERS, "hinge", "sgd", "0.0005", "0.002", 3, 64, 2, "0.99")
    cfg = s["config"]
    assert (cfg["loss"], cfg["optimizer"], cfg["d_steps"], cfg["batch_size"], cfg["unroll"]) == \
        ("hinge", "sgd", 3, 64, 2)
    assert (cfg["lr_d"], cfg["lr_g"], cfg["g_ema"]) == (0.0005, 0.002, 0.99)
    assert call(client, "/t2d_step", LAYERS)["step"] == 1  # the new settings train

    expect_error(client, "D learning rate must be a number, got 'fast'; keeping 0.0005", LAYERS, "hinge",
                 "sgd", "fast", "0.002", 3, 64, 2, "0.99", api_name="/t2d_set_hparams")
    expect_error(client, "G learning rate must be in (0, 10], got '50'; keeping 0.002", LAYERS, "hinge",
                 "sgd", "0.0005", "50", 3, 64, 2, "0.99", api_name="/t2d_set_hparams")
    assert poll(client)["config"]["lr_d"] == 0.0005, "a rejected change must leave the settings alone"


def test_divergence_is_reported_and_recoverable(client):
    call(client, "/t2d_load_preset", "collapse-ring", LAYERS)
    call(client, "/t2d_set_hparams", LAYERS, "lsgan", "sgd", "10", "10", 1, 256, 0, "0")
    for _ in range(3):
        result = client.predict(LAYERS, api_name="/t2d_step")
    s, counter = status(result), result[1]
    assert s["state"] == "diverged" and "Training diverged" in s["message"]
    assert "Lower the learning rates" in counter and "diverged" in counter

    call(client, "/t2d_set_hparams", LAYERS, "nonsaturating", "adam", "0.001", "0.001", 1, 256, 0, "0")
    s = call(client, "/t2d_step", LAYERS)
    assert s["state"] == "paused" and s["step"] >= 1


def test_a_training_thread_that_raises_shows_error_and_resets(client, app):
    """Any exception in the training thread (not only a divergence) stops the session in state 'error'
    with a one-line message, without internal paths, within one poll; Reset starts afresh."""
    call(client, "/t2d_load_preset", "stable-ring", LAYERS)
    slot = app.app_context.sessions.peek(client.session_hash, "train2d")
    trainer = slot.training.trainer

    def broken():
        raise RuntimeError("shape mismatch in /srv/secret/models/x.py line 3")

    trainer.advance = broken
    call(client, "/t2d_play", LAYERS)
    s = wait_for(client, lambda s: s["state"] == "error", timeout=10)
    counter = client.predict(LAYERS, api_name="/t2d_poll")[1]
    assert s["message"].startswith("error: ") and "shape mismatch" in s["message"]
    assert "/srv/secret" not in s["message"] and "stopped by an error" in counter and "⚠" in counter
    s = call(client, "/t2d_reset", LAYERS, 64, 2, 64, 2, "relu", "leaky_relu", 2, "gaussian", 1)
    assert s["state"] == "idle" and s["step"] == 0
    s = call(client, "/t2d_step", LAYERS)
    assert s["state"] == "paused" and s["step"] == 1


def test_model_settings_apply_on_reset(client):
    call(client, "/t2d_load_preset", "stable-ring", LAYERS)
    model = [48, 3, 40, 2, "tanh", "relu", 1, "uniform", 2]
    s = call(client, "/t2d_reset", LAYERS, *model)
    got = s["config"]["model"]
    assert (got["g_hidden"], got["g_layers"], got["d_hidden"], got["d_layers"]) == (48, 3, 40, 2)
    assert (got["activation"], got["d_activation"], got["z_dim"], got["noise"], got["pack"]) == \
        ("tanh", "relu", 1, "uniform", 2)
    assert call(client, "/t2d_step", LAYERS)["step"] == 1


@pytest.mark.slow
def test_two_clients_are_independent(make_client):
    a, b = make_client(), make_client()
    call(a, "/t2d_load_preset", "collapse-ring", LAYERS)
    sb = call(b, "/t2d_choose_dataset", "grid", LAYERS)
    assert (sb["dataset"], sb["n_modes"], sb["step"]) == ("grid", 25, 0)

    call(a, "/t2d_play", LAYERS)
    wait_for(a, lambda s: s["step"] >= 100)
    call(a, "/t2d_pause", LAYERS)
    sa, sb = poll(a), poll(b)
    assert sa["dataset"] == "ring" and sa["step"] >= 100
    assert sb["dataset"] == "grid" and sb["step"] == 0 and sb["state"] == "idle"


# --------------------------------------------------------------------------------------- user data


def test_csv_upload_good_and_bad(client, tmp_path):
    call(client, "/t2d_load_preset", "stable-ring", LAYERS)
    pts = "\n".join(f"{x:.3f},{x * x:.3f}" for x in np.linspace(-1, 1, 50))
    s = call(client, "/t2d_upload_csv", handle_file(write(tmp_path / "ok.csv", "x,y\n" + pts)), LAYERS)
    assert (s["dataset"], s["n_modes"], s["step"]) == ("csv", None, 0)
    assert "kl_grid" in s["metrics"] and "modes" not in s["metrics"]

    bad = {"malformed.csv": ("x,y\n1,2\n3,oops\n", "line 3"),
           "nan.csv": ("1,2\n3,nan\n5,6\n", "NaN"),
           "binary.csv": (bytes(range(256)) * 8, "not UTF-8 text")}
    for name, (content, fragment) in bad.items():
        expect_error(client, fragment, handle_file(write(tmp_path / name, content)), LAYERS,
                     api_name="/t2d_upload_csv")
    assert poll(client)["dataset"] == "csv", "a rejected file must not replace the data"


def _png(path, ink: bool) -> str:
    img = np.full((120, 120, 4), 255, np.uint8)
    if ink:
        yy, xx = np.mgrid[:120, :120]
        ring = np.abs(np.hypot(yy - 60, xx - 60) - 40) < 3
        img[ring, :3] = 0
    Image.fromarray(img).save(path)
    return str(path)


def test_drawing_empty_and_real(client, tmp_path):
    call(client, "/t2d_load_preset", "stable-ring", LAYERS)
    blank = handle_file(_png(tmp_path / "blank.png", ink=False))
    expect_error(client, "drawing is empty", {"background": blank, "layers": [], "composite": blank}, LAYERS,
                 api_name="/t2d_use_drawing")
    expect_error(client, "drawing is empty", None, LAYERS, api_name="/t2d_use_drawing")
    assert poll(client)["dataset"] == "ring"

    drawn = handle_file(_png(tmp_path / "circle.png", ink=True))
    s = call(client, "/t2d_use_drawing", {"background": blank, "layers": [], "composite": drawn}, LAYERS)
    assert (s["dataset"], s["step"]) == ("drawing", 0)
    assert call(client, "/t2d_step", LAYERS)["step"] == 1


# ------------------------------------------------------------------------------------------ checkpoints


def test_checkpoint_round_trip(client, tmp_path):
    call(client, "/t2d_load_preset", "collapse-ring", LAYERS)
    call(client, "/t2d_set_hparams", LAYERS, "lsgan", "adam", "0.0005", "0.0005", 2, 64, 0, "0")
    for _ in range(3):
        saved = call(client, "/t2d_step", LAYERS)
    assert saved["step"] == 3
    path = client.predict(api_name="/t2d_save_checkpoint")
    path = path["value"] if isinstance(path, dict) else path
    assert str(path).endswith(".safetensors")

    assert call(client, "/t2d_reset", LAYERS)["step"] == 0
    s = call(client, "/t2d_load_checkpoint", handle_file(path), LAYERS)
    assert s["step"] == 3 and s["state"] == "paused"
    assert (s["config"]["loss"], s["config"]["d_steps"], s["dataset"]) == ("lsgan", 2, "ring")
    assert call(client, "/t2d_step", LAYERS)["step"] == 4, "training continues from the loaded step"

    # the same file with a model config that does not fit its weights
    with safe_open(path, framework="pt") as f:
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    model = json.loads(meta["model_config"])
    model["g_hidden"] += 8
    mismatch = str(tmp_path / "mismatch.safetensors")
    save_file(tensors, mismatch, metadata={**meta, "model_config": json.dumps(model)})
    expect_error(client, "has shape", handle_file(mismatch), LAYERS, api_name="/t2d_load_checkpoint")


def test_bad_checkpoint_uploads(client, tmp_path):
    call(client, "/t2d_load_preset", "stable-ring", LAYERS)
    garbage = write(tmp_path / "garbage.safetensors", bytes(range(256)) * 16)
    expect_error(client, "not a valid safetensors file", handle_file(garbage), LAYERS,
                 api_name="/t2d_load_checkpoint")

    plain = str(tmp_path / "plain.safetensors")
    save_file({"w": torch.zeros(3)}, plain, metadata={"note": "not ours"})
    expect_error(client, "not a GAN Explorer checkpoint", handle_file(plain), LAYERS,
                 api_name="/t2d_load_checkpoint")

    text = write(tmp_path / "weights.txt", "hello")
    expect_error(client, "Invalid file type", handle_file(text), LAYERS, api_name="/t2d_load_checkpoint")
    expect_error(client, "not in the list of choices", "../../etc/passwd", LAYERS,
                 api_name="/t2d_load_shipped")
    assert poll(client)["dataset"] == "ring"


def test_shipped_checkpoints_listed_and_loaded(client):
    params = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/t2d_load_shipped"]
    choices = params["parameters"][0]["type"]["enum"]
    assert choices == ["tiny-ring.safetensors"], "only readable 2D checkpoints are offered"
    result = client.predict("tiny-ring.safetensors", LAYERS, api_name="/t2d_load_shipped")
    s = status(result)
    assert (s["step"], s["state"], s["dataset"]) == (5, "paused", "ring")
    ring = presets.get("stable-ring")
    assert "stable-ring" in result and ring.description in result, "the preset menu follows the model"
    assert s["config"]["g_ema"] == 0.999 and "tiny-ring" in s["message"]


# ------------------------------------------------------------------------------------- old api names


OLD_NAMES = ["init_2d", "poll_2d", "set_layers", "describe_preset", "load_preset", "choose_dataset",
             "use_drawing", "upload_csv", "train_play", "train_pause", "train_reset", "train_step",
             "train_step_d", "train_step_g", "set_hparams", "set_speed", "save_checkpoint", "load_checkpoint",
             "load_shipped"]


def test_old_api_names_still_answer(client):
    api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    for old in OLD_NAMES:
        assert f"/{old}" in api, f"/{old} no longer answers"
        new = f"/t2d_{old.removeprefix('train_').removesuffix('_2d')}"
        assert new in api, f"{new} is missing"
        assert api[f"/{old}"]["parameters"] == api[new]["parameters"], f"/{old} takes other inputs than {new}"
        assert api[f"/{old}"]["returns"] == api[new]["returns"], f"/{old} returns other outputs than {new}"

    call(client, "/t2d_load_preset", "collapse-ring", LAYERS)
    via_old, via_new = call(client, "/train_step", LAYERS), call(client, "/t2d_step", LAYERS)
    assert (via_old["step"], via_new["step"]) == (1, 2), "both names step the same session"
    old_poll = client.predict(LAYERS, api_name="/poll_2d")
    assert status(old_poll) == status(client.predict(LAYERS, api_name="/t2d_poll"))
    ring = presets.get("stable-ring").description
    assert client.predict("stable-ring", api_name="/describe_preset") == ring
    assert client.predict("stable-ring", api_name="/t2d_describe_preset") == ring


# ------------------------------------------------------------------------------------------ session store


class FakeTraining:
    def __init__(self):
        self.state, self.closed = "running", False

    def play(self):
        self.state = "running"

    def pause(self):
        self.state = "paused"

    def close(self):
        self.closed = True


class FakeRequest:
    def __init__(self, key):
        self.session_hash = key


def test_session_store_cap_and_idle_cleanup():
    kinds = [training_kind("train2d", FakeTraining, lambda: None, cap=2),
             training_kind("trainimg", FakeTraining, lambda: None, cap=1)]
    store = SessionStore(kinds, idle_pause_s=10, idle_close_s=100, sweep_every_s=3600)
    a, b = store.slot(FakeRequest("a"), "train2d"), store.slot(FakeRequest("b"), "train2d")
    assert store.slot(FakeRequest("a"), "train2d") is a and a.training is not b.training
    with pytest.raises(gr.Error, match="server is busy: 2 training sessions"):
        store.slot(FakeRequest("c"), "train2d")
    with pytest.raises(gr.Error, match="needs a browser or API session"):
        store.slot(FakeRequest(None), "train2d")
    image = store.slot(FakeRequest("a"), "trainimg")  # each kind has its own cap
    assert store.keys("train2d") == {"a", "b"} and store.keys("trainimg") == {"a"}

    now = time.monotonic()
    store.sweep(now + 20)  # nobody polled for 20 s: running sessions are paused, not closed
    assert (a.training.state, a.training.closed, store.count("train2d")) == ("paused", False, 2)
    store.sweep(now + 200)
    assert a.training.closed and b.training.closed and image.training.closed and len(store) == 0
    store.slot(FakeRequest("c"), "train2d")  # room again
    store.close_request(FakeRequest("c"))
    assert len(store) == 0
    store.shutdown()


def test_starting_a_training_pauses_the_other():
    kinds = [training_kind(k, FakeTraining, lambda: None, cap=2) for k in ("train2d", "trainimg")]
    store = SessionStore(kinds, sweep_every_s=3600)
    visitor = store.visitor(FakeRequest("v"))
    two_d = visitor.slot("train2d")
    two_d.training.state = "idle"
    assert start_training(visitor, "trainimg") is None, "nothing else ran"
    images = visitor.peek("trainimg")
    assert images.training.state == "running"
    assert "image training" in start_training(visitor, "train2d")
    assert (images.training.state, two_d.training.state) == ("paused", "running")
    assert "Train (2D)" in start_training(visitor, "trainimg")
    assert (images.training.state, two_d.training.state) == ("running", "paused")
    store.shutdown()

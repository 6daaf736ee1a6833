"""The Train (images) tab through gradio_client: presets, steps and the live grid, the timeline, live
settings, the conditional grid, checkpoints (saved, uploaded and shipped) and uploaded images, including
hostile uploads that must give a clear error while the app keeps serving.

The module serves its own app, whose checkpoints folder holds a tiny image checkpoint beside files that
must not be offered (an evaluator, a 2D checkpoint, a broken file)."""

from __future__ import annotations

import io
import shutil
import socket
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from apihelpers import expect_app_error, wait_until
from gan_core.training import presets

REPO = Path(__file__).resolve().parent.parent
OUTPUTS = ("headline", "grid", "timeline", "follow", "caption", "loss", "fd", "mi", "hist", "hist_time",
           "share", "status", "timer")
TRAIN = ("nonsaturating", "adam", 0.5, "0.0002", "0.0002", 1, 64, "0.999")  # the hparam widgets' order


# ------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def image_checkpoints(tmp_path_factory):
    """A checkpoints folder: a 2-step conditional digits GAN (the one to offer), an evaluator, a 2D
    checkpoint and a broken file (none of which may be offered)."""
    from gan_core import checkpoint
    from gan_core.training import presets
    from gan_core.training.trainer import Trainer

    folder = tmp_path_factory.mktemp("image-checkpoints")
    trainer = Trainer(presets.get("digits-conditional").config)
    trainer.step()
    trainer.evaluate()  # an evaluation in the stored history, for the histograms over time
    trainer.step()
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]  # the run's timeline: one solid grid per step
    grids = [(s, np.full((40, 32, 3), c, np.uint8)) for s, c in zip((0, 1, 2), colours)]
    checkpoint.save(str(folder / "digits-conditional.safetensors"), trainer, {"preset": "digits-conditional"},
                    timeline=grids)
    ring = Trainer(presets.get("stable-ring").config.replace(eval_samples=100))
    ring.step()
    checkpoint.save(str(folder / "tiny-ring.safetensors"), ring)
    for suffix in (".safetensors", ".json"):
        shutil.copy(REPO / "checkpoints" / f"eval-digits-classifier{suffix}", folder)
    (folder / "broken.safetensors").write_bytes(b"not a checkpoint")
    return folder


@pytest.fixture(scope="module")
def image_app(tmp_path_factory, image_checkpoints):
    from app.server import build_app, launch_options

    data_dir = tmp_path_factory.mktemp("image-app-data")
    demo = build_app(device="cpu", data_dir=data_dir, checkpoints_dir=image_checkpoints)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                **launch_options(data_dir, demo))
    try:
        yield demo
    finally:
        demo.close()
        demo.app_context.shutdown()


@pytest.fixture()
def new_client(image_app):
    clients = []

    def make() -> Client:
        clients.append(Client(image_app.local_url, verbose=False))
        return clients[-1]

    yield make
    for c in clients:
        c.close()


@pytest.fixture()
def client(new_client):
    return new_client()


# -------------------------------------------------------------------------------------------- helpers


def shown(result) -> dict:
    """The display outputs of an endpoint (they come last), by name."""
    return dict(zip(OUTPUTS, result[-len(OUTPUTS):]))


def call(client, api_name: str, *args) -> dict:
    return shown(client.predict(*args, api_name=api_name))


def poll(client) -> dict:
    return call(client, "/img_poll")["status"]


def picture(output) -> np.ndarray | None:
    """The grid as an array, or None when the output left the picture unchanged."""
    if isinstance(output, dict) and "value" not in output:
        return None
    return np.asarray(Image.open(output).convert("RGB"))


def wait_for(client, pred, timeout: float = 60.0) -> dict:
    return wait_until(lambda: poll(client), pred, timeout)


def expect_error(client, fragment: str, *args, api_name: str) -> str:
    return expect_app_error(client, fragment, *args, api_name=api_name,
                            still_answers=lambda: poll(client)["state"] in ("idle", "paused"))


def png_bytes(value: int, size: int = 12, mode: str = "L") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (size, size), value if mode == "L" else (value, 255 - value, 90)).save(buf, "PNG")
    return buf.getvalue()


def write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def zip_of(path: Path, entries: dict[str, bytes]) -> str:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(zipfile.ZipInfo(name), data, compress_type=zipfile.ZIP_DEFLATED)
    return str(path)


def huge_png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height grey pixels, with a few rows of data: a loader that
    checks the header before decoding refuses it at once."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * (width + 1) * 4)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def grid_side(n_tiles: int, image_size: int) -> int:
    """Pixels along a grid side of n tiles enlarged to about 64 px, with gutters of the same scale."""
    scale = 64 // image_size
    return n_tiles * (image_size + 1) * scale + scale


# ---------------------------------------------------------------------------------- endpoints, grid


def test_every_event_is_scriptable(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    wanted = {"init", "poll", "describe_preset", "load_preset", "upload", "play", "pause", "reset", "step",
              "step_d", "step_g", "set_hparams", "set_speed", "scrub", "follow", "save_checkpoint",
              "load_checkpoint", "load_shipped", "replay"}
    assert {f"/img_{n}" for n in wanted} <= names


@pytest.mark.slow
def test_steps_change_the_grid_and_the_timeline_keeps_earlier_grids(client):
    first = call(client, "/img_init")
    assert first["status"]["dataset"] == "digits" and first["status"]["evaluator"] == "classifier"
    loaded = call(client, "/img_load_preset", "digits-dcgan")
    s, grid0 = loaded["status"], picture(loaded["grid"])
    # one row per category of the preset's 10-way InfoGAN code
    assert (s["step"], s["timeline"], s["grid"]["rows"], s["grid"]["cols"]) == (0, [0], 10, 8)
    assert grid0.shape == (grid_side(10, 16), grid_side(8, 16), 3)
    assert "category of the InfoGAN code (0 at the top to 9)" in loaded["caption"]
    assert "classes covered (confidently) ? / 10" in loaded["headline"]
    assert "first evaluation at step" in loaded["headline"]

    no_ema = call(client, "/img_set_hparams", *TRAIN[:-1], "0")  # the grid shows G itself, not its average
    assert no_ema["status"]["config"]["g_ema"] == 0
    assert np.array_equal(picture(no_ema["grid"]), grid0), "at step 0 the average is G itself"
    grids = {0: grid0}
    for step in (1, 2, 3):
        out = call(client, "/img_step")
        assert out["status"]["step"] == step and out["status"]["state"] == "paused"
        grids[step] = picture(out["grid"])
        assert grids[step].shape == grid0.shape
    assert np.abs(grids[3].astype(int) - grid0).mean() > 0.5, "three training steps must change the grid"
    assert call(client, "/img_step_d")["status"]["step"] == 4
    assert call(client, "/img_step_g")["status"]["step"] == 5
    assert poll(client)["timeline"] == [0, 1, 2, 3, 4, 5]
    assert picture(call(client, "/img_poll")["grid"]) is None, "an unchanged snapshot is not sent again"

    back = call(client, "/img_scrub", 20)  # 20 % of 5 steps: the grid of step 1; the view stops following
    assert np.array_equal(picture(back["grid"]), grids[1])
    assert back["follow"] is False and back["status"]["grid"]["shown_step"] == 1
    stepped = call(client, "/img_step")
    assert stepped["status"]["step"] == 6 and picture(stepped["grid"]) is None, "scrubbed: the grid stays"
    assert "scrubbed back" in stepped["caption"]

    live = call(client, "/img_follow", True)
    assert live["status"]["grid"]["following"] is True and live["status"]["grid"]["shown_step"] == 6
    assert not np.array_equal(picture(live["grid"]), grids[1])
    assert np.array_equal(picture(call(client, "/img_scrub", 0)["grid"]), grid0)
    end = call(client, "/img_scrub", 100)
    assert end["status"]["grid"]["following"] is True and end["timeline"] == 100, "the end follows again"

    reset = call(client, "/img_reset")
    assert (reset["status"]["step"], reset["status"]["timeline"]) == (0, [0])
    assert np.array_equal(picture(reset["grid"]), grid0), "same seed and noise: the same first grid"


@pytest.mark.slow
def test_play_trains_live_and_pauses_the_visitors_2d_training(client):
    call(client, "/img_load_preset", "digits-collapse")
    client.predict("collapse-ring", ["heatmap", "real", "fake"], api_name="/load_preset")
    client.predict(["heatmap", "real", "fake"], api_name="/train_play")  # the same visitor's 2D training

    played = call(client, "/img_play")
    assert played["timer"]["active"] is True, "the refresh timer runs while training"
    status_2d = next(r for r in client.predict(["heatmap", "real", "fake"], api_name="/poll_2d")
                     if isinstance(r, dict) and "state" in r)
    assert status_2d["state"] == "paused", "image training pauses the visitor's 2D training"

    running = wait_for(client, lambda s: s["step"] >= 2)
    assert running["state"] == "running"
    paused = call(client, "/img_pause")
    assert paused["timer"]["active"] is False and paused["status"]["state"] == "paused"
    step = paused["status"]["step"]
    assert step >= running["step"] and paused["status"]["timeline"][-1] <= step
    assert poll(client)["step"] == step

    call(client, "/img_play")  # and the other way round: 2D training pauses the image training
    client.predict(["heatmap", "real", "fake"], api_name="/train_play")
    assert poll(client)["state"] == "paused", "2D training pauses the visitor's image training"
    client.predict(["heatmap", "real", "fake"], api_name="/train_pause")


def test_hparams_change_live_and_are_validated(client):
    call(client, "/img_load_preset", "digits-dcgan")
    s = call(client, "/img_set_hparams", "hinge", "adam", "0.9", "0.001", "0.002", 2, 32, "0.99")["status"]
    cfg = s["config"]
    assert (cfg["loss"], cfg["beta1"], cfg["lr_d"], cfg["lr_g"], cfg["d_steps"], cfg["batch_size"],
            cfg["g_ema"]) == ("hinge", 0.9, 0.001, 0.002, 2, 32, 0.99)
    assert call(client, "/img_step")["status"]["step"] == 1, "the new settings train"

    bad = list(TRAIN)
    bad[3] = "fast"
    expect_error(client, "D learning rate must be a number, got 'fast'; keeping 0.001", *bad,
                 api_name="/img_set_hparams")
    bad[3], bad[4] = "0.001", "50"
    expect_error(client, "G learning rate must be in (0, 10], got '50'; keeping 0.002", *bad,
                 api_name="/img_set_hparams")
    assert poll(client)["config"]["lr_d"] == 0.001, "a rejected change leaves the settings alone"


@pytest.mark.slow
def test_sessions_are_independent(new_client):
    a, b = new_client(), new_client()
    call(a, "/img_load_preset", "digits-dcgan")
    call(b, "/img_load_preset", "shapes-dcgan")
    call(a, "/img_step")
    sa, sb = poll(a), poll(b)
    assert (sa["dataset"], sa["step"]) == ("digits", 1)
    assert (sb["dataset"], sb["step"], sb["grid"]["rows"]) == ("shapes", 0, 8)


# ----------------------------------------------------------------------------------------- checkpoints


@pytest.mark.slow
def test_checkpoint_round_trip_shows_the_same_grid_and_the_scene_shares(client):
    call(client, "/img_load_preset", "scenes-dcgan")
    call(client, "/img_set_hparams", "lsgan", "adam", "0.5", "0.0002", "0.0002", 2, 32, "0.999")
    for _ in range(2):
        before = call(client, "/img_step")
    grid = picture(before["grid"])
    assert grid.shape == (grid_side(8, 32), grid_side(8, 32), 3)
    path = client.predict(api_name="/img_save_checkpoint")
    path = path["value"] if isinstance(path, dict) else path
    assert str(path).endswith(".safetensors")

    assert call(client, "/img_reset")["status"]["step"] == 0
    loaded = call(client, "/img_load_checkpoint", handle_file(path))
    s = loaded["status"]
    assert (s["step"], s["state"], s["dataset"], s["evaluator"]) == (2, "paused", "scenes", "segmenter")
    assert (s["config"]["loss"], s["config"]["d_steps"], s["config"]["batch_size"]) == ("lsgan", 2, 32)
    assert np.array_equal(picture(loaded["grid"]), grid), "the loaded generator draws the same grid"
    shares = loaded["share"]["data"]
    assert [row[0] for row in shares] == ["sky", "cloud", "sun", "mountain", "grass", "water", "tree",
                                          "house"]
    assert abs(sum(row[1] for row in shares) - 100) < 1 and abs(sum(row[2] for row in shares) - 100) < 1
    assert "class-share error" in loaded["headline"] and s["metrics"]["step"] == 2
    assert call(client, "/img_step")["status"]["step"] == 3, "training continues from the loaded step"


@pytest.mark.slow
def test_shipped_image_checkpoints_listed_and_loaded(client):
    endpoint = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/img_load_shipped"]
    choices = endpoint["parameters"][0]["type"]["enum"]
    assert choices == ["digits-conditional.safetensors"], "no evaluator, 2D or unreadable file is offered"

    result = client.predict("digits-conditional.safetensors", api_name="/img_load_shipped")
    out = shown(result)
    menu, info = result[-len(OUTPUTS) - 2:-len(OUTPUTS)]  # the preset menu and its text follow the model
    assert (menu, info) == ("digits-conditional", presets.get("digits-conditional").description)
    s = out["status"]
    assert (s["step"], s["state"], s["evaluator"], s["grid"]["rows"]) == (2, "paused", "classifier", 10)
    assert "digits-conditional" in s["message"]
    m = s["metrics"]
    assert len(m["histogram"]) == 10 and sum(m["histogram"]) == 1000 and 0 <= m["conditional_accuracy"] <= 1
    assert m["fd"] > 0 and m["fd_floor"] > 0
    assert "conditional accuracy" in out["headline"]
    assert "Each row asks for one class: 0 (top)" in out["caption"]
    assert picture(out["grid"]).shape == (grid_side(10, 16), grid_side(8, 16), 3), "one row per class"
    assert [row[1] for row in out["hist"]["data"]] == m["histogram"]
    assert picture(out["hist_time"]).shape[0] > 100, "the histograms over time are drawn"
    assert s["histogram_steps"] == [1, 2], "the stored evaluation, then this load's"
    drawn = {(step, series) for step, value, series in out["loss"]["data"] if value is not None}
    assert drawn == {(1, "D loss"), (2, "D loss"), (1, "G loss"), (2, "G loss")}, "the run's losses, replayed"

    expect_error(client, "not in the list of choices", "../../etc/passwd", api_name="/img_load_shipped")


@pytest.mark.slow
def test_a_loaded_checkpoint_replays_its_timeline(client):
    """The stored grids come back on the timeline: scrubbing shows them, Replay animates them all."""
    from PIL import ImageSequence

    out = call(client, "/img_load_shipped", "digits-conditional.safetensors")
    assert out["status"]["timeline"] == [0, 1, 2], "the run's grids, not just the loaded step's"
    first = picture(call(client, "/img_scrub", 0)["grid"])
    assert tuple(first[first.shape[0] // 2, first.shape[1] // 2]) == (255, 0, 0), "step 0's grid"
    middle = picture(call(client, "/img_scrub", 50)["grid"])
    assert tuple(middle[middle.shape[0] // 2, middle.shape[1] // 2]) == (0, 255, 0), "step 1's grid"
    gif = client.predict(api_name="/img_replay")
    path = gif["value"] if isinstance(gif, dict) else gif
    with Image.open(path) as im:
        frames = [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(im)]
    assert len(frames) == 3
    centres = [tuple(f[f.shape[0] // 2 + 17, f.shape[1] // 2]) for f in frames]
    assert centres == [(255, 0, 0), (0, 255, 0), (0, 0, 255)], "oldest first"

    call(client, "/img_load_preset", "digits-dcgan")
    expect_error(client, "Nothing to replay yet", api_name="/img_replay")


def test_bad_checkpoints_are_refused(client, image_checkpoints, tmp_path):
    call(client, "/img_load_preset", "digits-dcgan")
    two_d = handle_file(str(image_checkpoints / "tiny-ring.safetensors"))
    expect_error(client, "load it on the Train (2D) tab", two_d, api_name="/img_load_checkpoint")
    garbage = write(tmp_path / "garbage.safetensors", bytes(range(256)) * 16)
    expect_error(client, "not a valid safetensors file", handle_file(garbage),
                 api_name="/img_load_checkpoint")
    assert poll(client)["dataset"] == "digits"


# ---------------------------------------------------------------------------------------- user images


def test_uploaded_images_train_without_an_evaluator(client, tmp_path):
    pics = {f"{label}/{i}.png": png_bytes(40 * i + (120 if label == "b" else 0))
            for label in ("a", "b") for i in range(5)}
    good = zip_of(tmp_path / "my pics.zip", pics)
    out = call(client, "/img_upload", [handle_file(good)], 16, "grey")
    s = out["status"]
    assert (s["dataset"], s["evaluator"], s["step"]) == ("upload-my-pics", None, 0)
    assert "No evaluator" in out["headline"] and s["config"]["model"]["image_size"] == 16
    assert picture(out["grid"]).shape == (grid_side(8, 16), grid_side(8, 16), 3)
    assert call(client, "/img_step")["status"]["step"] == 1
    reset = call(client, "/img_reset")["status"]
    assert (reset["dataset"], reset["step"]) == ("upload-my-pics", 0), "reset keeps the uploaded images"

    call(client, "/img_step")
    path = client.predict(api_name="/img_save_checkpoint")
    path = path["value"] if isinstance(path, dict) else path
    reloaded = call(client, "/img_load_checkpoint", handle_file(path))["status"]
    assert (reloaded["dataset"], reloaded["step"]) == ("upload-my-pics", 1), "reloads onto the same images"

    files = [handle_file(write(tmp_path / f"p{i}.png", png_bytes(30 * i, mode="RGB"))) for i in range(3)]
    jpeg = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(jpeg, "JPEG")
    files.append(handle_file(write(tmp_path / "photo.jpg", jpeg.getvalue())))
    out = call(client, "/img_upload", files, 32, "colour")
    s = out["status"]
    model = s["config"]["model"]
    assert (s["dataset"], model["channels"], model["image_size"]) == ("upload-p0", 3, 32)
    assert "Loaded 4 uploaded images" in s["message"]


@pytest.mark.slow
def test_hostile_uploads_give_clear_errors(client, new_client, tmp_path):
    call(client, "/img_load_preset", "digits-dcgan")
    cases = {
        "escape.zip": (zip_of(tmp_path / "escape.zip", {"../evil.png": png_bytes(1)}), "unsafe path"),
        "bomb.zip": (zip_of(tmp_path / "bomb.zip", {"bomb.png": b"\0" * 5_000_000}), "zip bomb"),
        "huge.png": (write(tmp_path / "huge.png", huge_png_header(20_000, 20_000)), "too large"),
        "fake.png": (write(tmp_path / "fake.png", b"some text, not an image\n" * 20), "not a PNG or JPEG"),
    }
    for name, (path, fragment) in cases.items():
        msg = expect_error(client, fragment, [handle_file(path)], 32, "colour", api_name="/img_upload")
        assert name.split(".")[0] in msg or "zip" in msg, f"the message should name the file: {msg!r}"
    assert poll(client)["dataset"] == "digits", "a refused upload does not replace the data"
    assert call(client, "/img_step")["status"]["step"] == 1, "the session still trains"

    other = new_client()  # a checkpoint of uploaded images cannot load without those images
    ok = zip_of(tmp_path / "mine.zip", {f"{i}.png": png_bytes(20 * i) for i in range(4)})
    call(client, "/img_upload", [handle_file(ok)], 16, "grey")
    path = client.predict(api_name="/img_save_checkpoint")
    path = path["value"] if isinstance(path, dict) else path
    expect_error(other, "upload the same images", handle_file(path), api_name="/img_load_checkpoint")


# ------------------------------------------------------------------------------------------- timeline


def test_timeline_stays_bounded_and_evenly_spread():
    from app.tabs.trainimg.view import Timeline

    grid = np.zeros((4, 4, 3), np.uint8)
    t = Timeline(max_items=10)
    for step in range(1000):
        t.add(step, grid)
    steps = t.steps()
    assert len(steps) <= 10 and steps[0] == 0 and steps[-1] > 999 - t.every, "the whole run is covered"
    assert len(set(np.diff(steps))) == 1, f"kept grids are evenly spaced: {steps}"
    assert Timeline(max_bytes=3 * grid.nbytes).capacity(grid) == 3, "large grids: fewer of them"

    assert t.nearest(steps[1] + 1)[0] == steps[1] and t.nearest(-5)[0] == 0
    assert t.nearest(10**6)[0] == steps[-1]
    t.add(steps[2], grid)  # a divergence rolled the weights back: later grids are dropped
    assert t.steps() == steps[:3]
    assert not t.add(steps[2], grid), "the same step is kept once"

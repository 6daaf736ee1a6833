"""The Latent explorer tab through gradio_client and its render route over HTTP: every action is
scriptable, each session renders only its own model, and bad input gives a clear error."""

from __future__ import annotations

import io
import re
import urllib.error
import urllib.request

import numpy as np
import pytest
from gradio_client import handle_file
from PIL import Image

from apihelpers import expect_app_error

MODEL_OUT = ("source", "info", "seed", "label", "basis", "view", "readout", "psi", "page")
NO_SLIDERS = [0.0] * 8


def model_view(result) -> dict:
    return dict(zip(MODEL_OUT, result))


def token(view_html: str) -> str:
    m = re.search(r"data-token='([A-Za-z0-9_-]+)'", view_html)
    assert m, f"no token in the view: {view_html[:200]!r}"
    return m.group(1)


def fetch(app_url: str, query: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"{app_url}explore/render?{query}", timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def expect_error(client, fragment: str, *args, api_name: str) -> None:
    expect_app_error(client, fragment, *args, api_name=api_name)


def test_every_explorer_action_is_scriptable(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    wanted = {"init", "use", "seed", "random", "class", "basis", "page", "move", "reset", "save_direction",
              "save_picture", "truncation", "interpolate", "browse", "arithmetic", "invert", "use_inverted", "mre"}
    assert {f"/explore_{n}" for n in wanted} <= names


@pytest.mark.slow
def test_sessions_render_only_their_own_model(make_client, app_url):
    a, b = make_client(), make_client()
    va = model_view(a.predict(api_name="/explore_init"))  # the test folder ships only a 2D checkpoint
    vb = model_view(b.predict("live:image", api_name="/explore_use"))
    assert "Train (images)" in vb["info"] and "42 dimensions" in vb["info"]
    assert "the last 10 are InfoGAN codes: a 10-way category" in vb["info"]
    ta, tb = token(va["view"]), token(vb["view"])
    assert ta != tb
    status, body = fetch(app_url, f"t={ta}")
    assert status == 200 and png(body).shape[0] == 300  # a's 2D model: two panels
    status, body = fetch(app_url, f"t={tb}")
    assert status == 200 and png(body).shape == (16, 16, 3)  # b's digits generator
    status, body = fetch(app_url, "t=" + "x" * 32)
    assert status == 403 and b"unknown or expired" in body
    status, body = fetch(app_url, f"t={tb}&psi=9")
    assert status == 400 and b"psi" in body
    status, body = fetch(app_url, f"t={tb}&file=../../etc/passwd")
    assert status == 400 and b"unknown parameter" in body


def test_sliders_seed_and_saved_directions(client, app_url):
    v = model_view(client.predict("live:image", api_name="/explore_use"))
    tok = token(v["view"])
    seeded = client.predict(5, api_name="/explore_seed")
    assert seeded[0] == 5 and "seed 5" in seeded[2]
    first = png(fetch(app_url, f"t={tok}")[1])
    view, readout = client.predict(1.0, 2.0, *NO_SLIDERS[1:], api_name="/explore_move")
    assert "PC1 +2.00" in readout
    moved = png(fetch(app_url, f"t={tok}")[1])  # the route draws the point the event stored
    assert (first != moved).any()
    saved = client.predict("two of PC1", api_name="/explore_save_direction")
    assert "two of PC1" in saved
    out = client.predict("saved", api_name="/explore_basis")
    sliders = out[4:]
    assert sliders[0]["label"] == "two of PC1" and sliders[0]["visible"] is True
    assert sliders[1]["visible"] is False
    reset = client.predict(api_name="/explore_reset")
    assert "PC1" not in reset[1] and "seed 5" in reset[1]
    assert (png(fetch(app_url, f"t={tok}")[1]) == first).all()  # back to the seed's own image


@pytest.mark.slow
def test_truncation_interpolation_arithmetic(client):
    client.predict("live:image", api_name="/explore_use")
    picture, plot, table, caption = client.predict("1, 0", 0, 4, api_name="/explore_truncation")
    cols, rows = table["headers"], table["data"]
    assert [r[0] for r in rows] == [1.0, 0.0]
    v = cols.index("variety (pairwise pixel distance)")
    assert 0 <= rows[1][v] < rows[0][v]  # psi 0: the mean noise (each InfoGAN category kept)
    assert Image.open(plot).size[0] > 300  # the trade-off drawn against psi
    grid = np.asarray(Image.open(picture))
    half = grid.shape[0] // 2
    assert grid[:half].std() > 0
    strip, gif, caption, download = client.predict("1, 2, 3, 4", 32, "slerp", api_name="/explore_interpolate")
    anim = Image.open(gif)
    assert anim.n_frames == 32 and "exactly" in caption
    pic, cap = client.predict("1, 2", "3", "4, 5, 6", api_name="/explore_arithmetic")
    assert Image.open(pic).size[0] > 100 and "mean(A) - mean(B) + mean(C)" in cap
    gallery = client.predict(10, api_name="/explore_browse")
    assert len(gallery) == 24 and gallery[0]["caption"] == "seed 10"


@pytest.mark.slow
def test_inversion_and_exploring_the_found_latent(client):
    client.predict("live:image", api_name="/explore_use")
    picture, readout = client.predict("generated sample", 7, None, api_name="/explore_invert")
    psnr = float(re.search(r"PSNR ([\d.]+) dB", readout).group(1))
    assert psnr > 15  # an untrained generator's sample, 400 steps: the shipped one reaches 30 dB (CLI test)
    assert Image.open(picture).size[0] > 3 * Image.open(picture).size[1]  # target, recon, error, nearest
    out = client.predict(api_name="/explore_use_inverted")
    assert "inverted latent" in out[2]


def test_bad_input_gives_clear_errors_and_keeps_the_state(client, tmp_path):
    client.predict("live:image", api_name="/explore_use")
    client.predict(3, api_name="/explore_seed")
    expect_error(client, "minimum", -1, api_name="/explore_seed")
    expect_error(client, "not a seed", "1, x", 8, "slerp", api_name="/explore_interpolate")
    expect_error(client, "at least 2", "1", 8, "slerp", api_name="/explore_interpolate")
    expect_error(client, "psi values", "5", 0, 4, api_name="/explore_truncation")
    expect_error(client, "greater than maximum", 3.0, *NO_SLIDERS, api_name="/explore_move")
    expect_error(client, "not in the list of choices", "ckpt:../../secrets.safetensors", api_name="/explore_use")
    expect_error(client, "not in the list of choices", "ckpt:broken.safetensors", api_name="/explore_use")
    expect_error(client, "no saved directions", "saved", api_name="/explore_basis")
    expect_error(client, "upload an image first", "upload", 0, None, api_name="/explore_invert")
    fake = tmp_path / "notes.png"
    fake.write_text("this is text, not a picture")
    expect_error(client, "notes.png", "upload", 0, handle_file(str(fake)), api_name="/explore_invert")
    after = client.predict(1.0, *NO_SLIDERS, api_name="/explore_move")
    assert "seed 3" in after[1]  # the failed calls changed nothing


def test_latent_dimensions_are_paged(client):
    client.predict("live:image", api_name="/explore_use")  # z: 32 noise + 10 InfoGAN categories, 6 pages
    out = client.predict("axes", api_name="/explore_basis")
    page, sliders = out[3], out[4:]
    assert page["visible"] is True and len(page["choices"]) == 6
    assert [s["label"] for s in sliders] == [f"z[{i}]" for i in range(8)]
    out = client.predict(2, api_name="/explore_page")
    assert [s["label"] for s in out[4:]] == [f"z[{i}]" for i in range(16, 24)]
    view, readout = client.predict(1.0, 1.5, *NO_SLIDERS[1:], api_name="/explore_move")
    assert "z[16] +1.50" in readout
    out = client.predict(4, api_name="/explore_page")
    assert [s["label"] for s in out[4:]][:2] == ["z[32] (category 0)", "z[33] (category 1)"]
    expect_error(client, "not in the list of choices", 3, api_name="/explore_class")


def test_a_conditional_generator_gets_a_class_menu(client):
    client.predict("digits-conditional", api_name="/img_load_preset")  # the visitor's image model
    v = model_view(client.predict("live:image", api_name="/explore_use"))
    assert v["label"]["visible"] is True and len(v["label"]["choices"]) == 10
    assert "10 classes" in v["info"]
    out = client.predict(7, api_name="/explore_class")
    assert "class 7" in out[1]

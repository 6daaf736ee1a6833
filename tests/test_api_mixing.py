"""The Style mixing tab through gradio_client and its render route over HTTP, on an app whose checkpoints
folder holds one small style-based checkpoint: every action is scriptable, the route renders only the
token's own state, and bad input gets a clear one-line message."""

from __future__ import annotations

import io
import re
import urllib.error
import urllib.request

import numpy as np
import pytest
from PIL import Image

from apihelpers import expect_app_error
from conftest import free_port

MODEL_OUT = ("source", "info", "layers", "cutoff", "view", "readout")
SMALL = {"image_size": 16, "channels": 1, "g_base": 4, "g_max": 16, "d_base": 8, "z_dim": 8, "w_dim": 8,
         "mapping_layers": 2}


@pytest.fixture(scope="module")
def mixing_app(tmp_path_factory):
    from app.server import build_app, launch_options
    from gan_core import checkpoint
    from gan_core.training import TrainConfig, Trainer

    folder = tmp_path_factory.mktemp("style-checkpoints")
    data = tmp_path_factory.mktemp("style-data")
    t = Trainer(TrainConfig(dataset="digits16", family="style", model=SMALL, loss="hinge", batch_size=8,
                            steps=2, eval_every=2, eval_samples=100))
    t.run(2)
    checkpoint.save(str(folder / "tiny-style.safetensors"), t)
    demo = build_app(device="cpu", data_dir=data, checkpoints_dir=folder)
    demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
                **launch_options(data, demo))
    try:
        yield demo
    finally:
        demo.close()
        demo.app_context.shutdown()


@pytest.fixture()
def mclient(mixing_app):
    from gradio_client import Client

    c = Client(mixing_app.local_url, verbose=False)
    yield c
    c.close()


def token(view_html: str) -> str:
    m = re.search(r"data-token='([A-Za-z0-9_-]+)'", view_html)
    assert m, view_html[:200]
    return m.group(1)


def fetch(app, query: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"{app.local_url.rstrip('/')}/mixing/render?{query}", timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_every_mixing_action_is_scriptable(client):
    """On the shared test app, whose checkpoints folder holds no style-based model: the tab says so."""
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {f"/mixing_{n}" for n in ("init", "use", "set", "grid", "variation")} <= names
    out = client.predict(api_name="/mixing_init")
    assert any("No style-based model yet" in str(v) for v in out)


@pytest.mark.slow
def test_mixing_tab_mixes_grids_and_varies_a_shipped_model(mixing_app, mclient):
    view = dict(zip(MODEL_OUT, mclient.predict(api_name="/mixing_init")))
    assert view["source"] == "ckpt:tiny-style.safetensors" and "6 styles" in view["info"]
    tok = token(view["view"])
    html, readout = mclient.predict(1, 5, "custom", [0, 1], 1.0, 6, "off", 0, api_name="/mixing_set")
    assert "w0 (4x4), w1 (4x4)" in readout and "noise off" in readout
    code, first = fetch(mixing_app, f"t={tok}")
    code2, again = fetch(mixing_app, f"t={tok}&r=2")
    assert code == code2 == 200 and np.array_equal(png(first), png(again))  # noise off: the same picture
    code, other = fetch(mixing_app, f"t={tok}&cross=fine&psi=0.0")
    assert code == 200 and png(other).shape == png(first).shape and not np.array_equal(png(other), png(first))
    grid_path, caption = mclient.predict("1, 2", "5, 6, 7", "coarse", [], 1.0, 6, "constant", 0,
                                         api_name="/mixing_grid")
    grid = np.asarray(Image.open(grid_path))
    assert grid.shape[0] < grid.shape[1] and "B seeds 5, 6, 7" in caption  # 3 rows, 4 columns
    var_path, vcap = mclient.predict(3, 4, 1.0, 6, 0, api_name="/mixing_variation")
    assert Image.open(var_path).size[0] > 0 and "4 noises" in vcap


@pytest.mark.slow
def test_bad_mixing_input_gets_a_clear_message(mixing_app, mclient):
    mclient.predict(api_name="/mixing_init")
    still = lambda: bool(mclient.predict(api_name="/mixing_init"))  # noqa: E731
    expect_app_error(mclient, "A seeds: 'x' is not a seed", "1, x", "5", "coarse", [], 1.0, 6, "constant", 0,
                     api_name="/mixing_grid", still_answers=still)
    expect_app_error(mclient, "B seeds: at most 8 seeds", "1", ",".join(map(str, range(9))), "coarse", [], 1.0, 6,
                     "constant", 0, api_name="/mixing_grid")
    expect_app_error(mclient, "Your model on Train (images) is not style-based: train the preset Shapes (style-based)",
                     "live:image", api_name="/mixing_use")
    view = dict(zip(MODEL_OUT, mclient.predict(api_name="/mixing_init")))
    code, msg = fetch(mixing_app, f"t={token(view['view'])}&psi=7")
    assert code == 400 and b"Truncation psi must be between 0 and 1" in msg
    code, msg = fetch(mixing_app, f"t={token(view['view'])}&cut=9")
    assert code == 400 and b"Truncate the first \xe2\x80\xa6 styles must be a whole number from 0 to 6" in msg
    code, msg = fetch(mixing_app, f"t={token(view['view'])}&noise=loud")
    assert code == 400 and b"Noise must be one of constant, random, off" in msg
    code, msg = fetch(mixing_app, f"t={token(view['view'])}&cross=custom&w=0,9")
    assert code == 400 and b"Custom styles from B must be a whole number from 0 to 5" in msg
    code, msg = fetch(mixing_app, f"t={token(view['view'])}&a=abc")
    assert code == 400 and b"A seed must be a whole number, got 'abc'" in msg
    assert fetch(mixing_app, "t=" + "A" * 24)[0] == 403
    assert fetch(mixing_app, f"t={token(view['view'])}&evil=1")[0] == 400

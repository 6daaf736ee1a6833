"""The Code knobs tab through gradio_client and its render route over HTTP: every action is scriptable,
knobs change the picture, sweep grids have the promised layout, bad knob values get a clear message."""

from __future__ import annotations

import io
import math
import re
import urllib.error
import urllib.request

import numpy as np
import pytest
from PIL import Image

from apihelpers import expect_app_error

MODEL_OUT = ("source", "info", "seed", "cat", *(f"c{i}" for i in range(8)), "view", "readout", "sweep_code")


def token(view_html: str) -> str:
    m = re.search(r"data-token='([A-Za-z0-9_-]+)'", view_html)
    assert m, f"no token in the view: {view_html[:200]!r}"
    return m.group(1)


def fetch(app_url: str, query: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"{app_url}codes/render?{query}", timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(np.int16)


def picture(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def test_every_knob_action_is_scriptable(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    wanted = {"init", "use", "seed", "random", "move", "reset", "sweep", "learn"}
    assert {f"/codes_{n}" for n in wanted} <= names


@pytest.fixture()
def infogan(client, app_url):
    """The visitor's live image model set to the digits-infogan preset (untrained), chosen on the tab."""
    client.predict("digits-infogan", api_name="/img_load_preset")
    v = dict(zip(MODEL_OUT, client.predict("live:image", api_name="/codes_use")))
    return client, v


@pytest.mark.slow
def test_knobs_follow_through_the_route_and_refuse_bad_values(infogan, app_url):
    client, v = infogan
    assert "a 10-way category" in v["info"] and "2 continuous codes" in v["info"]
    tok = token(v["view"])
    status, base = fetch(app_url, f"t={tok}&cat=0&c0=0&c1=0")
    assert status == 200 and png(base).shape == (16, 16, 3)
    _, moved = fetch(app_url, f"t={tok}&cat=0&c0=1.9&c1=0")
    _, other = fetch(app_url, f"t={tok}&cat=7&c0=0&c1=0")
    assert np.abs(png(moved) - png(base)).max() > 0 and np.abs(png(other) - png(base)).max() > 0
    _, again = fetch(app_url, f"t={tok}&cat=0&c0=0&c1=0")
    assert np.array_equal(png(again), png(base))  # the same knobs give the same picture
    for query, status, words in ((f"t={tok}&cat=10", 400, b"Category must be a whole number from 0 to 9"),
                                 (f"t={tok}&c0=2.5", 400, b"Code 1 must be a number from -2 to 2"),
                                 (f"t={tok}&c1=nan", 400, b"Code 2 must be"),
                                 (f"t={tok}&file=x", 400, b"unknown parameter"),
                                 ("t=" + "x" * 32, 403, b"unknown or expired")):
        got, body = fetch(app_url, query)
        assert got == status and words in body, (query, got, body)
    readout = client.predict(3, 0.5, -1.5, *[0.0] * 6, api_name="/codes_move")[1]
    assert "category 3" in readout and "code 1 +0.50" in readout and "code 2 -1.50" in readout
    # Gradio checks a slider's range before the handler (the route above gives the knob's own words)
    expect_app_error(client, "greater than maximum value 2", 3, 7.0, 0.0, *[0.0] * 6, api_name="/codes_move")
    expect_app_error(client, "not in the list of choices", 12, 0.0, 0.0, *[0.0] * 6, api_name="/codes_move")
    seeded = client.predict(5, api_name="/codes_seed")
    assert seeded[0] == 5 and "seed 5" in seeded[2] and "category 3" in seeded[2]  # the codes stay
    expect_app_error(client, "Seed must be a whole number from 0 to", 2**40, api_name="/codes_seed")


@pytest.mark.slow
def test_sweep_grids_have_the_promised_layout(infogan):
    client, _ = infogan
    # 16 px digits enlarged 3x, gutters of 3 px: a grid of R rows and C columns is (51 R + 3) x (51 C + 3)
    size = lambda r, c: (51 * r + 3, 51 * c + 3, 3)  # noqa: E731
    pic, caption = client.predict("c1", "categories", "0", 5, -2, 2, api_name="/codes_sweep")
    assert picture(pic).shape == size(10, 5) and "rows = categories 0-9" in caption
    pic, caption = client.predict("c2", "seeds", "1, 2, 3", 7, -1, 1, api_name="/codes_sweep")
    assert picture(pic).shape == size(3, 7) and "seeds 1, 2, 3" in caption
    pic, caption = client.predict("category", "seeds", "4, 5", 9, -2, 2, api_name="/codes_sweep")
    assert picture(pic).shape == size(2, 10) and "columns = categories 0-9" in caption
    expect_app_error(client, "From and To must lie within -2 to 2", "c1", "seeds", "1", 5, -3, 2,
                     api_name="/codes_sweep")
    expect_app_error(client, "From below To", "c1", "seeds", "1", 5, 1, 1, api_name="/codes_sweep")
    expect_app_error(client, "greater than maximum value 16", "c1", "seeds", "1", 40, -2, 2, api_name="/codes_sweep")
    expect_app_error(client, "Seeds must list 1 to 16", "c1", "seeds", "", 5, -2, 2, api_name="/codes_sweep")
    expect_app_error(client, "not in the list of choices", "c9", "seeds", "1", 5, -2, 2, api_name="/codes_sweep")


@pytest.mark.slow
def test_what_each_code_learned(infogan):
    client, _ = infogan
    summary, confusion, heatmap, rep = client.predict(api_name="/codes_learn")
    assert "Category accuracy" in summary
    assert 0.1 <= rep["cat_accuracy"] <= 1 and len(rep["matching"]) == 10
    conf = np.array(rep["confusion"])
    assert conf.shape == (10, 10) and conf.sum() == 1000
    if "mi_bound" in rep:  # a live model's bound comes from its last evaluation (none before training)
        assert rep["mi_bound"] <= rep["mi_ceiling"] == pytest.approx(math.log(10))
    assert set(rep["code_factor_r"]) == {"category", "c1", "c2"}
    assert picture(confusion).ndim == 3 and picture(heatmap).ndim == 3


def test_a_model_without_codes_is_refused(client):
    expect_app_error(client, "no InfoGAN codes", "ckpt:tiny-ring.safetensors", api_name="/codes_use")

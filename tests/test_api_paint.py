"""The GANPaint tab through gradio_client and its stroke route over HTTP, on the shipped scenes generator:
brushes add and remove their class, undo and reset restore the picture, the unit viewer answers for image
and 2D generators, bad brushes, cells and units get clear messages, and the artifact units are found,
shown and removed from the painting (not available, with the reason, for digits and 2D generators)."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import urllib.error
import urllib.request

import numpy as np
import pytest
from PIL import Image

from apihelpers import expect_app_error
from conftest import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL_OUT = ("source", "seed", "brush", "rank_class", "counts", "view", "info", "art_info", "art_plot",
             "art_gallery", "art_remove")
ART_OUT = ("art_info", "art_plot", "art_gallery", "art_remove", "view", "info")
REGION = "4,2 4,3 4,4 4,5 5,2 5,3 5,4 5,5"
APPS = {}  # url -> the running app, for tests that read its event settings


@pytest.fixture(scope="module")
def paint_url(tmp_path_factory, shipped_dir):
    """An app whose checkpoints are the shipped scenes and digits generators and a tiny 2D model."""
    from app.server import build_app, launch_options

    folder = tmp_path_factory.mktemp("paint-checkpoints")
    for name in ("scenes-dcgan.safetensors", "scenes-dcgan.json", "digits-dcgan.safetensors",
                 "digits-dcgan.json"):
        os.symlink(os.path.join(ROOT, "checkpoints", name), folder / name)
    shutil.copy(shipped_dir / "tiny-ring.safetensors", folder / "tiny-ring.safetensors")
    data = tmp_path_factory.mktemp("paint-data")
    demo = build_app(device="cpu", data_dir=data, checkpoints_dir=folder)
    demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
                **launch_options(data, demo))
    url = demo.local_url.rstrip("/") + "/"
    APPS[url] = demo
    try:
        yield url
    finally:
        APPS.pop(url, None)
        demo.close()


@pytest.fixture()
def pc(paint_url):
    from gradio_client import Client

    c = Client(paint_url, verbose=False)
    yield c
    c.close()


def change(view_html: str) -> dict[str, int]:
    """class -> change of segmented pixels, read from the table beside the picture."""
    rows = re.findall(r"<tr><td>(\w+)</td><td>(\d+)</td><td>(\d+)</td><td>([+-]\d+)</td></tr>", view_html)
    assert rows, view_html[:300]
    return {c: int(d) for c, _, _, d in rows}


def token(view_html: str) -> str:
    return re.search(r"data-token='([A-Za-z0-9_-]+)'", view_html).group(1)


def fetch(url: str) -> tuple[int, bytes, dict]:
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), {}


@pytest.mark.slow
def test_brushes_add_and_remove_and_undo(pc):
    m = dict(zip(MODEL_OUT, pc.predict(api_name="/paint_init")))
    brush = m["brush"]["value"] if isinstance(m["brush"], dict) else m["brush"]
    assert "scenes-dcgan" in m["source"] and brush == "tree"
    assert "data-gh='8'" in m["view"] and "layer `block1`: 64 units" in m["info"]
    assert all(v == 0 for v in change(m["view"]).values())
    view, info = pc.predict("tree", "add", 1.0, 6, REGION, api_name="/paint_stroke")
    added = change(view)
    assert added["tree"] > 20 and "1 strokes" in info
    view, _ = pc.predict("tree", "remove", 1.0, 6, REGION, api_name="/paint_stroke")
    assert change(view)["tree"] < added["tree"]
    view, info = pc.predict(api_name="/paint_undo")
    assert change(view) == added and "1 strokes" in info
    view, info = pc.predict(api_name="/paint_reset")
    assert all(v == 0 for v in change(view).values()) and "0 strokes" in info


@pytest.mark.slow
def test_stroke_route_paints_and_refuses_bad_requests(pc, paint_url):
    m = dict(zip(MODEL_OUT, pc.predict(api_name="/paint_init")))
    t = token(m["view"])
    status, before, _ = fetch(f"{paint_url}paint/render?t={t}")
    assert status == 200
    mask = "000000003c3c0000"
    status, png, headers = fetch(f"{paint_url}paint/stroke?t={t}&id=7&b=tree&a=add&g=1&k=6&m={mask}")
    assert status == 200, png[:200]
    rows = {r["class"]: r for r in json.loads(headers.get("X-Class-Change"))}
    assert rows["tree"]["after"] > rows["tree"]["before"]
    a = np.asarray(Image.open(io.BytesIO(before)).convert("RGB")).astype(int)
    b = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    diff = np.abs(a - b).sum(2)
    assert diff[16:24, 8:24].mean() > 3 * max(diff[:8].mean(), 1e-3)  # the picture changed where painted
    # the same stroke id extends the stroke instead of adding one
    fetch(f"{paint_url}paint/stroke?t={t}&id=7&b=tree&a=add&g=1&k=6&m={mask}")
    view, info = pc.predict(api_name="/paint_undo")
    assert "0 strokes" in info
    assert fetch(f"{paint_url}paint/stroke?t={'x' * 32}&id=1&b=tree&a=add&g=1&k=6&m={mask}")[0] == 403
    status, body, _ = fetch(f"{paint_url}paint/stroke?t={t}&id=1&b=tree&a=add&g=1&k=6&m=abc")
    assert status == 400 and b"16 hex digits" in body
    status, body, _ = fetch(f"{paint_url}paint/stroke?t={t}&id=1&b=unicorn&a=add&g=1&k=6&m={mask}")
    assert status == 400 and b"unknown brush" in body
    status, body, _ = fetch(f"{paint_url}paint/stroke?t={t}&id=1&b=tree&a=add&g=99&k=6&m={mask}")
    assert status == 400 and b"strength" in body
    assert fetch(f"{paint_url}paint/stroke?t={t}&x=1")[0] == 400


@pytest.mark.slow
def test_bad_input_messages_and_the_unit_viewer(pc):
    pc.predict(api_name="/paint_init")
    expect_app_error(pc, "not in the list of choices", "unicorn", "add", 1.0, 6, REGION, api_name="/paint_stroke")
    expect_app_error(pc, "Cells: 9,9 is outside the 8x8 grid", "tree", "add", 1.0, 6, "9,9",
                     api_name="/paint_stroke")
    expect_app_error(pc, "Cells: 'x' is not a row,col pair", "tree", "add", 1.0, 6, "x", api_name="/paint_stroke")
    expect_app_error(pc, "Cells is empty", "tree", "add", 1.0, 6, "", api_name="/paint_stroke")
    expect_app_error(pc, "Unit must be a whole number from 0 to 63", 64, "", api_name="/paint_unit")
    info, mean, top = pc.predict(0, "tree", api_name="/paint_unit")
    assert "by IoU with tree" in info and "tree" in info
    assert mean and len(top) == 6


@pytest.mark.slow
def test_2d_generator_has_units_but_no_brushes(pc):
    m = dict(zip(MODEL_OUT, pc.predict("ckpt:tiny-ring.safetensors", api_name="/paint_use")))
    assert "2D points" in m["view"]
    expect_app_error(pc, "Painting needs an image generator", None, "add", 1.0, 6, REGION,
                     api_name="/paint_stroke")
    info, mean, top = pc.predict(1, "", api_name="/paint_unit")
    assert "latent plane" in info and mean and len(top) == 1


def fd_table(art_info: str) -> dict[str, float]:
    """The three FDs of the panel's table: as generated, units removed, random units removed."""
    rows = re.findall(r"^\| ([^|]+?) \| (\d+\.\d+) \|", art_info, re.M)
    keys = {"as generated": "before", "artifact units removed": "after"}
    return {keys.get(k, "random" if "random" in k else k): float(v) for k, v in rows}


@pytest.mark.slow
def test_artifact_units_found_shown_and_removed_while_painting(pc, paint_url):
    m = dict(zip(MODEL_OUT, pc.predict(api_name="/paint_init")))
    assert "Find artifact units" in m["art_info"] and m["art_gallery"] in ([], None)
    t = token(m["view"])
    before = fetch(f"{paint_url}paint/render?t={t}")[1]
    r = dict(zip(ART_OUT, pc.predict(100, api_name="/paint_artifacts")))
    info = r["art_info"]
    assert "Layer `block0` (128 units), 100 samples" in info
    units = [int(u) for u in re.search(r"artifact units \*\*([\d, ]+)\*\*", info).group(1).split(", ")]
    assert units and len(set(units)) == len(units) and all(0 <= u < 128 for u in units)
    assert len(units) <= 0.15 * 128
    fd = fd_table(info)
    assert set(fd) == {"before", "after", "random"} and all(v > 0 for v in fd.values())
    assert "lower is closer to the real images" in info
    plot = r["art_plot"]["value"] if "value" in r["art_plot"] else r["art_plot"]
    bars = [row[1] for row in plot["data"]]
    assert bars == pytest.approx([fd["before"], fd["after"], fd["random"]], rel=6e-4)  # the table shows 4 significant digits
    # eight pairs: each picture before | a white gap | after, 32x32 drawn 128x128; captions give the shares
    assert len(r["art_gallery"]) == 8
    for item in r["art_gallery"]:
        path = item["image"] if isinstance(item["image"], str) else item["image"]["path"]
        pic = np.asarray(Image.open(path).convert("RGB"))
        assert pic.shape == (128, 264, 3) and (pic[:, 128:136] == 255).all()
        assert re.match(r"^#\d+: FD share [+-]\d+\.\d % → [+-]\d+\.\d %$", item["caption"])
    shares = [float(re.match(r"#\d+: FD share ([+-][\d.]+)", i["caption"]).group(1))
              for i in r["art_gallery"]]
    assert shares == sorted(shares, reverse=True) and shares[0] > 0  # the worst first
    remove = r["art_remove"]
    assert (remove.get("value") if isinstance(remove, dict) else remove) is False
    # removing the units changes the painted picture; putting them back restores it
    view, pinfo = pc.predict(True, api_name="/paint_artifacts_remove")
    assert f"artifact units {', '.join(map(str, units))} of `block0` removed" in pinfo
    without = fetch(f"{paint_url}paint/render?t={t}")[1]
    assert without != before
    view, pinfo = pc.predict(False, api_name="/paint_artifacts_remove")
    assert "removed" not in pinfo and fetch(f"{paint_url}paint/render?t={t}")[1] == before


@pytest.mark.slow
def test_artifact_units_bad_samples_and_generators_without_a_segmenter(pc):
    pc.predict(api_name="/paint_init")
    for bad in (50, 501, "many", 150.5):
        expect_app_error(pc, "Samples must be a whole number from 100 to 500", bad,
                         api_name="/paint_artifacts")
    expect_app_error(pc, "No artifact units to remove yet", True, api_name="/paint_artifacts_remove")
    m = dict(zip(MODEL_OUT, pc.predict("ckpt:digits-dcgan.safetensors", api_name="/paint_use")))
    why = "Artifact units are not available for this generator (digits16)"
    assert why in m["art_info"] and "scenes segmenter" in m["art_info"]
    expect_app_error(pc, why, 200, api_name="/paint_artifacts")
    m = dict(zip(MODEL_OUT, pc.predict("ckpt:tiny-ring.safetensors", api_name="/paint_use")))
    assert "it makes 2D points" in m["art_info"]
    expect_app_error(pc, "not available for this generator: it makes 2D points", 200,
                     api_name="/paint_artifacts")


@pytest.mark.slow
def test_artifact_search_is_in_the_heavy_group(paint_url):
    demo = APPS[paint_url]
    fns = {f.api_name: f for f in demo.fns.values()}
    heavy = fns["paint_artifacts"]
    assert heavy.concurrency_id == "heavy" == fns["img_upload"].concurrency_id
    assert heavy.concurrency_limit == demo.app_context.limits.heavy_at_once
    assert fns["paint_artifacts_remove"].concurrency_id != "heavy"
    assert heavy.show_progress == "full"  # Gradio's progress bar follows the search

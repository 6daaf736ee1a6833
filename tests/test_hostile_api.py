"""The hostile-input suite: every upload and every API that takes numbers or text, fed what a careless
student or a hostile file sends. Each case must be refused with a clear message within 5 s, with peak
memory growing by less than 500 MB, and the server must answer a cheap request right after."""

from __future__ import annotations

import resource
import time

import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError

import hostile_files as hf

pytestmark = pytest.mark.slow  # about a minute: `make test` runs it, `make test-fast` does not

LAYERS = ["heatmap", "real", "fake"]
MODEL = [64, 2, 64, 2, "relu", "leaky_relu", 2, "gaussian", 1]  # the 2D model widgets, in order
TRAIN = ["nonsaturating", "adam", "0.001", "0.001", 1, 128, 0, "0.0"]  # the 2D training widgets
IMG_TRAIN = ["hinge", "adam", "0.0", "0.002", "0.001", 1, 64, "0.999"]
MAX_SECONDS, MAX_GROWTH_MB = 5.0, 500


def _set(values, i, v):
    out = list(values)
    out[i] = v
    return out


# (case id, api name, arguments (a function of tmp_path), a fragment of the expected message)
CASES = [
    # uploads
    ("png-decompression-bomb", "/img_upload", lambda p: [[handle_file(_w(p / "bomb.png", hf.png_header(40000, 40000)))], 32, "grey"], "pixels"),
    ("zip-bomb", "/img_upload", lambda p: [[handle_file(hf.zip_bomb(p / "bomb.zip"))], 32, "grey"], "zip"),
    ("zip-many-large-images", "/img_upload", lambda p: [[handle_file(hf.many_large_pngs(p / "many.zip"))], 32, "grey"], "pixels"),
    ("zip-traversal", "/img_upload", lambda p: [[handle_file(hf.write_zip(p / "trav.zip", {"../../evil.png": hf.blank_png(8)}))], 32, "grey"], "unsafe"),
    ("zip-symlink", "/img_upload", lambda p: [[handle_file(hf.write_zip(p / "link.zip", {"a.png": hf.blank_png(8)}, ("b.png",)))], 32, "grey"], "b.png"),
    ("text-renamed-png", "/img_upload", lambda p: [[handle_file(_w(p / "x.png", b"hello, not an image"))], 32, "grey"], "not"),
    ("pickle-as-checkpoint-2d", "/t2d_load_checkpoint", lambda p: [handle_file(hf.pickle_named_safetensors(p / "p.safetensors")), LAYERS], "safetensors"),
    ("pickle-as-checkpoint-img", "/img_load_checkpoint", lambda p: [handle_file(hf.pickle_named_safetensors(p / "q.safetensors"))], "safetensors"),
    ("lying-safetensors-header", "/t2d_load_checkpoint", lambda p: [handle_file(hf.lying_safetensors(p / "l.safetensors")), LAYERS], "safetensors"),
    ("huge-config-checkpoint", "/t2d_load_checkpoint", lambda p: [handle_file(hf.huge_config_checkpoint(p / "h.safetensors")), LAYERS], "parameters"),
    ("csv-1e308", "/t2d_upload_csv", lambda p: [handle_file(hf.csv_file(p / "a.csv", "x,y\n0,0\n1e308,1\n2,2\n")), LAYERS, *MODEL], "1,000,000"),
    ("csv-nan", "/t2d_upload_csv", lambda p: [handle_file(hf.csv_file(p / "b.csv", "0,0\nnan,1\n2,2\n")), LAYERS, *MODEL], "line 2"),
    ("csv-inf", "/t2d_upload_csv", lambda p: [handle_file(hf.csv_file(p / "c.csv", "0,0\n1,inf\n2,2\n")), LAYERS, *MODEL], "line 2"),
    ("csv-binary", "/t2d_upload_csv", lambda p: [handle_file(_w(p / "d.csv", b"\x00\xff" * 500)), LAYERS, *MODEL], "csv"),
    # numbers and text in the 2D tab
    ("2d-lr-text", "/t2d_set_hparams", lambda p: [LAYERS, *_set(TRAIN, 2, "abc")], "D learning rate must be a number, got 'abc'"),
    ("2d-lr-nan", "/t2d_set_hparams", lambda p: [LAYERS, *_set(TRAIN, 2, "nan")], "D learning rate must be in (0, 10], got 'nan'"),
    ("2d-lr-huge", "/t2d_set_hparams", lambda p: [LAYERS, *_set(TRAIN, 3, "1e30")], "G learning rate"),
    ("2d-batch-huge", "/t2d_set_hparams", lambda p: [LAYERS, *_set(TRAIN, 5, 1e9)], "maximum value 1024"),
    ("2d-dsteps-negative", "/t2d_set_hparams", lambda p: [LAYERS, *_set(TRAIN, 4, -5)], "minimum value 1"),
    ("2d-width-huge", "/t2d_reset", lambda p: [LAYERS, *_set(MODEL, 0, 1e9)], "maximum value 256"),
    ("2d-width-nan", "/t2d_reset", lambda p: [LAYERS, *_set(MODEL, 2, "nan")], "expected a `float`"),
    ("2d-unknown-preset", "/t2d_load_preset", lambda p: ["../../etc/passwd", LAYERS], "list of choices"),
    ("2d-shipped-traversal", "/t2d_load_shipped", lambda p: ["../../../etc/passwd", LAYERS], "list of choices"),
    # numbers and text in the image tab
    ("img-lr-inf", "/img_set_hparams", lambda p: _set(IMG_TRAIN, 3, "inf"), "D learning rate"),
    ("img-beta-huge", "/img_set_hparams", lambda p: _set(IMG_TRAIN, 2, "7"), "Adam beta1 (momentum)"),
    ("img-scrub-nan", "/img_scrub", lambda p: ["nan"], "expected a `float`"),
    ("img-upload-size", "/img_upload", lambda p: [[handle_file(_w(p / "ok.png", hf.blank_png(8)))], 4096, "grey"], "choices"),
    # numbers and text in the latent explorer
    ("explore-seed-negative", "/explore_seed", lambda p: [-1], "minimum value 0"),
    ("explore-seed-huge", "/explore_seed", lambda p: [10**30], "seed"),
    ("explore-psi-nan", "/explore_move", lambda p: ["nan", *[0] * 8], "expected a `float`"),
    ("explore-slider-huge", "/explore_move", lambda p: [1.0, 1e9, *[0] * 7], "maximum value 5"),
    ("explore-basis-unknown", "/explore_basis", lambda p: ["<script>"], "list of choices"),
    ("explore-source-traversal", "/explore_use", lambda p: ["ckpt:../../etc/passwd"], "list of choices"),
    ("explore-trunc-psis", "/explore_truncation", lambda p: ["nan, 1e9", 0, 8], "psi"),
    ("explore-interp-frames", "/explore_interpolate", lambda p: ["1, 2", 1e9, "slerp"], "maximum value 128"),
    ("explore-interp-seeds", "/explore_interpolate", lambda p: ["1; DROP TABLE", 8, "slerp"], "seed"),
    ("explore-arith-seeds", "/explore_arithmetic", lambda p: ["-1", "2", "3"], "seed"),
    ("explore-dir-name", "/explore_save_direction", lambda p: ["../" * 30], "name"),
    ("explore-mre-n", "/explore_mre", lambda p: [1e9], "maximum value"),
]


def _w(path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


@pytest.fixture(scope="module")
def hostile_client(app_url):
    from gradio_client import Client

    c = Client(app_url, verbose=False)
    c.predict(LAYERS, api_name="/t2d_init")
    c.predict(api_name="/img_init")
    c.predict(api_name="/explore_init")
    yield c
    c.close()


def test_the_suite_is_large_enough():
    assert len(CASES) >= 30 and len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_hostile_input_is_refused_clearly(case, hostile_client, tmp_path):
    name, api, args, fragment = case
    args = args(tmp_path)
    peak, t0 = _peak_mb(), time.perf_counter()
    with pytest.raises(AppError) as info:
        hostile_client.predict(*args, api_name=api)
    seconds, growth = time.perf_counter() - t0, _peak_mb() - peak
    msg = str(info.value)
    assert fragment.lower() in msg.lower(), f"{name}: expected {fragment!r} in {msg!r}"
    assert "Traceback" not in msg and "/tmp/" not in msg and "/work/" not in msg, msg
    assert seconds < MAX_SECONDS, f"{name} took {seconds:.1f} s"
    assert growth < MAX_GROWTH_MB, f"{name} grew peak memory by {growth:.0f} MB"
    status = hostile_client.predict(LAYERS, api_name="/t2d_poll")[2]  # a cheap request still answers
    assert status["state"] in ("idle", "paused", "running")

"""The command line: JSON output with the documented keys, one-line errors with non-zero exits."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# Each call starts a Python that imports torch (a few seconds): all but the presets listing are marked slow.
def cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "gan_core", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


@pytest.mark.slow  # a subprocess that imports torch
def test_presets_lists_the_class_demos():
    r = cli("presets", "--json")
    assert r.returncode == 0
    names = last_json(r.stdout)
    for want in ("collapse-ring", "stable-ring", "stable-grid", "wgan-gp", "least-squares", "saturating"):
        assert want in names
    assert names["collapse-ring"]["title"] == "Mode collapse: watch it happen"


@pytest.mark.slow
def test_train_then_eval(tmp_path):
    r = cli("train", "--preset", "stable-ring", "--steps", "400", "--seed", "1", "--out", str(tmp_path), "--json")
    assert r.returncode == 0, r.stderr
    out = last_json(r.stdout)
    for key in ("preset", "steps", "seconds", "steps_per_s", "modes", "hq", "reverse_kl", "min_modes"):
        assert key in out, key
    assert out["steps"] == 400 and 0 <= out["hq"] <= 1 and 0 <= out["modes"] <= 8
    ck = tmp_path / "stable-ring.safetensors"
    assert ck.exists() and (tmp_path / "stable-ring.json").exists()
    rows = (tmp_path / "stable-ring.metrics.jsonl").read_text().splitlines()
    assert len(rows) >= 10 and "step" in json.loads(rows[-1])
    e = cli("eval", str(ck), "--json")
    assert e.returncode == 0, e.stderr
    ev = last_json(e.stdout)
    assert ev["step"] == 400 and ev["modes"] == out["modes"] and ev["hq"] == pytest.approx(out["hq"])


@pytest.mark.slow
@pytest.mark.parametrize("args,message", [
    (("train", "--preset", "nope"), "unknown preset"),
    (("train", "--preset", "stable-ring", "--steps", "0"), "--steps must be at least 1"),
    (("eval", "/nonexistent/x.safetensors"), "no such checkpoint"),
    (("train", "--preset", "stable-ring", "--device", "cuda"), None),
    (("demos", "--preset", "stable-ring"), "demonstrates no phenomenon"),
    (("demos", "--seeds", "a-b"), "--seeds must look like 0-4"),
    (("train", "--preset", "digits-dcgan", "--set", "model.g_base=abc"), "--set: model.g_base=abc"),
    (("train", "--preset", "digits-dcgan", "--set", "lambda_x=1"), "'lambda_x' is not a training setting"),
    (("train", "--preset", "digits-dcgan", "--set", "lr_d=-1"), "lr_d must be in (0, 10]"),
    (("train", "--preset", "digits-dcgan", "--set", "steps"), "changes are KEY=VALUE"),
    (("train", "--preset", "digits-dcgan", "--set", "pl_weight=1"), "pl_weight applies to style-based generators"),
    (("train", "--preset", "shapes-style", "--set", "r1_every=0"), "r1_every must be an integer in [1, 1000]"),
    (("train", "--preset", "digits-infogan", "--set", "d_augment=cutout"), "d_augment applies to image models"),
    (("train", "--preset", "stable-ring", "--set", "d_augment=cutout"), "d_augment applies to image models"),
])
def test_errors_are_one_line_and_nonzero(args, message):
    r = cli(*args)
    if message is None:  # cuda: works where present, a clear refusal where not
        import torch

        if torch.cuda.is_available():
            return
        message = "no CUDA device"
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


@pytest.mark.slow
def test_eval_refuses_a_text_file(tmp_path):
    p = tmp_path / "notes.safetensors"
    p.write_text("hello")
    r = cli("eval", str(p))
    assert r.returncode == 2 and "not a valid safetensors file" in r.stderr


IMAGE_KEYS = ("classes_covered", "class_entropy", "confident", "fd", "fd_floor", "min_classes", "seconds",
              "histogram")


@pytest.mark.slow
def test_image_train_then_eval_prints_the_image_metrics(tmp_path):
    r = cli("train", "--preset", "digits-conditional", "--steps", "6", "--threads", "1", "--out", str(tmp_path),
            "--json")
    assert r.returncode == 0, r.stderr
    out = last_json(r.stdout)
    for key in IMAGE_KEYS + ("conditional_accuracy",):
        assert key in out, key
    assert out["steps"] == 6 and sum(out["histogram"]) == 1000 and 0 <= out["confident"] <= 1
    assert out["fd"] >= 0 and out["fd_floor"] > 0 and 0 <= out["conditional_accuracy"] <= 1
    ck = tmp_path / "digits-conditional.safetensors"
    card = json.loads((tmp_path / "digits-conditional.json").read_text())
    assert card["preset"] == "digits-conditional" and card["model_config"]["n_classes"] == 10
    from gan_core import checkpoint
    assert [step for step, _ in checkpoint.load(str(ck)).timeline] == [0, 6], "the grid before and after"
    e = cli("eval", str(ck), "--json")
    assert e.returncode == 0, e.stderr
    ev = last_json(e.stdout)
    assert ev["step"] == 6 and ev["histogram"] == out["histogram"]
    assert ev["fd"] == pytest.approx(out["fd"], rel=1e-3)  # thread counts may differ
    assert ev["conditional_accuracy"] == pytest.approx(out["conditional_accuracy"])


def test_set_changes_a_presets_settings_and_the_card_says_so(tmp_path):
    from gan_core.training import presets
    cfg = presets.get("digits-infogan").config
    got = cfg.with_changes(["lambda_shift=6", "cluster_views=shift+tilt", "model.g_base=16"])
    assert (got.lambda_shift, got.cluster_views, got.model["g_base"]) == (6, "shift+tilt", 16)
    assert got.replace(lambda_shift=cfg.lambda_shift, cluster_views=cfg.cluster_views,
                       model=cfg.model) == cfg  # nothing else changed
    r = cli("train", "--preset", "digits-dcgan", "--steps", "2", "--threads", "1", "--set", "model.g_base=8",
            "--set", "lr_g=5e-4", "--out", str(tmp_path), "--json")
    assert r.returncode == 0, r.stderr
    card = json.loads((tmp_path / "digits-dcgan.json").read_text())
    assert card["model_config"]["g_base"] == 8 and card["train_config"]["lr_g"] == 5e-4
    assert "--set model.g_base=8 --set lr_g=5e-4" in card["command"]


@pytest.mark.slow
def test_scenes_train_reports_segmenter_figures(tmp_path):
    r = cli("train", "--preset", "scenes-dcgan", "--steps", "2", "--threads", "1", "--out", str(tmp_path), "--json")
    assert r.returncode == 0, r.stderr
    out = last_json(r.stdout)
    assert out["segmenter_miou"] >= 0.85 and out["class_share_rel_err"] >= 0
    names = {row["name"] for row in out["class_shares"]}
    assert {"sky", "tree", "water"} <= names


@pytest.mark.slow
def test_image_bench_reports_ratio_and_gflops():
    r = cli("bench", "--preset", "digits-dcgan", "--steps", "6", "--json")
    assert r.returncode == 0, r.stderr
    out = last_json(r.stdout)
    assert out["ratio"] > 0 and out["gflops"] > 0 and out["peak_gflops"] > 0
    assert 0 < out["peak_fraction"] < 1.5
    # one DCGAN round at 16x16, batch 64, is a fraction of a GFLOP: a gross miscount would show here
    assert 0.01 < out["gflop_per_step"] < 5


@pytest.mark.slow
def test_eval_inversion_reports_psnr_and_mre():
    r = cli("eval", os.path.join(ROOT, "checkpoints", "digits-dcgan.safetensors"), "--inversion", "--samples", "6",
            "--json")
    assert r.returncode == 0, r.stderr
    out = last_json(r.stdout)
    assert out["n_generated"] == 6 and out["n_train"] == 6 and out["n_heldout"] == 6
    assert out["inversion_psnr_median"] >= 30  # the generator's own digits are found again
    assert out["mre_train"] > 0 and out["mre_heldout"] > 0
    assert out["mre_ratio"] == pytest.approx(out["mre_heldout"] / out["mre_train"])


@pytest.mark.slow
def test_eval_inversion_refuses_2d_models_and_bad_sizes():
    ring = os.path.join(ROOT, "checkpoints", "stable-ring.safetensors")
    r = cli("eval", ring, "--inversion", "--json")
    assert r.returncode == 2 and "2D model" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    digits = os.path.join(ROOT, "checkpoints", "digits-dcgan.safetensors")
    r = cli("eval", digits, "--inversion", "--samples", "0", "--json")
    assert r.returncode == 2 and "--samples" in r.stderr


@pytest.mark.slow
def test_bench_latency_validates_its_arguments():
    r = cli("bench", "--latency", "--moves", "1", "--json")
    assert r.returncode == 2 and "--moves" in r.stderr
    r = cli("bench", "--latency", "--chromium", "/nonexistent/chromium", "--json")
    assert r.returncode == 2 and "Chromium" in r.stderr
    r = cli("bench", "--latency", "--tab", "sliders", "--json")
    assert r.returncode == 2 and "--tab must be one of explorer, codes, mixing, all" in r.stderr


@pytest.mark.slow
def test_interpolate_writes_a_gif_through_the_seeds(tmp_path):
    from PIL import Image

    out = tmp_path / "walk.gif"
    r = cli("interpolate", os.path.join(ROOT, "checkpoints", "digits-dcgan.safetensors"), "--seeds", "1,2,3,4",
            "--frames", "32", "--out", str(out), "--json")
    assert r.returncode == 0, r.stderr
    res = last_json(r.stdout)
    assert res["frames"] == 32 and res["seeds"] == [1, 2, 3, 4]
    gif = Image.open(out)
    assert gif.n_frames == 32 and gif.size == (96, 96)
    r = cli("interpolate", os.path.join(ROOT, "checkpoints", "digits-dcgan.safetensors"), "--seeds", "1,x",
            "--out", str(out))
    assert r.returncode == 2 and "--seeds" in r.stderr


@pytest.mark.slow
def test_demos_checks_the_collapse_promise_at_every_evaluation():
    r = cli("demos", "--preset", "collapse-ring", "--seeds", "0,1", "--steps", "1000", "--threads", "1", "--json")
    assert r.returncode == 0, r.stderr
    d = last_json(r.stdout)["demos"]["collapse-ring"]
    assert set(d["seeds"]) == {"0", "1"} and d["steps"] == 1000
    for run in d["seeds"].values():
        assert run["evaluations"] == 5 and run["holds"] and run["worst"] <= 2 and run["first_broken"] is None

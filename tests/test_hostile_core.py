"""Hostile inputs to the core: forged checkpoints, absurd configs, poisoned CSV files, a training step that
raises. Each is refused quickly with a one-line message that names what is wrong; nothing takes the
process down, and a save killed or failing half-way keeps the previous checkpoint."""

import json
import os
import struct
import subprocess
import sys
import time

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from gan_core import checkpoint, models
from gan_core.data import toy2d
from gan_core.training import TrainConfig, Trainer
from gan_core.training.session import TrainingSession, error_line
from gan_core.training.trainer import TrainingDiverged

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = {"g_hidden": 16, "d_hidden": 16, "g_layers": 2, "d_layers": 2, "z_dim": 2}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A valid small 2D checkpoint: (path, metadata, tensors)."""
    t = Trainer(TrainConfig(model=SMALL, eval_samples=200))
    t.run(20)
    path = tmp_path_factory.mktemp("ck") / "tiny.safetensors"
    checkpoint.save(str(path), t)
    with safe_open(str(path), framework="pt") as f:
        return path, dict(f.metadata()), {k: f.get_tensor(k) for k in f.keys()}


def forge(tiny, tmp_path, name="forged", tensors=None, drop=(), train=None, **meta):
    """A copy of the tiny checkpoint with metadata (and tensors, and train_config keys) changed."""
    _, m, ts = tiny
    m = {**m, **meta}
    if train:
        m["train_config"] = json.dumps({**json.loads(m["train_config"]), **train})
    ts = {k: v for k, v in {**ts, **(tensors or {})}.items() if k not in drop}
    p = tmp_path / f"{name}.safetensors"
    save_file(ts, str(p), metadata=m)
    return str(p)


def refused(path, match):
    t0 = time.perf_counter()
    with pytest.raises(checkpoint.CheckpointError, match=match) as e:
        checkpoint.load(path)
    assert time.perf_counter() - t0 < 2.0
    assert "\n" not in str(e.value)
    return str(e.value)


# ----- checkpoints -------------------------------------------------------------------------------------
def test_a_huge_model_claimed_by_a_tiny_file_is_refused_without_allocating(tiny, tmp_path):
    """1,024 layers of width 1,024 (about 2 G parameters, 8 GB) in a 20 KB file: refused in under a second,
    peak memory growing by under 100 MB (measured in a fresh process, whose peak is its own)."""
    huge = {**models.MLPConfig(**SMALL).to_dict(), "g_layers": 1024, "g_hidden": 1024, "d_layers": 1024,
            "d_hidden": 1024}
    p = forge(tiny, tmp_path, "huge", model_config=json.dumps(huge))
    assert os.path.getsize(p) < 64 * 1024
    code = f"""
import json, resource, time
from gan_core import checkpoint
checkpoint.load({str(tiny[0])!r})  # warm: first use of everything a load touches
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
try:
    checkpoint.load({p!r})
    msg = None
except checkpoint.CheckpointError as e:
    msg = str(e)
dt = time.perf_counter() - t0
grow = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
print(json.dumps({{"message": msg, "seconds": dt, "peak_growth_mb": grow}}))
"""
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["message"] and "more than 20,000,000 parameters" in r["message"] and "widths" in r["message"]
    assert r["seconds"] < 1.0, r
    assert r["peak_growth_mb"] < 100, r


def test_header_shapes_that_disagree_with_the_config_are_named(tiny, tmp_path):
    p = forge(tiny, tmp_path, tensors={"G.net.fc0.weight": torch.zeros(3, 2)})
    refused(p, r"G\.net\.fc0\.weight has shape \(3, 2\), the config needs \(16, 2\)")


def test_negative_or_absurd_step_is_refused(tiny, tmp_path):
    refused(forge(tiny, tmp_path, "neg", step="-5"), r"step must be a whole number in \[0, 1000000000\], got '-5'")
    refused(forge(tiny, tmp_path, "big", step="1" * 40), "step must be a whole number")


@pytest.mark.parametrize("setting, value, message", [
    ("log_every", 10**6, r"log_every must be an integer in \[1, 10000\]"),
    ("batch_size", 10**7, r"batch_size must be an integer in \[2, 4096\]"),
    ("eval_samples", 10**6, r"eval_samples must be an integer in \[10, 20000\]"),
    ("d_steps", 1000, r"d_steps must be an integer in \[1, 20\]"),
    ("unroll", 500, r"unroll must be an integer in \[0, 20\]"),
    ("seed", 2**70, r"seed must be an integer"),
    ("lr_d", "fast", "lr_d must be a number"),
    ("surprise", 1, r"TrainConfig: unknown keys \['surprise'\]"),
])
def test_train_configs_outside_the_ranges_are_refused(tiny, tmp_path, setting, value, message):
    refused(forge(tiny, tmp_path, train={setting: value}), f"train config is refused: {message}")


def test_model_config_outside_its_family_ranges_is_refused(tiny, tmp_path):
    bad = {**models.MLPConfig(**SMALL).to_dict(), "g_hidden": 10**9}
    refused(forge(tiny, tmp_path, model_config=json.dumps(bad)), "model config is refused: g_hidden must be")


@pytest.mark.parametrize("model, message", [
    ({"image_size": 32, "channels": 1}, r"makes 32x32 images .* dataset 'digits16' has 16x16 .* set image_size 16"),
    ({"image_size": 16, "channels": 3}, r"with 3 channel\(s\), but its dataset 'digits16' has 16x16 with 1"),
])
def test_image_size_or_channels_that_do_not_match_the_dataset_are_refused(tiny, tmp_path, model, message):
    cfg = {**models.DCGANConfig().to_dict(), "z_dim": 8, "g_base": 4, "d_base": 4, **model}
    refused(forge(tiny, tmp_path, family="dcgan", model_config=json.dumps(cfg),
                  train={"family": "dcgan", "dataset": "digits16", "model": cfg}), message)


def test_a_2d_family_on_an_image_set_is_refused(tiny, tmp_path):
    refused(forge(tiny, tmp_path, train={"dataset": "digits16"}), r"trains 'mlp' \(points\) on the image set")


def test_pickle_bytes_named_safetensors_are_refused(tmp_path):
    p = tmp_path / "evil.safetensors"
    torch.save({"G.net.fc0.weight": torch.zeros(16, 2)}, str(p))
    refused(str(p), "not a valid safetensors file")


def _raw(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8:8 + n]), data[8 + n:]


def _write_raw(path, header, body):
    h = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + body)


@pytest.mark.parametrize("lie, message", [
    ("offsets", "not a valid safetensors file"),  # data offsets past the end of the file
    ("dtype-size", "not a valid safetensors file"),  # F64 where the bytes hold F32
    ("dtype", r"G\.net\.fc0\.weight has dtype I32, the config needs F32"),  # same size, wrong type
    ("shape", r"G\.net\.fc0\.weight has shape \(32, 1\), the config needs \(16, 2\)"),  # same bytes, wrong shape
    ("header-length", "not a valid safetensors file"),  # a header length beyond the file
])
def test_a_header_that_lies_is_refused(tiny, tmp_path, lie, message):
    header, body = _raw(str(tiny[0]))
    entry = header["G.net.fc0.weight"]
    p = str(tmp_path / f"lie-{lie}.safetensors")
    if lie == "offsets":
        entry["data_offsets"] = [entry["data_offsets"][0], len(body) + 4096]
    elif lie == "dtype-size":
        entry["dtype"] = "F64"
    elif lie == "dtype":
        entry["dtype"] = "I32"
    elif lie == "shape":
        entry["shape"] = [32, 1]
    _write_raw(p, header, body)
    if lie == "header-length":
        data = open(p, "rb").read()
        open(p, "wb").write(struct.pack("<Q", 2**40) + data[8:])
    refused(p, message)


def test_nan_or_inf_weights_and_points_are_refused(tiny, tmp_path):
    refused(forge(tiny, tmp_path, "nan", tensors={"D.net.out.bias": torch.tensor([float("inf")])}),
            r"D\.net\.out\.bias contains NaN or inf")
    pts = torch.zeros(5, 2)
    pts[3, 1] = float("nan")
    refused(forge(tiny, tmp_path, "pts", tensors={"data.points": pts}), "data.points contains NaN or inf")


def test_stored_points_and_extra_tensors_are_bounded(tiny, tmp_path):
    many = torch.zeros(toy2d.MAX_USER_POINTS + 1, 2)
    refused(forge(tiny, tmp_path, "many", tensors={"data.points": many}), r"data.points must be 2 to 100000 rows")
    refused(forge(tiny, tmp_path, "3d", tensors={"data.points": torch.zeros(5, 3)}), r"got shape \(5, 3\)")
    refused(forge(tiny, tmp_path, "extra", tensors={"payload": torch.zeros(4)}), r"unexpected tensors \['payload'\]")


def test_oversized_metadata_and_history_are_refused(tiny, tmp_path):
    rows = [{"step": i, "d_loss": 0.5} for i in range(checkpoint.MAX_HISTORY_ROWS + checkpoint.MAX_EVAL_ROWS + 3)]
    refused(forge(tiny, tmp_path, "rows", history=json.dumps(rows)), "history has 6003 rows, more than")
    refused(forge(tiny, tmp_path, "long", model_config=" " * 70_000 + "{}"), "model_config is too long")
    refused(forge(tiny, tmp_path, "fam", train={"family": "dcgan"}), "train config names family 'dcgan'")


def test_every_shipped_checkpoint_still_loads():
    folder = os.path.join(ROOT, "checkpoints")
    names = [n for n in os.listdir(folder) if n.endswith(".safetensors") and not n.startswith("eval-")]
    assert names
    for name in names:
        checkpoint.load(os.path.join(folder, name))


# ----- saves --------------------------------------------------------------------------------------------
def test_a_save_that_fails_half_way_keeps_the_previous_checkpoint(tiny, tmp_path, monkeypatch):
    t = Trainer(TrainConfig(model=SMALL, eval_every=10**8))
    path = tmp_path / "keep.safetensors"
    checkpoint.save(str(path), t, {"n": 1})
    before = path.read_bytes()

    def broken(tensors, filename, metadata=None):
        open(filename, "wb").write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint, "save_file", broken)
    t.advance()
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save(str(path), t)
    assert path.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["keep.json", "keep.safetensors"]
    checkpoint.load(str(path))


@pytest.mark.slow  # starts processes and kills them: seconds
def test_kill_9_during_saves_leaves_only_loadable_checkpoints():
    out = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "kill_during_saves.py"), "--trials", "1",
                          "--after", "1", "--json"], capture_output=True, text=True, timeout=240,
                         env={**os.environ, "PYTHONPATH": ROOT})
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert out.returncode == 0 and r["ok"] and not r["failed"], r


# ----- training -----------------------------------------------------------------------------------------
def test_the_nan_guard_runs_on_steps_that_log_nothing():
    t = Trainer(TrainConfig(model=SMALL, loss="lsgan", lr_d=10.0, lr_g=10.0, optimizer="sgd", log_every=10_000,
                            eval_every=10**8))
    with pytest.raises(TrainingDiverged, match="D's logits on the fakes became (nan|inf|-inf)") as e:
        t.run(300)
    assert e.value.args[0].count("\n") == 0 and t.step_count == 0  # restored to the last good weights
    assert torch.isfinite(t.g_flat.data).all() and torch.isfinite(t.d_flat.data).all()


def _wait(session, state, seconds=10.0):
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        s = session.snapshot()
        if s.state == state:
            return s
        time.sleep(0.02)
    return session.snapshot()


def test_a_training_thread_that_raises_reports_error_and_lives_on(monkeypatch):
    s = TrainingSession(TrainConfig(model=SMALL, eval_samples=200), chunk=5)
    try:
        def boom():
            raise FileNotFoundError(2, "No such file or directory", "/home/someone/secret/data.csv")

        monkeypatch.setattr(s.trainer, "advance", boom)
        s.play()
        snap = _wait(s, "error")
        assert snap.state == "error"
        assert snap.message.startswith("error: [Errno 2] No such file or directory: 'data.csv'")
        assert "/home" not in snap.message and "\n" not in snap.message and "Reset" in snap.message
        thread = s._thread
        assert thread.is_alive()  # paused, not dead
        time.sleep(0.3)
        assert s.snapshot().state == "error" and thread.is_alive()
        s.reset()  # fresh trainer (whose advance is the real one): back to idle, and training works again
        snap = s.snapshot()
        assert snap.state == "idle" and snap.step == 0
        s.play()
        t0 = time.perf_counter()
        while s.snapshot().step < 10 and time.perf_counter() - t0 < 20:
            time.sleep(0.05)
        assert s.snapshot().step >= 10 and s.snapshot().state == "running" and s._thread is thread
    finally:
        s.close()


def test_a_step_that_raises_reports_error(monkeypatch):
    s = TrainingSession(TrainConfig(model=SMALL, eval_samples=200))
    try:
        monkeypatch.setattr(s.trainer, "step", lambda mode="both": 1 / 0)
        assert s.step() == {}
        snap = s.snapshot()
        assert snap.state == "error" and snap.message.startswith("error: division by zero.")
        s.reset()
        assert s.snapshot().state == "idle" and s.step()["step"] == 1
    finally:
        s.close()


def test_error_lines_keep_file_names_and_drop_folders():
    assert error_line(OSError("cannot read /srv/app/data/u/points.csv now")) == "cannot read points.csv now"
    assert error_line(RuntimeError("first\nsecond")) == "first"
    assert error_line(KeyError()) == "KeyError"
    assert len(error_line(RuntimeError("x" * 1000))) == 200


# ----- 2D points ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, message", [
    ("x,y\n0,0\n1e308,1\n", r"line 3: '1e308', '1': values must be within \+-1,000,000"),
    ("0,0\n1,-2e6\n", r"line 2: '1', '-2e6': values must be within \+-1,000,000"),
    ("0,0\nnan,1\n", r"line 2: 'nan', '1' is NaN or infinite"),
    ("0,0\n1,0\n1,-inf\n", r"line 3: '1', '-inf' is NaN or infinite"),
])
def test_csv_with_huge_or_non_finite_values_is_refused_with_its_row(text, message):
    with pytest.raises(toy2d.PointsError, match=message):
        toy2d.from_csv(text)


def test_points_beyond_the_bound_are_refused():
    import numpy as np

    with pytest.raises(toy2d.PointsError, match=r"point 2 is \(1e\+308, 0\): values must be within"):
        toy2d.from_points(np.array([[0.0, 0.0], [1e308, 0.0]]))

"""Checkpoints round-trip bit-exactly; broken or foreign files are refused with a precise reason."""

import json

import pytest
import torch
from safetensors.torch import save_file

from gan_core import checkpoint, models
from gan_core.data import toy2d
from gan_core.training import TrainConfig, Trainer
from gan_core.training.trainer import trainer_from_checkpoint

SMALL = {"g_hidden": 16, "d_hidden": 16, "g_layers": 2, "d_layers": 2, "z_dim": 2}


@pytest.fixture
def trained(tmp_path):
    t = Trainer(TrainConfig(model=SMALL, g_ema=0.9))
    t.run(60)
    t.evaluate()
    path = tmp_path / "m.safetensors"
    checkpoint.save(str(path), t, {"note": "test"})
    return t, path


def test_round_trip_is_bit_exact(trained):
    t, path = trained
    ck = checkpoint.load(str(path))
    z = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
    with torch.no_grad(), t.ema_weights(True):
        want = t.G(z)
    with torch.no_grad():
        got = ck.G(z)
    assert torch.equal(want, got)
    assert ck.step == t.step_count == 60
    assert ck.train_config == t.cfg
    card = json.loads(path.with_suffix(".json").read_text())
    assert card["note"] == "test" and card["step"] == 60 and card["model_config"]["g_hidden"] == 16


def test_continue_training_from_checkpoint(trained):
    t, path = trained
    t2 = trainer_from_checkpoint(checkpoint.load(str(path)))
    assert t2.step_count == 60
    with t.ema_weights(True):
        assert torch.equal(t2.g_flat.data, t.g_flat.data)
    t2.run(5)
    assert t2.step_count == 65


def test_user_points_travel_with_the_checkpoint(tmp_path):
    data = toy2d.from_csv("0,0\n1,1\n2,0\n")
    t = Trainer(TrainConfig(model=SMALL, dataset="ring"), data=data)
    p = tmp_path / "u.safetensors"
    checkpoint.save(str(p), t)
    t2 = trainer_from_checkpoint(checkpoint.load(str(p)))
    assert torch.equal(t2.data.points, data.points)


def test_garbage_file_is_refused(tmp_path):
    p = tmp_path / "g.safetensors"
    p.write_bytes(b"this is not a checkpoint at all")
    with pytest.raises(checkpoint.CheckpointError, match="not a valid safetensors file"):
        checkpoint.load(str(p))


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(checkpoint.CheckpointError, match="no such checkpoint"):
        checkpoint.load(str(tmp_path / "nope.safetensors"))


def test_foreign_safetensors_is_refused(tmp_path):
    p = tmp_path / "f.safetensors"
    save_file({"w": torch.zeros(3)}, str(p))
    with pytest.raises(checkpoint.CheckpointError, match="metadata lacks format_version"):
        checkpoint.load(str(p))


def _rewrite(src, dst, tensors=None, **meta_changes):
    from safetensors import safe_open

    with safe_open(str(src), framework="pt") as f:
        meta = dict(f.metadata())
        ts = {k: f.get_tensor(k) for k in f.keys()}
    meta.update(meta_changes)
    ts.update(tensors or {})
    save_file(ts, str(dst), metadata=meta)


def test_mismatched_config_names_the_tensor(trained, tmp_path):
    _, path = trained
    bad = tmp_path / "bad.safetensors"
    _rewrite(path, bad, model_config=json.dumps({**models.MLPConfig(**SMALL).to_dict(), "g_hidden": 32}))
    with pytest.raises(checkpoint.CheckpointError, match=r"G\.net\.fc0\.weight has shape \(16, 2\)"):
        checkpoint.load(str(bad))


def test_nan_weights_are_refused(trained, tmp_path):
    _, path = trained
    bad = tmp_path / "nan.safetensors"
    _rewrite(path, bad, tensors={"D.net.out.bias": torch.tensor([float("nan")])})
    with pytest.raises(checkpoint.CheckpointError, match="NaN"):
        checkpoint.load(str(bad))


def test_unknown_family_and_version(trained, tmp_path):
    _, path = trained
    p1, p2 = tmp_path / "fam.safetensors", tmp_path / "ver.safetensors"
    _rewrite(path, p1, family="transformer")
    with pytest.raises(checkpoint.CheckpointError, match="unknown model family"):
        checkpoint.load(str(p1))
    _rewrite(path, p2, format_version="99")
    with pytest.raises(checkpoint.CheckpointError, match="format 99 is not supported"):
        checkpoint.load(str(p2))


def test_malformed_config_json(trained, tmp_path):
    _, path = trained
    p = tmp_path / "json.safetensors"
    _rewrite(path, p, train_config="{not json")
    with pytest.raises(checkpoint.CheckpointError, match="malformed"):
        checkpoint.load(str(p))

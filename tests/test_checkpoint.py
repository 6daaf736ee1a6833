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


def test_history_travels_with_the_checkpoint(trained):
    t, path = trained
    ck = checkpoint.load(str(path))
    losses = [r for r in ck.history if checkpoint.is_loss_row(r)]
    evals = [r for r in ck.history if not checkpoint.is_loss_row(r)]
    assert [r["step"] for r in losses] == list(range(10, 61, 10))  # logged every 10 steps
    assert losses[-1]["d_loss"] == t.history.last("d_loss")
    assert evals and evals[-1]["step"] == 60 and evals[-1]["modes"] == t.metrics["modes"]
    t2 = trainer_from_checkpoint(ck)  # the curves go on from where the run left them
    assert t2.history.column("d_loss") == t.history.column("d_loss")
    steps, _ = t2.history.column("modes")
    assert steps.count(60) == 1 and steps[-1] == 60  # this load's evaluation, not a second copy


def test_history_is_thinned_evenly_and_keeps_every_evaluation():
    rows = [{"step": s, "d_loss": 0.5, "g_loss": float("nan")} for s in range(1, 2501)]
    rows += [{"step": s, "fd": 1.0 / s, "histogram_note": "x"} for s in (500, 1000)]
    rows.append({"step": 2500, "bad": [1, 2]})  # a list value is left out of a stored row ...
    rows.append({"step": 2500, "fd": 0.1, "histogram": [3, 0, 7]})  # ... but for the class counts
    kept = checkpoint.history_rows(rows, max_rows=1000)
    assert {"step": 2500, "fd": 0.1, "histogram": [3, 0, 7]} in kept
    loss = [r for r in kept if checkpoint.is_loss_row(r)]
    assert len(loss) <= 1000 and loss[-1]["step"] == 2500 and loss[-1]["g_loss"] is None
    gaps = {b["step"] - a["step"] for a, b in zip(loss, loss[1:])}
    assert gaps == {3}  # evenly spaced
    assert [r["step"] for r in kept if "fd" in r] == [500, 1000, 2500] and {"step": 2500} in kept
    json.dumps(kept, allow_nan=False)  # stored as strict JSON


@pytest.mark.parametrize("history, message", [
    ("[{not json", "history is not JSON"),
    ('{"step": 1}', "list of rows"),
    ('[{"d_loss": 1.0}]', "integer 'step'"),
    ('[{"step": 1, "d_loss": [1, 2]}]', "scalar values"),
    ('[{"step": 1, "histogram": [1, -2]}]', "class counts under 'histogram'"),
    ('[{"step": 1, "histogram": "3 0 7"}]', "class counts"),
    ('[{"step": 1, "histogram": [1.5, 2]}]', "class counts"),
])
def test_malformed_history_is_refused(trained, tmp_path, history, message):
    _, path = trained
    p = tmp_path / "hist.safetensors"
    _rewrite(path, p, history=history)
    with pytest.raises(checkpoint.CheckpointError, match=message):
        checkpoint.load(str(p))


def test_checkpoints_without_history_still_load(trained, tmp_path):
    _, path = trained
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = {k: v for k, v in f.metadata().items() if k != "history"}
        ts = {k: f.get_tensor(k) for k in f.keys()}
    p = tmp_path / "old.safetensors"
    save_file(ts, str(p), metadata=meta)
    ck = checkpoint.load(str(p))
    assert ck.history == [] and trainer_from_checkpoint(ck).step_count == 60


def test_class_histograms_travel_with_an_image_checkpoint(tmp_path):
    from gan_core.training import presets
    from gan_core.training.trainer import Trainer

    t = Trainer(presets.get("digits-collapse").config.replace(eval_samples=200, batch_size=16))
    t.step()
    first = t.evaluate()["histogram"]
    t.step()
    second = t.evaluate()["histogram"]
    path = tmp_path / "digits.safetensors"
    checkpoint.save(str(path), t)
    ck = checkpoint.load(str(path))
    assert [(r["step"], r["histogram"]) for r in ck.history if "histogram" in r] == [(1, first), (2, second)]
    assert sum(first) == 200 and len(first) == 10
    t2 = trainer_from_checkpoint(ck)  # the run's histograms, then this load's evaluation at step 2
    assert [r["step"] for r in t2.history.rows if "histogram" in r] == [1, 2]

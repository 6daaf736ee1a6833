"""A run's timeline of grids: when a headless run draws them, how a checkpoint stores them (PNG bytes,
bit-exact round trip, bounded) and how a damaged or hostile timeline is refused with its reason."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from gan_core import checkpoint
from gan_core.training import presets
from gan_core.training.trainer import Trainer
from gan_core.viz import timeline


def grids(n: int, h: int = 20, w: int = 30, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    return [(10 * i, rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for i in range(n)]


def test_record_steps_cover_the_run_densely_at_first():
    steps = timeline.record_steps(7500)
    assert steps[0] == 0 and steps[-1] == 7500 and steps == sorted(set(steps))
    assert 40 <= len(steps) <= timeline.STORED_GRIDS + 2
    assert sum(s <= 750 for s in steps) >= 15, "the first tenth, where blobs become strokes, is dense"
    gaps = np.diff(steps)
    assert gaps.max() <= 7500 / 20, "no long blank stretch later on"
    assert timeline.record_steps(0) == [0] and timeline.record_steps(3) == [0, 1, 2, 3]


def test_encode_decode_is_bit_exact_and_bounded():
    items = grids(5)
    back = timeline.decode(timeline.encode(items), last_step=40)
    assert [s for s, _ in back] == [0, 10, 20, 30, 40]
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(items, back))

    many = grids(timeline.MAX_GRIDS * 2 + 1, 4, 4)
    kept = timeline.decode(timeline.encode(many), last_step=10 * len(many))
    assert len(kept) == timeline.MAX_GRIDS and kept[0][0] == 0 and kept[-1][0] == many[-1][0]
    assert timeline.encode([]) == {}


def test_timeline_start_from_keeps_the_stored_spacing():
    t = timeline.Timeline()
    t.start_from(grids(5))
    assert t.steps() == [0, 10, 20, 30, 40] and t.every == 10
    assert not t.add(45, grids(1)[0][1]) and t.add(50, grids(1)[0][1]), "training on adds at that spacing"


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A 2-step conditional digits checkpoint holding a timeline of three solid-colour grids."""
    trainer = Trainer(presets.get("digits-conditional").config)
    trainer.step()
    trainer.step()
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    items = [(s, np.full((12, 16, 3), c, np.uint8)) for s, c in zip((0, 1, 2), colours)]
    path = tmp_path_factory.mktemp("timeline") / "run.safetensors"
    checkpoint.save(str(path), trainer, timeline=items + [(9, items[0][1])])  # beyond the step: left out
    return path, items


def test_checkpoint_round_trips_the_timeline(saved):
    path, items = saved
    ck = checkpoint.load(str(path))
    assert [s for s, _ in ck.timeline] == [0, 1, 2]
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(ck.timeline, items))


def tampered(path, tmp_path, **changes):
    tensors = load_file(str(path))
    from safetensors import safe_open
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    for k, v in changes.items():
        if v is None:
            tensors.pop(k)
        else:
            tensors[k] = v
    out = tmp_path / "bad.safetensors"
    save_file(tensors, str(out), metadata=meta)
    return str(out)


@pytest.mark.parametrize("change, message", [
    ({"timeline.steps": torch.tensor([0, 2, 1])}, "steps must increase"),
    ({"timeline.steps": torch.tensor([0, 1, 99])}, "up to the checkpoint's step"),
    ({"timeline.offsets": torch.tensor([0, 5, 10, 11])}, "offsets do not cut"),
    ({"timeline.offsets": None}, "timeline lacks timeline.offsets"),
    ({"timeline.png": torch.zeros(3000, dtype=torch.uint8)}, "cannot be read"),
    ({"timeline.steps": torch.arange(100), "timeline.offsets": torch.arange(101)}, "at most 64"),
    ({"timeline.steps": torch.tensor([0.0, 1.0, 2.0])}, "1-D I64"),
])
def test_a_damaged_timeline_is_refused_with_its_reason(saved, tmp_path, change, message):
    path, _ = saved
    if "timeline.png" in change:  # same length as the stored bytes, so only the content is wrong
        n = load_file(str(path))["timeline.png"].numel()
        change = {"timeline.png": torch.zeros(n, dtype=torch.uint8)}
    with pytest.raises(checkpoint.CheckpointError, match=message):
        checkpoint.load(tampered(path, tmp_path, **change))


def test_replay_frames_are_captioned_and_paced():
    frames = timeline.replay_frames(grids(4), enlarge_fn=lambda g: np.repeat(np.repeat(g, 2, 0), 2, 1))
    assert len(frames) == 4 and frames[0].shape == (40 + 34, 60, 3)
    assert (frames[0][:34] < 128).any(), "the caption strip carries text"
    assert timeline.replay_fps(48) == pytest.approx(4.0) and timeline.replay_fps(2) == 2.0


def test_the_recorder_does_not_change_the_run():
    """The same seed trains the same weights whether or not the grid is drawn along the way."""
    cfg = presets.get("digits-dcgan").config.replace(eval_every=10**6)
    plain, watched = Trainer(cfg), Trainer(cfg)
    plain.run(12)
    rec = timeline.Recorder(watched.step_count, 12, n=6)
    rec(watched)
    watched.run(12, on_tick=rec, tick_every=2)
    rec(watched)
    assert torch.equal(plain.g_flat.data, watched.g_flat.data) and torch.equal(plain.d_flat.data, watched.d_flat.data)
    steps = [s for s, _ in rec.items]
    assert steps[0] == 0 and steps[-1] == 12 and steps == sorted(set(steps)) and len(steps) >= 4
    assert rec.items[0][1].dtype == np.uint8 and rec.items[0][1].shape[2] == 3
    assert not np.array_equal(rec.items[0][1], rec.items[-1][1]), "the grid changes as G learns"

"""Image metrics on crafted cases, evaluator files, and the shipped evaluators' held-out figures."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
import torch
from torch import nn

from gan_core.data.digits import load_digits
from gan_core.metrics import classifier as mc
from gan_core.metrics.diversity import ms_ssim, ms_ssim_diversity
from gan_core.models import LatentSpec
from gan_core.models import evaluators as ev

torch.set_num_threads(1)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHECKPOINTS = os.path.join(ROOT, "checkpoints")


class StubClassifier(nn.Module):
    """Reads the class from pixel (0, 0) of each image and returns fixed logits: `scale` on that class."""

    def __init__(self, k: int = 10, scale: float = 10.0):
        super().__init__()
        self.k, self.scale = k, scale

    def forward(self, x):
        return nn.functional.one_hot(x[:, 0, 0, 0].long(), self.k).float() * self.scale

    def features(self, x):
        return x.flatten(1)[:, :4]


class StubConditionalG(nn.Module):
    latent_spec = LatentSpec(z_dim=3, n_classes=10)

    def forward(self, z, c=None):
        return c.float()[:, None, None, None].expand(-1, 1, 8, 8).clone()


def class_images(labels) -> torch.Tensor:
    return torch.as_tensor(labels, dtype=torch.float32)[:, None, None, None].expand(-1, 1, 8, 8).clone()


def shipped(name: str):
    path = os.path.join(CHECKPOINTS, ev.RECIPES[name]["file"])
    if not os.path.isfile(path):
        pytest.fail(f"shipped evaluator {path} is missing; build it with "
                    f"`python -m gan_core.models.evaluators --which {name} --out checkpoints/`")
    return ev.load_evaluator(path)


def test_one_class_reads_as_one_class_covered():
    h = mc.class_histogram(StubClassifier(), class_images([3] * 50))
    assert h[mc.CLASSES_COVERED] == 1 and h[mc.CLASS_ENTROPY] == 0.0 and h[mc.CONFIDENT] == 1.0
    assert h[mc.HISTOGRAM] == [0, 0, 0, 50, 0, 0, 0, 0, 0, 0]


def test_balanced_classes_read_as_all_covered_with_entropy_ln_k():
    h = mc.class_histogram(StubClassifier(), class_images(list(range(10)) * 30), batch=7)
    assert h[mc.CLASSES_COVERED] == 10
    assert h[mc.CLASS_ENTROPY] == pytest.approx(math.log(10), abs=1e-12)
    unsure = mc.class_histogram(StubClassifier(scale=0.1), class_images(range(10)))
    assert unsure[mc.CONFIDENT] == 0.0
    rare = mc.class_histogram(StubClassifier(), class_images([0] * 995 + [1] * 5))  # 0.5 % < 1 %
    assert rare[mc.CLASSES_COVERED] == 1 and rare[mc.HISTOGRAM][1] == 5


def test_classes_covered_counts_only_confidently_classified_samples():
    """Blotchy samples the classifier reads at 11 % fill the histogram but cover no class; a class needs
    at least max(3, 1 %) samples read with confidence >= 0.5."""
    unsure = mc.class_histogram(StubClassifier(scale=0.1), class_images(list(range(10)) * 30))
    assert unsure[mc.HISTOGRAM] == [30] * 10 and unsure[mc.CLASSES_COVERED] == 0
    few = mc.class_histogram(StubClassifier(), class_images([0] * 98 + [1] * 2))  # 2 < 3 samples
    assert few[mc.CLASSES_COVERED] == 1 and few[mc.HISTOGRAM][1] == 2
    sure = mc.class_histogram(StubClassifier(scale=3.0), class_images(list(range(10)) * 30))
    assert mc.COVER_P <= math.exp(3) / (math.exp(3) + 9) < mc.CONFIDENT_P  # read at 0.69
    assert sure[mc.CLASSES_COVERED] == 10 and sure[mc.CONFIDENT] == 0.0


def test_conditional_accuracy_with_a_stub_generator():
    assert mc.conditional_accuracy(StubClassifier(), StubConditionalG(), n_per_class=3, seed=1) == 1.0
    with pytest.raises(ValueError, match="classes"):
        mc.conditional_accuracy(StubClassifier(k=12), StubConditionalG(), 3)


def test_frechet_distance_identity_shift_symmetry():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 16)) @ rng.normal(size=(16, 16))
    b = rng.normal(size=(300, 16)) * 2 + 1
    assert mc.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    shift = np.full(16, 0.5)
    assert mc.frechet_distance(a, a + shift) == pytest.approx(shift @ shift, rel=1e-6)
    assert mc.frechet_distance(a, a + 2 * shift) > mc.frechet_distance(a, a + shift)
    assert mc.frechet_distance(a, b) == pytest.approx(mc.frechet_distance(b, a), rel=1e-9)
    from scipy.linalg import sqrtm  # the textbook formula, for reference

    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    ref = np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(sa + sb - 2 * sqrtm(sa @ sb).real)
    assert mc.frechet_distance(a, b) == pytest.approx(ref, rel=1e-6)
    with pytest.raises(ValueError, match=r"need two feature sets \(N >= 2, D\) of equal D"):
        mc.frechet_distance(a, b[:, :3])


def test_features_are_batch_size_independent_and_fd_sits_above_the_floor():
    model, _ = shipped("digits")
    real = load_digits(32).images
    f_big, f_small = mc.features(model, real[:300], batch=256), mc.features(model, real[:300], batch=7)
    np.testing.assert_allclose(f_big, f_small, rtol=1e-4, atol=1e-5)
    fd, floor = mc.fd_with_floor(model, real, real.flip(-1), n=400, seed=0)  # mirrored digits
    assert fd > 10 * floor > 0
    fd_real, floor_real = mc.fd_with_floor(model, real[:900], real[900:], n=400, seed=0)  # real vs real
    assert fd_real < 2 * floor_real


@pytest.mark.slow
def test_fd_remembers_the_real_side_only_while_images_and_weights_are_unchanged():
    model, _ = shipped("digits")
    real = load_digits(32).images.clone()
    fake = real.flip(-1)[:300]
    mc._REAL_SIDE.clear()
    first = mc.fd_with_floor(model, real, fake, n=300, seed=0)
    assert len(mc._REAL_SIDE) == 1
    again = mc.fd_with_floor(model, real, fake, n=300, seed=0)  # from memory: the same figures
    mc._REAL_SIDE.clear()
    assert again == first == mc.fd_with_floor(model, real, fake, n=300, seed=0)  # and as computed afresh
    real[:, :, :4] = -1.0  # an in-place change to the real images (a band at the top) is noticed
    changed = mc.fd_with_floor(model, real, fake, n=300, seed=0)
    assert changed != first
    mc._REAL_SIDE.clear()
    assert changed == mc.fd_with_floor(model, real, fake, n=300, seed=0)
    assert mc.fd_with_floor(model, real, fake, n=300, seed=1) != changed  # another draw of the real sets


def test_class_share_table_of_identical_sets_has_no_error():
    model, card = shipped("scenes")
    scenes = ev.recipe_data({"name": "scenes", "n": 40, "size": 32, "seed": 7})
    table = mc.class_share_table(model, scenes, scenes.images.clone())
    assert [r["name"] for r in table] == card["class_names"]
    assert all(r["rel_err"] == 0.0 for r in table if r["real_share"] > 0)
    assert mc.max_share_error(table) == 0.0 and sum(r["counted"] for r in table) >= 6
    assert sum(r["real_share"] for r in table) == pytest.approx(1.0)
    other = ev.recipe_data({"name": "scenes", "n": 40, "size": 32, "seed": 8})
    assert mc.max_share_error(mc.class_share_table(model, scenes, other)) > 0


def test_ms_ssim_identical_is_one_random_is_lower():
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    assert ms_ssim_diversity(x.repeat(4, 1, 1, 1), pairs=10) == pytest.approx(1.0)
    noise = torch.rand(20, 3, 32, 32) * 2 - 1
    assert ms_ssim_diversity(noise, pairs=30, seed=1) < 0.3
    digits = load_digits(16).images[:50]  # 2 scales at 16 px
    assert 0.0 < ms_ssim_diversity(digits, pairs=50) < 1.0
    a = np.random.default_rng(0).random((1, 64, 64))
    assert ms_ssim(a, a) == pytest.approx(1.0) and ms_ssim(a, 1 - a) < 0.5
    with pytest.raises(ValueError, match="need at least 2 images"):
        ms_ssim_diversity(x)


def test_evaluator_round_trip_and_validation(tmp_path):
    data = load_digits(16).subset(slice(0, 200))
    m1, rep1 = ev.train_classifier(data, epochs=1, seed=3)
    m2, rep2 = ev.train_classifier(data, epochs=1, seed=3)
    for (k, a), b in zip(m1.state_dict().items(), m2.state_dict().values()):
        assert torch.equal(a, b), f"training is not deterministic for {k}"
    path = str(tmp_path / "clf.safetensors")
    card_path = ev.save_evaluator(path, m1, {"held_out": rep1["held_out"]})
    m3, card = ev.load_evaluator(path)
    assert card == json.load(open(card_path)) and card["kind"] == "classifier"
    x = data.images[:5]
    assert torch.allclose(m1(x), m3(x))
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    for bad, msg in (("nope", "no such"), ("junk", "valid")):
        with pytest.raises(ValueError, match=msg):
            ev.load_evaluator(str(tmp_path / f"{bad}.safetensors"))
    from safetensors.torch import save_file

    state = {k: v.clone() for k, v in m1.state_dict().items()}
    meta = {"format_version": "1", "kind": "classifier", "config": json.dumps(m1.cfg.to_dict()), "card": "{}"}
    save_file(state, str(tmp_path / "kind.safetensors"), metadata={**meta, "kind": "regressor"})
    state["head.weight"] = torch.zeros(3, 128)
    save_file(state, str(tmp_path / "shape.safetensors"), metadata=meta)
    for name, msg in (("kind", "unknown evaluator kind"), ("shape", "head.weight has shape")):
        with pytest.raises(ValueError, match=msg):
            ev.load_evaluator(str(tmp_path / f"{name}.safetensors"))


def test_shipped_digits_classifier_meets_its_card():
    model, card = shipped("digits")
    d = card["dataset"]
    _, held = load_digits(d["size"], seed=d["seed"]).split(d["held_out_frac"], d["split_seed"])
    acc = ev.evaluate_classifier(model, held)[ev.ACCURACY]
    assert abs(acc - card["held_out"][ev.ACCURACY]) <= 0.02 and acc >= card["target"][ev.ACCURACY]


def test_shipped_shapes_classifier_meets_its_card_on_fresh_shapes():
    model, card = shipped("shapes")
    fresh = ev.recipe_data({**card["dataset"], "n": 1500, "seed": 1234})
    acc = ev.evaluate_classifier(model, fresh)[ev.ACCURACY]
    assert acc >= card["held_out"][ev.ACCURACY] - 0.02 and acc >= card["target"][ev.ACCURACY]


def test_shipped_scenes_segmenter_meets_its_card_on_fresh_scenes():
    model, card = shipped("scenes")
    fresh = ev.recipe_data({**card["dataset"], "n": 600, "seed": 1234})
    miou = ev.evaluate_segmenter(model, fresh)[ev.MEAN_IOU]
    assert miou >= card["held_out"][ev.MEAN_IOU] - 0.02 and miou >= card["target"][ev.MEAN_IOU]

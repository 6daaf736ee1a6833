"""The generator contract and the family registry: a test-only family (tests/toy_family.py) trains,
saves, loads and is explored with nothing but its registry entry; hooks trace, edit and always leave."""

from __future__ import annotations

import pytest
import torch

import toy_family
from gan_core import checkpoint, models
from gan_core.explore import latent as lx
from gan_core.inspect import StopForward, Trace, TraceDict
from gan_core.models import copies
from gan_core.training import TrainConfig, Trainer
from gan_core.training.session import TrainingSession

CFG = TrainConfig(dataset="digits16", family=toy_family.NAME, model={"z_dim": 6}, batch_size=16,
                  lr_d=1e-3, lr_g=1e-3, steps=20, eval_every=10, eval_samples=100)


def test_registry_answers_for_every_family():
    assert models.output_kind("mlp") == "points" and models.output_kind("dcgan") == "image"
    assert models.output_kind(toy_family.NAME) == "image"
    with pytest.raises(ValueError, match="unknown model family 'nope'"):
        models.get("nope")
    for name in models.FAMILIES:
        G, D, _ = models.build(name, {})
        assert isinstance(G, models.contract.Generator)
        assert G.output_spec.kind == models.output_kind(name)
        assert list(G.feature_layers())


def test_toy_family_trains_saves_loads_and_round_trips_bit_exactly(tmp_path):
    t = Trainer(CFG)
    assert t.engine == "autograd"  # a new family needs only the autograd engine
    g0 = t.g_flat.data.clone()
    t.run(20)
    assert t.step_count == 20 and not torch.equal(t.g_flat.data, g0)
    assert "fd" in t.metrics  # the dataset's evaluator measures it like any image generator
    path = tmp_path / "toy.safetensors"
    checkpoint.save(str(path), t)
    ck = checkpoint.load(str(path))
    assert ck.train_config.family == toy_family.NAME and ck.step == 20
    for k, v in t.G.state_dict().items():
        assert torch.equal(ck.G.state_dict()[k], v)


def test_toy_family_is_explored_with_sliders_truncation_and_interpolation():
    s = TrainingSession(CFG, evaluate=False)
    s.step("both", n=3)
    m = lx.LatentModel.from_snapshot(s.snapshot(), "toy")
    assert m.kind == "image" and m.space == "z"
    dirs = lx.pca_directions(m, k=4)
    assert dirs.vectors.shape == (4, 6) and dirs.source == "fc"
    base = m.latent(3)
    moved = m.render(base, [(dirs, [1.5, 0, 0, 0])])
    plain = m.render(base)
    assert moved.shape == (1, 1, 16, 16) and not torch.equal(moved, plain)
    assert torch.equal(plain, m.generate(base[None]))
    assert torch.equal(m.render(base, psi=0.0), m.generate(torch.zeros(1, 6)))  # psi 0: the mean latent
    frames = lx.interpolate(m.latents([1, 2]), 5)
    assert torch.equal(m.generate_each(frames)[0], m.generate(m.latent(1)[None])[0])
    s.close()


def test_trace_keeps_and_edits_a_layer_exactly():
    G = models.build(toy_family.NAME, {})[0].eval()
    z = torch.randn(4, 6)
    with Trace(G, "fc") as tr:
        x = G(z)
    assert torch.equal(tr.output, G.fc(z))
    mask = torch.zeros(256)
    mask[:128] = 1
    with Trace(G, "fc", edit_output=lambda out, name: out * mask):
        y = G(z)
    want = torch.tanh(G.fc(z) * mask).reshape(-1, 1, 16, 16)
    assert torch.equal(y, want) and not torch.equal(y, x)
    assert torch.equal(y.reshape(4, -1)[:, 128:], torch.zeros(4, 128))  # the edited half is tanh(0) = 0
    assert not G.fc._forward_hooks and not G.fc._forward_pre_hooks


def test_hooks_are_removed_after_an_exception():
    G = models.build(toy_family.NAME, {})[0]
    with pytest.raises(RuntimeError, match="boom"):
        with TraceDict(G, ["fc", "act"], edit_output=lambda out, name: out):
            raise RuntimeError("boom")
    assert not G.fc._forward_hooks and not G.act._forward_hooks
    with pytest.raises(ValueError, match="unknown layer 'nope'"):
        Trace(G, "nope")
    with Trace(G, "fc", stop=True) as tr:  # stops the forward pass after the layer, swallowed here
        G(torch.randn(2, 6))
        pytest.fail("the forward pass should have stopped")
    assert tr.output.shape == (2, 256) and not G.fc._forward_hooks
    assert G(torch.randn(1, 6)).shape == (1, 1, 16, 16)  # the stop left with its block
    tr = Trace(G, "act", stop=True)  # outside a with block the stop reaches the caller
    with pytest.raises(StopForward):
        G(torch.randn(1, 6))
    tr.close()
    assert not G.act._forward_hooks


def test_layout_hooks_can_be_removed():
    G, D, _ = models.build("dcgan", {"image_size": 16})
    hooks = copies.lay_out("dcgan", G, D)
    assert any(m._forward_hooks for m in G.modules()) and any(m._forward_pre_hooks for m in D.modules())
    hooks.close()
    assert not any(m._forward_hooks for m in G.modules()) and not any(m._forward_pre_hooks for m in D.modules())
    assert copies.lay_out("mlp", *models.build("mlp", {})[:2]) is None


class ToyStyleG(torch.nn.Module):
    """A linear style-based toy: mapping z -> w (same w for 2 layers), synthesis sums a linear map per layer."""

    def __init__(self):
        super().__init__()
        self.latent_spec = models.LatentSpec(z_dim=3)
        self.output_spec = models.OutputSpec("image", 1, 2)
        self.num_ws, self.w_dim = 2, 3
        self.map = torch.nn.Linear(3, 3)
        self.layer = torch.nn.ModuleList([torch.nn.Linear(3, 4), torch.nn.Linear(3, 4)])
        self.register_buffer("w_avg", torch.tensor([0.5, -1.0, 2.0]))

    def mapping(self, z, c=None):
        return self.map(z)[:, None].repeat(1, self.num_ws, 1)  # (N, num_ws, w_dim)

    def synthesis(self, ws, noise_mode="const"):
        return (self.layer[0](ws[:, 0]) + self.layer[1](ws[:, 1])).reshape(-1, 1, 2, 2)

    def forward(self, z, c=None):
        return self.synthesis(self.mapping(z, c))

    def feature_layers(self):
        from collections import OrderedDict

        return OrderedDict(map=self.map)


def test_w_directions_move_only_their_layers_and_truncation_pulls_toward_w_avg():
    G = ToyStyleG()
    m = lx.LatentModel(G, toy_family.NAME)
    assert m.space == "w" and torch.equal(m.truncation_centre(), G.w_avg)
    base = m.latent(5)
    with torch.no_grad():
        ws = G.mapping(base[None])
        assert torch.allclose(m.render(base), G.synthesis(ws))
        avg = G.w_avg.expand(1, 2, 3)
        assert torch.allclose(m.render(base, psi=0.0), G.synthesis(avg))  # psi 0: G(w_avg)
        u = torch.tensor([[1.0, 0.0, 0.0]])
        coarse = lx.Directions(u, torch.ones(1), torch.ones(1), "w", space="w", layers=(0, 1))
        moved = m.render(base, [(coarse, [2.0])])
        want = G.synthesis(ws + torch.tensor([[[2.0, 0, 0], [0, 0, 0]]]))  # layer 0 only
        assert torch.allclose(moved, want)
    with pytest.raises(ValueError, match="W directions need a style-based generator"):
        lx.LatentModel(models.build(toy_family.NAME, {})[0], toy_family.NAME).render(base[:0].new_zeros(6),
                                                                                       [(coarse, [1.0])])

"""The explorer's render route (app.tabs.explore.route): a token renders only its own session's model, and
malformed or out-of-range requests are refused with a status and a one-line reason."""

from __future__ import annotations

import io
import re

import numpy as np
import torch
import pytest
from PIL import Image

from app.common.store import SessionStore
from app.tabs.explore.route import RouteError, by_token, render_query
from app.tabs.explore.state import SLIDERS, slot_kind
from gan_core.explore import latent as lx
from gan_core.training import presets
from gan_core.training.trainer import Trainer


@pytest.fixture(scope="module")
def models_pair():
    img = Trainer(presets.get("digits-dcgan").config)
    ring = Trainer(presets.get("stable-ring").config)
    return lx.LatentModel(img.G, "dcgan", dataset="digits16"), lx.LatentModel(ring.G, "mlp", ring.data)


class Ctx:
    def __init__(self, cap: int):
        self.caps = {"explore": cap}


class Hub:
    """A session store holding explorer states only, as the route sees it."""

    def __init__(self, cap: int):
        self.store = SessionStore([slot_kind(Ctx(cap))], sweep_every_s=3600)

    def get(self, key):
        return self.store.slot(key, "explore")

    def render_query(self, params, query_len=0):
        return render_query(self.store, params, query_len)

    def close(self, key):
        self.store.close(key)

    def by_token(self, token):
        return by_token(self.store, token)

    def __len__(self):
        return self.store.count("explore")


@pytest.fixture()
def hub(models_pair):
    h = Hub(4)
    a, b = h.get("session-a"), h.get("session-b")
    a.set_model(models_pair[0], "test:image")
    b.set_model(models_pair[1], "test:2d")
    yield h
    h.store.shutdown()


def render(hub, **params) -> np.ndarray:
    png = hub.render_query({k: [str(v)] for k, v in params.items()})
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def refused(hub, status: int, fragment: str, params: dict, query_len: int = 0) -> None:
    with pytest.raises(RouteError, match=re.escape(fragment)) as info:
        hub.render_query(params, query_len)
    assert info.value.status == status and fragment in str(info.value), (info.value.status, str(info.value))


def test_each_token_renders_its_own_model(hub):
    a, b = hub.get("session-a"), hub.get("session-b")
    assert a.token != b.token and len(a.token) >= 24
    img = render(hub, t=a.token)
    plane = render(hub, t=b.token)
    assert img.shape == (16, 16, 3)  # the digits generator's tile
    assert plane.shape[0] == 300 and plane.shape[1] > 600  # the 2D generator's two panels


def test_sliders_and_psi_move_the_point_and_are_kept(hub):
    s = hub.get("session-a")
    before = render(hub, t=s.token)
    moved = render(hub, t=s.token, psi=0.5, v0=2.5, v3=-1)
    assert (before != moved).any()
    assert s.psi == 0.5 and s.values()[0] == 2.5 and s.values()[3] == -1.0
    # the point the route drew is the state's point (the Gradio events read the same state)
    expected = s.model.truncate(s.base_z + (2.5 * s.bases["pca"].std[0]) * s.bases["pca"].vectors[0]
                                + (-1.0 * s.bases["pca"].std[3]) * s.bases["pca"].vectors[3], 0.5)
    assert np.allclose(s.point().numpy(), expected.numpy(), atol=1e-5)
    render(hub, t=s.token, psi=0, v0=-4)
    nd = s.model.spec.noise_dim  # psi 0: the noise at the mean; an InfoGAN code is kept (not blended)
    assert torch.equal(s.point()[:nd], s.model.mean_latent()[:nd])
    assert torch.equal(s.point()[nd:], (s.base_z + s.displacement())[nd:])


def test_bad_requests_are_refused(hub):
    tok = hub.get("session-a").token
    refused(hub, 403, "unknown or expired", {"t": ["A" * 32]})
    refused(hub, 400, "malformed token", {"t": ["../../etc/passwd"]})
    refused(hub, 400, "missing token", {"psi": ["1"]})
    refused(hub, 400, "unknown parameter", {"t": [tok], "seed": ["3"]})
    refused(hub, 400, "unknown parameter", {"t": [tok], f"v{SLIDERS}": ["1"]})
    refused(hub, 400, "once", {"t": [tok, tok]})
    refused(hub, 400, "psi must be between", {"t": [tok], "psi": ["2.5"]})
    refused(hub, 400, "psi must be between", {"t": [tok], "psi": ["-0.1"]})
    refused(hub, 400, "finite", {"t": [tok], "v0": ["nan"]})
    refused(hub, 400, "finite", {"t": [tok], "v1": ["1e999"]})
    refused(hub, 400, "within", {"t": [tok], "v1": ["6"]})
    refused(hub, 400, "must be a number", {"t": [tok], "v2": ["1;DROP"]})
    refused(hub, 414, "too long", {"t": [tok]}, query_len=10_000)
    assert hub.get("session-a").values()[1] == 0.0  # a refused request changes nothing


def test_closed_sessions_and_sessions_without_a_model(hub):
    tok = hub.get("session-a").token
    hub.close("session-a")
    refused(hub, 403, "unknown or expired", {"t": [tok]})
    fresh = hub.get("session-c")
    refused(hub, 409, "no model", {"t": [fresh.token]})
    assert hub.get("session-a").token != tok  # a new visit gets a new token


def test_a_full_explorer_refuses_and_evicts_nobody(models_pair):
    import gradio as gr

    h = Hub(2)
    first = h.get("one")
    h.get("two")
    with pytest.raises(gr.Error, match="server is busy: 2 explorer states"):
        h.get("three")
    assert len(h) == 2 and h.by_token(first.token) is first, "the first visitor keeps their explorer"
    h.store.shutdown()

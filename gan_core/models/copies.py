"""Generators laid out as the trainer lays them out, and frozen copies of them for viewers.

The trainer keeps a family's convolutions channels-last (`Family.channels_last`) with every parameter a
view of one flat buffer (`models.params.FlatParams`); a training snapshot is that buffer. Every viewer
(the sample grid, the 2D plane, the latent explorer, mixing, code knobs, dissection) gets its generator
from here:

- `trainer_layout(family, model_cfg)`: a fresh G (and D) laid out like the trainer's, with their flat
  buffers, so that loading a snapshot is one copy (`load_flat`) and the pictures match the trainer's;
- `frozen_generator(...)`: a CPU copy in eval mode with dense parameters (fastest for one latent at a
  time) and its BatchNorm statistics re-estimated for the copied weights (`recalibrate_bn`), so that an
  image depends on its own latent only.

`keep_channels_last` installs the two layout hooks of a channels-last network as removable hooks
(`inspect.Trace`): they belong to the model's layout and stay until `close()`.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from ..inspect.hooks import Trace
from .base import sample_latent
from .params import FlatParams
from .registry import get

BN_CALIBRATION = (8, 256)  # batches x samples used to re-estimate BatchNorm statistics of a frozen copy
CALIBRATION_SEED = 1234


class _ChannelsLastGrad(torch.autograd.Function):
    """Identity whose backward hands on the gradient in channels-last layout."""

    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g):
        return g.contiguous(memory_format=torch.channels_last)


class LayoutHooks:
    """The hooks `keep_channels_last` installed; `close()` removes them (also a context manager)."""

    def __init__(self, traces: list[Trace]):
        self.traces = traces

    def close(self) -> None:
        for t in self.traces:
            t.close()

    def __enter__(self) -> "LayoutHooks":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def keep_channels_last(G: nn.Module, D: nn.Module | None = None) -> LayoutHooks:
    """Keep activations and their gradients channels-last where layers would switch to NCHW.

    G's Unflatten makes an NCHW map of a vector and D's Flatten sends its gradient back as an NCHW map;
    convolution kernels fed a mix of layouts take slow paths (on the 2-core test machine G's first
    transposed convolution ran 1.5x slower, D's weight gradient 2.5x). Two kinds of hooks copy at those
    points instead; the networks compute the same values up to float rounding, and other copies of G
    that must draw exactly the trainer's pictures (the sample grid) get the same hooks."""
    traces = []
    to_nhwc = lambda out, name: out.contiguous(memory_format=torch.channels_last)  # noqa: E731
    for name, m in G.named_modules():
        if isinstance(m, nn.Unflatten):
            traces.append(Trace(G, name, retain_output=False, edit_output=to_nhwc))
    if D is not None:
        grad_nhwc = lambda x, name: _ChannelsLastGrad.apply(x)  # noqa: E731
        for name, m in D.named_modules():
            if isinstance(m, nn.Flatten):
                traces.append(Trace(D, name, retain_output=False, edit_input=grad_nhwc))
    return LayoutHooks(traces)


def lay_out(family: str, *nets: nn.Module) -> LayoutHooks | None:
    """Give networks of `family` the trainer's memory layout (channels-last and its hooks when the family
    runs so); returns the hooks (None for families that keep the default layout)."""
    if not get(family).channels_last:
        return None
    for n in nets:
        n.to(memory_format=torch.channels_last)
    return keep_channels_last(*nets)


def trainer_layout(family: str, model_cfg: dict, with_d: bool = False):
    """A fresh G of `family` laid out as the trainer's (flat buffer, channels-last where the family is),
    with its layout hooks: returns (G, G's FlatParams), or with `with_d` (G, D, G's, D's FlatParams).
    `load_flat` then puts a snapshot's weights in with one copy."""
    G, D, _ = get(family).build(model_cfg)
    G.layout_hooks = lay_out(family, G, *([D] if with_d else []))
    if with_d:
        return G, D, FlatParams(G), FlatParams(D)
    return G, FlatParams(G)


def load_flat(flat: FlatParams, g_state: torch.Tensor) -> None:
    """Copy a trainer's flat generator weights (a snapshot's `g_state`) into `flat`."""
    if g_state.numel() != flat.data.numel():
        raise ValueError(f"the snapshot holds {g_state.numel()} generator weights, its model config needs "
                         f"{flat.data.numel()}")
    flat.data.copy_(g_state.detach().reshape(-1).to(flat.data.device, torch.float32))


def random_labels(G: nn.Module, n: int, gen: torch.Generator | None = None) -> torch.Tensor | None:
    """n random class labels for a conditional G (None for an unconditional one)."""
    k = G.latent_spec.n_classes
    return torch.randint(k, (n,), generator=gen) if k else None


@torch.no_grad()
def recalibrate_bn(G: nn.Module, batches: int, batch_size: int, gen: torch.Generator,
                   label_gen: torch.Generator | None = None, device: str | torch.device = "cpu") -> None:
    """Re-estimate G's BatchNorm running statistics for its current weights: a cumulative average over
    `batches` batches of random latents (drawn from `gen`; class labels from `label_gen`, default `gen`)
    with BatchNorm in training mode. Then eval-mode samples are deterministic per latent and match what
    training saw. G's train/eval mode is kept."""
    bns = [m for m in G.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the batches below
    was_training = G.training
    G.train()
    try:
        for _ in range(batches):
            z = sample_latent(G.latent_spec, batch_size, gen, device)
            labels = random_labels(G, batch_size, label_gen or gen)
            G(z, None if labels is None else labels.to(device))
    finally:
        G.train(was_training)
        for m, mom in zip(bns, saved):
            m.momentum = mom


def freeze(G: nn.Module) -> nn.Module:
    """G on the CPU in eval mode, dense parameters that need no gradient, BatchNorm re-estimated."""
    G = G.to("cpu")
    with torch.no_grad():  # own, dense parameters in the default layout (fastest for batch 1)
        for p in G.parameters():
            p.data = p.data.clone(memory_format=torch.contiguous_format)
            p.requires_grad_(False)
    recalibrate_bn(G, *BN_CALIBRATION, torch.Generator().manual_seed(CALIBRATION_SEED))
    return G.eval()


def frozen_generator(family: str, model_cfg: dict, g_state: torch.Tensor | None = None,
                     G: nn.Module | None = None) -> nn.Module:
    """A frozen eval copy of a generator: from a snapshot's flat weights `g_state` (laid out as the
    trainer's), or a deep copy of a module `G` (e.g. a checkpoint's)."""
    if G is not None:
        return freeze(copy.deepcopy(G))
    if g_state is None:
        raise ValueError("frozen_generator needs a snapshot's g_state or a generator module")
    G, _, _ = get(family).build(model_cfg)
    if get(family).channels_last:
        G.to(memory_format=torch.channels_last)  # the trainer's flat layout
    load_flat(FlatParams(G), g_state)
    return freeze(G)

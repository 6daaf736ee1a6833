"""Trace or edit the output (or input) of named layers, as context managers that always remove their hooks.

Modelled on baukit's `nethook` (Bau et al., used by GAN Dissection): a layer is named by its dotted
module path (`net.block1`); `Trace` holds one layer, `TraceDict` several. Hooks are plain PyTorch forward
hooks, never a patched `forward`, and leave with the `with` block, also when the block raises:

    with Trace(G, "net.block1") as tr:          # keep what the layer outputs
        G(z)
    feats = tr.output                           # (B, C, H, W)

    with Trace(G, "net.block1", edit_output=lambda out, name: out * mask):   # ablate units
        x = G(z)

`edit_output(output, layer_name)` returns the replacement output; `edit_input(input, layer_name)` the
replacement first positional input. `stop=True` raises `StopForward` after the (last) traced layer, which
the `with` block swallows, so a forward pass stops early when only features are wanted. A Trace can also
be kept for the life of a model (`close()` removes it), for hooks that belong to a model's layout.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable

import torch
from torch import nn

Edit = Callable[[torch.Tensor, str], torch.Tensor]


class StopForward(Exception):
    """Raised by a Trace with stop=True after its layer ran; the Trace's `with` block swallows it."""


def layer_names(model: nn.Module) -> list[str]:
    """Dotted names of every submodule (the names Trace takes)."""
    return [n for n, _ in model.named_modules() if n]


def get_module(model: nn.Module, name: str) -> nn.Module:
    """The submodule at dotted path `name`; ValueError naming a few valid names otherwise."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"a layer name must be a non-empty string, got {name!r}")
    for n, m in model.named_modules():
        if n == name:
            return m
    known = layer_names(model)
    raise ValueError(f"unknown layer {name[:60]!r}; this network has {', '.join(known[:12])}"
                     + (" ..." if len(known) > 12 else ""))


class Trace:
    """Hooks on one named layer: keep its output (and input), optionally edit them, optionally stop."""

    def __init__(self, model: nn.Module, layer: str, retain_output: bool = True, retain_input: bool = False,
                 detach: bool = True, edit_output: Edit | None = None, edit_input: Edit | None = None,
                 stop: bool = False):
        self.layer = layer
        self.output: torch.Tensor | None = None
        self.input: torch.Tensor | None = None
        module = get_module(model, layer)
        self._handles = []

        def pre(m, args):
            if not args:
                return None
            x = args[0]
            if edit_input is not None:
                x = edit_input(x, layer)
            if retain_input:
                self.input = x.detach() if detach else x
            return (x, *args[1:]) if edit_input is not None else None

        def post(m, args, out):
            if edit_output is not None:
                out = edit_output(out, layer)
            if retain_output:
                self.output = out.detach() if detach and isinstance(out, torch.Tensor) else out
            if stop:
                raise StopForward()
            return out if edit_output is not None else None

        if edit_input is not None or retain_input:
            self._handles.append(module.register_forward_pre_hook(pre))
        self._handles.append(module.register_forward_hook(post))

    def close(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    @property
    def active(self) -> bool:
        return bool(self._handles)

    def __enter__(self) -> "Trace":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        self.close()
        return exc_type is not None and issubclass(exc_type, StopForward)


class TraceDict(OrderedDict):
    """Traces of several layers by name (`td[name].output`); one `with` block removes them all.

    `stop=True` stops the forward pass after the last of the layers in `layers` order."""

    def __init__(self, model: nn.Module, layers, retain_output: bool = True, retain_input: bool = False,
                 detach: bool = True, edit_output: Edit | None = None, edit_input: Edit | None = None,
                 stop: bool = False):
        super().__init__()
        layers = list(layers)
        try:
            for i, name in enumerate(layers):
                self[name] = Trace(model, name, retain_output, retain_input, detach, edit_output, edit_input,
                                   stop=stop and i == len(layers) - 1)
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        for tr in self.values():
            tr.close()

    def __enter__(self) -> "TraceDict":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        self.close()
        return exc_type is not None and issubclass(exc_type, StopForward)

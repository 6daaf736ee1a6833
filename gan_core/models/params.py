"""Flat parameter buffers: all parameters of a network as views of one contiguous tensor.

The trainer updates a network with one fused optimiser call on the flat buffer, snapshots hand the UI one
tensor per network, and viewers copy a snapshot into their own generator with one `copy_`.
"""

from __future__ import annotations

import torch
from torch import nn


class FlatParams:
    """Re-home a module's parameters as views of one flat tensor; `grad` is a flat gradient buffer."""

    def __init__(self, module: nn.Module):
        self.params = [p for p in module.parameters()]
        total = sum(p.numel() for p in self.params)
        for p in self.params:
            if not p.is_contiguous() and not p.is_contiguous(memory_format=torch.channels_last):
                raise ValueError("FlatParams needs dense parameters (contiguous or channels_last)")
        dev = self.params[0].device if self.params else torch.device("cpu")
        self.data = torch.empty(total, device=dev)
        self.grad = torch.zeros(total, device=dev)
        self.grad_views: list[torch.Tensor] = []
        off = 0
        for p in self.params:
            n = p.numel()
            # keep each parameter's memory layout (e.g. channels_last conv weights) inside the flat buffer
            view = torch.as_strided(self.data, p.shape, p.stride(), off)
            view.copy_(p.data)
            p.data = view
            self.grad_views.append(torch.as_strided(self.grad, p.shape, p.stride(), off))
            off += n

    def grad_view(self, p: torch.Tensor) -> torch.Tensor:
        return self.grad_views[next(i for i, q in enumerate(self.params) if q is p)]

    def collect_grads(self) -> None:
        """Copy autograd's per-parameter .grad into the flat buffer (zeros where a grad is missing)."""
        for p, gv in zip(self.params, self.grad_views):
            if p.grad is None:
                gv.zero_()
            else:
                gv.copy_(p.grad)
                p.grad = None

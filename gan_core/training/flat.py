"""Flat parameter buffers and a fused optimiser over them.

All parameters of a network live as views in one contiguous tensor, and so do their gradients; Adam
then updates a network with one fused kernel (`torch._fused_adam_`, the kernel behind
`torch.optim.Adam(fused=True)`, called directly to skip the optimiser's Python overhead). Tiny GANs are
bound by per-op overhead, so this matters more than FLOPs.
"""

from __future__ import annotations

import torch

from ..models.params import FlatParams

__all__ = ["FlatParams", "FlatOptimizer"]


class FlatOptimizer:
    """Adam (or SGD with momentum) on a FlatParams buffer; hyperparameters may change between steps."""

    def __init__(self, flat: FlatParams, kind: str = "adam", lr: float = 1e-3, betas=(0.5, 0.999),
                 eps: float = 1e-8):
        if kind not in ("adam", "sgd"):
            raise ValueError(f"optimizer must be 'adam' or 'sgd', got {kind!r}")
        self.flat, self.kind, self.lr, self.betas, self.eps = flat, kind, float(lr), tuple(betas), eps
        self.reset_state()

    def reset_state(self) -> None:
        d = self.flat.data
        self.exp_avg = torch.zeros_like(d)
        self.exp_avg_sq = torch.zeros_like(d)
        self.step_t = torch.zeros((), dtype=torch.float32, device=d.device)
        self._fused = d.device.type in ("cpu", "cuda") and hasattr(torch, "_fused_adam_")

    def step(self) -> None:
        p, g = self.flat.data, self.flat.grad
        if self.kind == "sgd":  # momentum 0.9 in betas[0] slot is not used: plain SGD as in the papers
            p.add_(g, alpha=-self.lr)
            return
        b1, b2 = self.betas
        self.step_t.add_(1)
        if self._fused:
            torch._fused_adam_([p], [g], [self.exp_avg], [self.exp_avg_sq], [], [self.step_t], lr=self.lr,
                               beta1=b1, beta2=b2, weight_decay=0.0, eps=self.eps, amsgrad=False,
                               maximize=False)
            return
        t = float(self.step_t)
        self.exp_avg.lerp_(g, 1 - b1)
        self.exp_avg_sq.mul_(b2).addcmul_(g, g, value=1 - b2)
        denom = (self.exp_avg_sq / (1 - b2**t)).sqrt_().add_(self.eps)
        p.addcdiv_(self.exp_avg, denom, value=-self.lr / (1 - b1**t))

    def state(self) -> dict[str, torch.Tensor]:
        return {"exp_avg": self.exp_avg, "exp_avg_sq": self.exp_avg_sq, "step": self.step_t}

    def snapshot(self) -> tuple:
        return (self.flat.data.clone(), self.exp_avg.clone(), self.exp_avg_sq.clone(), self.step_t.clone())

    def restore(self, snap: tuple) -> None:
        for dst, src in zip((self.flat.data, self.exp_avg, self.exp_avg_sq, self.step_t), snap):
            dst.copy_(src)

"""Manual forward/backward for MLP GANs, without autograd.

For networks of a few thousand weights the cost of a training step is the number of tensor ops, not
FLOPs. This engine does a D/G round in about 80 ops: linear layers are single `addmm`s, activation
gradients are single `*_backward` kernels, weight gradients are written straight into the flat gradient
buffer (`out=`), and the loss gradients come in closed form (`losses.d_grads`/`g_grads`). Tests compare
every gradient with autograd's.
"""

from __future__ import annotations

import torch
from torch import nn

from .. import losses

_aten = torch.ops.aten


class FusedMLP:
    """Forward/backward for an nn.Sequential of [Linear, act]*L + Linear, using flat gradient views."""

    def __init__(self, seq: nn.Sequential, act: str, grad_of):
        self.linears = [m for m in seq if isinstance(m, nn.Linear)]
        # weights live in flat buffers updated in place, so these views stay valid for the whole run
        self.wt = [m.weight.t() for m in self.linears]
        self.w = [m.weight for m in self.linears]
        self.b = [m.bias for m in self.linears]
        self.act = act
        self.gw = [grad_of(m.weight) for m in self.linears]
        self.gb = [grad_of(m.bias) for m in self.linears]

    def _act_(self, h: torch.Tensor) -> torch.Tensor:
        if self.act == "relu":
            return h.relu_()
        if self.act == "leaky_relu":
            return torch.nn.functional.leaky_relu_(h, 0.2)
        return h.tanh_()

    def _act_backward(self, grad: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        if self.act == "relu":
            return _aten.threshold_backward(grad, out, 0)
        if self.act == "leaky_relu":
            return _aten.leaky_relu_backward(grad, out, 0.2, True)
        return _aten.tanh_backward(grad, out)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Returns the output and the inputs of each linear layer (kept for backward)."""
        inputs = [x]
        h = x
        last = len(self.linears) - 1
        for i in range(last + 1):
            h = torch.addmm(self.b[i], h, self.wt[i])
            if i < last:
                h = self._act_(h)
                inputs.append(h)
        return h, inputs

    def backward(self, inputs: list[torch.Tensor], dout: torch.Tensor, weights: bool = True,
                 need_input: bool = True) -> torch.Tensor | None:
        """Backpropagate dout; write weight gradients into the flat buffer when `weights`."""
        delta = dout
        for i in range(len(self.linears) - 1, -1, -1):
            a = inputs[i]
            if weights:
                torch.mm(delta.t(), a, out=self.gw[i])
                torch.sum(delta, 0, out=self.gb[i])
            if i == 0 and not need_input:
                return None
            delta = torch.mm(delta, self.w[i])
            if i > 0:
                delta = self._act_backward(delta, a)
        return delta


class FusedGANStep:
    """One D/G round of an MLP GAN (any loss but WGAN-GP), with the same maths as the autograd path."""

    def __init__(self, trainer):
        t = trainer
        self.t = t
        self.g = FusedMLP(t.G.net, t.G.cfg.activation, t.g_flat.grad_view)
        self.d = FusedMLP(t.D.net, t.D.cfg.d_activation, t.d_flat.grad_view)
        self.pack = t.D.pack
        self.x_dim = t.G.cfg.x_dim
        self.scale = float(t.G.cfg.x_scale)
        self.fake = None
        self.g_inputs = None
        self._consts_key = None

    @torch.no_grad()
    def d_step(self, loss: str, real: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Update D once on (real, G(z)); keeps G(z) and its activations for the G step that follows."""
        fake, self.g_inputs = self.g.forward(z)  # in data units / scale
        self.fake = fake
        n = real.shape[0] // self.pack
        if self.scale != 1:
            real = real / self.scale
        x = torch.cat([real, fake]).view(-1, self.x_dim * self.pack)
        logits, d_inputs = self.d.forward(x)
        self.d.backward(d_inputs, self._d_grad(loss, logits, n), weights=True, need_input=False)
        return logits[:n], logits[n:]

    def _d_grad(self, loss: str, logits: torch.Tensor, n: int) -> torch.Tensor:
        """d(d_loss)/d(logits) for logits = cat(real (n), fake (n)), in two or three ops."""
        key = (n, logits.device)
        if self._consts_key != key:
            ones, zeros = torch.ones(n, 1, device=logits.device), torch.zeros(n, 1, device=logits.device)
            self._target = torch.cat([ones, zeros])  # 1 for real, 0 for fake
            self._sign = torch.cat([-ones, ones]) / n  # d(mean(fake) - mean(real))
            self._consts_key = key
        if loss in ("minimax", "nonsaturating"):
            return torch.sigmoid(logits).sub_(self._target).mul_(1.0 / n)
        if loss == "lsgan":
            return (logits - self._target).mul_(1.0 / n)
        if loss in ("wgan", "wgan-gp"):
            return self._sign
        if loss == "hinge":  # real: -[r < 1]/n, fake: +[f > -1]/n
            return (logits * self._sign).mul_(-n).lt_(1).mul_(self._sign)
        r, f = logits[:n], logits[n:]
        return torch.cat(losses.d_grads(loss, r, f))

    @torch.no_grad()
    def g_step(self, loss: str) -> torch.Tensor:
        """Update G through the (already updated) D on the fake batch of the last D step."""
        fake = self.fake  # G's raw output = D's scaled input, so the scale cancels in this chain
        logits, d_inputs = self.d.forward(fake.view(-1, self.x_dim * self.pack))
        dl = losses.g_grads(loss, logits)
        dx = self.d.backward(d_inputs, dl, weights=False, need_input=True)
        self.g.backward(self.g_inputs, dx.view(-1, self.x_dim), weights=True, need_input=False)
        return logits

"""Hand-written forward and backward passes of DCGAN networks, for the trainer's rounds on CPU.

When D judges each sample on its own (no BatchNorm, no minibatch-std: the SN-GAN recipe of digits-dcgan
and scenes-dcgan, and the collapse preset), both networks are short fixed chains: G is a linear layer,
transposed convolutions with BatchNorm and ReLU, and a tanh; D is strided convolutions with LeakyReLU, a
linear head and InfoGAN's optional Q head. Autograd then spends much of a step on bookkeeping (graph
nodes, spectral norm's parametrisation, layout copies, gradient copies). These engines call the kernels
the modules call (`convolution`, `convolution_backward` with only the gradients needed,
`native_batch_norm` and its backward, `leaky_relu_backward` / `threshold_backward` in place, `addmm`),
write every weight gradient straight into the flat gradient buffer, and differentiate the losses in
closed form (`losses.d_grads` / `g_grads`, InfoGAN's term in `info_grads`).

Spectral norm runs as `torch.nn.utils.parametrizations.spectral_norm` does: each forward in training
mode makes one power iteration on the module's own `u`, `v` buffers, then sigma = u^T W v. Its gradient,
with u and v held fixed, is dL/dW = (dL/dW_sn - <dL/dW_sn, W_sn> u v^T) / sigma, as autograd computes it
through the parametrisation. BatchNorm's running averages and batch counter move as the module's forward
moves them, so sampling, grids, checkpoints and evaluation keep using the modules. Tests compare every
logit, buffer and gradient with autograd through the stock modules (tests/test_conv_engine.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .. import losses, models

aten = torch.ops.aten


class _Layer:
    """One of D's linear maps (convolution or linear) with its optional spectral normalisation."""

    def __init__(self, module: nn.Module, slope: float | None):
        self.slope = slope  # of the LeakyReLU that follows (None: none)
        param = getattr(module, "parametrizations", None)
        self.sn = None
        if param is not None and "weight" in param:
            self.sn = param.weight[0]
            self.weight = param.weight.original
            if len(param.weight) != 1 or not hasattr(self.sn, "_u"):
                raise ValueError("unsupported weight parametrisation")
        else:
            self.weight = module.weight
        self.bias = module.bias
        if isinstance(module, nn.Conv2d):
            self.stride, self.padding = list(module.stride), list(module.padding)
            if module.groups != 1 or tuple(module.dilation) != (1, 1) or module.padding_mode != "zeros":
                raise ValueError("unsupported convolution")
        self.w = self.weight  # the weight the passes use: W / sigma under spectral norm
        self.sigma = None
        self.uv = None

    def normalise(self, power_iteration: bool) -> None:
        """W / sigma for the passes to come (one power iteration first when asked, as in training)."""
        if self.sn is None:
            self.w = self.weight
            return
        sn = self.sn
        with torch.no_grad():
            mat = self.weight.detach().reshape(self.weight.shape[0], -1)  # (out, in * kh * kw)
            u, v = sn._u, sn._v
            if power_iteration:  # as F.normalize: x / max(||x||, eps), written into the buffers
                x = torch.mv(mat, v)
                torch.div(x, torch.linalg.vector_norm(x).clamp_min_(sn.eps), out=u)
                x = torch.mv(mat.t(), u)
                torch.div(x, torch.linalg.vector_norm(x).clamp_min_(sn.eps), out=v)
            self.sigma = torch.dot(u, torch.mv(mat, v))  # as the parametrisation computes it
            self.w = self.weight.detach() / self.sigma  # keeps the weight's memory layout
            self.uv = (u, v)

    def weight_grad(self, g_w: torch.Tensor, out: torch.Tensor) -> None:
        """Write dL/dW into `out` given dL/d(W / sigma)."""
        if self.sn is None:
            out.copy_(g_w)
            return
        u, v = self.uv
        inner = torch.sum(g_w * self.w)
        outer = torch.outer(u, v).view(self.weight.shape)  # (out, in, kh, kw) in contiguous order
        torch.div(g_w.sub_(outer.mul_(inner)), self.sigma, out=out)


class DiscriminatorEngine:
    """Forward and backward passes of a per-sample DCGAN discriminator, without autograd."""

    def __init__(self, D: nn.Module, flat):
        cfg = D.cfg
        if cfg.d_batchnorm or cfg.minibatch_std:
            raise ValueError("the engine needs a discriminator without BatchNorm and minibatch-std")
        self.D, self.cfg, self.flat = D, cfg, flat
        self.blocks = []
        for name, block in D.features.named_children():
            if name == "flatten":
                continue
            act = block.act
            if not isinstance(act, nn.LeakyReLU) or set(dict(block.named_children())) != {"conv", "act"}:
                raise ValueError(f"unsupported block {name}")
            self.blocks.append(_Layer(block.conv, act.negative_slope))
        self.head = _Layer(D.head, None)
        self.q = None
        if D.q_head is not None:
            self.q = (_Layer(D.q_head.fc, D.q_head.act.negative_slope), _Layer(D.q_head.out, None))
        self.layers = [*self.blocks, self.head, *(self.q or ())]
        index = {id(p): i for i, p in enumerate(flat.params)}
        self.views = [(flat.grad_views[index[id(l.weight)]],
                       None if l.bias is None else flat.grad_views[index[id(l.bias)]]) for l in self.layers]
        covered = {id(l.weight) for l in self.layers} | {id(l.bias) for l in self.layers if l.bias is not None}
        if covered != set(index):
            raise ValueError("the engine does not cover every parameter of D")

    # ----- passes ----------------------------------------------------------------------------------------
    @torch.no_grad()
    def forward(self, x: torch.Tensor, c: torch.Tensor | None, q_from: int | None) -> tuple:
        """Logits (B, 1), Q's predictions for rows q_from: (or None), and what backward needs.

        Like the module's forward, each call first runs one power iteration per spectrally normalised
        layer when D is in training mode, then divides the weights by their sigma."""
        for layer in self.layers:
            layer.normalise(power_iteration=self.D.training)
        cfg = self.cfg
        if cfg.n_classes:
            planes = F.one_hot(c, cfg.n_classes).to(x.dtype)[:, :, None, None]
            x = torch.cat([x, planes.expand(-1, -1, *x.shape[2:])], 1)
        saved = [x]
        h = x
        for layer in self.blocks:
            h = _conv(h, layer)
            h = F.leaky_relu_(h, layer.slope)  # backward reads the sign from the output
            saved.append(h)
        f = h.reshape(len(h), -1)  # NCHW order, as nn.Flatten (a copy when h is channels-last)
        out = torch.addmm(self.head.bias, f, self.head.w.t())
        q = qh = None
        if self.q is not None and q_from is not None:
            q1, q2 = self.q
            qh = F.leaky_relu(torch.addmm(q1.bias, f[q_from:], q1.w.t()), q1.slope)
            q = torch.addmm(q2.bias, qh, q2.w.t())
        return out, q, (saved, f, qh, q_from)

    @torch.no_grad()
    def backward(self, state: tuple, g_out: torch.Tensor, g_q: torch.Tensor | None, weights: bool,
                 inputs: bool) -> torch.Tensor | None:
        """Back through D from dL/dlogits (and dL/dQ): D's weight gradients into the flat buffer when
        `weights`, and dL/d(image) returned when `inputs`."""
        saved, f, qh, q_from = state
        views = self.views
        g_f = torch.mm(g_out, self.head.w)  # (B, F)
        if weights:
            self.head.weight_grad(torch.mm(g_out.t(), f), views[len(self.blocks)][0])
            views[len(self.blocks)][1].copy_(g_out.sum(0))
        if g_q is not None:
            q1, q2 = self.q
            g_qh = torch.mm(g_q, q2.w)
            if weights:
                q2.weight_grad(torch.mm(g_q.t(), qh), views[-1][0])
                views[-1][1].copy_(g_q.sum(0))
            g_qh = aten.leaky_relu_backward(g_qh, qh, q1.slope, True)
            g_f[q_from:].addmm_(g_qh, q1.w)
            if weights:
                q1.weight_grad(torch.mm(g_qh.t(), f[q_from:]), views[-2][0])
                views[-2][1].copy_(g_qh.sum(0))
        elif weights and self.q is not None:
            for gw, gb in views[-2:]:
                gw.zero_()
                gb.zero_()
        h = saved[-1]
        g = g_f.view(h.shape)  # NCHW order, as the flatten read it
        if not h.is_contiguous():
            g = g.contiguous(memory_format=torch.channels_last)
        for i in range(len(self.blocks) - 1, -1, -1):
            layer = self.blocks[i]
            g = aten.leaky_relu_backward.grad_input(g, saved[i + 1], layer.slope, True, grad_input=g)  # in place
            need_input = i > 0 or inputs
            few = need_input and layer.w.shape[1] <= FEW_CHANNELS  # the image's own channels: see below
            mask = [need_input and not few, weights, weights and layer.bias is not None]
            g_in = g_w = g_b = None
            if any(mask):
                g_in, g_w, g_b = aten.convolution_backward(g, saved[i], layer.w, [layer.w.shape[0]],
                                                           layer.stride, layer.padding, [1, 1], False, [0, 0], 1,
                                                           mask)
            if few:
                g_in = _input_grad_few(g, saved[i], layer)
            if weights:
                layer.weight_grad(g_w, views[i][0])
                if g_b is not None:
                    views[i][1].copy_(g_b)
            g = g_in
        if not inputs:
            return None
        return g[:, :self.cfg.channels] if self.cfg.n_classes else g


ONE_CHANNEL_CHUNK = 64


def _conv(x: torch.Tensor, layer: _Layer) -> torch.Tensor:
    """A strided convolution; one-channel input in chunks of 64 samples. oneDNN picks a much slower kernel
    for larger one-channel batches: on the 2-core test machine D's first layer on 16x16 digits took 0.11 ms
    at batch 64 and 0.79 ms at 128 (the joint real + fake pass); two chunks and a copy take 0.28 ms."""
    if x.shape[1] != 1 or len(x) <= ONE_CHANNEL_CHUNK:
        return aten.convolution(x, layer.w, layer.bias, layer.stride, layer.padding, [1, 1], False, [0, 0], 1)
    return torch.cat([_conv(part, layer) for part in x.split(ONE_CHANNEL_CHUNK)])


FEW_CHANNELS = 4  # oneDNN is slow to send gradients back into so few channels; see _input_grad_few


def _input_grad_few(g: torch.Tensor, x: torch.Tensor, layer: _Layer) -> torch.Tensor:
    """dL/dx of a strided convolution whose input has few channels (the image), as a transposed
    convolution through PyTorch's im2col kernel: 0.2 ms instead of oneDNN's 0.55 ms for D's first layer
    on 16x16 digits at batch 64 on the 2-core test machine."""
    g_in = torch._C._nn.slow_conv_transpose2d(g, layer.w, layer.w.shape[2:], None, layer.stride, layer.padding)
    if g_in.shape != x.shape:  # odd sizes need an output padding: leave those to oneDNN
        g_in = aten.convolution_backward(g, x, layer.w, None, layer.stride, layer.padding, [1, 1], False,
                                         [0, 0], 1, [True, False, False])[0]
    return g_in


def info_grads(q: torch.Tensor, spec, z: torch.Tensor, lambda_cat: float = 1.0,
               lambda_cont: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """InfoGAN's term (as `losses.info_loss`) and its gradient with respect to Q's outputs."""
    cat, cont = models.split_codes(spec, z)
    n = len(q)
    n_cat, k = spec.n_cat, spec.n_cont
    g = torch.empty_like(q)
    loss = q.new_zeros(())
    if cat is not None:
        logp = torch.log_softmax(q[:, :n_cat], 1)
        loss = loss - lambda_cat * logp.gather(1, cat[:, None]).mean()
        gc = logp.exp_()
        gc[torch.arange(n), cat] -= 1.0
        g[:, :n_cat] = gc.mul_(lambda_cat / n)
    if cont is not None:
        raw = q[:, n_cat + k:]
        logvar = raw.clamp(losses.LOGVAR_MIN, losses.LOGVAR_MAX)
        inv = torch.exp(-logvar)
        diff = q[:, n_cat:n_cat + k] - cont
        sq = diff * diff * inv  # (c - mean)^2 / variance
        loss = loss + lambda_cont * (0.5 * logvar + losses.INFO_CONT_WEIGHT * sq).sum(1).mean()
        g[:, n_cat:n_cat + k] = diff.mul_(inv).mul_(2 * losses.INFO_CONT_WEIGHT * lambda_cont / n)
        inside = (raw >= losses.LOGVAR_MIN) & (raw <= losses.LOGVAR_MAX)
        g[:, n_cat + k:] = (0.5 - losses.INFO_CONT_WEIGHT * sq).mul_(inside).mul_(lambda_cont / n)
    return loss, g


class GeneratorEngine:
    """Forward and backward passes of a DCGAN generator without autograd, for the trainer's rounds.

    Linear -> 4x4 map -> [transposed convolution] -> BatchNorm -> ReLU, ..., -> transposed convolution to
    the image -> tanh, with the module's own kernels (`ToImage`'s im2col one for the last layer), BatchNorm
    in training mode (batch statistics; the running averages and `num_batches_tracked` move exactly as the
    module's forward moves them), and the gradients written straight into the flat gradient buffer. The
    discriminator engine supplies d(loss)/d(images); sampling, the grid and evaluation use the module."""

    def __init__(self, G: nn.Module, flat):
        from ..models.dcgan import ToImage

        self.G, self.cfg, self.flat = G, G.cfg, flat
        blocks = list(G.feature_layers().values())
        self.fc = blocks[0].fc
        if self.fc.bias is not None:
            raise ValueError("unsupported generator: a bias in the first layer")
        self.convs = [None] + [b.conv for b in blocks[1:]]
        self.bns = [b.bn if isinstance(b.bn, nn.BatchNorm2d) else None for b in blocks]
        self.width = blocks[0].unflatten.unflattened_size
        last = G.net.to_image.conv
        if not isinstance(last, ToImage) or any(c.bias is not None for c in self.convs[1:]):
            raise ValueError("unsupported generator")
        self.last = last
        modules = [self.fc, *self.convs[1:], *(b for b in self.bns if b is not None), last]
        index = {id(p): i for i, p in enumerate(flat.params)}
        self.view = {id(p): flat.grad_views[index[id(p)]] for m in modules for p in m.parameters()}
        if set(self.view) != set(index):
            raise ValueError("the engine does not cover every parameter of G")

    @torch.no_grad()
    def forward(self, z: torch.Tensor, c: torch.Tensor | None) -> tuple[torch.Tensor, tuple]:
        """Images (B, C, S, S) and what backward needs."""
        cfg = self.cfg
        if cfg.n_classes:
            z = torch.cat([z, F.one_hot(c, cfg.n_classes).to(z.dtype)], 1)
        h = torch.mm(z, self.fc.weight.t()).view(len(z), *self.width)
        h = h.contiguous(memory_format=torch.channels_last)  # as keep_channels_last's hook
        saved = []  # per block: (input of its convolution, BatchNorm input and statistics, ReLU output)
        for i, bn in enumerate(self.bns):
            x_in = h
            if i > 0:
                conv = self.convs[i]
                h = aten.convolution(h, conv.weight, None, list(conv.stride), list(conv.padding), [1, 1], True,
                                     [0, 0], 1)
            bn_state = None
            if bn is not None:
                bn_in = h
                h, mean, invstd = torch.native_batch_norm(h, bn.weight, bn.bias, bn.running_mean, bn.running_var,
                                                          True, _bn_momentum(bn), bn.eps)
                bn_state = (bn_in, mean, invstd)
            h = torch.relu_(h)
            saved.append((x_in, bn_state, h))
        last = self.last
        y = torch._C._nn.slow_conv_transpose2d(h, last.weight, last.weight.shape[2:], last.bias,
                                               list(last.stride), list(last.padding))
        x = torch.tanh_(y)
        return x, (z, saved, h, x)

    @torch.no_grad()
    def backward(self, state: tuple, g_x: torch.Tensor) -> None:
        """G's gradients from d(loss)/d(images), written into the flat gradient buffer."""
        z, saved, h_last, x = state
        view = self.view
        g = aten.tanh_backward(g_x, x)
        last = self.last
        g, g_w, g_b = aten.convolution_backward(g, h_last, last.weight, [last.weight.shape[1]], list(last.stride),
                                                list(last.padding), [1, 1], True, [0, 0], 1, [True, True, True])
        view[id(last.weight)].copy_(g_w)
        view[id(last.bias)].copy_(g_b)
        for i in range(len(saved) - 1, -1, -1):
            x_in, bn_state, out = saved[i]
            g = aten.threshold_backward.grad_input(g, out, 0, grad_input=g)  # in place
            bn = self.bns[i]
            if bn is not None:
                bn_in, mean, invstd = bn_state
                g, g_w, g_b = aten.native_batch_norm_backward(g, bn_in, bn.weight, bn.running_mean, bn.running_var,
                                                             mean, invstd, True, bn.eps, [True, True, True])
                view[id(bn.weight)].copy_(g_w)
                view[id(bn.bias)].copy_(g_b)
            if i > 0:
                conv = self.convs[i]
                g, g_w, _ = aten.convolution_backward(g, x_in, conv.weight, None, list(conv.stride),
                                                      list(conv.padding), [1, 1], True, [0, 0], 1,
                                                      [True, True, False])
                view[id(conv.weight)].copy_(g_w)
        g = g.contiguous().view(len(z), -1)  # NCHW order, as the Linear's output was unflattened
        torch.mm(g.t(), z, out=view[id(self.fc.weight)])


def _bn_momentum(bn: nn.BatchNorm2d) -> float:
    """The running-average factor of BatchNorm's training forward (counting the batch, as it does)."""
    if bn.num_batches_tracked is not None:
        bn.num_batches_tracked.add_(1)
    if bn.momentum is None:  # cumulative average
        return 1.0 / float(bn.num_batches_tracked)
    return bn.momentum

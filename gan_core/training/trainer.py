"""The GAN trainer: `step()` does one D/G round and returns scalars; `run()` loops with callbacks.

The textbook round (as in PyTorch's DCGAN example): draw real x and z, update D k times on
(x, G(z).detach()), then update G through the updated D on the last fake batch. MLP models without a
gradient penalty use the fused engine (`fused.py`); DCGANs whose D judges each sample on its own use the
DCGAN engine on CPU (`conv_engine.py`); everything else uses autograd. All share flat parameter buffers
and one fused Adam, so settings can change between steps and the engines agree.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from typing import Callable

import torch

from .. import losses, models
from ..data import registry as data_registry
from ..data import toy2d
from ..metrics import modes as mode_metrics
from ..stats import History
from .config import TrainConfig
from .conv_engine import DiscriminatorEngine, GeneratorEngine, info_grads
from .flat import FlatOptimizer, FlatParams
from .fused import FusedGANStep


class TrainingDiverged(RuntimeError):
    """Losses or weights became NaN/inf; the trainer restored its last good weights."""


class ChunkSampler:
    """Draws `chunk` batches at once and hands out slices (one RNG call per chunk, not per step).

    `draw(n)` returns a tensor or a tuple of tensors/None (e.g. images and labels)."""

    def __init__(self, draw: Callable[[int], object], batch: int, chunk: int = 64):
        self.draw, self.batch, self.chunk = draw, batch, chunk
        self.buf, self.pos = None, 0

    def next(self):
        if self.buf is None or self.pos + self.batch > self._len:
            self.buf, self.pos = self.draw(self.batch * self.chunk), 0
            first = self.buf[0] if isinstance(self.buf, tuple) else self.buf
            self._len = len(first)
        a, b = self.pos, self.pos + self.batch
        self.pos = b
        if isinstance(self.buf, tuple):
            return tuple(None if t is None else t[a:b] for t in self.buf)
        return self.buf[a:b]


def _copy_grads(views: list[torch.Tensor], grads) -> None:
    if all(g is not None for g in grads):
        torch._foreach_copy_(views, list(grads))  # one call for all
        return
    for v, g in zip(views, grads):
        if g is None:
            v.zero_()
        else:
            v.copy_(g)


class _ChannelsLastGrad(torch.autograd.Function):
    """Identity whose backward hands on the gradient in channels-last layout."""

    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g):
        return g.contiguous(memory_format=torch.channels_last)


def keep_channels_last(G: torch.nn.Module, D: torch.nn.Module | None = None) -> None:
    """Keep DCGAN activations and their gradients channels-last where the layers would switch to NCHW.

    G's first block reshapes a vector into a 4x4 map (NCHW) and D's Flatten sends its gradient back as an
    NCHW map; convolution kernels fed a mix of layouts take slow paths (on the 2-core test machine the
    generator's first transposed convolution ran 1.5x slower, the discriminator's weight gradient 2.5x).
    Two hooks copy at those two points instead. The networks compute the same values up to float
    rounding; other copies of G that must draw exactly the trainer's pictures (the sample grid) get the
    same hook."""
    unflatten = getattr(getattr(getattr(G, "net", None), "block0", None), "unflatten", None)
    if unflatten is not None:
        unflatten.register_forward_hook(lambda m, i, out: out.contiguous(memory_format=torch.channels_last))
    flatten = getattr(getattr(D, "features", None), "flatten", None) if D is not None else None
    if flatten is not None:
        flatten.register_forward_pre_hook(lambda m, args: (_ChannelsLastGrad.apply(args[0]),))


class Trainer:
    def __init__(self, cfg: TrainConfig, data: toy2d.Toy2D | None = None, device: str | torch.device = "cpu"):
        self.cfg = cfg
        self.device = torch.device(device)
        self.data = data if data is not None else data_registry.load(cfg.dataset, self.device, cfg.held_out)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            G, D, self.model_cfg = models.build(cfg.family, cfg.model)
        self.G, self.D = G.to(self.device), D.to(self.device)
        if cfg.family != "mlp":  # convolutions run faster on NHWC (oneDNN on CPU, cuDNN on GPU)
            self.G.to(memory_format=torch.channels_last)
            self.D.to(memory_format=torch.channels_last)
            keep_channels_last(self.G, self.D)
        self.g_flat, self.d_flat = FlatParams(self.G), FlatParams(self.D)
        self.opt_g = FlatOptimizer(self.g_flat, cfg.optimizer, cfg.lr_g, (cfg.beta1, cfg.beta2))
        self.opt_d = FlatOptimizer(self.d_flat, cfg.optimizer, cfg.lr_d, (cfg.beta1, cfg.beta2))
        self.gen = torch.Generator().manual_seed(cfg.seed)
        self.eval_gen_seed = 10_000 + cfg.seed
        self.history = History()
        self.metrics: dict = {}
        self.min_modes: int | None = None  # lowest mode count seen once some mode was covered
        self.max_modes: int | None = None
        self.min_classes: int | None = None  # image models: lowest classes covered after warm-up
        self.max_classes: int | None = None
        self.step_count = 0
        self.ema = None
        self._fused = None
        self._fake_c = None
        self._fake_z = None  # the latents of the last fake batch (InfoGAN reads its codes back)
        self.metric_fn: Callable[["Trainer", torch.Tensor], dict] | None = None  # image metrics hook
        self._configure()
        builtin = cfg.dataset in data_registry.IMAGE_SETS and (  # the built-in set, not user images
            data is None or getattr(data, "dataset", None) is data_registry.image_split(cfg.dataset, cfg.held_out)[0])
        if self.is_image and builtin:
            from ..metrics.image_eval import metric_fn_for

            self.metric_fn = metric_fn_for(cfg.dataset)
        self._last_good = self._snapshot_all()

    # ----- configuration -------------------------------------------------------------------------------
    def _configure(self) -> None:
        cfg = self.cfg
        pack = getattr(self.D, "pack", 1)
        self.batch = max(pack, cfg.batch_size // pack * pack)
        spec = self.G.latent_spec
        self.is_image = getattr(self.data, "kind", "2d") == "image"
        if self.is_image:  # images come with labels; conditional G gets random labels
            self.real_sampler = ChunkSampler(lambda n: self.data.sample(n, self.gen), self.batch, chunk=8)
            self.noise_sampler = ChunkSampler(lambda n: (models.sample_latent(spec, n, self.gen, self.device),
                                                         self._random_labels(n)), self.batch, chunk=8)
        else:
            self.real_sampler = ChunkSampler(lambda n: self.data.sample(n, self.gen).to(self.device),
                                             self.batch)
            self.noise_sampler = ChunkSampler(lambda n: models.sample_latent(spec, n, self.gen, self.device),
                                              self.batch)
        self._codes = spec.has_codes
        mc = self.model_cfg
        # D judges each sample on its own (no BatchNorm, no minibatch-std): one pass can take real and fake
        self._joint_d = (cfg.family == "dcgan" and not getattr(mc, "d_batchnorm", True)
                         and not getattr(mc, "minibatch_std", True))
        # such a D also runs without autograd (conv_engine.py), except under WGAN-GP's second derivatives
        # (on CPU, whose per-op overhead it saves; CUDA keeps autograd)
        engine = self._joint_d and cfg.loss != "wgan-gp" and self.device.type == "cpu"
        self._d_engine = DiscriminatorEngine(self.D, self.d_flat) if engine else None
        # and then G too, which gets d(loss)/d(images) from it
        self._g_engine = GeneratorEngine(self.G, self.g_flat) if self._d_engine is not None else None
        self._g_state = None
        fusable = cfg.family == "mlp" and cfg.loss != "wgan-gp" and not self._codes
        self._fused = FusedGANStep(self) if fusable else None
        if cfg.g_ema > 0 and self.ema is None:
            self.ema = self.g_flat.data.clone()
        elif cfg.g_ema == 0:
            self.ema = None

    def _random_labels(self, n: int) -> torch.Tensor | None:
        k = self.G.latent_spec.n_classes
        return torch.randint(k, (n,), generator=self.gen).to(self.device) if k else None

    def set_hparams(self, **changes) -> None:
        """Change training settings between steps (learning rates, loss, k, batch, EMA ...)."""
        new = self.cfg.replace(**changes)
        old = self.cfg
        self.cfg = new
        if new.optimizer != old.optimizer:
            self.opt_g.kind = self.opt_d.kind = new.optimizer
            self.opt_g.reset_state()
            self.opt_d.reset_state()
        for opt in (self.opt_g, self.opt_d):
            opt.betas = (new.beta1, new.beta2)
        self.opt_d.lr, self.opt_g.lr = self._lrs()
        self._configure()

    @property
    def engine(self) -> str:
        """'fused' (2D MLPs), 'conv-engine' (a per-sample DCGAN discriminator without autograd) or 'autograd'."""
        if self._fused is not None:
            return "fused"
        return "conv-engine" if self._d_engine is not None else "autograd"

    def _lrs(self) -> tuple[float, float]:
        c = self.cfg
        frac = 1.0 - (1.0 - c.lr_final) * min(1.0, self.step_count / c.steps)
        return c.lr_d * frac, c.lr_g * frac

    # ----- one round ------------------------------------------------------------------------------------
    def step(self, mode: str = "both") -> dict:
        """One round: 'both' = k D updates then one G update; 'd' or 'g' = a single update of that net."""
        if mode not in ("both", "d", "g"):
            raise ValueError(f"mode must be both, d or g, got {mode!r}")
        out = self._round(mode, log=True)
        self._check_finite(out)
        self.history.add(out)
        return out

    def _round(self, mode: str, log: bool) -> dict:
        cfg = self.cfg
        self.opt_d.lr, self.opt_g.lr = self._lrs()
        out: dict = {}
        if mode in ("both", "d"):
            for _ in range(cfg.d_steps if mode == "both" else 1):
                r, f = self._d_update()
            if log:
                out.update(d_loss=float(losses.d_loss(cfg.loss, r, f)), d_real=float(r.mean()),
                           d_fake=float(f.mean()))
        if mode in ("both", "g"):
            if mode == "g":
                self._prepare_fake()
            if cfg.unroll > 0:
                with self._d_unrolled():
                    fl = self._g_update()
            else:
                fl = self._g_update()
            for _ in range(cfg.g_steps - 1 if mode == "both" else 0):  # extra G updates: fresh noise
                self._prepare_fake()
                fl = self._g_update()
            if log:
                out["g_loss"] = float(losses.g_loss(cfg.loss, fl))
        self.step_count += 1
        out["step"] = self.step_count
        return out

    def _d_update(self) -> tuple[torch.Tensor, torch.Tensor]:
        real, z = self.real_sampler.next(), self.noise_sampler.next()
        if self._fused is not None:
            r, f = self._fused.d_step(self.cfg.loss, real, z)
        else:
            r, f = self._autograd_d_step(real, z)
        self.opt_d.step()
        if self.cfg.loss == "wgan":
            self.d_flat.data.clamp_(-losses.WGAN_CLIP, losses.WGAN_CLIP)
        return r, f

    def _g_update(self) -> torch.Tensor:
        if self._fused is not None:
            fl = self._fused.g_step(self.cfg.loss)
        else:
            fl = self._autograd_g_step()
        self.opt_g.step()
        if self.ema is not None:  # warm-up: average over about the steps so far until g_ema takes over
            beta = min(self.cfg.g_ema, (1.0 + self.step_count) / (10.0 + self.step_count))
            self.ema.lerp_(self.g_flat.data, 1.0 - beta)
        return fl

    def _prepare_fake(self) -> None:
        z = self.noise_sampler.next()
        if self._fused is not None:
            with torch.no_grad():
                self._fused.fake, self._fused.g_inputs = self._fused.g.forward(z)
        else:
            z, self._fake_c = z if isinstance(z, tuple) else (z, None)
            self._generate(z)

    def _generate(self, z: torch.Tensor) -> None:
        """The fake batch of this round from latents z (and self._fake_c), kept for the G update."""
        if self._g_engine is not None and self._d_engine is not None:  # the G engine needs D's
            self._fake, self._g_state = self._g_engine.forward(z, self._fake_c)
        else:
            self._fake = self.G(z, self._fake_c) if self._fake_c is not None else self.G(z)
        self._fake_z = z

    def _judge(self, x: torch.Tensor, c: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """D's logits on x, and Q's code predictions when G has InfoGAN codes (else None)."""
        if self._codes:
            return self.D.forward_with_q(x, c)
        return (self.D(x, c) if c is not None else self.D(x)), None

    def _autograd_d_step(self, real, z):
        real, real_c = real if isinstance(real, tuple) else (real, None)
        z, self._fake_c = z if isinstance(z, tuple) else (z, None)
        cond = self._fake_c is not None
        self._generate(z)
        fake = self._fake.detach()
        if self._d_engine is not None:
            return self._engine_d_step(real, real_c, fake, z)
        if self._joint_d:  # no cross-sample layers in D: real and fake in one pass, split afterwards
            out, q = self._judge(torch.cat([real, fake]), torch.cat([real_c, self._fake_c]) if cond else None)
            n = len(real)
            r, f, q = out[:n], out[n:], (None if q is None else q[n:])
        else:
            r = self.D(real, real_c) if cond else self.D(real)
            f, q = self._judge(fake, self._fake_c)
        loss = losses.d_loss(self.cfg.loss, r, f)
        if q is not None:  # InfoGAN: Q (on D's features) learns to read the codes back from fakes
            loss = loss + losses.info_loss(q, *models.split_codes(self.G.latent_spec, z))
        if self.cfg.loss == "wgan-gp" and not cond:
            loss = loss + losses.gradient_penalty(self.D, real, fake, self.gen)
        grads = torch.autograd.grad(loss, self.d_flat.params, allow_unused=True)
        _copy_grads(self.d_flat.grad_views, grads)
        return r.detach(), f.detach()

    def _engine_d_step(self, real, real_c, fake, z):
        cond = self._fake_c is not None
        n = len(real)
        out, q, state = self._d_engine.forward(torch.cat([real, fake]),
                                               torch.cat([real_c, self._fake_c]) if cond else None,
                                               n if self._codes else None)
        r, f = out[:n], out[n:]
        g_r, g_f = losses.d_grads(self.cfg.loss, r, f)
        g_q = info_grads(q, self.G.latent_spec, z)[1] if self._codes else None
        self._d_engine.backward(state, torch.cat([g_r, g_f]), g_q, weights=True, inputs=False)
        return r, f

    def _engine_g_step(self):
        fl, q, state = self._d_engine.forward(self._fake, self._fake_c, 0 if self._codes else None)
        g_q = info_grads(q, self.G.latent_spec, self._fake_z)[1] if self._codes else None
        g_x = self._d_engine.backward(state, losses.g_grads(self.cfg.loss, fl), g_q, weights=False, inputs=True)
        if self._g_engine is not None and self._g_state is not None:
            self._g_engine.backward(self._g_state, g_x)
            self._g_state = None  # the saved activations go; a second G update draws a new batch
        else:
            grads = torch.autograd.grad(self._fake, self.g_flat.params, g_x, allow_unused=True)
            _copy_grads(self.g_flat.grad_views, grads)
        return fl

    def _autograd_g_step(self):
        if self._d_engine is not None:
            return self._engine_g_step()
        fl, q = self._judge(self._fake, self._fake_c)
        loss = losses.g_loss(self.cfg.loss, fl)
        if q is not None:  # InfoGAN: G also makes its codes readable
            loss = loss + losses.info_loss(q, *models.split_codes(self.G.latent_spec, self._fake_z))
        grads = torch.autograd.grad(loss, self.g_flat.params, allow_unused=True)
        _copy_grads(self.g_flat.grad_views, grads)
        return fl.detach()

    @contextmanager
    def _d_unrolled(self):
        """Unrolled GAN without second-order terms: G sees D after `unroll` more updates, then D is reset."""
        snap = self.opt_d.snapshot()
        fake_state = ((self._fused.fake, self._fused.g_inputs) if self._fused
                      else (self._fake, self._fake_c, self._fake_z, self._g_state))
        try:
            for _ in range(self.cfg.unroll):
                self._d_update()
            if self._fused:
                self._fused.fake, self._fused.g_inputs = fake_state
            else:
                self._fake, self._fake_c, self._fake_z, self._g_state = fake_state
            yield
        finally:
            self.opt_d.restore(snap)

    # ----- loops, evaluation, safety --------------------------------------------------------------------
    def run(self, n: int | None = None, should_stop: Callable[[], bool] | None = None,
            on_tick: Callable[["Trainer"], None] | None = None, tick_every: int = 100) -> dict:
        """Train n steps (default cfg.steps), evaluating every cfg.eval_every; returns the last metrics."""
        n = self.cfg.steps if n is None else n
        for _ in range(n):
            if should_stop is not None and should_stop():
                break
            self.advance()
            if on_tick is not None and self.step_count % tick_every == 0:
                on_tick(self)
        return self.metrics

    def advance(self) -> None:
        """One round as `run` does it: losses logged every log_every steps, metrics every eval_every."""
        log = (self.step_count + 1) % self.cfg.log_every == 0
        out = self._round("both", log)
        if log:
            self._check_finite(out)
            self.history.add(out)
        if self.step_count % self.cfg.eval_every == 0:
            self.evaluate()

    def _check_finite(self, out: dict) -> None:
        bad = [k for k, v in out.items() if isinstance(v, float) and not math.isfinite(v)]
        if bad:
            self._diverged(f"{' and '.join(bad)} became {out[bad[0]]}")

    def _diverged(self, what: str) -> None:
        step = self.step_count
        self._restore_all(self._last_good)
        c = self.cfg
        raise TrainingDiverged(
            f"Training diverged at step {step}: {what}. Restored the weights of step {self.step_count}. "
            f"Lower the learning rates (now D {c.lr_d:g}, G {c.lr_g:g}), or switch to a bounded loss "
            f"(non-saturating or hinge) or WGAN-GP.")

    def sample(self, n: int, seed: int | None = None, ema: bool = True,
               labels: torch.Tensor | None = None) -> torch.Tensor:
        """n samples from G (EMA weights when on) in eval mode; conditional G cycles through classes."""
        gen = torch.Generator().manual_seed(self.eval_gen_seed if seed is None else seed)
        spec = self.G.latent_spec
        z = models.sample_latent(spec, n, gen, self.device)
        if spec.n_classes and labels is None:
            labels = torch.arange(n, device=self.device) % spec.n_classes
        with torch.no_grad(), self.ema_weights(ema):
            self.G.eval()
            try:
                return self.G(z, labels) if spec.n_classes else self.G(z)
            finally:
                self.G.train()

    @contextmanager
    def ema_weights(self, use: bool = True):
        """Temporarily swap G's weights for their moving average (when EMA is on)."""
        if not use or self.ema is None:
            yield
            return
        live = self.g_flat.data.clone()
        self.g_flat.data.copy_(self.ema)
        try:
            yield
        finally:
            self.g_flat.data.copy_(live)

    def recalibrate_bn(self, batches: int = 8) -> None:
        """Re-estimate G's BatchNorm statistics for the current (EMA) weights, so that eval-mode samples
        are deterministic per latent and match what training saw."""
        bns = [m for m in self.G.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        if not bns:
            return
        gen = torch.Generator().manual_seed(self.eval_gen_seed + 1)
        spec = self.G.latent_spec
        saved = [m.momentum for m in bns]
        for m in bns:
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the batches below
        with torch.no_grad(), self.ema_weights(True):
            for _ in range(batches):
                z = models.sample_latent(spec, self.batch, gen, self.device)
                self.G(z, self._random_labels(self.batch)) if spec.n_classes else self.G(z)
        for m, mom in zip(bns, saved):
            m.momentum = mom

    def evaluate(self) -> dict:
        self.recalibrate_bn()
        x = self.sample(self.cfg.eval_samples)
        if not torch.isfinite(x).all():
            self._diverged("generated samples contain NaN/inf")
        m: dict = {"step": self.step_count}
        if getattr(self.data, "modes", None) is not None:
            m.update(mode_metrics.mode_stats(x, self.data.modes, self.data.sigma))
            self.max_modes = max(self.max_modes or 0, m["modes"])
            if self.max_modes > 0:  # ignore the warm-up before any generated point lands on a mode
                self.min_modes = m["modes"] if self.min_modes is None else min(self.min_modes, m["modes"])
        if self.is_image:
            if self.metric_fn is not None:
                m.update(self.metric_fn(self, x))
                if "classes_covered" in m:  # like min_modes: counted once G has covered half the classes
                    cc = m["classes_covered"]
                    self.max_classes = max(self.max_classes or 0, cc)
                    if 2 * self.max_classes >= len(m.get("histogram", ())):
                        self.min_classes = cc if self.min_classes is None else min(self.min_classes, cc)
        else:
            real = self.data.sample(self.cfg.eval_samples, torch.Generator().manual_seed(self.eval_gen_seed))
            m.update(mode_metrics.grid_divergences(real, x, self.data.extent))
        self.metrics = m
        # scalars for the curves, and the class histogram for the picture of histograms over time
        self.history.add({k: v for k, v in m.items() if not isinstance(v, list) or k == "histogram"}, keep=True)
        self._last_good = self._snapshot_all()
        return m

    def _snapshot_all(self) -> tuple:
        ema = None if self.ema is None else self.ema.clone()
        return (self.step_count, self.opt_g.snapshot(), self.opt_d.snapshot(), ema)

    def _restore_all(self, snap: tuple) -> None:
        self.step_count, g, d, ema = snap
        self.opt_g.restore(g)
        self.opt_d.restore(d)
        if ema is not None and self.ema is not None:
            self.ema.copy_(ema)


def trainer_from_checkpoint(ckpt, device: str | torch.device = "cpu", data=None) -> Trainer:
    """A trainer that continues from a loaded checkpoint (G, D weights, step and the logged history
    restored). `data` gives the training data when the checkpoint does not hold it (uploaded images); by
    default the stored 2D points or the named dataset are used."""
    if data is None and ckpt.data_points is not None:
        data = toy2d.from_stored(ckpt.meta.get("dataset", "custom"), ckpt.data_points)
    t = Trainer(ckpt.train_config, data=data, device=device)
    with torch.no_grad():
        t.G.load_state_dict(ckpt.G.state_dict())
        t.D.load_state_dict(ckpt.D.state_dict())
    if t.ema is not None:
        t.ema.copy_(t.g_flat.data)
    t.step_count = ckpt.step
    from ..checkpoint import is_loss_row

    for row in ckpt.history:  # the run so far, for the curves; this load's evaluation comes next
        loss = is_loss_row(row)
        if row["step"] <= ckpt.step and (loss or row["step"] < ckpt.step):
            t.history.add(dict(row), keep=not loss)
    t.evaluate()
    return t

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
from ..models import copies
from .engines import make_engine
from .flat import FlatOptimizer, FlatParams


GUARD_KEY = "D's logits on the fakes"  # what a round that logs nothing reports when the guard trips


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


class Trainer:
    def __init__(self, cfg: TrainConfig, data: toy2d.Toy2D | None = None, device: str | torch.device = "cpu"):
        self.cfg = cfg
        self.device = torch.device(device)
        self.data = data if data is not None else data_registry.load(cfg.dataset, self.device, cfg.held_out)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            G, D, self.model_cfg = models.build(cfg.family, cfg.model)
        self.G, self.D = G.to(self.device), D.to(self.device)
        # convolutions run faster on NHWC (oneDNN on CPU, cuDNN on GPU) for families that say so
        self.layout_hooks = copies.lay_out(cfg.family, self.G, self.D)
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
        self.pl_mean = 0.0  # running mean of the path lengths (path-length regularisation, engines.pl_penalty)
        self.ema = None
        self._engine = None
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
        self._engine = make_engine(self)  # the family registry picks it (fused, conv or autograd)
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
        return self._engine.name

    def use_engine(self, name: str) -> None:
        """Train with engine `name` ('autograd' always works; 'fused' and 'conv' where their family
        allows) instead of the registry's pick, e.g. to compare engines on the same weights."""
        from .engines import ENGINES, check_engine

        if name not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {name!r}")
        check_engine(self, name)
        self._engine = ENGINES[name](self)

    @contextmanager
    def using_engine(self, engine):
        """Inside the block, rounds use `engine` (any object with the engines' calls, e.g. one that records
        what it computes); the engine in force comes back afterwards."""
        before = self._engine
        self._engine = engine
        try:
            yield engine
        finally:
            self._engine = before

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
            else:  # the NaN guard of rounds that log nothing: one sum of D's logits on G's last fakes (NaN or
                # inf weights in D reach them in this round, in G in the next; a sum beyond float32 counts too)
                fake_sum = float(fl.sum())
                if not math.isfinite(fake_sum):
                    out[GUARD_KEY] = fake_sum
        self.step_count += 1
        out["step"] = self.step_count
        return out

    def _d_update(self) -> tuple[torch.Tensor, torch.Tensor]:
        r, f = self._engine.d_step(self.real_sampler.next(), self.noise_sampler.next())
        self.opt_d.step()
        if self.cfg.loss == "wgan":
            self.d_flat.data.clamp_(-losses.WGAN_CLIP, losses.WGAN_CLIP)
        return r, f

    def _g_update(self) -> torch.Tensor:
        fl = self._engine.g_step()
        self.opt_g.step()
        if self.ema is not None:  # warm-up: average over about the steps so far until g_ema takes over
            beta = min(self.cfg.g_ema, (1.0 + self.step_count) / (10.0 + self.step_count))
            self.ema.lerp_(self.g_flat.data, 1.0 - beta)
        return fl

    def _prepare_fake(self) -> None:
        self._engine.prepare_fake(self.noise_sampler.next())

    @contextmanager
    def _d_unrolled(self):
        """Unrolled GAN without second-order terms: G sees D after `unroll` more updates, then D is reset."""
        snap = self.opt_d.snapshot()
        fake_state = self._engine.save_fake()
        try:
            for _ in range(self.cfg.unroll):
                self._d_update()
            self._engine.restore_fake(fake_state)
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
        """One round as `run` does it: losses logged every log_every steps, metrics every eval_every; the
        NaN guard checks every round."""
        log = (self.step_count + 1) % self.cfg.log_every == 0
        out = self._round("both", log)
        self._check_finite(out)
        if log:
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
        spec = self.G.latent_spec
        z = self.eval_latents(n, seed)
        if spec.n_classes and labels is None:
            labels = torch.arange(n, device=self.device) % spec.n_classes
        with torch.no_grad(), self.ema_weights(ema):
            self.G.eval()
            try:
                return self.G(z, labels) if spec.n_classes else self.G(z)
            finally:
                self.G.train()

    def eval_latents(self, n: int, seed: int | None = None) -> torch.Tensor:
        """The latents `sample(n, seed)` draws (the evaluation's own seed by default)."""
        gen = torch.Generator().manual_seed(self.eval_gen_seed if seed is None else seed)
        return models.sample_latent(self.G.latent_spec, n, gen, self.device)

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
        gen = torch.Generator().manual_seed(self.eval_gen_seed + 1)
        with self.ema_weights(True):
            copies.recalibrate_bn(self.G, batches, self.batch, gen, label_gen=self.gen, device=self.device)

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
        if self.G.latent_spec.has_codes:  # InfoGAN: information bounds, and the category accuracy
            from ..metrics import codes, image_eval

            kind = image_eval.kind_of(self.cfg.dataset) if self.metric_fn is not None else None
            m.update(codes.eval_metrics(self.D, self.G.latent_spec, self.eval_latents(len(x)), x, kind))
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

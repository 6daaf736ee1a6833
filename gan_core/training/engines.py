"""The trainer's engines: what computes one D update's and one G update's gradients into the flat buffers.

Every engine offers the same four calls to `Trainer`:
- `d_step(real, z) -> (r, f)`: D's gradients for a batch of real samples and latents (the fake batch it
  generates is kept for the G update that follows); returns D's logits on real and fake;
- `g_step() -> fake logits`: G's gradients through the (updated) D on the kept fake batch;
- `prepare_fake(z)`: a new fake batch for a G update (step mode 'g', extra G steps);
- `save_fake()` / `restore_fake(state)`: keep the fake batch across an unrolled D (Metz et al. 2017).

`AutogradEngine` works for every family; the family registry (`Family.engine`) may pick a faster one:
`FusedEngine` (2D MLPs without autograd, `fused.py`) or `ConvEngine` (a per-sample DCGAN discriminator
and its generator without autograd on CPU, `conv_engine.py`). A new family needs only the autograd engine.
"""

from __future__ import annotations

import torch

from .. import losses, models
from .augment import augment
from .conv_engine import DiscriminatorEngine, GeneratorEngine, info_grads
from .fused import FusedGANStep


def copy_grads(views: list[torch.Tensor], grads) -> None:
    """Copy per-parameter gradients into the flat gradient views (zeros where a gradient is None)."""
    if all(g is not None for g in grads):
        torch._foreach_copy_(views, list(grads))  # one call for all
        return
    for v, g in zip(views, grads):
        if g is None:
            v.zero_()
        else:
            v.copy_(g)


def _lambdas(trainer) -> tuple[float, float]:
    """InfoGAN's weights of the categorical and the continuous codes' terms."""
    return trainer.cfg.lambda_cat, trainer.cfg.lambda_cont


def _cluster(trainer) -> tuple[float, float] | None:
    """(lambda_cluster, lambda_shift) when Q also reads real images (G has a categorical code and one of
    the weights is set), else None."""
    cfg = trainer.cfg
    if trainer.G.latent_spec.n_cat and (cfg.lambda_cluster or cfg.lambda_shift):
        return cfg.lambda_cluster, cfg.lambda_shift
    return None


def _shifted(trainer, real: torch.Tensor, cluster) -> list[torch.Tensor]:
    """[the real batch as Q's second reading sees it: shifted by up to `losses.SHIFT_PX` pixels, turned or
    recoloured as `cluster_views` says] when that reading is weighed, or []."""
    return [losses.other_view(real, trainer.cfg.cluster_views, trainer.gen)] if cluster and cluster[1] else []


def _regularised(trainer, every: str) -> bool:
    """Whether this round's updates carry a lazy regulariser given every `every` rounds (r1_every or
    pl_every): rounds 0, k, 2k, ...; each of a round's updates then counts it k times, so that the
    penalty per update averages its weight."""
    return trainer.step_count % getattr(trainer.cfg, every) == 0


def pl_penalty(trainer, z: torch.Tensor) -> torch.Tensor:
    """StyleGAN2's path-length regulariser on half the batch's latents (at least one): pl_weight x pl_every x
    the mean squared distance of the path lengths from their running mean `trainer.pl_mean`, which it
    updates. G must be style-based (mapping and synthesis)."""
    t = trainer
    ws = t.G.mapping(z[:max(1, len(z) // 2)])
    lengths = losses.path_lengths(t.G, ws, t.gen)
    t.pl_mean += losses.PL_DECAY * (float(lengths.detach().mean()) - t.pl_mean)
    return t.cfg.pl_weight * t.cfg.pl_every * (lengths - t.pl_mean).square().mean()


def _split(batch) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(tensor, labels or None) from a sampler's output (a tensor, or a (tensor, labels) tuple)."""
    return batch if isinstance(batch, tuple) else (batch, None)


class AutogradEngine:
    """Gradients by autograd through the modules: any family, any loss (WGAN-GP's penalty included)."""

    name = "autograd"

    def __init__(self, trainer):
        self.t = trainer
        fam = models.get(trainer.cfg.family)
        self.joint = fam.per_sample_d(trainer.model_cfg)  # real and fake through D in one pass
        self.codes = trainer.G.latent_spec.has_codes
        self.fake = self.fake_c = self.fake_z = None

    def generate(self, z: torch.Tensor, c: torch.Tensor | None) -> None:
        """The fake batch of this round from latents z (and labels c), kept for the G update."""
        self.fake, self.fake_c, self.fake_z = self.t.G(z, c), c, z

    def prepare_fake(self, z) -> None:
        self.generate(*_split(z))

    def save_fake(self) -> tuple:
        return (self.fake, self.fake_c, self.fake_z)

    def restore_fake(self, state: tuple) -> None:
        self.fake, self.fake_c, self.fake_z = state

    def judge(self, x: torch.Tensor, c: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """D's logits on x, and Q's code predictions when G has InfoGAN codes (else None)."""
        if self.codes:
            return self.t.D.forward_with_q(x, c)
        return self.t.D(x, c), None

    def d_step(self, real, z) -> tuple[torch.Tensor, torch.Tensor]:
        t = self.t
        (real, real_c), (z, c) = _split(real), _split(z)
        real_c = real_c if c is not None else None  # real labels matter to a conditional D only
        self.generate(z, c)
        fake = self.fake.detach()
        if t.cfg.d_augment:  # DiffAugment: D sees real and fake images through random transformations
            real, fake = augment(real, t.cfg.d_augment, t.gen), augment(fake, t.cfg.d_augment, t.gen)
        cluster = _cluster(t)
        extra = _shifted(t, real, cluster)
        n = len(real)
        q_real = q_shift = None
        if self.joint:  # no cross-sample layers in D: real and fake in one pass, split afterwards
            out, q = self.judge(torch.cat([real, fake, *extra]),
                                None if c is None else torch.cat([real_c, c, *[real_c] * len(extra)]))
            r, f = out[:n], out[n:2 * n]
            if q is not None:
                q_real, q, q_shift = q[:n], q[n:2 * n], (q[2 * n:] if extra else None)
        else:
            r, q_real = self.judge(real, real_c) if cluster else (t.D(real, real_c), None)
            f, q = self.judge(fake, c)
            q_shift = self.judge(extra[0], real_c)[1] if extra else None
        loss = losses.d_loss(t.cfg.loss, r, f)
        if q is not None:  # InfoGAN: Q (on D's features) learns to read the codes back from fakes
            loss = loss + losses.info_loss(q, *models.split_codes(t.G.latent_spec, z), *_lambdas(t))
        if cluster:  # and to sort real images into its categories
            k = t.G.latent_spec.n_cat
            shift = None if q_shift is None else q_shift[:, :k]
            loss = loss + losses.cluster_loss(q_real[:, :k], shift, *cluster)
        if t.cfg.loss == "wgan-gp" and c is None:
            loss = loss + losses.gradient_penalty(t.D, real, fake, t.gen)
        if t.cfg.r1_gamma and _regularised(t, "r1_every"):
            loss = loss + losses.r1_penalty(t.D, real, real_c, t.cfg.r1_gamma * t.cfg.r1_every)
        copy_grads(t.d_flat.grad_views, torch.autograd.grad(loss, t.d_flat.params, allow_unused=True))
        return r.detach(), f.detach()

    def g_step(self) -> torch.Tensor:
        t = self.t
        fake = augment(self.fake, t.cfg.d_augment, t.gen) if t.cfg.d_augment else self.fake
        fl, q = self.judge(fake, self.fake_c)
        loss = losses.g_loss(t.cfg.loss, fl)
        if q is not None:  # InfoGAN: G also makes its codes readable
            loss = loss + losses.info_loss(q, *models.split_codes(t.G.latent_spec, self.fake_z), *_lambdas(t))
        if t.cfg.pl_weight and _regularised(t, "pl_every"):
            loss = loss + pl_penalty(t, self.fake_z)
        copy_grads(t.g_flat.grad_views, torch.autograd.grad(loss, t.g_flat.params, allow_unused=True))
        return fl.detach()


class ConvEngine(AutogradEngine):
    """A per-sample DCGAN discriminator and its generator without autograd (CPU; see conv_engine.py)."""

    name = "conv-engine"

    def __init__(self, trainer):
        super().__init__(trainer)
        self.d_engine = DiscriminatorEngine(trainer.D, trainer.d_flat)
        self.g_engine = GeneratorEngine(trainer.G, trainer.g_flat)
        self.g_state = None

    def generate(self, z: torch.Tensor, c: torch.Tensor | None) -> None:
        self.fake, self.g_state = self.g_engine.forward(z, c)
        self.fake_c, self.fake_z = c, z

    def save_fake(self) -> tuple:
        return (*super().save_fake(), self.g_state)

    def restore_fake(self, state: tuple) -> None:
        *base, self.g_state = state
        super().restore_fake(tuple(base))

    def d_step(self, real, z) -> tuple[torch.Tensor, torch.Tensor]:
        t = self.t
        (real, real_c), (z, c) = _split(real), _split(z)
        self.generate(z, c)
        n = len(real)
        cluster = _cluster(t)
        extra = _shifted(t, real, cluster)
        labels = None if c is None else torch.cat([real_c, c, *[real_c] * len(extra)])
        out, q, state = self.d_engine.forward(torch.cat([real, self.fake.detach(), *extra]), labels,
                                              (0 if cluster else n) if self.codes else None)
        r, f = out[:n], out[n:2 * n]
        g_r, g_f = losses.d_grads(t.cfg.loss, r, f)
        g_q = None
        if cluster:  # Q reads every row: real (clustered), fake (its codes), shifted real
            g_q = torch.zeros_like(q)
            g_q[n:2 * n] = info_grads(q[n:2 * n], t.G.latent_spec, z, *_lambdas(t))[1]
            k = t.G.latent_spec.n_cat
            g_real, g_shift = losses.cluster_grads(q[:n, :k], q[2 * n:, :k] if extra else None, *cluster)
            g_q[:n, :k] = g_real
            if extra:
                g_q[2 * n:, :k] = g_shift
        elif self.codes:
            g_q = info_grads(q, t.G.latent_spec, z, *_lambdas(t))[1]
        g_out = torch.cat([g_r, g_f, *[torch.zeros_like(g_r)] * len(extra)])  # the shifted rows: Q's only
        self.d_engine.backward(state, g_out, g_q, weights=True, inputs=False)
        return r, f

    def g_step(self) -> torch.Tensor:
        t = self.t
        fl, q, state = self.d_engine.forward(self.fake, self.fake_c, 0 if self.codes else None)
        g_q = info_grads(q, t.G.latent_spec, self.fake_z, *_lambdas(t))[1] if self.codes else None
        g_x = self.d_engine.backward(state, losses.g_grads(t.cfg.loss, fl), g_q, weights=False, inputs=True)
        if self.g_state is not None:
            self.g_engine.backward(self.g_state, g_x)
            self.g_state = None  # the saved activations go; a second G update draws a new batch
        else:
            copy_grads(t.g_flat.grad_views, torch.autograd.grad(self.fake, t.g_flat.params, g_x, allow_unused=True))
        return fl


class FusedEngine:
    """2D MLP GANs without autograd (fused.py): any loss but WGAN-GP, no InfoGAN codes."""

    name = "fused"

    def __init__(self, trainer):
        self.t = trainer
        self.step = FusedGANStep(trainer)

    def d_step(self, real, z) -> tuple[torch.Tensor, torch.Tensor]:
        return self.step.d_step(self.t.cfg.loss, real, z)

    def g_step(self) -> torch.Tensor:
        return self.step.g_step(self.t.cfg.loss)

    @torch.no_grad()
    def prepare_fake(self, z) -> None:
        self.step.fake, self.step.g_inputs = self.step.g.forward(z)

    def save_fake(self) -> tuple:
        return (self.step.fake, self.step.g_inputs)

    def restore_fake(self, state: tuple) -> None:
        self.step.fake, self.step.g_inputs = state


ENGINES = {"fused": FusedEngine, "conv": ConvEngine, "autograd": AutogradEngine}


def check_engine(trainer, name: str) -> None:
    """ValueError when engine `name` cannot train this trainer's settings: the R1, path-length and
    augmentation terms are autograd's, path lengths need a style-based G and augmentation images without
    InfoGAN codes (Q would read transformed codes)."""
    cfg = trainer.cfg
    if cfg.pl_weight and not models.is_style_based(trainer.G):
        raise ValueError(f"pl_weight applies to style-based generators, not to family {cfg.family!r}; "
                         "set pl_weight=0")
    if cfg.d_augment and (not trainer.is_image or trainer.G.latent_spec.has_codes):
        raise ValueError("d_augment applies to image models without InfoGAN codes; set d_augment to ''")
    if name != "autograd" and (cfg.r1_gamma or cfg.pl_weight or cfg.d_augment):
        raise ValueError(f"the {name} engine has no R1, path-length or augmentation terms; use the autograd "
                         "engine")


def make_engine(trainer):
    """The engine the family registry picks for this trainer's family, loss, device and codes (autograd
    whenever the R1, path-length or augmentation terms are on)."""
    cfg = trainer.cfg
    fam = models.get(cfg.family)
    which = fam.engine(cfg.loss, trainer.model_cfg, trainer.device.type, trainer.G.latent_spec.has_codes)
    if cfg.r1_gamma or cfg.pl_weight or cfg.d_augment:
        which = "autograd"
    check_engine(trainer, which)
    return ENGINES[which](trainer)

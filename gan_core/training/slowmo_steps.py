"""The sub-steps of a slow-motion round (gan_core.training.slowmo), built from what the recording engine
saw: each D update's six sub-steps and each G update's four, with their sentences, the graph parts at work
and read-only arrays drawn from weight snapshots (copies of G and D, never the trainer's own modules)."""

from __future__ import annotations

from types import MappingProxyType

import numpy as np
import torch

from .. import losses
from ..models import copies
from .slowmo import (ACTIVE, HEAT_RES, LOSS_WORDS, PROBABILITY_LOSSES, TITLES, Round, SubStep, _frozen, num,
                     shown_values)


class _Nets:
    """Copies of G and D (never the trainer's own modules) to evaluate recorded weights."""

    def __init__(self, trainer):
        cfg = trainer.cfg
        self.G, self.D, self.g_flat, self.d_flat = copies.trainer_layout(cfg.family, cfg.model, with_d=True)
        self.ext = float(trainer.data.extent)
        h = 2 * self.ext / HEAT_RES
        self.grid = torch.linspace(-self.ext + h / 2, self.ext - h / 2, HEAT_RES)
        self.loss = cfg.loss

    @torch.no_grad()
    def g(self, w, z) -> torch.Tensor:
        copies.load_flat(self.g_flat, w)
        return self.G(z)

    @torch.no_grad()
    def heat(self, w) -> np.ndarray:
        from ..viz.plane import verdict

        copies.load_flat(self.d_flat, w)
        return _frozen(verdict(self.D, self.grid, self.loss))

    @torch.no_grad()
    def d(self, w, x) -> torch.Tensor:
        copies.load_flat(self.d_flat, w)
        return self.D(x)


def _mean_nearest(fake: torch.Tensor, real: torch.Tensor) -> float:
    return float(torch.cdist(fake, real).min(1).values.mean())


class RoundBuilder:
    """Sub-steps appended in order; the round's settings and words shared by both halves."""

    def __init__(self, trainer):
        cfg = self.cfg = trainer.cfg
        self.trainer, self.loss, self.k = trainer, cfg.loss, cfg.d_steps
        self.nets = _Nets(trainer)
        self.steps: list[SubStep] = []
        self.real_pts = None
        self.spec = trainer.G.latent_spec
        self.noise_words = "a Gaussian" if self.spec.noise == "gaussian" else "a uniform"
        self.pack = int(getattr(trainer.D, "pack", 1))
        self.dname = "D" if self.loss in PROBABILITY_LOSSES + ("lsgan",) else "the critic D"
        self.opt = "Adam" if cfg.optimizer == "adam" else "gradient-descent"
        self.lr_d, self.lr_g = trainer.opt_d.lr, trainer.opt_g.lr
        self.grad_norm = self.grad_norm_ns = float("nan")

    def add(self, key, half, update, sentence, arrays, values) -> None:
        k, g_steps = self.k, self.cfg.g_steps
        of = (f" (D update {update} of {k})" if half == "d" and k > 1
              else f" (G update {update} of {g_steps})" if half == "g" and g_steps > 1 else "")
        self.steps.append(SubStep(
            len(self.steps) + 1, key, TITLES[key] + of, sentence, ACTIVE[key],
            MappingProxyType({n: _frozen(a) for n, a in arrays.items()}),
            MappingProxyType({n: float(v) for n, v in values.items()}), half, update))

    def d_half(self, i: int, c: dict, d_w_next: torch.Tensor) -> None:
        """The six sub-steps of D's i-th update (`c` what it saw, `d_w_next` D's weights after it)."""
        loss, spec, noise_words, pack, dname = self.loss, self.spec, self.noise_words, self.pack, self.dname
        n = len(c["real"])
        real, fake, z = c["real"], c["fake"], c["z"]
        self.real_pts = real
        heat_before = self.nets.heat(c["d_w"])
        vr, vf = shown_values(loss, c["r"]), shown_values(loss, c["f"])
        base = {"noise": z, "real": real, "fake": fake, "heat": heat_before}
        self.add(
            "d_noise",
            "d",
            i,
            f"Draw {n} noise vectors z, each {spec.z_dim} number{'s' * (spec.z_dim > 1)} "
            f"from {noise_words} distribution (the picture shows the first two): G's raw material.",
            {"noise": z},
            {"n": n},
        )
        near = _mean_nearest(fake, real)
        self.add(
            "d_forward",
            "d",
            i,
            f"G turns each noise vector into a point of the plane: {n} fake points, on "
            f"average {near:.3f} from the nearest real point. G is not trained in this half: its points stay "
            "put.",
            base,
            {"nearest": near},
        )
        packed = f" in groups of {pack} (PacGAN: D judges {pack} points at once)" if pack > 1 else ""
        self.add(
            "d_real",
            "d",
            i,
            f"Take {n} real points from the data and show them to {dname}{packed}: "
            f"{_says(loss, 'D(x)', float(vr.mean()))}.",
            {**base, "d_real": vr},
            {"mean": float(vr.mean())},
        )
        self.add(
            "d_fake",
            "d",
            i,
            f"Show {dname} the fakes{packed}: {_says(loss, 'D(G(z))', float(vf.mean()))}.",
            {**base, "d_real": vr, "d_fake": vf},
            {"mean": float(vf.mean())},
        )
        self.d_update(i, c, d_w_next, base, vr, vf)

    def d_update(self, i: int, c: dict, d_w_next: torch.Tensor, base: dict, vr, vf) -> None:
        """D's loss and its gradient step (the last two sub-steps of a D update)."""
        loss, opt, lr_d, real, fake = self.loss, self.opt, self.lr_d, c["real"], c["fake"]
        heat_after = self.nets.heat(d_w_next)
        dl = float(losses.d_loss(loss, c["r"], c["f"]))
        total = dl + c["gp"]
        gp = (
            f" That includes the gradient penalty {num(c['gp'])}, which keeps the critic's slope near 1."
            if loss == "wgan-gp"
            else ""
        )
        self.add(
            "d_loss",
            "d",
            i,
            f"D's loss ({LOSS_WORDS[loss]}) = {num(total)}: {_d_aim(loss)}.{gp}",
            {**base, "d_real": vr, "d_fake": vf},
            {"d_loss": total, "gp": c["gp"]},
        )
        r2, f2 = self.nets.d(d_w_next, real), self.nets.d(d_w_next, fake)
        after = float(losses.d_loss(loss, r2, f2))
        clip = f" and its weights are clipped to ±{losses.WGAN_CLIP:g}" if loss == "wgan" else ""
        penalty = " (without the penalty)" if loss == "wgan-gp" else ""
        self.add(
            "d_step",
            "d",
            i,
            f"D takes one {opt} step (learning rate {lr_d:.2g}) down its loss{clip}: its "
            f"verdict on the plane (the background) shifts. On the same points D's loss{penalty} goes from "
            f"{num(dl)} to {num(after)}.",
            {**base, "heat_after": heat_after, "d_real": vr, "d_fake": vf},
            {"before": dl, "after": after},
        )

    def g_half(self, j: int, c: dict, g_w_next: torch.Tensor) -> None:
        """The four sub-steps of G's j-th update (`g_w_next` G's weights after it)."""
        cfg, loss, dname = self.cfg, self.loss, self.dname
        z, fake = c["z"], c["fake"]
        heat_g = self.nets.heat(c["d_w"])
        if j == 1:
            where = (
                "the same noise as D's last update, so the same points"
                if cfg.unroll == 0
                else f"the same noise as D's last update. With unrolling, G looks at D after {cfg.unroll} "
                "more D updates, which are undone afterwards (unrolled GAN)"
            )
        else:
            where = "fresh noise"
        n = len(fake)
        base = {"noise": z, "real": self.real_pts, "fake": fake, "heat": heat_g}
        self.add("g_forward", "g", j, f"Now G's turn: G makes {n} fake points from {where}.", base, {"n": n})
        vf = shown_values(loss, c["fl"])
        self.add(
            "g_verdict",
            "g",
            j,
            f"{dname[0].upper() + dname[1:]}, just updated, judges the fakes: "
            f"{_says(loss, 'D(G(z))', float(vf.mean()))}.",
            {**base, "d_fake": vf},
            {"mean": float(vf.mean())},
        )
        self.g_update(j, c, g_w_next, base, vf)

    def g_update(self, j: int, c: dict, g_w_next: torch.Tensor, base: dict, vf) -> None:
        """G's loss and its gradient step (the last two sub-steps of a G update)."""
        loss, opt, lr_g, z, fake = self.loss, self.opt, self.lr_g, c["z"], c["fake"]
        gl = float(losses.g_loss(loss, c["fl"]))
        self.grad_norm, self.grad_norm_ns = c["grad_norm"], c["grad_norm_ns"]
        grad_norm, grad_norm_ns = self.grad_norm, self.grad_norm_ns
        compare = (
            ""
            if loss == "nonsaturating"
            else f"; under the non-saturating loss the same fakes would give {grad_norm_ns:.3g}"
        )
        self.add(
            "g_loss",
            "g",
            j,
            f"G's loss ({LOSS_WORDS[loss]}) = {num(gl)}: {_g_aim(loss)}. Its gradient flows "
            f"back through D to every fake point (the arrows: where the loss pushes each one). Size of G's "
            f"gradient: {grad_norm:.3g}{compare}.",
            {**base, "d_fake": vf, "arrows": c["arrows"]},
            {"g_loss": gl, "grad_norm": grad_norm, "grad_norm_ns": grad_norm_ns},
        )
        moved = self.nets.g(g_w_next, z)
        shift = float((moved - fake).norm(dim=1).mean())
        v2 = shown_values(loss, self.nets.d(c["d_w"], moved))
        self.add(
            "g_step",
            "g",
            j,
            f"G takes one {opt} step (learning rate {lr_g:.2g}) down its loss: the fakes move "
            f"along the arrows, {num(shift)} on average, and D's verdict on them goes from "
            f"{float(vf.mean()):.3f} to {float(v2.mean()):.3f}.",
            {**base, "d_fake": vf, "arrows": c["arrows"], "fake_after": moved},
            {"shift": shift, "before": float(vf.mean()), "after": float(v2.mean())},
        )


def build_round(trainer, calls: list[dict], out: dict) -> Round:
    """The Round of sub-steps from the recorded calls of one `trainer.step("both")` and its output."""
    b = RoundBuilder(trainer)
    cfg, k = trainer.cfg, trainer.cfg.d_steps
    d_after, g_after = trainer.d_flat.data.clone(), trainer.g_flat.data.clone()
    d_calls = [c for c in calls if c["kind"] == "d"][:k]  # later ones are an unrolled D's look-ahead
    g_calls = [c for c in calls if c["kind"] == "g"]
    # D's weights after each of its updates: the weights the next call saw (or those at the end)
    d_next = [d_calls[i + 1]["d_w"] for i in range(len(d_calls) - 1)]
    d_next.append(g_calls[0]["d_w"] if cfg.unroll == 0 else _d_after_last_update(calls, k, d_after))
    for i, c in enumerate(d_calls, 1):
        b.d_half(i, c, d_next[i - 1])
    for j, c in enumerate(g_calls, 1):
        b.g_half(j, c, g_calls[j]["g_w"] if j < len(g_calls) else g_after)
    return Round(tuple(b.steps), MappingProxyType(dict(out)), b.loss, trainer.step_count, b.nets.ext,
                 b.grad_norm, b.grad_norm_ns)


def _d_after_last_update(calls: list[dict], k: int, d_end: torch.Tensor) -> torch.Tensor:
    """D's weights after its k-th update when G looked at an unrolled D: the first look-ahead call saw
    them (else, without look-ahead calls, the weights at the end)."""
    ahead = [c for c in calls if c["kind"] == "d"][k:]
    return ahead[0]["d_w"] if ahead else d_end


def _says(loss: str, what: str, mean: float) -> str:
    if loss in PROBABILITY_LOSSES:
        return f"{what} = {mean:.3f} on average (1 = surely real, 0 = surely fake)"
    if loss == "lsgan":
        return f"D's score {mean:.3f} on average (the target is 1 for real, 0 for fake)"
    return f"the critic's score {mean:.3f} on average (higher = more real; it has no upper bound)"


def _d_aim(loss: str) -> str:
    if loss in PROBABILITY_LOSSES:
        return "low when D says real (near 1) to the real points and fake (near 0) to the fakes"
    if loss == "lsgan":
        return "low when D's scores are near 1 on real points and near 0 on fakes"
    if loss == "hinge":
        return "low when real points score above 1 and fakes below -1"
    return "low when real points score high and fakes low (the score gap estimates a distance between them)"


def _g_aim(loss: str) -> str:
    return {
        "minimax": "G wants log(1 - D(G(z))) low, i.e. D fooled; flat where D rejects the fakes",
        "nonsaturating": "G wants -log D(G(z)) low, i.e. D fooled; steep where D rejects the fakes",
        "lsgan": "G wants D's score on its fakes near 1",
    }.get(loss, "G wants the critic's score on its fakes high")

"""Slow motion: one training round of a 2D GAN taken apart into the sub-steps a class can follow.

`play_round(trainer)` performs one real round (`trainer.step("both")`: k D updates, then G's update, with
the trainer's own samplers, optimisers, learning-rate schedule, WGAN clipping, unrolling, extra G steps,
moving average and NaN guard), computing the gradients with the autograd engine while it records what
each update saw. It returns an immutable `Round` whose `steps` are the sub-steps of GAN Lab's slow motion:

  D half (once per D update): sample noise, G forward, D on real, D on fake, D's loss, D's gradient step;
  G half (once per G update): G forward, D's verdict, G's loss, G's gradient step.

Each `SubStep` has a key, a title, a sentence in the classroom's words with the round's live numbers,
the parts of the model graph that are active (`PARTS`, drawn by gan_core.viz.graph) and read-only arrays
to draw: the noise, the real and fake points, D's verdict on the plane before and after its step, D's
values on the points, and the gradient of G's loss at each fake point. Nothing is drawn from the live
networks afterwards: the arrays come from weight snapshots taken during the round.

The weights and optimiser state after a slow-motion round equal those after `trainer.step("both")` with
the autograd engine from the same state (tests/test_slowmo.py checks it for several losses).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

import numpy as np
import torch

from .. import losses
from ..models import copies
from .engines import AutogradEngine

# the model graph's parts: its nodes, the edges data flows along, and the two update arrows
NODES = ("noise", "G", "fake", "real", "D", "d_loss", "g_loss")
EDGES = ("noise>G", "G>fake", "fake>D", "real>D", "D>d_loss", "D>g_loss")
UPDATES = ("d_update", "g_update")
PARTS = NODES + EDGES + UPDATES

D_KEYS = ("d_noise", "d_forward", "d_real", "d_fake", "d_loss", "d_step")
G_KEYS = ("g_forward", "g_verdict", "g_loss", "g_step")
TITLES = {
    "d_noise": "Sample noise",
    "d_forward": "G forward",
    "d_real": "D on real",
    "d_fake": "D on fake",
    "d_loss": "D's loss",
    "d_step": "D's gradient step",
    "g_forward": "G forward",
    "g_verdict": "D's verdict",
    "g_loss": "G's loss",
    "g_step": "G's gradient step",
}
ACTIVE = {
    "d_noise": ("noise",),
    "d_forward": ("noise", "noise>G", "G", "G>fake", "fake"),
    "d_real": ("real", "real>D", "D"),
    "d_fake": ("fake", "fake>D", "D"),
    "d_loss": ("D", "D>d_loss", "d_loss"),
    "d_step": ("d_loss", "d_update", "D"),
    "g_forward": ("noise", "noise>G", "G", "G>fake", "fake"),
    "g_verdict": ("fake", "fake>D", "D"),
    "g_loss": ("D", "D>g_loss", "g_loss"),
    "g_step": ("g_loss", "g_update", "G", "fake"),
}
HEAT_RES = 32  # D's verdict on the plane is recorded on this grid
LOSS_WORDS = {  # what each loss asks, in words
    "minimax": "the original minimax loss",
    "nonsaturating": "the non-saturating loss",
    "lsgan": "the least-squares loss",
    "wgan": "the Wasserstein loss with clipped weights",
    "wgan-gp": "the Wasserstein loss with a gradient penalty",
    "hinge": "the hinge loss",
}
PROBABILITY_LOSSES = ("minimax", "nonsaturating")  # D's output is a probability through the sigmoid


@dataclass(frozen=True)
class SubStep:
    """One sub-step of a slow-motion round (immutable; its arrays are read-only)."""

    number: int  # position in the round, from 1
    key: str  # one of D_KEYS or G_KEYS
    title: str  # its name on the page
    sentence: str  # what happens, in the classroom's words, with the live numbers
    active: tuple  # the graph's parts at work (names from PARTS)
    arrays: Mapping  # name -> read-only np.ndarray to draw (see Round)
    values: Mapping  # name -> float, the numbers the sentence quotes
    half: str  # 'd' or 'g'
    update: int  # which D (or G) update of the round, from 1


@dataclass(frozen=True)
class Round:
    """A played round. Arrays in each sub-step: `noise` (n, z), `real`, `fake` (n, 2) points, `heat`
    (HEAT_RES, HEAT_RES) D's verdict in [0, 1] (row 0 at the top), `d_real` / `d_fake` D's values on the
    points (probabilities for the logistic losses, else scores), and in the G half `arrows` (n, 2) the
    move G's loss asks of each fake (minus its gradient) and, at G's step, `fake_after` (n, 2)."""

    steps: tuple  # the SubSteps in order
    out: Mapping  # the round's logged values (d_loss, d_real, d_fake, g_loss, step) as trainer.step returns
    loss: str  # the loss in force
    step: int  # the trainer's step count after the round
    extent: float  # the data's half width (pictures span [-extent, extent]^2)
    grad_norm: float  # size (L2 norm) of G's gradient under the loss in force, last G update
    grad_norm_ns: float  # the same fakes' G gradient under the non-saturating loss, for comparison


def _frozen(a) -> np.ndarray:
    out = np.array(a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else a, dtype=np.float32)
    out.setflags(write=False)
    return out


def shown_values(loss: str, logits: torch.Tensor) -> torch.Tensor:
    """D's values as the class reads them: probabilities D(x) for the logistic losses, raw scores else."""
    return torch.sigmoid(logits) if loss in PROBABILITY_LOSSES else logits


class _Recorder(AutogradEngine):
    """The autograd engine, keeping what each update saw (inputs, weights before, D's logits)."""

    def __init__(self, trainer):
        super().__init__(trainer)
        self.calls: list[dict] = []

    def _weights(self) -> dict:
        t = self.t
        return {"g_w": t.g_flat.data.clone(), "d_w": t.d_flat.data.clone()}

    def d_step(self, real, z):
        t = self.t
        rng = t.gen.get_state()  # WGAN-GP's interpolation draws from here: kept to measure the penalty
        rec = {"kind": "d", **self._weights(), "real": real.detach().clone(), "z": z.detach().clone()}
        r, f = super().d_step(real, z)
        rec.update(fake=self.fake.detach().clone(), r=r.clone(), f=f.clone(), gp=0.0)
        if t.cfg.loss == "wgan-gp":
            g = torch.Generator().set_state(rng)
            with torch.enable_grad():
                rec["gp"] = float(losses.gradient_penalty(t.D, real, self.fake.detach(), g).detach())
        self.calls.append(rec)
        return r, f

    def g_step(self):
        t = self.t
        rec = {
            "kind": "g",
            **self._weights(),
            "z": self.fake_z.detach().clone(),
            "fake": self.fake.detach().clone(),
        }
        fl = super().g_step()
        rec.update(fl=fl.clone(), grad_norm=float(t.g_flat.grad.norm()))
        with torch.enable_grad():
            x = self.fake.detach().clone().requires_grad_(True)  # G's loss at each fake point
            (gx,) = torch.autograd.grad(losses.g_loss(t.cfg.loss, t.D(x)), x)
            ns = losses.g_loss("nonsaturating", t.D(t.G(self.fake_z)))  # the same fakes, non-saturating
            grads = torch.autograd.grad(ns, t.g_flat.params, allow_unused=True)
        rec["arrows"] = -gx.detach()
        rec["grad_norm_ns"] = math.sqrt(sum(float(g.pow(2).sum()) for g in grads if g is not None))
        self.calls.append(rec)
        return fl


def check_supported(trainer) -> None:
    """ValueError unless slow motion can play `trainer`'s rounds (2D points, the MLP family)."""
    kind = getattr(trainer.data, "kind", "2d")
    if kind != "2d" or trainer.cfg.family != "mlp":
        raise ValueError("slow motion plays rounds of 2D GANs (the MLP family) only")


def play_round(trainer) -> Round:
    """Play one real round of `trainer` (as `trainer.step("both")`, logged in its history) and return it
    as sub-steps. Raises TrainingDiverged like `step` (the trainer then has its last good weights)."""
    check_supported(trainer)
    rec = _Recorder(trainer)
    with trainer.using_engine(rec):
        out = trainer.step("both")
    return _build(trainer, rec.calls, out)


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


def _build(trainer, calls: list[dict], out: dict) -> Round:
    cfg, loss = trainer.cfg, trainer.cfg.loss
    nets = _Nets(trainer)
    d_after, g_after = trainer.d_flat.data.clone(), trainer.g_flat.data.clone()
    k = cfg.d_steps
    d_calls = [c for c in calls if c["kind"] == "d"][:k]  # later ones are an unrolled D's look-ahead
    g_calls = [c for c in calls if c["kind"] == "g"]
    # D's weights after each of its updates: the weights the next call saw (or those at the end)
    d_next = [d_calls[i + 1]["d_w"] for i in range(len(d_calls) - 1)]
    d_next.append(g_calls[0]["d_w"] if cfg.unroll == 0 else _d_after_last_update(calls, k, d_after))
    steps: list[SubStep] = []
    real_pts = None
    spec = trainer.G.latent_spec
    noise_words = "a Gaussian" if spec.noise == "gaussian" else "a uniform"
    pack = int(getattr(trainer.D, "pack", 1))
    dname = "D" if loss in PROBABILITY_LOSSES + ("lsgan",) else "the critic D"
    opt = "Adam" if cfg.optimizer == "adam" else "gradient-descent"
    lr_d, lr_g = trainer.opt_d.lr, trainer.opt_g.lr

    def add(key, half, update, sentence, arrays, values):
        of = (
            f" (D update {update} of {k})"
            if half == "d" and k > 1
            else f" (G update {update} of {cfg.g_steps})"
            if half == "g" and cfg.g_steps > 1
            else ""
        )
        steps.append(
            SubStep(
                len(steps) + 1,
                key,
                TITLES[key] + of,
                sentence,
                ACTIVE[key],
                MappingProxyType({n: _frozen(a) for n, a in arrays.items()}),
                MappingProxyType({n: float(v) for n, v in values.items()}),
                half,
                update,
            )
        )

    for i, c in enumerate(d_calls, 1):
        n = len(c["real"])
        real, fake, z = c["real"], c["fake"], c["z"]
        real_pts = real
        heat_before = nets.heat(c["d_w"])
        heat_after = nets.heat(d_next[i - 1])
        vr, vf = shown_values(loss, c["r"]), shown_values(loss, c["f"])
        base = {"noise": z, "real": real, "fake": fake, "heat": heat_before}
        add(
            "d_noise",
            "d",
            i,
            f"Draw {n} noise vectors z, each {spec.z_dim} number{'s' * (spec.z_dim > 1)} "
            f"from {noise_words} distribution (the picture shows the first two): G's raw material.",
            {"noise": z},
            {"n": n},
        )
        near = _mean_nearest(fake, real)
        add(
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
        add(
            "d_real",
            "d",
            i,
            f"Take {n} real points from the data and show them to {dname}{packed}: "
            f"{_says(loss, 'D(x)', float(vr.mean()))}.",
            {**base, "d_real": vr},
            {"mean": float(vr.mean())},
        )
        add(
            "d_fake",
            "d",
            i,
            f"Show {dname} the fakes{packed}: {_says(loss, 'D(G(z))', float(vf.mean()))}.",
            {**base, "d_real": vr, "d_fake": vf},
            {"mean": float(vf.mean())},
        )
        dl = float(losses.d_loss(loss, c["r"], c["f"]))
        total = dl + c["gp"]
        gp = (
            f" That includes the gradient penalty {num(c['gp'])}, which keeps the critic's slope near 1."
            if loss == "wgan-gp"
            else ""
        )
        add(
            "d_loss",
            "d",
            i,
            f"D's loss ({LOSS_WORDS[loss]}) = {num(total)}: {_d_aim(loss)}.{gp}",
            {**base, "d_real": vr, "d_fake": vf},
            {"d_loss": total, "gp": c["gp"]},
        )
        r2, f2 = nets.d(d_next[i - 1], real), nets.d(d_next[i - 1], fake)
        after = float(losses.d_loss(loss, r2, f2))
        clip = f" and its weights are clipped to ±{losses.WGAN_CLIP:g}" if loss == "wgan" else ""
        penalty = " (without the penalty)" if loss == "wgan-gp" else ""
        add(
            "d_step",
            "d",
            i,
            f"D takes one {opt} step (learning rate {lr_d:.2g}) down its loss{clip}: its "
            f"verdict on the plane (the background) shifts. On the same points D's loss{penalty} goes from "
            f"{num(dl)} to {num(after)}.",
            {**base, "heat_after": heat_after, "d_real": vr, "d_fake": vf},
            {"before": dl, "after": after},
        )
    grad_norm = grad_norm_ns = float("nan")
    for j, c in enumerate(g_calls, 1):
        z, fake = c["z"], c["fake"]
        heat_g = nets.heat(c["d_w"])
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
        base = {"noise": z, "real": real_pts, "fake": fake, "heat": heat_g}
        add("g_forward", "g", j, f"Now G's turn: G makes {n} fake points from {where}.", base, {"n": n})
        vf = shown_values(loss, c["fl"])
        add(
            "g_verdict",
            "g",
            j,
            f"{dname[0].upper() + dname[1:]}, just updated, judges the fakes: "
            f"{_says(loss, 'D(G(z))', float(vf.mean()))}.",
            {**base, "d_fake": vf},
            {"mean": float(vf.mean())},
        )
        gl = float(losses.g_loss(loss, c["fl"]))
        grad_norm, grad_norm_ns = c["grad_norm"], c["grad_norm_ns"]
        compare = (
            ""
            if loss == "nonsaturating"
            else f"; under the non-saturating loss the same fakes would give {grad_norm_ns:.3g}"
        )
        add(
            "g_loss",
            "g",
            j,
            f"G's loss ({LOSS_WORDS[loss]}) = {num(gl)}: {_g_aim(loss)}. Its gradient flows "
            f"back through D to every fake point (the arrows: where the loss pushes each one). Size of G's "
            f"gradient: {grad_norm:.3g}{compare}.",
            {**base, "d_fake": vf, "arrows": c["arrows"]},
            {"g_loss": gl, "grad_norm": grad_norm, "grad_norm_ns": grad_norm_ns},
        )
        g_next = g_calls[j]["g_w"] if j < len(g_calls) else g_after
        moved = nets.g(g_next, z)
        shift = float((moved - fake).norm(dim=1).mean())
        v2 = shown_values(loss, nets.d(c["d_w"], moved))
        add(
            "g_step",
            "g",
            j,
            f"G takes one {opt} step (learning rate {lr_g:.2g}) down its loss: the fakes move "
            f"along the arrows, {num(shift)} on average, and D's verdict on them goes from "
            f"{float(vf.mean()):.3f} to {float(v2.mean()):.3f}.",
            {**base, "d_fake": vf, "arrows": c["arrows"], "fake_after": moved},
            {"shift": shift, "before": float(vf.mean()), "after": float(v2.mean())},
        )
    return Round(
        tuple(steps), MappingProxyType(dict(out)), loss, trainer.step_count, nets.ext, grad_norm, grad_norm_ns
    )


def _d_after_last_update(calls: list[dict], k: int, d_end: torch.Tensor) -> torch.Tensor:
    """D's weights after its k-th update when G looked at an unrolled D: the first look-ahead call saw
    them (else, without look-ahead calls, the weights at the end)."""
    ahead = [c for c in calls if c["kind"] == "d"][k:]
    return ahead[0]["d_w"] if ahead else d_end


def num(v: float) -> str:
    """A number as the sentences and formulas show it: 4 decimals, or 3 significant digits when tiny."""
    return f"{v:.4f}" if v == 0 or abs(v) >= 1e-3 or not math.isfinite(v) else f"{v:.3g}"


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

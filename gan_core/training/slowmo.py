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
from typing import Mapping

import numpy as np
import torch

from .. import losses, models
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
    if kind != "2d" or models.get(trainer.cfg.family).output != "points":
        raise ValueError("slow motion plays rounds of 2D GANs (the MLP family) only")


def play_round(trainer) -> Round:
    """Play one real round of `trainer` (as `trainer.step("both")`, logged in its history) and return it
    as sub-steps. Raises TrainingDiverged like `step` (the trainer then has its last good weights)."""
    check_supported(trainer)
    rec = _Recorder(trainer)
    with trainer.using_engine(rec):
        out = trainer.step("both")
    from .slowmo_steps import build_round

    return build_round(trainer, rec.calls, out)


def num(v: float) -> str:
    """A number as the sentences and formulas show it: 4 decimals, or 3 significant digits when tiny."""
    return f"{v:.4f}" if v == 0 or abs(v) >= 1e-3 or not math.isfinite(v) else f"{v:.3g}"


def slow_round(session):
    """One round in slow motion on a live `TrainingSession`: pauses it, plays a real round under its lock,
    evaluates, and returns the Round (its sub-steps to show), or None when the round diverged or failed
    (the session's state and message then say so, as for its `step`). A family slow motion does not play
    raises ValueError before anything changes."""
    check_supported(session.trainer)

    def play() -> Round:
        played = play_round(session.trainer)
        session.trainer.evaluate()
        return played

    return session.play_paused(play, "Played one round in slow motion, to step {step}.")

"""`python -m gan_core slowmo --preset NAME [--steps N]`: train a 2D preset N rounds, then play one round in
slow motion (gan_core.training.slowmo) and print its sub-steps, the measured size of G's gradient under the
loss in force and under the non-saturating loss on the same fakes, and what slow motion costs beside an
ordinary round (timings are of this machine under its present load: compare the ratios)."""

from __future__ import annotations

import os
import statistics
import sys
import time

from tqdm import tqdm

from .cli import CLIError, _preset
from .device import set_threads
from .training import slowmo
from .training.trainer import Trainer, TrainingDiverged

MAX_STEPS = 100_000
TIMED_ROUNDS = 20  # ordinary rounds and slow-motion rounds timed (medians)


def _ms(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return 1000 * (time.perf_counter() - t0)


def cmd(args) -> dict:
    preset = _preset(args.preset)
    if preset.kind != "2d":
        raise CLIError(f"slow motion plays 2D presets; {args.preset!r} trains images")
    if not 0 <= args.steps <= MAX_STEPS:
        raise CLIError(f"--steps must be between 0 and {MAX_STEPS}")
    try:
        cfg = preset.config.replace(seed=args.seed, **({"loss": args.loss} if args.loss else {}))
    except ValueError as e:
        raise CLIError(str(e)) from None
    threads = set_threads(args.threads)
    trainer = Trainer(cfg)
    try:
        with tqdm(
            total=args.steps,
            desc="train",
            unit="step",
            file=sys.stderr,
            mininterval=0.5,
            disable=not sys.stderr.isatty() and os.environ.get("GAN_PROGRESS") != "1",
        ) as bar:
            for _ in range(args.steps):
                trainer.advance()
                bar.update(1)
        played = slowmo.play_round(trainer)
    except TrainingDiverged as e:
        raise CLIError(str(e)) from None
    verdict = next(s for s in played.steps if s.key == "g_verdict")
    out = {
        "preset": preset.name,
        "loss": cfg.loss,
        "seed": cfg.seed,
        "step": played.step,
        "threads": threads,
        "substeps": [
            {"number": s.number, "key": s.key, "title": s.title, "sentence": s.sentence} for s in played.steps
        ],
        "losses": {k: v for k, v in played.out.items() if k != "step"},
        "d_fake_mean": float(verdict.values["mean"]),
        "g_grad": played.grad_norm,
        "g_grad_nonsaturating": played.grad_norm_ns,
        "g_grad_ratio": played.grad_norm_ns / played.grad_norm if played.grad_norm > 0 else None,
    }
    if args.time:
        out.update(_timings(trainer, played))
    return out


def _timings(trainer, played) -> dict:
    """Median ms of an ordinary round, a slow-motion round and the pictures of one round."""
    from .viz import formula, graph

    step = statistics.median(_ms(trainer.step) for _ in range(TIMED_ROUNDS))
    slow = statistics.median(_ms(lambda: slowmo.play_round(trainer)) for _ in range(TIMED_ROUNDS))
    rows = trainer.history.rows
    svg = statistics.median(
        _ms(lambda: [graph.graph_svg(graph.view_of_substep(played, s, rows)) for s in played.steps])
        for _ in range(5)
    )
    g = next(s for s in played.steps if s.key == "g_loss")
    curve = statistics.median(
        _ms(
            lambda: formula.gcurve_picture(
                played.loss, g.arrays["d_fake"], played.grad_norm, played.grad_norm_ns
            )
        )
        for _ in range(5)
    )
    from .bench import matmul_peak_gflops

    return {
        "matmul_peak_gflops": round(matmul_peak_gflops(), 1),
        "round_ms": step,
        "slowmo_round_ms": slow,
        "slowmo_over_round": slow / step if step > 0 else None,
        "graphs_of_a_round_ms": svg,
        "gcurve_ms": curve,
    }
